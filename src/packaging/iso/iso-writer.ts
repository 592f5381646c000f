/**
 * ISO 9660 writer: level 3, Rock Ridge (RRIP 1.10) and Joliet, streamed and deterministic.
 *
 * Written by hand because no npm package writes ISO 9660 images, and spawning mkisofs or
 * xorriso would make every vendor's build depend on a system tool. The writer plans the
 * whole image from sizes first (every LBA is known before the first byte is written), then
 * streams it out in one sequential pass with big-buffer positional I/O. Memory grows with the
 * number of entries, never with their size.
 *
 * Layout: system area (16 sectors), primary and Joliet volume descriptors, terminator, path
 * tables (primary L/M, Joliet L/M), primary directories, Joliet directories, the Rock Ridge
 * continuation area, file data, then 150 sectors of padding (as mkisofs does). Identical
 * content (same `contentKey`, same bytes, or the same hard-linked file) is stored once and
 * shared by several directory records.
 *
 * @module
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Writable } from 'node:stream';
import { IsoError, throwIfAborted } from '../../errors.js';
import type { FileFingerprint } from '../_file-fingerprint.js';
import { HOST_TAG, isAbandoned } from '../_stale-temp.js';
import { sourceDate } from '../_source-date-epoch.js';
import { SECTOR } from './_encoding.js';
import { plan } from './_layout.js';
import { ceBlocks, dirBytes, type Identifiers, pathTable, terminator, volumeDescriptor } from './_records.js';
import type { HashRing } from '../_hash-thread.js';
import { copyExtent, createSinkHasher, Sink } from './_sink.js';
import { buildTree, countHardLinks, type DirNode, isoError } from './_tree.js';

/** Largest section of a multi-extent file: 4 GiB minus one sector, as xorriso writes. */
export const ISO_MAX_SECTION = 0xfffff800;

/** Deepest directory level ECMA-119 allows (the root is level 1). Deeper paths are written with a warning. */
export const ISO_MAX_DEPTH = 8;

/**
 * Deepest level the writer accepts: paths below {@link ISO_MAX_DEPTH} are written as they are,
 * as xorriso does (Rock Ridge readers, the Linux kernel included, follow them), up to the depth
 * the SDK's reader accepts by default.
 */
export const ISO_WRITE_MAX_DEPTH = 64;

/** Timestamp used when neither `timestamp` nor `SOURCE_DATE_EPOCH` is given: 2000-01-01T00:00:00Z. */
export const DEFAULT_ISO_TIMESTAMP: Date = new Date(Date.UTC(2000, 0, 1));

export type { FileFingerprint } from '../_file-fingerprint.js';

/** Content read from a file on disk. Its size is taken from `stat` while planning. */
export interface IsoPathSource {
  readonly kind: 'path';
  /** File to copy into the image. */
  readonly path: string;
  /** Declares identical content: entries with the same key share one extent. */
  readonly contentKey?: string | undefined;
  /**
   * The file's `stat` when the caller has it already (an `fs.Stats` of the file will do): the
   * writer then does not stat it again while planning, which counts on trees of thousands of
   * files. The size is checked again when the file is copied: a file that changed in between
   * fails the write.
   */
  readonly stats?: IsoSourceStats | undefined;
  /**
   * The file as the caller checked it (an `fs.BigIntStats`, or what a blob store's `trusted()`
   * returns): when the file the writer opens, or the file once copied,
   * has another device, inode, size, modification or change time, the write fails with
   * `ISO_SOURCE_CHANGED` and no image is left. For content checked before the write and not
   * hashed again on the way.
   */
  readonly expect?: FileFingerprint | undefined;
}

/** What the writer needs to know of a source file before copying it. */
export interface IsoSourceStats {
  /** Size in bytes. */
  readonly size: number;
  /** Device and inode: entries of the same file are hard links, stored once. */
  readonly dev: number;
  readonly ino: number;
  /** Whether it is a regular file. */
  isFile(): boolean;
}

