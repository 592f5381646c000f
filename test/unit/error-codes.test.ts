import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { renderErrorsDoc, scanCodes } from '../../scripts/error-codes.mjs';
import { ISSUE_CODES, SDK_ERROR_CODES } from '../../src/index.js';

const src = fileURLToPath(new URL('../../src', import.meta.url));
const scan = scanCodes(src);

function sources(dir: string): string {
  return readdirSync(dir)
    .map((f) => join(dir, f))
    .map((p) => (statSync(p).isDirectory() ? sources(p) : p.endsWith('.ts') && !p.endsWith('error-codes.ts') ? readFileSync(p, 'utf8') : ''))
    .join('\n');
}

describe('error and issue codes as data', () => {
  it('the scan of src/ finds the codes (it is not reading nothing)', () => {
    expect(scan.errors.get('ISO_NO_MANIFEST')?.kinds).toEqual(new Set(['IsoError']));
    expect(scan.issues.get('SOLUTION_NAME_RESERVED')).toBeDefined();
    expect(scan.errors.size).toBeGreaterThan(150);
    expect(scan.issues.size).toBeGreaterThan(150);
  });

  it('every SdkError code thrown in src/ is in SDK_ERROR_CODES, with the one class that throws it', () => {
    const listed = SDK_ERROR_CODES as Readonly<Record<string, string>>;
    const wrong = [...scan.errors]
      .filter(([code, e]) => listed[code] === undefined || [...e.kinds].some((k) => k !== listed[code]))
      .map(([code, e]) => `${code}: thrown as ${[...e.kinds].join(' and ')} in ${[...e.files].join(', ')}, listed as ${listed[code] ?? 'nothing'}`);
    expect(wrong).toEqual([]);
  });

  it('every Issue code reported in src/ is in ISSUE_CODES', () => {
    const listed = new Set<string>(ISSUE_CODES);
    expect([...scan.issues.keys()].filter((c) => !listed.has(c))).toEqual([]);
  });

  it('no listed code is dead: each is written somewhere in src/', () => {
    const text = sources(src);
    const dead = [...Object.keys(SDK_ERROR_CODES), ...ISSUE_CODES].filter((c) => !text.includes(`'${c}'`));
    expect(dead).toEqual([]);
  });

  it('docs/errors.md is generated from the lists (run `npm run errors-doc` after adding a code)', () => {
    const doc = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8');
    expect(doc).toBe(renderErrorsDoc({ sdkErrorCodes: SDK_ERROR_CODES, issueCodes: ISSUE_CODES }, scan));
  });
});
