import { createHash } from 'node:crypto';
import { mkdir, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import type { Command } from '@commander-js/extra-typings';
import { PackagingError, ValidationError } from '../../errors.js';
import { resolveBuildTime } from '../../packaging/build-time.js';
import { checkSolutionInputs, type InputCheck } from '../../packaging/check-solution-inputs.js';
import { loadSolutionFile } from '../../packaging/solution-file.js';
import { toYaml } from '../../solution/_yaml.js';
import { DEFAULT_METALK8S_VERSION } from '../../solution/metalk8s-version.js';
import { render } from '../../solution/render.js';
import { renderEnvironment } from '../../solution/render-environment.js';
import { action, formatIssues, Output } from '../_output.js';

interface CommonOptions {
  json?: boolean;
  quiet?: boolean;
}

async function exists(p: string): Promise<boolean> {
  try {
    await stat(p);
    return true;
  } catch {
    return false;
  }
}

/**
 * Writes a rendered tree to `out` without ever leaving a half-written folder: the files go to a
 * temporary sibling folder first, which then replaces `out`. A non-empty `out` that is not a
 * previous render is refused, so a typo cannot wipe a folder.
 */
async function writeTree(out: string, files: ReadonlyMap<string, Uint8Array>): Promise<void> {
  if (await exists(out)) {
    const entries = await readdir(out);
    if (entries.length > 0 && !entries.includes('manifest.yaml'))
      throw new PackagingError('OUTPUT_NOT_EMPTY', `${out} is not empty and does not hold a previous render`, {
        hint: 'Pick an empty or new folder for --out.',
      });
  }
  const tmp = `${out}.tmp-${process.pid}`;
  await rm(tmp, { recursive: true, force: true });
  for (const [path, bytes] of files) {
    const target = join(tmp, path);
    await mkdir(dirname(target), { recursive: true });
    await writeFile(target, bytes);
  }
  const old = `${out}.old-${process.pid}`;
  if (await exists(out)) await rename(out, old);
  await mkdir(dirname(out), { recursive: true });
  await rename(tmp, out);
  await rm(old, { recursive: true, force: true });
}

/** One line saying which input checks ran. */
function describeChecks(checks: readonly InputCheck[]): string {
  const count = (kind: InputCheck['kind']) => checks.filter((c) => c.kind === kind && c.status !== 'skipped').length;
  const parts = [
    [count('build-file'), 'build file'],
    [count('oci-layout'), 'OCI layout'],
    [count('docker-archive'), 'docker archive'],
  ]
    .filter(([n]) => (n as number) > 0)
    .map(([n, what]) => `${n} ${what}${n === 1 ? '' : 's'}`);
  const skipped = checks.filter((c) => c.status === 'skipped').length;
  return `inputs checked on disk: ${parts.length ? parts.join(', ') : 'none'}${skipped ? `; ${skipped} registry image${skipped === 1 ? '' : 's'} not contacted (pack fetches them)` : ''}`;
}

/** `solution validate` and `solution render`. */
export function registerSolutionCommands(program: Command): void {
  program
    .command('validate')
    .description('Check a solution definition against MetalK8s\' rules; every problem is listed at once.')
    .argument('[path]', 'solution file, or the folder holding solution.config.ts', '.')
    .option('--allow-outside-inputs', 'accept build files outside the solution folder')
    .option('--json', 'print one JSON object')
    .option('-q, --quiet', 'print errors only')
    .action(
      action(
        async (path: string, opts: CommonOptions & { allowOutsideInputs?: boolean }) => {
          const out = new Output(opts);
          const { solution, path: file, baseDir } = await loadSolutionFile(path);
          const inputs = await checkSolutionInputs({ solution, baseDir, allowOutside: opts.allowOutsideInputs });
          if (!inputs.ok) throw new ValidationError([...solution.warnings, ...inputs.issues], file);
          const w = [...solution.warnings, ...inputs.issues];
          out.result(
            `${file}: ${solution.id} is valid${w.length ? ` (${w.length} warning${w.length > 1 ? 's' : ''})\n${formatIssues(w)}` : ''}\n${describeChecks(inputs.checks)}`,
            { valid: true, id: solution.id, file, issues: w, inputs: inputs.checks },
          );
        },
        (_p, opts) => new Output(opts),
      ),
    );

  program
    .command('render')
    .description('Write the archive tree (manifest, CRDs, roles, platform objects) without the images.')
    .argument('[path]', 'solution file, or the folder holding solution.config.ts', '.')
    .requiredOption('-o, --out <dir>', 'folder to write; replaced if it holds a previous render')
    .option('--json', 'print one JSON object')
    .option('-q, --quiet', 'print errors only')
    .action(
      action(
        async (path: string, opts: CommonOptions & { out: string }) => {
          const out = new Output(opts);
          const { solution, baseDir } = await loadSolutionFile(path);
          for (const w of solution.warnings) out.warn(`${w.path}: ${w.message} [${w.code}]`);
          const time = await resolveBuildTime({ dir: baseDir });
          const rendered = render(solution, time.from === 'default' ? {} : { buildTimestamp: new Date(time.epoch * 1000) });
          const dir = resolve(opts.out);
          await writeTree(dir, rendered.files);
          const files = [...rendered.files].map(([p, b]) => ({
            path: p,
            size: b.byteLength,
            sha256: createHash('sha256').update(b).digest('hex'),
          }));
          const lines = [
            `rendered ${solution.id} into ${opts.out}: ${files.length} files`,
            ...files.map((f) => `  ${f.path} (${f.size} B)`),
            `images to pack (${rendered.images.length}):`,
            ...rendered.images.map((i) => `  ${i.name}:${i.tag} <- ${i.source.kind}${'reference' in i.source && i.source.reference ? ` ${i.source.reference}` : ''} (${i.platform})`),
          ];
          out.result(lines.join('\n'), { id: solution.id, out: dir, files, images: rendered.images });
        },
        (_p, opts) => new Output(opts),
      ),
    );

  program
    .command('preview-env')
    .description('Print the objects MetalK8s creates when the solution is added to an environment, for one MetalK8s version.')
    .argument('[path]', 'solution file, or the folder holding solution.config.ts', '.')
    .requiredOption('-n, --namespace <namespace>', 'environment namespace')
    .option('--metalk8s-version <version>', 'MetalK8s version of the cluster (129, 129.0.0, 130...)', DEFAULT_METALK8S_VERSION)
    .option('--json', 'print one JSON object')
    .action(
      action(
        async (path: string, opts: CommonOptions & { namespace: string; metalk8sVersion: string }) => {
          const out = new Output(opts);
          const { solution } = await loadSolutionFile(path);
          const env = renderEnvironment(solution, { namespace: opts.namespace, metalk8sVersion: opts.metalk8sVersion });
          for (const note of env.notes) out.warn(note);
          const docs = env.objects.map((o) => {
            const key = `${o.kind}/${(o.metadata as { name: string }).name}`;
            const since = env.laterVersionObjects[key];
            const body = toYaml(o);
            return since ? `# created by MetalK8s ${since} and later (the first such release is not confirmed)\n${body}` : body;
          });
          out.result(`# what MetalK8s ${env.metalk8sVersion} writes in ${opts.namespace}: ${env.objects.length} objects\n${docs.join('---\n')}`, {
            metalk8sVersion: env.metalk8sVersion,
            namespace: opts.namespace,
            objects: env.objects,
            laterVersionObjects: env.laterVersionObjects,
            notes: env.notes,
          });
        },
        (_p, opts) => new Output(opts),
      ),
    );
}
