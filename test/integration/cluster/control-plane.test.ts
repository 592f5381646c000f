import {
  AppsV1Api,
  AuthenticationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  type V1Deployment,
} from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { METALK8S_NAMESPACES, mintServiceAccountToken, uniqueSuffix } from '../../../src/testing/index.js';

const kc = new KubeConfig();
kc.loadFromFile(inject('kubeconfigPath'));
const core = kc.makeApiClient(CoreV1Api);
const apps = kc.makeApiClient(AppsV1Api);

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`timed out waiting for ${what}${last ? ` (last error: ${String(last)})` : ''}`);
}

describe('shared control plane with MetalK8s base objects', () => {
  it('has the MetalK8s namespaces and the cluster-version annotation', async () => {
    const kubeSystem = await core.readNamespace({ name: 'kube-system' });
    expect(kubeSystem.metadata?.annotations?.['metalk8s.scality.com/cluster-version']).toBe('129.0.0');
    for (const name of METALK8S_NAMESPACES) {
      const ns = await core.readNamespace({ name });
      expect(ns.metadata?.labels?.['app.kubernetes.io/part-of']).toBe('metalk8s');
    }
  });

  it('reports the kwok Nodes Ready, the bootstrap one with its MetalK8s roles and taints', async () => {
    const bootstrap = await until('bootstrap Ready', async () => {
      const node = await core.readNode({ name: 'bootstrap' });
      return node.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ? node : undefined;
    });
    expect(bootstrap.metadata?.labels).toMatchObject({
      'node-role.kubernetes.io/bootstrap': '',
      'node-role.kubernetes.io/master': '',
      'metalk8s.scality.com/version': '129.0.0',
    });
    expect(bootstrap.spec?.taints?.map((t) => t.key).sort()).toEqual([
      'node-role.kubernetes.io/bootstrap',
      'node-role.kubernetes.io/infra',
    ]);
    await until('node-1 Ready', async () => {
      const node = await core.readNode({ name: 'node-1' });
      return node.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ? true : undefined;
    });
  });

  it('serves the Volume CRD (no default mode) and rejects a Volume without nodeName', async () => {
    const custom = kc.makeApiClient(CustomObjectsApi);
    const name = `vol-${uniqueSuffix()}`;
    const group = 'storage.metalk8s.scality.com';
    const created = (await custom.createClusterCustomObject({
      group,
      version: 'v1alpha1',
      plural: 'volumes',
      body: {
        apiVersion: `${group}/v1alpha1`,
        kind: 'Volume',
        metadata: { name },
        spec: { nodeName: 'node-1', storageClassName: 'metalk8s', sparseLoopDevice: { size: '10Gi' } },
      },
    })) as { spec: { mode: string } };
    // As MetalK8s' own CRD: no default, the API server stores no mode (absent means Filesystem).
    expect(created.spec.mode).toBeUndefined();
    await custom.deleteClusterCustomObject({ group, version: 'v1alpha1', plural: 'volumes', name });
    const err = await custom
      .createClusterCustomObject({
        group,
        version: 'v1alpha1',
        plural: 'volumes',
        body: { apiVersion: `${group}/v1alpha1`, kind: 'Volume', metadata: { name: `${name}-bad` }, spec: { storageClassName: 'metalk8s' } },
      })
      .then(
        () => undefined,
        (e: unknown) => e as { code?: number; body?: string },
      );
    expect(err?.code).toBe(422);
    expect(String(err?.body)).toContain('spec.nodeName');
  });

  it('mints ServiceAccount tokens that a TokenReview accepts', async () => {
    const ns = `sa-${uniqueSuffix()}`;
    const token = await mintServiceAccountToken(kc, ns, 'sdk');
    const review = await kc.makeApiClient(AuthenticationV1Api).createTokenReview({ body: { spec: { token } } });
    expect(review.status?.authenticated).toBe(true);
    expect(review.status?.user?.username).toBe(`system:serviceaccount:${ns}:sdk`);
    await core.deleteNamespace({ name: ns });
  });

  describe('a Deployment in its own namespace', () => {
    const ns = `deploy-${uniqueSuffix()}`;
    beforeAll(async () => {
      await core.createNamespace({ body: { metadata: { name: ns } } });
    });
    afterAll(async () => {
      await core.deleteNamespace({ name: ns });
    });

    it('becomes Available with its Pods Running on the workload node, and recovers from an eviction', async () => {
      const deployment: V1Deployment = {
        metadata: { name: 'demo-operator', namespace: ns },
        spec: {
          replicas: 2,
          selector: { matchLabels: { app: 'demo-operator' } },
          template: {
            metadata: { labels: { app: 'demo-operator' } },
            spec: { containers: [{ name: 'demo-operator', image: 'metalk8s-registry-from-config.invalid/demo-1.0.0/demo:1.0.0' }] },
          },
        },
      };
      await apps.createNamespacedDeployment({ namespace: ns, body: deployment });
      await until('Deployment Available', async () => {
        const d = await apps.readNamespacedDeployment({ name: 'demo-operator', namespace: ns });
        const available = d.status?.conditions?.some((c) => c.type === 'Available' && c.status === 'True');
        return available && d.status?.availableReplicas === 2 ? d : undefined;
      });
      const pods = await core.listNamespacedPod({ namespace: ns, labelSelector: 'app=demo-operator' });
      expect(pods.items).toHaveLength(2);
      for (const pod of pods.items) {
        expect(pod.status?.phase).toBe('Running');
        // The bootstrap node is tainted: the scheduler must have picked a workload node (node-1, or
        // one that another test of the shared control plane added).
        expect(pod.spec?.nodeName).toBeTruthy();
        expect(pod.spec?.nodeName).not.toBe('bootstrap');
      }

      const victim = pods.items[0]?.metadata?.name ?? '';
      await core.createNamespacedPodEviction({
        name: victim,
        namespace: ns,
        body: { apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name: victim, namespace: ns } },
      });
      await until('evicted Pod gone and replaced', async () => {
        const now = await core.listNamespacedPod({ namespace: ns, labelSelector: 'app=demo-operator' });
        const names = now.items.map((p) => p.metadata?.name);
        const running = now.items.filter((p) => p.status?.phase === 'Running' && !p.metadata?.deletionTimestamp);
        return !names.includes(victim) && running.length === 2 ? true : undefined;
      });
    });
  });
});
