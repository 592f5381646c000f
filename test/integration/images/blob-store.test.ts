import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, readdir, readFile, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PackagingError } from '../../../src/errors.js';
import { sha256Digest } from '../../../src/packaging/images/_digest.js';
import { hashThreadsRunning } from '../../../src/packaging/_hash-thread.js';
import { type BlobStore, buildImage, type FetchProgressEvent, fetchImage, openBlobStore, planRegistryLayout, writeLayout } from '../../../src/packaging/images/index.js';
import { pushImages, testImage } from './_images.js';
import { type Registry, startRegistry, tempDir } from './_servers.js';

let dir: string;
beforeAll(async () => {
  dir = await tempDir('store');
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Where the store keeps a blob's trust record. */
const recordOf = (store: BlobStore, digest: string) => join(store.dir, 'verified', 'sha256', digest.slice('sha256:'.length));

/** Streams a blob with reused buffers, copying each chunk before asking for the next, as the ISO writer does. */
async function copyOut(store: BlobStore, digest: string): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of store.open(digest, { reuseBuffers: true })) parts.push(Buffer.from(c));
  return Buffer.concat(parts);
}

describe('blob store', () => {
  it('stores by digest, refuses wrong digests and sizes, and leaves no temp file', async () => {
    const store = await openBlobStore({ dir: join(dir, 's1') });
    const bytes = randomBytes(3 << 20);
    const info = await store.put(bytes);
    expect(info).toEqual({ digest: sha256Digest(bytes), size: bytes.length });
    expect(await store.has(info.digest, bytes.length)).toBe(true);
    expect(await store.has(info.digest, 1)).toBe(false);
    const wrong = await store.put(randomBytes(10), { expectedDigest: info.digest }).catch((e) => e);
    expect(wrong).toBeInstanceOf(PackagingError);
    expect(wrong.code).toBe('BLOB_DIGEST_MISMATCH');
    const short = await store.put(bytes.subarray(1), { expectedSize: bytes.length }).catch((e) => e);
    expect(short.code).toBe('BLOB_SIZE_MISMATCH');
    expect(await readdir(join(store.dir, 'tmp'))).toEqual([]);
    expect(Buffer.from(await store.read(info.digest)).equals(bytes)).toBe(true);
  });

  it('verifies parallel multi-MiB ingests (hashed on the second core) and stores none under a wrong digest', async () => {
    const store = await openBlobStore({ dir: join(dir, 's1p') });
    const good = randomBytes((3 << 20) + 12345);
    const bad = Buffer.from(good);
    bad[(2 << 20) + 7]! ^= 1;
    const digest = sha256Digest(good);
    // Fed in 64 KiB pieces, as a socket delivers them, three at once.
    const feed = async (bytes: Buffer) => {
      const ing = await store.ingest({ expectedDigest: digest, expectedSize: bytes.length });
      try {
        for (let off = 0; off < bytes.length; off += 65536) await ing.write(bytes.subarray(off, off + 65536));
        return await ing.commit();
      } catch (err) {
        await ing.abort();
        throw err;
      }
    };
    const [ok, wrong, again] = await Promise.allSettled([feed(good), feed(bad), feed(good)]);
    expect(ok).toEqual({ status: 'fulfilled', value: { digest, size: good.length } });
    expect(again.status).toBe('fulfilled');
    expect(wrong.status === 'rejected' && (wrong.reason as PackagingError).code).toBe('BLOB_DIGEST_MISMATCH');
    expect(Buffer.from(await store.read(digest)).equals(good)).toBe(true);
    expect(await readdir(join(store.dir, 'tmp'))).toEqual([]);
  });

  it('counts a chunk in bytesWritten as soon as it is handed over, also while it waits for a buffer of the hashing thread', async () => {
    // Two large ingests at once: the second is hashed on the second core, through one buffer.
    const store = await openBlobStore({ dir: join(dir, 's1w') });
    const a = randomBytes(4 << 20);
    const b = randomBytes(4 << 20);
    const feed = async (bytes: Buffer) => {
      const ing = await store.ingest({ expectedDigest: sha256Digest(bytes), expectedSize: bytes.length });
      let fed = 0;
      let waited = 0;
      for (let off = 0; off < bytes.length; off += 65536) {
        const chunk = bytes.subarray(off, off + 65536);
        const wait = ing.write(chunk);
        fed += chunk.length;
        // What a resumed download would ask the registry for: every byte after those handed over.
        expect(ing.bytesWritten).toBe(fed);
        if (wait) {
          waited++;
          await wait;
        }
      }
      await ing.commit();
      return waited;
    };
    const [, waitedB] = await Promise.all([feed(a), feed(b)]);
    // The threaded ingest did wait for its buffer: the case this test is about happened.
    expect(waitedB).toBeGreaterThan(0);
    expect(Buffer.from(await store.read(sha256Digest(b))).equals(b)).toBe(true);
  });

  it('detects a blob corrupted on disk, on read, verify and stream', async () => {
    const store = await openBlobStore({ dir: join(dir, 's2') });
    const { digest } = await store.put(randomBytes(1000));
    await writeFile(store.path(digest), randomBytes(1000));
    const chunks: Uint8Array[] = [];
    const streamErr = await (async () => {
      for await (const c of store.open(digest)) chunks.push(c);
    })().catch((e) => e);
    expect(streamErr.code).toBe('BLOB_DIGEST_MISMATCH');
    await expect(store.verify(digest)).rejects.toThrow(/expected sha256:/);
    expect(await store.has(digest)).toBe(false);
  });

  it('streams with reused buffers hashed on the second core: the same bytes, and a damaged blob still fails', async () => {
    const store = await openBlobStore({ dir: join(dir, 's2b') });
    // 9.5 MiB: more chunks than buffers, and a short last chunk.
    const bytes = randomBytes(9.5 * 1024 * 1024);
    const { digest } = await store.put(bytes);
    const copy = () => copyOut(store, digest);
    expect((await copy()).equals(bytes)).toBe(true);
    // One byte flipped in the sixth MiB (a buffer read for the second time).
    const damaged = Buffer.from(bytes);
    damaged[5.5 * 1024 * 1024] = damaged[5.5 * 1024 * 1024]! ^ 0x01;
    await writeFile(store.path(digest), damaged);
    const err = await copy().catch((e: unknown) => e);
    expect((err as PackagingError).code).toBe('BLOB_DIGEST_MISMATCH');
    // A stream abandoned half-way leaves nothing running (the process would not exit otherwise).
    for await (const _ of store.open(digest, { reuseBuffers: true })) break;
  });

  it('stops the hashing thread once idle, and a later stream starts one that still catches damage', async () => {
    const store = await openBlobStore({ dir: join(dir, 's2c') });
    const bytes = randomBytes(3.5 * 1024 * 1024);
    const { digest } = await store.put(bytes);
    const copy = () => copyOut(store, digest);
    expect((await copy()).equals(bytes)).toBe(true);
    const deadline = Date.now() + 5000;
    while (hashThreadsRunning() > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(hashThreadsRunning()).toBe(0);
    const damaged = Buffer.from(bytes);
    damaged[3 * 1024 * 1024 + 5] = damaged[3 * 1024 * 1024 + 5]! ^ 0x80;
    await writeFile(store.path(digest), damaged);
    const err = await copy().catch((e: unknown) => e);
    expect((err as PackagingError).code).toBe('BLOB_DIGEST_MISMATCH');
    // Two streams back to back, the second after the first worker's exit: both verified.
    await writeFile(store.path(digest), bytes);
    expect((await copy()).equals(bytes)).toBe(true);
    await new Promise((r) => setTimeout(r, 400));
    expect((await copy()).equals(bytes)).toBe(true);
  });

  it('prunes unused blobs, keeping what is asked and what was used recently', async () => {
    const store = await openBlobStore({ dir: join(dir, 's3') });
    const a = await store.put(randomBytes(100));
    const b = await store.put(randomBytes(200));
    const c = await store.put(randomBytes(300));
    const d = await store.put(randomBytes(400));
    const old = new Date(Date.now() - 10 * 86400_000);
    // Last used ten days ago: the blob's times and its trust record's (has() sets the record's).
    for (const x of [a, b, d]) {
      await utimes(store.path(x.digest), old, old);
      await utimes(recordOf(store, x.digest), old, old);
    }
    // Used now: has() marks it on its record, and prune reads that.
    expect(await store.has(d.digest)).toBe(true);
    expect(await store.prune({ keep: [b.digest], olderThanMs: 86400_000 })).toEqual({ removed: 1, bytes: 100, tempFilesRemoved: 0, tempBytesRemoved: 0 });
    expect(await store.has(a.digest)).toBe(false);
    expect(await store.has(b.digest)).toBe(true);
    expect(await store.has(c.digest)).toBe(true);
    expect(await store.has(d.digest)).toBe(true);
    expect(await store.prune()).toEqual({ removed: 3, bytes: 900, tempFilesRemoved: 0, tempBytesRemoved: 0 });
    // No record outlives its blob.
    expect(await readdir(join(store.dir, 'verified', 'sha256'))).toEqual([]);
  });

  it('refuses an age that is not a number of milliseconds, 0 or more, and removes nothing', async () => {
    const store = await openBlobStore({ dir: join(dir, 's3-bad-age') });
    const a = await store.put(randomBytes(100));
    const old = new Date(Date.now() - 10 * 86400_000);
    await utimes(store.path(a.digest), old, old);
    await utimes(recordOf(store, a.digest), old, old);
    // NaN compared false with every time, and a negative age put the cutoff in the future: both
    // removed every blob not kept.
    for (const olderThanMs of [Number.NaN, -1, Number.POSITIVE_INFINITY]) {
      await expect(store.prune({ olderThanMs })).rejects.toMatchObject({ code: 'OPTION_INVALID', message: expect.stringContaining('olderThanMs') });
    }
    // (Not has(): it marks the blob used.)
    expect((await stat(store.path(a.digest))).size).toBe(100);
    expect((await store.prune({ olderThanMs: 86400_000 })).removed).toBe(1);
  });

  it('keeps a trust record of each blob it hashed, which any change to the file voids', async () => {
    const store = await openBlobStore({ dir: join(dir, 's4') });
    const bytes = randomBytes(2 << 20);
    const { digest } = await store.put(bytes);
    const path = store.path(digest);
    const st = await stat(path, { bigint: true });
    expect(await store.trusted(digest)).toEqual({ dev: st.dev, ino: st.ino, size: st.size, mtimeNs: st.mtimeNs, ctimeNs: st.ctimeNs });
    // Marking the blob as used does not void its record.
    expect(await store.has(digest)).toBe(true);
    expect(await store.trusted(digest)).toBeDefined();

    // A chmod voids it; hashing the blob again (verify, or a verified stream) records it anew.
    await chmod(path, 0o600);
    expect(await store.trusted(digest)).toBeUndefined();
    await store.verify(digest, { ifChanged: true });
    expect(await store.trusted(digest)).toBeDefined();
    await chmod(path, 0o644);
    expect(await store.trusted(digest)).toBeUndefined();
    expect((await copyOut(store, digest)).equals(bytes)).toBe(true);
    expect(await store.trusted(digest)).toBeDefined();

    // The same bytes put in its place by rename: another inode, no record.
    await writeFile(`${path}.new`, bytes);
    await rename(`${path}.new`, path);
    expect(await store.trusted(digest)).toBeUndefined();
    await store.verify(digest);

    // Other bytes of the same size, with the old modification time set back: the change time
    // still moved, so the blob is hashed again and the damage found.
    const before = await stat(path);
    const damaged = Buffer.from(bytes);
    damaged[12345]! ^= 0x10;
    await writeFile(path, damaged);
    await utimes(path, before.atime, before.mtime);
    expect(await store.trusted(digest)).toBeUndefined();
    const err = await store.verify(digest, { ifChanged: true }).catch((e: unknown) => e);
    expect((err as PackagingError).code).toBe('BLOB_DIGEST_MISMATCH');
    expect(await store.has(digest)).toBe(false);
    expect(await store.trusted(digest)).toBeUndefined();

    // A record that is not one (a torn or foreign file) is no trust.
    const other = await store.put(randomBytes(1000));
    await writeFile(recordOf(store, other.digest), 'v1 1 2 3\n');
    expect(await store.trusted(other.digest)).toBeUndefined();
    expect(await store.has(other.digest)).toBe(true);
  });

  it('writeLayout copies (atomically, world-readable) when the store is on another filesystem', async (ctx) => {
    const shm = await stat('/dev/shm').catch(() => undefined);
    if (!shm || shm.dev === (await stat(dir)).dev) {
      console.log('skipped: no /dev/shm on another filesystem than the temp directory');
      ctx.skip();
    }
    const storeDir = await mkdtemp('/dev/shm/sdk-images-store-');
    try {
      const store = await openBlobStore({ dir: storeDir });
      const image = await buildImage({ layers: [{ files: [{ path: '/x', content: 'x' }] }] }, { store });
      const plan = await planRegistryLayout([{ name: 'x', tag: '1', image }], { store });
      const out = join(dir, 'copied');
      expect(await writeLayout(plan, out)).toEqual({ linked: 0, copied: 2, written: 3 });
      const layer = join(out, 'images/x/1', image.layers[0]!.digest.slice(7));
      expect((await stat(layer)).mode & 0o777).toBe(0o644);
      expect(sha256Digest(await readFile(layer))).toBe(image.layers[0]!.digest);
      // Rewriting the same layout is idempotent.
      expect(await writeLayout(plan, out)).toEqual({ linked: 0, copied: 2, written: 3 });
    } finally {
      await rm(storeDir, { recursive: true, force: true });
    }
  });

  describe('shared by two builds at once', () => {
    let reg: Registry;
    beforeAll(async () => {
      reg = await startRegistry();
      const src = await openBlobStore({ dir: join(dir, 'src') });
      const base = randomBytes(2 << 20);
      await pushImages(src, dir, reg.host, [
        { repo: 'x/a', tag: '1', image: await testImage(src, base, 1 << 20) },
        { repo: 'x/b', tag: '1', image: await testImage(src, base, 1 << 20) },
      ]);
    });
    afterAll(async () => reg.stop());

    it('two stores on one directory pull concurrently and both get verified images', async () => {
      const shared = join(dir, 'shared');
      const [s1, s2] = [await openBlobStore({ dir: shared }), await openBlobStore({ dir: shared })];
      const ref = (r: string) => ({ kind: 'registry' as const, reference: `${reg.host}/${r}`, plainHttp: true });
      const [a1, b1, a2, b2] = await Promise.all([
        fetchImage(ref('x/a:1'), { store: s1 }),
        fetchImage(ref('x/b:1'), { store: s1 }),
        fetchImage(ref('x/a:1'), { store: s2 }),
        fetchImage(ref('x/b:1'), { store: s2 }),
      ]);
      expect(a1.manifestDigest).toBe(a2.manifestDigest);
      expect(b1.manifestDigest).toBe(b2.manifestDigest);
      for (const l of [...a1.layers, ...b1.layers]) await s1.verify(l.digest);
      expect(await readdir(join(shared, 'tmp'))).toEqual([]);
      // Within one store, concurrent fetches share downloads: the base layer is fetched once per store.
      const events: FetchProgressEvent[] = [];
      const s3 = await openBlobStore({ dir: join(dir, 'one') });
      await Promise.all([fetchImage(ref('x/a:1'), { store: s3, onProgress: (e) => events.push(e) }), fetchImage(ref('x/b:1'), { store: s3, onProgress: (e) => events.push(e) })]);
      const started = events.filter((e) => e.type === 'blob-start').map((e) => (e as { digest: string }).digest);
      expect(started).toHaveLength(new Set(started).size);
    });
  });
});
