/**
 * The ISO writer's records, serialised from the layout: directory records (primary with their
 * Rock Ridge entries, and Joliet), continuation blocks, path tables (little and big endian) and
 * volume descriptors. Private to the ISO module.
 */
import { putAscii, putBoth16, putBoth32, putUcs2Padded, recordDate, SECTOR, sectors, ucs2, unsetVolumeDate, volumeDate } from './_encoding.js';
import { type CeArea, type CeChunk, nodeDate7, nodeSusp, type Plan, recordCount, recordLength, sum } from './_layout.js';
import { ceEntry, NM_HEAD, NM_MAX, PX_SIZE, putNm, putPx, putTf, S_IFDIR, S_IFREG, spEntry, TF_SIZE } from './_rock-ridge.js';
import type { DirNode, Node } from './_tree.js';
import { SDK_VERSION } from '../../version.js';
import { ISO_MAX_SECTION } from './iso-writer.js';

const enc = new TextEncoder();

interface RecordFields {
  readonly lba: number;
  readonly size: number;
  readonly flags: number;
  readonly id: Uint8Array;
  readonly sua: readonly Uint8Array[];
  readonly date7: Uint8Array;
}

/**
 * Writes the fixed part of a directory record of `len` bytes at `off` of a zeroed buffer;
 * returns the offset of its file identifier (`idLength` bytes, then the padding byte and the SUA).
 */
function putRecordHead(buf: Uint8Array, off: number, len: number, lba: number, size: number, date7: Uint8Array, flags: number, idLength: number): number {
  buf[off] = len;
  putBoth32(buf, off + 2, lba);
  putBoth32(buf, off + 10, size);
  buf.set(date7, off + 18);
  buf[off + 25] = flags;
  putBoth16(buf, off + 28, 1);
  buf[off + 32] = idLength;
  return off + 33;
}

function putRecord(buf: Uint8Array, off: number, r: RecordFields): number {
  const idPad = r.id.length % 2 === 0 ? 1 : 0;
  const len = recordLength(r.id.length, sum(r.sua));
  buf.fill(0, off, off + len);
  putRecordHead(buf, off, len, r.lba, r.size, r.date7, r.flags, r.id.length);
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

/** First sector of section `s` of a file whose extent starts at `lba` (see {@link ISO_MAX_SECTION}). */
function sectionLba(lba: number, s: number): number {
  return lba + s * (ISO_MAX_SECTION / SECTOR);
}

/** Bytes of section `s` of a file of `size` bytes written as `count` sections. */
function sectionSize(size: number, count: number, s: number): number {
  return count === 1 ? size : Math.min(ISO_MAX_SECTION, size - s * ISO_MAX_SECTION);
}

/** Record flags of section `s` of `count`: every section but the last has the multi-extent bit. */
function sectionFlags(flags: number, count: number, s: number): number {
  return s < count - 1 ? flags | 0x80 : flags;
}

/** Writes an ASCII (primary) or UCS-2 (Joliet) identifier at `off`; returns its length in bytes. */
function putId(buf: Uint8Array, off: number, id: string, joliet: boolean): number {
  if (!joliet) {
    for (let i = 0; i < id.length; i++) buf[off + i] = id.charCodeAt(i);
    return id.length;
  }
  for (let i = 0; i < id.length; i++) {
    const c = id.charCodeAt(i);
    buf[off + 2 * i] = c >> 8;
    buf[off + 2 * i + 1] = c & 0xff;
  }
  return id.length * 2;
}

/**
 * The records of one directory. The children's records are written straight into the
 * directory's buffer (a directory of thousands of files would otherwise allocate a dozen small
 * arrays per record); records whose Rock Ridge entries do not all fit in the record, symlinks
 * and names longer than one NM entry go through {@link nodeSusp}.
 */
export function dirBytes(dir: DirNode, p: Plan, joliet: boolean): Uint8Array {
  const buf = new Uint8Array(joliet ? dir.jSize : dir.size);
  let off = 0;
  /** Reserves `len` bytes for a record: a record never crosses a sector boundary. */
  const reserve = (len: number): number => {
    if ((off % SECTOR) + len > SECTOR) off = Math.ceil(off / SECTOR) * SECTOR;
    const at = off;
    off += len;
    return at;
  };
  const put = (r: RecordFields) => {
    putRecord(buf, reserve(recordLength(r.id.length, sum(r.sua))), r);
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
    const idString = joliet ? k.jolietId! : k.primaryId;
    const idLength = joliet ? idString.length * 2 : idString.length;
    const date7 = nodeDate7(k, p.date7);
    const { lba, size } = nodeExtent(k, p, joliet);
    const flags = k.kind === 'dir' ? 2 : 0;
    const n = recordCount(k);
    if (joliet || (k.ce === undefined && k.kind !== 'symlink' && Buffer.byteLength(k.name, 'utf8') <= NM_MAX)) {
      // Every Rock Ridge entry in the record: PX, TF, one NM (none in the Joliet tree).
      const name = joliet ? undefined : enc.encode(k.name);
      const len = recordLength(idLength, name === undefined ? 0 : PX_SIZE + TF_SIZE + NM_HEAD + name.length);
      const changed7 = k.ctime ? recordDate(k.ctime) : date7;
      for (let s = 0; s < n; s++) {
        const at = reserve(len);
        const idAt = putRecordHead(buf, at, len, sectionLba(lba, s), sectionSize(size, n, s), date7, sectionFlags(flags, n, s), idLength);
        putId(buf, idAt, idString, joliet);
        if (name === undefined) continue;
        let q = idAt + idLength + (idLength % 2 === 0 ? 1 : 0);
        q = putPx(buf, q, k.kind === 'dir' ? S_IFDIR | k.mode : S_IFREG | k.mode, k.kind === 'dir' ? 2 + k.subdirs : k.kind === 'file' ? k.links : 1);
        q = putTf(buf, q, date7, changed7);
        putNm(buf, q, name, false);
      }
      continue;
    }
    const id = enc.encode(idString);
    const sua = nodeSusp(k, p.date7, true).slice(0, k.keep);
    if (k.ce) sua.push(ceFor(k.ce));
    for (let s = 0; s < n; s++) {
      put({
        lba: sectionLba(lba, s),
        size: sectionSize(size, n, s),
        flags: sectionFlags(flags, n, s),
        id,
        sua,
        date7,
      });
    }
  }
  return buf;
}

export function pathTable(list: DirNode[], p: Plan, joliet: boolean, bigEndian: boolean): Uint8Array {
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

export interface Identifiers {
  readonly volumeId: string;
  readonly publisherId: string;
  readonly applicationId: string;
}

export function volumeDescriptor(p: Plan, ids: Identifiers, joliet: boolean): Uint8Array {
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

export function terminator(): Uint8Array {
  const buf = new Uint8Array(SECTOR);
  buf[0] = 255;
  putAscii(buf, 1, 5, 'CD001');
  buf[6] = 1;
  return buf;
}

export function ceBlocks(area: CeArea): Uint8Array {
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
