/**
 * `cluster.nodes`: the node lifecycle of a MetalK8s cluster, one reliable call each
 * (platform-reference.md §B): declare a Node as MetalK8s' UI does, preflight the host over SSH,
 * deploy it with `metalk8s.orchestrate.deploy_node` (the job recorded on the Node so every
 * client follows the same one; the node uncordoned again after a failure), drain it with
 * `kubectl drain` semantics, cordon and uncordon it, and remove it (Volumes first, then the
 * Node, then its Salt key).
 *
 * This module is the public face: the verbs, declare and preflight. Deploying lives in
 * `_node-deploy.ts`, removal in `_node-remove.ts`, draining in `_drain.ts`, the Node object in
 * `_node-model.ts` and `_node-info.ts`, the host checks in `_preflight.ts`.
 *
 * @module
 */
import { ClusterError, throwIfAborted } from '../errors.js';
import { type DrainResult, type DrainSettings, drainNode, nodeNotFound, setUnschedulable } from './_drain.js';
import { kubeFailure, kubeGet, kubeRequest } from '../_kube.js';
import type { LifecycleContext } from './_lifecycle.js';
import { MILLISECONDS, numberOption, TCP_PORT } from '../_number-option.js';
import { type DeployOptions, type DeployResult, deployNode, withDeployJob } from './_node-deploy.js';
import { clusterVersion, getNode, type NodeCallOptions, type NodeInfo, nodeInfo } from './_node-info.js';
import { type NodeDeclaration, type NodeManifest, type NodeObject, type NodeRole, type NodeSsh, nodeManifest } from './_node-model.js';
import { type RemoveNodeOptions, type RemoveNodeResult, removeNode } from './_node-remove.js';
import { noSshKey, type NetworksPillar, parseNetworksPillar, type PreflightCheck, type PreflightSettings, runPreflight } from './_preflight.js';

export type { DrainProgressEvent, DrainResult, DrainSettings } from './_drain.js';
export { DrainError } from './_drain.js';
export type { DeployOptions, DeployResult, DeployStep } from './_node-deploy.js';
export { DEPLOY_NODE_SLS, NodeDeployError } from './_node-deploy.js';
export type { NodeCallOptions, NodeInfo, NodeProgressEvent } from './_node-info.js';
export type { DeployState, MetalK8sRole, NodeDeclaration, NodeManifest, NodeRole, NodeSsh } from './_node-model.js';
export { nodeManifest, roleLabelsAndTaints } from './_node-model.js';
export type { RemoveNodeOptions, RemoveNodeResult } from './_node-remove.js';
export type { ListenersPerRole, NetworksPillar, PreflightCheck, PreflightSettings, PreflightStatus } from './_preflight.js';
export { DEFAULT_LISTENERS } from './_preflight.js';

/** Options of {@link NodesApi.declare}. */
export interface DeclareOptions extends NodeCallOptions {
  readonly roles: readonly NodeRole[];
  readonly ssh: NodeSsh;
  readonly labels?: Readonly<Record<string, string>> | undefined;
  readonly displayName?: string | undefined;
}

/** What {@link NodesApi.declare} did. */
export interface DeclareResult {
  readonly node: NodeInfo;
  /** `false` when the same Node was already declared. */
  readonly changed: boolean;
  /** The body sent (or that would have been). */
  readonly manifest: NodeManifest;
}

/** Options of {@link NodesApi.preflight}. */
export interface PreflightOptions extends NodeCallOptions, PreflightSettings {
  /** SSH access from here; host, port and user default to the Node's annotations. */
  readonly ssh?: { readonly privateKey?: string | Buffer | undefined; readonly host?: string | undefined; readonly port?: number | undefined; readonly user?: string | undefined } | undefined;
  /** The networks, instead of reading the `networks` pillar of the bootstrap minion. */
  readonly networks?: NetworksPillar | undefined;
}

/** What {@link NodesApi.preflight} found. */
export interface PreflightResult {
  readonly node: string;
  /** No check failed (warnings allowed). */
  readonly ok: boolean;
  readonly checks: readonly PreflightCheck[];
}

/** Options of {@link NodesApi.drain}. */
export interface DrainOptions extends NodeCallOptions, DrainSettings {}

/** Options of {@link NodesApi.cordon}. */
export type CordonOptions = NodeCallOptions;

/** What {@link NodesApi.cordon} did. */
export interface CordonResult {
  readonly node: string;
  /** `false` when the Node already was unschedulable. */
  readonly changed: boolean;
}

/** Options of {@link NodesApi.uncordon}. */
export type UncordonOptions = NodeCallOptions;

/** What {@link NodesApi.uncordon} did: `changed` is `false` when the Node already was schedulable. */
export type UncordonResult = CordonResult;

