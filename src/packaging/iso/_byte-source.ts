/**
 * Where the ISO reader takes its bytes from: a buffer, or a file descriptor read at positions
 * (never the whole image in memory); the bounds-checked numbers read from those bytes, and the
 * errors of a damaged or truncated image. Private to the ISO module.
 */
import * as fs from 'node:fs';
import { IsoError } from '../../errors.js';

/** Random access to the bytes of an image. */
export interface ByteSource {
  readonly size: number;
  /** Up to `length` bytes from `position` (fewer at the end of the image). */
  read(position: number, length: number): Promise<Uint8Array>;
  close(): Promise<void>;
}

export class BufferSource implements ByteSource {
  constructor(private readonly data: Uint8Array) {}
  get size(): number {
    return this.data.length;
  }
  async read(position: number, length: number): Promise<Uint8Array> {
    return this.data.subarray(position, position + length);
  }
  async close(): Promise<void> {}
}

export class FdSource implements ByteSource {
  constructor(
    private readonly fd: number,
    readonly size: number,
    private readonly owned: boolean,
    private readonly label: string,
  ) {}
  read(position: number, length: number): Promise<Uint8Array> {
    const want = Math.max(0, Math.min(length, this.size - position));
    const buf = Buffer.allocUnsafe(want);
    return new Promise((resolve, reject) => {
      let done = 0;
      const step = () => {
        if (done >= want) return resolve(buf);
        fs.read(this.fd, buf, done, want - done, position + done, (err, n) => {
          if (err) {
            reject(
              new IsoError('ISO_READ_FAILED', `cannot read ${this.label}`, {
                hint: 'Check that the image is readable.',
                cause: err,
              }),
            );
            return;
          }
          if (n === 0) return resolve(buf.subarray(0, done));
          done += n;
          step();
        });
      };
      step();
    });
  }
  async close(): Promise<void> {
    if (this.owned) fs.closeSync(this.fd);
  }
}

/** A structure of the image is wrong. */
export function malformed(message: string, hint = 'The image is damaged or not a valid ISO 9660 image.'): IsoError {
  return new IsoError('ISO_MALFORMED', message, { hint });
}

/** A structure lies beyond the end of the image. */
export function truncated(what: string): IsoError {
  return new IsoError('ISO_TRUNCATED', `${what} lies beyond the end of the image`, {
    hint: 'The image is truncated or damaged: download or copy it again and compare its checksum.',
  });
}

/** A little-endian 32-bit number, checked against the end of its structure. */
export function le32(b: Uint8Array, off: number): number {
  if (off + 4 > b.length) throw malformed('a number runs past the end of its structure');
  return (b[off]! | (b[off + 1]! << 8) | (b[off + 2]! << 16)) + b[off + 3]! * 0x1000000;
}

/** A little-endian 16-bit number, checked against the end of its structure. */
export function le16(b: Uint8Array, off: number): number {
  if (off + 2 > b.length) throw malformed('a number runs past the end of its structure');
  return b[off]! | (b[off + 1]! << 8);
}
