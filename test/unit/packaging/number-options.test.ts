// Numeric options of the packaging calls: NaN, infinities and out-of-range values are refused with
// OPTION_INVALID naming the option, before the call reads, fetches or writes anything. Each of
// these once did something else: NaN concurrency started no download, a NaN limit of the ISO
// reader turned the limit off, a bad build time surfaced only when the ISO was written.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { describeRule, numberOption } from '../../../src/_number-option.js';
import { resolveBuildTime } from '../../../src/packaging/build-time.js';
import { buildImage, devSolution, fetchImage, openBlobStore, openIso, pack } from '../../../src/packaging/index.js';
import { writeToBuffer } from './iso/_memory.js';

const tmp = mkdtempSync(join(tmpdir(), 'number-options-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const invalid = (name: string) => ({ code: 'OPTION_INVALID', message: expect.stringContaining(`${name} is `) });

describe('numberOption', () => {
  it('passes undefined and values in range through, and names the option and the rule otherwise', () => {
    const rule = { integer: true, min: 1, max: 64, unit: 'downloads at once' };
    expect(numberOption('concurrency', undefined, rule)).toBeUndefined();
    expect(numberOption('concurrency', 64, rule)).toBe(64);
    for (const bad of [Number.NaN, 0, 65, 1.5, Number.POSITIVE_INFINITY, '4' as unknown as number]) {
      expect(() => numberOption('concurrency', bad, rule)).toThrow(expect.objectContaining({ code: 'OPTION_INVALID' }));
    }
    expect(() => numberOption('concurrency', Number.NaN, rule)).toThrow('concurrency is NaN: it must be a whole number of downloads at once, from 1 to 64');
    expect(describeRule({ min: 0, unit: 'milliseconds' })).toBe('a number of milliseconds, 0 or more');
  });
});

describe('packaging calls', () => {
  it('fetchImage refuses a concurrency of NaN or 0 before asking the registry', async () => {
    const store = await openBlobStore({ dir: join(tmp, 'store') });
    for (const concurrency of [Number.NaN, 0, 1000]) {
      // 127.0.0.1:1 is unreachable: any request would fail with REGISTRY_UNREACHABLE instead.
      await expect(fetchImage({ kind: 'registry', reference: '127.0.0.1:1/x:1', plainHttp: true }, { store, concurrency })).rejects.toMatchObject(invalid('concurrency'));
    }
    await expect(fetchImage({ kind: 'registry', reference: '127.0.0.1:1/x:1', plainHttp: true, retries: Number.NaN }, { store })).rejects.toMatchObject(invalid('retries'));
  });

  it('pack refuses concurrency, imageConcurrency and sourceDateEpoch out of range before loading the solution', async () => {
    const out = join(tmp, 'never');
    const configPath = join(tmp, 'no-such-solution.config.ts');
    await expect(pack({ configPath, outDir: out, concurrency: Number.NaN })).rejects.toMatchObject(invalid('concurrency'));
    await expect(pack({ configPath, outDir: out, imageConcurrency: 0 })).rejects.toMatchObject(invalid('imageConcurrency'));
    await expect(resolveBuildTime({ sourceDateEpoch: -1 })).rejects.toMatchObject(invalid('sourceDateEpoch'));
    // 2156-01-01: past the last date an ISO 9660 directory record holds.
    await expect(resolveBuildTime({ sourceDateEpoch: 5_869_584_000 })).rejects.toMatchObject(invalid('sourceDateEpoch'));
    expect(await resolveBuildTime({ sourceDateEpoch: 5_869_583_999 })).toEqual({ epoch: 5_869_583_999, from: 'option' });
    expect(existsSync(out)).toBe(false);
  });

  it('openIso refuses a NaN limit (it turned the limit off) before opening the file', async () => {
    const iso = join(tmp, 'small.iso');
    const { writeFileSync } = await import('node:fs');
    writeFileSync(iso, (await writeToBuffer({ entries: [{ path: 'a/b/c.txt', type: 'file', source: { kind: 'bytes', data: Buffer.from('x') } }], volumeId: 'T' })).bytes);
    await expect(openIso(iso, { limits: { maxDepth: Number.NaN } })).rejects.toMatchObject(invalid('limits.maxDepth'));
    await expect(openIso(join(tmp, 'missing.iso'), { limits: { maxDirectoryBytes: -1 } })).rejects.toMatchObject(invalid('limits.maxDirectoryBytes'));
    const image = await openIso(iso, { limits: { maxDepth: 8 } });
    try {
      await expect(image.readFile('a/b/c.txt', { maxBytes: Number.NaN })).rejects.toMatchObject(invalid('maxBytes'));
      expect((await image.readFile('a/b/c.txt', { maxBytes: 1 })).toString()).toBe('x');
    } finally {
      await image.close();
    }
  });

  it('buildImage refuses a file mode outside 0o0–0o7777', async () => {
    const store = await openBlobStore({ dir: join(tmp, 'store') });
    for (const mode of [Number.NaN, 0o10000, -1, 1.5]) {
      await expect(buildImage({ layers: [{ files: [{ path: '/x', content: 'x', mode }] }] }, { store })).rejects.toMatchObject({
        code: 'VALIDATION_FAILED',
        issues: [expect.objectContaining({ code: 'IMAGE_BUILD_INVALID', path: 'layers[0].files[0].mode' })],
      });
    }
    const ok = await buildImage({ layers: [{ files: [{ path: '/x', content: 'x', mode: 0o4755 }] }] }, { store });
    expect(ok.layers).toHaveLength(1);
  });

  it('devSolution refuses a NaN debounce before watching', async () => {
    const ctl = new AbortController();
    await expect(devSolution({ configPath: tmp, outDir: join(tmp, 'dev-out'), debounceMs: Number.NaN, onRound: () => undefined, signal: ctl.signal })).rejects.toMatchObject(invalid('debounceMs'));
    expect(existsSync(join(tmp, 'dev-out'))).toBe(false);
  });
});
