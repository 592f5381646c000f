/**
 * `checkSolutionInputs()`: the files a solution names on disk, checked before anything is built
 * or packed: build `from` files (missing, a folder, a FIFO, a symlink, outside the solution's
 * folder), OCI layouts (missing, not a folder, not a layout) and docker archives (missing, not a
 * file, not a tar archive). Every problem is an issue with the field that named the file, so a
 * vendor fixes them all in one round; the report lists every check that ran.
 *
 * The solution model stays pure: this is the I/O half of validation. `solution validate` and
 * `pack` run it.
 *
 * Symlinks: a `from` path may be or cross a symlink as long as the file it resolves to stays
 * inside the solution's folder; the mode is then taken from that file (as `buildImage` does).
 * Files outside the folder (`/etc/shadow`, `../secret`, or a symlink to them) are refused unless
 * `allowOutside` is set.
 *
 * @module
 */
import { constants, createReadStream } from 'node:fs';
import { access, lstat, readFile, readlink, realpath, stat } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import type { Issue } from '../errors.js';
import type { BuildFile, ImageSourceInput } from '../solution/schema.js';
import type { Solution } from '../solution/validate.js';
import type { IssueCode } from '../error-codes.js';

/** Options of {@link checkSolutionInputs}. */
export interface CheckSolutionInputsOptions {
  /** The validated solution. */
  readonly solution: Solution;
  /** Folder relative paths are resolved from (the solution file's folder). */
  readonly baseDir: string;
  /**
   * Accept build `from` files that resolve outside `baseDir` (an explicit opt-in: they make
   * the build depend on the machine, and may ship files nobody meant to ship).
   * @default false
   */
  readonly allowOutside?: boolean | undefined;
}

/** One input that was checked. */
export interface InputCheck {
  /** The field that names it, e.g. `images[2].source.layers[0].files[1].from`. */
  readonly path: string;
  readonly kind: 'build-file' | 'build-directory' | 'oci-layout' | 'docker-archive' | 'registry';
  /** The absolute path checked (registry: the reference). */
  readonly target: string;
  /** `skipped`: registry images are only reached when `pack` fetches them. */
  readonly status: 'ok' | 'warning' | 'error' | 'skipped';
}

/** What {@link checkSolutionInputs} found. */
export interface InputsReport {
  /** No error-severity issue. */
  readonly ok: boolean;
  readonly issues: readonly Issue[];
  /** Every input, in definition order, with the result of its check. */
  readonly checks: readonly InputCheck[];
}

function inside(root: string, p: string): boolean {
  const rel = relative(root, p);
  return rel === '' || (!rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel));
}

async function readHead(path: string, gzip: boolean): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  const src = createReadStream(path, { start: 0, end: gzip ? 256 * 1024 : 511 });
  const collect = async function* (source: AsyncIterable<Buffer>) {
    for await (const c of source) {
      chunks.push(c);
      size += c.length;
      if (size >= 512) break;
    }
    yield Buffer.alloc(0);
  };
  try {
    if (gzip) await pipeline(src, createGunzip(), collect);
    else await pipeline(src, collect);
  } catch {
    // A gzip stream cut at the head's end: what was inflated is enough.
  }
  return Buffer.concat(chunks);
}

class Collector {
  readonly issues: Issue[] = [];
  readonly checks: InputCheck[] = [];
  error(code: IssueCode, path: string, message: string, hint: string): 'error' {
    this.issues.push({ code, path, message, severity: 'error', hint });
    return 'error';
  }
  warn(code: IssueCode, path: string, message: string, hint: string): 'warning' {
    this.issues.push({ code, path, message, severity: 'warning', hint });
    return 'warning';
  }
}

/** A folder layer: it exists, is a folder, and lies in the solution folder (unless allowed). */
async function checkBuildDirectory(c: Collector, field: string, abs: string, root: string, allowOutside: boolean): Promise<InputCheck['status']> {
  const real = await realpath(abs).catch(() => undefined);
  if (real === undefined) return c.error('INPUT_NOT_FOUND', field, `${abs} does not exist`, 'Check the path: it is resolved from the solution file\'s folder.');
  if (!inside(root, real) && !allowOutside) {
    return c.error(
      'INPUT_OUTSIDE_SOLUTION',
      field,
      `${abs} is outside the solution folder ${root}: its files would be copied into the image and shipped to every customer`,
      'Move the folder into the solution folder, or opt in with `allowOutsideInputs: true` (`--allow-outside-inputs`) if shipping it is intended.',
    );
  }
  if (!(await stat(real)).isDirectory()) return c.error('INPUT_NOT_DIRECTORY', field, `${abs} is not a folder`, 'Name a folder, or list the file in a `files` layer.');
  return 'ok';
}

