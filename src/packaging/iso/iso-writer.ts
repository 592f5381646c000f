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
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Writable } from 'node:stream';
import { IsoError, throwIfAborted } from '../../errors.js';
import type { SdkErrorCode } from '../../error-codes.js';
import { HOST_TAG, isAbandoned } from '../_stale-temp.js';
import { sourceDate } from '../_source-date-epoch.js';
import { SDK_VERSION } from '../../version.js';
import { copyExtent, type Extent, Sink } from './_sink.js';
import {
  putAscii,
  putBoth16,
  putBoth32,
  putUcs2Padded,
  recordDate,
  SECTOR,
  sectors,
  ucs2,
  unsetVolumeDate,
  volumeDate,
} from './_encoding.js';
import {
  assignPrimaryNames,
  comparePrimary,
  compareCodeUnits,
  JOLIET_MAX,
  jolietName,
  RR_NAME_MAX,
  uniqueJolietNames,
} from './_names.js';
import {
  CE_SIZE,
  ceEntry,
  erEntry,
  nmEntries,
  pxEntry,
  S_IFDIR,
  S_IFLNK,
  S_IFREG,
  slEntries,
  spEntry,
  tfEntry,
} from './_rock-ridge.js';

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

/** Content read from a file on disk. Its size is taken from `stat` while planning. */
export interface IsoPathSource {
  readonly kind: 'path';
  /** File to copy into the image. */
  readonly path: string;
  /** Declares identical content: entries with the same key share one extent. */
  readonly contentKey?: string | undefined;
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

// ---------------------------------------------------------------------------------------------
// Planning model


interface BaseNode {
  readonly name: string;
  readonly parent: DirNode | undefined;
  mode: number;
  mtime: Date | undefined;
  ctime: Date | undefined;
  primaryId: string;
  jolietId: string | undefined;
  /** Entries of the Rock Ridge SUA kept inside the record; the rest lives in `ce`. */
  keep: number;
  ce: CeChunk | undefined;
}

interface DirNode extends BaseNode {
  readonly kind: 'dir';
  readonly children: Map<string, Node>;
  readonly depth: number;
  explicit: boolean;
  sorted: Node[];
  jSorted: Node[];
  subdirs: number;
  lba: number;
  size: number;
  jLba: number;
  jSize: number;
  ptIndex: number;
  jPtIndex: number;
  /** Continuation blocks of this directory's records, written right after the directory. */
  readonly ceArea: CeArea;
}

interface FileNode extends BaseNode {
  readonly kind: 'file';
  readonly extent: Extent;
  /** Whether it is a hard link of a source file (same device and inode as other entries). */
  readonly hardLink: boolean;
  /** Rock Ridge link count: the entries of the image that are hard links of the same file. */
  links: number;
}

interface LinkNode extends BaseNode {
  readonly kind: 'symlink';
  readonly target: string;
}

type Node = DirNode | FileNode | LinkNode;

interface CeChunk {
  readonly area: CeArea;
  block: number;
  offset: number;
  length: number;
  entries: Uint8Array[];
  next: CeChunk | undefined;
}

const enc = new TextEncoder();

function isoError(code: SdkErrorCode, message: string, hint: string, cause?: unknown): IsoError {
  return new IsoError(code, message, { hint, cause });
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

function splitPath(p: string): string[] {
  const parts = p.split('/').filter((s) => s !== '');
  if (parts.length === 0 || parts.some((s) => s === '.' || s === '..' || s.includes('\0'))) {
    throw isoError(
      'ISO_INVALID_PATH',
      `entry path ${JSON.stringify(p)} is not a relative path made of plain names`,
      'Use `/`-separated names without `.` or `..` components.',
    );
  }
  return parts;
}

function checkMode(p: string, mode: number | undefined, fallback: number): number {
  if (mode === undefined) return fallback;
  if (!Number.isInteger(mode) || mode < 0 || mode > 0o7777) {
    throw isoError(
      'ISO_INVALID_MODE',
      `entry ${JSON.stringify(p)} has mode ${mode}, which is not a permission value (0 to 0o7777)`,
      'Pass permission bits only, for example 0o644.',
    );
  }
  return mode;
}

function checkTime(p: string, date: Date | undefined): Date | undefined {
  if (date === undefined) return undefined;
  if (!(date instanceof Date) || Number.isNaN(date.getTime()) || date.getUTCFullYear() < 1900 || date.getUTCFullYear() > 2155) {
    throw isoError(
      'ISO_INVALID_TIMESTAMP',
      `entry ${JSON.stringify(p)} has a time that ISO 9660 cannot store`,
      'Use dates between 1900 and 2155.',
    );
  }
  return date;
}

function newDir(name: string, parent: DirNode | undefined, mode: number, explicit: boolean): DirNode {
  return {
    kind: 'dir',
    name,
    parent,
    mode,
    mtime: undefined,
    ctime: undefined,
    primaryId: '',
    jolietId: undefined,
    keep: 0,
    ce: undefined,
    children: new Map(),
    depth: parent ? parent.depth + 1 : 1,
    explicit,
    sorted: [],
    jSorted: [],
    subdirs: 0,
    lba: 0,
    size: 0,
    jLba: 0,
    jSize: 0,
    ptIndex: 0,
    jPtIndex: 0,
    ceArea: new CeArea(),
  };
}

function depthError(p: string): IsoError {
  return isoError(
    'ISO_DEPTH_EXCEEDED',
    `entry ${JSON.stringify(p)} is deeper than ${ISO_WRITE_MAX_DEPTH} directory levels (the root included)`,
    `Flatten the tree: at most ${ISO_WRITE_MAX_DEPTH - 1} nested directories below the root.`,
  );
}

/** Sets each hard-linked file's Rock Ridge link count to the number of its links in the image. */
function countHardLinks(root: DirNode): void {
  const byExtent = new Map<Extent, FileNode[]>();
  const walk = (d: DirNode) => {
    for (const k of d.children.values()) {
      if (k.kind === 'dir') walk(k);
      else if (k.kind === 'file' && k.hardLink) {
        const list = byExtent.get(k.extent);
        if (list) list.push(k);
        else byExtent.set(k.extent, [k]);
      }
    }
  };
  walk(root);
  for (const list of byExtent.values()) for (const f of list) f.links = list.length;
}

/** Builds the tree and the extent table from the entries. */
async function buildTree(
  entries: Iterable<IsoEntry> | AsyncIterable<IsoEntry>,
  signal: AbortSignal | undefined,
): Promise<{ root: DirNode; extents: Extent[]; counts: { files: number; symlinks: number; dirs: number } }> {
  const root = newDir('', undefined, 0o755, true);
  const byKey = new Map<string, Extent>();
  const extentsInOrder: Extent[] = [];
  const counts = { files: 0, symlinks: 0, dirs: 1 };
  let seen = 0;
  // A plain loop for synchronous iterables: `for await` would allocate promises per entry.
  const sync = Symbol.iterator in entries ? (entries as Iterable<IsoEntry>) : undefined;
  const iterable: AsyncIterable<IsoEntry> | Iterable<IsoEntry> = sync ?? (entries as AsyncIterable<IsoEntry>);
  const add = (e: IsoEntry): void => {
    if (++seen % 4096 === 0) throwIfAborted(signal, 'ISO write');
    if (e.type === 'directory' && /^\/*$/.test(e.path)) {
      root.mode = checkMode('/', e.mode, 0o755);
      root.mtime = checkTime(e.path, e.mtime);
      root.ctime = checkTime(e.path, e.ctime);
      return;
    }
    const parts = splitPath(e.path);
    let dir = root;
    for (let i = 0; i < parts.length - 1; i++) {
      const name = parts[i]!;
      const existing = dir.children.get(name);
      if (existing === undefined) {
        if (dir.depth >= ISO_WRITE_MAX_DEPTH) throw depthError(e.path);
        const d = newDir(name, dir, 0o755, false);
        dir.children.set(name, d);
        counts.dirs++;
        dir = d;
      } else if (existing.kind === 'dir') {
        dir = existing;
      } else {
        throw isoError(
          'ISO_NOT_A_DIRECTORY',
          `entry ${JSON.stringify(e.path)} needs ${JSON.stringify(parts.slice(0, i + 1).join('/'))} to be a directory, but it is a ${existing.kind}`,
          'Remove the conflicting entry or rename one of them.',
        );
      }
    }
    const name = parts[parts.length - 1]!;
    if (enc.encode(name).length > RR_NAME_MAX) {
      throw isoError(
        'ISO_NAME_TOO_LONG',
        `entry ${JSON.stringify(e.path)} has a name longer than ${RR_NAME_MAX} bytes`,
        `Shorten the name to ${RR_NAME_MAX} UTF-8 bytes or fewer.`,
      );
    }
    const existing = dir.children.get(name);
    if (existing !== undefined) {
      if (e.type === 'directory' && existing.kind === 'dir' && !existing.explicit) {
        existing.explicit = true;
        existing.mode = checkMode(e.path, e.mode, 0o755);
        existing.mtime = checkTime(e.path, e.mtime);
        existing.ctime = checkTime(e.path, e.ctime);
        return;
      }
      throw isoError(
        'ISO_DUPLICATE_PATH',
        `entry path ${JSON.stringify(e.path)} is given twice`,
        'Give each path once; to store identical content twice, use two paths (it is stored once).',
      );
    }
    const base = {
      name,
      parent: dir,
      mtime: checkTime(e.path, e.mtime),
      ctime: checkTime(e.path, e.ctime),
      primaryId: '',
      jolietId: undefined,
      keep: 0,
      ce: undefined,
    };
    if (e.type === 'directory') {
      if (dir.depth >= ISO_WRITE_MAX_DEPTH) throw depthError(e.path);
      const d = newDir(name, dir, checkMode(e.path, e.mode, 0o755), true);
      d.mtime = base.mtime;
      d.ctime = base.ctime;
      dir.children.set(name, d);
      counts.dirs++;
    } else if (e.type === 'symlink') {
      if (typeof e.target !== 'string' || e.target === '' || e.target.includes('\0')) {
        throw isoError(
          'ISO_INVALID_SYMLINK',
          `symlink ${JSON.stringify(e.path)} has an empty or invalid target`,
          'Give the symlink a non-empty target without NUL characters.',
        );
      }
      dir.children.set(name, { ...base, kind: 'symlink', mode: checkMode(e.path, e.mode, 0o777), target: e.target });
      counts.symlinks++;
    } else if (e.type === 'file') {
      const extent = resolveExtent(e, byKey, extentsInOrder);
      // Path sources share an extent by device and inode: hard links. Identical content from
      // other sources shares an extent too, but those are separate files (link count 1).
      const hardLink = e.source.kind === 'path' && e.source.contentKey === undefined;
      dir.children.set(name, { ...base, kind: 'file', mode: checkMode(e.path, e.mode, 0o644), extent, hardLink, links: 1 });
      counts.files++;
    } else {
      throw isoError(
        'ISO_INVALID_ENTRY',
        `entry ${JSON.stringify((e as { path: string }).path)} has an unknown type`,
        "Use type 'file', 'directory' or 'symlink'.",
      );
    }
  };
  if (sync) for (const e of sync) add(e);
  else for await (const e of iterable as AsyncIterable<IsoEntry>) add(e);
  return { root, extents: extentsInOrder, counts };
}

function resolveExtent(e: IsoFileEntry, byKey: Map<string, Extent>, all: Extent[]): Extent {
  const src = e.source;
  let key: string | undefined;
  let size: number;
  let source: IsoFileSource = src;
  if (src.kind === 'path') {
    let st: fs.Stats;
    try {
      st = fs.statSync(src.path);
    } catch (err) {
      throw isoError(
        'ISO_SOURCE_UNREADABLE',
        `cannot read ${JSON.stringify(src.path)} for entry ${JSON.stringify(e.path)}`,
        'Check that the file exists and is readable.',
        err,
      );
    }
    if (!st.isFile()) {
      throw isoError(
        'ISO_SOURCE_NOT_A_FILE',
        `source ${JSON.stringify(src.path)} of entry ${JSON.stringify(e.path)} is not a regular file`,
        'Point path sources at regular files; add directories and symlinks as their own entries.',
      );
    }
    size = st.size;
    key = src.contentKey !== undefined ? `key:${src.contentKey}` : `ino:${st.dev}:${st.ino}`;
  } else if (src.kind === 'bytes') {
    const data = typeof src.data === 'string' ? enc.encode(src.data) : src.data;
    source = { kind: 'bytes', data };
    size = data.length;
    key =
      src.contentKey !== undefined
        ? `key:${src.contentKey}`
        : `sha:${createHash('sha256').update(data).digest('hex')}`;
  } else if (src.kind === 'stream') {
    if (!Number.isSafeInteger(src.size) || src.size < 0) {
      throw isoError(
        'ISO_INVALID_SIZE',
        `stream source of entry ${JSON.stringify(e.path)} has size ${src.size}`,
        'Give stream sources their exact size in bytes.',
      );
    }
    size = src.size;
    key = src.contentKey !== undefined ? `key:${src.contentKey}` : undefined;
  } else {
    throw isoError(
      'ISO_INVALID_SOURCE',
      `entry ${JSON.stringify(e.path)} has an unknown source kind`,
      "Use source kind 'path', 'bytes' or 'stream'.",
    );
  }
  if (key !== undefined) {
    const found = byKey.get(key);
    if (found !== undefined) {
      if (found.size !== size) {
        throw isoError(
          'ISO_CONTENT_KEY_CONFLICT',
          `entry ${JSON.stringify(e.path)} declares content key ${JSON.stringify(key.slice(4))} with ${size} bytes, but ${found.label} has ${found.size} bytes under the same key`,
          'Use the same contentKey only for identical content.',
        );
      }
      return found;
    }
  }
  const extent: Extent = { source, size, label: JSON.stringify(e.path), lba: 0 };
  if (key !== undefined) byKey.set(key, extent);
  all.push(extent);
  return extent;
}

// ---------------------------------------------------------------------------------------------
// Layout

function recordLength(idLength: number, suaLength: number): number {
  const len = 33 + idLength + (idLength % 2 === 0 ? 1 : 0) + suaLength;
  return len + (len % 2);
}

function primaryIdLength(node: Node): number {
  return node.primaryId.length;
}

/** The 7-byte date of a node's records: its mtime, else the image timestamp. */
function nodeDate7(node: Node, fallback: Uint8Array): Uint8Array {
  return node.mtime ? recordDate(node.mtime) : fallback;
}

/** The Rock Ridge entries describing `node` (in its parent, or as `.`), in emission order. */
function nodeSusp(node: Node, date7: Uint8Array, withName: boolean): Uint8Array[] {
  const out: Uint8Array[] = [];
  if (node.kind === 'dir') out.push(pxEntry(S_IFDIR | node.mode, 2 + node.subdirs));
  else if (node.kind === 'file') out.push(pxEntry(S_IFREG | node.mode, node.links));
  else out.push(pxEntry(S_IFLNK | node.mode, 1));
  out.push(tfEntry(nodeDate7(node, date7), node.ctime ? recordDate(node.ctime) : nodeDate7(node, date7)));
  if (withName) out.push(...nmEntries(enc.encode(node.name)));
  if (node.kind === 'symlink') out.push(...slEntries(node.target));
  return out;
}

function sum(list: readonly Uint8Array[]): number {
  let n = 0;
  for (const b of list) n += b.length;
  return n;
}

/**
 * The continuation blocks of one directory. They follow the directory's extent directly, as
 * xorriso lays them out: libarchive only reads continuation areas found right after a directory.
 */
class CeArea {
  lba = 0;
  block = 0;
  offset = 0;
  readonly chunks: CeChunk[] = [];

  alloc(entries: Uint8Array[]): CeChunk {
    const size = sum(entries);
    if (size <= SECTOR) return this.place(entries, size, undefined);
    // Too big for one block: fill a block, end it with a CE to the rest.
    const first: Uint8Array[] = [];
    let used = 0;
    let i = 0;
    while (i < entries.length && used + entries[i]!.length + CE_SIZE <= SECTOR) {
      used += entries[i]!.length;
      first.push(entries[i]!);
      i++;
    }
    const chunk = this.place(first, used + CE_SIZE, undefined);
    chunk.next = this.alloc(entries.slice(i));
    return chunk;
  }

  private place(entries: Uint8Array[], size: number, next: CeChunk | undefined): CeChunk {
    if (this.offset + size > SECTOR) {
      this.block++;
      this.offset = 0;
    }
    const chunk: CeChunk = { area: this, block: this.block, offset: this.offset, length: size, entries, next };
    this.offset += size;
    this.chunks.push(chunk);
    return chunk;
  }

  get blocks(): number {
    return this.chunks.length === 0 ? 0 : this.block + 1;
  }
}

/**
 * Count and total size of the entries {@link nodeSusp} returns with the name, computed without
 * building them (planning thousands of entries must not churn the heap).
 */
function suspShape(node: Node): { count: number; size: number } | undefined {
  if (node.kind === 'symlink') return undefined;
  const nameBytes = Buffer.byteLength(node.name, 'utf8');
  const nmCount = Math.max(1, Math.ceil(nameBytes / 250));
  return { count: 2 + nmCount, size: 36 + 26 + nmCount * 5 + nameBytes };
}

/** Splits a record's SUA between the record and the continuation area. */
function layoutSusp(node: Node, date7: Uint8Array, area: CeArea): number {
  const avail = 254 - (33 + primaryIdLength(node) + (primaryIdLength(node) % 2 === 0 ? 1 : 0));
  const shape = suspShape(node);
  if (shape !== undefined && shape.size <= avail) {
    node.keep = shape.count;
    return shape.size;
  }
  const entries = nodeSusp(node, date7, true);
  const total = sum(entries);
  if (total <= avail) {
    node.keep = entries.length;
    return total;
  }
  let used = 0;
  let k = 0;
  while (k < entries.length && used + entries[k]!.length + CE_SIZE <= avail) {
    used += entries[k]!.length;
    k++;
  }
  node.keep = k;
  node.ce = area.alloc(entries.slice(k));
  return used + CE_SIZE;
}

function placeRecords(lengths: Iterable<number>): number {
  let off = 0;
  for (const len of lengths) {
    if ((off % SECTOR) + len > SECTOR) off = Math.ceil(off / SECTOR) * SECTOR;
    off += len;
  }
  return Math.max(SECTOR, Math.ceil(off / SECTOR) * SECTOR);
}

function sectionCount(size: number): number {
  return Math.max(1, Math.ceil(size / ISO_MAX_SECTION));
}

function recordCount(node: Node): number {
  return node.kind === 'file' ? sectionCount(node.extent.size) : 1;
}

interface Plan {
  readonly root: DirNode;
  readonly dirs: DirNode[];
  readonly jDirs: DirNode[];
  readonly extents: Extent[];
  readonly rootDotSua: number;
  readonly ptSize: number;
  readonly jPtSize: number;
  readonly ptL: number;
  readonly ptM: number;
  readonly jPtL: number;
  readonly jPtM: number;
  readonly dataLba: number;
  readonly totalSectors: number;
  readonly joliet: boolean;
  readonly date: Date;
  readonly date7: Uint8Array;
}

function nodePath(node: Node): string {
  const parts: string[] = [];
  for (let n: Node | undefined = node; n?.parent; n = n.parent) parts.unshift(n.name);
  return parts.join('/');
}

/** A Joliet name cut to {@link JOLIET_MAX} characters, keeping a short extension. */
function cutJolietName(name: string): string {
  const clean = [...name].map((ch) => {
    const c = ch.codePointAt(0)!;
    return c < 0x20 || c > 0xffff || '*/:;?\\'.includes(ch) ? '_' : ch;
  });
  const text = clean.join('');
  const dot = text.lastIndexOf('.');
  const ext = dot > 0 && text.length - dot <= 9 ? text.slice(dot) : '';
  return text.slice(0, JOLIET_MAX - ext.length) + ext;
}

/** A problem the writer worked around; the image is still written. */
export interface IsoWriteWarning {
  /** `ISO_JOLIET_NAME_CUT`, `ISO_DEEP_PATH`. */
  readonly code: string;
  /** The entry concerned. */
  readonly path: string;
  readonly message: string;
}

function plan(root: DirNode, extents: Extent[], joliet: boolean, date: Date, warnings: IsoWriteWarning[]): Plan {
  const date7 = recordDate(date);
  // The root's ER goes first in the root's continuation area.
  root.ce = root.ceArea.alloc([erEntry()]);
  const rootDotSua = sum([spEntry(), ...nodeSusp(root, date7, false)]) + CE_SIZE;

  // Breadth-first, children sorted: names, SUSP, path table order.
  const dirs: DirNode[] = [root];
  const suaOf = new Map<Node, number>();
  for (let i = 0; i < dirs.length; i++) {
    const dir = dirs[i]!;
    const kids = [...dir.children.values()];
    const ids = assignPrimaryNames(kids.map((k) => ({ name: k.name, isDir: k.kind === 'dir' })));
    kids.forEach((k, j) => {
      k.primaryId = ids[j]!;
    });
    if (joliet) {
      const visible = kids.filter((k) => k.kind !== 'symlink');
      const names = visible.map((k) => {
        const n = jolietName(k.name);
        if (n !== undefined) return n;
        // As genisoimage and xorriso do: the Joliet name is cut, the Rock Ridge name stays whole.
        const cut = cutJolietName(k.name);
        warnings.push({ code: 'ISO_JOLIET_NAME_CUT', path: nodePath(k), message: `the Joliet name is cut to ${JOLIET_MAX} characters ("${cut}"); the Rock Ridge name stays whole` });
        return cut;
      });
      const unique = uniqueJolietNames(
        names,
        visible.map((k) => k.name),
      );
      visible.forEach((k, j) => {
        k.jolietId = unique[j]!;
      });
      dir.jSorted = visible.sort((a, b) => compareCodeUnits(a.jolietId!, b.jolietId!));
    }
    dir.sorted = kids.sort((a, b) => comparePrimary(a.primaryId, b.primaryId));
    if (dir.depth === ISO_MAX_DEPTH && kids.some((k) => k.kind === 'dir')) {
      warnings.push({
        code: 'ISO_DEEP_PATH',
        path: nodePath(dir),
        message: `holds directories deeper than the ${ISO_MAX_DEPTH} levels of ECMA-119; they are written as they are, as xorriso does (Rock Ridge readers and the Linux kernel follow them; strict ISO 9660 readers may not)`,
      });
    }
    dir.subdirs = 0;
    for (const k of dir.sorted) if (k.kind === 'dir') dir.subdirs++;
    for (const k of dir.sorted) if (k.kind === 'dir') dirs.push(k);
  }
  // Rock Ridge SUSP layout and directory sizes (needs subdirs counts, hence a second pass).
  for (const dir of dirs) {
    const dotSua = dir === root ? rootDotSua : sum(nodeSusp(dir, date7, false));
    const dotdotSua = sum(nodeSusp(dir.parent ?? root, date7, false));
    const lengths: number[] = [recordLength(1, dotSua), recordLength(1, dotdotSua)];
    for (const k of dir.sorted) {
      const sua = layoutSusp(k, date7, dir.ceArea);
      suaOf.set(k, sua);
      const len = recordLength(primaryIdLength(k), sua);
      for (let s = 0; s < recordCount(k); s++) lengths.push(len);
    }
    dir.size = placeRecords(lengths);
    if (joliet) {
      const jl: number[] = [34, 34];
      for (const k of dir.jSorted) {
        const len = recordLength(k.jolietId!.length * 2, 0);
        for (let s = 0; s < recordCount(k); s++) jl.push(len);
      }
      dir.jSize = placeRecords(jl);
    }
  }
  dirs.forEach((d, i) => {
    d.ptIndex = i + 1;
  });
  const jDirs: DirNode[] = [];
  if (joliet) {
    jDirs.push(root);
    for (let i = 0; i < jDirs.length; i++) {
      for (const k of jDirs[i]!.jSorted) if (k.kind === 'dir') jDirs.push(k);
    }
    jDirs.forEach((d, i) => {
      d.jPtIndex = i + 1;
    });
  }
  const ptEntry = (idLength: number) => 8 + idLength + (idLength % 2);
  const ptSize = dirs.reduce((s, d) => s + ptEntry(d === root ? 1 : d.primaryId.length), 0);
  const jPtSize = jDirs.reduce((s, d) => s + ptEntry(d === root ? 1 : d.jolietId!.length * 2), 0);

  // LBAs.
  let lba = 16 + 1 + (joliet ? 1 : 0) + 1;
  const ptL = lba;
  lba += sectors(ptSize);
  const ptM = lba;
  lba += sectors(ptSize);
  let jPtL = 0;
  let jPtM = 0;
  if (joliet) {
    jPtL = lba;
    lba += sectors(jPtSize);
    jPtM = lba;
    lba += sectors(jPtSize);
  }
  for (const d of dirs) {
    d.lba = lba;
    lba += d.size / SECTOR;
    d.ceArea.lba = lba;
    lba += d.ceArea.blocks;
  }
  for (const d of jDirs) {
    d.jLba = lba;
    lba += d.jSize / SECTOR;
  }
  const dataLba = lba;
  // Extents in the order a sorted depth-first walk meets them.
  const ordered: Extent[] = [];
  const placed = new Set<Extent>();
  const walk = (dir: DirNode) => {
    const byName = [...dir.children.values()].sort((a, b) => compareCodeUnits(a.name, b.name));
    for (const k of byName) {
      if (k.kind === 'file' && !placed.has(k.extent)) {
        placed.add(k.extent);
        ordered.push(k.extent);
      } else if (k.kind === 'dir') walk(k);
    }
  };
  walk(root);
  for (const ext of ordered) {
    if (ext.size === 0) {
      ext.lba = dataLba;
      continue;
    }
    ext.lba = lba;
    lba += sectors(ext.size);
  }
  // Empty files and symlinks point at the first data sector, as xorriso does.
  const totalSectors = lba + 150;
  if (totalSectors > 0xffffffff) {
    throw isoError(
      'ISO_TOO_LARGE',
      `the image would need ${totalSectors} sectors, more than ISO 9660 can address`,
      'Split the content over several images.',
    );
  }
  void extents;
  return {
    root,
    dirs,
    jDirs,
    extents: ordered,
    rootDotSua,
    ptSize,
    jPtSize,
    ptL,
    ptM,
    jPtL,
    jPtM,
    dataLba,
    totalSectors,
    joliet,
    date,
    date7,
  };
}

// ---------------------------------------------------------------------------------------------
// Serialisation

interface RecordFields {
  readonly lba: number;
  readonly size: number;
  readonly flags: number;
  readonly id: Uint8Array;
  readonly sua: readonly Uint8Array[];
  readonly date7: Uint8Array;
}

function putRecord(buf: Uint8Array, off: number, r: RecordFields): number {
  const idPad = r.id.length % 2 === 0 ? 1 : 0;
  const len = recordLength(r.id.length, sum(r.sua));
  buf.fill(0, off, off + len);
  buf[off] = len;
  buf[off + 1] = 0;
  putBoth32(buf, off + 2, r.lba);
  putBoth32(buf, off + 10, r.size);
  buf.set(r.date7, off + 18);
  buf[off + 25] = r.flags;
  putBoth16(buf, off + 28, 1);
  buf[off + 32] = r.id.length;
  buf.set(r.id, off + 33);
  let p = off + 33 + r.id.length + idPad;
  for (const e of r.sua) {
    buf.set(e, p);
    p += e.length;
  }
  return len;
}

function nodeExtent(node: Node, p: Plan, joliet: boolean): { lba: number; size: number } {
  if (node.kind === 'dir') return joliet ? { lba: node.jLba, size: node.jSize } : { lba: node.lba, size: node.size };
  if (node.kind === 'file') return { lba: node.extent.lba, size: node.extent.size };
  return { lba: p.dataLba, size: 0 };
}

function ceFor(chunk: CeChunk): Uint8Array {
  return ceEntry(chunk.area.lba + chunk.block, chunk.offset, chunk.length);
}

function dirBytes(dir: DirNode, p: Plan, joliet: boolean): Uint8Array {
  const buf = new Uint8Array(joliet ? dir.jSize : dir.size);
  let off = 0;
  const put = (r: RecordFields) => {
    const len = recordLength(r.id.length, sum(r.sua));
    if ((off % SECTOR) + len > SECTOR) off = Math.ceil(off / SECTOR) * SECTOR;
    off += putRecord(buf, off, r);
  };
  const self = nodeExtent(dir, p, joliet);
  const parent = nodeExtent(dir.parent ?? dir, p, joliet);
  if (joliet) {
    put({ ...self, flags: 2, id: Uint8Array.of(0), sua: [], date7: nodeDate7(dir, p.date7) });
    put({ ...parent, flags: 2, id: Uint8Array.of(1), sua: [], date7: nodeDate7(dir.parent ?? dir, p.date7) });
  } else {
    const dotSua =
      dir === p.root
        ? [spEntry(), ...nodeSusp(dir, p.date7, false), ceFor(p.root.ce!)]
        : nodeSusp(dir, p.date7, false);
    put({ ...self, flags: 2, id: Uint8Array.of(0), sua: dotSua, date7: nodeDate7(dir, p.date7) });
    put({
      ...parent,
      flags: 2,
      id: Uint8Array.of(1),
      sua: nodeSusp(dir.parent ?? dir, p.date7, false),
      date7: nodeDate7(dir.parent ?? dir, p.date7),
    });
  }
  for (const k of joliet ? dir.jSorted : dir.sorted) {
    const id = joliet ? ucs2(k.jolietId!) : enc.encode(k.primaryId);
    let sua: Uint8Array[] = [];
    if (!joliet) {
      const all = nodeSusp(k, p.date7, true);
      sua = all.slice(0, k.keep);
      if (k.ce) sua.push(ceFor(k.ce));
    }
    const ext = nodeExtent(k, p, joliet);
    if (k.kind === 'dir') {
      put({ ...ext, flags: 2, id, sua, date7: nodeDate7(k, p.date7) });
      continue;
    }
    const n = recordCount(k);
    for (let s = 0; s < n; s++) {
      const size = Math.min(ISO_MAX_SECTION, ext.size - s * ISO_MAX_SECTION);
      put({
        lba: ext.lba + s * (ISO_MAX_SECTION / SECTOR),
        size: n === 1 ? ext.size : size,
        flags: s < n - 1 ? 0x80 : 0,
        id,
        sua,
        date7: nodeDate7(k, p.date7),
      });
    }
  }
  return buf;
}

function pathTable(list: DirNode[], p: Plan, joliet: boolean, bigEndian: boolean): Uint8Array {
  const size = joliet ? p.jPtSize : p.ptSize;
  const buf = new Uint8Array(sectors(size) * SECTOR);
  const dv = new DataView(buf.buffer);
  let off = 0;
  for (const d of list) {
    const id = d === p.root ? Uint8Array.of(0) : joliet ? ucs2(d.jolietId!) : enc.encode(d.primaryId);
    buf[off] = id.length;
    buf[off + 1] = 0;
    dv.setUint32(off + 2, joliet ? d.jLba : d.lba, !bigEndian);
    const parentIndex = d.parent ? (joliet ? d.parent.jPtIndex : d.parent.ptIndex) : 1;
    dv.setUint16(off + 6, parentIndex, !bigEndian);
    buf.set(id, off + 8);
    off += 8 + id.length + (id.length % 2);
  }
  return buf;
}

interface Identifiers {
  readonly volumeId: string;
  readonly publisherId: string;
  readonly applicationId: string;
}

function volumeDescriptor(p: Plan, ids: Identifiers, joliet: boolean): Uint8Array {
  const buf = new Uint8Array(SECTOR);
  buf[0] = joliet ? 2 : 1;
  putAscii(buf, 1, 5, 'CD001');
  buf[6] = 1;
  const text = (off: number, len: number, value: string) =>
    joliet ? putUcs2Padded(buf, off, len, value) : putAscii(buf, off, len, value);
  text(8, 32, '');
  text(40, 32, ids.volumeId);
  putBoth32(buf, 80, p.totalSectors);
  if (joliet) putAscii(buf, 88, 3, '%/E');
  putBoth16(buf, 120, 1);
  putBoth16(buf, 124, 1);
  putBoth16(buf, 128, SECTOR);
  putBoth32(buf, 132, joliet ? p.jPtSize : p.ptSize);
  const dv = new DataView(buf.buffer);
  dv.setUint32(140, joliet ? p.jPtL : p.ptL, true);
  dv.setUint32(148, joliet ? p.jPtM : p.ptM, false);
  const root = nodeExtent(p.root, p, joliet);
  putRecord(buf, 156, { ...root, flags: 2, id: Uint8Array.of(0), sua: [], date7: nodeDate7(p.root, p.date7) });
  text(190, 128, '');
  text(318, 128, ids.publisherId);
  text(446, 128, `METALK8S-SOLUTION-SDK ${SDK_VERSION}`.toUpperCase());
  text(574, 128, ids.applicationId);
  text(702, 37, '');
  text(739, 37, '');
  text(776, 37, '');
  buf.set(volumeDate(p.date), 813);
  buf.set(volumeDate(p.date), 830);
  buf.set(unsetVolumeDate(), 847);
  buf.set(volumeDate(p.date), 864);
  buf[881] = 1;
  return buf;
}

function terminator(): Uint8Array {
  const buf = new Uint8Array(SECTOR);
  buf[0] = 255;
  putAscii(buf, 1, 5, 'CD001');
  buf[6] = 1;
  return buf;
}

function ceBlocks(area: CeArea): Uint8Array {
  const buf = new Uint8Array(area.blocks * SECTOR);
  for (const chunk of area.chunks) {
    let off = chunk.block * SECTOR + chunk.offset;
    for (const e of chunk.entries) {
      buf.set(e, off);
      off += e.length;
    }
    if (chunk.next) buf.set(ceFor(chunk.next), off);
  }
  return buf;
}

// ---------------------------------------------------------------------------------------------
// Output

/**
 * Removes the temporary files of earlier writes of `target` whose writer is gone (a process killed
 * with SIGKILL leaves `.<name>.<pid>.<time>[.<host>].tmp` behind); those of running writers stay.
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
    const m = /^\.(\d+)\.(\d+)(?:\.([0-9a-f]{8}))?\.tmp$/.exec(name.slice(base.length + 1));
    if (!m) continue;
    const p = path.join(dir, name);
    let st: fs.Stats;
    try {
      st = fs.lstatSync(p);
    } catch {
      continue;
    }
    if (!st.isFile() || !isAbandoned(Number(m[1]), m[3], st.mtimeMs)) continue;
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
  const warnings: IsoWriteWarning[] = [];
  const p = plan(root, extents, joliet, date, warnings);
  for (const w of warnings) options.onWarning?.(w);
  const total = p.totalSectors * SECTOR;
  const ids: Identifiers = { volumeId: options.volumeId, publisherId, applicationId };
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
    options.sha256 ?? true,
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
    sha256 = sink.digest();
    if (sink.position !== total) {
      throw new IsoError('ISO_INTERNAL', `wrote ${sink.position} bytes, planned ${total}`, {
        hint: 'Report this as a bug.',
      });
    }
    if (fd !== undefined && tmp !== undefined && typeof output === 'string') {
      fs.closeSync(fd);
      fd = undefined;
      fs.renameSync(tmp, path.resolve(output));
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