/** The stable part of a Node the SDK declares, to compare a rerun with what exists. */
function declaredFields(n: { metadata: { labels?: Record<string, string>; annotations?: Record<string, string> }; spec?: { taints?: readonly { key: string; effect: string }[] } }, manifest: NodeManifest): string[] {
  const diffs: string[] = [];
  for (const [k, v] of Object.entries(manifest.metadata.labels)) if (n.metadata.labels?.[k] !== v) diffs.push(`label ${k}`);
  for (const [k, v] of Object.entries(manifest.metadata.annotations)) if (n.metadata.annotations?.[k] !== v) diffs.push(`annotation ${k}`);
  for (const t of manifest.spec?.taints ?? []) if (!n.spec?.taints?.some((x) => x.key === t.key && x.effect === t.effect)) diffs.push(`taint ${t.key}`);
  return diffs;
}

/** The Nodes of a cluster. Get it from {@link connect}. */
export class NodesApi {
  readonly #ctx: LifecycleContext;

  /** @internal */
  constructor(ctx: LifecycleContext) {
    this.#ctx = ctx;
  }

  /**
   * Lists the Nodes: roles, version, conditions, addresses, and where each is in its deploy
   * (a recorded deploy job is asked to the salt-master, so one whose client stopped reads right).
   *
   * @example
   * ```ts
   * for (const n of await cluster.nodes.list()) console.log(n.name, n.deploy.state);
   * ```
   */
  async list(options: NodeCallOptions = {}): Promise<NodeInfo[]> {
    const list = await kubeGet<{ items: NodeObject[] }>(this.#ctx.kubeConfig, '/api/v1/nodes', options.signal);
    const nodes = (list?.items ?? []).map(nodeInfo).sort((a, b) => a.name.localeCompare(b.name));
    return Promise.all(nodes.map((n) => withDeployJob(this.#ctx, n, options.signal)));
  }

  /** One Node, or undefined. */
  async get(name: string, options: NodeCallOptions = {}): Promise<NodeInfo | undefined> {
    const n = await getNode(this.#ctx.kubeConfig, name, options.signal);
    return n ? withDeployJob(this.#ctx, nodeInfo(n), options.signal) : undefined;
  }

  /**
   * Declares a new node: creates its Node object as MetalK8s' UI does (version label from the
   * cluster version, role labels and taints from the role map, SSH annotations). Rerunning with
   * the same settings changes nothing.
   *
   * @throws `NODE_DECLARATION_INVALID` naming the field; `NODE_EXISTS` when a different Node has the name.
   * @example
   * ```ts
   * await cluster.nodes.declare('node-2', { roles: ['workload'], ssh: { host: '10.0.0.12', user: 'centos', sudo: true } });
   * ```
   */
  async declare(name: string, options: DeclareOptions): Promise<DeclareResult> {
    const decl: NodeDeclaration = { name, roles: options.roles, ssh: options.ssh, labels: options.labels, displayName: options.displayName };
    const manifest = nodeManifest(decl, clusterVersion(this.#ctx));
    const kc = this.#ctx.kubeConfig;
    const res = await kubeRequest(kc, 'POST', '/api/v1/nodes', manifest, undefined, options.signal);
    if (res.status === 201 || res.status === 200) {
      options.onProgress?.({ type: 'step', step: 'declare', status: 'done', detail: name });
      return { node: nodeInfo(res.json as NodeObject), changed: true, manifest };
    }
    if (res.status !== 409) throw kubeFailure(`create Node ${name}`, res);
    const existing = await getNode(this.#ctx.kubeConfig, name, options.signal);
    if (!existing) throw kubeFailure(`create Node ${name}`, res);
    const diffs = declaredFields(existing, manifest);
    if (diffs.length > 0) {
      throw new ClusterError('NODE_EXISTS', `a Node named ${name} already exists with a different ${diffs.join(', ')}`, {
        hint: 'Pick another name, or remove the existing node first (`solution nodes remove`).',
        status: 409,
      });
    }
    options.onProgress?.({ type: 'step', step: 'declare', status: 'skipped', detail: `${name} already declared` });
    return { node: nodeInfo(existing), changed: false, manifest };
  }

  /**
   * Checks a declared node's host over SSH before deploying it. Never throws for a failing
   * check: each comes back as pass, warn or fail with the evidence.
   *
   * @throws `NODE_NOT_FOUND`, `PREFLIGHT_NO_SSH_KEY`, `OPTION_INVALID` (a port or clock limit out of range).
   * @example
   * ```ts
   * const { ok, checks } = await cluster.nodes.preflight('node-2', { ssh: { privateKey } });
   * ```
   */
  async preflight(name: string, options: PreflightOptions = {}): Promise<PreflightResult> {
    // The declared port is checked by declare (nodeManifest); this one overrides it.
    numberOption('ssh.port', options.ssh?.port, TCP_PORT);
    numberOption('clockWarnMs', options.clockWarnMs, MILLISECONDS);
    numberOption('clockFailMs', options.clockFailMs, MILLISECONDS);
    const node = await getNode(this.#ctx.kubeConfig, name, options.signal);
    if (!node) throw nodeNotFound(name);
    const n = nodeInfo(node);
    const privateKey = options.ssh?.privateKey ?? this.#ctx.ssh?.privateKey;
    if (!privateKey) throw noSshKey(name);
    let networks: NetworksPillar | string;
    if (options.networks) networks = options.networks;
    else {
      try {
        const answer = await this.#ctx.salt.local({ tgt: this.#ctx.bootstrapId, fun: 'pillar.get', arg: ['networks'] }, { signal: options.signal });
        networks = parseNetworksPillar(answer[this.#ctx.bootstrapId]) ?? `the bootstrap minion ${this.#ctx.bootstrapId} has no networks pillar`;
      } catch (err) {
        throwIfAborted(options.signal, 'preflight');
        networks = `cannot read the networks pillar: ${(err as Error).message}`;
      }
    }
    const checks = await runPreflight(
      {
        node: name,
        host: options.ssh?.host ?? n.ssh.host ?? name,
        port: options.ssh?.port ?? n.ssh.port,
        user: options.ssh?.user ?? n.ssh.user,
        sudo: n.ssh.sudo,
        privateKey,
        roles: n.roles,
        nodeNameMustResolve: n.ssh.host === undefined,
        networks,
      },
      options,
      options.signal,
      (check) => options.onProgress?.({ type: 'check', check }),
    );
    return { node: name, ok: checks.every((c) => c.status !== 'fail'), checks };
  }

  /**
   * Deploys a declared node (or redeploys one): `metalk8s.orchestrate.deploy_node` through
   * `runner_async`, in the cluster's saltenv. The job id is recorded on the Node, so a rerun or
   * another client follows the running job instead of starting a second one. Progress comes
   * per orchestrate step; on failure the node is uncordoned again.
   *
   * @throws {@link NodeDeployError} naming the root-cause step and Salt's comment.
   * @example
   * ```ts
   * await cluster.nodes.deploy('node-2', { onProgress: (e) => e.type === 'deploy-step' && console.log(e.id) });
   * ```
   */
  async deploy(name: string, options: DeployOptions = {}): Promise<DeployResult> {
    return deployNode(this.#ctx, name, options);
  }

  /**
   * Drains a node with `kubectl drain` semantics: cordon, then evict its Pods through the
   * Eviction API (PodDisruptionBudgets honoured, 429 retried), each Pod with its own grace
   * period unless told otherwise.
   *
   * @throws `DrainError` `DRAIN_BLOCKED` (listing every Pod and why), `DRAIN_TIMEOUT` (the Pods left).
   * @example
   * ```ts
   * await cluster.nodes.drain('node-2', { ignoreDaemonSets: true, timeoutMs: 300_000 });
   * ```
   */
  async drain(name: string, options: DrainOptions = {}): Promise<DrainResult> {
    return drainNode(this.#ctx.kubeConfig, name, options);
  }

  /** Marks a node unschedulable; returns whether it changed. @example `await cluster.nodes.cordon('node-2')` */
  async cordon(name: string, options: CordonOptions = {}): Promise<CordonResult> {
    return { node: name, changed: await setUnschedulable(this.#ctx.kubeConfig, name, true, options.signal) };
  }

  /** Marks a node schedulable again; returns whether it changed. @example `await cluster.nodes.uncordon('node-2')` */
  async uncordon(name: string, options: UncordonOptions = {}): Promise<UncordonResult> {
    return { node: name, changed: await setUnschedulable(this.#ctx.kubeConfig, name, false, options.signal) };
  }

  /**
   * Removes a node from the cluster: refuses the bootstrap node, the last control-plane or
   * etcd node, and a node whose Volumes claims still hold (unless `deleteClaims`); for an etcd
   * node, checks through a peer that its member can be removed safely (else stops, nothing
   * changed, with the exact `etcdctl` commands); drains it; deletes the claims it was allowed
   * to, then its Volumes, and waits for them; removes the etcd member; deletes the Node; deletes its Salt
   * key. Every step is skipped when already done, so a rerun converges.
   *
   * @throws `NODE_REMOVE_REFUSED`, `NODE_VOLUMES_IN_USE` (claims still hold its Volumes; nothing changed),
   *   `ETCD_MEMBER_REMOVAL_NEEDED`, `DrainError`, `NODE_VOLUMES_STUCK`.
   * @example
   * ```ts
   * await cluster.nodes.remove('node-2');
   * ```
   */
  async remove(name: string, options: RemoveNodeOptions = {}): Promise<RemoveNodeResult> {
    return removeNode(this.#ctx, name, options);
  }
}
