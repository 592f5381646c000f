import { readFile } from 'node:fs/promises';
import { AppsV1Api, CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { SaltApiClient } from '../../../src/cluster/index.js';
import { ClusterError } from '../../../src/errors.js';
import { type MetalK8sEmulator, startMetalK8s, uniqueSuffix } from '../../../src/testing/index.js';

// metalk8s.orchestrate.deploy_node through the emulator's SaltAPI, against the real controllers.
// The new node carries a private taint so that other tests' Pods never land on it.
describe('deploy_node on the emulator', () => {
  const suffix = uniqueSuffix();
  const nodeName = `node-${suffix}`;
  const ns = `deploy-node-${suffix}`;
  const taint = { key: 'sdk-test/deploy-node', value: suffix, effect: 'NoSchedule' };
  const kc = new KubeConfig();
  let core: CoreV1Api;
  let mk8s: MetalK8sEmulator;
  let salt: SaltApiClient;

  const podsOnNode = async () =>
    (await core.listNamespacedPod({ namespace: ns, fieldSelector: `spec.nodeName=${nodeName}` })).items;

  beforeAll(async () => {
    kc.loadFromFile(inject('kubeconfigPath'));
    core = kc.makeApiClient(CoreV1Api);
    mk8s = await startMetalK8s({ kubeconfigYaml: await readFile(inject('kubeconfigPath'), 'utf8'), storageOperator: false });
    salt = new SaltApiClient(mk8s.saltApi);
    // What the UI does before deploying: a Node object with its version label and roles.
    await core.createNode({
      body: {
        metadata: {
          name: nodeName,
          labels: { 'metalk8s.scality.com/version': '129.0.0', 'node-role.kubernetes.io/node': '', 'kubernetes.io/hostname': nodeName },
          annotations: { 'metalk8s.scality.com/ssh-host': nodeName },
        },
        spec: { taints: [taint] },
      },
    });
    await core.createNamespace({ body: { metadata: { name: ns } } });
  });

  afterAll(async () => {
    await mk8s?.stop();
    await core.deleteNamespace({ name: ns }).catch(() => undefined);
    await core.deleteNode({ name: nodeName }).catch(() => undefined);
  });

  it('refuses a node that does not exist, naming it', async () => {
    const err = await salt
      .orchestrate('metalk8s.orchestrate.deploy_node', {
        saltenv: 'metalk8s-129.0.0',
        pillar: { orchestrate: { node_name: 'no-such-node' } },
        pollIntervalMs: 100,
      })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ClusterError);
    expect((err as Error).message).toContain('Node no-such-node does not exist');
  });

  it('brings a new node up: minion accepted, Ready, default labels, schedulable', async () => {
    const result = await salt.orchestrate('metalk8s.orchestrate.deploy_node', {
      saltenv: 'metalk8s-129.0.0',
      pillar: { orchestrate: { node_name: nodeName } },
      pollIntervalMs: 200,
    });
    expect(result.success).toBe(true);
    // First time: the salt-ssh steps run, in MetalK8s' order, then the common ones.
    expect(result.runs[0]?.steps.map((s) => s.id).slice(0, 8)).toEqual([
      'Install python36',
      'Set grains ssh',
      'Refresh grains',
      'Check node',
      'Deploy salt-minion on a new node',
      'Accept key',
      'Wait minion available ssh',
      'Sync module on the node',
    ]);
    const node = await core.readNode({ name: nodeName });
    expect(node.status?.conditions?.find((c) => c.type === 'Ready')?.status).toBe('True');
    expect(node.metadata?.labels?.['topology.kubernetes.io/zone']).toBe('default');
    expect(node.spec?.unschedulable).toBeFalsy();
    expect(await salt.local({ tgt: nodeName, fun: 'test.ping' })).toEqual({ [nodeName]: true });
  });

  it('drains the node on a redeploy: its Pods are evicted, then come back once uncordoned', async () => {
    await kc.makeApiClient(AppsV1Api).createNamespacedDeployment({
      namespace: ns,
      body: {
        metadata: { name: 'pinned' },
        spec: {
          replicas: 2,
          selector: { matchLabels: { app: 'pinned' } },
          template: {
            metadata: { labels: { app: 'pinned' } },
            spec: {
              nodeSelector: { 'kubernetes.io/hostname': nodeName },
              tolerations: [{ key: taint.key, operator: 'Equal', value: taint.value, effect: 'NoSchedule' }],
              containers: [{ name: 'app', image: 'metalk8s-registry-from-config.invalid/demo-1.0.0/app:1.0.0' }],
            },
          },
        },
      },
    });
    let before: string[] = [];
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      const pods = await podsOnNode();
      before = pods.filter((p) => p.status?.phase === 'Running').map((p) => p.metadata?.uid ?? '');
      if (before.length === 2) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    expect(before).toHaveLength(2);

    const result = await salt.orchestrate('metalk8s.orchestrate.deploy_node', {
      saltenv: 'metalk8s-129.0.0',
      pillar: { orchestrate: { node_name: nodeName } },
      pollIntervalMs: 200,
    });
    const drain = result.runs[0]?.steps.find((s) => s.id === 'Drain the node');
    expect(drain?.result).toBe(true);
    expect(drain?.comment).toBe('Eviction complete: 2 pod(s) evicted');
    const ids = result.runs[0]?.steps.map((s) => s.id) ?? [];
    // A redeploy: the minion answers, so no first-time (salt-ssh) step.
    expect(ids).not.toContain('Install python36');
    expect(ids.indexOf('Drain the node')).toBeLessThan(ids.indexOf('Run the highstate'));
    expect(ids.indexOf('Run the highstate')).toBeLessThan(ids.indexOf('Uncordon the node'));

    // Uncordoned: the ReplicaSet's new Pods are scheduled on the node again, with new UIDs.
    const back = Date.now() + 60_000;
    let after: string[] = [];
    while (Date.now() < back) {
      const pods = await podsOnNode();
      after = pods.filter((p) => p.status?.phase === 'Running' && !p.metadata?.deletionTimestamp).map((p) => p.metadata?.uid ?? '');
      if (after.length === 2) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    expect(after).toHaveLength(2);
    expect(after.some((uid) => before.includes(uid))).toBe(false);
  });
});
