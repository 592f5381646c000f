/**
 * The output side of the ISO writer: the sink every byte of the image goes through (one
 * cache-sized buffer, written to a file descriptor or a stream, hashed on the way, with progress,
 * abort checks and event-loop turns), and the copy of each file extent from its source.
 * Private to the ISO module.
 */
import * as fs from 'node:fs';
import type { Writable } from 'node:stream';
import { AbortError, IsoError, throwIfAborted } from '../../errors.js';
import { sameFile } from '../_file-fingerprint.js';
import { type HashRing, openHashRing, THREADED_HASH_MIN } from '../_hash-thread.js';
import { SECTOR, sectors } from './_encoding.js';
import type { IsoFileSource, IsoPathSource, IsoWriteProgress } from './iso-writer.js';

const enc = new TextEncoder();

/** A file's bytes as planned in the image: where they start and how many there are. */
export interface Extent {
  readonly source: IsoFileSource;
  readonly size: number;
  readonly label: string;
  lba: number;
}

/**
 * Size of each buffer that file data moves through, and of each read and write system call.
 * Measured on the project's machines (2-core VMs): copying through a 128 KiB buffer, which stays
 * in the CPU cache between the read, the write and the hash, ran 2 to 4 times faster than
 * through 1-4 MiB buffers, and as fast as `dd bs=128K`.
 */
const BUFFER_SIZE = 128 * 1024;
/** Largest read or write system call. */
const IO_SLICE = BUFFER_SIZE;
/** Where the byte past a file's planned end is read (see {@link copyExtent}). */
const PROBE = Buffer.alloc(1);
/** Progress events, abort checks and event-loop turns happen every this many bytes. */
const YIELD_EVERY = 4 * 1024 * 1024;

/** The error of a broken hash ring, for the ISO modules. */
export const isoRingError = (message: string, hint: string): IsoError => new IsoError('ISO_INTERNAL', message, { hint });

/**
 * The hasher of an image of about `bytes` bytes and the buffers its bytes move through (start it
 * early: a thread may boot): a ring of 32 buffers on a thread of its own (the blob store's
 * re-check of the blobs it copies runs at the same time), or two hashed inline.
 */
export function createSinkHasher(hash: boolean, bytes: number): HashRing {
  const inline = !hash || bytes < THREADED_HASH_MIN;
  return openHashRing({ size: BUFFER_SIZE, hash, slots: inline ? 2 : 32, dedicated: true, error: isoRingError, ...(inline ? { threaded: false } : {}) });
}

export class Sink {
  /** The buffer being filled: the hasher's, a new one after each flush. */
  buf: Buffer;
  fill = 0;
  position = 0;
  /** Bytes of `buf` already written to the output file. */
  private written = 0;
  private lastYield = 0;

  constructor(
    private readonly fd: number | undefined,
    private readonly stream: Writable | undefined,
    private readonly total: number,
    private readonly onProgress: ((e: IsoWriteProgress) => void) | undefined,
    private readonly signal: AbortSignal | undefined,
    private readonly hasher: HashRing,
  ) {
    this.buf = hasher.buffer();
  }

  async write(bytes: Uint8Array): Promise<void> {
    let off = 0;
    while (off < bytes.length) {
      if (this.fill === this.buf.length) await this.flush();
      const n = Math.min(bytes.length - off, this.buf.length - this.fill);
      this.buf.set(bytes.subarray(off, off + n), this.fill);
      this.fill += n;
      off += n;
    }
  }

  async zeros(count: number): Promise<void> {
    let left = count;
    while (left > 0) {
      if (this.fill === this.buf.length) await this.flush();
      const n = Math.min(left, this.buf.length - this.fill);
      this.buf.fill(0, this.fill, this.fill + n);
      this.fill += n;
      left -= n;
    }
  }

  /** Room left in the buffer, flushing first when it is full. */
  async room(): Promise<number> {
    if (this.fill === this.buf.length) await this.flush();
    return this.buf.length - this.fill;
  }

  /** Writes what was filled since the last call to the output file, while it is cache-hot. */
  drain(): void {
    if (this.fd === undefined) return;
    while (this.written < this.fill) {
      this.written += fs.writeSync(
        this.fd,
        this.buf,
        this.written,
        Math.min(IO_SLICE, this.fill - this.written),
        this.position + this.written,
      );
    }
  }

