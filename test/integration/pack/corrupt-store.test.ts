import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openBlobStore, pack } from '../../../src/packaging/index.js';

const dir = mkdtempSync(join(tmpdir(), 'pack-corrupt-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Damages a file in place and sets its modification time back, as a careless repair would. */
function flipMiddleByte(file: string): void {
  const { atime, mtime } = statSync(file);
  const bytes = readFileSync(file);
  const middle = bytes.length >> 1;
  bytes.writeUInt8(bytes.readUInt8(middle) ^ 0xff, middle);
  chmodSync(file, 0o644);
  writeFileSync(file, bytes);
  utimesSync(file, atime, mtime);
}

describe('pack with a damaged blob store', () => {
  const cacheDir = join(dir, 'cache');
  let layer = '';

  it('a rebuild repairs a damaged blob of a built image and gives the same ISO', async () => {
    const first = await pack({ configPath: 'examples/zenko-like', outDir: join(dir, 'a'), cacheDir, sourceDateEpoch: 0 });
    // An empty store: the layers compressed by this run count as taken in now (the configs were
    // stored by it too, moments before, and have their records).
    expect(first.build.layersBuilt).toBeGreaterThan(0);
    expect(first.blobs.ingested).toBeGreaterThan(0);
    expect(first.blobs.ingested).toBeLessThanOrEqual(first.build.layersBuilt);
    expect(first.blobs.rehashed).toBe(0);
    const store = await openBlobStore({ dir: cacheDir });
    layer = first.images[0]!.layers.at(-1)!.digest;
    flipMiddleByte(store.path(layer));
    const again = await pack({ configPath: 'examples/zenko-like', outDir: join(dir, 'b'), cacheDir, sourceDateEpoch: 0 });
    expect(again.sha256).toBe(first.sha256);
  });

  it('copies unchanged stored blobs on their trust record, or hashes them all again when asked', async () => {
    const warm = await pack({ configPath: 'examples/zenko-like', outDir: join(dir, 'w'), cacheDir, sourceDateEpoch: 0 });
    const blobs = warm.blobs.ingested + warm.blobs.trusted + warm.blobs.rehashed;
    expect(blobs).toBeGreaterThan(3);
    expect(warm.blobs).toEqual({ ingested: 0, trusted: blobs, rehashed: 0 });
    const checked = await pack({ configPath: 'examples/zenko-like', outDir: join(dir, 'r'), cacheDir, sourceDateEpoch: 0, recheckStore: true });
    expect(checked.blobs).toEqual({ ingested: 0, trusted: 0, rehashed: blobs });
    expect(checked.sha256).toBe(warm.sha256);
  });

  it('refuses to write an ISO from a blob whose bytes no longer match its digest', async () => {
    const store = await openBlobStore({ dir: cacheDir });
    expect(await store.trusted(layer)).toBeDefined();
    const out = join(dir, 'c');
    const events: string[] = [];
    const err = await pack({
      configPath: 'examples/zenko-like',
      outDir: out,
      cacheDir,
      sourceDateEpoch: 0,
      onProgress: (e) => {
        events.push(e.type);
        // Damage a stored blob after it was found unchanged since it was hashed, before the ISO
        // is written: the writer sees the file changed, and the pack hashes every blob again.
        if (e.type === 'phase' && e.phase === 'write') flipMiddleByte(store.path(layer));
      },
    }).catch((e: unknown) => e);
    expect(events).toContain('store-recheck');
    expect((err as { code?: string }).code).toBe('BLOB_DIGEST_MISMATCH');
    // Nothing half-written is left behind.
    expect(existsSync(out) ? readdirSync(out) : []).toEqual([]);
  });
});
