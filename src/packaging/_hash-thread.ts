/**
 * SHA-256 of byte streams on a second core, and the buffers those streams move through: the one
 * hashing mechanism of the packaging layer. Used by the ISO writer's sink (`iso/_sink.ts`, the
 * whole image's sha256), by `verify()`'s one-pass reader (`_hash-image.ts`) and by the blob store
 * (`images/blob-store.ts`: the re-check of a stored blob while the ISO writer copies it, and the
 * hash of large downloads running side by side).
 *
 * Each stream is a ring of buffers in a SharedArrayBuffer: the caller fills a buffer, hands it
 * over, and the hashing thread hashes the very bytes the caller goes on using (copying into the
 * ISO), with no copy and no transfer. The two threads hand slots to each other with `Atomics` (a
 * counter each way; a caller ahead of the hash by the whole ring sleeps until a quarter of it is
 * free, so that it is woken once per quarter rather than once per buffer: a wake-up per buffer
 * cost the hashing thread about 40 ms per GiB). The caller waits either synchronously (the ISO
 * writer's loop, `buffer()`) or without blocking the event loop (`nextBuffer()`, for the blob
 * store, whose downloads go on receiving meanwhile).
 *
 * Why this and not `postMessage` per chunk: the blob store hashed through messages (one request
 * and one acknowledgement per 1 MiB chunk), and a first ISO writer did so per 128 KiB buffer; on
 * the project's 2-core machines that messaging cost as much CPU as the second core saved
 * (the blob store's re-check through messages against this ring: the same or better in
 * `bench/pack.mjs`, with less CPU). Here a message goes once per stream (to register its ring,
 * and its digest back).
 *
 * Threads: one worker serves any number of rings, one buffer of each in turn. A ring asked for as
 * `dedicated` (the whole image of an ISO write or a verify) gets a thread of its own, since the
 * blob store's re-check runs at the same time and two hashes of each byte need both cores; the
 * other rings share one thread. A thread is started on first use (about 20 ms and 10 MiB) or taken
 * idle, is referenced only while it has a ring, so it never keeps the process alive, and stops
 * once it has had none for {@link IDLE_STOP_MS} (its memory goes back to the system between the
 * phases of a pack, and the next ring reuses it when it comes sooner); a dedicated ring's thread
 * stops with it (an idle thread at exit made `solution verify` 30 ms slower). With
 * `threaded: false` (small work: a thread costs more than it saves), on a single core, or where no
 * thread can start, the same ring hashes on the calling thread. The worker is written as a string and run
 * with `eval`, so the published package needs no separate worker file.
 *
 * The buffers of a finished ring are kept for the next rings (up to {@link KEEP_BYTES}): the
 * memory of a SharedArrayBuffer is given back only when the garbage collector runs, so fresh
 * buffers per blob grew the resident size by 4 MiB per blob of the ISO.
 */
import { createHash, type Hash } from 'node:crypto';
import { availableParallelism } from 'node:os';
import type { MessagePort, Worker } from 'node:worker_threads';
import { PackagingError, type SdkError } from '../errors.js';

// node:worker_threads is loaded when first used: `solution iso create --no-sha256` starts no
// thread, and loading it costs about 1.5 ms of start-up.
const workerThreads = () => process.getBuiltinModule('node:worker_threads');

/** `Atomics.waitAsync` (in Node since 16; typed in TypeScript's es2024 library, newer than the project's). */
type WaitAsync = (
  array: Int32Array,
  index: number,
  value: number,
  timeout: number,
) => { async: false; value: 'not-equal' | 'timed-out' } | { async: true; value: Promise<'ok' | 'timed-out'> };
const waitAsync = (Atomics as unknown as { waitAsync: WaitAsync }).waitAsync.bind(Atomics);

/** A ring of buffers whose contents are hashed in the order they are handed over. */
export interface HashRing {
  /** Buffers in the ring: a buffer handed over stays unchanged until this many more were. */
  readonly slots: number;
  /**
   * The buffer to fill next, or with `ahead` the one that many places after it (to read ahead
   * while the next one is hashed; less than `slots`). Each stays the caller's until `update()`
   * hands it over, in order. Blocks this thread while the hash is a whole ring behind.
   */
  buffer(ahead?: number): Buffer;
  /** As {@link buffer}, but waits without blocking the event loop: a promise only when it must wait. */
  nextBuffer(ahead?: number): Buffer | Promise<Buffer>;
  /** Hashes the first `length` bytes of `buffer` (the one `buffer()` gave first), after the earlier ones. */
  update(buffer: Buffer, length: number): void;
  /** The hex digest of everything handed over (`undefined` when not hashing). Call once. */
  digest(): Promise<string | undefined>;
  /** Drops the hash (after a failure, or an abandoned stream; harmless after `digest()`). */
  close(): Promise<void>;
}

