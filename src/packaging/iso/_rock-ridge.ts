/**
 * System Use Sharing Protocol (SUSP 1.12) and Rock Ridge (RRIP 1.10) entries: building them for
 * the writer, and the constants the reader shares. Private to the ISO module.
 */
import { putBoth32 } from './_encoding.js';

/** Extension identifier written in the ER entry (RRIP 1.10, as mkisofs and xorriso write it). */
export const RRIP_ID = 'RRIP_1991A';
const RRIP_DESCRIPTOR = 'THE ROCK RIDGE INTERCHANGE PROTOCOL PROVIDES SUPPORT FOR POSIX FILE SYSTEM SEMANTICS';
const RRIP_SOURCE =
  'PLEASE CONTACT DISC PUBLISHER FOR SPECIFICATION SOURCE.  SEE PUBLISHER IDENTIFIER IN PRIMARY VOLUME DESCRIPTOR FOR CONTACT INFORMATION.';

/** Size of a CE (continuation area) entry. */
export const CE_SIZE = 28;

/** POSIX file type bits used in PX. */
export const S_IFDIR = 0o040000;
/** Regular file type bits. */
export const S_IFREG = 0o100000;
/** Symbolic link type bits. */
export const S_IFLNK = 0o120000;

function entry(sig: string, body: Uint8Array | readonly number[]): Uint8Array {
  const out = new Uint8Array(4 + body.length);
  out[0] = sig.charCodeAt(0);
  out[1] = sig.charCodeAt(1);
  out[2] = out.length;
  out[3] = 1;
  out.set(body, 4);
  return out;
}

/** SP: marks the root `.` record as using SUSP, with no bytes skipped. */
export function spEntry(): Uint8Array {
  return entry('SP', [0xbe, 0xef, 0]);
}

/** ER: declares the Rock Ridge extension (goes into the root's continuation area). */
export function erEntry(): Uint8Array {
  const enc = new TextEncoder();
  const id = enc.encode(RRIP_ID);
  const des = enc.encode(RRIP_DESCRIPTOR);
  const src = enc.encode(RRIP_SOURCE);
  const body = new Uint8Array(4 + id.length + des.length + src.length);
  body[0] = id.length;
  body[1] = des.length;
  body[2] = src.length;
  body[3] = 1;
  body.set(id, 4);
  body.set(des, 4 + id.length);
  body.set(src, 4 + id.length + des.length);
  return entry('ER', body);
}

/** Size of a PX entry. */
export const PX_SIZE = 36;
/** Size of a TF entry with modification, access and attribute-change times. */
export const TF_SIZE = 26;
/** Size of an NM entry without its name bytes. */
export const NM_HEAD = 5;
/** Most name bytes one NM entry holds. */
export const NM_MAX = 250;

/** Writes a PX entry (POSIX mode with type bits, link count, uid 0, gid 0) at `off` of a zeroed buffer; returns the offset after it. */
export function putPx(buf: Uint8Array, off: number, mode: number, nlink: number): number {
  buf[off] = 0x50; // P
  buf[off + 1] = 0x58; // X
  buf[off + 2] = PX_SIZE;
  buf[off + 3] = 1;
  putBoth32(buf, off + 4, mode);
  putBoth32(buf, off + 12, nlink);
  return off + PX_SIZE;
}

/** Writes a TF entry (modification, access = modification, attribute-change times) at `off`; returns the offset after it. */
export function putTf(buf: Uint8Array, off: number, modified7: Uint8Array, changed7: Uint8Array): number {
  buf[off] = 0x54; // T
  buf[off + 1] = 0x46; // F
  buf[off + 2] = TF_SIZE;
  buf[off + 3] = 1;
  buf[off + 4] = 0x0e;
  buf.set(modified7, off + 5);
  buf.set(modified7, off + 12);
  buf.set(changed7, off + 19);
  return off + TF_SIZE;
}

/** Writes one NM entry with `name` (at most {@link NM_MAX} bytes) at `off`; returns the offset after it. */
export function putNm(buf: Uint8Array, off: number, name: Uint8Array, more: boolean): number {
  buf[off] = 0x4e; // N
  buf[off + 1] = 0x4d; // M
  buf[off + 2] = NM_HEAD + name.length;
  buf[off + 3] = 1;
  buf[off + 4] = more ? 1 : 0;
  buf.set(name, off + NM_HEAD);
  return off + NM_HEAD + name.length;
}

/** PX: POSIX mode (with type bits), link count, uid 0, gid 0. */
export function pxEntry(mode: number, nlink: number): Uint8Array {
  const out = new Uint8Array(PX_SIZE);
  putPx(out, 0, mode, nlink);
  return out;
}

/** TF: modification, access (= modification) and attribute-change times, in 7-byte form. */
export function tfEntry(modified7: Uint8Array, changed7: Uint8Array): Uint8Array {
  const out = new Uint8Array(TF_SIZE);
  putTf(out, 0, modified7, changed7);
  return out;
}

/** NM: the real name, split into several entries (CONTINUE flag) when longer than 250 bytes. */
export function nmEntries(name: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let pos = 0; pos < name.length || out.length === 0; pos += NM_MAX) {
    const part = name.subarray(pos, pos + NM_MAX);
    const entry = new Uint8Array(NM_HEAD + part.length);
    putNm(entry, 0, part, pos + NM_MAX < name.length);
    out.push(entry);
  }
  return out;
}

/** SL: a symbolic link target as component records, over as many SL entries as needed. */
export function slEntries(target: string): Uint8Array[] {
  const enc = new TextEncoder();
  const components: Uint8Array[] = [];
  const parts = target.split('/');
  if (target.startsWith('/')) components.push(Uint8Array.of(0x08, 0));
  parts.forEach((part, i) => {
    if (part === '' && (i === 0 || i === parts.length - 1)) return;
    if (part === '.') components.push(Uint8Array.of(0x02, 0));
    else if (part === '..') components.push(Uint8Array.of(0x04, 0));
    else {
      const bytes = enc.encode(part);
      for (let pos = 0; pos < bytes.length || pos === 0; pos += 248) {
        const chunk = bytes.subarray(pos, pos + 248);
        const more = pos + 248 < bytes.length;
        const rec = new Uint8Array(2 + chunk.length);
        rec[0] = more ? 0x01 : 0;
        rec[1] = chunk.length;
        rec.set(chunk, 2);
        components.push(rec);
        if (!more) break;
      }
    }
  });
  const groups: Uint8Array[][] = [[]];
  let used = 0;
  for (const c of components) {
    if (used + c.length > 250) {
      groups.push([]);
      used = 0;
    }
    groups[groups.length - 1]!.push(c);
    used += c.length;
  }
  return groups.map((g, i) => {
    const size = g.reduce((s, c) => s + c.length, 0);
    const body = new Uint8Array(1 + size);
    body[0] = i < groups.length - 1 ? 1 : 0;
    let off = 1;
    for (const c of g) {
      body.set(c, off);
      off += c.length;
    }
    return entry('SL', body);
  });
}

/** CE: points at `length` bytes of continuation at `offset` in block `lba`. */
export function ceEntry(lba: number, offset: number, length: number): Uint8Array {
  const body = new Uint8Array(24);
  putBoth32(body, 0, lba);
  putBoth32(body, 8, offset);
  putBoth32(body, 16, length);
  return entry('CE', body);
}
