/**
 * The ISO writer's layout: every directory's records sized (Rock Ridge entries split between the
 * record and its continuation area), the path tables sized, and an LBA given to every directory,
 * continuation area and file extent before the first byte is written. Private to the ISO module.
 */
import { recordDate, SECTOR, sectors } from './_encoding.js';
import { assignPrimaryNames, compareCodeUnits, JOLIET_MAX, jolietName, splitPrimary, uniqueJolietNames } from './_names.js';
import { CE_SIZE, erEntry, nmEntries, pxEntry, S_IFDIR, S_IFLNK, S_IFREG, slEntries, spEntry, tfEntry } from './_rock-ridge.js';
import type { Extent } from './_sink.js';
import { type DirNode, isoError, type Node } from './_tree.js';
import { ISO_MAX_DEPTH, ISO_MAX_SECTION, type IsoWriteWarning } from './iso-writer.js';

export interface CeChunk {
  readonly area: CeArea;
  block: number;
  offset: number;
  length: number;
  entries: Uint8Array[];
  next: CeChunk | undefined;
}

const enc = new TextEncoder();

export function recordLength(idLength: number, suaLength: number): number {
  const len = 33 + idLength + (idLength % 2 === 0 ? 1 : 0) + suaLength;
  return len + (len % 2);
}

function primaryIdLength(node: Node): number {
  return node.primaryId.length;
}

/** The 7-byte date of a node's records: its mtime, else the image timestamp. */
export function nodeDate7(node: Node, fallback: Uint8Array): Uint8Array {
  return node.mtime ? recordDate(node.mtime) : fallback;
}

/** The Rock Ridge entries describing `node` (in its parent, or as `.`), in emission order. */
export function nodeSusp(node: Node, date7: Uint8Array, withName: boolean): Uint8Array[] {
  const out: Uint8Array[] = [];
  if (node.kind === 'dir') out.push(pxEntry(S_IFDIR | node.mode, 2 + node.subdirs));
  else if (node.kind === 'file') out.push(pxEntry(S_IFREG | node.mode, node.links));
  else out.push(pxEntry(S_IFLNK | node.mode, 1));
  out.push(tfEntry(nodeDate7(node, date7), node.ctime ? recordDate(node.ctime) : nodeDate7(node, date7)));
  if (withName) out.push(...nmEntries(enc.encode(node.name)));
  if (node.kind === 'symlink') out.push(...slEntries(node.target));
  return out;
}

export function sum(list: readonly Uint8Array[]): number {
  let n = 0;
  for (const b of list) n += b.length;
  return n;
}

/**
 * The continuation blocks of one directory. They follow the directory's extent directly, as
 * xorriso lays them out: libarchive only reads continuation areas found right after a directory.
 */
export class CeArea {
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

export function recordCount(node: Node): number {
  return node.kind === 'file' ? sectionCount(node.extent.size) : 1;
}

export interface Plan {
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

export function plan(root: DirNode, extents: Extent[], joliet: boolean, date: Date, warnings: IsoWriteWarning[]): Plan {
  const date7 = recordDate(date);
  // The root's ER goes first in the root's continuation area.
  root.ce = root.ceArea.alloc([erEntry()]);
  const rootDotSua = sum([spEntry(), ...nodeSusp(root, date7, false)]) + CE_SIZE;

  // Breadth-first, children sorted: names, SUSP, path table order.
  const dirs: DirNode[] = [root];
  for (let i = 0; i < dirs.length; i++) {
    const dir = dirs[i]!;
    const kids = [...dir.children.values()];
    const ids = assignPrimaryNames(kids);
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
    // ECMA-119 9.3 order, each identifier split once rather than at every comparison.
    const keys = new Map(kids.map((k) => [k, splitPrimary(k.primaryId)] as const));
    dir.sorted = kids.sort((a, b) => {
      const [an, ae] = keys.get(a)!;
      const [bn, be] = keys.get(b)!;
      return compareCodeUnits(an, bn) || compareCodeUnits(ae, be);
    });
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
