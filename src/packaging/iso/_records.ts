/**
 * The ISO writer's records, serialised from the layout: directory records (primary with their
 * Rock Ridge entries, and Joliet), continuation blocks, path tables (little and big endian) and
 * volume descriptors. Private to the ISO module.
 */
import { putAscii, putBoth16, putBoth32, putUcs2Padded, SECTOR, sectors, ucs2, unsetVolumeDate, volumeDate } from './_encoding.js';
import { type CeArea, type CeChunk, nodeDate7, nodeSusp, type Plan, recordCount, recordLength, sum } from './_layout.js';
import { ceEntry, spEntry } from './_rock-ridge.js';
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

export function dirBytes(dir: DirNode, p: Plan, joliet: boolean): Uint8Array {
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
