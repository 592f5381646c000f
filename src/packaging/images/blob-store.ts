/**
 * A content-addressed blob store on disk: every image blob (layers, configs, manifests) lives
 * once under `blobs/sha256/<hex>`, shared by every build that uses the same store, so a
 * rebuild downloads nothing it already has.
 *
 * Every blob is hashed while it is written and lands under its name only when its sha256 and
 * size match (write to `tmp/`, then `rename`, which is atomic): a crash or a corrupted
 * download never leaves a blob under a wrong name, and two builds sharing a store at once at
 * worst both download a blob and rename identical bytes over each other. A stored blob is hashed
 * again whenever it is read (`read`, `open`), so a damaged cache (bit rot, a torn write, a byte
 * changed by hand) fails the build instead of giving a valid-looking ISO; `open` with
 * `reuseBuffers` does that hashing on a second core (../_hash-thread.ts), and so does an ingest
 * of a large blob while other large ones run (parallel downloads).
 *
 * @module
 */
import { createHash, type Hash, randomBytes } from 'node:crypto';
import { type BigIntStats, createReadStream, type Stats } from 'node:fs';
import { type FileHandle, mkdir, open, readdir, readFile, rename, rm, stat, unlink, utimes, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { MILLISECONDS, numberOption } from '../../_number-option.js';
import { fromSystemError, PackagingError, throwIfAborted } from '../../errors.js';
import { type FileFingerprint, formatFingerprint, parseFingerprint, sameFile } from '../_file-fingerprint.js';
import { type HashRing, openHashRing } from '../_hash-thread.js';
import { FOREIGN_TEMP_MAX_AGE_MS, HOST_TAG, isAbandoned } from '../_stale-temp.js';
import { digestHex, isDigest } from './_digest.js';
import { pruneLayerCache } from './_layer-cache.js';

export type { FileFingerprint } from '../_file-fingerprint.js';

/** Size of each read when a blob is streamed. */
const CHUNK = 1 << 20;
/** Buffers of a stream with `reuseBuffers`: read, being copied, being hashed. */
const SLOTS = 4;
/**
 * Buffers of an ingest hashed on the worker: one. A download waits while its MiB is written
 * and hashed, the parallel ones fill the time, and pack's peak RSS stays where it was (two each
 * raised it by 12 MiB, three by 17 MiB, for no measurable speed). With 2 or 4, pulls forced
 * through this path (every large blob, `bench/images.mjs`) used to hang in 1 or 2 runs of 30:
 * a wait of the hash ring that had outlived its need cleared the wake-up a later wait had asked
 * for (fixed in ../_hash-thread.ts, `unwant`). Since, 90 such pulls with 2 and 60 with 4 passed;
 * the digest mismatch an earlier series had once did not come back in them.
 */
const INGEST_SLOTS = 1;
/** Ingests of this process of 1 MiB or more (manifests and configs do not count). */
let largeIngests = 0;
/**
 * Writes every byte of `chunks` at file offset `at`: one `writev` for the lot, again for what a
 * short write left. Both ingest paths write through it.
 */
async function writeAllAt(fh: FileHandle, chunks: readonly Uint8Array[], at: number): Promise<void> {
  let left = chunks.reduce((n, c) => n + c.byteLength, 0);
  let pos = at;
  let rest = chunks;
  while (left > 0) {
    const { bytesWritten } = await fh.writev(rest, pos);
    left -= bytesWritten;
    pos += bytesWritten;
    if (left === 0) break;
    let skip = bytesWritten;
    const next: Uint8Array[] = [];
    for (const c of rest) {
      if (skip >= c.byteLength) skip -= c.byteLength;
      else {
        next.push(skip > 0 ? c.subarray(skip) : c);
        skip = 0;
      }
    }
    rest = next;
  }
}

/**
 * How one ingest path hashes and writes the bytes appended to it; the ingest object around it
 * ({@link FsBlobStore.ingest}) owns the checks, the file and the commit.
 */
interface IngestPath {
  /** Bytes appended so far. */
  readonly written: number;
  /** Appends `chunk` (see {@link BlobIngest.write}). */
  write(chunk: Uint8Array): Promise<void> | undefined;
  /** Writes what is left and returns the hex digest of every byte. */
  finish(): Promise<string>;
  /** Stops: waits for what is in flight, hashes nothing more. */
  stop(): Promise<void>;
}

/**
 * Hashed on this thread: the chunks themselves are gathered into 1 MiB writes, no copy. For
 * small blobs, and a large one downloading alone: there it measured faster than the hashing
 * thread, whose core serves the registry and the file writes.
 */
function hashedHere(fh: FileHandle): IngestPath {
  const hash: Hash = createHash('sha256');
  let written = 0;
  // Chunks are gathered into 1 MiB writes: one await per network chunk costs about 3x. One
  // write is in flight while the next MiB arrives: awaiting each write before reading on
  // stalled the download (the sender waits while the kernel copies into the page cache).
  let pending: Uint8Array[] = [];
  let pendingBytes = 0;
  /** File offset of the next write. */
  let position = 0;
  let inflight: Promise<void> | undefined;
  let failed: unknown;
  /** Waits for the write in flight; throws its error. */
  const settle = async () => {
    if (inflight) await inflight;
    inflight = undefined;
    if (failed !== undefined) throw failed;
  };
  const flush = async () => {
    await settle();
    if (pendingBytes === 0) return;
    const chunks = pending;
    const at = position;
    position += pendingBytes;
    pending = [];
    pendingBytes = 0;
    inflight = writeAllAt(fh, chunks, at).catch((err: unknown) => {
      failed = err;
    });
  };
  return {
    get written() {
      return written;
    },
    write: (chunk) => {
      hash.update(chunk);
      pending.push(chunk);
      pendingBytes += chunk.byteLength;
      written += chunk.byteLength;
      return pendingBytes >= CHUNK ? flush() : undefined;
    },
    finish: async () => {
      await flush();
      await settle();
      return hash.digest('hex');
    },
    stop: async () => {
      await inflight;
    },
  };
}

/**
 * Hashed on the second core (../_hash-thread.ts), for a large blob downloading beside others
 * (parallel downloads, where this thread is the bottleneck): its bytes are copied into the 1 MiB
 * buffer of a hash ring (a memcpy costs a fraction of a sha256), and a full buffer is written to
 * the file and hashed at once.
 */
function hashedOnThread(fh: FileHandle): IngestPath {
  let ring: HashRing | undefined;
  let written = 0;
  /** The buffer being filled, and how much of it is. */
  let current: Buffer | undefined;
  let fill = 0;
  /** File offset of the next write. */
  let position = 0;
  let failed: unknown;
  /** The write in flight from each slot of the ring: the slot is filled again once it is done. */
  const writes: (Promise<void> | undefined)[] = [];
  let submitted = 0;
  const submit = () => {
    const buf = current!;
    const at = position;
    const k = submitted++ % INGEST_SLOTS;
    ring!.update(buf, fill);
    position += fill;
    const wrote: Promise<void> = writeAllAt(fh, [buf.subarray(0, fill)], at)
      .catch((err: unknown) => {
        failed ??= err;
      })
      .finally(() => {
        if (writes[k] === wrote) writes[k] = undefined;
      });
    writes[k] = wrote;
    current = undefined;
    fill = 0;
  };
  /** The next buffer: at once when its last write is done and the thread has hashed it. */
  const take = (): Buffer | Promise<Buffer> => {
    ring ??= openHashRing({ size: CHUNK, slots: INGEST_SLOTS });
    const writing = writes[submitted % INGEST_SLOTS];
    const free = ring.nextBuffer();
    if (writing === undefined && !(free instanceof Promise)) return free;
    return Promise.all([free, writing]).then(([buf]) => buf);
  };
  /** Copies from `chunk[off]` into the current buffer, submitting it when full; returns the new offset. */
  const copyIn = (chunk: Uint8Array, off: number): number => {
    const buf = current!;
    const n = Math.min(CHUNK - fill, chunk.byteLength - off);
    buf.set(off === 0 && n === chunk.byteLength ? chunk : chunk.subarray(off, off + n), fill);
    fill += n;
    if (fill === CHUNK) submit();
    return off + n;
  };
  /**
   * The slow path of `write`: waits for the buffer `write` was promised (not asked for again: a
   * second request could find the buffer free and leave the first one waiting), then for more as
   * the rest of `chunk` needs them.
   */
  const copyRest = async (chunk: Uint8Array, off: number, next: Promise<Buffer>): Promise<void> => {
    current = await next;
    while (off < chunk.byteLength) {
      current ??= await take();
      off = copyIn(chunk, off);
    }
  };
  return {
    get written() {
      return written;
    },
    write: (chunk) => {
      if (failed !== undefined) throw failed;
      // Counted as it is taken, as the other path does: a resumed download asks for the bytes
      // after every chunk handed to `write`, including one still waiting for a buffer.
      written += chunk.byteLength;
      // No promise while a buffer is free (the common case): one await per network chunk
      // (16 KiB over TLS) is a measurable share of a download's CPU time.
      let off = 0;
      while (off < chunk.byteLength) {
        if (!current) {
          const next = take();
          if (next instanceof Promise) return copyRest(chunk, off, next);
          current = next;
        }
        off = copyIn(chunk, off);
      }
      return undefined;
    },
    finish: async () => {
      if (current && fill > 0) submit();
      current = undefined;
      await Promise.all(writes);
      if (failed !== undefined) {
        await ring?.close();
        throw failed;
      }
      return ring ? ((await ring.digest()) ?? '') : createHash('sha256').digest('hex');
    },
    stop: async () => {
      await ring?.close();
      await Promise.all(writes);
    },
  };
}

/**
 * The SDK's cache directory: `$XDG_CACHE_HOME/metalk8s-solution-sdk` (or `~/.cache/…`).
 *
 * @example
 * ```ts
 * const store = await openBlobStore({ dir: join(defaultCacheDir(), 'blobs') });
 * ```
 */
export function defaultCacheDir(): string {
  const base = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(base, 'metalk8s-solution-sdk');
}

/** Options of {@link openBlobStore}. */
export interface OpenBlobStoreOptions {
  /**
   * Directory of the store; created if missing.
   * @default `join(defaultCacheDir(), 'blobs')`
   */
  readonly dir?: string | undefined;
}

/** What a blob write produced. */
export interface BlobInfo {
  /** `sha256:<hex>`. */
  readonly digest: string;
  /** Size in bytes. */
  readonly size: number;
}

/** Expectations checked when a blob is ingested. */
export interface PutOptions {
  /** The digest the bytes must have; a mismatch throws and stores nothing. */
  readonly expectedDigest?: string | undefined;
  /** The size the bytes must have. */
  readonly expectedSize?: number | undefined;
  /** What the blob is, for error messages (`registry.example.com/app:1.0 layer 2`). */
  readonly what?: string | undefined;
  /** Cancels the write. */
  readonly signal?: AbortSignal | undefined;
}

/** An ingest in progress: bytes are appended, hashed, then committed under their digest. */
export interface BlobIngest {
  /** Bytes written so far (a resumed download asks the server for the rest from here). */
  readonly bytesWritten: number;
  /**
   * Appends bytes. Returns a promise only when the caller must wait (every buffer is being
   * written); `chunk` may be reused once the call returns or its promise resolves.
   */
  write(chunk: Uint8Array): Promise<void> | undefined;
  /** Checks digest and size, then moves the blob into place. Throws `BLOB_DIGEST_MISMATCH` on a mismatch. */
  commit(): Promise<BlobInfo>;
  /** Throws away what was written. */
  abort(): Promise<void>;
}

/** Options of {@link BlobStore.verifyAll}. */
export interface VerifyAllOptions {
  /** After each blob: how many are done, of how many, and their bytes. */
  readonly onProgress?: ((e: { readonly done: number; readonly total: number; readonly bytes: number; readonly totalBytes: number }) => void) | undefined;
  readonly signal?: AbortSignal | undefined;
}

/** What {@link BlobStore.verifyAll} found. */
export interface VerifyAllResult {
  /** Blobs hashed, and their bytes. */
  readonly blobs: number;
  readonly bytes: number;
  /** Digests of the blobs whose bytes did not match (removed). */
  readonly damaged: readonly string[];
}

/** Options of {@link BlobStore.prune}. */
export interface PruneOptions {
  /** Digests to keep whatever their age. */
  readonly keep?: Iterable<string> | undefined;
  /**
   * Only remove blobs not used for this long (milliseconds; a blob is "used" when it is written or found by a fetch).
   * @default 0 (every blob not in `keep`)
   */
  readonly olderThanMs?: number | undefined;
}

/** What {@link BlobStore.prune} removed. */
export interface PruneResult {
  /** Number of blobs removed. */
  readonly removed: number;
  /** Bytes freed. */
  readonly bytes: number;
  /** Temporary files of writers that are gone (a killed pack), removed. */
  readonly tempFilesRemoved?: number | undefined;
  /** Their bytes. */
  readonly tempBytesRemoved?: number | undefined;
}

/** A content-addressed blob store; see {@link openBlobStore}. */
export interface BlobStore {
  /** Root directory of the store. */
  readonly dir: string;
  /** Whether the blob is in the store (and, when `size` is given, has that size). Marks it as used. */
  has(digest: string, size?: number): Promise<boolean>;
  /** Path of a blob's file (it may not exist). Never write to it. */
  path(digest: string): string;
  /** Size of a stored blob; throws `BLOB_NOT_FOUND` when absent. */
  size(digest: string): Promise<number>;
  /** Stores bytes or a stream, verifying the digest when one is expected. */
  put(data: Uint8Array | AsyncIterable<Uint8Array>, options?: PutOptions): Promise<BlobInfo>;
  /** Starts an ingest that bytes are appended to (used for resumable downloads). */
  ingest(options?: PutOptions): Promise<BlobIngest>;
  /**
   * Runs `produce` to fill the blob unless it is already stored or being produced in this
   * process (concurrent callers share one download).
   */
  ensure(digest: string, size: number, produce: () => Promise<BlobInfo>): Promise<'present' | 'added'>;
  /** Reads a (small) blob fully and verifies its digest. */
  read(digest: string): Promise<Uint8Array>;
  /** Streams a blob; the stream errors with `BLOB_DIGEST_MISMATCH` at its end when the bytes are corrupt. */
  open(
    digest: string,
    options?: {
      /** Hash the bytes and fail the stream at its end when they do not match the digest. @default true */
      readonly verify?: boolean | undefined;
      /**
       * The caller is done with each chunk when it asks for the next one (it copies the bytes,
       * as the ISO writer does): the stream then reads into a few reused buffers and hashes
       * them on a second core, beside the caller. @default false
       */
      readonly reuseBuffers?: boolean | undefined;
    },
  ): AsyncIterable<Uint8Array>;
  /**
   * Re-hashes a stored blob; throws `BLOB_DIGEST_MISMATCH` (and removes the file) when it is
   * corrupt. With `ifChanged`, a blob whose file still matches its trust record
   * ({@link BlobStore.trusted}) is not read.
   */
  verify(
    digest: string,
    options?: {
      /** Skip the hashing when the file has not changed since it was last hashed. @default false */
      readonly ifChanged?: boolean | undefined;
    },
  ): Promise<void>;
  /**
   * The blob's file, when its bytes were hashed and found right and the file has not changed
   * since (same device, inode, size, modification and change time); `undefined` when it is
   * absent, was never hashed by this store, or changed. A caller may then copy the file without
   * hashing it, and should check that the file it opens still has this fingerprint (an ISO path
   * source's `expect`). Damage below the file system is not seen: see the module comment.
   */
  trusted(digest: string): Promise<FileFingerprint | undefined>;
  /**
   * Hashes every blob of the store again, whatever its trust record says: removes the damaged
   * ones (a later fetch or build stores them again) and records the others anew. For a store kept
   * for a long time, where damage below the file system is possible (`solution images verify`).
   */
  verifyAll(options?: VerifyAllOptions): Promise<VerifyAllResult>;
  /**
   * Removes blobs not in `keep` (and not used for `olderThanMs`), the build cache entries of the
   * layers removed, and the temporary files of writers that are gone.
   */
  prune(options?: PruneOptions): Promise<PruneResult>;
  /**
   * Removes temporary files whose writer is gone (killed, or its machine restarted): their pid
   * is not alive on this host, or they come from another host and are a day old. Files of a
   * running writer are kept. `pack` runs it at its start.
   */
  removeAbandonedTemp(): Promise<{ readonly removed: number; readonly bytes: number }>;
}

function notDigest(digest: string): PackagingError {
  return new PackagingError('BLOB_DIGEST_INVALID', `"${digest}" is not a sha256 digest`, {
    hint: 'Digests look like sha256:<64 lowercase hex characters>.',
  });
}

function mismatch(what: string, expected: string, actual: string, size: number): PackagingError {
  return new PackagingError(
    'BLOB_DIGEST_MISMATCH',
    `${what}: content has digest ${actual} (${size} bytes), expected ${expected}`,
    { hint: 'The source served corrupted or different bytes; nothing was stored. Check the source and try again.' },
  );
}

class FsBlobStore implements BlobStore {
  readonly #inflight = new Map<string, Promise<'present' | 'added'>>();
  constructor(readonly dir: string) {}

  path(digest: string): string {
    if (!isDigest(digest)) throw notDigest(digest);
    return join(this.dir, 'blobs', 'sha256', digestHex(digest));
  }

  /** Path of a blob's trust record. */
  #recordPath(digest: string): string {
    return join(this.dir, 'verified', 'sha256', digestHex(digest));
  }

  /**
   * Records that the blob's bytes were hashed and found right while its file was `before`, when
   * it still is (`after`, taken once the hashing was done). Records are an optimisation: a store
   * where they cannot be written still works, every blob is hashed as before.
   */
  async #record(digest: string, before: BigIntStats | undefined, after: BigIntStats | undefined): Promise<void> {
    if (!before || !after || !sameFile(before, after)) return;
    const tmp = this.#tempPath();
    try {
      await writeFile(tmp, formatFingerprint(before), { mode: 0o644 });
      await rename(tmp, this.#recordPath(digest));
    } catch {
      await unlink(tmp).catch(() => undefined);
    }
  }

  /** The blob file's `stat` with nanoseconds, what trust records hold; `undefined` when it is absent. */
  #statExact(digest: string): Promise<BigIntStats | undefined> {
    return stat(this.path(digest), { bigint: true }).catch(() => undefined);
  }

  /** Removes a blob and its trust record (a corrupt blob, or pruned). */
  async #remove(digest: string): Promise<void> {
    await unlink(this.#recordPath(digest)).catch(() => undefined);
    await unlink(this.path(digest)).catch(() => undefined);
  }

  /** A new temporary file name: <pid>-<host>-<random>, so a later run can tell when its writer is gone (_stale-temp.ts). */
  #tempPath(): string {
    return join(this.dir, 'tmp', `${process.pid}-${HOST_TAG}-${randomBytes(8).toString('hex')}`);
  }

  async trusted(digest: string): Promise<FileFingerprint | undefined> {
    const [text, st] = await Promise.all([
      readFile(this.#recordPath(digest), 'utf8').catch(() => undefined),
      this.#statExact(digest),
    ]);
    const recorded = text === undefined ? undefined : parseFingerprint(text);
    return recorded && st?.isFile() && sameFile(recorded, st) ? recorded : undefined;
  }

  async #stat(digest: string): Promise<Stats | undefined> {
    try {
      return await stat(this.path(digest));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  async has(digest: string, size?: number): Promise<boolean> {
    const st = await this.#stat(digest);
    if (!st || (size !== undefined && st.size !== size)) return false;
    // The mark of use goes on the trust record when there is one: setting the blob's own times
    // would change its change time, and the record would no longer match.
    const now = new Date();
    await utimes(this.#recordPath(digest), now, now)
      .catch(() => utimes(this.path(digest), now, now))
      .catch(() => undefined);
    return true;
  }

  async size(digest: string): Promise<number> {
    const st = await this.#stat(digest);
    if (!st) {
      throw new PackagingError('BLOB_NOT_FOUND', `blob ${digest} is not in the store at ${this.dir}`, {
        hint: 'Fetch the image again (fetchImage) so its blobs are in the store.',
      });
    }
    return st.size;
  }

  async ingest(options: PutOptions = {}): Promise<BlobIngest> {
    if (options.expectedDigest !== undefined && !isDigest(options.expectedDigest)) throw notDigest(options.expectedDigest);
    const tmp = this.#tempPath();
    const fh = await open(tmp, 'w', 0o644);
    // A large blob downloading beside other large ones is hashed on the second core; small
    // blobs and a lone download are hashed here.
    const big = (options.expectedSize ?? 0) >= CHUNK;
    if (big) largeIngests++;
    const path = !big || largeIngests === 1 ? hashedHere(fh) : hashedOnThread(fh);
    const what = options.what ?? options.expectedDigest ?? 'blob';
    let closed = false;
    /** Closes the file once, and stops counting the ingest in `largeIngests`. */
    const close = async () => {
      if (closed) return;
      closed = true;
      if (big) largeIngests--;
      await fh.close();
    };
    return {
      get bytesWritten() {
        return path.written;
      },
      write: (chunk: Uint8Array): Promise<void> | undefined => {
        throwIfAborted(options.signal, `writing ${what}`);
        return path.write(chunk);
      },
      commit: async () => {
        const digest = `sha256:${await path.finish()}`;
        await close();
        return this.#settle(tmp, what, options, digest, path.written);
      },
      abort: async () => {
        await path.stop();
        await close().catch(() => undefined);
        await unlink(tmp).catch(() => undefined);
      },
    };
  }

  /** Moves a written temporary file under its digest, or removes it when digest or size do not match. */
  async #settle(tmp: string, what: string, options: PutOptions, digest: string, written: number): Promise<BlobInfo> {
    if (options.expectedDigest !== undefined && digest !== options.expectedDigest) {
      await unlink(tmp).catch(() => undefined);
      throw mismatch(what, options.expectedDigest, digest, written);
    }
    if (options.expectedSize !== undefined && written !== options.expectedSize) {
      await unlink(tmp).catch(() => undefined);
      throw new PackagingError('BLOB_SIZE_MISMATCH', `${what}: got ${written} bytes, expected ${options.expectedSize}`, {
        hint: 'The source served a truncated or different blob; nothing was stored.',
      });
    }
    await rename(tmp, this.path(digest));
    // Hashed as they were written: the file as it is now is the one those bytes are in.
    const st = await this.#statExact(digest);
    await this.#record(digest, st, st);
    return { digest, size: written };
  }

  async put(data: Uint8Array | AsyncIterable<Uint8Array>, options: PutOptions = {}): Promise<BlobInfo> {
    // A stream that fails before it is read (a missing file) must not emit an unhandled 'error':
    // the loop below still sees the error when it reads.
    const stream = data instanceof Readable ? data : undefined;
    stream?.on('error', () => undefined);
    let ing: BlobIngest;
    try {
      ing = await this.ingest(options);
    } catch (err) {
      stream?.destroy();
      throw err;
    }
    try {
      if (data instanceof Uint8Array) await ing.write(data);
      else for await (const chunk of data) await ing.write(chunk);
      return await ing.commit();
    } catch (err) {
      stream?.destroy();
      await ing.abort();
      throw fromSystemError(err, { doing: options.what ? `store ${options.what}` : 'store a blob' }) ?? err;
    }
  }

  ensure(digest: string, size: number, produce: () => Promise<BlobInfo>): Promise<'present' | 'added'> {
    const running = this.#inflight.get(digest);
    if (running) return running;
    const p = (async (): Promise<'present' | 'added'> => {
      if (await this.has(digest, size)) return 'present';
      const got = await produce();
      if (got.digest !== digest) throw mismatch(digest, digest, got.digest, got.size);
      return 'added';
    })().finally(() => this.#inflight.delete(digest));
    this.#inflight.set(digest, p);
    return p;
  }

  async read(digest: string): Promise<Uint8Array> {
    let bytes: Buffer;
    try {
      bytes = await readFile(this.path(digest));
    } catch (cause) {
      throw new PackagingError('BLOB_NOT_FOUND', `blob ${digest} is not in the store at ${this.dir}`, {
        cause,
        hint: 'Fetch the image again (fetchImage) so its blobs are in the store.',
      });
    }
    const actual = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
    if (actual !== digest) {
      await this.#remove(digest);
      throw mismatch(`stored blob ${this.path(digest)}`, digest, actual, bytes.byteLength);
    }
    return bytes;
  }

  async *open(digest: string, options: Parameters<BlobStore['open']>[1] = {}): AsyncIterable<Uint8Array> {
    const path = this.path(digest);
    const verify = options.verify ?? true;
    if (!options.reuseBuffers) {
      const before = verify ? await this.#statExact(digest) : undefined;
      const hash = createHash('sha256');
      let size = 0;
      for await (const chunk of createReadStream(path, { highWaterMark: CHUNK })) {
        const c = chunk as Buffer;
        if (verify) hash.update(c);
        size += c.byteLength;
        yield c;
      }
      if (verify) {
        const actual = `sha256:${hash.digest('hex')}`;
        if (actual !== digest) throw mismatch(`stored blob ${path}`, digest, actual, size);
        await this.#record(digest, before, await this.#statExact(digest));
      }
      return;
    }
    // A ring of a few buffers, hashed on the second core (../_hash-thread.ts) while the caller
    // copies them; a buffer is read into again once the caller asked for a later chunk and the
    // thread has hashed it. Without `verify`, the same ring, hashing nothing: no garbage per
    // chunk, so memory stays flat however big the blobs. The mismatch is thrown after the last
    // chunk, before the caller can finish (the ISO writer then removes its temporary file).
    const fh = await open(path, 'r');
    const before = verify ? await fh.stat({ bigint: true }).catch(() => undefined) : undefined;
    const ring = openHashRing({ size: CHUNK, slots: SLOTS, hash: verify });
    const readInto = async (position: number) => {
      const buf = await ring.nextBuffer();
      const { bytesRead } = await fh.read(buf, 0, CHUNK, position);
      return buf.subarray(0, bytesRead);
    };
    // One read ahead, so the disk (or page cache) works while the caller copies.
    let next = readInto(0);
    let done = false;
    try {
      let size = 0;
      for (;;) {
        const bytes = await next;
        if (bytes.byteLength === 0) break;
        size += bytes.byteLength;
        ring.update(bytes, bytes.byteLength);
        next = readInto(size);
        yield bytes;
      }
      done = true;
      const hex = await ring.digest();
      if (hex !== undefined && `sha256:${hex}` !== digest) throw mismatch(`stored blob ${path}`, digest, `sha256:${hex}`, size);
      if (hex !== undefined) await this.#record(digest, before, await this.#statExact(digest));
    } finally {
      if (!done) {
        await next.catch(() => undefined);
        await ring.close();
      }
      await fh.close();
    }
  }

  async verify(digest: string, options: Parameters<BlobStore['verify']>[1] = {}): Promise<void> {
    if (options.ifChanged && (await this.trusted(digest))) return;
    const path = this.path(digest);
    const before = await this.#statExact(digest);
    const hash = createHash('sha256');
    let size = 0;
    for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) {
      hash.update(chunk as Buffer);
      size += (chunk as Buffer).byteLength;
    }
    const actual = `sha256:${hash.digest('hex')}`;
    if (actual !== digest) {
      await this.#remove(digest);
      throw mismatch(`stored blob ${path}`, digest, actual, size);
    }
    await this.#record(digest, before, await this.#statExact(digest));
  }

  async verifyAll(options: VerifyAllOptions = {}): Promise<VerifyAllResult> {
    const root = join(this.dir, 'blobs', 'sha256');
    const found: { digest: string; size: number }[] = [];
    for (const name of (await readdir(root)).sort()) {
      const digest = `sha256:${name}`;
      if (!isDigest(digest)) continue;
      const st = await stat(join(root, name)).catch(() => undefined);
      if (st?.isFile()) found.push({ digest, size: st.size });
    }
    const totalBytes = found.reduce((n, b) => n + b.size, 0);
    const damaged: string[] = [];
    let bytes = 0;
    for (const [i, b] of found.entries()) {
      throwIfAborted(options.signal, 'verifying the blob store');
      try {
        await this.verify(b.digest);
      } catch (err) {
        if ((err as PackagingError).code === 'BLOB_DIGEST_MISMATCH') damaged.push(b.digest);
        else if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw fromSystemError(err, { doing: `verify ${this.path(b.digest)}` }) ?? err;
      }
      bytes += b.size;
      options.onProgress?.({ done: i + 1, total: found.length, bytes, totalBytes });
    }
    return { blobs: found.length, bytes, damaged };
  }

  async prune(options: PruneOptions = {}): Promise<PruneResult> {
    const keep = new Set<string>();
    for (const d of options.keep ?? []) keep.add(d);
    // Checked before anything is removed: a NaN or negative age made every blob look old enough.
    const cutoff = Date.now() - (numberOption('olderThanMs', options.olderThanMs, MILLISECONDS) ?? 0);
    let removed = 0;
    let bytes = 0;
    const root = join(this.dir, 'blobs', 'sha256');
    const records = join(this.dir, 'verified', 'sha256');
    const names = await readdir(root);
    for (const name of names) {
      if (keep.has(`sha256:${name}`)) continue;
      const p = join(root, name);
      const st = await stat(p).catch(() => undefined);
      if (!st) continue;
      // Last used: the blob's time, or its record's, which `has()` sets instead when there is one.
      const rec = await stat(join(records, name)).catch(() => undefined);
      if (Math.max(st.mtimeMs, rec?.mtimeMs ?? 0) > cutoff) continue;
      await this.#remove(`sha256:${name}`);
      removed++;
      bytes += st.size;
    }
    // Records whose blob is gone (removed by hand, or by a store of an older SDK).
    const present = new Set(names);
    for (const name of await readdir(records).catch(() => [] as string[])) {
      if (present.has(name) || (await stat(join(root, name)).catch(() => undefined))) continue;
      await rm(join(records, name), { force: true });
    }
    // Build cache entries naming a blob that is gone would only be misses: drop them.
    if (removed > 0) await pruneLayerCache(this);
    const stale = await this.removeAbandonedTemp();
    return { removed, bytes, tempFilesRemoved: stale.removed, tempBytesRemoved: stale.bytes };
  }

  async removeAbandonedTemp(): Promise<{ removed: number; bytes: number }> {
    let removed = 0;
    let bytes = 0;
    for (const name of await readdir(join(this.dir, 'tmp')).catch(() => [] as string[])) {
      const p = join(this.dir, 'tmp', name);
      const st = await stat(p).catch(() => undefined);
      if (!st) continue;
      const m = /^(\d+)-(?:([0-9a-f]{8})-)?[0-9a-f]{16}$/.exec(name);
      // Unknown names: only after a day, as before.
      const abandoned = m ? isAbandoned(Number(m[1]), m[2], st.mtimeMs) : Date.now() - st.mtimeMs > FOREIGN_TEMP_MAX_AGE_MS;
      if (!abandoned) continue;
      await rm(p, { force: true });
      removed++;
      bytes += st.size;
    }
    return { removed, bytes };
  }
}

/**
 * Opens (and creates if needed) a blob store.
 *
 * @example
 * ```ts
 * const store = await openBlobStore({ dir: '/var/cache/my-build/blobs' });
 * const { digest } = await store.put(new TextEncoder().encode('hello'));
 * await store.prune({ keep: [digest] });
 * ```
 */
export async function openBlobStore(options: OpenBlobStoreOptions = {}): Promise<BlobStore> {
  const dir = options.dir ?? join(defaultCacheDir(), 'blobs');
  await mkdir(join(dir, 'blobs', 'sha256'), { recursive: true });
  await mkdir(join(dir, 'verified', 'sha256'), { recursive: true });
  await mkdir(join(dir, 'tmp'), { recursive: true });
  return new FsBlobStore(dir);
}
