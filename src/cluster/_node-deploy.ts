/**
 * Deploying a Node with `metalk8s.orchestrate.deploy_node` (platform-reference.md §B.2):
 * starting the orchestrate through `runner_async` once (the job claimed and recorded on the Node,
 * so a rerun or another client follows the running job), following it (its steps from the job
 * result, the minion jobs it starts from the event stream), uncordoning the node after a failure,
 * waiting for the node to be Ready, and reading a recorded job back for `list` and `get`.
 */
import { randomBytes } from 'node:crypto';
import { ClusterError, type ServiceErrorOptions, throwIfAborted } from '../errors.js';
import { nodeNotFound, setUnschedulable } from './_drain.js';
import { kubeFailure, kubePatch, kubeRequest } from '../_kube.js';
import type { LifecycleContext } from './_lifecycle.js';
import { clusterVersion, getNode, type NodeCallOptions, type NodeInfo, nodePath } from './_node-info.js';
import { DEPLOY_JOB_ANNOTATION, DEPLOY_PENDING_PREFIX, DEPLOY_RESULT_ANNOTATION, DEPLOY_STARTED_ANNOTATION, encodeDeployResult, isNodeReady, VERSION_LABEL } from './_node-model.js';
import { type JobStatus, orchestrateResult, type SaltEvent } from './salt-api.js';
import { describeFailure, type SaltStateStep } from './salt-results.js';
import { MILLISECONDS, numberOption, TIMER_MS } from '../_number-option.js';
import { sleep } from '../_wait.js';

/** The SLS MetalK8s deploys a node with. */
export const DEPLOY_NODE_SLS = 'metalk8s.orchestrate.deploy_node';

/** Options of {@link NodesApi.deploy}. */
export interface DeployOptions extends NodeCallOptions {
  /** Do not drain the node first (pillar `orchestrate.skip_draining`). @default false */
  readonly skipDraining?: boolean | undefined;
  /** Drain timeout passed to the orchestrate, seconds (`orchestrate.drain_timeout`); 0 leaves MetalK8s' own. @default MetalK8s' (1 h) */
  readonly drainTimeoutSeconds?: number | undefined;
  /** Give up following the job after this long (the job goes on). @default 3600000 */
  readonly timeoutMs?: number | undefined;
  /** How long the node may take to become Ready after the job. @default 300000 */
  readonly readyTimeoutMs?: number | undefined;
  /** Job polling interval, besides the event stream, at most 2147483647. @default 2000 */
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

/**
 * A Node recorded as deploying whose job has ended (its client stopped before writing the
 * result) reads as the job ended: deployed, or failed at its root-cause step.
 */
export async function withDeployJob(ctx: LifecycleContext, n: NodeInfo, signal?: AbortSignal): Promise<NodeInfo> {
  if (n.deploy.state !== 'deploying' || n.deploy.jid === undefined) return n;
  const status = await ctx.salt.printJob(n.deploy.jid, { signal }).catch(() => undefined);
  if (!status?.done) return n;
  const r = orchestrateResult(n.deploy.jid, status.result);
  if (r.success) return { ...n, deploy: { state: 'deployed' } };
  const step = r.failure?.step.id ?? 'deploy_node';
  const comment = r.failure ? describeFailure(r.failure).slice(step.length + 2) : r.errors.join('; ');
  return { ...n, deploy: { state: 'failed', jid: n.deploy.jid, step, comment } };
}

/** The body of {@link NodesApi.deploy}: claims the deploy on the Node, starts the job (or follows the recorded one). */
export async function deployNode(ctx: LifecycleContext, name: string, options: DeployOptions): Promise<DeployResult> {
  // Before the deploy is claimed: a NaN timeout followed the job forever, a NaN drain timeout
  // was silently MetalK8s' own, a negative one went into the pillar.
  numberOption('drainTimeoutSeconds', options.drainTimeoutSeconds, { min: 0, unit: 'seconds' });
  numberOption('timeoutMs', options.timeoutMs, MILLISECONDS);
  numberOption('readyTimeoutMs', options.readyTimeoutMs, MILLISECONDS);
  numberOption('pollIntervalMs', options.pollIntervalMs, TIMER_MS);
  const { signal, onProgress } = options;
  const kc = ctx.kubeConfig;
  for (let attempt = 0; ; attempt++) {
    throwIfAborted(signal, `deploy of ${name}`);
    const node = await getNode(kc, name, signal);
    if (!node) throw nodeNotFound(name);
    if (!node.metadata.labels?.[VERSION_LABEL]) {
      throw new ClusterError('NODE_NO_VERSION', `Node ${name} has no ${VERSION_LABEL} label: deploy_node cannot pick its saltenv`, {
        hint: `Label it with the cluster version (${clusterVersion(ctx)}), or declare it with \`solution nodes declare\`.`,
      });
    }
    const a = node.metadata.annotations ?? {};
    const current = a[DEPLOY_JOB_ANNOTATION];
    if (current !== undefined && a[DEPLOY_RESULT_ANNOTATION] === undefined) {
      if (!current.startsWith(DEPLOY_PENDING_PREFIX)) {
        const known = await ctx.salt.printJob(current, { signal }).then(
          () => true,
          (err: unknown) => {
            if (err instanceof ClusterError && err.code === 'SALT_JOB_UNKNOWN') return false;
            throw err;
          },
        );
        if (known) {
          onProgress?.({ type: 'salt-job', step: 'deploy', jid: current, followed: true });
          return followDeploy(ctx, name, current, true, undefined, options);
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
    const stream = ctx.salt.events({ signal: abort.signal });
    const first = stream.next();
    // Read by the follower; a stream that fails before it starts must not be an unhandled rejection.
    first.catch(() => undefined);
    let jid: string;
    try {
      const pillar: Record<string, unknown> = { node_name: name };
      if (options.skipDraining) pillar.skip_draining = true;
      if (options.drainTimeoutSeconds) pillar.drain_timeout = options.drainTimeoutSeconds;
      const job = await ctx.salt.runnerAsync(
        { fun: 'state.orchestrate', arg: [DEPLOY_NODE_SLS], kwarg: { saltenv: ctx.saltenv, pillar: { orchestrate: pillar } } },
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
      return await followDeploy(ctx, name, jid, false, { stream, first }, options);
    } finally {
      abort.abort();
      signal?.removeEventListener('abort', onAbort);
    }
  }
}

/** Follows the deploy job `jid` of `name` to its end, then waits for the node to be Ready. */
async function followDeploy(
  ctx: LifecycleContext,
  name: string,
  jid: string,
  followed: boolean,
  events: { stream: AsyncGenerator<SaltEvent>; first: Promise<IteratorResult<SaltEvent>> } | undefined,
  options: DeployOptions,
): Promise<DeployResult> {
  const { signal, onProgress } = options;
  const kc = ctx.kubeConfig;
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
  const stream = events?.stream ?? ctx.salt.events({ signal: local.signal });
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
      status = await ctx.salt.printJob(jid, { signal });
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
      const n = await getNode(kc, name, signal);
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