/** Content held in memory. */
export interface IsoBytesSource {
  readonly kind: 'bytes';
  /** The bytes; a string is encoded as UTF-8. */
  readonly data: Uint8Array | string;
  /** Declares identical content; without it, identical bytes are found by their sha256. */
  readonly contentKey?: string | undefined;
}

/** Content produced on demand by an async byte source of known size (a blob store, a download). */
export interface IsoStreamSource {
  readonly kind: 'stream';
  /** Exact number of bytes `open()` yields; a different count fails the write. */
  readonly size: number;
  /** Opens the content; called once, when the writer reaches this file's extent. */
  readonly open: () => AsyncIterable<Uint8Array> | NodeJS.ReadableStream;
  /** Declares identical content (for example `sha256:<hex>`): entries with the same key share one extent. */
  readonly contentKey?: string | undefined;
}

/** Where a file's bytes come from. */
export type IsoFileSource = IsoPathSource | IsoBytesSource | IsoStreamSource;

/** A regular file of the image. */
export interface IsoFileEntry {
  /** Path inside the image, `/`-separated (`images/app/1.0/manifest.json`). */
  readonly path: string;
  readonly type: 'file';
  readonly source: IsoFileSource;
  /** Permission bits. @default 0o644 */
  readonly mode?: number | undefined;
  /** Modification time. @default the image `timestamp` */
  readonly mtime?: Date | undefined;
  /** Attribute change time. @default `mtime` */
  readonly ctime?: Date | undefined;
}

/**
 * A directory. Parents of other entries are created implicitly; list one to set its mode or
 * times. The path `''` (or `/`) describes the root directory.
 */
export interface IsoDirectoryEntry {
  readonly path: string;
  readonly type: 'directory';
  /** Permission bits. @default 0o755 */
  readonly mode?: number | undefined;
  /** Modification time. @default the image `timestamp` */
  readonly mtime?: Date | undefined;
  /** Attribute change time. @default `mtime` */
  readonly ctime?: Date | undefined;
}

/** A symbolic link (Rock Ridge only: it is absent from the Joliet tree). */
export interface IsoSymlinkEntry {
  readonly path: string;
  readonly type: 'symlink';
  /** Link target, stored verbatim. */
  readonly target: string;
  /** Permission bits. @default 0o777 */
  readonly mode?: number | undefined;
  /** Modification time. @default the image `timestamp` */
  readonly mtime?: Date | undefined;
  /** Attribute change time. @default `mtime` */
  readonly ctime?: Date | undefined;
}

/** One entry of the image. */
export type IsoEntry = IsoFileEntry | IsoDirectoryEntry | IsoSymlinkEntry;

/** Progress of {@link writeIso}. */
export interface IsoWriteProgress {
  /** `planned` once every LBA is known, `writing` while bytes flow, `done` at the end. */
  readonly phase: 'planned' | 'writing' | 'done';
  /** Bytes of the image written so far. */
  readonly bytesWritten: number;
  /** Size of the whole image in bytes. */
  readonly bytesTotal: number;
}

/** Options of {@link writeIso}. */
export interface WriteIsoOptions {
  /** The files, directories and symlinks of the image, in any order. */
  readonly entries: Iterable<IsoEntry> | AsyncIterable<IsoEntry>;
  /**
   * Where to write: a file path (written to a temporary file next to it, then renamed) or a
   * Writable stream.
   */
  readonly output: string | Writable;
  /** Volume identifier, printable ASCII, at most 32 bytes (MetalK8s uses `"<Name> <version>"`). */
  readonly volumeId: string;
  /** Publisher identifier, printable ASCII, at most 128 bytes. @default '' */
  readonly publisherId?: string | undefined;
  /** Application identifier, printable ASCII, at most 128 bytes. @default '' */
  readonly applicationId?: string | undefined;
  /** Write a Joliet tree as well (names up to 103 characters). @default true */
  readonly joliet?: boolean | undefined;
  /**
   * Timestamp of every record and of the volume descriptors.
   * @default `SOURCE_DATE_EPOCH` when set, else {@link DEFAULT_ISO_TIMESTAMP} (2000-01-01T00:00:00Z)
   */
  readonly timestamp?: Date | undefined;
  /**
   * When `output` is a stream, call `end()` on it once the image is written. On failure the
   * stream is destroyed (without an error event) and `writeIso` rejects.
   * @default true
   */
  readonly endStream?: boolean | undefined;
  /**
   * Compute the sha256 of the whole image while writing it (about 0.7 s of CPU per GiB on
   * machines without SHA instructions). Turn off only when the digest is computed elsewhere.
   * @default true
   */
  readonly sha256?: boolean | undefined;
  /** Called as the write advances (about every 4 MiB). */
  readonly onProgress?: ((event: IsoWriteProgress) => void) | undefined;
  /** Called for each problem worked around (a Joliet name cut, a path deeper than 8 levels); also in the result. */
  readonly onWarning?: ((warning: IsoWriteWarning) => void) | undefined;
  /** Cancels the write; a file output is then removed. */
  readonly signal?: AbortSignal | undefined;
}

