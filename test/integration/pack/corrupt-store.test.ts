import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openBlobStore, pack } from '../../../src/packaging/index.js';

const dir = mkdtempSync(join(tmpdir(), 'pack-corrupt-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function flipMiddleByte(file: string): void {
  const bytes = readFileSync(file);
  const middle = bytes.length >> 1;
  bytes.writeUInt8(bytes.readUInt8(middle) ^ 0xff, middle);
  chmodSync(file, 0o644);
  writeFileSync(file, bytes);
}

describe('pack with a damaged blob store', () => {
  const cacheDir = join(dir, 'cache');
  let layer = '';

  it('a rebuild repairs a damaged blob of a built image and gives the same ISO', async () => {
    const first = await pack({ configPath: 'examples/zenko-like', outDir: join(dir, 'a'), cacheDir, sourceDateEpoch: 0 });
    const store = await openBlobStore({ dir: cacheDir });
    layer = first.images[0]!.layers.at(-1)!.digest;
    flipMiddleByte(store.path(layer));
    const again = await pack({ configPath: 'examples/zenko-like', outDir: join(dir, 'b'), cacheDir, sourceDateEpoch: 0 });
    expect(again.sha256).toBe(first.sha256);
  });

  it('refuses to write an ISO from a blob whose bytes no longer match its digest', async () => {
    const store = await openBlobStore({ dir: cacheDir });
    const out = join(dir, 'c');
    const err = await pack({
      configPath: 'examples/zenko-like',
      outDir: out,
      cacheDir,
      sourceDateEpoch: 0,
      onProgress: (e) => {
        // Damage a stored blob after the images are in the store, before the ISO is written.
        if (e.type === 'phase' && e.phase === 'write') flipMiddleByte(store.path(layer));
      },
    }).catch((e: unknown) => e);
    expect((err as { code?: string }).code).toBe('BLOB_DIGEST_MISMATCH');
    // Nothing half-written is left behind.
    expect(existsSync(out) ? readdirSync(out) : []).toEqual([]);
  });
});