async function checkBuildFile(c: Collector, field: string, file: BuildFile, baseDir: string, root: string, allowOutside: boolean): Promise<InputCheck['status']> {
  const from = file.from as string;
  const abs = isAbsolute(from) ? from : resolve(baseDir, from);
  const link = await lstat(abs).catch(() => undefined);
  if (!link) {
    return c.error('INPUT_NOT_FOUND', field, `${abs} does not exist`, 'Check the path: it is resolved from the solution file\'s folder.');
  }
  let real: string;
  try {
    real = await realpath(abs);
  } catch {
    return c.error('INPUT_NOT_FOUND', field, `${abs} is a symlink to ${await readLinkText(abs)}, which does not exist`, 'Fix or remove the dangling symlink.');
  }
  if (!inside(root, real) && !allowOutside) {
    const via = real !== abs ? ` (through a symlink, to ${real})` : '';
    return c.error(
      'INPUT_OUTSIDE_SOLUTION',
      field,
      `${abs}${via} is outside the solution folder ${root}: it would be copied into the image and shipped to every customer`,
      'Copy the file into the solution folder, or opt in with `allowOutsideInputs: true` (`--allow-outside-inputs`) if shipping it is intended.',
    );
  }
  const st = await stat(real);
  if (st.isDirectory()) {
    return c.error('INPUT_IS_DIRECTORY', field, `${abs} is a folder, not a file`, 'Name a file; list the files of a folder one by one.');
  }
  if (!st.isFile()) {
    return c.error('INPUT_NOT_REGULAR', field, `${abs} is not a regular file (a FIFO, socket or device)`, 'Copy a regular file.');
  }
  try {
    await access(real, constants.R_OK);
  } catch {
    return c.error('INPUT_UNREADABLE', field, `${abs} cannot be read: permission denied`, 'Check the permissions of the file and of its folders.');
  }
  if (file.mode === undefined && (st.mode & 0o004) === 0) {
    return c.warn(
      'INPUT_MODE_WIDENED',
      field,
      `${abs} is not readable by others (mode ${(st.mode & 0o777).toString(8).padStart(4, '0')}), but goes into the image as ${st.mode & 0o100 ? '0755' : '0644'}`,
      'Set `mode` on the file (e.g. 0o600) if it must stay private, or make the source readable.',
    );
  }
  return 'ok';
}

async function readLinkText(p: string): Promise<string> {
  return readlink(p).catch(() => '?');
}

async function checkOciLayout(c: Collector, field: string, abs: string, reference: string | undefined): Promise<InputCheck['status']> {
  const st = await stat(abs).catch(() => undefined);
  if (!st) return c.error('OCI_LAYOUT_NOT_FOUND', field, `OCI layout ${abs} does not exist`, 'Check the path (resolved from the solution folder); write one with skopeo copy … oci:DIR:TAG.');
  if (!st.isDirectory()) {
    return c.error('OCI_LAYOUT_NOT_A_FOLDER', field, `OCI layout ${abs} is a file, not a folder`, 'An OCI layout is a folder (oci-layout, index.json, blobs/); a tar file is read with kind: docker-archive.');
  }
  let layout: unknown;
  let index: unknown;
  try {
    layout = JSON.parse(await readFile(join(abs, 'oci-layout'), 'utf8'));
    index = JSON.parse(await readFile(join(abs, 'index.json'), 'utf8'));
  } catch {
    return c.error('OCI_LAYOUT_INVALID', field, `${abs} is not an OCI image layout: no readable oci-layout and index.json`, 'Point at a folder written by skopeo copy … oci:DIR, umoci or buildah.');
  }
  if ((layout as { imageLayoutVersion?: unknown })?.imageLayoutVersion !== '1.0.0') {
    return c.error('OCI_LAYOUT_INVALID', field, `${abs}/oci-layout does not say imageLayoutVersion 1.0.0`, 'Recreate the layout with skopeo or umoci.');
  }
  const manifests = (index as { manifests?: unknown })?.manifests;
  if (!Array.isArray(manifests) || manifests.length === 0) {
    return c.error('OCI_LAYOUT_INVALID', field, `${abs}/index.json lists no image`, 'Recreate the layout with skopeo or umoci.');
  }
  const refs = manifests.map((m) => (m as { annotations?: Record<string, unknown> })?.annotations?.['org.opencontainers.image.ref.name']).filter((r): r is string => typeof r === 'string');
  if (reference !== undefined && !refs.includes(reference)) {
    return c.error('OCI_LAYOUT_REFERENCE_MISSING', field, `${abs} has no image named "${reference}" (it has ${refs.join(', ') || 'none'})`, 'Set reference to one of the names in index.json.');
  }
  for (const m of manifests) {
    const digest = (m as { digest?: unknown })?.digest;
    const hex = typeof digest === 'string' && /^sha256:[0-9a-f]{64}$/.test(digest) ? digest.slice(7) : undefined;
    if (!hex || !(await stat(join(abs, 'blobs', 'sha256', hex)).then((s) => s.isFile(), () => false))) {
      return c.error('OCI_LAYOUT_BLOB_MISSING', field, `${abs}: index.json names ${JSON.stringify(digest)}, which is not in blobs/sha256/`, 'The layout is incomplete; recreate it.');
    }
  }
  return 'ok';
}

