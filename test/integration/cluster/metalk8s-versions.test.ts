/**
 * The emulator played at MetalK8s versions other than 129, on its own control plane (it sets
 * the cluster version): what prepare-environment writes at 130 is what renderEnvironment
 * predicts for 130, metrics objects included; an older MetalK8s without `--webhook` gets a
 * warning from addSolution.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type LifecycleProgressEvent } from '../../../src/cluster/index.js';
import { kubeGet, kubePatch } from '../../../src/_kube.js';
import type { ClusterError } from '../../../src/errors.js';
import { renderEnvironment, type Solution } from '../../../src/index.js';
import { loadSolutionFile, pack } from '../../../src/packaging/index.js';
import { type ControlPlane, startControlPlane, startMetalK8s } from '../../../src/testing/index.js';

type Obj = { metadata: { name: string; labels?: Record<string, string> } };

describe('the emulator at other MetalK8s versions', () => {
  let cp: ControlPlane;
  let dir: string;
  let solution: Solution;
  let iso: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sdk-versions-'));
    ({ solution } = await loadSolutionFile('examples/zenko-like'));
    [cp, { path: iso }] = await Promise.all([
      startControlPlane(),
      pack({ solution, baseDir: 'examples/zenko-like', outDir: dir }),
    ]);
  }, 600_000);

  afterAll(async () => {
    await cp?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('at 130, prepare-environment writes the operator metrics objects renderEnvironment predicts for 130', async () => {
    const mk8s = await startMetalK8s({ kubeconfigYaml: cp.kubeconfigYaml, metalk8sVersion: '130', storageOperator: false });
    try {
      expect(mk8s.metalk8sVersion).toBe('130.0.0');
      const cluster = await connect({ kubeconfigYaml: mk8s.kubeconfigYaml, saltApi: { url: mk8s.saltApi.url, username: mk8s.saltApi.username, token: mk8s.saltApi.token } });
      expect(cluster.saltenv).toBe('metalk8s-130.0.0');
      await cluster.solutions.import(iso);
      await cluster.solutions.activate('zenko', { version: '2.6.0' });
      await cluster.environments.create('zenko-next');
      await cluster.environments.addSolution('zenko-next', { name: 'zenko', version: '2.6.0' });
      const predicted = renderEnvironment(solution, { namespace: 'zenko-next', metalk8sVersion: '130' });
      expect(Object.keys(predicted.laterVersionObjects)).toHaveLength(6);
      for (const o of predicted.objects) {
        const group = o.apiVersion === 'v1' ? '/api/v1' : `/apis/${o.apiVersion}`;
        const ns = ['ClusterRole', 'ClusterRoleBinding'].includes(o.kind) ? '' : '/namespaces/zenko-next';
        const live = await kubeGet<Obj>(cluster.kubeConfig, `${group}${ns}/${o.kind.toLowerCase()}s/${o.metadata.name}`);
        expect(live?.metadata.labels, `${o.kind}/${o.metadata.name}`).toEqual(o.metadata.labels);
      }
      expect(predicted.objects.find((o) => o.kind === 'ServiceMonitor')?.metadata.labels?.['metalk8s.scality.com/version']).toBe('130.0.0');
      await cluster.environments.removeSolution('zenko-next', { name: 'zenko' });
      await cluster.environments.delete('zenko-next');
      await cluster.solutions.deactivate('zenko');
      await cluster.solutions.remove(iso);
    } finally {
      await mk8s.stop();
    }
  }, 300_000);

  it('at 123, addSolution with webhook warns that this MetalK8s mounts no certificate', async () => {
    const mk8s = await startMetalK8s({ kubeconfigYaml: cp.kubeconfigYaml, metalk8sVersion: '123.0', storageOperator: false });
    try {
      const cluster = await connect({ kubeconfigYaml: mk8s.kubeconfigYaml, saltApi: { url: mk8s.saltApi.url, username: mk8s.saltApi.username, token: mk8s.saltApi.token } });
      await cluster.solutions.import(iso);
      await cluster.environments.create('zenko-old');
      const events: LifecycleProgressEvent[] = [];
      await cluster.environments.addSolution('zenko-old', { name: 'zenko', version: '2.6.0', webhook: true, onProgress: (e) => events.push(e) });
      expect(events).toContainEqual({ type: 'warning', message: expect.stringMatching(/^MetalK8s 123\.0\.0 has no add-solution --webhook/) });
      const dep = await kubeGet<{ spec: { template: { spec: { volumes: { name: string }[] } } } }>(cluster.kubeConfig, '/apis/apps/v1/namespaces/zenko-old/deployments/zenko-operator');
      expect(dep?.spec.template.spec.volumes.map((v) => v.name)).toEqual(['operator-config']);
      // The version label follows the saltenv of the run.
      const sa = await kubeGet<Obj>(cluster.kubeConfig, '/api/v1/namespaces/zenko-old/serviceaccounts/zenko-operator');
      expect(sa?.metadata.labels?.['metalk8s.scality.com/version']).toBe('123.0.0');
      // An environment that names a version MetalK8s does not have: the error says which.
      await kubePatch(cluster.kubeConfig, '/api/v1/namespaces/zenko-old/configmaps/metalk8s-environment', { data: { zenko: '9.9.9' } });
      const err = await cluster.salt
        .orchestrate('metalk8s.orchestrate.solutions.prepare-environment', { saltenv: cluster.saltenv, pillar: { orchestrate: { env_name: 'zenko-old' } }, pollIntervalMs: 200 })
        .catch((e: unknown) => e);
      expect((err as ClusterError).message).toContain('Cannot deploy Solution zenko-9.9.9 for environment zenko-old: Version 9.9.9 is not available for Solution zenko');
    } finally {
      await mk8s.stop();
    }
  }, 300_000);
});
