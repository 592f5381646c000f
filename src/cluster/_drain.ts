/**
 * Draining a Node with `kubectl drain` semantics (platform-reference.md §B.4), against the
 * Kubernetes API: cordon, pick the Pods (mirror Pods skipped; DaemonSet, emptyDir and bare
 * Pods refused unless allowed), evict them through the Eviction API so PodDisruptionBudgets
 * apply (a 429 is retried every 5 s), wait until each is gone or replaced, within one global
 * timeout that names the Pods left. Not MetalK8s' `metalk8s_drain`, which gives Pods 1 second
 * and deletes bare Pods silently.
 *
 * Written here rather than shelling out to kubectl: the SDK needs typed per-Pod progress, an
 * AbortSignal and no kubectl binary on the machine that runs it.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import { ClusterError, type ServiceErrorOptions, throwIfAborted } from '../errors.js';
import type { SdkErrorCode } from '../error-codes.js';
import { kubeFailure, kubeGet, kubePatch, kubeRequest } from '../_kube.js';
import { MILLISECONDS, numberOption, TIMER_MS } from '../_number-option.js';
import { sleep } from '../_wait.js';

/** How a drain evicts (the `kubectl drain` flags). */
export interface DrainSettings {
  /**
   * Seconds each Pod gets to stop, a whole number; -1 uses the Pod's own
   * `terminationGracePeriodSeconds`.
   * @default -1
   */
  readonly gracePeriodSeconds?: number | undefined;
  /**
   * Give up after this long, listing the Pods left; 0 waits forever.
   * @default 0
   */
  readonly timeoutMs?: number | undefined;
  /** Leave DaemonSet Pods (they would come back at once). @default false: refuse */
  readonly ignoreDaemonSets?: boolean | undefined;
  /** Evict Pods with emptyDir volumes (their data is lost). @default false: refuse */
  readonly deleteEmptyDirData?: boolean | undefined;
  /** Evict Pods no controller will recreate, and those whose controller is gone. @default false: refuse */
  readonly force?: boolean | undefined;
  /** Only Pods matching this label selector. @default all */
  readonly podSelector?: string | undefined;
  /** Report what would be evicted; change nothing (not even the cordon). @default false */
  readonly dryRun?: boolean | undefined;
  /** Pods evicted at the same time, a whole number; 0 means all at once, as kubectl. @default 0 */
  readonly concurrency?: number | undefined;
  /** Delete Pods instead of evicting them: PodDisruptionBudgets are NOT honoured. @default false */
  readonly disableEviction?: boolean | undefined;
  /** Do not wait for Pods whose deletion started more than this many seconds ago. @default 0 (wait) */
  readonly skipWaitForDeleteTimeoutSeconds?: number | undefined;
  /** Delay before retrying an eviction a PodDisruptionBudget refused (kubectl: 5 s), at most 2147483647. @default 5000 */
  readonly evictionRetryDelayMs?: number | undefined;
}

/** Progress of a drain, per Pod. */
export type DrainProgressEvent =
  | { readonly type: 'cordon'; readonly node: string; readonly changed: boolean }
  | {
      readonly type: 'pod';
      readonly pod: string;
      readonly status: 'evicting' | 'deleting' | 'retrying' | 'gone' | 'ignored';
      readonly detail?: string | undefined;
    };

/** What a drain did (or, with `dryRun`, would do). */
export interface DrainResult {
  readonly node: string;
  /** Whether this drain cordoned the Node (false: it already was). */
  readonly cordoned: boolean;
  /** `namespace/name` of the Pods evicted or deleted (to evict, with `dryRun`). */
  readonly evicted: readonly string[];
  /** Pods left on the Node on purpose, with why (DaemonSet, mirror, already terminating). */
  readonly ignored: readonly { readonly pod: string; readonly reason: string }[];
  /** Warnings kubectl would print (Pods with local data, bare Pods deleted with force). */
  readonly warnings: readonly string[];
  readonly dryRun: boolean;
}

/** A drain that stopped, with the Pods concerned. */
export class DrainError extends ClusterError {
  /** Each Pod that blocked the drain or was left, with why. */
  readonly pods: readonly { readonly pod: string; readonly reason: string }[];
  constructor(code: SdkErrorCode, message: string, pods: readonly { pod: string; reason: string }[], options: ServiceErrorOptions = {}) {
    super(code, message, options);
    this.pods = pods;
  }
}

