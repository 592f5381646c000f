/**
 * cluster.nodes declare → deploy against the emulator on the shared control plane (real
 * kube-apiserver, controllers, kwok): the Node as MetalK8s' UI creates it, deploy_node through
 * runner_async with its steps reported in order, a second client following the same job, and a
 * failure injected at "Run the highstate" reported by name with the node left schedulable.
 * The nodes carry a private taint so other tests' Pods never land on them.
 */
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type Cluster, connect, NodeDeployError, type NodeProgressEvent } from '../../../src/cluster/index.js';
import { kubeGet, kubeRequest } from '../../../src/_kube.js';
import { type MetalK8sEmulator, startMetalK8s, uniqueSuffix } from '../../../src/testing/index.js';

interface Node {
  metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: { unschedulable?: boolean; taints?: { key: string; effect: string; value?: string }[] };
}

describe('nodes: declare and deploy', () => {
  const suffix = uniqueSuffix();
  const names = { a: `wk-${suffix}`, cp: `cp-${suffix}`, fail: `fl-${suffix}` };
  let mk8s: MetalK8sEmulator;
  let cluster: Cluster;
  let other: Cluster;

  const connectOnce = () =>
    connect({ kubeconfigYaml: mk8s.kubeconfigYaml, saltApi: { url: mk8s.saltApi.url, username: mk8s.saltApi.username, token: mk8s.saltApi.token } });
  const readNode = async (name: string) => (await kubeGet<Node>(cluster.kubeConfig, `/api/v1/nodes/${name}`)) as Node;
  // Keeps other tests' Pods off the new nodes (a label set by MetalK8s would be overwritten).
  const isolate = async (name: string) => {
    const n = await readNode(name);
    const taints = [...(n.spec?.taints ?? []), { key: 'sdk-test/nodes', value: suffix, effect: 'NoSchedule' }];
    await kubeRequest(cluster.kubeConfig, 'PATCH', `/api/v1/nodes/${name}`, { spec: { taints } }, 'application/merge-patch+json');
  };

  beforeAll(async () => {
    mk8s = await startMetalK8s({ kubeconfigYaml: await readFile(inject('kubeconfigPath'), 'utf8'), storageOperator: false });
    cluster = await connectOnce();
    other = await connectOnce();
  });

  afterAll(async () => {
    for (const n of Object.values(names)) await kubeRequest(cluster.kubeConfig, 'DELETE', `/api/v1/nodes/${n}`).catch(() => undefined);
    await mk8s?.stop();
  });

  it('declares the Node exactly as the UI does; a rerun changes nothing; another definition is refused', async () => {
    const r = await cluster.nodes.declare(names.cp, {
      roles: ['control-plane'],
      ssh: { host: '10.0.0.21', port: 2222, user: 'centos', sudo: true, keyPath: '/etc/metalk8s/pki/salt-bootstrap' },
    });
    expect(r.changed).toBe(true);
    // The UI's createNode body for a control-plane node (platform-reference §B.1).
    const ui = {
      metadata: {
        name: names.cp,
        labels: { 'metalk8s.scality.com/version': '129.0.0', 'node-role.kubernetes.io/master': '', 'node-role.kubernetes.io/etcd': '' },
        annotations: {
          'metalk8s.scality.com/ssh-user': 'centos',
          'metalk8s.scality.com/ssh-port': '2222',
          'metalk8s.scality.com/ssh-host': '10.0.0.21',
          'metalk8s.scality.com/ssh-key-path': '/etc/metalk8s/pki/salt-bootstrap',
          'metalk8s.scality.com/ssh-sudo': 'true',
        },
      },
      spec: {
        taints: [
          { key: 'node-role.kubernetes.io/master', effect: 'NoSchedule' },
          { key: 'node-role.kubernetes.io/etcd', effect: 'NoSchedule' },
        ],
      },
    };
    // The body sent is the UI's, field by field; the API server stored it (the node lifecycle
    // controller adds its own not-ready taint and TTL annotation beside it).
    expect(r.manifest).toEqual({ apiVersion: 'v1', kind: 'Node', ...ui });
    const stored = await readNode(names.cp);
    expect(stored.metadata.labels).toEqual(ui.metadata.labels);
    expect(stored.metadata.annotations).toMatchObject(ui.metadata.annotations);
    expect(stored.spec?.taints).toEqual(expect.arrayContaining(ui.spec.taints.map((t) => expect.objectContaining(t))));
    expect(r.node.deploy).toEqual({ state: 'declared' });

    const again = await cluster.nodes.declare(names.cp, {
      roles: ['control-plane'],
      ssh: { host: '10.0.0.21', port: 2222, user: 'centos', sudo: true },
    });
    expect(again.changed).toBe(false);
    const err = await cluster.nodes.declare(names.cp, { roles: ['workload'], ssh: { host: '10.0.0.21' } }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'NODE_EXISTS' });
    expect((err as Error).message).toContain('node-role.kubernetes.io/node');
  });

  it('writes no ssh-sudo annotation when sudo is off (the roster reads "false" as true)', async () => {
    const r = await cluster.nodes.declare(names.a, { roles: ['workload'], ssh: { host: '127.0.0.1' }, displayName: 'worker-a' });
    const stored = await readNode(names.a);
    expect(stored.metadata.annotations?.['metalk8s.scality.com/ssh-sudo']).toBeUndefined();
    expect(stored.metadata.annotations?.['metalk8s.scality.com/ssh-user']).toBe('root');
    expect(stored.metadata.labels?.['metalk8s.scality.com/name']).toBe('worker-a');
    expect(r.manifest.spec).toBeUndefined();
    expect(stored.spec?.taints?.filter((t) => t.key.startsWith('node-role.kubernetes.io/')) ?? []).toEqual([]);
    expect(r.node.roles).toEqual(['node']);
    const bad = await cluster.nodes.declare(`x-${suffix}`, { roles: ['workload'], ssh: { host: 'h', user: 'centos' } }).catch((e: unknown) => e);
    expect(bad).toMatchObject({ code: 'NODE_DECLARATION_INVALID' });
    expect((bad as Error).message).toMatch(/^ssh\.sudo:/);
  });

  it('deploys: steps in order, a second client follows the same job, the node is Ready with the default labels', async () => {
    await isolate(names.a);
    mk8s.nodes.setStepDelay(120);
    const events: NodeProgressEvent[] = [];
    const followerEvents: NodeProgressEvent[] = [];
    const first = cluster.nodes.deploy(names.a, { onProgress: (e) => events.push(e), pollIntervalMs: 300 });
    // The second client comes in once the job is recorded on the Node.
    for (let i = 0; i < 100 && !(await cluster.nodes.get(names.a))?.deploy.state.startsWith('deploying'); i++) await new Promise((r) => setTimeout(r, 100));
    const listed = await cluster.nodes.get(names.a);
    expect(listed?.deploy.state).toBe('deploying');
    const second = other.nodes.deploy(names.a, { onProgress: (e) => followerEvents.push(e), pollIntervalMs: 300 });
    const [r1, r2] = await Promise.all([first, second]);
    mk8s.nodes.setStepDelay(0);
    expect(r1.followed).toBe(false);
    expect(r2.followed).toBe(true);
    expect(r2.jid).toBe(r1.jid);

    // Live, while the job runs: the minion jobs its steps publish on the node, for both clients.
    for (const evs of [events, followerEvents]) {
      const firstStep = evs.findIndex((e) => e.type === 'deploy-step');
      const live = evs.slice(0, firstStep).filter((e) => e.type === 'salt-activity');
      expect(live.filter((e) => e.status === 'started').map((e) => e.fun)).toContain('state.highstate');
      expect(live.some((e) => e.fun === 'state.highstate' && e.status === 'succeeded')).toBe(true);
    }
    const steps = events.filter((e) => e.type === 'deploy-step');
    const ids = steps.map((s) => s.id);
    expect(ids.slice(0, 3)).toEqual(['Install python36', 'Set grains ssh', 'Refresh grains']);
    expect(ids).toContain('Run the highstate');
    expect(ids.at(-1)).toBe('Kill kube-controller-manager on all master nodes');
    // Steps in the orchestrate's order.
    expect(steps.map((s) => s.index)).toEqual([...steps.map((s) => s.index)].sort((a, b) => a - b));
    expect(followerEvents.filter((e) => e.type === 'deploy-step').map((s) => s.id)).toEqual(ids);

    const info = await cluster.nodes.get(names.a);
    expect(info).toMatchObject({ ready: true, schedulable: true, deploy: { state: 'deployed' } });
    const n = await readNode(names.a);
    expect(n.metadata.labels?.['topology.kubernetes.io/region']).toBe('default');
    expect(n.metadata.labels?.['topology.kubernetes.io/zone']).toBe('default');
    expect(n.metadata.annotations?.['solution-sdk.metalk8s.scality.com/deploy-jid']).toBe(r1.jid);
    expect(await cluster.salt.local({ tgt: names.a, fun: 'test.ping' })).toEqual({ [names.a]: true });
  });

  it('a failure at "Run the highstate" names that step with its comment and leaves the node schedulable', async () => {
    await cluster.nodes.declare(names.fail, { roles: ['workload'], ssh: { host: '127.0.0.1' } });
    await isolate(names.fail);
    mk8s.nodes.injectFailure({ node: names.fail, step: 'Run the highstate', comment: 'State pkg.installed kubelet failed: No package kubelet available' });
    const events: NodeProgressEvent[] = [];
    const err = await cluster.nodes.deploy(names.fail, { onProgress: (e) => events.push(e), pollIntervalMs: 300 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NodeDeployError);
    const e = err as NodeDeployError;
    expect(e.step).toBe('Run the highstate');
    expect(e.comment).toContain('No package kubelet available');
    expect(e.message).toContain('failed at step "Run the highstate"');
    expect(e.uncordoned).toBe(true);
    // deploy_node cordoned it, and its own uncordon never ran (requisite failed): the SDK did it.
    const steps = events.filter((x) => x.type === 'deploy-step');
    expect(steps.find((s) => s.id === 'Cordon the node')?.result).toBe(true);
    expect(steps.find((s) => s.id === 'Uncordon the node')?.comment).toMatch(/^One or more requisite failed/);
    expect((await readNode(names.fail)).spec?.unschedulable).toBeFalsy();
    expect((await cluster.nodes.get(names.fail))?.deploy).toMatchObject({ state: 'failed', step: 'Run the highstate' });
  });

  it('a client stopped mid-deploy leaves the job running; the rerun follows it instead of starting another', async () => {
    mk8s.nodes.setStepDelay(100);
    const ctl = new AbortController();
    let started = '';
    const err = await cluster.nodes
      .deploy(names.fail, {
        signal: ctl.signal,
        pollIntervalMs: 200,
        onProgress: (e) => {
          if (e.type === 'salt-job') {
            started = e.jid;
            ctl.abort();
          }
        },
      })
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'ABORTED' });
    expect((await cluster.nodes.get(names.fail))?.deploy).toEqual({ state: 'deploying', jid: started, since: expect.any(String) });
    const rerun = await cluster.nodes.deploy(names.fail, { pollIntervalMs: 200 });
    mk8s.nodes.setStepDelay(0);
    expect(rerun).toMatchObject({ jid: started, followed: true });
    expect(await cluster.nodes.get(names.fail)).toMatchObject({ ready: true, schedulable: true, deploy: { state: 'deployed' } });
  });

  it('a deploy whose client stopped reads as the job ended, from the salt-master', async () => {
    mk8s.nodes.injectFailure({ node: names.fail, step: 'Set grains', comment: 'Rendering SLS metalk8s.node.grains failed' });
    const ctl = new AbortController();
    await cluster.nodes
      .deploy(names.fail, { signal: ctl.signal, onProgress: (e) => e.type === 'salt-job' && ctl.abort() })
      .catch((e: unknown) => e);
    let state: unknown;
    for (let i = 0; i < 100; i++) {
      state = (await cluster.nodes.list()).find((n) => n.name === names.fail)?.deploy;
      if ((state as { state?: string }).state === 'failed') break;
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(state).toMatchObject({ state: 'failed', step: 'Set grains', comment: 'Rendering SLS metalk8s.node.grains failed' });
  });

  it('a deploy recorded on the Node that the salt-master no longer knows is started again, with a warning', async () => {
    await kubeRequest(
      cluster.kubeConfig,
      'PATCH',
      `/api/v1/nodes/${names.fail}`,
      { metadata: { annotations: { 'solution-sdk.metalk8s.scality.com/deploy-jid': '20200101000000000000', 'solution-sdk.metalk8s.scality.com/deploy-result': null } } },
      'application/merge-patch+json',
    );
    expect((await cluster.nodes.get(names.fail))?.deploy).toMatchObject({ state: 'deploying', jid: '20200101000000000000' });
    const events: NodeProgressEvent[] = [];
    const r = await cluster.nodes.deploy(names.fail, { pollIntervalMs: 200, onProgress: (e) => events.push(e) });
    expect(r.followed).toBe(false);
    expect(r.jid).not.toBe('20200101000000000000');
    expect(events).toContainEqual({ type: 'warning', message: expect.stringContaining('(20200101000000000000) is gone from the salt-master') });
  });
});
