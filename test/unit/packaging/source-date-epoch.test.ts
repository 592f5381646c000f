import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { PackagingError } from '../../../src/errors.js';
import { sourceDateEpoch } from '../../../src/packaging/_source-date-epoch.js';
import { buildImage, openBlobStore } from '../../../src/packaging/index.js';
import { writeToBuffer } from './iso/_memory.js';

const tmp = mkdtempSync(join(tmpdir(), 'sde-'));
const old = process.env.SOURCE_DATE_EPOCH;
afterEach(() => {
  if (old === undefined) delete process.env.SOURCE_DATE_EPOCH;
  else process.env.SOURCE_DATE_EPOCH = old;
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('SOURCE_DATE_EPOCH', () => {
  it('is seconds when set, nothing when unset or empty', () => {
    expect(sourceDateEpoch({ SOURCE_DATE_EPOCH: '1700000000' })).toBe(1_700_000_000);
    expect(sourceDateEpoch({})).toBeUndefined();
    expect(sourceDateEpoch({ SOURCE_DATE_EPOCH: '' })).toBeUndefined();
  });

  it('a bad value is the same typed error for the ISO writer and the image builder (no RangeError)', async () => {
    for (const bad of ['yesterday', '-5', '1e3', '99999999999999999999']) {
      process.env.SOURCE_DATE_EPOCH = bad;
      const iso = await writeToBuffer({ entries: [], volumeId: 'T' }).catch((e: unknown) => e);
      const store = await openBlobStore({ dir: join(tmp, 'store') });
      const image = await buildImage({ layers: [{ files: [{ path: '/a', content: Buffer.from('a') }] }] }, { store }).catch((e: unknown) => e);
      for (const err of [iso, image]) {
        expect(err).toBeInstanceOf(PackagingError);
        expect((err as PackagingError).code).toBe('SOURCE_DATE_EPOCH_INVALID');
        expect((err as PackagingError).message).toContain(JSON.stringify(bad));
      }
    }
  });
});