/** What {@link writeIso} produced. */
export interface WriteIsoResult {
  /** Size of the image in bytes. */
  readonly size: number;
  /** sha256 of the whole image (hex), computed while writing; `undefined` with `sha256: false`. */
  readonly sha256: string | undefined;
  /** Number of regular files. */
  readonly files: number;
  /** Number of directories, the root included. */
  readonly directories: number;
  /** Number of symbolic links. */
  readonly symlinks: number;
  /** Number of distinct data extents written (files with identical content count once). */
  readonly extents: number;
  /** Number of files whose content was already stored by another file. */
  readonly dedupedFiles: number;
  /** Bytes not written thanks to shared extents. */
  readonly dedupedBytes: number;
  /** Problems worked around (see {@link WriteIsoOptions.onWarning}). */
  readonly warnings: readonly IsoWriteWarning[];
}

/** A problem the writer worked around; the image is still written. */
export interface IsoWriteWarning {
  /** `ISO_JOLIET_NAME_CUT`, `ISO_DEEP_PATH`. */
  readonly code: string;
  /** The entry concerned. */
  readonly path: string;
  readonly message: string;
}

function checkId(field: string, value: string, max: number): void {
  if (!/^[\x20-\x7e]*$/.test(value) || value.length > max) {
    throw isoError(
      'ISO_INVALID_IDENTIFIER',
      `${field} ${JSON.stringify(value)} is not printable ASCII of at most ${max} bytes`,
      `Shorten ${field} to ${max} characters or fewer, using printable ASCII only.`,
    );
  }
}

function defaultTimestamp(): Date {
  return sourceDate() ?? DEFAULT_ISO_TIMESTAMP;
}

// ---------------------------------------------------------------------------------------------
// Output

/**
 * Puts the complete image `tmp` at `target`. An existing regular file is first moved aside
 * (`.<name>.<pid>.<time>.<host>.old.tmp`, intact), then the image is renamed in and the old file
 * removed. Renaming over an existing file costs much more on ext4: with delayed allocation
 * (`auto_da_alloc`, the default) the kernel then allocates and starts writing back every block of
 * the new file inside the rename, about 0.25 s per GiB (bench/iso-bench.mjs). The target is
 * absent for the microseconds between the two renames; if the process dies there, the next write
 * of the same target puts the old file back (see {@link removeAbandonedIsoTemp}).
 */
function replaceWith(tmp: string, target: string): void {
  let st: fs.Stats | undefined;
  try {
    st = fs.lstatSync(target);
  } catch {
    st = undefined;
  }
  if (st?.isFile() !== true) {
    fs.renameSync(tmp, target);
    return;
  }
  const aside = tmp.replace(/\.tmp$/, '.old.tmp');
  fs.renameSync(target, aside);
  try {
    fs.renameSync(tmp, target);
  } catch (err) {
    fs.renameSync(aside, target);
    throw err;
  }
  fs.rmSync(aside, { force: true });
}

