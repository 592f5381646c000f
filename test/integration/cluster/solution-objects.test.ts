import { AppsV1Api, CoreV1Api, CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { describe, expect, inject, it } from 'vitest';
import { type CustomResource, type KubernetesObject, render, renderEnvironment } from '../../../src/index.js';
import { loadSolutionFile } from '../../../src/packaging/index.js';
import { applyObjects, uniqueSuffix } from '../../../src/testing/index.js';
import type { ZenkoCrd } from '../../../examples/zenko-like/solution.config.js';

const kc = new KubeConfig();
kc.loadFromFile(inject('kubeconfigPath'));
const core = kc.makeApiClient(CoreV1Api);
const apps = kc.makeApiClient(AppsV1Api);
const custom = kc.makeApiClient(CustomObjectsApi);

const { solution } = await loadSolutionFile('examples/zenko-like');
const { files } = render(solution);
const dec = new TextDecoder();
const docs = (path: string) => parseAllDocuments(dec.decode(files.get(path))).map((d) => d.toJS() as KubernetesObject);
const crds = [...files.keys()].filter((p) => p.endsWith('_crd.yaml')).flatMap(docs);
const platform = [...files.keys()].filter((p) => p.startsWith('platform/')).flatMap(docs);

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 90_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 300));
  }
  throw new Error(`timed out waiting for ${what}${last ? ` (last error: ${String(last)})` : ''}`);
}

describe('examples/zenko-like on a real kube-apiserver', () => {
  it('the API server accepts every rendered CRD and platform object, in dry run then for real', async () => {
    expect(crds).toHaveLength(2);
    expect(platform.map((o) => o.kind).sort()).toEqual(
      expect.arrayContaining(['ConfigMap', 'PrometheusRule', 'ServiceMonitor', 'StorageClass']),
    );
    await applyObjects(kc, [...crds, ...platform], { dryRun: true, fieldManager: 'metalk8s-solution-sdk' });
    await applyObjects(kc, [...crds, ...platform], { fieldManager: 'metalk8s-solution-sdk' });
    const rule = (await custom.getNamespacedCustomObject({
      group: 'monitoring.coreos.com',
      version: 'v1',
      namespace: 'metalk8s-monitoring',
      plural: 'prometheusrules',
      name: 'zenko-alerts',
    })) as { metadata: { labels: Record<string, string> } };
    expect(rule.metadata.labels['metalk8s.scality.com/monitor']).toBe('');
  });

  it('the generated structural schema is enforced: a valid Zenko is stored with its defaults, a bad one is refused', async () => {
    const ns = `zenko-cr-${uniqueSuffix()}`;
    await core.createNamespace({ body: { metadata: { name: ns } } });
    const good: CustomResource<typeof ZenkoCrd> = {
      apiVersion: 'zenko.io/v1alpha2',
      kind: 'Zenko',
      metadata: { name: 'z1', namespace: ns },
      spec: {
        version: '2.6.0',
        cloudserver: { replicas: 2 },
        backbeat: { replicas: 1, replicationWorkers: 4 },
        mongodb: { replicas: 3, storageSize: '50Gi' },
        redis: { replicas: 1 },
        kafka: { replicas: 3, brokers: 3, retentionHours: 72 },
      },
    };
    const target = { group: 'zenko.io', version: 'v1alpha2', namespace: ns, plural: 'zenkos' };
    await custom.createNamespacedCustomObject({ ...target, body: { ...good, spec: { ...good.spec, redis: {} } } });
    const stored = (await custom.getNamespacedCustomObject({ ...target, name: 'z1' })) as typeof good;
    // Defaults from the zod schema are applied by the API server itself.
    expect(stored.spec.redis.replicas).toBe(1);
    const bad = { ...good, metadata: { name: 'z2', namespace: ns }, spec: { ...good.spec, kafka: { replicas: 0 } } };
    const err = await custom.createNamespacedCustomObject({ ...target, body: bad }).catch((e: unknown) => e);
    expect(String((err as { body?: string }).body ?? err)).toMatch(/spec\.kafka\.replicas: Invalid value: 0: spec\.kafka\.replicas in body should be greater than or equal to 1/);
  });

  it('what renderEnvironment predicts applies to a namespace and the operator Deployment becomes Available', async () => {
    const ns = `zenko-env-${uniqueSuffix()}`;
    await core.createNamespace({ body: { metadata: { name: ns } } });
    const { objects } = renderEnvironment(solution, { namespace: ns });
    expect(objects).toHaveLength(7);
    await applyObjects(kc, objects, { dryRun: true });
    await applyObjects(kc, objects);
    // A later MetalK8s adds the metrics objects; cert-manager is not part of the test control
    // plane, so its Issuer and Certificate are left out of the dry run.
    const later = renderEnvironment(solution, { namespace: ns, metalk8sVersion: '130' }).objects.slice(7);
    await applyObjects(kc, later.filter((o) => !o.apiVersion.startsWith('cert-manager.io/')), { dryRun: true });
    const dep = await until('operator Deployment Available', async () => {
      const d = await apps.readNamespacedDeployment({ name: 'zenko-operator', namespace: ns });
      return d.status?.conditions?.some((c) => c.type === 'Available' && c.status === 'True') ? d : undefined;
    });
    expect(dep.spec?.template.spec?.containers[0]?.image).toBe('metalk8s-registry-from-config.invalid/zenko-2.6.0/zenko-operator:2.6.0');
  });
});
