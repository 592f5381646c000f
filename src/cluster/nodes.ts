/**
 * `cluster.nodes`: the node lifecycle of a MetalK8s cluster, one reliable call each
 * (platform-reference.md §B): declare a Node as MetalK8s' UI does, preflight the host over SSH,
 * deploy it with `metalk8s.orchestrate.deploy_node` (the job recorded on the Node so every
 * client follows the same one; the node uncordoned again after a failure), drain it with
 * `kubectl drain` semantics, cordon and uncordon it, and remove it (Volumes first, then the
 * Node, then its Salt key).
 *
 * @module
 */
import { randomBytes } from 'node:crypto';
import { ClusterError, type ServiceErrorOptions, throwIfAborted } from '../errors.js';
import { type DrainProgressEvent, type DrainSettings, type DrainResult, drainNode, nodeNotFound, setUnschedulable } from './_drain.js';
import { kubeFailure, kubeGet, kubePatch, kubeRequest } from '../_kube.js';
import type { LifecycleContext } from './_lifecycle.js';
import {
  DEPLOY_JOB_ANNOTATION,
  DEPLOY_PENDING_PREFIX,
  DEPLOY_RESULT_ANNOTATION,
  DEPLOY_STARTED_ANNOTATION,
  type DeployState,
  deployState,
  encodeDeployResult,
  isNodeReady,
  type MetalK8sRole,
  NAME_LABEL,
  type NodeDeclaration,
  type NodeManifest,
  type NodeObject,
  type NodeRole,
  type NodeSsh,
  nodeManifest,
  nodeRoles,
  SSH_PREFIX,
  VERSION_LABEL,
} from './_node-model.js';
import { checkNodeClaims, deleteNodeVolumes, nodeVolumes } from './_node-volumes.js';
import { noSshKey, type NetworksPillar, parseNetworksPillar, type PreflightCheck, type PreflightSettings, runPreflight } from './_preflight.js';
import { type JobStatus, orchestrateResult, type SaltEvent } from './salt-api.js';
import { describeFailure, type SaltStateStep } from './salt-results.js';
import { sleep } from '../_wait.js';

export type { DrainProgressEvent, DrainResult, DrainSettings } from './_drain.js';
export { DrainError } from './_drain.js';
export type { DeployState, MetalK8sRole, NodeDeclaration, NodeManifest, NodeRole, NodeSsh } from './_node-model.js';
export { nodeManifest, roleLabelsAndTaints } from './_node-model.js';
export type { ListenersPerRole, NetworksPillar, PreflightCheck, PreflightSettings, PreflightStatus } from './_preflight.js';
export { DEFAULT_LISTENERS } from './_preflight.js';

/** The SLS MetalK8s deploys a node with. */
export const DEPLOY_NODE_SLS = 'metalk8s.orchestrate.deploy_node';

/** Progress of a node verb. */
export type NodeProgressEvent =
  | { readonly type: 'step'; readonly step: string; readonly status: 'started' | 'done' | 'skipped'; readonly detail?: string | undefined }
  | { readonly type: 'salt-job'; readonly step: string; readonly jid: string; readonly followed: boolean }
  | {
      readonly type: 'deploy-step';
      readonly jid: string;
      /** `__run_num__` of the state in the orchestrate. */
      readonly index: number;
      /** State ID, e.g. `Run the highstate`. */
      readonly id: string;
      readonly result: boolean | null;
      readonly comment: string;
    }
  | {
      /** A minion job a deploy step started on the node (live, from the SaltAPI event stream). */
      readonly type: 'salt-activity';
      readonly jid: string;
      /** Execution function, e.g. `state.sls`, `state.highstate`, `saltutil.sync_all`. */
      readonly fun: string;
      readonly args: readonly string[];
      /** `started`, then `succeeded` or `failed`. */
      readonly status: 'started' | 'succeeded' | 'failed';
    }
  | { readonly type: 'check'; readonly check: PreflightCheck }
  | { readonly type: 'warning'; readonly message: string }
  | { readonly type: 'waiting'; readonly what: string; readonly elapsedMs: number }
  | DrainProgressEvent;

/** Options every node verb takes. */
export interface NodeCallOptions {
  readonly signal?: AbortSignal | undefined;
  readonly onProgress?: ((event: NodeProgressEvent) => void) | undefined;
}

