/**
 * Reading SUSP (System Use Sharing Protocol) and Rock Ridge entries back: whether an image
 * carries Rock Ridge at all (SP and RR entries in the root's `.` record), and the name, mode,
 * time, symlink target and relocation of one directory record, continuation areas followed
 * within bounds. Private to the ISO module.
 */
import { type ByteSource, le32, malformed, truncated } from './_byte-source.js';
import { parseRecordDate, SECTOR } from './_encoding.js';

const latin1 = new TextDecoder('latin1');
const utf8 = new TextDecoder('utf-8');

/** What the Rock Ridge entries of one record say. */
export interface RockRidge {
  name?: string;
  mode?: number;
  mtime?: Date;
  target?: string;
  childLink?: number;
  relocated?: boolean;
}

/** Node file-type bits in a Rock Ridge PX mode. */
export const S_IFMT = 0o170000;

function decodeTf(body: Uint8Array): Date | undefined {
  if (body.length < 1) return undefined;
  const flags = body[0]!;
  const long = (flags & 0x80) !== 0;
  const width = long ? 17 : 7;
  let off = 1;
  for (let bit = 0; bit < 7; bit++) {
    if ((flags & (1 << bit)) === 0) continue;
    if (off + width > body.length) return undefined;
    if (bit === 1) {
      if (!long) return parseRecordDate(body, off);
      const text = latin1.decode(body.subarray(off, off + 14));
      if (!/^\d{14}$/.test(text)) return undefined;
      const ms = Date.UTC(
        Number(text.slice(0, 4)),
        Number(text.slice(4, 6)) - 1,
        Number(text.slice(6, 8)),
        Number(text.slice(8, 10)),
        Number(text.slice(10, 12)),
        Number(text.slice(12, 14)),
      );
      return Number.isNaN(ms) ? undefined : new Date(ms);
    }
    off += width;
  }
  return undefined;
}

/**
 * Reads the SUSP entries of one record, following continuation areas (`readBlock` gives the
 * sector of a CE; at most `maxContinuations` of them).
 */
export async function parseSusp(
  sua: Uint8Array,
  skip: number,
  maxContinuations: number,
  readBlock: (lba: number) => Promise<Uint8Array>,
): Promise<RockRidge> {
  const rr: RockRidge = {};
  // Names and link components may be split over entries, even inside a UTF-8 sequence: gather
  // bytes, decode once complete.
  const nameBytes: Uint8Array[] = [];
  let nameLength = 0;
  let nameSpecial: string | undefined;
  let nameDone = false;
  let target = '';
  let targetDone = false;
  let component: Uint8Array[] = [];
  let area = sua.subarray(Math.min(skip, sua.length));
  for (let hop = 0; ; hop++) {
    let next: { lba: number; offset: number; length: number } | undefined;
    let pos = 0;
    while (pos + 4 <= area.length) {
      const sig = String.fromCharCode(area[pos]!, area[pos + 1]!);
      const len = area[pos + 2]!;
      if (len < 4 || pos + len > area.length) break;
      const body = area.subarray(pos + 4, pos + len);
      if (sig === 'ST') break;
      if (sig === 'CE' && body.length >= 24) {
        next = { lba: le32(body, 0), offset: le32(body, 8), length: le32(body, 16) };
      } else if (sig === 'NM' && body.length >= 1 && !nameDone) {
        const flags = body[0]!;
        if (flags & 0x02) nameSpecial = '.';
        else if (flags & 0x04) nameSpecial = '..';
        else {
          nameBytes.push(body.subarray(1));
          nameLength += body.length - 1;
        }
        if ((flags & 0x01) === 0) nameDone = true;
        if (nameLength > 4096) throw malformed('a Rock Ridge name is longer than 4096 bytes');
        rr.name = nameSpecial ?? utf8.decode(Buffer.concat(nameBytes));
      } else if (sig === 'PX' && body.length >= 8) {
        rr.mode = le32(body, 0);
      } else if (sig === 'TF') {
        const t = decodeTf(body);
        if (t) rr.mtime = t;
      } else if (sig === 'SL' && body.length >= 1 && !targetDone) {
        let c = 1;
        while (c + 2 <= body.length) {
          const cflags = body[c]!;
          const clen = body[c + 1]!;
          if (c + 2 + clen > body.length) throw malformed('a Rock Ridge symlink component runs past its entry');
          let text: string | undefined;
          if (cflags & 0x08) {
            text = '/';
            target = '';
          } else if (cflags & 0x02) text = '.';
          else if (cflags & 0x04) text = '..';
          else {
            component.push(body.subarray(c + 2, c + 2 + clen));
            if ((cflags & 0x01) === 0) {
              text = utf8.decode(Buffer.concat(component));
              component = [];
            }
          }
          if (text !== undefined) {
            if (target !== '' && !target.endsWith('/')) target += '/';
            target += text;
          }
          c += 2 + clen;
        }
        if ((body[0]! & 0x01) === 0) targetDone = true;
        if (target.length > 65536) throw malformed('a Rock Ridge symlink target is longer than 64 KiB');
        rr.target = target;
      } else if (sig === 'CL' && body.length >= 8) {
        rr.childLink = le32(body, 0);
      } else if (sig === 'RE') {
        rr.relocated = true;
      }
      pos += len;
    }
    if (next === undefined) break;
    if (hop >= maxContinuations) {
      throw malformed(`a record has more than ${maxContinuations} continuation areas`);
    }
    if (next.offset >= SECTOR || next.length > SECTOR - next.offset || next.length < 4) {
      throw malformed('a Rock Ridge continuation area (CE) has an invalid offset or length');
    }
    const block = await readBlock(next.lba);
    area = block.subarray(next.offset, next.offset + next.length);
  }
  return rr;
}

/** Finds SP in the root's `.` record: Rock Ridge is present when SP and RR entries are there. */
export async function detectRockRidge(source: ByteSource, root: { readonly lba: number; readonly size: number }): Promise<number | undefined> {
  const pos = root.lba * SECTOR;
  if (pos + 34 > source.size) throw truncated('the root directory');
  const block = await source.read(pos, Math.min(SECTOR, root.size));
  const len = block[0] ?? 0;
  if (len < 34 || len > block.length) throw malformed('the root directory has no valid "." record');
  const idLen = block[32]!;
  const sua = block.subarray(33 + idLen + (idLen % 2 === 0 ? 1 : 0), len);
  if (sua.length >= 7 && sua[0] === 0x53 && sua[1] === 0x50 && sua[4] === 0xbe && sua[5] === 0xef) {
    const skip = sua[6]!;
    // SP alone marks SUSP; Rock Ridge also needs RR entries (PX, NM, or an ER in a CE).
    for (let p = sua[2]!; p + 4 <= sua.length; ) {
      const sig = String.fromCharCode(sua[p]!, sua[p + 1]!);
      if (['PX', 'TF', 'NM', 'RR', 'CE', 'ER'].includes(sig)) return skip;
      const l = sua[p + 2]!;
      if (l < 4) break;
      p += l;
    }
  }
  return undefined;
}
