/**
 * SHA-256 of a stream of chunks on a second core: the chunks live in shared memory, so the
 * worker thread hashes the very bytes the caller goes on copying (into the ISO), with no copy
 * and no transfer. Used by the blob store to re-check a stored blob while the ISO writer copies
 * it: the writer's own work (read, copy, write, the sha256 of the whole image) stays on the main
 * thread, the blob's hash runs beside it, and a warm repack costs what one plain ISO write costs.
 * Also used by blob ingest when several large downloads run at once (pack): the main thread
 * then spends its time receiving (TLS), and the downloads' hashes run here.
 *
 * Why a full re-hash and not a record of "verified at ingest" plus a cheap re-check (size,
 * mtime, inode): such a record proves the file was not replaced through the file system, but
 * it reads no byte, so it cannot catch bit rot, a torn write after a crash, or a byte changed in
 * place by a tool that restores the times. Hashing the bytes catches all of them; on a machine
 * with a spare core it costs no wall time.
 *
 * One worker per process, started on first use (about 30 ms and 10 MiB), held referenced only
 * while a hash is running, so it never keeps the process alive, and stopped once it has had
 * nothing to hash for {@link IDLE_STOP_MS} (its memory goes back to the system before pack's ISO
 * write starts its own hashing thread). Where no worker can start, the hash runs on the calling
 * thread as before. Private to the images module.
 */
import { createHash, type Hash } from 'node:crypto';
import { Worker } from 'node:worker_threads';

/** A hash running on the worker (or inline when none could start). */
export interface BackgroundHash {
  /**
   * Hashes `chunk` after the earlier chunks. `chunk` should live in a SharedArrayBuffer (else
   * it is copied to the worker) and must stay unchanged until the returned promise resolves,
   * once the chunk is hashed. The promise never rejects: a failure is thrown by `digest`.
   */
  update(chunk: Uint8Array): Promise<void>;
  /** The hex digest of every chunk; throws when the worker failed. */
  digest(): Promise<string>;
  /** Drops the hash (the stream was abandoned). */
  cancel(): void;
}

// CommonJS run by the worker: one sha256 per id, chunk by chunk, acknowledged one by one.
const WORKER_CODE = `
const { parentPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const hashes = new Map();
parentPort.on('message', (m) => {
  if (m.t === 'u') {
    let h = hashes.get(m.id);
    if (!h) hashes.set(m.id, (h = createHash('sha256')));
    h.update(new Uint8Array(m.buffer, m.offset, m.length));
    parentPort.postMessage({ t: 'a', id: m.id });
  } else if (m.t === 'd') {
    const h = hashes.get(m.id) ?? createHash('sha256');
    hashes.delete(m.id);
    parentPort.postMessage({ t: 'd', id: m.id, hex: h.digest('hex') });
  } else if (m.t === 'x') {
    hashes.delete(m.id);
  }
});
`;

interface Job {
  /** Resolves the `update` promises, in order, as the worker acknowledges each chunk. */
  readonly acks: (() => void)[];
  onDigest: ((hex: string) => void) | undefined;
  onError: (err: Error) => void;
}

/**
 * Idle time after which the worker is stopped. Long enough to bridge the gaps between the
 * blobs of a download or a copy, short enough that the memory is given back before the next
 * phase of a pack.
 */
const IDLE_STOP_MS = 200;

let worker: Worker | undefined;
let unavailable = false;
let nextId = 0;
const jobs = new Map<number, Job>();
let idleTimer: NodeJS.Timeout | undefined;
/** Workers stopped for being idle: their exit fails nothing (the next worker's hashes run on). */
const stopped = new WeakSet<Worker>();

function release(id: number): void {
  jobs.delete(id);
  if (jobs.size > 0 || !worker) return;
  worker.unref();
  const idle = worker;
  clearTimeout(idleTimer);
  idleTimer = setTimeout(() => {
    idleTimer = undefined;
    if (jobs.size > 0 || worker !== idle) return;
    worker = undefined;
    stopped.add(idle);
    void idle.terminate();
  }, IDLE_STOP_MS);
  idleTimer.unref();
}

function startWorker(): Worker | undefined {
  clearTimeout(idleTimer);
  idleTimer = undefined;
  if (worker || unavailable) return worker;
  try {
    const w = new Worker(WORKER_CODE, { eval: true, name: 'sdk-blob-hash' });
    w.on('message', (m: { t: 'a' | 'd'; id: number; hex?: string }) => {
      const job = jobs.get(m.id);
      if (!job) return;
      if (m.t === 'a') job.acks.shift()?.();
      else {
        release(m.id);
        job.onDigest?.(m.hex ?? '');
      }
    });
    // A dead worker fails the hashes it held; later hashes start a new one.
    const fail = (err: Error) => {
      if (stopped.has(w)) return;
      if (worker === w) worker = undefined;
      for (const [id, job] of jobs) {
        jobs.delete(id);
        job.onError(err);
      }
    };
    w.on('error', fail);
    w.on('exit', (code) => fail(new Error(`the hashing worker exited (code ${code})`)));
    w.unref();
    worker = w;
  } catch {
    unavailable = true;
  }
  return worker;
}

class InlineHash implements BackgroundHash {
  readonly #hash: Hash = createHash('sha256');
  update(chunk: Uint8Array): Promise<void> {
    this.#hash.update(chunk);
    return Promise.resolve();
  }
  digest(): Promise<string> {
    return Promise.resolve(this.#hash.digest('hex'));
  }
  cancel(): void {}
}

class WorkerHash implements BackgroundHash {
  readonly #id = nextId++;
  readonly #job: Job;
  #error: Error | undefined;
  constructor(private readonly w: Worker) {
    this.#job = {
      acks: [],
      onDigest: undefined,
      onError: (err) => this.#fail(err),
    };
    jobs.set(this.#id, this.#job);
    w.ref();
  }

  #fail(err: Error): void {
    this.#error ??= err;
    for (const wake of this.#job.acks.splice(0)) wake();
  }

  update(chunk: Uint8Array): Promise<void> {
    if (this.#error) return Promise.resolve();
    return new Promise<void>((resolve) => {
      this.#job.acks.push(resolve);
      try {
        this.w.postMessage({ t: 'u', id: this.#id, buffer: chunk.buffer, offset: chunk.byteOffset, length: chunk.byteLength });
      } catch (err) {
        this.#fail(err instanceof Error ? err : new Error(String(err)));
      }
    });
  }

  digest(): Promise<string> {
    if (this.#error) return Promise.reject(this.#error);
    return new Promise<string>((resolve, reject) => {
      this.#job.onDigest = resolve;
      this.#job.onError = (err) => {
        this.#fail(err);
        reject(err);
      };
      this.w.postMessage({ t: 'd', id: this.#id });
    });
  }

  cancel(): void {
    if (!jobs.has(this.#id)) return;
    release(this.#id);
    this.#fail(new Error('cancelled'));
    this.w.postMessage({ t: 'x', id: this.#id });
  }
}

/** Whether the hashing worker is running (it stops once idle). */
export function hashWorkerRunning(): boolean {
  return worker !== undefined;
}

/** A sha256 computed on the hashing worker, or on this thread when no worker can run. */
export function backgroundHash(): BackgroundHash {
  const w = startWorker();
  return w ? new WorkerHash(w) : new InlineHash();
}