/** A Node as {@link NodesApi.list} describes it. */
export interface NodeInfo {
  readonly name: string;
  /** The `metalk8s.scality.com/name` label, when set. */
  readonly displayName: string | undefined;
  readonly roles: readonly MetalK8sRole[];
  /** The `metalk8s.scality.com/version` label: the saltenv deploy_node uses for the node. */
  readonly version: string | undefined;
  readonly ready: boolean;
  readonly schedulable: boolean;
  readonly conditions: readonly { readonly type: string; readonly status: string; readonly reason?: string | undefined; readonly message?: string | undefined }[];
  /** Addresses by type (`InternalIP`, `Hostname`, …). */
  readonly addresses: Readonly<Record<string, string>>;
  readonly ssh: { readonly host: string | undefined; readonly port: number; readonly user: string; readonly keyPath: string | undefined; readonly sudo: boolean };
  readonly deploy: DeployState;
}

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

/** Options of {@link NodesApi.deploy}. */
export interface DeployOptions extends NodeCallOptions {
  /** Do not drain the node first (pillar `orchestrate.skip_draining`). @default false */
  readonly skipDraining?: boolean | undefined;
  /** Drain timeout passed to the orchestrate, seconds (`orchestrate.drain_timeout`). @default MetalK8s' (1 h) */
  readonly drainTimeoutSeconds?: number | undefined;
  /** Give up following the job after this long (the job goes on). @default 3600000 */
  readonly timeoutMs?: number | undefined;
  /** How long the node may take to become Ready after the job. @default 300000 */
  readonly readyTimeoutMs?: number | undefined;
  /** Job polling interval, besides the event stream. @default 2000 */
  readonly pollIntervalMs?: number | undefined;
}

/** One step of a finished deploy. */
export interface DeployStep {
  readonly index: number;
  readonly id: string;
  readonly result: boolean | null;
  readonly comment: string;
}

/** What {@link NodesApi.deploy} did. */
export interface DeployResult {
  readonly node: string;
  readonly jid: string;
  /** `true` when this call followed a job another client (or an earlier run) had started. */
  readonly followed: boolean;
  readonly steps: readonly DeployStep[];
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

/** A deploy that failed, with the step at fault. */
export class NodeDeployError extends ClusterError {
  /** State ID of the root-cause step (the first failure that is not a requisite cascade). */
  readonly step: string;
  /** Salt's comment for it (with the nested cause for orchestrate steps). */
  readonly comment: string;
  readonly jid: string;
  /** Whether the node is schedulable again. */
  readonly uncordoned: boolean;
  constructor(message: string, fields: { step: string; comment: string; jid: string; uncordoned: boolean }, options: ServiceErrorOptions) {
    super('NODE_DEPLOY_FAILED', message, options);
    this.step = fields.step;
    this.comment = fields.comment;
    this.jid = fields.jid;
    this.uncordoned = fields.uncordoned;
  }
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

const nodePath = (name: string): string => `/api/v1/nodes/${encodeURIComponent(name)}`;

function info(node: NodeObject): NodeInfo {
  const a = node.metadata.annotations ?? {};
  const addresses: Record<string, string> = {};
  for (const x of node.status?.addresses ?? []) addresses[x.type] ??= x.address;
  return {
    name: node.metadata.name,
    displayName: node.metadata.labels?.[NAME_LABEL],
    roles: nodeRoles(node),
    version: node.metadata.labels?.[VERSION_LABEL],
    ready: isNodeReady(node),
    schedulable: node.spec?.unschedulable !== true,
    conditions: (node.status?.conditions ?? []).map((c) => ({ type: c.type, status: c.status, reason: c.reason, message: c.message })),
    addresses,
    ssh: {
      host: a[`${SSH_PREFIX}host`],
      port: Number(a[`${SSH_PREFIX}port`] ?? 22) || 22,
      user: a[`${SSH_PREFIX}user`] || 'root',
      keyPath: a[`${SSH_PREFIX}key-path`],
      // As MetalK8s' roster reads it: any non-empty string means sudo.
      sudo: (a[`${SSH_PREFIX}sudo`] ?? '') !== '',
    },
    deploy: deployState(node),
  };
}

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

  get #version(): string {
    return this.#ctx.saltenv.replace(/^metalk8s-/, '');
  }