async function checkDockerArchive(c: Collector, field: string, abs: string): Promise<InputCheck['status']> {
  const st = await stat(abs).catch(() => undefined);
  if (!st) return c.error('ARCHIVE_NOT_FOUND', field, `docker archive ${abs} does not exist`, 'Check the path (resolved from the solution folder); write it with `docker save -o FILE IMAGE`.');
  if (!st.isFile()) {
    return c.error('ARCHIVE_NOT_A_FILE', field, `docker archive ${abs} is ${st.isDirectory() ? 'a folder' : 'not a regular file'}`, st.isDirectory() ? 'A folder holding oci-layout is read with kind: oci-layout.' : 'Give the tar file itself.');
  }
  try {
    await access(abs, constants.R_OK);
  } catch {
    return c.error('ARCHIVE_UNREADABLE', field, `docker archive ${abs} cannot be read: permission denied`, 'Check the permissions of the file and of its folders.');
  }
  const magic = await readHead(abs, false);
  const gzip = magic[0] === 0x1f && magic[1] === 0x8b;
  const head = gzip ? await readHead(abs, true) : magic;
  // POSIX and GNU tar headers carry "ustar" at offset 257.
  if (head.length < 512 || head.subarray(257, 262).toString('latin1') !== 'ustar') {
    return c.error('ARCHIVE_INVALID', field, `${abs} is not a${gzip ? ' gzip-compressed' : ''} tar archive`, 'Pass the tarball written by docker save or skopeo copy … docker-archive:/oci-archive:.');
  }
  return 'ok';
}

/**
 * Checks every file the solution names on disk. Never throws for a bad input: returns the issues
 * and the list of checks that ran.
 *
 * @example
 * ```ts
 * const { solution, baseDir } = await loadSolutionFile('examples/zenko-like');
 * const report = await checkSolutionInputs({ solution, baseDir });
 * for (const i of report.issues) console.error(i.path, i.message);
 * ```
 */
export async function checkSolutionInputs(options: CheckSolutionInputsOptions): Promise<InputsReport> {
  const baseDir = resolve(options.baseDir);
  const root = await realpath(baseDir).catch(() => baseDir);
  const c = new Collector();
  const images = options.solution.definition.images;
  for (const [i, img] of images.entries()) {
    const source: ImageSourceInput = img.source;
    const at = (p: string) => (isAbsolute(p) ? p : resolve(baseDir, p));
    const field = `images[${i}].source`;
    switch (source.kind) {
      case 'registry':
        c.checks.push({ path: field, kind: 'registry', target: source.reference, status: 'skipped' });
        break;
      case 'oci-layout':
        c.checks.push({ path: `${field}.path`, kind: 'oci-layout', target: at(source.path), status: await checkOciLayout(c, `${field}.path`, at(source.path), source.reference) });
        break;
      case 'docker-archive':
        c.checks.push({ path: `${field}.path`, kind: 'docker-archive', target: at(source.path), status: await checkDockerArchive(c, `${field}.path`, at(source.path)) });
        break;
      case 'build':
        for (const [l, layer] of source.layers.entries()) {
          if (!('files' in layer)) {
            const p = `${field}.layers[${l}].directory`;
            c.checks.push({ path: p, kind: 'build-directory', target: at(layer.directory), status: await checkBuildDirectory(c, p, at(layer.directory), root, options.allowOutside === true) });
            continue;
          }
          for (const [f, file] of layer.files.entries()) {
            if (file.from === undefined) continue;
            const p = `${field}.layers[${l}].files[${f}].from`;
            c.checks.push({ path: p, kind: 'build-file', target: at(file.from), status: await checkBuildFile(c, p, file, baseDir, root, options.allowOutside === true) });
          }
        }
        break;
    }
  }
  return { ok: !c.issues.some((x) => x.severity === 'error'), issues: c.issues, checks: c.checks };
}