interface Pod {
  metadata: {
    name: string;
    namespace: string;
    uid: string;
    deletionTimestamp?: string;
    annotations?: Record<string, string>;
    ownerReferences?: { kind: string; name: string; controller?: boolean; apiVersion: string }[];
  };
  spec?: { volumes?: { name: string; emptyDir?: unknown }[] };
  status?: { phase?: string };
}

type Verdict = { readonly action: 'evict'; readonly warning?: string } | { readonly action: 'ignore'; readonly reason: string } | { readonly action: 'block'; readonly reason: string };

const id = (p: Pod): string => `${p.metadata.namespace}/${p.metadata.name}`;

/**
 * Checks the numbers of `o` before anything is cordoned or evicted (`OPTION_INVALID` naming the
 * option, `prefix` first: `drain.` for the `drain` of `nodes.remove`). A NaN timeout
 * waited forever; a NaN grace period or concurrency silently became the Pod's own and all at
 * once; a fractional grace period was refused by the API server after the cordon.
 */
export function checkDrainSettings(o: DrainSettings | undefined, prefix = ''): void {
  if (!o) return;
  // int64 in DeleteOptions; every negative value meant the Pod's own, -1 is the one documented.
  numberOption(`${prefix}gracePeriodSeconds`, o.gracePeriodSeconds, { integer: true, min: -1, unit: 'seconds' });
  numberOption(`${prefix}timeoutMs`, o.timeoutMs, MILLISECONDS);
  numberOption(`${prefix}concurrency`, o.concurrency, { integer: true, min: 0, unit: 'Pods evicted at once' });
  numberOption(`${prefix}skipWaitForDeleteTimeoutSeconds`, o.skipWaitForDeleteTimeoutSeconds, { min: 0, unit: 'seconds' });
  numberOption(`${prefix}evictionRetryDelayMs`, o.evictionRetryDelayMs, TIMER_MS);
}

/** Sets `spec.unschedulable`; returns whether it changed. Throws `NODE_NOT_FOUND`. */
export async function setUnschedulable(kc: KubeConfig, node: string, value: boolean, signal?: AbortSignal): Promise<boolean> {
  const path = `/api/v1/nodes/${encodeURIComponent(node)}`;
  const current = await kubeGet<{ spec?: { unschedulable?: boolean } }>(kc, path, signal);
  if (!current) throw nodeNotFound(node);
  if ((current.spec?.unschedulable === true) === value) return false;
  const patched = await kubePatch(kc, path, { spec: { unschedulable: value ? true : null } }, signal);
  if (!patched) throw nodeNotFound(node);
  return true;
}

export function nodeNotFound(node: string): ClusterError {
  return new ClusterError('NODE_NOT_FOUND', `Node ${node} does not exist`, { hint: 'List nodes with `solution nodes list`; declare a new one with `solution nodes declare`.', status: 404 });
}

/** kubectl's filters, in kubectl's order; the first that does not say "evict" decides. */
async function verdict(kc: KubeConfig, pod: Pod, o: DrainSettings, now: number, signal: AbortSignal | undefined): Promise<Verdict> {
  const finished = pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed';
  const skipAfter = o.skipWaitForDeleteTimeoutSeconds ?? 0;
  if (pod.metadata.deletionTimestamp && skipAfter > 0 && now - Date.parse(pod.metadata.deletionTimestamp) > skipAfter * 1000) {
    return { action: 'ignore', reason: `terminating for more than ${skipAfter} s` };
  }
  const controller = pod.metadata.ownerReferences?.find((r) => r.controller === true);
  if (controller?.kind === 'DaemonSet' && !finished) {
    const ds = await kubeGet(kc, `/apis/apps/v1/namespaces/${encodeURIComponent(pod.metadata.namespace)}/daemonsets/${encodeURIComponent(controller.name)}`, signal);
    if (!ds) {
      if (o.force) return { action: 'evict', warning: `deleting Pod ${id(pod)} whose DaemonSet ${controller.name} is gone` };
      return { action: 'block', reason: `its DaemonSet ${controller.name} is gone (use force to delete it)` };
    }
    if (!o.ignoreDaemonSets) return { action: 'block', reason: 'managed by a DaemonSet (use ignoreDaemonSets to leave it)' };
    return { action: 'ignore', reason: `DaemonSet ${controller.name}` };
  }
  if (pod.metadata.annotations?.['kubernetes.io/config.mirror'] !== undefined) return { action: 'ignore', reason: 'mirror (static) Pod' };
  if (!finished && pod.spec?.volumes?.some((v) => v.emptyDir !== undefined)) {
    if (!o.deleteEmptyDirData) return { action: 'block', reason: 'has emptyDir data, lost on eviction (use deleteEmptyDirData)' };
  }
  let warning: string | undefined;
  if (!finished && pod.spec?.volumes?.some((v) => v.emptyDir !== undefined)) warning = `Pod ${id(pod)} loses its emptyDir data`;
  if (!finished && !controller) {
    if (!o.force) return { action: 'block', reason: 'no controller will recreate it (use force to delete it)' };
    warning = `Pod ${id(pod)} has no controller: it will not come back`;
  }
  return warning ? { action: 'evict', warning } : { action: 'evict' };
}

