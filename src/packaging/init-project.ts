/**
 * `initProject()`: a ready solution project in a folder (what `solution init` writes): an ESM
 * package.json with the SDK as a dependency and validate/pack/test scripts, a tsconfig that
 * type-checks `solution.config.ts`, an example solution (operator, one CRD, images built from
 * folders, a StorageClass, a dashboard, alerts), a test that validates and packs, `.gitignore`,
 * and a CI workflow that packs and runs the ISO in the MetalK8s emulator.
 *
 * @module
 */
import { chmod, mkdir, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { PackagingError, ValidationError } from '../errors.js';
import { SDK_VERSION } from '../version.js';
import { projectTemplate } from './_project-template.js';

/** Options of {@link initProject}. */
export interface InitProjectOptions {
  /** Folder to create the project in; created if missing, must be empty (a `.git` is allowed). */
  readonly dir: string;
  /**
   * Solution name: a DNS label (lowercase letters, digits, `-`), not starting with `metalk8s-`.
   * @default the folder's name
   */
  readonly name?: string | undefined;
  /** SDK version the project depends on (`^<version>`). @default this SDK's version */
  readonly sdkVersion?: string | undefined;
}

/** What {@link initProject} wrote. */
export interface InitProjectResult {
  /** Absolute path of the project. */
  readonly dir: string;
  readonly name: string;
  /** Files written, relative to `dir`, sorted. */
  readonly files: readonly string[];
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

function checkName(name: string, from: string): void {
  const problem =
    name.length > 40
      ? 'is longer than 40 characters (MetalK8s needs "<name>-<version>" within 54)'
      : !DNS_LABEL.test(name)
        ? 'is not a DNS label (lowercase letters, digits and -, starting and ending with a letter or digit)'
        : name.startsWith('metalk8s-')
          ? 'starts with "metalk8s-", which MetalK8s reserves for itself'
          : undefined;
  if (problem)
    throw new ValidationError(
      [{ code: 'INIT_NAME_INVALID', path: from, message: `"${name}" ${problem}`, severity: 'error', hint: 'Pass --name with a name such as "acme-store".' }],
      'solution init',
    );
}

/**
 * Writes a new solution project into `dir`. Refuses a folder that already holds files, so it
 * never overwrites anything; the files are written to a temporary folder first and moved in
 * at the end, so a failure leaves nothing half-written.
 *
 * @example
 * ```ts
 * const { dir, files } = await initProject({ dir: 'acme-store' });
 * // then: cd acme-store && npm install && npm test
 * ```
 */
export async function initProject(options: InitProjectOptions): Promise<InitProjectResult> {
  const dir = resolve(options.dir);
  const name = options.name ?? basename(dir);
  checkName(name, options.name !== undefined ? '--name' : 'dir (the folder name; or pass --name)');
  let existing: string[] = [];
  try {
    existing = await readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const blocking = existing.filter((e) => e !== '.git');
  if (blocking.length > 0)
    throw new PackagingError('INIT_DIR_NOT_EMPTY', `${dir} is not empty (${blocking.slice(0, 3).join(', ')}${blocking.length > 3 ? ', …' : ''})`, {
      hint: 'Give a new or empty folder: solution init <dir>.',
    });
  const files = projectTemplate(name, options.sdkVersion ?? SDK_VERSION);
  await mkdir(dirname(dir), { recursive: true });
  const tmp = `${dir}.init-${process.pid}`;
  await rm(tmp, { recursive: true, force: true });
  try {
    for (const [path, f] of files) {
      const target = join(tmp, path);
      await mkdir(dirname(target), { recursive: true });
      await writeFile(target, f.text);
      await chmod(target, f.mode);
    }
    await mkdir(dir, { recursive: true });
    for (const top of await readdir(tmp)) await rename(join(tmp, top), join(dir, top));
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  return { dir, name, files: [...files.keys()] };
}
