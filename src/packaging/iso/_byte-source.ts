/**
 * Where the ISO reader takes its bytes from: a buffer, or a file descriptor read at positions
 * (never the whole image in memory). Private to the ISO module.
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
