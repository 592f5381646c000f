/**
 * sha256 of the image while it is written. Large images are hashed on a worker thread so that
 * hashing (about 0.7 s per GiB without SHA extensions) overlaps with the I/O of the main thread;
 * small ones inline. Buffers travel to the worker and back without copies (transfer lists).
 * Private to the ISO module.
 */
import { createHash, type Hash } from 'node:crypto';
import { Worker } from 'node:worker_threads';

/** Source of the worker, evaluated as CommonJS: it hashes buffers and hands them back. */
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const hash = createHash('sha256');
parentPort.on('message', (m) => {
  if (m.end) {
    parentPort.postMessage({ digest: hash.digest('hex') });
    return;
  }
  hash.update(new Uint8Array(m.buffer, 0, m.length));
  parentPort.postMessage({ buffer: m.buffer }, [m.buffer]);
});
`;

/** Hashes the chunks handed to it; owns the buffers the writer fills. */
export interface ImageHasher {
  /** Hashes `length` bytes of `buffer` and returns a buffer to fill next (maybe another one). */
  consume(buffer: Buffer, length: number): Promise<Buffer>;
  /** The hex digest of everything consumed (`undefined` when not hashing). */
  digest(): Promise<string | undefined>;
  /** Stops the worker, if any. */
  dispose(): Promise<void>;
}

class InlineHasher implements ImageHasher {
  private readonly hash: Hash = createHash('sha256');
  async consume(buffer: Buffer, length: number): Promise<Buffer> {
    this.hash.update(buffer.subarray(0, length));
    return buffer;
  }
  async digest(): Promise<string> {
    return this.hash.digest('hex');
  }
  async dispose(): Promise<void> {}
}

class WorkerHasher implements ImageHasher {
  private readonly worker = new Worker(WORKER_SOURCE, {
    eval: true,
    // The worker only hashes: keep its heap tiny.
    resourceLimits: { maxYoungGenerationSizeMb: 1, maxOldGenerationSizeMb: 8, codeRangeSizeMb: 4 },
  });
  private readonly free: Buffer[] = [];
  private allocated = 0;
  private waiting: ((b: Buffer) => void) | undefined;
  private onDigest: ((d: string) => void) | undefined;
  private failure: unknown;

  constructor(
    private readonly size: number,
    private readonly maxBuffers: number,
  ) {
    this.worker.on('message', (m: { buffer?: ArrayBuffer; digest?: string }) => {
      if (m.digest !== undefined) this.onDigest?.(m.digest);
      else if (m.buffer) {
        const b = Buffer.from(m.buffer);
        if (this.waiting) {
          const w = this.waiting;
          this.waiting = undefined;
          w(b);
        } else this.free.push(b);
      }
    });
    this.worker.on('error', (err) => {
      this.failure = err;
    });
  }

  private take(): Promise<Buffer> {
    const b = this.free.pop();
    if (b) return Promise.resolve(b);
    if (this.allocated < this.maxBuffers) {
      this.allocated++;
      return Promise.resolve(Buffer.from(new ArrayBuffer(this.size)));
    }
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve) => {
      this.waiting = resolve;
    });
  }

  async consume(buffer: Buffer, length: number): Promise<Buffer> {
    if (this.failure) throw this.failure;
    this.worker.postMessage({ buffer: buffer.buffer, length }, [buffer.buffer as ArrayBuffer]);
    return this.take();
  }

  digest(): Promise<string> {
    return new Promise((resolve, reject) => {
      if (this.failure) return reject(this.failure);
      this.onDigest = resolve;
      this.worker.postMessage({ end: true });
    });
  }

  async dispose(): Promise<void> {
    await this.worker.terminate();
  }
}

/** A fresh buffer of `size` bytes that owns its whole ArrayBuffer (so it can be transferred). */
export function ownedBuffer(size: number): Buffer {
  return Buffer.from(new ArrayBuffer(size));
}

class NoHasher implements ImageHasher {
  async consume(buffer: Buffer): Promise<Buffer> {
    return buffer;
  }
  async digest(): Promise<undefined> {
    return undefined;
  }
  async dispose(): Promise<void> {}
}

/** Picks inline hashing for small images, a worker for large ones; `imageSize < 0`: no hashing. */
export function createImageHasher(imageSize: number, bufferSize: number): ImageHasher {
  if (imageSize < 0) return new NoHasher();
  return imageSize >= 64 * 1024 * 1024 ? new WorkerHasher(bufferSize, 4) : new InlineHasher();
}