/**
 * Removes the temporary files of earlier writes of `target` whose writer is gone (a process killed
 * with SIGKILL leaves `.<name>.<pid>.<time>[.<host>].tmp` behind); those of running writers stay.
 * An old image moved aside by such a writer (`….old.tmp`) is put back when `target` is missing.
 */
export function removeAbandonedIsoTemp(target: string): number {
  const dir = path.dirname(target);
  const base = path.basename(target);
  let removed = 0;
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return 0;
  }
  for (const name of names) {
    if (!name.startsWith(`.${base}.`) || !name.endsWith('.tmp')) continue;
    const m = /^\.(\d+)\.(\d+)(?:\.([0-9a-f]{8}))?(\.old)?\.tmp$/.exec(name.slice(base.length + 1));
    if (!m) continue;
    const p = path.join(dir, name);
    let st: fs.Stats;
    try {
      st = fs.lstatSync(p);
    } catch {
      continue;
    }
    if (!st.isFile() || !isAbandoned(Number(m[1]), m[3], st.mtimeMs)) continue;
    if (m[4] !== undefined && !fs.existsSync(target)) {
      fs.renameSync(p, target);
      continue;
    }
    fs.rmSync(p, { force: true });
    removed++;
  }
  return removed;
}

/**
 * Writes an ISO 9660 image (level 3, Rock Ridge, Joliet) from a list of entries.
 *
 * The same entries and options always give the same bytes. Primary names are uppercase
 * d-characters with `;1` (`manifest.yaml` is `MANIFEST.YAML;1`); Rock Ridge keeps the real
 * names, modes and symlinks; uid and gid are 0. Files of 4 GiB and more are written as
 * multi-extent files. Entries with the same content share one extent: the same
 * `contentKey`, the same bytes of a `bytes` source (by sha256), or the same file on disk
 * (hard links, by device and inode). `path` sources are not hashed, to avoid reading them twice.
 *
 * @example
 * ```ts
 * const result = await writeIso({
 *   output: 'example-1.0.0.iso',
 *   volumeId: 'Example 1.0.0',
 *   entries: [
 *     { path: 'manifest.yaml', type: 'file', source: { kind: 'bytes', data: manifestYaml } },
 *     { path: 'images/app/1.0/blob', type: 'file', source: { kind: 'path', path: '/store/blob' } },
 *   ],
 * });
 * console.log(result.sha256);
 * ```
 */
export async function writeIso(options: WriteIsoOptions): Promise<WriteIsoResult> {
  const signal = options.signal;
  throwIfAborted(signal, 'ISO write');
  checkId('volumeId', options.volumeId, 32);
  const publisherId = options.publisherId ?? '';
  const applicationId = options.applicationId ?? '';
  checkId('publisherId', publisherId, 128);
  checkId('applicationId', applicationId, 128);
  const joliet = options.joliet ?? true;
  const date = options.timestamp ?? defaultTimestamp();
  if (Number.isNaN(date.getTime()) || date.getUTCFullYear() < 1900 || date.getUTCFullYear() > 2155) {
    throw isoError(
      'ISO_INVALID_TIMESTAMP',
      `timestamp ${String(date)} cannot be stored in an ISO 9660 image`,
      'Use a date between 1900 and 2155.',
    );
  }
  const { root, extents, counts } = await buildTree(options.entries, signal);
  countHardLinks(root);
  // Started before the layout: a hashing thread boots meanwhile.
  const hasher = createSinkHasher(options.sha256 ?? true, extents.reduce((n, e) => n + e.size, 0));
  try {
    return await writePlanned(options, hasher, date, { volumeId: options.volumeId, publisherId, applicationId }, joliet, { root, extents, counts });
  } catch (err) {
    await hasher.close();
    throw err;
  }
}

