/**
 * cluster.nodes.drain with kubectl semantics on the shared control plane: kwok nodes, the real
 * scheduler, the disruption controller and the Eviction API. Two private nodes (tainted so
 * other tests' Pods stay away): Pods are placed on A while B is cordoned, then B is opened and
 * A is drained.
 */
import { readFile } from 'node:fs/promises';
import { AppsV1Api, CoreV1Api, KubeConfig, PolicyV1Api, type V1Pod } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type Cluster, connect, DrainError, type NodeProgressEvent } from '../../../src/cluster/index.js';
import { type MetalK8sEmulator, startMetalK8s, uniqueSuffix } from '../../../src/testing/index.js';

describe('nodes: drain', () => {
  const suffix = uniqueSuffix();
  const ns = `drain-${suffix}`;
  const A = `drain-a-${suffix}`;
  const B = `drain-b-${suffix}`;
  const pool = { 'sdk-test/pool': suffix };
  const taint = { key: 'sdk-test/drain', value: suffix, effect: 'NoSchedule' };
  const tolerations = [{ key: taint.key, operator: 'Equal', value: suffix, effect: 'NoSchedule' }];
  const image = 'metalk8s-registry-from-config.invalid/demo-1.0.0/app:1.0.0';
  const kc = new KubeConfig();
  let core: CoreV1Api;
  let apps: AppsV1Api;
  let mk8s: MetalK8sEmulator;
  let cluster: Cluster;

  const pods = async (): Promise<V1Pod[]> => (await core.listNamespacedPod({ namespace: ns })).items.filter((p) => !p.metadata?.deletionTimestamp);
  const until = async <T>(what: string, probe: () => Promise<T | undefined>, ms = 60_000): Promise<T> => {
    const end = Date.now() + ms;
    while (Date.now() < end) {
      const v = await probe();
      if (v !== undefined) return v;
      await new Promise((r) => setTimeout(r, 250));
    }
    throw new Error(`timed out waiting for ${what}`);
  };
  const running = (p: V1Pod) => p.status?.phase === 'Running' && p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
  const template = (app: string, extra: Record<string, unknown> = {}) => ({
    metadata: { labels: { app } },
    spec: { nodeSelector: pool, tolerations, terminationGracePeriodSeconds: 5, containers: [{ name: 'c', image }], ...extra },
  });

  beforeAll(async () => {
    kc.loadFromFile(inject('kubeconfigPath'));
    core = kc.makeApiClient(CoreV1Api);
    apps = kc.makeApiClient(AppsV1Api);
    mk8s = await startMetalK8s({ kubeconfigYaml: await readFile(inject('kubeconfigPath'), 'utf8'), storageOperator: false });
    cluster = await connect({ kubeconfigYaml: mk8s.kubeconfigYaml, saltApi: { url: mk8s.saltApi.url, username: mk8s.saltApi.username, token: mk8s.saltApi.token } });
    for (const [name, unschedulable] of [
      [A, false],
      [B, true],
    ] as const) {
      await core.createNode({
        body: {
          metadata: { name, labels: { ...pool, 'kwok.x-k8s.io/node': 'fake', 'kubernetes.io/hostname': name, 'metalk8s.scality.com/version': '129.0.0' } },
          spec: { taints: [taint], unschedulable },
        },
      });
    }
    await core.createNamespace({ body: { metadata: { name: ns } } });
    await apps.createNamespacedDaemonSet({
      namespace: ns,
      body: { metadata: { name: 'agent' }, spec: { selector: { matchLabels: { app: 'agent' } }, template: template('agent') } },
    });
    await apps.createNamespacedDeployment({
      namespace: ns,
      body: { metadata: { name: 'web' }, spec: { replicas: 2, selector: { matchLabels: { app: 'web' } }, template: template('web') } },
    });
    await kc.makeApiClient(PolicyV1Api).createNamespacedPodDisruptionBudget({
      namespace: ns,
      body: { metadata: { name: 'web' }, spec: { minAvailable: 2, selector: { matchLabels: { app: 'web' } } } },
    });
    await apps.createNamespacedDeployment({
      namespace: ns,
      body: {
        metadata: { name: 'scratch' },
        spec: { replicas: 1, selector: { matchLabels: { app: 'scratch' } }, template: template('scratch', { volumes: [{ name: 'tmp', emptyDir: {} }] }) },
      },
    });
    await core.createNamespacedPod({ namespace: ns, body: { metadata: { name: 'lonely', labels: { app: 'lonely' } }, spec: template('lonely').spec } });
    // Everything runs on A (B is cordoned; the DaemonSet tolerates that and runs on both). The
    // DaemonSet's Pod on B is waited for too: one created late would look like a Pod the drain made.
    await until('the Pods on A and the DaemonSet Pod on B', async () => {
      const all = (await pods()).filter(running);
      const onA = all.filter((p) => p.spec?.nodeName === A);
      const agentOnB = all.some((p) => p.spec?.nodeName === B && p.metadata?.labels?.app === 'agent');
      return onA.length === 5 && agentOnB ? onA : undefined;
    });
    await core.patchNode({ name: B, body: [{ op: 'replace', path: '/spec/unschedulable', value: false }] });
  });

  afterAll(async () => {
    await core?.deleteNamespace({ name: ns }).catch(() => undefined);
    for (const n of [A, B]) await core?.deleteNode({ name: n }).catch(() => undefined);
    await mk8s?.stop();
  });

  it('refuses DaemonSet, emptyDir and bare Pods, all listed at once, and evicts nothing', async () => {
    const onA = async () => (await pods()).filter((p) => p.spec?.nodeName === A).map((p) => p.metadata?.uid).sort();
    const before = await onA();
    const err = await cluster.nodes.drain(A).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DrainError);
    const e = err as DrainError;
    expect(e.code).toBe('DRAIN_BLOCKED');
    const reasons = Object.fromEntries(e.pods.map((p) => [p.pod.split('/')[1]?.split('-')[0], p.reason]));
    expect(reasons.agent).toMatch(/DaemonSet.*ignoreDaemonSets/);
    expect(reasons.scratch).toMatch(/emptyDir.*deleteEmptyDirData/);
    expect(reasons.lonely).toMatch(/no controller.*force/);
    expect(e.pods.some((p) => p.pod.includes('/web-'))).toBe(false);
    expect(await onA()).toEqual(before);
    // Like kubectl, the node is cordoned even so.
    expect((await core.readNode({ name: A })).spec?.unschedulable).toBe(true);

    const plan = await cluster.nodes.drain(A, { dryRun: true, ignoreDaemonSets: true, deleteEmptyDirData: true, force: true });
    expect(plan.evicted.map((p) => p.split('/')[1]?.split('-')[0]).sort()).toEqual(['lonely', 'scratch', 'web', 'web']);
    expect(plan.ignored).toEqual([expect.objectContaining({ reason: 'DaemonSet agent' })]);
    expect(plan.warnings.join('\n')).toMatch(/lonely has no controller/);
    // --pod-selector: only the matching Pods are considered, so nothing else blocks.
    const web = await cluster.nodes.drain(A, { dryRun: true, podSelector: 'app=web' });
    expect(web.evicted.map((p) => p.split('/')[1]?.split('-')[0])).toEqual(['web', 'web']);
  });

  it('times out on a PodDisruptionBudget, listing the Pods left and why', async () => {
    const events: NodeProgressEvent[] = [];
    const err = await cluster.nodes
      .drain(A, { ignoreDaemonSets: true, deleteEmptyDirData: true, force: true, timeoutMs: 4000, evictionRetryDelayMs: 500, onProgress: (e) => events.push(e) })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DrainError);
    const e = err as DrainError;
    expect(e.code).toBe('DRAIN_TIMEOUT');
    expect(e.pods.map((p) => p.pod.split('/')[1]?.split('-')[0])).toEqual(['web', 'web']);
    expect(e.pods[0]?.reason).toMatch(/disruption budget/);
    expect(events.some((x) => x.type === 'pod' && x.status === 'retrying')).toBe(true);
    // The others went: the bare Pod for good, the emptyDir one rescheduled on B.
    const now = await pods();
    expect(now.some((p) => p.metadata?.name === 'lonely')).toBe(false);
    await until('scratch on B', async () => ((await pods()).some((p) => p.metadata?.labels?.app === 'scratch' && p.spec?.nodeName === B) ? true : undefined));
  });

  it('retries a PDB-refused eviction until the budget allows it; the replacements run on the other node', async () => {
    const events: NodeProgressEvent[] = [];
    let relaxed = false;
    const done = cluster.nodes.drain(A, {
      ignoreDaemonSets: true,
      deleteEmptyDirData: true,
      evictionRetryDelayMs: 500,
      onProgress: (e) => {
        events.push(e);
        if (e.type === 'pod' && e.status === 'retrying' && !relaxed) {
          relaxed = true;
          void kc.makeApiClient(PolicyV1Api).patchNamespacedPodDisruptionBudget({ name: 'web', namespace: ns, body: [{ op: 'replace', path: '/spec/minAvailable', value: 1 }] });
        }
      },
    });
    const r = await done;
    expect(relaxed).toBe(true);
    expect(r.evicted.map((p) => p.split('/')[1]?.split('-')[0])).toEqual(['web', 'web']);
    expect(r.ignored.map((i) => i.reason)).toEqual(['DaemonSet agent']);
    const gone = events.filter((e) => e.type === 'pod' && e.status === 'gone').length;
    expect(gone).toBe(2);
    const web = await until('two web Pods on B', async () => {
      const w = (await pods()).filter((p) => p.metadata?.labels?.app === 'web' && running(p));
      return w.length === 2 && w.every((p) => p.spec?.nodeName === B) ? w : undefined;
    });
    expect(web).toHaveLength(2);
    expect((await pods()).filter((p) => p.spec?.nodeName === A).map((p) => p.metadata?.labels?.app)).toEqual(['agent']);
    expect(await cluster.nodes.uncordon(A)).toEqual({ node: A, changed: true });
    expect(await cluster.nodes.uncordon(A)).toEqual({ node: A, changed: false });
    expect(await cluster.nodes.cordon(A)).toEqual({ node: A, changed: true });
  });
});
