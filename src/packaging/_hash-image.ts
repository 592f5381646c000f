/**
 * The one-pass hashing reader of `verify()`: the image is read once, in order, and feeds the
 * sha256 of the whole file and of every file in it at the same time (content shared between
 * files is hashed once). Kept apart from the MetalK8s rules `verify.ts` checks.
 */
import { createHash, type Hash } from 'node:crypto';
import { open } from 'node:fs/promises';
import { IsoError, throwIfAborted } from '../errors.js';
import { openHashRing, THREADED_HASH_MIN } from './_hash-thread.js';
import type { IsoEntryInfo, IsoImage } from './iso/iso-reader.js';
import type { VerifyOptions } from './verify.js';

/** Size of each read, and of each buffer of the hash ring. */
const CHUNK = 1024 * 1024;
/** Reads of the next chunks in flight while one is hashed (fewer than the ring's 8 slots). */
const READS_IN_FLIGHT = 3;
/** Progress events, abort checks and event-loop turns happen every this many bytes. */
const YIELD_EVERY = 4 * CHUNK;

/** A run of bytes of the image feeding one content hash. */
interface Piece {
  readonly start: number;
  readonly end: number;
  readonly content: Content;
}

/** The content of one or more files that share the same extents. */
interface Content {
  readonly hash: Hash;
  /** Bytes fed so far. */
  fed: number;
  readonly size: number;
  digest?: string;
  /** Whether its bytes run past the end of the file. */
  truncated: boolean;
  /** The bytes themselves, when kept (see `keep` of {@link hashImage}). */
  bytes?: Buffer;
}

/** The sha256 of one file of the image, and its bytes when they were kept. */
export interface FileDigest {
  readonly digest: string;
  readonly truncated: boolean;
  /** The content, for the files `keep` chose (absent when truncated or hashed separately). */
  readonly bytes?: Uint8Array | undefined;
}

/**
 * Reads the image once: the whole-file sha256, and the sha256 of every file in `files`
 * (content shared between files is hashed once); the bytes of the files `keep` chooses are
 * kept on the way, so that they need not be read again. Files whose sections are not in
 * ascending order are hashed separately afterwards.
 */
export async function hashImage(
  path: string,
  iso: IsoImage | undefined,
  files: readonly IsoEntryInfo[],
  options: Pick<VerifyOptions, 'signal' | 'onProgress'>,
  keep: (file: IsoEntryInfo) => boolean = () => false,
): Promise<{ sha256: string; size: number; digests: Map<string, FileDigest> }> {
  const fh = await open(path, 'r');
  try {
    const size = (await fh.stat()).size;
    const byKey = new Map<string, Content>();
    const perFile = new Map<string, Content>();
    const pieces: Piece[] = [];
    const separate: IsoEntryInfo[] = [];
    for (const f of files) {
      let ascending = true;
      for (let i = 1; i < f.extents.length; i++) if (f.extents[i]!.lba * 2048 < f.extents[i - 1]!.lba * 2048 + f.extents[i - 1]!.size) ascending = false;
      if (!ascending && iso) {
        separate.push(f);
        continue;
      }
      const key = f.extents.map((e) => `${e.lba}:${e.size}`).join(',');
      let content = byKey.get(key);
      if (!content) {
        content = { hash: createHash('sha256'), fed: 0, size: f.size, truncated: false };
        if (keep(f)) content.bytes = Buffer.allocUnsafe(f.size);
        byKey.set(key, content);
        for (const e of f.extents) if (e.size > 0) pieces.push({ start: e.lba * 2048, end: e.lba * 2048 + e.size, content });
      }
      perFile.set(f.path, content);
    }
    pieces.sort((a, b) => a.start - b.start || a.end - b.end);
    // The whole-image hash runs on a second core (when there is one) while this thread hashes
    // the files: each byte is hashed twice, at the same time.
    const whole = openHashRing({
      size: CHUNK,
      slots: 8,
      dedicated: true,
      error: (message, hint) => new IsoError('ISO_INTERNAL', message, { hint }),
      ...(size < THREADED_HASH_MIN ? { threaded: false } : {}),
    });
    let pos = 0;
    let next = 0;
    let active: Piece[] = [];
    let sha256: string;
    let lastYield = 0;
    // The next chunks are read while one is hashed: their reads run on the thread pool while
    // this thread hashes the chunk's files and the second core the whole image. Waiting for
    // each read in turn (a synchronous read) left the disk idle during the hashing: an image
    // out of the page cache was verified at 690 MiB/s from a disk that reads 1,300.
    const readAt = (buf: Buffer, at: number): Promise<number> => fh.read(buf, 0, Math.min(CHUNK, size - at), at).then((r) => r.bytesRead);
    const pending: Promise<number>[] = [];
    let readTo = 0;
    const readAhead = () => {
      while (pending.length < READS_IN_FLIGHT && readTo < size) {
        pending.push(readAt(whole.buffer(pending.length), readTo));
        readTo += Math.min(CHUNK, size - readTo);
      }
    };
    readAhead();
    try {
      while (pos < size && pending.length > 0) {
        throwIfAborted(options.signal, 'verify');
        const buf = whole.buffer();
        const bytesRead = await pending[0]!;
        pending.shift();
        if (bytesRead === 0) break;
        // A short read: the file shrank under the reader. This chunk is the last one; the
        // digests tell what is missing.
        const short = bytesRead < Math.min(CHUNK, size - pos);
        const end = pos + bytesRead;
        const chunk = buf.subarray(0, bytesRead);
        // Handed over first: both threads only read the chunk until this thread asks for the next buffer.
        whole.update(buf, bytesRead);
        if (!short) readAhead();
        while (next < pieces.length && pieces[next]!.start < end) active.push(pieces[next++]!);
        for (const p of active) {
          const from = Math.max(p.start, pos);
          const to = Math.min(p.end, end);
          if (to > from) {
            const piece = chunk.subarray(from - pos, to - pos);
            p.content.hash.update(piece);
            p.content.bytes?.set(piece, p.content.fed);
            p.content.fed += to - from;
          }
        }
        active = active.filter((p) => p.end > end);
        pos = end;
        if (pos - lastYield >= YIELD_EVERY || pos === size) {
          lastYield = pos;
          options.onProgress?.({ type: 'read', bytesRead: pos, bytesTotal: size });
          // Let timers and abort signals run between big chunks.
          await new Promise<void>((resolve) => setImmediate(resolve));
        }
        if (short) break;
      }
      await Promise.allSettled(pending);
      sha256 = (await whole.digest())!;
    } catch (err) {
      // A read still in flight is waited for (its buffer belongs to the ring) and its own failure dropped.
      await Promise.allSettled(pending);
      await whole.close();
      throw err;
    }
    const digests = new Map<string, FileDigest>();
    for (const [p, c] of perFile) {
      if (c.digest === undefined) {
        c.truncated = c.fed < c.size;
        c.digest = c.hash.digest('hex');
      }
      digests.set(p, { digest: c.digest, truncated: c.truncated, bytes: c.truncated ? undefined : c.bytes });
    }
    for (const f of separate) {
      const h = createHash('sha256');
      let truncated = false;
      try {
        for await (const chunk of iso!.createReadStream(f, { signal: options.signal })) h.update(chunk as Uint8Array);
      } catch (err) {
        if (!(err instanceof IsoError)) throw err;
        truncated = true;
      }
      digests.set(f.path, { digest: h.digest('hex'), truncated });
    }
    return { sha256, size, digests };
  } finally {
    await fh.close();
  }
}
