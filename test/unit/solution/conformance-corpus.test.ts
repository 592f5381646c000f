import { readFileSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { validateSolution } from '../../../src/index.js';
import { baseSolution } from '../../fixtures/solution/base.js';
import { brokenCases, corpusTable, validCases } from '../../fixtures/solution/corpus.js';

const DOC = 'docs/validation-corpus.md';

function issuesOf(mutate: (s: Record<string, any>) => void) {
  const s = baseSolution();
  mutate(s);
  return validateSolution(s).issues;
}

describe('conformance corpus: what validate says', () => {
  it('has at least 80 broken and 20 tricky valid solutions', () => {
    expect(brokenCases.length).toBeGreaterThanOrEqual(80);
    expect(validCases.length).toBeGreaterThanOrEqual(20);
    expect(new Set([...brokenCases, ...validCases].map((c) => c.id)).size).toBe(brokenCases.length + validCases.length);
  });

  it.each(brokenCases.filter((c) => !c.gap))('$id → $code at $path', (c) => {
    const issues = issuesOf(c.mutate);
    const match = issues.find((i) => i.code === c.code && i.path === c.path);
    expect(match, `issues were: ${JSON.stringify(issues, null, 1)}`).toBeDefined();
    expect(match?.severity).toBe(c.severity ?? 'error');
    expect(match?.hint ?? match?.message).toBeTruthy();
  });

  it.each(brokenCases.filter((c) => c.gap))('$id is a known gap: no $code yet ($gap)', (c) => {
    expect(issuesOf(c.mutate).some((i) => i.code === c.code)).toBe(false);
  });

  it.each(validCases)('$id stays valid, without warning', (c) => {
    const report = validateSolution((() => { const s = baseSolution(); c.mutate(s); return s; })());
    expect(report.issues).toEqual([]);
    expect(report.ok).toBe(true);
  });

  it(`${DOC} is generated from the corpus (UPDATE_CORPUS_DOCS=1 rewrites it)`, () => {
    const table = corpusTable();
    if (process.env.UPDATE_CORPUS_DOCS === '1') writeFileSync(DOC, table);
    expect(readFileSync(DOC, 'utf8')).toBe(table);
  });
});
