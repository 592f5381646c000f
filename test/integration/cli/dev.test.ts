// `solution dev`: an edit gives exactly one validate + pack round, which reuses the build cache;
// an invalid edit gives a failed round with every issue and leaves the last good ISO in place.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DevProcess, ROOT } from './_dev.js';

const tmp = mkdtempSync(join(tmpdir(), 'cli-dev-'));
const project = join(tmp, 'project');
let dev: DevProcess;

const config = (displayName: string, name = 'devloop') => `import { defineSolution } from 'metalk8s-solution-sdk';
export default defineSolution({
  name: '${name}',
  version: '1.0.0',
  displayName: '${displayName}',
  operator: { image: 'devloop-operator' },
  images: [
    {
      name: 'devloop-operator',
      tag: '1.0.0',
      source: {
        kind: 'build',
        layers: [
          { files: [{ path: '/usr/local/bin/devloop-operator', from: 'files/operator.sh', mode: 0o755 }] },
          { directory: 'files/static', prefix: '/srv' },
        ],
      },
    },
  ],
});
`;

function manifestOf(iso: string): string {
  const r = spawnSync(process.execPath, [join(ROOT, 'dist/cli.js'), 'iso', 'cat', iso, 'manifest.yaml'], { encoding: 'utf8' });
  return r.stdout;
}

beforeAll(() => {
  mkdirSync(join(project, 'files/static'), { recursive: true });
  // The project resolves the SDK as a vendor's does, from its node_modules (here the built repository).
  mkdirSync(join(project, 'node_modules'));
  symlinkSync(ROOT, join(project, 'node_modules/metalk8s-solution-sdk'));
  writeFileSync(join(project, 'files/operator.sh'), '#!/bin/sh\nexec sleep infinity\n');
  writeFileSync(join(project, 'files/static/index.html'), `<p>${'x'.repeat(200_000)}</p>\n`);
  writeFileSync(join(project, 'solution.config.ts'), config('Dev Loop'));
  dev = new DevProcess(['.', '-o', 'out', '--cache-dir', join(tmp, 'cache'), '--source-date-epoch', '0'], { cwd: project });
});
afterAll(async () => {
  await dev?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

describe('solution dev', () => {
  it('validates and packs once at start', async () => {
    const r = await dev.round(1);
    expect(r.ok, JSON.stringify(r)).toBe(true);
    expect(r.changed).toEqual([]);
    expect(r.build).toMatchObject({ layersBuilt: 2, layersCached: 0 });
    expect(manifestOf(join(project, 'out/devloop-1.0.0.iso'))).toContain('Dev Loop');
  });

  it('an edit of the solution file gives one validate + pack round, from the build cache, with its timings', async () => {
    const before = dev.rounds.length;
    writeFileSync(join(project, 'solution.config.ts'), config('Dev Loop Two'));
    const r = await dev.round(before + 1);
    expect(r.ok, JSON.stringify(r)).toBe(true);
    expect(r.changed, JSON.stringify(r)).toEqual(['solution.config.ts']);
    expect(r.build, JSON.stringify(r)).toEqual({ layersBuilt: 0, layersCached: 2, bytesCompressed: 0 });
    expect(r.timings.total).toBe(r.timings.validate + r.timings.pack + r.timings.after);
    expect(r.timings.pack, JSON.stringify(r)).toBeGreaterThan(0);
    expect(manifestOf(join(project, 'out/devloop-1.0.0.iso'))).toContain('Dev Loop Two');
    // Exactly one round for one save.
    await new Promise((res) => setTimeout(res, 1500));
    expect(dev.rounds.length).toBe(before + 1);
  });

  it('an edit of a build input rebuilds only its layer', async () => {
    const before = dev.rounds.length;
    writeFileSync(join(project, 'files/operator.sh'), '#!/bin/sh\necho v2\nexec sleep infinity\n');
    const r = await dev.round(before + 1);
    expect(r.changed).toEqual(['files/operator.sh']);
    expect(r.build).toMatchObject({ layersBuilt: 1, layersCached: 1 });
  });

  it('an invalid edit gives a failed round naming every issue, and the next good edit packs again', async () => {
    const iso = join(project, 'out/devloop-1.0.0.iso');
    const good = readFileSync(iso);
    const before = dev.rounds.length;
    writeFileSync(join(project, 'solution.config.ts'), config('Dev Loop Two', 'Dev_Loop'));
    const bad = await dev.round(before + 1);
    expect(bad.ok).toBe(false);
    expect(bad.issues).toEqual(expect.arrayContaining([expect.objectContaining({ code: 'SOLUTION_NAME_INVALID', path: 'name', severity: 'error' })]));
    expect(bad.timings.pack).toBe(0);
    expect(Buffer.compare(readFileSync(iso), good)).toBe(0);
    writeFileSync(join(project, 'solution.config.ts'), config('Dev Loop Three'));
    const fixed = await dev.round(before + 2);
    expect(fixed.ok, JSON.stringify(fixed)).toBe(true);
    expect(manifestOf(iso)).toContain('Dev Loop Three');
  });

  it('stops cleanly on Ctrl-C', async () => {
    expect(await dev.stop()).toBe(0);
  });
});
