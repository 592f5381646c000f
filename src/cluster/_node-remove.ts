/**
 * Removing a Node (platform-reference.md §B.5): the refusals (bootstrap node, last control-plane
 * or etcd node, claimed Volumes), the etcd member checked and removed through a healthy peer
 * (or the exact `etcdctl` commands when it cannot be), then drain, Volumes, etcd member, the Node
 * and its Salt key, each step skipped when already done so that a rerun converges.
 */
import { ClusterError } from '../errors.js';
import { checkDrainSettings, type DrainResult, type DrainSettings, drainNode } from './_drain.js';
import { kubeFailure, kubeGet, kubeRequest } from '../_kube.js';
import type { LifecycleContext } from './_lifecycle.js';
import { getNode, type NodeCallOptions, nodePath } from './_node-info.js';
import { type NodeObject, nodeRoles } from './_node-model.js';
import { checkNodeClaims, deleteNodeVolumes, nodeVolumes } from './_node-volumes.js';
import { MILLISECONDS, numberOption } from '../_number-option.js';
import { sleep } from '../_wait.js';

/** Options of {@link NodesApi.remove}. */
export interface RemoveNodeOptions extends NodeCallOptions {
  /**
   * How the node is drained first.
   * @default { ignoreDaemonSets: true, deleteEmptyDirData: true } (kubectl semantics otherwise)
   */
  readonly drain?: DrainSettings | undefined;
  /** How long its Volumes may take to be deleted. @default 600000 */
  readonly volumesTimeoutMs?: number | undefined;
  /**
   * Delete the PersistentVolumeClaims that still hold the node's Volumes (after the drain).
   * Their data lives on the node and is lost with it; without this, `remove` refuses
   * (`NODE_VOLUMES_IN_USE`) before changing anything.
   * @default false
   */
  readonly deleteClaims?: boolean | undefined;
  /**
   * The node's etcd member was removed already (the command {@link NodesApi.remove} printed).
   * @default false
   */
  readonly etcdMemberRemoved?: boolean | undefined;
}

/** What {@link NodesApi.remove} did. */
export interface RemoveNodeResult {
  readonly node: string;
  /** `false` when nothing was left to remove. */
  readonly changed: boolean;
  readonly drained: DrainResult | undefined;
  readonly volumesDeleted: readonly string[];
  readonly nodeDeleted: boolean;
  readonly keyDeleted: boolean;
}

/** etcdctl inside the etcd static Pod of a MetalK8s node (docs/operation/disaster_recovery). */
const ETCDCTL =
  'crictl exec -i "$(crictl ps -q --label io.kubernetes.container.name=etcd)" etcdctl --endpoints https://localhost:2379 ' +
  '--cacert /etc/kubernetes/pki/etcd/ca.crt --key /etc/kubernetes/pki/etcd/server.key --cert /etc/kubernetes/pki/etcd/server.crt';

function etcdManual(name: string, peer: string, why: string): ClusterError {
  return new ClusterError(
    'ETCD_MEMBER_REMOVAL_NEEDED',
    `${name} is an etcd member, and the SDK did not remove it: ${why}. Nothing was changed. Once the cluster is healthy, on ${peer} run:\n  ${ETCDCTL} member list\nthen, with the ID of the line naming ${name}:\n  ${ETCDCTL} member remove <ID>`,
    { hint: 'Then run remove again with etcdMemberRemoved: true (CLI: --etcd-member-removed), or run remove again once every etcd member is healthy.' },
  );
}

