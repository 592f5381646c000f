/**
 * sha256 of a byte stream while it is written or read, and the buffers that stream moves
 * through. Private to the ISO module (also used by `verify()`'s one-pass reader).
 *
 * On a machine with more than one core the hash runs on a worker thread: the buffers are slots
 * of a ring in a SharedArrayBuffer, so the bytes are never copied, and the two threads hand slots
 * to each other with `Atomics` (a counter each way, `Atomics.wait` only when one side is ahead by
 * the whole ring; a writer that had to wait sleeps until a quarter of the ring is free). A first attempt sent every chunk with `postMessage`: on the project's 2-core
 * machines its messaging cost as much CPU as it saved. With the ring the hash of a 1 GiB image
 * overlaps its copy entirely (bench/iso-bench.mjs). The worker is written as a string and run
 * with `eval`, so the published package needs no separate worker file; it is unreferenced, and
 * it is terminated on failure.
 */
import { createHash, type Hash } from 'node:crypto';
import { availableParallelism } from 'node:os';
import type { Worker } from 'node:worker_threads';

// node:worker_threads is loaded when first used: `solution iso create --no-sha256` starts no
// thread, and loading it costs about 1.5 ms of start-up.
const workerThreads = () => process.getBuiltinModule('node:worker_threads');
import { IsoError } from '../../errors.js';

/** Hashes the buffers handed to it, and hands out the buffers to fill. */
export interface ImageHasher {
  /**
   * The buffer to fill next, `size` bytes long, or with `ahead` the one that many places after it
   * (to read ahead while the next one is hashed; less than the ring's slots). Each stays the
   * caller's until `update()` hands it over, in order.
   */
  buffer(ahead?: number): Buffer;
  /** Hashes the first `length` bytes of `buffer` (the last one `buffer()` gave), in order. */
  update(buffer: Buffer, length: number): void;
  /** The hex digest of everything hashed (`undefined` when not hashing). Call once. */
  digest(): Promise<string | undefined>;
  /** Stops the hash (after a failure; harmless after `digest()`); resolves once the thread is gone. */
  close(): Promise<void>;
}

/** How the buffers are laid out. */
export interface ImageHasherOptions {
  /** Size of each buffer. */
  readonly size: number;
  /** Buffers in the ring of the threaded hasher. @default 32 */
  readonly slots?: number | undefined;
  /** Hash on a worker thread. @default whether the machine has more than one core */
  readonly threaded?: boolean | undefined;
}

/** Hashes on the calling thread, through two buffers taken in turn. */
class InlineHasher implements ImageHasher {
  private readonly bufs: Buffer[];
  private readonly hash: Hash | undefined;
  private updates = 0;
  constructor(size: number, hash: boolean) {
    this.bufs = [Buffer.allocUnsafeSlow(size), Buffer.allocUnsafeSlow(size)];
    this.hash = hash ? createHash('sha256') : undefined;
  }
  buffer(ahead = 0): Buffer {
    if (ahead >= this.bufs.length) throw new IsoError('ISO_INTERNAL', `a buffer ${ahead} places ahead was asked of a ring of ${this.bufs.length}`, { hint: 'Report this as a bug.' });
    return this.bufs[(this.updates + ahead) % this.bufs.length]!;
  }
  update(buffer: Buffer, length: number): void {
    this.hash?.update(buffer.subarray(0, length));
    this.updates++;
  }
  async digest(): Promise<string | undefined> {
    return this.hash?.digest('hex');
  }
  async close(): Promise<void> {}
}

// Control words of the ring (Int32Array indexes).
const PRODUCED = 0;
const CONSUMED = 1;
const CLOSED = 2;
/** Bumped after every change of PRODUCED or CLOSED: what the worker waits on. */
const SIGNAL = 3;
/**
 * While the writer waits for room: the CONSUMED count it waits for (0 otherwise). The worker
 * wakes it only then, so that a writer ahead of the hash sleeps once per quarter of the ring
 * rather than once per buffer (a wake-up per buffer cost the hashing thread about 40 ms per GiB).
 */
const WANTED = 4;
const LENGTHS = 5;

/** Longest wait for the worker before the write is failed (it only hashes: it does not stall). */
const STALL_MS = 60_000;

