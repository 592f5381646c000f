/**
 * The "Inputs on disk" cases of the corpus: each lays its files out in a fresh folder, then
 * `checkSolutionInputs` must report the case's code at its path, and the packer itself
 * (`fetchImage` on the same source, resolved from the folder) must fail on it: the check
 * refuses what `pack` could not do.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { validateSolution } from '../../../src/index.js';
import { checkSolutionInputs, fetchImage, openBlobStore, parsePlatform, toImageSource } from '../../../src/packaging/index.js';
import { baseSolution } from '../../fixtures/solution/base.js';
import { inputCases } from '../../fixtures/solution/corpus.js';

const root = mkdtempSync(join(tmpdir(), 'inputs-corpus-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('inputs on disk: checkSolutionInputs and the packer agree', () => {
  it.each(inputCases)('$id → $code at $path; the packer alone fails, or would ship it', async (c) => {
    const dir = mkdtempSync(join(root, `${c.id}-`));
    c.setup(dir);
    const s = baseSolution();
    c.mutate(s);
    const { solution } = validateSolution(s);
    expect(solution, 'the case must be valid for the pure model').toBeDefined();
    const report = await checkSolutionInputs({ solution: solution!, baseDir: dir });
    expect(report.issues.map((i) => `${i.code} ${i.path}`)).toContain(`${c.code} ${c.path}`);
    expect(report.ok).toBe(false);
    const index = Number(/^images\[(\d+)\]/.exec(c.path)![1]);
    const image = solution!.definition.images[index]!;
    const store = await openBlobStore({ dir: join(dir, '.store') });
    const fetched = fetchImage(toImageSource(image.source, dir, '1970-01-01T00:00:00Z', 'linux/amd64'), { store, platform: parsePlatform('linux/amd64') });
    if (c.packWouldShip) await expect(fetched, 'without the check, pack would build it').resolves.toBeDefined();
    else await expect(fetched).rejects.toThrow();
  });
});
