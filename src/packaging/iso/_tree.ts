/**
 * The ISO writer's planning model: the tree of directories, files and symlinks built from the
 * entries (paths, modes and times checked), and the table of extents, where identical content
 * is stored once. Private to the ISO module.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { IsoError, throwIfAborted } from '../../errors.js';
import type { SdkErrorCode } from '../../error-codes.js';
import { CeArea, type CeChunk } from './_layout.js';
import { RR_NAME_MAX } from './_names.js';
import type { Extent } from './_sink.js';
import { ISO_WRITE_MAX_DEPTH, type IsoEntry, type IsoFileEntry, type IsoFileSource, type IsoSourceStats } from './iso-writer.js';

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

export interface DirNode extends BaseNode {
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

export interface FileNode extends BaseNode {
  readonly kind: 'file';
  readonly extent: Extent;
  /** Whether it is a hard link of a source file (same device and inode as other entries). */
  readonly hardLink: boolean;
  /** Rock Ridge link count: the entries of the image that are hard links of the same file. */
  links: number;
}

export interface LinkNode extends BaseNode {
  readonly kind: 'symlink';
  readonly target: string;
}

export type Node = DirNode | FileNode | LinkNode;

const enc = new TextEncoder();

export function isoError(code: SdkErrorCode, message: string, hint: string, cause?: unknown): IsoError {
  return new IsoError(code, message, { hint, cause });
}

function splitPath(p: string): string[] {
  let parts = p.split('/');
  if (parts.includes('')) parts = parts.filter((s) => s !== '');
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
export function countHardLinks(root: DirNode): void {
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
export async function buildTree(
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
    if (Buffer.byteLength(name, 'utf8') > RR_NAME_MAX) {
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
    const mtime = checkTime(e.path, e.mtime);
    const ctime = checkTime(e.path, e.ctime);
    if (e.type === 'directory') {
      if (dir.depth >= ISO_WRITE_MAX_DEPTH) throw depthError(e.path);
      const d = newDir(name, dir, checkMode(e.path, e.mode, 0o755), true);
      d.mtime = mtime;
      d.ctime = ctime;
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
      const mode = checkMode(e.path, e.mode, 0o777);
      dir.children.set(name, { kind: 'symlink', name, parent: dir, mode, mtime, ctime, primaryId: '', jolietId: undefined, keep: 0, ce: undefined, target: e.target });
      counts.symlinks++;
    } else if (e.type === 'file') {
      const extent = resolveExtent(e, byKey, extentsInOrder);
      // Path sources share an extent by device and inode: hard links. Identical content from
      // other sources shares an extent too, but those are separate files (link count 1).
      const hardLink = e.source.kind === 'path' && e.source.contentKey === undefined;
      const mode = checkMode(e.path, e.mode, 0o644);
      // One literal, fields in the order of the other kinds: one object shape for every file.
      dir.children.set(name, { kind: 'file', name, parent: dir, mode, mtime, ctime, primaryId: '', jolietId: undefined, keep: 0, ce: undefined, extent, hardLink, links: 1 });
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
    let st: IsoSourceStats;
    try {
      st = src.stats ?? fs.statSync(src.path);
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
    // The stats given are not kept: on a big tree they would outlive planning by thousands.
    if (src.stats !== undefined) source = { kind: 'path', path: src.path, ...(src.expect ? { expect: src.expect } : {}) };
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
