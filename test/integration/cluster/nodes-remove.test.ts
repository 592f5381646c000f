/**
 * cluster.nodes.remove on a control plane of its own (the test changes the bootstrap node's
 * roles, which the shared one must not see), with the emulator's storage-operator reconciling
 * Volumes: refusals first, then a deployed workload node with Volumes removed in order
 * (Volumes gone, then the Node, then the Salt key), a rerun that does nothing, and a node whose
 * Volume a claim holds (refused, then removed with deleteClaims).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Cluster, connect, type NodeProgressEvent } from '../../../src/cluster/index.js';
import { kubeGet, kubeRequest } from '../../../src/_kube.js';
import { type MetalK8sEmulator, startMetalK8s } from '../../../src/testing/index.js';

const VOLUMES = '/apis/storage.metalk8s.scality.com/v1alpha1/volumes';

describe('nodes: remove', () => {
  let mk8s: MetalK8sEmulator;
  let cluster: Cluster;

  const patchLabels = (node: string, labels: Record<string, string | null>) =>
    kubeRequest(cluster.kubeConfig, 'PATCH', `/api/v1/nodes/${node}`, { metadata: { labels } }, 'application/merge-patch+json');
  const keys = async () => ((await cluster.salt.wheel({ fun: 'key.list_all' })).return as { minions: string[] }).minions;

  beforeAll(async () => {
    mk8s = await startMetalK8s();
    cluster = await connect({
      kubeconfigYaml: mk8s.kubeconfigYaml,
      saltApi: { url: mk8s.saltApi.url, username: mk8s.saltApi.username, token: mk8s.saltApi.token, ca: mk8s.saltApi.ca },
    });
  }, 300_000);

  afterAll(async () => {
    await mk8s?.stop();
  });

  it('refuses the bootstrap node and the last control-plane node; a never-deployed etcd node has no member to remove', async () => {
    await expect(cluster.nodes.remove('bootstrap')).rejects.toMatchObject({ code: 'NODE_REMOVE_REFUSED', message: expect.stringContaining('bootstrap node') });
    await cluster.nodes.declare('cp-1', { roles: ['control-plane'], ssh: { host: '10.0.0.31' } });
    // A cluster whose only other master is gone: cp-1 is then the last one.
    await patchLabels('bootstrap', { 'node-role.kubernetes.io/master': null, 'node-role.kubernetes.io/etcd': null });
    try {
      await expect(cluster.nodes.remove('cp-1')).rejects.toMatchObject({ code: 'NODE_REMOVE_REFUSED', message: expect.stringContaining('last control-plane') });
    } finally {
      await patchLabels('bootstrap', { 'node-role.kubernetes.io/master': '', 'node-role.kubernetes.io/etcd': '' });
    }
    // Declared, never deployed: no etcd member to remove.
    const steps: string[] = [];
    const r = await cluster.nodes.remove('cp-1', { onProgress: (e) => e.type === 'step' && e.status === 'skipped' && steps.push(`${e.step}: ${e.detail}`) });
    expect(r).toMatchObject({ nodeDeleted: true, keyDeleted: false, changed: true });
    expect(steps).toContain('etcd-member: cp-1 is not an etcd member');
  });

  it('removes a deployed etcd node\'s member through a healthy peer, and refuses while a peer is unhealthy', async () => {
    await cluster.nodes.declare('cp-2', { roles: ['control-plane'], ssh: { host: '127.0.0.1' } });
    await cluster.nodes.deploy('cp-2', { pollIntervalMs: 300 });
    expect(mk8s.nodes.etcdMembers()).toEqual(['bootstrap', 'cp-2']);
    mk8s.nodes.setEtcdHealth('bootstrap', false);
    let err: unknown;
    try {
      err = await cluster.nodes.remove('cp-2').catch((e: unknown) => e);
    } finally {
      mk8s.nodes.setEtcdHealth('bootstrap', true);
    }
    expect(err).toMatchObject({ code: 'ETCD_MEMBER_REMOVAL_NEEDED' });
    const message = (err as Error).message;
    expect(message).toContain('https://bootstrap:2379 is unhealthy (context deadline exceeded)');
    expect(message).toContain('Nothing was changed. Once the cluster is healthy, on bootstrap run:');
    expect(message).toContain('etcdctl --endpoints https://localhost:2379 --cacert /etc/kubernetes/pki/etcd/ca.crt');
    expect(message).toContain('member remove <ID>');
    // Nothing changed: the member, the Node (still schedulable) and the key are there.
    expect(mk8s.nodes.etcdMembers()).toContain('cp-2');
    expect(await cluster.nodes.get('cp-2')).toMatchObject({ schedulable: true });

    const done: string[] = [];
    const r = await cluster.nodes.remove('cp-2', { onProgress: (e) => e.type === 'step' && e.status === 'done' && done.push(e.step) });
    expect(r).toMatchObject({ nodeDeleted: true, keyDeleted: true });
    expect(done).toEqual(['drain', 'etcd-member', 'node', 'salt-key']);
    expect(mk8s.nodes.etcdMembers()).toEqual(['bootstrap']);
  });

  it('removes a deployed workload node: its Volumes first, then the Node, then the Salt key; a rerun does nothing', async () => {
    await cluster.nodes.declare('w-1', { roles: ['workload'], ssh: { host: '127.0.0.1' } });
    await cluster.nodes.deploy('w-1', { pollIntervalMs: 300 });
    expect(await keys()).toContain('w-1');
    for (const name of ['w-1-data', 'w-1-logs']) {
      await kubeRequest(cluster.kubeConfig, 'POST', VOLUMES, {
        apiVersion: 'storage.metalk8s.scality.com/v1alpha1',
        kind: 'Volume',
        metadata: { name },
        spec: { nodeName: 'w-1', storageClassName: 'metalk8s', sparseLoopDevice: { size: '1Gi' } },
      });
    }
    let pvCount = 0;
    for (let i = 0; i < 120 && pvCount < 2; i++) {
      const pvs = await kubeGet<{ items: { metadata: { name: string } }[] }>(cluster.kubeConfig, '/api/v1/persistentvolumes');
      pvCount = (pvs?.items ?? []).filter((p) => p.metadata.name.startsWith('w-1-')).length;
      if (pvCount < 2) await new Promise((res) => setTimeout(res, 250));
    }
    // Both Volumes were provisioned (PersistentVolumes with the storage-operator's finalizer).
    expect(pvCount).toBe(2);
    const steps: string[] = [];
    const events: NodeProgressEvent[] = [];
    const r = await cluster.nodes.remove('w-1', {
      onProgress: (e) => {
        events.push(e);
        if (e.type === 'step' && e.status !== 'started') steps.push(e.step);
      },
    });
    expect(r).toMatchObject({ node: 'w-1', changed: true, nodeDeleted: true, keyDeleted: true, volumesDeleted: ['w-1-data', 'w-1-logs'] });
    expect(steps).toEqual(['drain', 'volumes', 'node', 'salt-key']);
    const vols = await kubeGet<{ items: { spec: { nodeName: string } }[] }>(cluster.kubeConfig, VOLUMES);
    expect(vols?.items.filter((v) => v.spec.nodeName === 'w-1')).toEqual([]);
    expect(await kubeGet(cluster.kubeConfig, '/api/v1/persistentvolumes/w-1-data')).toBeUndefined();
    expect(await cluster.nodes.get('w-1')).toBeUndefined();
    expect(await keys()).not.toContain('w-1');
    expect(await keys()).toContain('bootstrap');

    const again = await cluster.nodes.remove('w-1');
    expect(again).toMatchObject({ changed: false, nodeDeleted: false, keyDeleted: false, volumesDeleted: [] });
  });

  it('refuses a node whose Volume a claim still holds, changing nothing; with deleteClaims the claim goes, then the Volume', async () => {
    await cluster.nodes.declare('w-2', { roles: ['workload'], ssh: { host: '127.0.0.1' } });
    await cluster.nodes.deploy('w-2', { pollIntervalMs: 300 });
    await kubeRequest(cluster.kubeConfig, 'POST', VOLUMES, {
      apiVersion: 'storage.metalk8s.scality.com/v1alpha1',
      kind: 'Volume',
      metadata: { name: 'w-2-db' },
      spec: { nodeName: 'w-2', storageClassName: 'metalk8s', sparseLoopDevice: { size: '1Gi' } },
    });
    let pv: { spec?: { claimRef?: { name?: string } } } | undefined;
    for (let i = 0; i < 120 && !pv; i++) {
      pv = await kubeGet(cluster.kubeConfig, '/api/v1/persistentvolumes/w-2-db');
      if (!pv) await new Promise((res) => setTimeout(res, 250));
    }
    expect(pv).toBeDefined();
    // A claim pre-bound to the Volume's PV, as a StatefulSet's claim ends up after scheduling.
    await kubeRequest(cluster.kubeConfig, 'POST', '/api/v1/namespaces/default/persistentvolumeclaims', {
      apiVersion: 'v1',
      kind: 'PersistentVolumeClaim',
      metadata: { name: 'db-0' },
      spec: { accessModes: ['ReadWriteOnce'], storageClassName: 'metalk8s', volumeName: 'w-2-db', resources: { requests: { storage: '1Gi' } } },
    });
    for (let i = 0; i < 120 && pv?.spec?.claimRef?.name !== 'db-0'; i++) {
      await new Promise((res) => setTimeout(res, 250));
      pv = await kubeGet(cluster.kubeConfig, '/api/v1/persistentvolumes/w-2-db');
    }
    expect(pv?.spec?.claimRef?.name).toBe('db-0');

    const err = await cluster.nodes.remove('w-2').catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'NODE_VOLUMES_IN_USE', message: expect.stringContaining('default/db-0') });
    expect((err as Error).message).toContain('on Volume w-2-db');
    expect((err as { hint?: string }).hint).toContain('--delete-claims');
    // Nothing changed: the Node is still schedulable, the Volume, the claim and the key are there.
    expect(await cluster.nodes.get('w-2')).toMatchObject({ schedulable: true });
    expect(await kubeGet(cluster.kubeConfig, `${VOLUMES}/w-2-db`)).toBeDefined();
    expect(await kubeGet(cluster.kubeConfig, '/api/v1/namespaces/default/persistentvolumeclaims/db-0')).toBeDefined();
    expect(await keys()).toContain('w-2');

    const r = await cluster.nodes.remove('w-2', { deleteClaims: true });
    expect(r).toMatchObject({ nodeDeleted: true, keyDeleted: true, volumesDeleted: ['w-2-db'] });
    expect(await kubeGet(cluster.kubeConfig, '/api/v1/namespaces/default/persistentvolumeclaims/db-0')).toBeUndefined();
    expect(await kubeGet(cluster.kubeConfig, `${VOLUMES}/w-2-db`)).toBeUndefined();
    expect(await kubeGet(cluster.kubeConfig, '/api/v1/persistentvolumes/w-2-db')).toBeUndefined();
  });
});