async function writePlanned(
  options: WriteIsoOptions,
  hasher: HashRing,
  date: Date,
  ids: Identifiers,
  joliet: boolean,
  { root, extents, counts }: Awaited<ReturnType<typeof buildTree>>,
): Promise<WriteIsoResult> {
  const signal = options.signal;
  const warnings: IsoWriteWarning[] = [];
  const p = plan(root, extents, joliet, date, warnings);
  for (const w of warnings) options.onWarning?.(w);
  const total = p.totalSectors * SECTOR;
  options.onProgress?.({ phase: 'planned', bytesWritten: 0, bytesTotal: total });

  const output = options.output;
  let fd: number | undefined;
  let tmp: string | undefined;
  if (typeof output === 'string') {
    const target = path.resolve(output);
    removeAbandonedIsoTemp(target);
    // .<name>.<pid>.<time>.<host>.tmp: a later run can tell when its writer is gone.
    tmp = path.join(path.dirname(target), `.${path.basename(target)}.${process.pid}.${Date.now()}.${HOST_TAG}.tmp`);
    try {
      fd = fs.openSync(tmp, 'wx', 0o644);
    } catch (err) {
      throw isoError(
        'ISO_OUTPUT_FAILED',
        `cannot create ${JSON.stringify(tmp)}`,
        'Check that the output directory exists and is writable.',
        err,
      );
    }
  }
  const sink = new Sink(
    fd,
    typeof output === 'string' ? undefined : output,
    total,
    options.onProgress,
    signal,
    hasher,
  );
  let sha256: string | undefined;
  try {
    await sink.zeros(16 * SECTOR);
    await sink.write(volumeDescriptor(p, ids, false));
    if (joliet) await sink.write(volumeDescriptor(p, ids, true));
    await sink.write(terminator());
    await sink.write(pathTable(p.dirs, p, false, false));
    await sink.write(pathTable(p.dirs, p, false, true));
    if (joliet) {
      await sink.write(pathTable(p.jDirs, p, true, false));
      await sink.write(pathTable(p.jDirs, p, true, true));
    }
    for (const d of p.dirs) {
      await sink.write(dirBytes(d, p, false));
      await sink.write(ceBlocks(d.ceArea));
    }
    for (const d of p.jDirs) await sink.write(dirBytes(d, p, true));
    for (const ext of p.extents) {
      if (ext.size === 0) continue;
      if (sink.position + sink.fill !== ext.lba * SECTOR) {
        throw new IsoError('ISO_INTERNAL', `layout error at ${ext.label}`, { hint: 'Report this as a bug.' });
      }
      throwIfAborted(signal, 'ISO write');
      await copyExtent(ext, sink);
    }
    await sink.zeros(150 * SECTOR);
    await sink.flush();
    sha256 = await sink.digest();
    if (sink.position !== total) {
      throw new IsoError('ISO_INTERNAL', `wrote ${sink.position} bytes, planned ${total}`, {
        hint: 'Report this as a bug.',
      });
    }
    if (fd !== undefined && tmp !== undefined && typeof output === 'string') {
      fs.closeSync(fd);
      fd = undefined;
      replaceWith(tmp, path.resolve(output));
      tmp = undefined;
    } else if (typeof output !== 'string' && (options.endStream ?? true)) {
      await new Promise<void>((resolve, reject) => {
        output.once('error', reject);
        output.end(() => resolve());
      });
    }
  } catch (err) {
    // The promise carries the error; the stream is closed without one, so that a caller that
    // does not listen for 'error' does not crash.
    if (typeof output !== 'string' && !output.destroyed) output.destroy();
    throw err;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
    if (tmp !== undefined) fs.rmSync(tmp, { force: true });
  }
  options.onProgress?.({ phase: 'done', bytesWritten: total, bytesTotal: total });
  let fileRefs = 0;
  let refBytes = 0;
  const countRefs = (dir: DirNode) => {
    for (const k of dir.children.values()) {
      if (k.kind === 'file') {
        fileRefs++;
        refBytes += k.extent.size;
      } else if (k.kind === 'dir') countRefs(k);
    }
  };
  countRefs(root);
  const stored = p.extents.reduce((s, e) => s + e.size, 0);
  return {
    size: total,
    sha256,
    files: counts.files,
    directories: counts.dirs,
    symlinks: counts.symlinks,
    extents: p.extents.length,
    dedupedFiles: fileRefs - p.extents.length,
    dedupedBytes: refBytes - stored,
    warnings,
  };
}