const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const { data, control, size, slots } = workerData;
const ctl = new Int32Array(control);
const views = [];
for (let i = 0; i < slots; i++) views.push(Buffer.from(data, i * size, size));
const hash = createHash('sha256');
let consumed = 0;
for (;;) {
  const signal = Atomics.load(ctl, ${SIGNAL});
  const produced = Atomics.load(ctl, ${PRODUCED});
  if (produced === consumed) {
    if (Atomics.load(ctl, ${CLOSED}) === 1) break;
    Atomics.wait(ctl, ${SIGNAL}, signal);
    continue;
  }
  const i = consumed % slots;
  hash.update(views[i].subarray(0, ctl[${LENGTHS} + i]));
  consumed++;
  Atomics.store(ctl, ${CONSUMED}, consumed);
  const wanted = Atomics.load(ctl, ${WANTED});
  if (wanted !== 0 && consumed >= wanted) Atomics.notify(ctl, ${CONSUMED});
}
parentPort.postMessage(hash.digest('hex'));
`;

/** Hashes on a worker thread, the buffers being the slots of a shared ring. */
class ThreadedHasher implements ImageHasher {
  private readonly ctl: Int32Array;
  private readonly views: Buffer[] = [];
  private readonly worker: Worker;
  private readonly result: Promise<string>;
  private produced = 0;

  constructor(
    size: number,
    private readonly slots: number,
  ) {
    const data = new SharedArrayBuffer(size * slots);
    const control = new SharedArrayBuffer((LENGTHS + slots) * 4);
    this.ctl = new Int32Array(control);
    for (let i = 0; i < slots; i++) this.views.push(Buffer.from(data, i * size, size));
    this.worker = new (workerThreads().Worker)(WORKER, { eval: true, workerData: { data, control, size, slots } });
    this.worker.unref();
    this.result = new Promise<string>((resolve, reject) => {
      this.worker.once('message', (digest: string) => resolve(digest));
      this.worker.once('error', reject);
      this.worker.once('exit', (code) => reject(new Error(`the hashing thread stopped (exit code ${code})`)));
    });
    // A failure is reported by digest(); until then the rejection is not unhandled.
    this.result.catch(() => {});
  }

  buffer(ahead = 0): Buffer {
    if (ahead >= this.slots) throw new IsoError('ISO_INTERNAL', `a buffer ${ahead} places ahead was asked of a ring of ${this.slots}`, { hint: 'Report this as a bug.' });
    const slot = this.produced + ahead;
    if (slot - Atomics.load(this.ctl, CONSUMED) < this.slots) return this.views[slot % this.slots]!;
    // Full: wait until a quarter of the ring is free (or all of it that is in use, when less).
    const wanted = Math.min(slot - this.slots + 1 + Math.floor(this.slots / 4), this.produced);
    Atomics.store(this.ctl, WANTED, wanted);
    try {
      for (;;) {
        const consumed = Atomics.load(this.ctl, CONSUMED);
        if (consumed >= wanted) return this.views[slot % this.slots]!;
        if (Atomics.wait(this.ctl, CONSUMED, consumed, STALL_MS) === 'timed-out') {
          throw new IsoError('ISO_INTERNAL', 'the sha256 thread stopped answering', { hint: 'Report this as a bug; pass --no-sha256 to write without the digest.' });
        }
      }
    } finally {
      Atomics.store(this.ctl, WANTED, 0);
    }
  }

  update(buffer: Buffer, length: number): void {
    const i = this.produced % this.slots;
    if (buffer.buffer !== this.views[i]!.buffer || buffer.byteOffset !== this.views[i]!.byteOffset) {
      throw new IsoError('ISO_INTERNAL', 'a buffer was handed to the sha256 thread out of turn', { hint: 'Report this as a bug.' });
    }
    this.ctl[LENGTHS + i] = length;
    this.produced++;
    Atomics.store(this.ctl, PRODUCED, this.produced);
    Atomics.add(this.ctl, SIGNAL, 1);
    Atomics.notify(this.ctl, SIGNAL);
  }

  async digest(): Promise<string> {
    Atomics.store(this.ctl, CLOSED, 1);
    Atomics.add(this.ctl, SIGNAL, 1);
    Atomics.notify(this.ctl, SIGNAL);
    try {
      return await this.result;
    } finally {
      void this.worker.terminate();
    }
  }

  async close(): Promise<void> {
    await this.worker.terminate();
  }
}

/**
 * A sha256 hasher with its buffers: on a worker thread when the machine has more than one core,
 * else inline; `enabled: false` hands out one buffer and hashes nothing.
 */
export function createImageHasher(enabled: boolean, options: ImageHasherOptions): ImageHasher {
  const threaded = options.threaded ?? availableParallelism() > 1;
  if (enabled && threaded) return new ThreadedHasher(options.size, options.slots ?? 32);
  return new InlineHasher(options.size, enabled);
}
