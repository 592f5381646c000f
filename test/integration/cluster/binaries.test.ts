import { constants } from 'node:fs';
import { access, mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ClusterError } from '../../../src/errors.js';
import { CONTROL_PLANE_BINARIES, controlPlaneBinaries } from '../../../src/testing/index.js';

describe('finding the control-plane binaries', () => {
  const saved = process.env.KUBEBUILDER_ASSETS;
  const dirs: string[] = [];
  afterEach(async () => {
    if (saved === undefined) delete process.env.KUBEBUILDER_ASSETS;
    else process.env.KUBEBUILDER_ASSETS = saved;
    for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
  });

  it('fails with the list of what is missing, instead of skipping, when a directory lacks them', async () => {
    const empty = await mkdtemp(path.join(tmpdir(), 'sdk-bins-'));
    dirs.push(empty);
    const err = await controlPlaneBinaries({ binDir: empty }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ClusterError);
    expect((err as ClusterError).code).toBe('CONTROL_PLANE_UNAVAILABLE');
    expect((err as Error).message).toContain('etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok');
    expect((err as ClusterError).hint).toContain('KUBEBUILDER_ASSETS');
  });

  it('gives a path for each of CONTROL_PLANE_BINARIES (the list a CI cache keeps), each an executable file', async () => {
    const found = await controlPlaneBinaries({ build: false });
    expect([...found.keys()].sort()).toEqual([...CONTROL_PLANE_BINARIES].sort());
    for (const name of CONTROL_PLANE_BINARIES) await access(found.get(name) ?? '', constants.X_OK);
  });

  it('prefers binaries found in KUBEBUILDER_ASSETS (envtest convention)', async () => {
    const cached = await controlPlaneBinaries({ build: false });
    const assets = await mkdtemp(path.join(tmpdir(), 'sdk-assets-'));
    dirs.push(assets);
    for (const name of ['etcd', 'kube-apiserver'] as const) {
      await symlink(cached.get(name) ?? '', path.join(assets, name));
    }
    process.env.KUBEBUILDER_ASSETS = assets;
    const found = await controlPlaneBinaries({ build: false });
    expect(found.get('etcd')).toBe(path.join(assets, 'etcd'));
    expect(found.get('kube-apiserver')).toBe(path.join(assets, 'kube-apiserver'));
    // envtest ships no controllers: those still come from the build cache.
    expect(found.get('kwok')).toBe(cached.get('kwok'));
  });
});