  async #get(name: string, signal?: AbortSignal): Promise<NodeObject | undefined> {
    return kubeGet<NodeObject>(this.#ctx.kubeConfig, nodePath(name), signal);
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
    const nodes = (list?.items ?? []).map(info).sort((a, b) => a.name.localeCompare(b.name));
    return Promise.all(nodes.map((n) => this.#withJob(n, options.signal)));
  }

  /**
   * A Node recorded as deploying whose job has ended (its client stopped before writing the
   * result) reads as the job ended: deployed, or failed at its root-cause step.
   */
  async #withJob(n: NodeInfo, signal?: AbortSignal): Promise<NodeInfo> {
    if (n.deploy.state !== 'deploying' || n.deploy.jid === undefined) return n;
    const status = await this.#ctx.salt.printJob(n.deploy.jid, { signal }).catch(() => undefined);
    if (!status?.done) return n;
    const r = orchestrateResult(n.deploy.jid, status.result);
    if (r.success) return { ...n, deploy: { state: 'deployed' } };
    const step = r.failure?.step.id ?? 'deploy_node';
    const comment = r.failure ? describeFailure(r.failure).slice(step.length + 2) : r.errors.join('; ');
    return { ...n, deploy: { state: 'failed', jid: n.deploy.jid, step, comment } };
  }

  /** One Node, or undefined. */
  async get(name: string, options: NodeCallOptions = {}): Promise<NodeInfo | undefined> {
    const n = await this.#get(name, options.signal);
    return n ? this.#withJob(info(n), options.signal) : undefined;
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
    const manifest = nodeManifest(decl, this.#version);
    const kc = this.#ctx.kubeConfig;
    const res = await kubeRequest(kc, 'POST', '/api/v1/nodes', manifest, undefined, options.signal);
    if (res.status === 201 || res.status === 200) {
      options.onProgress?.({ type: 'step', step: 'declare', status: 'done', detail: name });
      return { node: info(res.json as NodeObject), changed: true, manifest };
    }
    if (res.status !== 409) throw kubeFailure(`create Node ${name}`, res);
    const existing = await this.#get(name, options.signal);
    if (!existing) throw kubeFailure(`create Node ${name}`, res);
    const diffs = declaredFields(existing, manifest);
    if (diffs.length > 0) {
      throw new ClusterError('NODE_EXISTS', `a Node named ${name} already exists with a different ${diffs.join(', ')}`, {
        hint: 'Pick another name, or remove the existing node first (`solution nodes remove`).',
        status: 409,
      });
    }
    options.onProgress?.({ type: 'step', step: 'declare', status: 'skipped', detail: `${name} already declared` });
    return { node: info(existing), changed: false, manifest };
  }

  /**
   * Checks a declared node's host over SSH before deploying it. Never throws for a failing
   * check: each comes back as pass, warn or fail with the evidence.
   *
   * @throws `NODE_NOT_FOUND`, `PREFLIGHT_NO_SSH_KEY`.
   * @example
   * ```ts
   * const { ok, checks } = await cluster.nodes.preflight('node-2', { ssh: { privateKey } });
   * ```
   */
  async preflight(name: string, options: PreflightOptions = {}): Promise<PreflightResult> {
    const node = await this.#get(name, options.signal);
    if (!node) throw nodeNotFound(name);
    const n = info(node);
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
    const { signal, onProgress } = options;
    const kc = this.#ctx.kubeConfig;
    for (let attempt = 0; ; attempt++) {
      throwIfAborted(signal, `deploy of ${name}`);
      const node = await this.#get(name, signal);
      if (!node) throw nodeNotFound(name);
      if (!node.metadata.labels?.[VERSION_LABEL]) {
        throw new ClusterError('NODE_NO_VERSION', `Node ${name} has no ${VERSION_LABEL} label: deploy_node cannot pick its saltenv`, {
          hint: `Label it with the cluster version (${this.#version}), or declare it with \`solution nodes declare\`.`,
        });
      }
      const a = node.metadata.annotations ?? {};
      const current = a[DEPLOY_JOB_ANNOTATION];
      if (current !== undefined && a[DEPLOY_RESULT_ANNOTATION] === undefined) {
        if (!current.startsWith(DEPLOY_PENDING_PREFIX)) {
          const known = await this.#ctx.salt.printJob(current, { signal }).then(
            () => true,
            (err: unknown) => {
              if (err instanceof ClusterError && err.code === 'SALT_JOB_UNKNOWN') return false;
              throw err;
            },
          );
          if (known) {
            onProgress?.({ type: 'salt-job', step: 'deploy', jid: current, followed: true });
            return this.#follow(name, current, true, undefined, options);
          }
        } else {
          const started = Date.parse(a[DEPLOY_STARTED_ANNOTATION] ?? '') || 0;
          if (Date.now() - started < 60_000) {
            onProgress?.({ type: 'waiting', what: `another client starting the deploy of ${name}`, elapsedMs: Date.now() - started });
            await sleep(300);
            continue;
          }
        }
        onProgress?.({ type: 'warning', message: `the deploy recorded on ${name} (${current}) is gone from the salt-master: starting a new one` });
      }
      // Claim the deploy: only one client wins this write (resourceVersion precondition).
      const claim = `${DEPLOY_PENDING_PREFIX}${randomBytes(6).toString('hex')}`;
      const claimed = await kubeRequest(
        kc,
        'PATCH',
        nodePath(name),
        {
          metadata: {
            resourceVersion: node.metadata.resourceVersion,
            annotations: { [DEPLOY_JOB_ANNOTATION]: claim, [DEPLOY_STARTED_ANNOTATION]: new Date().toISOString(), [DEPLOY_RESULT_ANNOTATION]: null },
          },
        },
        'application/merge-patch+json',
        signal,
      );
      if (claimed.status === 409 && attempt < 50) continue;
      if (claimed.status >= 300) throw kubeFailure(`record the deploy on Node ${name}`, claimed);
      // Listen before starting, so that no step event is missed.
      const abort = new AbortController();
      const onAbort = (): void => abort.abort();
      signal?.addEventListener('abort', onAbort, { once: true });
      const stream = this.#ctx.salt.events({ signal: abort.signal });
      const first = stream.next();
      // Read by the follower; a stream that fails before it starts must not be an unhandled rejection.
      first.catch(() => undefined);
      let jid: string;
      try {
        const pillar: Record<string, unknown> = { node_name: name };
        if (options.skipDraining) pillar.skip_draining = true;
        if (options.drainTimeoutSeconds) pillar.drain_timeout = options.drainTimeoutSeconds;
        const job = await this.#ctx.salt.runnerAsync(
          { fun: 'state.orchestrate', arg: [DEPLOY_NODE_SLS], kwarg: { saltenv: this.#ctx.saltenv, pillar: { orchestrate: pillar } } },
          { signal },
        );
        jid = job.jid;
        await kubePatch(kc, nodePath(name), { metadata: { annotations: { [DEPLOY_JOB_ANNOTATION]: jid } } }, signal);
      } catch (err) {
        abort.abort();
        signal?.removeEventListener('abort', onAbort);
        await kubePatch(kc, nodePath(name), { metadata: { annotations: { [DEPLOY_JOB_ANNOTATION]: null, [DEPLOY_STARTED_ANNOTATION]: null } } }).catch(() => undefined);
        throw err;
      }
      onProgress?.({ type: 'salt-job', step: 'deploy', jid, followed: false });
      try {
        return await this.#follow(name, jid, false, { stream, first }, options);
      } finally {
        abort.abort();
        signal?.removeEventListener('abort', onAbort);
      }
    }
  }

  async #follow(
    name: string,
    jid: string,
    followed: boolean,
    events: { stream: AsyncGenerator<SaltEvent>; first: Promise<IteratorResult<SaltEvent>> } | undefined,
    options: DeployOptions,
  ): Promise<DeployResult> {
    const { signal, onProgress } = options;
    const kc = this.#ctx.kubeConfig;
    const seen = new Set<number>();
    const emit = (s: { index: number; id: string; result: boolean | null; comment: string }): void => {
      if (seen.has(s.index)) return;
      seen.add(s.index);
      onProgress?.({ type: 'deploy-step', jid, ...s });
    };
    const local = new AbortController();
    const onAbort = (): void => local.abort();
    signal?.addEventListener('abort', onAbort, { once: true });
    let ended = false;
    const wake: (() => void)[] = [];
    const nudge = (): void => {
      for (const w of wake.splice(0)) w();
    };
    // Live progress: the minion jobs deploy_node's salt.state / salt.function steps publish on
    // the node (`salt/job/<jid>/new`, then `…/ret/<node>`). An orchestrate fires no event per
    // state (checked against salt-api 3007), so the steps themselves come from the job result.
    const stream = events?.stream ?? this.#ctx.salt.events({ signal: local.signal });
    const ours = new Set<string>();
    const reader = (async () => {
      try {
        let next = events?.first ?? stream.next();
        for (;;) {
          const r = await next;
          if (r.done || ended) return;
          const ev = r.value;
          const m = /^salt\/job\/(\d+)\/(new|ret\/(.+))$/.exec(ev.tag);
          if (m?.[1] && m[1] !== jid) {
            const d = ev.data;
            const minions = Array.isArray(d.minions) ? d.minions.map(String) : [];
            if (m[2] === 'new' && (minions.includes(name) || String(d.tgt ?? '') === name)) {
              ours.add(m[1]);
              const args = Array.isArray(d.arg) ? d.arg.map((x) => (typeof x === 'string' ? x : JSON.stringify(x))) : [];
              onProgress?.({ type: 'salt-activity', jid: m[1], fun: String(d.fun ?? ''), args, status: 'started' });
            } else if (m[3] === name && ours.has(m[1])) {
              onProgress?.({ type: 'salt-activity', jid: m[1], fun: String(d.fun ?? ''), args: [], status: d.success === true ? 'succeeded' : 'failed' });
            }
          } else if (ev.tag === `salt/run/${jid}/ret`) nudge();
          next = stream.next();
        }
      } catch {
        // The stream broke (salt-api restart): polling carries on.
      }
    })();
    const timeout = options.timeoutMs ?? 3_600_000;
    const interval = options.pollIntervalMs ?? 2000;
    const start = Date.now();
    try {
      let status: JobStatus | undefined;
      for (;;) {
        throwIfAborted(signal, `deploy of ${name}`);
        status = await this.#ctx.salt.printJob(jid, { signal });
        if (status.done) break;
        if (Date.now() - start > timeout) {
          throw new ClusterError('NODE_DEPLOY_TIMEOUT', `the deploy of ${name} (Salt job ${jid}) did not finish within ${Math.round(timeout / 1000)} s`, {
            retryable: true,
            hint: `It goes on: run deploy again to follow it, or \`salt-run jobs.print_job ${jid}\` on the salt-master.`,
          });
        }
        await new Promise<void>((r) => {
          const t = setTimeout(r, interval);
          wake.push(() => {
            clearTimeout(t);
            r();
          });
        });
      }
      const result = orchestrateResult(jid, status.result);
      const steps: SaltStateStep[] = [...(result.runs[0]?.steps ?? [])];
      for (const s of steps) emit({ index: s.runNum, id: s.id, result: s.result, comment: s.comment });
      const deploySteps = steps.map((s) => ({ index: s.runNum, id: s.id, result: s.result, comment: s.comment }));
      if (!result.success) {
        const f = result.failure;
        const root = f;
        const step = root?.step.id ?? 'deploy_node';
        // describeFailure reads a test.fail_without_changes step's reason from its name (reference §8).
        const base = root ? describeFailure(root).slice(step.length + 2) : result.errors.join('; ') || 'the orchestrate failed';
        const cordonedByJob = steps.some((s) => s.id === 'Cordon the node' && s.result === true) && !steps.some((s) => s.id === 'Uncordon the node' && s.result === true);
        let uncordoned = true;
        let uncordonNote = '';
        if (cordonedByJob) {
          try {
            await setUnschedulable(kc, name, false, signal);
            onProgress?.({ type: 'step', step: 'uncordon', status: 'done', detail: `${name} is schedulable again` });
          } catch (err) {
            uncordoned = false;
            uncordonNote = ` The node stays cordoned (SchedulingDisabled): uncordoning failed: ${(err as Error).message}; run \`solution nodes uncordon ${name}\`.`;
          }
        }
        await kubePatch(kc, nodePath(name), { metadata: { annotations: { [DEPLOY_RESULT_ANNOTATION]: encodeDeployResult({ ok: false, step, comment: base }) } } }).catch(() => undefined);
        throw new NodeDeployError(
          `deploy of node ${name} failed at step "${step}": ${base}.${uncordonNote}`,
          { step, comment: base, jid, uncordoned },
          { hint: `Fix the cause, then deploy again. Full result: \`salt-run jobs.print_job ${jid}\` on the salt-master.` },
        );
      }
      await kubePatch(kc, nodePath(name), { metadata: { annotations: { [DEPLOY_RESULT_ANNOTATION]: encodeDeployResult({ ok: true }) } } }, signal);
      const readyTimeout = options.readyTimeoutMs ?? 300_000;
      const readyStart = Date.now();
      for (;;) {
        const n = await this.#get(name, signal);
        if (n && isNodeReady(n)) break;
        const elapsedMs = Date.now() - readyStart;
        if (elapsedMs > readyTimeout) {
          throw new ClusterError('NODE_NOT_READY', `node ${name} was deployed (job ${jid}) but is not Ready after ${Math.round(readyTimeout / 1000)} s`, {
            retryable: true,
            hint: 'Look at the kubelet on the node (journalctl -u kubelet).',
          });
        }
        onProgress?.({ type: 'waiting', what: `${name} to become Ready`, elapsedMs });
        await sleep(500);
      }
      onProgress?.({ type: 'step', step: 'deploy', status: 'done', detail: `${name} is Ready` });
      return { node: name, jid, followed, steps: deploySteps };
    } finally {
      ended = true;
      local.abort();
      signal?.removeEventListener('abort', onAbort);
      if (!events) await stream.return(undefined).catch(() => undefined);
      void reader;
    }
  }

  /** Runs etcdctl in the etcd container of `peer` through Salt; undefined when the minion does not answer. */
  async #etcdctl(peer: string, args: string, signal?: AbortSignal): Promise<{ retcode: number; stdout: string; stderr: string } | undefined> {
    const answer = await this.#ctx.salt.local({ tgt: peer, fun: 'cmd.run_all', arg: [`${ETCDCTL} ${args}`], kwarg: { python_shell: true }, timeout: 30 }, { signal });
    const r = answer[peer] as { retcode?: number; stdout?: string; stderr?: string } | string | undefined;
    if (r === undefined || typeof r !== 'object') return undefined;
    return { retcode: r.retcode ?? 1, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
  }

  /**
   * Finds the etcd member of `name` and checks that removing it is safe: listed through a peer
   * whose minion answers, every other member healthy. Throws `ETCD_MEMBER_REMOVAL_NEEDED` with
   * the manual commands otherwise.
   */
  async #etcdMember(name: string, all: readonly NodeObject[], signal?: AbortSignal): Promise<{ peer: string; id: string | undefined }> {
    const peers = all
      .filter((n) => n.metadata.name !== name && nodeRoles(n).includes('etcd'))
      .map((n) => n.metadata.name)
      .sort((a, b) => Number(b === this.#ctx.bootstrapId) - Number(a === this.#ctx.bootstrapId) || a.localeCompare(b));
    const tried: string[] = [];
    for (const peer of peers) {
      const list = await this.#etcdctl(peer, 'member list', signal).catch(() => undefined);
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
      const health = await this.#etcdctl(peer, 'endpoint health --cluster -w json', signal);
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
    throw etcdManual(name, peers[0] ?? this.#ctx.bootstrapId, `no etcd peer could list the members (${tried.join('; ') || 'no other etcd node'})`);
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
    const { signal, onProgress } = options;
    const kc = this.#ctx.kubeConfig;
    const node = await this.#get(name, signal);
    let drained: DrainResult | undefined;
    let volumesDeleted: string[] = [];
    let nodeDeleted = false;
    if (node) {
      const roles = nodeRoles(node);
      if (roles.includes('bootstrap') || name === this.#ctx.bootstrapId) {
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
      const member = roles.includes('etcd') && options.etcdMemberRemoved !== true ? await this.#etcdMember(name, all, signal) : undefined;
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
        const r = await this.#etcdctl(member.peer, `member remove ${member.id}`, signal);
        if (r?.retcode !== 0) {
          throw etcdManual(name, member.peer, `etcdctl member remove ${member.id} on ${member.peer} failed: ${(r?.stderr || r?.stdout || 'no answer').trim().slice(0, 300)}`);
        }
        onProgress?.({ type: 'step', step: 'etcd-member', status: 'done', detail: `member ${member.id} removed (through ${member.peer})` });
      } else if (member) onProgress?.({ type: 'step', step: 'etcd-member', status: 'skipped', detail: `${name} is not an etcd member` });
      const del = await kubeRequest(kc, 'DELETE', nodePath(name), undefined, undefined, signal);
      if (del.status >= 300 && del.status !== 404) throw kubeFailure(`delete Node ${name}`, del);
      for (let i = 0; (await this.#get(name, signal)) && i < 120; i++) await sleep(250);
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
    const keys = await this.#ctx.salt.wheel({ fun: 'key.list_all' }, { signal });
    if (!keys.success) {
      throw new ClusterError('SALT_KEY_LIST_FAILED', `wheel key.list_all failed: ${String(keys.return).slice(0, 300)}`, { hint: 'Check that the SaltAPI user is a node admin (@wheel).' });
    }
    const listed = Object.values((keys.return ?? {}) as Record<string, unknown>).some((v) => Array.isArray(v) && v.includes(name));
    let keyDeleted = false;
    if (listed) {
      const del = await this.#ctx.salt.wheel({ fun: 'key.delete', kwarg: { match: name } }, { signal });
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
}