/** How a ring is laid out and where it is hashed. */
export interface HashRingOptions {
  /** Size of each buffer. */
  readonly size: number;
  /** Buffers in the ring. @default 32 */
  readonly slots?: number | undefined;
  /** Hash the bytes; `false` only hands out the buffers. @default true */
  readonly hash?: boolean | undefined;
  /** Hash on a worker thread. @default whether the machine has more than one core */
  readonly threaded?: boolean | undefined;
  /** A thread of its own, not shared with other rings (a stream hashed while others are). @default false */
  readonly dedicated?: boolean | undefined;
  /** The error of a broken ring (a bug, or a hashing thread gone). @default a `PackagingError` `INTERNAL` */
  readonly error?: ((message: string, hint: string) => SdkError) | undefined;
}

/** Time without rings after which a hashing thread is stopped (bridges the gaps between blobs). */
export const IDLE_STOP_MS = 200;
/** Longest blocking wait for the hashing thread before the stream is failed (it only hashes: it does not stall). */
const STALL_MS = 60_000;
/**
 * Ring memory kept for later rings: what one stream of the blob store uses (the ISO writer
 * copies one blob at a time), which also covers the rings of a pack's parallel downloads. It
 * stays resident for the rest of the process.
 */
const KEEP_BYTES = 4 * 1024 * 1024;

// Control words of a ring (Int32Array indexes).
const PRODUCED = 0;
const CONSUMED = 1;
const CLOSED = 2;
/**
 * While the caller waits for room: the CONSUMED count it waits for (0 otherwise). The thread
 * wakes it only then (see the module comment).
 */
const WANTED = 3;
const LENGTHS = 4;

// Control words of a thread: SIGNAL is bumped after every change the thread must see (a buffer
// handed over, a ring closed, a message); MESSAGES counts the messages posted to its port, so
// that it only looks at the port when there is one.
const SIGNAL = 0;
const MESSAGES = 1;

const WORKER = `
const { workerData, receiveMessageOnPort, parentPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const { hub: hubMemory, port } = workerData;
const hub = new Int32Array(hubMemory);
const rings = [];
let seen = 0;
for (;;) {
  const signal = Atomics.load(hub, ${SIGNAL});
  if (Atomics.load(hub, ${MESSAGES}) !== seen) {
    for (let m; (m = receiveMessageOnPort(port)); ) {
      seen++;
      const r = m.message;
      if (r.drop) {
        const i = rings.findIndex((x) => x.id === r.id);
        if (i >= 0) rings.splice(i, 1);
        continue;
      }
      r.ctl = new Int32Array(r.control);
      r.views = r.data.map((d) => Buffer.from(d));
      r.hash = createHash('sha256');
      r.consumed = 0;
      rings.push(r);
    }
  }
  let busy = false;
  for (let k = rings.length - 1; k >= 0; k--) {
    const r = rings[k];
    if (Atomics.load(r.ctl, ${PRODUCED}) !== r.consumed) {
      busy = true;
      const i = r.consumed % r.slots;
      r.hash.update(r.views[i].subarray(0, r.ctl[${LENGTHS} + i]));
      r.consumed++;
      Atomics.store(r.ctl, ${CONSUMED}, r.consumed);
      const wanted = Atomics.load(r.ctl, ${WANTED});
      if (wanted !== 0 && r.consumed >= wanted) Atomics.notify(r.ctl, ${CONSUMED});
    } else if (Atomics.load(r.ctl, ${CLOSED}) === 1 && Atomics.load(r.ctl, ${PRODUCED}) === r.consumed) {
      // CLOSED is set after the last PRODUCED: read again, nothing was handed over in between.
      busy = true;
      rings.splice(k, 1);
      parentPort.postMessage({ id: r.id, hex: r.hash.digest('hex') });
    }
  }
  if (!busy) Atomics.wait(hub, ${SIGNAL}, signal);
}
`;