  async flush(): Promise<void> {
    if (this.fill === 0) return;
    if (this.fd !== undefined) this.drain();
    else if (this.stream) {
      const copy = Buffer.from(this.buf.subarray(0, this.fill));
      if (!this.stream.write(copy)) await waitDrain(this.stream, this.signal);
    }
    this.position += this.fill;
    this.hasher.update(this.buf, this.fill);
    this.buf = this.hasher.buffer();
    this.fill = 0;
    this.written = 0;
    if (this.position - this.lastYield >= YIELD_EVERY || this.position === this.total) {
      this.lastYield = this.position;
      this.onProgress?.({ phase: 'writing', bytesWritten: this.position, bytesTotal: this.total });
      // Let timers and abort signals run between big chunks.
      await new Promise<void>((resolve) => setImmediate(resolve));
      throwIfAborted(this.signal, 'ISO write');
    }
  }

  digest(): Promise<string | undefined> {
    return this.hasher.digest();
  }
}

function waitDrain(stream: Writable, signal: AbortSignal | undefined): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const done = (err?: unknown) => {
      stream.off('drain', onDrain);
      stream.off('error', onError);
      stream.off('close', onClose);
      signal?.removeEventListener('abort', onAbort);
      if (err) reject(err);
      else resolve();
    };
    const onDrain = () => done();
    const onError = (err: unknown) =>
      done(new IsoError('ISO_OUTPUT_FAILED', 'the output stream failed', { hint: 'Check the destination of the image.', cause: err }));
    const onClose = () =>
      done(new IsoError('ISO_OUTPUT_FAILED', 'the output stream closed early', { hint: 'Check the destination of the image.' }));
    const onAbort = () => done(new AbortError('ISO write', { cause: signal?.reason }));
    stream.on('drain', onDrain);
    stream.on('error', onError);
    stream.on('close', onClose);
    signal?.addEventListener('abort', onAbort);
  });
}

function mismatch(ext: Extent, actual: string): IsoError {
  return new IsoError('ISO_SOURCE_SIZE_MISMATCH', `content of ${ext.label} has ${actual}, but ${ext.size} bytes were declared`, {
    hint: 'Declare the exact size of stream sources, and do not change files while the image is written.',
  });
}

function changed(ext: Extent, path: string, when: string): IsoError {
  return new IsoError('ISO_SOURCE_CHANGED', `${JSON.stringify(path)} (${ext.label}) ${when} is not the file that was checked before the write`, {
    hint: 'Another program changed, replaced or touched the file during the write: do not change files while the image is written, and write it again.',
  });
}

/** Throws `ISO_SOURCE_CHANGED` when the open file `fd` no longer matches the source's `expect`. */
function checkExpected(ext: Extent, src: IsoPathSource, fd: number, when: string): void {
  if (src.expect && !sameFile(src.expect, fs.fstatSync(fd, { bigint: true }))) throw changed(ext, src.path, when);
}

export async function copyExtent(ext: Extent, sink: Sink): Promise<void> {
  const src = ext.source;
  if (src.kind === 'bytes') {
    await sink.write(src.data as Uint8Array);
  } else if (src.kind === 'path') {
    let fd: number;
    try {
      fd = fs.openSync(src.path, 'r');
    } catch (err) {
      throw new IsoError('ISO_SOURCE_UNREADABLE', `cannot open ${JSON.stringify(src.path)}`, { hint: 'Check the file.', cause: err });
    }
    try {
      checkExpected(ext, src, fd, 'as opened');
      let pos = 0;
      while (pos < ext.size) {
        // No promise per read while the buffer has room (thousands of reads per image).
        const room = sink.fill < sink.buf.length ? sink.buf.length - sink.fill : await sink.room();
        const n = fs.readSync(fd, sink.buf, sink.fill, Math.min(room, IO_SLICE, ext.size - pos), pos);
        if (n === 0) throw mismatch(ext, `only ${pos} bytes`);
        sink.fill += n;
        pos += n;
        if (n >= IO_SLICE / 2) sink.drain();
      }
      // One byte more than planned tells a file that grew; a read is cheaper than an fstat here
      // (no Stats object per file, and trees have thousands of small files).
      if (fs.readSync(fd, PROBE, 0, 1, ext.size) !== 0) throw mismatch(ext, 'more bytes');
      checkExpected(ext, src, fd, 'once copied');
    } finally {
      fs.closeSync(fd);
    }
  } else if (src.kind === 'stream') {
    let count = 0;
    const iterable = src.open() as AsyncIterable<Uint8Array | string>;
    for await (const chunk of iterable) {
      const bytes = typeof chunk === 'string' ? enc.encode(chunk) : chunk;
      count += bytes.length;
      if (count > ext.size) throw mismatch(ext, 'more bytes');
      await sink.write(bytes);
    }
    if (count !== ext.size) throw mismatch(ext, `${count} bytes`);
  }
  const pad = sectors(ext.size) * SECTOR - ext.size;
  if (pad > 0) await sink.zeros(pad);
}
