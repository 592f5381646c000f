import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type BlobStore,
  type BuildImageOptions,
  type BuildLayerEvent,
  buildImage,
  openBlobStore,
} from '../../../src/packaging/images/index.js';
import { run, tempDir } from './_servers.js';

let dir: string;
let store: BlobStore;

beforeAll(async () => {
  dir = await tempDir('build-cache');
  store = await openBlobStore({ dir: join(dir, 'store') });
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const options = (big: string, small: string): BuildImageOptions => ({
  layers: [
    { files: [{ path: '/usr/local/bin/app', source: big, mode: 0o755 }] },
    { files: [{ path: '/etc/app/config.yaml', source: small }, { path: '/etc/app/motd', content: 'hello\n' }] },
  ],
  config: { entrypoint: ['/usr/local/bin/app'] },
});

async function build(opts: BuildImageOptions, into: BlobStore = store, cache = true) {
  const events: BuildLayerEvent[] = [];
  const image = await buildImage(opts, { store: into, cache, onLayer: (e) => events.push(e) });
  return { image, events };
}

async function cacheEntries(s: BlobStore): Promise<string[]> {
  return (await readdir(join(s.dir, 'layer-cache'))).map((n) => join(s.dir, 'layer-cache', n));
}

describe('the build cache of built images', () => {
  let big = '';
  let small = '';
  let first: Awaited<ReturnType<typeof build>>;

  beforeAll(async () => {
    big = join(dir, 'app.bin');
    small = join(dir, 'config.yaml');
    await writeFile(big, Buffer.alloc(2_000_000, 3));
    await writeFile(small, 'level: info\n');
    first = await build(options(big, small));
  });

  it('compresses every layer on a cold build', () => {
    expect(first.events.map((e) => e.cached)).toEqual([false, false]);
    expect(first.events[0]!.bytesCompressed).toBeGreaterThan(2_000_000);
  });

  it('a rebuild with unchanged inputs compresses nothing and gives the same image', async () => {
    const again = await build(options(big, small));
    expect(again.events.map((e) => [e.cached, e.bytesCompressed])).toEqual([
      [true, 0],
      [true, 0],
    ]);
    expect(again.image.manifestDigest).toBe(first.image.manifestDigest);
  });

  it('a changed small file rebuilds only its layer, and the image is the one a fresh store gives', async () => {
    await writeFile(small, 'level: debug\n');
    const changed = await build(options(big, small));
    expect(changed.events.map((e) => e.cached)).toEqual([true, false]);
    expect(changed.events[1]!.bytesCompressed).toBeLessThan(10_000);
    const fresh = await build(options(big, small), await openBlobStore({ dir: join(dir, 'fresh') }));
    expect(changed.image.manifestDigest).toBe(fresh.image.manifestDigest);
    expect(changed.image.manifestDigest).not.toBe(first.image.manifestDigest);
    await writeFile(small, 'level: info\n');
  });

  it('a mode change is a different input', async () => {
    const opts = options(big, small);
    const layers = [{ files: [{ path: '/usr/local/bin/app', source: big, mode: 0o700 }] }, opts.layers[1]!];
    const r = await build({ ...opts, layers });
    expect(r.events.map((e) => e.cached)).toEqual([false, true]);
  });

  it('a damaged cache entry or a damaged cached blob is rebuilt, never used', async () => {
    const s = await openBlobStore({ dir: join(dir, 'damaged') });
    const cold = await build(options(big, small), s);
    // Point every entry's diff_id at another digest, keeping the JSON valid.
    for (const file of await cacheEntries(s)) {
      const e = JSON.parse(await readFile(file, 'utf8'));
      e.diffId = `sha256:${'0'.repeat(64)}`;
      await writeFile(file, JSON.stringify(e));
    }
    const afterEntry = await build(options(big, small), s);
    expect(afterEntry.events.map((e) => e.cached)).toEqual([false, false]);
    expect(afterEntry.image.manifestDigest).toBe(cold.image.manifestDigest);
    // Flip a byte of the big layer's blob: the cache verifies it and rebuilds.
    const blob = s.path(cold.image.layers[0]!.digest);
    const bytes = await readFile(blob);
    bytes[bytes.length >> 1] = (bytes[bytes.length >> 1] ?? 0) ^ 0xff;
    await writeFile(blob, bytes);
    const afterBlob = await build(options(big, small), s);
    expect(afterBlob.events.map((e) => e.cached)).toEqual([false, true]);
    expect(afterBlob.image.manifestDigest).toBe(cold.image.manifestDigest);
    // The layer in the store is whole again: gzip reads it to the end.
    await run('gzip', ['-t', s.path(cold.image.layers[0]!.digest)]);
  });

  it('pruning the store drops the entries of removed layers; the next build compresses again', async () => {
    const s = await openBlobStore({ dir: join(dir, 'pruned') });
    const cold = await build(options(big, small), s);
    expect(await cacheEntries(s)).toHaveLength(2);
    await s.prune({ keep: [cold.image.layers[1]!.digest] });
    expect(await cacheEntries(s)).toHaveLength(1);
    const again = await build(options(big, small), s);
    expect(again.events.map((e) => e.cached)).toEqual([false, true]);
    expect(again.image.manifestDigest).toBe(cold.image.manifestDigest);
  });

  it('cache: false builds every layer', async () => {
    const r = await build(options(big, small), store, false);
    expect(r.events.map((e) => e.cached)).toEqual([false, false]);
    expect(r.image.manifestDigest).toBe(first.image.manifestDigest);
  });
});
