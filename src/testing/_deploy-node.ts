/**
 * The emulator's `metalk8s.orchestrate.deploy_node` (metalk8s-reference.md §3.2): what the
 * orchestrate does to the Kubernetes API, through the real controllers. It accepts the node's
 * minion, lets kwok run the node's "kubelet", sets the default labels, cordons, drains
 * (evictions, so PodDisruptionBudgets apply), and uncordons. Host steps (installing packages,
 * the highstate) have nothing to act on and are reported as such. Step IDs are the emulator's
 * own, in MetalK8s' order.
 */
import { CoreV1Api, type V1Node, type V1Pod } from '@kubernetes/client-node';
import type { OrchestrateContext, StepOutcome } from './salt-api-emulator.js';

const VERSION_LABEL = 'metalk8s.scality.com/version';
const KWOK_LABEL = 'kwok.x-k8s.io/node';

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function pointer(key: string): string {
  return key.replace(/~/g, '~0').replace(/\//g, '~1');
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function isReady(node: V1Node): boolean {
  return node.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true;
}

function evictable(pod: V1Pod): boolean {
  const owners = pod.metadata?.ownerReferences ?? [];
  const daemonSet = owners.some((o) => o.kind === 'DaemonSet');
  const mirror = pod.metadata?.annotations?.['kubernetes.io/config.mirror'] !== undefined;
  const done = pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed';
  return !daemonSet && !mirror && !done;
}

/** Plays `metalk8s.orchestrate.deploy_node` with pillar `orchestrate.node_name`. */
export async function deployNode(ctx: OrchestrateContext): Promise<void> {
  const core = ctx.kubeConfig.makeApiClient(CoreV1Api);
  const orchestrate = isRecord(ctx.pillar.orchestrate) ? ctx.pillar.orchestrate : {};
  const nodeName = typeof orchestrate.node_name === 'string' ? orchestrate.node_name : '';
  const skipDraining = orchestrate.skip_draining === true;
  const drainTimeout = typeof orchestrate.drain_timeout === 'number' ? orchestrate.drain_timeout : 0;
  let node: V1Node | undefined;

  const checked = await ctx.step('Check pillar and node', 'test.check_pillar', async (): Promise<StepOutcome> => {
    if (!nodeName) return { result: false, comment: "Missing 'orchestrate:node_name' in pillar" };
    node = await core.readNode({ name: nodeName }).catch(() => undefined);
    if (!node) return { result: false, comment: `Node ${nodeName} does not exist in Kubernetes` };
    const version = node.metadata?.labels?.[VERSION_LABEL];
    if (!version) return { result: false, comment: `Node ${nodeName} has no '${VERSION_LABEL}' label` };
    if (ctx.saltenv !== 'base' && ctx.saltenv !== `metalk8s-${version}`) {
      return { result: false, comment: `saltenv ${ctx.saltenv} does not match the node version ${version}` };
    }
    return { result: true, comment: `Node ${nodeName} (version ${version}) can be deployed` };
  });

  await ctx.step(
    'Deploy salt-minion on a new node',
    'salt.runner',
    async () => {
      if (ctx.minions.includes(nodeName)) return { result: true, comment: `Minion ${nodeName} already accepted` };
      ctx.acceptMinion(nodeName);
      return { result: true, comment: `Minion ${nodeName} accepted`, changes: { accepted: nodeName } };
    },
    { require: checked ? [] : ['Check pillar and node'] },
  );

  await ctx.step(
    'Start the kubelet',
    'salt.state',
    async () => {
      const labels = node?.metadata?.labels;
      let changed = false;
      if (labels?.[KWOK_LABEL] !== 'fake') {
        const op = labels
          ? { op: 'add', path: `/metadata/labels/${pointer(KWOK_LABEL)}`, value: 'fake' }
          : { op: 'add', path: '/metadata/labels', value: { [KWOK_LABEL]: 'fake' } };
        await core.patchNode({ name: nodeName, body: [op] });
        changed = true;
      }
      const deadline = Date.now() + 60_000;
      while (Date.now() < deadline) {
        if (isReady(await core.readNode({ name: nodeName }))) {
          return { result: true, comment: `Node ${nodeName} is Ready`, changes: changed ? { kubelet: 'started' } : {} };
        }
        await sleep(250);
      }
      return { result: false, comment: `Node ${nodeName} did not become Ready within 60 s` };
    },
    { require: ['Deploy salt-minion on a new node'] },
  );

  await ctx.step(
    'Set node default labels',
    'metalk8s_kubernetes.object_updated',
    async () => {
      const current = await core.readNode({ name: nodeName });
      const labels = current.metadata?.labels ?? {};
      const wanted = { 'topology.kubernetes.io/region': 'default', 'topology.kubernetes.io/zone': 'default' };
      const ops = Object.entries(wanted)
        .filter(([k]) => labels[k] === undefined)
        .map(([k, v]) => ({ op: 'add', path: `/metadata/labels/${pointer(k)}`, value: v }));
      if (ops.length > 0) await core.patchNode({ name: nodeName, body: ops });
      return { result: true, comment: ops.length > 0 ? 'Labels set' : 'Labels already set', changes: ops.length > 0 ? { labels: wanted } : {} };
    },
    { require: ['Start the kubelet'] },
  );

  const setUnschedulable = async (value: boolean): Promise<StepOutcome> => {
    await core.patchNode({ name: nodeName, body: [{ op: 'add', path: '/spec/unschedulable', value }] });
    return { result: true, comment: `Node ${nodeName} ${value ? 'cordoned' : 'uncordoned'}`, changes: { unschedulable: value } };
  };

  await ctx.step('Cordon the node', 'metalk8s_cordon.node_cordoned', () => setUnschedulable(true), {
    require: ['Set node default labels'],
  });

  await ctx.step(
    'Drain the node',
    'metalk8s_drain.node_drained',
    async (): Promise<StepOutcome> => {
      if (skipDraining) return { result: true, comment: 'Draining skipped (skip_draining)' };
      const deadline = drainTimeout > 0 ? Date.now() + drainTimeout * 1000 : Date.now() + 300_000;
      const evicted = new Set<string>();
      for (;;) {
        const pods = (await core.listPodForAllNamespaces({ fieldSelector: `spec.nodeName=${nodeName}` })).items.filter(evictable);
        if (pods.length === 0) {
          return { result: true, comment: `Eviction complete: ${evicted.size} pod(s) evicted`, changes: { evicted: [...evicted].sort() } };
        }
        for (const pod of pods) {
          const name = pod.metadata?.name ?? '';
          const namespace = pod.metadata?.namespace ?? '';
          if (pod.metadata?.deletionTimestamp) continue;
          try {
            await core.createNamespacedPodEviction({
              name,
              namespace,
              body: { apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name, namespace } },
            });
            evicted.add(`${namespace}/${name}`);
          } catch (err) {
            // 429: a PodDisruptionBudget forbids it for now; retried until the timeout.
            if ((err as { code?: number }).code !== 429 && (err as { code?: number }).code !== 404) throw err;
          }
        }
        if (Date.now() > deadline) {
          return { result: false, comment: `Drain of ${nodeName} timed out; ${pods.length} pod(s) left` };
        }
        await sleep(250);
      }
    },
    { require: ['Cordon the node'] },
  );

  await ctx.step(
    'Run the highstate',
    'salt.state',
    async () => ({ result: true, comment: 'Emulated: no host to configure' }),
    { require: ['Drain the node'] },
  );

  await ctx.step('Uncordon the node', 'metalk8s_cordon.node_uncordoned', () => setUnschedulable(false), {
    require: ['Run the highstate'],
  });
}