/** The memory of a ring: `slots` buffers of `size` bytes, and its control words. */
interface RingMemory {
  readonly size: number;
  readonly slots: number;
  readonly data: readonly SharedArrayBuffer[];
  readonly control: SharedArrayBuffer;
  readonly ctl: Int32Array;
  readonly views: readonly Buffer[];
}

/** Buffers of finished rings, for the next ones (a ring of one shape reuses another's). */
const kept: SharedArrayBuffer[] = [];
let keptBytes = 0;

function takeMemory(size: number, slots: number): RingMemory {
  const data = Array.from({ length: slots }, () => {
    const i = kept.findIndex((b) => b.byteLength === size);
    if (i < 0) return new SharedArrayBuffer(size);
    keptBytes -= size;
    return kept.splice(i, 1)[0]!;
  });
  const control = new SharedArrayBuffer((LENGTHS + slots) * 4);
  return { size, slots, data, control, ctl: new Int32Array(control), views: data.map((b) => Buffer.from(b)) };
}

/** Keeps a ring's buffers for the next rings; only once nothing (caller, thread) can touch them again. */
function keepMemory(m: RingMemory): void {
  for (const b of m.data) {
    if (keptBytes + b.byteLength > KEEP_BYTES) return;
    kept.push(b);
    keptBytes += b.byteLength;
  }
}

const defaultError = (message: string, hint: string): SdkError => new PackagingError('INTERNAL', message, { hint });

/** What the hashing and the inline ring share: the slots, in turn, and the checks of their use. */
abstract class Ring implements HashRing {
  readonly slots: number;
  protected produced = 0;
  protected done = false;
  protected readonly error: (message: string, hint: string) => SdkError;

  constructor(
    protected readonly memory: RingMemory,
    options: HashRingOptions,
  ) {
    this.slots = memory.slots;
    this.error = options.error ?? defaultError;
  }

  protected slot(ahead: number): number {
    if (ahead >= this.slots) throw this.error(`a buffer ${ahead} places ahead was asked of a ring of ${this.slots}`, 'Report this as a bug.');
    return this.produced + ahead;
  }

  abstract buffer(ahead?: number): Buffer;
  abstract nextBuffer(ahead?: number): Buffer | Promise<Buffer>;

  update(buffer: Buffer, length: number): void {
    const view = this.memory.views[this.produced % this.slots]!;
    if (this.done || buffer.buffer !== view.buffer) {
      throw this.error('a buffer was handed to the sha256 ring out of turn', 'Report this as a bug.');
    }
    this.handOver(buffer, length);
    this.produced++;
  }

  protected abstract handOver(buffer: Buffer, length: number): void;
  abstract digest(): Promise<string | undefined>;
  abstract close(): Promise<void>;
}

/** A ring hashed on the calling thread, when its buffers are handed over. */
class InlineRing extends Ring {
  private readonly hash: Hash | undefined;
  constructor(memory: RingMemory, options: HashRingOptions) {
    super(memory, options);
    this.hash = options.hash === false ? undefined : createHash('sha256');
  }
  buffer(ahead = 0): Buffer {
    return this.memory.views[this.slot(ahead) % this.slots]!;
  }
  nextBuffer(ahead = 0): Buffer {
    return this.buffer(ahead);
  }
  protected handOver(buffer: Buffer, length: number): void {
    this.hash?.update(buffer.subarray(0, length));
  }
  async digest(): Promise<string | undefined> {
    this.done = true;
    keepMemory(this.memory);
    return this.hash?.digest('hex');
  }
  async close(): Promise<void> {
    this.done = true;
  }
}

/** A worker thread hashing the rings attached to it. */
class HashThread {
  readonly worker: Worker;
  private readonly hub = new Int32Array(new SharedArrayBuffer(8));
  private readonly port: MessagePort;
  readonly rings = new Map<number, ThreadedRing>();
  dedicated = false;
  private idleTimer: NodeJS.Timeout | undefined;

