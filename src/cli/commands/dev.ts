import { rm } from 'node:fs/promises';
import { relative } from 'node:path';
import type { Command } from '@commander-js/extra-typings';
import type { Cluster } from '../../cluster/index.js';
import { type DevRound, devSolution } from '../../packaging/dev.js';
import type { PackResult } from '../../packaging/pack.js';
import type { Solution } from '../../solution/validate.js';
import { action, errorEvent, formatError, formatIssues, Output } from '../_output.js';
import { FLAG_RULES, numericOption } from '../_options.js';
import { formatBytes } from '../_progress.js';
import { type ConnectionFlags, connectFrom, withConnectionFlags } from '../_connection.js';

interface DevCliOptions extends ConnectionFlags {
  out?: string;
  cacheDir?: string;
  sourceDateEpoch?: number;
  emulator?: boolean;
  env?: string;
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(2)}s`;

function describeRound(r: DevRound, showWarnings: boolean): string {
  const what = r.changed.length === 0 ? 'start' : r.changed.length <= 3 ? r.changed.join(', ') : `${r.changed.slice(0, 3).join(', ')} and ${r.changed.length - 3} more`;
  const head = `round ${r.index} (${what})`;
  if (!r.ok && r.error === undefined) {
    const errors = r.issues.filter((i) => i.severity === 'error').length;
    return `${head}: invalid, ${errors} error(s) after ${seconds(r.timings.total)}\n${formatIssues(r.issues)}`;
  }
  if (!r.ok) return `${head}: failed after ${seconds(r.timings.total)}\n${formatError(r.error)}`;
  const p = r.pack as PackResult;
  const b = p.build;
  const built =
    b.layersBuilt + b.layersCached === 0
      ? ''
      : b.layersBuilt === 0
        ? `; ${b.layersCached} layer(s) from the build cache`
        : `; ${b.layersBuilt} layer(s) compressed (${formatBytes(b.bytesCompressed)}), ${b.layersCached} from the build cache`;
  const after = r.after ? `; ${r.after} in ${seconds(r.timings.after)}` : '';
  const warnings = showWarnings && r.issues.length > 0 ? `\n${formatIssues(r.issues)}` : '';
  return `${head}: packed ${relative(process.cwd(), p.path) || p.path} in ${seconds(r.timings.total)} (validate ${seconds(r.timings.validate)}, pack ${seconds(r.timings.pack)}${built})${after}${warnings}`;
}

/**
 * `--emulator`: imports each round's ISO into the running emulator, activates it, and adds it to
 * (or upgrades) a development environment; the previous round's version is removed.
 */
function emulatorStep(flags: DevCliOptions) {
  let cluster: Cluster | undefined;
  let previous: string | undefined;
  return async (result: PackResult, solution: Solution, signal: AbortSignal): Promise<string> => {
    cluster ??= await connectFrom(flags, signal);
    const imported = await cluster.solutions.import(result.path, { signal });
    await cluster.solutions.activate(solution.name, { version: solution.version, signal });
    const envName = flags.env ?? `${solution.name}-dev`;
    const env = (await cluster.environments.list({ signal })).find((e) => e.name === envName);
    if (!env) await cluster.environments.create(envName, { signal });
    const upgrade = env?.solutions[solution.name] !== undefined;
    if (upgrade) await cluster.environments.upgradeSolution(envName, { name: solution.name, version: solution.version, signal });
    else await cluster.environments.addSolution(envName, { name: solution.name, version: solution.version, signal });
    if (previous !== undefined && previous !== imported.archive) {
      // The last round's version is neither active nor used any more.
      await cluster.solutions.remove(previous, { signal }).catch(() => undefined);
      await rm(previous, { force: true });
    }
    previous = imported.archive;
    return `${upgrade ? 'upgraded' : 'added'} ${solution.name} ${solution.version} in environment ${envName}`;
  };
}

/** `solution dev`. */
export function registerDevCommands(program: Command): void {
  withConnectionFlags(
    program
      .command('dev')
      .description('Watch a solution: re-validate and repack on every change (and, with --emulator, import and upgrade it in the running emulator).')
      .argument('[path]', 'solution file, or the folder holding solution.config.ts', '.')
      .option('-o, --out <dir>', 'folder each round writes its ISO into', 'out')
      .option('--cache-dir <dir>', 'blob store shared between builds (default: the user cache folder)')
      .addOption(numericOption('--source-date-epoch <seconds>', 'build time of every round (default: as pack)', FLAG_RULES.epoch))
      .option('--emulator', 'import each round into the running emulator (eval "$(solution emulator up)") and upgrade an environment')
      .option('--env <name>', 'environment --emulator upgrades, created if missing (default: <name>-dev)'),
  ).action(
    action(
      async (path: string, opts: DevCliOptions) => {
        const out = new Output(opts);
        const ctl = new AbortController();
        const stop = () => ctl.abort();
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
        // Each emulator import needs a version of its own: <version>-dev.<start time>.<round>.
        const started = Math.floor(Date.now() / 1000);
        let lastWarnings = '[]';
        out.info(`watching ${path} (Ctrl-C to stop)${opts.emulator ? ', importing every round into the emulator' : ''}`);
        try {
          await devSolution({
            configPath: path,
            outDir: opts.out ?? 'out',
            cacheDir: opts.cacheDir,
            sourceDateEpoch: opts.sourceDateEpoch,
            version: opts.emulator ? (v, round) => `${v.split('+')[0]}-dev.${started}.${round}` : undefined,
            afterPack: opts.emulator ? emulatorStep(opts) : undefined,
            signal: ctl.signal,
            onRoundStart: (index, changed) => out.event({ type: 'round-start', index, changed }),
            onRound: (r) => {
              out.event({
                type: 'round',
                index: r.index,
                changed: r.changed,
                ok: r.ok,
                timings: r.timings,
                ...(r.pack ? { iso: r.pack.path, sha256: r.pack.sha256, version: r.pack.id, build: r.pack.build } : {}),
                ...(r.after ? { after: r.after } : {}),
                issues: r.issues,
                ...(r.error !== undefined ? { error: errorEvent(r.error) } : {}),
              });
              if (out.json) return;
              // Warnings are printed when they change, not on every save.
              const key = JSON.stringify(r.issues);
              const fresh = key !== lastWarnings;
              if (r.ok) {
                lastWarnings = key;
                out.info(describeRound(r, fresh));
              } else process.stderr.write(`${describeRound(r, true)}\n`);
            },
          });
        } finally {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
        }
      },
      (_p, opts) => new Output(opts),
    ),
  );
}
