/**
 * Byte-level encodings of ECMA-119 (ISO 9660): both-endian numbers, dates, padded strings.
 * Private to the ISO module.
 */

/** Logical sector (and block) size: the only one the SDK writes or reads. */
export const SECTOR = 2048;

/**
 * Writes a 7.3.3 both-endian 32-bit number (4 bytes little endian, then 4 bytes big endian).
 * Byte by byte: a DataView per call would be one allocation per number, and a directory of
 * thousands of records writes tens of thousands of them.
 */
export function putBoth32(buf: Uint8Array, offset: number, value: number): void {
  buf[offset] = value & 0xff;
  buf[offset + 1] = (value >>> 8) & 0xff;
  buf[offset + 2] = (value >>> 16) & 0xff;
  buf[offset + 3] = value >>> 24;
  buf[offset + 4] = value >>> 24;
  buf[offset + 5] = (value >>> 16) & 0xff;
  buf[offset + 6] = (value >>> 8) & 0xff;
  buf[offset + 7] = value & 0xff;
}

/** Writes a 7.2.3 both-endian 16-bit number. */
export function putBoth16(buf: Uint8Array, offset: number, value: number): void {
  buf[offset] = value & 0xff;
  buf[offset + 1] = (value >>> 8) & 0xff;
  buf[offset + 2] = (value >>> 8) & 0xff;
  buf[offset + 3] = value & 0xff;
}

/** Writes an ASCII string, padded with `pad` (spaces by default) to `length` bytes. */
export function putAscii(buf: Uint8Array, offset: number, length: number, text: string, pad = 0x20): void {
  for (let i = 0; i < length; i++) buf[offset + i] = i < text.length ? text.charCodeAt(i) & 0xff : pad;
}

/** Writes a UCS-2 big-endian string (Joliet), padded with UCS-2 spaces to `length` bytes. */
export function putUcs2Padded(buf: Uint8Array, offset: number, length: number, text: string): void {
  for (let i = 0; i + 1 < length; i += 2) {
    const c = i / 2 < text.length ? text.charCodeAt(i / 2) : 0x20;
    buf[offset + i] = c >> 8;
    buf[offset + i + 1] = c & 0xff;
  }
}

/** Encodes a string as UCS-2 big endian (the caller guarantees it has no astral characters). */
export function ucs2(text: string): Uint8Array {
  const out = new Uint8Array(text.length * 2);
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    out[2 * i] = c >> 8;
    out[2 * i + 1] = c & 0xff;
  }
  return out;
}

/** Decodes UCS-2 big endian bytes (an odd trailing byte is ignored). */
export function fromUcs2(bytes: Uint8Array): string {
  let out = '';
  for (let i = 0; i + 1 < bytes.length; i += 2) out += String.fromCharCode((bytes[i]! << 8) | bytes[i + 1]!);
  return out;
}

/** The 7-byte date of directory records and Rock Ridge TF entries (9.1.5), in UTC. */
export function recordDate(date: Date): Uint8Array {
  return Uint8Array.of(
    Math.min(255, Math.max(0, date.getUTCFullYear() - 1900)),
    date.getUTCMonth() + 1,
    date.getUTCDate(),
    date.getUTCHours(),
    date.getUTCMinutes(),
    date.getUTCSeconds(),
    0,
  );
}

/** Decodes a 7-byte record date; returns `undefined` when the bytes are not a valid date. */
export function parseRecordDate(bytes: Uint8Array, offset: number): Date | undefined {
  const year = bytes[offset];
  const month = bytes[offset + 1];
  const day = bytes[offset + 2];
  const hour = bytes[offset + 3];
  const minute = bytes[offset + 4];
  const second = bytes[offset + 5];
  const tz = bytes[offset + 6];
  if (
    year === undefined ||
    month === undefined ||
    day === undefined ||
    hour === undefined ||
    minute === undefined ||
    second === undefined ||
    tz === undefined
  )
    return undefined;
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) return undefined;
  const offsetMinutes = ((tz << 24) >> 24) * 15;
  const ms = Date.UTC(1900 + year, month - 1, day, hour, minute, second) - offsetMinutes * 60_000;
  return new Date(ms);
}

/** The 17-byte volume descriptor date (8.4.26.1): `YYYYMMDDHHMMSScc` in ASCII plus a zone byte. */
export function volumeDate(date: Date): Uint8Array {
  const p = (n: number, w: number) => String(n).padStart(w, '0');
  const text =
    p(date.getUTCFullYear(), 4) +
    p(date.getUTCMonth() + 1, 2) +
    p(date.getUTCDate(), 2) +
    p(date.getUTCHours(), 2) +
    p(date.getUTCMinutes(), 2) +
    p(date.getUTCSeconds(), 2) +
    p(Math.floor(date.getUTCMilliseconds() / 10), 2);
  const out = new Uint8Array(17);
  for (let i = 0; i < 16; i++) out[i] = text.charCodeAt(i);
  out[16] = 0;
  return out;
}

/** An unset volume descriptor date: sixteen ASCII zeros and a zero zone byte. */
export function unsetVolumeDate(): Uint8Array {
  const out = new Uint8Array(17);
  out.fill(0x30, 0, 16);
  return out;
}

/** Number of sectors needed for `bytes` bytes. */
export function sectors(bytes: number): number {
  return Math.ceil(bytes / SECTOR);
}
