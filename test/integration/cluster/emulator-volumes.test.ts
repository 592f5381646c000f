import { readFile } from 'node:fs/promises';
import { CoreV1Api, CustomObjectsApi, KubeConfig, type V1PersistentVolume } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type MetalK8sEmulator, startMetalK8s, uniqueSuffix } from '../../../src/testing/index.js';

const group = 'storage.metalk8s.scality.com';
type Volume = { metadata: { uid: string; finalizers?: string[] }; status?: { conditions?: { type: string; status: string; reason?: string; message?: string }[] } };

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out waiting for ${what}`);
}

// The emulator's storage-operator against the real API server, PV controller and scheduler.
describe('Volumes on the emulator', () => {
  const suffix = uniqueSuffix();
  const kc = new KubeConfig();
  let custom: CustomObjectsApi;
  let core: CoreV1Api;
  let mk8s: MetalK8sEmulator;
  const ns = `volumes-${suffix}`;
  const nodeName = `vol-${suffix}`;

  const createVolume = (name: string, spec: Record<string, unknown>) =>
    custom.createClusterCustomObject({
      group,
      version: 'v1alpha1',
      plural: 'volumes',
      body: { apiVersion: `${group}/v1alpha1`, kind: 'Volume', metadata: { name }, spec },
    });
  const readVolume = async (name: string) =>
    (await custom.getClusterCustomObject({ group, version: 'v1alpha1', plural: 'volumes', name })) as Volume;

  beforeAll(async () => {
    kc.loadFromFile(inject('kubeconfigPath'));
    custom = kc.makeApiClient(CustomObjectsApi);
    core = kc.makeApiClient(CoreV1Api);
    // No disk of its own: sparse Volumes are files attached as loop devices (needs root).
    mk8s = await startMetalK8s({ kubeconfigYaml: await readFile(inject('kubeconfigPath'), 'utf8'), disks: [], workloadNodes: [nodeName] });
    await core.createNamespace({ body: { metadata: { name: ns } } });
  });
  afterAll(async () => {
    await core.deleteNamespace({ name: ns }).catch(() => undefined);
    await mk8s?.stop();
  });

  it('prepares a sparse Volume into the PersistentVolume storage-operator makes', async () => {
    const name = `sparse-${suffix}`;
    await createVolume(name, {
      nodeName,
      storageClassName: 'metalk8s',
      sparseLoopDevice: { size: '10Gi' },
      template: { metadata: { labels: { 'app.kubernetes.io/name': `data-${suffix}` } } },
    });
    const volume = await until('Volume Ready', async () => {
      const v = await readVolume(name);
      return v.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ? v : undefined;
    });
    expect(volume.metadata.finalizers).toContain(`${group}/volume-protection`);
    const pv: V1PersistentVolume = await core.readPersistentVolume({ name });
    expect(pv.metadata?.finalizers).toContain(`${group}/volume-protection`);
    expect(pv.metadata?.labels?.['app.kubernetes.io/name']).toBe(`data-${suffix}`);
    expect(pv.metadata?.ownerReferences?.[0]).toMatchObject({ kind: 'Volume', name, uid: volume.metadata.uid, controller: true });
    expect(pv.spec).toMatchObject({
      accessModes: ['ReadWriteOnce'],
      capacity: { storage: '10Gi' },
      mountOptions: ['rw', 'discard'],
      volumeMode: 'Filesystem',
      local: { path: `/dev/disk/by-uuid/${volume.metadata.uid}`, fsType: 'ext4' },
      persistentVolumeReclaimPolicy: 'Retain',
      storageClassName: 'metalk8s',
    });
    expect(pv.spec?.nodeAffinity?.required?.nodeSelectorTerms[0]?.matchExpressions?.[0]).toEqual({
      key: 'kubernetes.io/hostname',
      operator: 'In',
      values: [nodeName],
    });
  });

  it('lets a Pod claim it through the real PV controller and scheduler', async () => {
    await core.createNamespacedPersistentVolumeClaim({
      namespace: ns,
      body: {
        metadata: { name: 'data' },
        spec: {
          storageClassName: 'metalk8s',
          accessModes: ['ReadWriteOnce'],
          resources: { requests: { storage: '5Gi' } },
          selector: { matchLabels: { 'app.kubernetes.io/name': `data-${suffix}` } },
        },
      },
    });
    await core.createNamespacedPod({
      namespace: ns,
      body: {
        metadata: { name: 'user' },
        spec: {
          containers: [{ name: 'app', image: 'metalk8s-registry-from-config.invalid/demo-1.0.0/app:1.0.0' }],
          volumes: [{ name: 'data', persistentVolumeClaim: { claimName: 'data' } }],
        },
      },
    });
    const pod = await until('Pod Running', async () => {
      const p = await core.readNamespacedPod({ name: 'user', namespace: ns });
      return p.status?.phase === 'Running' ? p : undefined;
    }, 60_000);
    expect(pod.spec?.nodeName).toBe(nodeName);
    const pvc = await core.readNamespacedPersistentVolumeClaim({ name: 'data', namespace: ns });
    expect(pvc.status?.phase).toBe('Bound');
    expect(pvc.spec?.volumeName).toBe(`sparse-${suffix}`);
  });

  it('refuses a Volume whose StorageClass does not exist, saying which', async () => {
    const name = `nosc-${suffix}`;
    await createVolume(name, { nodeName, storageClassName: 'no-such-class', sparseLoopDevice: { size: '1Gi' } });
    const ready = await until('Volume failed', async () => {
      const c = (await readVolume(name)).status?.conditions?.find((x) => x.type === 'Ready');
      return c?.status === 'False' ? c : undefined;
    });
    expect(ready.reason).toBe('CreationError');
    expect(ready.message).toContain('StorageClass no-such-class not found');
    await custom.deleteClusterCustomObject({ group, version: 'v1alpha1', plural: 'volumes', name });
  });

  it('deletes the PersistentVolume first, then releases the Volume', async () => {
    const name = `gone-${suffix}`;
    await createVolume(name, { nodeName, storageClassName: 'metalk8s', sparseLoopDevice: { size: '1Gi' } });
    await until('PV created', async () => core.readPersistentVolume({ name }));
    await custom.deleteClusterCustomObject({ group, version: 'v1alpha1', plural: 'volumes', name });
    await until('Volume and PV gone', async () => {
      const pvGone = await core.readPersistentVolume({ name }).then(() => false, () => true);
      const volGone = await readVolume(name).then(() => false, () => true);
      return pvGone && volGone ? true : undefined;
    });
  });
});