  constructor() {
    const { Worker, MessageChannel } = workerThreads();
    const { port1, port2 } = new MessageChannel();
    this.port = port1;
    port1.unref();
    this.worker = new Worker(WORKER, { eval: true, name: 'sdk-sha256', workerData: { hub: this.hub.buffer, port: port2 }, transferList: [port2] });
    this.worker.on('message', (m: { id: number; hex: string }) => this.rings.get(m.id)?.finish(m.hex));
    const fail = (err: Error) => {
      forget(this);
      for (const ring of this.rings.values()) ring.fail(err);
      this.rings.clear();
    };
    this.worker.on('error', fail);
    this.worker.on('exit', (code) => fail(new Error(`the hashing thread stopped (exit code ${code})`)));
    this.worker.unref();
  }

  attach(ring: ThreadedRing, memory: RingMemory): void {
    clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    if (this.rings.size === 0) this.worker.ref();
    this.rings.set(ring.id, ring);
    this.post({ id: ring.id, data: memory.data, control: memory.control, slots: memory.slots });
  }

  /** The ring no longer needs the thread; `drop`: it stops hashing it now. */
  detach(ring: ThreadedRing, drop: boolean): void {
    if (!this.rings.delete(ring.id)) return;
    if (drop) this.post({ id: ring.id, drop: true });
    if (ring.dedicated) this.dedicated = false;
    if (this.rings.size > 0) return;
    this.worker.unref();
    // A dedicated ring hashed a whole image: its thread is stopped now (a command ends soon
    // after, and a thread still running then delays its exit).
    if (ring.dedicated) {
      this.stop();
      return;
    }
    this.idleTimer = setTimeout(() => {
      if (this.rings.size === 0) this.stop();
    }, IDLE_STOP_MS);
    this.idleTimer.unref();
  }

  private stop(): void {
    forget(this);
    void this.worker.terminate();
  }

  private post(message: object): void {
    this.port.postMessage(message);
    Atomics.add(this.hub, MESSAGES, 1);
    this.wake();
  }

  wake(): void {
    Atomics.add(this.hub, SIGNAL, 1);
    Atomics.notify(this.hub, SIGNAL);
  }
}

/** Running hashing threads. */
const threads: HashThread[] = [];
let nextId = 1;
let unavailable = false;

function forget(thread: HashThread): void {
  const i = threads.indexOf(thread);
  if (i >= 0) threads.splice(i, 1);
}

/** A thread for a new ring: the shared one (or one of its own when `dedicated`), else an idle one, else a new one. */
function threadFor(dedicated: boolean): HashThread | undefined {
  const idle = threads.find((t) => t.rings.size === 0);
  const shared = dedicated ? undefined : threads.find((t) => !t.dedicated && t.rings.size > 0);
  let thread = shared ?? idle;
  if (!thread && !unavailable) {
    try {
      thread = new HashThread();
      threads.push(thread);
    } catch {
      unavailable = true;
    }
  }
  if (thread && dedicated) thread.dedicated = true;
  return thread;
}

/** A ring hashed on a worker thread. */
class ThreadedRing extends Ring {
  readonly id = nextId++;
  private readonly ctl: Int32Array;
  private failure: Error | undefined;
  private settle: { resolve: (hex: string) => void; reject: (err: Error) => void } | undefined;

  constructor(
    memory: RingMemory,
    options: HashRingOptions,
    private readonly thread: HashThread,
    readonly dedicated: boolean,
  ) {
    super(memory, options);
    this.ctl = memory.ctl;
    thread.attach(this, memory);
  }

  /** Whether the slot `slot` is free (the thread has hashed what it held). */
  private free(slot: number): boolean {
    return slot - Atomics.load(this.ctl, CONSUMED) < this.slots;
  }

  /** The CONSUMED count to wait for: a quarter of the ring free (or all of it that is in use, when less). */
  private wanted(slot: number): number {
    return Math.min(slot - this.slots + 1 + Math.floor(this.slots / 4), this.produced);
  }

  private stalled(): SdkError {
    return this.error('the sha256 thread stopped answering', 'Report this as a bug; pass --no-sha256 to write an ISO without the digest.');
  }

  private broken(): SdkError {
    return this.error(`the sha256 thread failed: ${this.failure?.message}`, 'Try again; report this as a bug if it persists.');
  }

