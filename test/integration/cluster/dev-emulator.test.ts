/**
 * `solution dev --emulator` against the emulator on the shared control plane: the first round
 * imports the solution and adds it to a dev environment; an edit of the solution file gives one
 * round that packs, imports the new dev version, upgrades the environment and removes the
 * previous version. A solution without CRDs, so nothing cluster-wide is touched.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type Cluster, connect } from '../../../src/cluster/index.js';
import { type MetalK8sEmulator, startMetalK8s, uniqueSuffix } from '../../../src/testing/index.js';
import { DevProcess } from '../cli/_dev.js';
import { emulatorEnv } from './_cli.js';

const name = `dev${uniqueSuffix()}`;
const envName = `${name}-dev`;
const definition = (displayName: string) => ({
  name,
  version: '1.0.0',
  displayName,
  operator: { image: `${name}-operator` },
  images: [
    {
      name: `${name}-operator`,
      tag: '1.0.0',
      source: { kind: 'build', layers: [{ files: [{ path: `/usr/bin/${name}-operator`, content: '#!/bin/sh\nexec sleep infinity\n', mode: 0o755 }] }] },
    },
  ],
});

describe('solution dev --emulator', () => {
  let mk8s: MetalK8sEmulator;
  let cluster: Cluster;
  let dev: DevProcess | undefined;
  const dir = mkdtempSync(join(tmpdir(), 'sdk-dev-emulator-'));

  beforeAll(async () => {
    writeFileSync(join(dir, 'solution.config.json'), JSON.stringify(definition('Dev')));
    mk8s = await startMetalK8s({ storageOperator: false, kubeconfigYaml: readFileSync(inject('kubeconfigPath'), 'utf8') });
    cluster = await connect({ kubeconfigPath: inject('kubeconfigPath'), saltApi: mk8s.saltApi });
  }, 300_000);

  afterAll(async () => {
    await dev?.stop();
    // Leave the shared cluster as it was.
    await cluster?.environments.removeSolution(envName, { name }).catch(() => undefined);
    await cluster?.solutions.deactivate(name).catch(() => undefined);
    for (const s of (await cluster?.solutions.list().catch(() => [])) ?? [])
      if (s.name === name) for (const v of s.versions) await cluster.solutions.remove(v.archive).catch(() => undefined);
    await cluster?.environments.delete(envName).catch(() => undefined);
    await mk8s?.stop();
    rmSync(dir, { recursive: true, force: true });
  }, 300_000);

  it('adds the first round to a dev environment, and an edit upgrades it in one round', async () => {
    dev = new DevProcess(['.', '-o', 'out', '--cache-dir', join(dir, 'cache'), '--emulator'], {
      cwd: dir,
      env: emulatorEnv(inject('kubeconfigPath'), mk8s.saltApi),
    });
    const first = await dev.round(1, 240_000);
    expect(first.ok, JSON.stringify(first)).toBe(true);
    expect(first.after).toMatch(new RegExp(`^added ${name} 1\\.0\\.0-dev\\.\\d+\\.1 in environment ${envName}$`));
    const v1 = first.version?.slice(name.length + 1) ?? '';
    expect((await cluster.environments.list()).find((e) => e.name === envName)?.solutions[name]).toBe(v1);

    writeFileSync(join(dir, 'solution.config.json'), JSON.stringify(definition('Dev, edited')));
    const second = await dev.round(2, 240_000);
    expect(second.ok, JSON.stringify(second)).toBe(true);
    expect(second.changed).toEqual(['solution.config.json']);
    expect(second.after).toMatch(new RegExp(`^upgraded ${name} 1\\.0\\.0-dev\\.\\d+\\.2 in environment ${envName}$`));
    expect(second.timings.after).toBeGreaterThan(0);
    const v2 = second.version?.slice(name.length + 1) ?? '';
    expect((await cluster.environments.list()).find((e) => e.name === envName)?.solutions[name]).toBe(v2);
    // The previous dev version is gone from the cluster and from the output folder.
    const versions = (await cluster.solutions.list()).find((s) => s.name === name)?.versions ?? [];
    expect(versions.map((v) => [v.version, v.active])).toEqual([[v2, true]]);
    expect(existsSync(first.iso ?? '')).toBe(false);
    expect(dev.rounds).toHaveLength(2);
    expect(await dev.stop()).toBe(0);
    dev = undefined;
  }, 600_000);
});