/**
 * Drains a Node as `kubectl drain` does.
 *
 * @throws `OPTION_INVALID` for a number out of its range, before anything changes;
 *   {@link DrainError} `DRAIN_BLOCKED` (Pods the options do not allow to evict, all
 *   listed, nothing evicted), `DRAIN_TIMEOUT` (the Pods left), `DRAIN_EVICTION_FAILED`.
 */
export async function drainNode(
  kc: KubeConfig,
  node: string,
  o: DrainSettings & { readonly signal?: AbortSignal | undefined; readonly onProgress?: ((e: DrainProgressEvent) => void) | undefined },
): Promise<DrainResult> {
  checkDrainSettings(o);
  const { signal } = o;
  const dryRun = o.dryRun === true;
  let cordoned = false;
  if (!dryRun) {
    cordoned = await setUnschedulable(kc, node, true, signal);
    o.onProgress?.({ type: 'cordon', node, changed: cordoned });
  } else if (!(await kubeGet(kc, `/api/v1/nodes/${encodeURIComponent(node)}`, signal))) {
    throw nodeNotFound(node);
  }
  const params = new URLSearchParams({ fieldSelector: `spec.nodeName=${node}` });
  if (o.podSelector) params.set('labelSelector', o.podSelector);
  const pods: Pod[] = [];
  let cont: string | undefined;
  do {
    if (cont) params.set('continue', cont);
    params.set('limit', '500');
    const res = await kubeRequest(kc, 'GET', `/api/v1/pods?${params}`, undefined, undefined, signal);
    if (res.status !== 200) throw kubeFailure(`list the Pods of Node ${node}`, res);
    const list = res.json as { items: Pod[]; metadata?: { continue?: string } };
    pods.push(...list.items);
    cont = list.metadata?.continue || undefined;
  } while (cont);
  pods.sort((a, b) => id(a).localeCompare(id(b)));

  const now = Date.now();
  const toEvict: Pod[] = [];
  const ignored: { pod: string; reason: string }[] = [];
  const blocked: { pod: string; reason: string }[] = [];
  const warnings: string[] = [];
  for (const pod of pods) {
    const v = await verdict(kc, pod, o, now, signal);
    if (v.action === 'block') blocked.push({ pod: id(pod), reason: v.reason });
    else if (v.action === 'ignore') ignored.push({ pod: id(pod), reason: v.reason });
    else {
      toEvict.push(pod);
      if (v.warning) warnings.push(v.warning);
    }
  }
  if (blocked.length > 0) {
    throw new DrainError(
      'DRAIN_BLOCKED',
      `cannot drain Node ${node}: ${blocked.map((b) => `${b.pod} ${b.reason}`).join('; ')}`,
      blocked,
      { hint: 'Nothing was evicted. Allow these Pods with the option named, or move them away first; the Node stays cordoned (uncordon it to undo).' },
    );
  }
  for (const i of ignored) o.onProgress?.({ type: 'pod', pod: i.pod, status: 'ignored', detail: i.reason });
  if (dryRun) return { node, cordoned: false, evicted: toEvict.map(id), ignored, warnings, dryRun };

  const timeoutMs = o.timeoutMs ?? 0;
  const deadline = timeoutMs > 0 ? Date.now() + timeoutMs : Number.POSITIVE_INFINITY;
  const retryDelay = o.evictionRetryDelayMs ?? 5000;
  const grace = o.gracePeriodSeconds ?? -1;
  const deleteOptions = grace >= 0 ? { gracePeriodSeconds: grace } : {};
  const left = new Map<string, string>(toEvict.map((p) => [id(p), 'not evicted yet']));
  const timedOut = (): boolean => Date.now() > deadline;
  const podPath = (p: Pod): string => `/api/v1/namespaces/${encodeURIComponent(p.metadata.namespace)}/pods/${encodeURIComponent(p.metadata.name)}`;

  const evictOne = async (pod: Pod): Promise<void> => {
    const name = id(pod);
    for (;;) {
      throwIfAborted(signal, 'drain');
      if (timedOut()) return;
      o.onProgress?.({ type: 'pod', pod: name, status: o.disableEviction ? 'deleting' : 'evicting' });
      const res = o.disableEviction
        ? await kubeRequest(kc, 'DELETE', podPath(pod), deleteOptions, undefined, signal)
        : await kubeRequest(
            kc,
            'POST',
            `${podPath(pod)}/eviction`,
            { apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name: pod.metadata.name, namespace: pod.metadata.namespace }, deleteOptions },
            undefined,
            signal,
          );
      if (res.status === 404) {
        left.delete(name);
        o.onProgress?.({ type: 'pod', pod: name, status: 'gone' });
        return;
      }
      if (res.status < 300) break;
      const message = (res.json as { message?: string } | undefined)?.message ?? res.text.slice(0, 200);
      const terminatingNs = res.status === 403 && /NamespaceTerminating/.test(res.text);
      if (terminatingNs && pod.metadata.deletionTimestamp) break;
      if (res.status === 429 || terminatingNs) {
        left.set(name, `eviction refused: ${message}`);
        o.onProgress?.({ type: 'pod', pod: name, status: 'retrying', detail: message });
        await sleep(Math.max(0, Math.min(retryDelay, deadline - Date.now())), signal, 'drain');
        const fresh = await kubeGet<Pod>(kc, podPath(pod), signal);
        if (fresh && fresh.metadata.uid === pod.metadata.uid) pod = fresh;
        continue;
      }
      throw new DrainError('DRAIN_EVICTION_FAILED', `cannot evict Pod ${name} from Node ${node}: HTTP ${res.status}: ${message}`, [{ pod: name, reason: message }], {
        status: res.status,
        hint: 'See the API server message; the Node stays cordoned.',
      });
    }
    left.set(name, 'terminating');
    for (;;) {
      throwIfAborted(signal, 'drain');
      const cur = await kubeGet<Pod>(kc, podPath(pod), signal);
      if (!cur || cur.metadata.uid !== pod.metadata.uid) {
        left.delete(name);
        o.onProgress?.({ type: 'pod', pod: name, status: 'gone' });
        return;
      }
      const skipAfter = o.skipWaitForDeleteTimeoutSeconds ?? 0;
      if (skipAfter > 0 && cur.metadata.deletionTimestamp && Date.now() - Date.parse(cur.metadata.deletionTimestamp) > skipAfter * 1000) {
        left.delete(name);
        return;
      }
      if (timedOut()) return;
      await sleep(Math.max(0, Math.min(1000, deadline - Date.now())), signal, 'drain');
    }
  };

  const limit = o.concurrency && o.concurrency > 0 ? o.concurrency : toEvict.length;
  const queue = [...toEvict];
  const workers = Array.from({ length: Math.min(limit, queue.length) }, async () => {
    for (let p = queue.shift(); p; p = queue.shift()) await evictOne(p);
  });
  await Promise.all(workers);
  if (left.size > 0) {
    const pods = [...left].map(([pod, reason]) => ({ pod, reason }));
    throw new DrainError(
      'DRAIN_TIMEOUT',
      `drain of Node ${node} did not complete within ${Math.round(timeoutMs / 1000)} s; ${pods.length} Pod(s) left: ${pods.map((p) => `${p.pod} (${p.reason})`).join(', ')}`,
      pods,
      { retryable: true, hint: 'A PodDisruptionBudget or a slow Pod holds the drain: fix it, or run the drain again with a longer timeout. The Node stays cordoned.' },
    );
  }
  return { node, cordoned, evicted: toEvict.map(id), ignored, warnings, dryRun };
}