  buffer(ahead = 0): Buffer {
    const slot = this.slot(ahead);
    if (this.free(slot)) return this.memory.views[slot % this.slots]!;
    const wanted = this.wanted(slot);
    Atomics.store(this.ctl, WANTED, wanted);
    try {
      for (;;) {
        const consumed = Atomics.load(this.ctl, CONSUMED);
        if (consumed >= wanted) return this.memory.views[slot % this.slots]!;
        if (Atomics.wait(this.ctl, CONSUMED, consumed, STALL_MS) === 'timed-out') throw this.stalled();
      }
    } finally {
      this.unwant(wanted);
    }
  }

  /**
   * Clears WANTED once a wait for `wanted` is over, unless a later wait has set it since: a
   * wait may outlive the need for it (a caller that asked, then found the buffer free), and
   * clearing a later wait's WANTED left that one never woken (a pull hung in 1 or 2 of 30
   * runs with two ingest buffers).
   */
  private unwant(wanted: number): void {
    Atomics.compareExchange(this.ctl, WANTED, wanted, 0);
  }

  nextBuffer(ahead = 0): Buffer | Promise<Buffer> {
    const slot = this.slot(ahead);
    if (this.failure) throw this.broken();
    if (this.free(slot)) return this.memory.views[slot % this.slots]!;
    return this.waitFor(slot);
  }

  private async waitFor(slot: number): Promise<Buffer> {
    const wanted = this.wanted(slot);
    Atomics.store(this.ctl, WANTED, wanted);
    try {
      for (;;) {
        if (this.failure) throw this.broken();
        const consumed = Atomics.load(this.ctl, CONSUMED);
        if (consumed >= wanted) return this.memory.views[slot % this.slots]!;
        // No timeout: Node runs a waitAsync timeout as a delayed task of its own, and with one a
        // wait resolved 'timed-out' long before it (2 pack-sized runs of 5, nodejs/node#44409).
        // A thread that dies wakes its waiters (fail()); a live one only hashes.
        const wait = waitAsync(this.ctl, CONSUMED, consumed, Number.POSITIVE_INFINITY);
        if (wait.async) await wait.value;
      }
    } finally {
      this.unwant(wanted);
    }
  }

  protected handOver(_buffer: Buffer, length: number): void {
    if (this.failure) throw this.broken();
    const i = this.produced % this.slots;
    this.ctl[LENGTHS + i] = length;
    Atomics.store(this.ctl, PRODUCED, this.produced + 1);
    this.thread.wake();
  }

  digest(): Promise<string> {
    this.done = true;
    return new Promise<string>((resolve, reject) => {
      if (this.failure) return reject(this.broken());
      this.settle = { resolve, reject };
      Atomics.store(this.ctl, CLOSED, 1);
      this.thread.wake();
    });
  }

  /** The thread's digest: it no longer touches the ring, whose memory can serve the next one. */
  finish(hex: string): void {
    this.thread.detach(this, false);
    keepMemory(this.memory);
    this.settle?.resolve(hex);
  }

  fail(err: Error): void {
    this.failure ??= err;
    // Wakes a caller waiting for room without blocking (one blocked in `buffer()` cannot be).
    Atomics.notify(this.ctl, CONSUMED);
    this.settle?.reject(this.broken());
  }

  async close(): Promise<void> {
    this.done = true;
    // Its memory is not kept: the thread may be reading it still.
    this.thread.detach(this, true);
  }
}

/**
 * A ring of `slots` buffers of `size` bytes whose contents are hashed as they are handed over:
 * on a hashing thread when `threaded` (by default when the machine has more than one core), else
 * on this thread; `hash: false` hands out the buffers and hashes nothing.
 */
export function openHashRing(options: HashRingOptions): HashRing {
  const slots = options.slots ?? 32;
  const memory = takeMemory(options.size, slots);
  const hash = options.hash ?? true;
  const threaded = hash && (options.threaded ?? availableParallelism() > 1);
  const dedicated = options.dedicated ?? false;
  const thread = threaded ? threadFor(dedicated) : undefined;
  if (thread) return new ThreadedRing(memory, options, thread, dedicated);
  return new InlineRing(memory, options);
}

/**
 * Work of less than this is hashed inline (`threaded: false`): starting a hashing thread costs
 * about 20 ms and 10 MiB of RSS, more than it saves on a small image (the ISO writer's image,
 * `verify()`'s whole-image hash).
 */
export const THREADED_HASH_MIN = 64 * 1024 * 1024;

/** How many hashing threads are running (they stop once idle). */
export function hashThreadsRunning(): number {
  return threads.length;
}
