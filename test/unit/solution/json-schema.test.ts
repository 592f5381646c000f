import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { solutionJsonSchema } from '../../../src/index.js';

describe('schema/solution.schema.json', () => {
  it('is up to date with the zod schema (run `npm run schema` if not)', () => {
    const committed = JSON.parse(readFileSync('schema/solution.schema.json', 'utf8'));
    expect(committed).toEqual(solutionJsonSchema());
  });

  it('documents every top-level field', () => {
    const props = solutionJsonSchema().properties as Record<string, { description?: string }>;
    for (const key of ['name', 'version', 'operator', 'images', 'crds', 'storageClasses', 'alerts', 'dashboards'])
      expect(props[key]?.description, key).toBeTruthy();
  });
});

describe('docs/solution-file.md', () => {
  it('is generated from the current schema (run `npm run schema` if not)', async () => {
    const { renderSolutionFileDoc } = await import('../../../scripts/solution-file-doc.mjs');
    expect(readFileSync('docs/solution-file.md', 'utf8')).toBe(renderSolutionFileDoc(solutionJsonSchema()));
  });
});