/** Runs etcdctl in the etcd container of `peer` through Salt; undefined when the minion does not answer. */
async function etcdctl(ctx: LifecycleContext, peer: string, args: string, signal?: AbortSignal): Promise<{ retcode: number; stdout: string; stderr: string } | undefined> {
  const answer = await ctx.salt.local({ tgt: peer, fun: 'cmd.run_all', arg: [`${ETCDCTL} ${args}`], kwarg: { python_shell: true }, timeout: 30 }, { signal });
  const r = answer[peer] as { retcode?: number; stdout?: string; stderr?: string } | string | undefined;
  if (r === undefined || typeof r !== 'object') return undefined;
  return { retcode: r.retcode ?? 1, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

/**
 * Finds the etcd member of `name` and checks that removing it is safe: listed through a peer
 * whose minion answers, every other member healthy. Throws `ETCD_MEMBER_REMOVAL_NEEDED` with
 * the manual commands otherwise.
 */
async function etcdMember(ctx: LifecycleContext, name: string, all: readonly NodeObject[], signal?: AbortSignal): Promise<{ peer: string; id: string | undefined }> {
  const peers = all
    .filter((n) => n.metadata.name !== name && nodeRoles(n).includes('etcd'))
    .map((n) => n.metadata.name)
    .sort((a, b) => Number(b === ctx.bootstrapId) - Number(a === ctx.bootstrapId) || a.localeCompare(b));
  const tried: string[] = [];
  for (const peer of peers) {
    const list = await etcdctl(ctx, peer, 'member list', signal).catch(() => undefined);
    if (list?.retcode !== 0) {
      tried.push(`${peer}: ${list ? (list.stderr || list.stdout).trim().slice(0, 200) : 'the minion did not answer'}`);
      continue;
    }
    const members = list.stdout
      .split('\n')
      .map((l) => l.split(',').map((c) => c.trim()))
      .filter((c) => c.length >= 5 && /^[0-9a-f]+$/.test(c[0] ?? ''));
    const mine = members.find((c) => c[2] === name);
    if (!mine) return { peer, id: undefined };
    const health = await etcdctl(ctx, peer, 'endpoint health --cluster -w json', signal);
    let entries: { endpoint?: string; health?: boolean; error?: string }[] = [];
    try {
      entries = JSON.parse(health?.stdout || '[]') as typeof entries;
    } catch {
      throw etcdManual(name, peer, `cannot read the cluster health from ${peer}: ${(health?.stderr ?? '').trim().slice(0, 200)}`);
    }
    const ownUrls = (mine[4] ?? '').split(/\s+/);
    const sick = entries.filter((e) => e.health !== true && !ownUrls.includes(e.endpoint ?? ''));
    if (sick.length > 0) {
      throw etcdManual(name, peer, `removing a member now is not safe: ${sick.map((e) => `${e.endpoint} is unhealthy${e.error ? ` (${e.error})` : ''}`).join(', ')}`);
    }
    return { peer, id: mine[0] };
  }
  throw etcdManual(name, peers[0] ?? ctx.bootstrapId, `no etcd peer could list the members (${tried.join('; ') || 'no other etcd node'})`);
}

/** The body of {@link NodesApi.remove}. */
export async function removeNode(ctx: LifecycleContext, name: string, options: RemoveNodeOptions): Promise<RemoveNodeResult> {
  const { signal, onProgress } = options;
  // Before the first request: the drain comes after the refusals, the Volumes after the drain.
  checkDrainSettings(options.drain, 'drain.');
  numberOption('volumesTimeoutMs', options.volumesTimeoutMs, MILLISECONDS);
  const kc = ctx.kubeConfig;
  const node = await getNode(kc, name, signal);
  let drained: DrainResult | undefined;
  let volumesDeleted: string[] = [];
  let nodeDeleted = false;
  if (node) {
    const roles = nodeRoles(node);
    if (roles.includes('bootstrap') || name === ctx.bootstrapId) {
      throw new ClusterError('NODE_REMOVE_REFUSED', `${name} is the bootstrap node: it runs the salt-master and the repositories, and cannot be removed`, {
        hint: 'MetalK8s cannot move the bootstrap role; restore it elsewhere with the bootstrap backup procedure instead.',
      });
    }
    const all = (await kubeGet<{ items: NodeObject[] }>(kc, '/api/v1/nodes', signal))?.items ?? [];
    for (const role of ['master', 'etcd'] as const) {
      if (!roles.includes(role)) continue;
      const others = all.filter((n) => n.metadata.name !== name && nodeRoles(n).includes(role));
      if (others.length === 0) {
        throw new ClusterError('NODE_REMOVE_REFUSED', `${name} is the last ${role === 'master' ? 'control-plane (master)' : 'etcd'} node: removing it would destroy the cluster`, {
          hint: `Deploy another ${role} node first.`,
        });
      }
    }
    // Checked before anything changes: claims on its Volumes, and its etcd member (which itself goes after the Volumes).
    const claims = await checkNodeClaims(kc, name, options.deleteClaims === true, signal);
    const member = roles.includes('etcd') && options.etcdMemberRemoved !== true ? await etcdMember(ctx, name, all, signal) : undefined;
    onProgress?.({ type: 'step', step: 'drain', status: 'started' });
    drained = await drainNode(kc, name, { ignoreDaemonSets: true, deleteEmptyDirData: true, ...options.drain, signal, onProgress });
    onProgress?.({ type: 'step', step: 'drain', status: 'done', detail: `${drained.evicted.length} Pod(s) evicted` });
    onProgress?.({ type: 'step', step: 'volumes', status: 'started' });
    volumesDeleted = await deleteNodeVolumes(kc, name, {
      timeoutMs: options.volumesTimeoutMs ?? 600_000,
      claims,
      signal,
      onWaiting: (left, elapsedMs) => onProgress?.({ type: 'waiting', what: `Volumes ${left.join(', ')} to be deleted`, elapsedMs }),
    });
    onProgress?.({ type: 'step', step: 'volumes', status: volumesDeleted.length > 0 ? 'done' : 'skipped', detail: volumesDeleted.length > 0 ? volumesDeleted.join(', ') : 'no Volume' });
    if (member?.id) {
      const r = await etcdctl(ctx, member.peer, `member remove ${member.id}`, signal);
      if (r?.retcode !== 0) {
        throw etcdManual(name, member.peer, `etcdctl member remove ${member.id} on ${member.peer} failed: ${(r?.stderr || r?.stdout || 'no answer').trim().slice(0, 300)}`);
      }
      onProgress?.({ type: 'step', step: 'etcd-member', status: 'done', detail: `member ${member.id} removed (through ${member.peer})` });
    } else if (member) onProgress?.({ type: 'step', step: 'etcd-member', status: 'skipped', detail: `${name} is not an etcd member` });
    const del = await kubeRequest(kc, 'DELETE', nodePath(name), undefined, undefined, signal);
    if (del.status >= 300 && del.status !== 404) throw kubeFailure(`delete Node ${name}`, del);
    for (let i = 0; (await getNode(kc, name, signal)) && i < 120; i++) await sleep(250);
    nodeDeleted = del.status < 300;
    onProgress?.({ type: 'step', step: 'node', status: 'done', detail: `Node ${name} deleted` });
  } else {
    const left = await nodeVolumes(kc, name, signal);
    if (left.length > 0) {
      throw new ClusterError('NODE_VOLUMES_ORPHANED', `Node ${name} is gone but its Volumes ${left.map((v) => v.name).join(', ')} remain: the storage-operator can no longer finalize them`, {
        hint: 'Re-declare the Node with the same name and version so the Volumes can be finalized, or remove their finalizers by hand knowing the disks are not cleaned.',
      });
    }
    onProgress?.({ type: 'step', step: 'node', status: 'skipped', detail: `Node ${name} does not exist` });
  }
  const keys = await ctx.salt.wheel({ fun: 'key.list_all' }, { signal });
  if (!keys.success) {
    throw new ClusterError('SALT_KEY_LIST_FAILED', `wheel key.list_all failed: ${String(keys.return).slice(0, 300)}`, { hint: 'Check that the SaltAPI user is a node admin (@wheel).' });
  }
  const listed = Object.values((keys.return ?? {}) as Record<string, unknown>).some((v) => Array.isArray(v) && v.includes(name));
  let keyDeleted = false;
  if (listed) {
    const del = await ctx.salt.wheel({ fun: 'key.delete', kwarg: { match: name } }, { signal });
    if (!del.success) {
      throw new ClusterError('SALT_KEY_DELETE_FAILED', `wheel key.delete of ${name} failed: ${String(del.return).split('\n').filter(Boolean).at(-1) ?? ''}`, {
        hint: `Delete it on the salt-master: salt-key -d ${name}.`,
      });
    }
    keyDeleted = true;
    onProgress?.({ type: 'step', step: 'salt-key', status: 'done', detail: `key ${name} deleted` });
  } else onProgress?.({ type: 'step', step: 'salt-key', status: 'skipped', detail: `no key ${name}` });
  return { node: name, changed: nodeDeleted || keyDeleted || volumesDeleted.length > 0, drained, volumesDeleted, nodeDeleted, keyDeleted };
}
