import { describe, expect, it } from 'vitest';
import { validateSolution } from '../../../src/index.js';
import { baseSolution } from '../../fixtures/solution/base.js';
import { brokenCases, validCases } from '../../fixtures/solution/corpus.js';

/** A small seeded generator, so a failure replays. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const JUNK: unknown[] = [null, 0, -1, 1.5, '', 'x', '{{', '(?=', [], [null], {}, { a: 1 }, true, '1.5Gi', 'rate(x)'];

function paths(v: unknown, prefix: (string | number)[] = [], out: (string | number)[][] = []): (string | number)[][] {
  // Plain data only: zod schemas and Size objects are the vendor's values, not fields.
  if (Array.isArray(v) || (v && typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype)) {
    for (const [k, x] of Object.entries(v)) {
      const p = [...prefix, Array.isArray(v) ? Number(k) : k];
      out.push(p);
      paths(x, p, out);
    }
  }
  return out;
}

describe('validateSolution never throws, whatever the input holds', () => {
  it('junk at any path of any corpus case gives issues, not an exception', () => {
    const next = rng(42);
    const cases = [...brokenCases, ...validCases];
    let runs = 0;
    for (const c of cases) {
      for (let i = 0; i < 4; i++) {
        const s = baseSolution();
        c.mutate(s);
        const all = paths(s);
        const target = all[Math.floor(next() * all.length)]!;
        let parent: any = s;
        for (const k of target.slice(0, -1)) parent = parent[k];
        parent[target.at(-1)!] = JUNK[Math.floor(next() * JUNK.length)];
        expect(() => validateSolution(s), JSON.stringify(target)).not.toThrow();
        runs++;
      }
    }
    expect(runs).toBeGreaterThan(400);
  });
});
