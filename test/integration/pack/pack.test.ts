import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AbortError } from '../../../src/errors.js';
import { pack } from '../../../src/packaging/pack.js';
import { verify } from '../../../src/packaging/verify.js';
import { CLI, EPOCH, EXAMPLE, ed25519, names, packFolder, ROOT, solution, tempDir } from './_pack.js';

let dir: string;
/** A solution inside the repository (so `metalk8s-solution-sdk` resolves) with one big image. */
let big: string;

beforeAll(async () => {
  dir = await tempDir('pack');
  big = join(ROOT, 'test', `.tmp-abort-${process.pid}`);
  await mkdir(join(big, 'files'), { recursive: true });
  await writeFile(join(big, 'files', 'payload.bin'), randomBytes(96 * 1024 * 1024));
  await writeFile(
    join(big, 'solution.config.ts'),
    `import { defineSolution } from 'metalk8s-solution-sdk';
export default defineSolution({
  name: 'bulky',
  version: '1.0.0',
  operator: { image: 'bulky-operator' },
  images: [{ name: 'bulky-operator', tag: '1.0.0', source: { kind: 'build', layers: [{ files: [{ path: '/payload.bin', from: 'files/payload.bin' }] }] } }],
});
`,
  );
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
  await rm(big, { recursive: true, force: true });
});

describe('pack is reproducible', () => {
  it('cold cache, warm cache, another cold cache and the CLI give the same bytes', async () => {
    const cold = await packFolder(EXAMPLE, join(dir, 'a'), join(dir, 'cache-1'));
    const warm = await packFolder(EXAMPLE, join(dir, 'b'), join(dir, 'cache-1'));
    const other = await packFolder(EXAMPLE, join(dir, 'c'), join(dir, 'cache-2'));
    expect(warm.images.every((i) => i.bytesDownloaded === 0)).toBe(true);
    expect(warm.sha256).toBe(cold.sha256);
    expect(other.sha256).toBe(cold.sha256);
    expect(Buffer.compare(await readFile(cold.path), await readFile(other.path))).toBe(0);
    // The CLI, signing: same bytes, and `solution verify --key` accepts the result.
    const keys = ed25519();
    await writeFile(join(dir, 'sign.pem'), keys.privatePem);
    await writeFile(join(dir, 'sign.pub.pem'), keys.publicPem);
    const r = solution('pack', EXAMPLE, '-o', join(dir, 'd'), '--cache-dir', join(dir, 'cache-3'), '--source-date-epoch', String(EPOCH), '--sign', join(dir, 'sign.pem'), '-q');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(await readFile(join(dir, 'd', 'SHA256SUM'), 'utf8')).toBe(`${cold.sha256}  zenko-2.6.0.iso\n`);
    const v = solution('verify', join(dir, 'd', 'zenko-2.6.0.iso'), '--key', join(dir, 'sign.pub.pem'));
    expect(v.status).toBe(0);
    expect(v.stdout).toContain('checksum   match');
    expect(v.stdout).toContain('signature  valid');
    // Another build time changes the bytes (the epoch is really used).
    const later = await packFolder(EXAMPLE, join(dir, 'e'), join(dir, 'cache-1'), { sourceDateEpoch: EPOCH + 1 });
    expect(later.sha256).not.toBe(cold.sha256);
  });
});

describe('pack can be cancelled', () => {
  it('an abort during the write phase leaves no ISO and no temp file, and the store stays usable', async () => {
    const out = join(dir, 'abort-out');
    const cache = join(dir, 'abort-cache');
    const ctl = new AbortController();
    let seenWrite = 0;
    const run = pack({
      configPath: big,
      outDir: out,
      cacheDir: cache,
      sourceDateEpoch: EPOCH,
      signal: ctl.signal,
      onProgress: (e) => {
        if (e.type === 'write' && e.bytesWritten > 0 && e.bytesWritten < e.bytesTotal) {
          seenWrite = e.bytesWritten;
          ctl.abort(new Error('test abort'));
        }
      },
    });
    await expect(run).rejects.toBeInstanceOf(AbortError);
    expect(seenWrite).toBeGreaterThan(0);
    expect(await names(out)).toEqual([]);
    const again = await pack({ configPath: big, outDir: out, cacheDir: cache, sourceDateEpoch: EPOCH });
    expect(again.images[0]!.bytesDownloaded).toBe(0);
    expect(await names(out)).toEqual(['SHA256SUM', 'bulky-1.0.0.iso']);
    expect((await verify({ path: again.path })).ok).toBe(true);
  }, 180_000);

  it('Ctrl-C (SIGINT) during the write phase: a failing exit, no ISO, no temp file; the next pack succeeds', async () => {
    const out = join(dir, 'sigint-out');
    const cache = join(dir, 'abort-cache');
    const child = spawn(process.execPath, [CLI, 'pack', big, '-o', out, '--cache-dir', cache, '--source-date-epoch', String(EPOCH), '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let signalled = false;
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString();
      if (!signalled && /"phase":"writing ISO","done":[1-9]/.test(stdout)) {
        signalled = true;
        child.kill('SIGINT');
      }
    });
    const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    expect(signalled).toBe(true);
    // withInterrupt sets 130, then the error printer sets 1 (see the pack command): either says "failed".
    expect(code).toBeOneOf([130, 1]);
    expect(stdout).toContain('"code":"ABORTED"');
    expect(await names(out)).toEqual([]);
    const r = solution('pack', big, '-o', out, '--cache-dir', cache, '--source-date-epoch', String(EPOCH), '-q');
    expect(r.status).toBe(0);
    expect(await names(out)).toEqual(['SHA256SUM', 'bulky-1.0.0.iso']);
  }, 180_000);
});
