/**
 * The object model every diagnostic works on: a {@link DiagnosticsSnapshot} of a MetalK8s
 * cluster as it concerns Solutions. `supportBundle()` writes one to a file, `doctor()` runs its
 * analyzers over one, taken live or read back from a bundle: the same analyzer code on the same
 * objects either way.
 *
 * Collected with raw Kubernetes reads (no Secret is ever read) and, when a SaltAPI client is
 * given, the recent Salt jobs of the Solution orchestrates and `deploy_node`.
 *
 * @module
 */
import type { KubeConfig } from '@kubernetes/client-node';
import { SdkError, throwIfAborted } from '../errors.js';
import { SDK_VERSION } from '../version.js';
import { kubeGet, kubeRequest } from '../_kube.js';
import { numberOption } from '../_number-option.js';
import type { KubernetesObject } from '../solution/kubernetes-object.js';
import { headManifest } from './_registry-head.js';
import { type AvailableEntry, ENV_CONFIGMAP, ENV_LABEL, readAvailable } from './_lifecycle.js';
import type { AlertsApi } from './alerts.js';
import type { SaltApiClient } from './salt-api.js';
import { describeFailure, firstFailedStep } from './salt-results.js';
import { isRecord } from '../_record.js';

/** The registry host Solution images are pulled from (metalk8s-reference.md §1.6). */
export const CLUSTER_REGISTRY_HOST = 'metalk8s-registry-from-config.invalid';

/** An alert that fires, as Alertmanager or Prometheus reports it. */
export interface FiringAlert {
  readonly name: string;
  /** The `severity` label. */
  readonly severity: string | undefined;
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
  /** When it started firing (RFC 3339). */
  readonly startsAt: string | undefined;
}

/** Returns the alerts firing now, e.g. {@link alertmanagerSource}`(cluster.alerts)`. */
export type AlertSource = (options: { readonly signal?: AbortSignal | undefined }) => Promise<readonly FiringAlert[]>;

/** The active alerts of Alertmanager (not silenced, not inhibited) as an {@link AlertSource}. */
export function alertmanagerSource(alerts: Pick<AlertsApi, 'list'>): AlertSource {
  return async ({ signal }) =>
    (await alerts.list({ active: true, silenced: false, inhibited: false, unprocessed: false, signal })).map((a) => ({
      name: a.labels.alertname ?? '',
      severity: a.labels.severity,
      labels: { ...a.labels },
      annotations: { ...a.annotations },
      startsAt: a.startsAt,
    }));
}

/** One container log, tail-limited. */
export interface ContainerLog {
  readonly namespace: string;
  readonly pod: string;
  readonly container: string;
  /** The previous (crashed) instance of the container. */
  readonly previous: boolean;
  readonly text: string;
  /** Whether the log was cut to the tail or byte limit. */
  readonly truncated: boolean;
}

/** A Salt job of a Solution orchestrate or of `deploy_node`. */
export interface SaltJobRecord {
  readonly jid: string;
  readonly function: string;
  /** The SLS run by `state.orchestrate`. */
  readonly mods: string | undefined;
  /** `orchestrate.node_name` / `orchestrate.env_name` of its pillar, when given. */
  readonly pillar: Readonly<Record<string, unknown>>;
  readonly startTime: string | undefined;
  readonly user: string | undefined;
  /** `undefined` while it runs. */
  readonly success: boolean | undefined;
  /** The root-cause step of a failure (`describeFailure`). */
  readonly failure: string | undefined;
}

/** Whether an image a Pod or Deployment uses is served by the cluster registry. */
export interface ImageCheck {
  /** The image as written in the Pod spec. */
  readonly image: string;
  /** `<name>-<version>` of the Solution it claims to come from. */
  readonly solutionId: string | undefined;
  /** Listed in `spec.images` of an imported version's manifest. */
  readonly listed: boolean;
  /** Answered by the registry (HEAD of its manifest), when it could be asked. */
  readonly served: boolean | undefined;
  readonly digest: string | undefined;
  /** Why it could not be asked, or the HTTP status. */
  readonly detail: string | undefined;
  /** `Kind namespace/name` of the objects that use it. */
  readonly usedBy: readonly string[];
}

/** An environment: namespaces labelled with its name and the Solutions of each. */
export interface EnvironmentRecord {
  readonly name: string;
  readonly namespace: string;
  /** `metalk8s-environment` data: Solution name → version. */
  readonly solutions: Readonly<Record<string, string>>;
}

/** Something a collector could not read (the rest of the snapshot is still valid). */
export interface CollectionProblem {
  readonly collector: string;
  readonly message: string;
}

/** What a snapshot covers. */
export interface SnapshotScope {
  /** The environment, or undefined for all of them. */
  readonly env: string | undefined;
  /** Namespaces whose objects were collected. */
  readonly namespaces: readonly string[];
  /** Events, logs and Salt jobs newer than this many seconds. */
  readonly sinceSeconds: number;
}

/** Everything the diagnostics know about a cluster. Plain JSON. */
export interface DiagnosticsSnapshot {
  readonly schemaVersion: 1;
  /** When it was collected (RFC 3339, seconds). */
  readonly collectedAt: string;
  readonly sdkVersion: string;
  readonly cluster: { readonly metalk8sVersion: string | undefined; readonly kubernetesVersion: string | undefined };
  readonly scope: SnapshotScope;
  readonly nodes: readonly KubernetesObject[];
  /** `metalk8s-solutions` ConfigMap: entries by Solution name. */
  readonly solutions: Readonly<Record<string, readonly AvailableEntry[]>>;
  readonly environments: readonly EnvironmentRecord[];
  readonly deployments: readonly KubernetesObject[];
  readonly replicaSets: readonly KubernetesObject[];
  readonly pods: readonly KubernetesObject[];
  readonly events: readonly KubernetesObject[];
  readonly configMaps: readonly KubernetesObject[];
  /** Custom resources in the scope's namespaces (kinds of CRDs outside the platform's groups). */
  readonly customResources: readonly KubernetesObject[];
  readonly volumes: readonly KubernetesObject[];
  readonly persistentVolumes: readonly KubernetesObject[];
  readonly persistentVolumeClaims: readonly KubernetesObject[];
  readonly storageClasses: readonly KubernetesObject[];
  readonly prometheusRules: readonly KubernetesObject[];
  readonly logs: readonly ContainerLog[];
  readonly saltJobs: readonly SaltJobRecord[];
  readonly images: readonly ImageCheck[];
  readonly alerts: readonly FiringAlert[];
  readonly problems: readonly CollectionProblem[];
}

/** Where to collect from: a {@link Cluster} from `connect()` fits. */
export interface DiagnosticsTarget {
  readonly kubeConfig: KubeConfig;
  /** Without it, Salt jobs are not collected (and the snapshot says so). */
  readonly salt?: SaltApiClient | undefined;
}

/** Progress of a collection. */
export type CollectProgressEvent = { readonly type: 'collect'; readonly what: string; readonly done: number; readonly total: number };

/** What a diagnostics collection reads and how (the options `doctor()` and `supportBundle()` share). */
export interface CollectOptions {
  /** One environment; @default every environment */
  readonly env?: string | undefined;
  /** Events, logs and Salt jobs newer than this: `30m`, `24h`, `7d`, or seconds. @default '24h' */
  readonly since?: string | number | undefined;
  /** Lines kept from the end of each container log: a whole number, 0 or more. @default 2000 */
  readonly logTailLines?: number | undefined;
  /** Bytes kept from the end of each container log: a whole number, 1 or more. @default 1 MiB */
  readonly logLimitBytes?: number | undefined;
  /** Stop collecting logs once they add up to this: a whole number, 0 or more (0: no log). @default 64 MiB */
  readonly maxLogBytes?: number | undefined;
  /** Salt jobs kept, newest first: a whole number, 0 or more. @default 30 */
  readonly maxSaltJobs?: number | undefined;
  /**
   * The cluster registry (`http://<bootstrap control-plane IP>:8080`), asked whether each
   * Solution image is served. @default the bootstrap node's InternalIP on port 8080
   */
  readonly registryUrl?: string | undefined;
  /** Firing alerts (the monitoring client plugs in here). @default none collected */
  readonly alerts?: AlertSource | undefined;
  /** Clock, for `collectedAt` and `since`. @default `() => new Date()` */
  readonly now?: (() => Date) | undefined;
  readonly signal?: AbortSignal | undefined;
  readonly onProgress?: ((event: CollectProgressEvent) => void) | undefined;
}

/**
 * Checks the numbers of a collection (`OPTION_INVALID` naming the option) before anything is
 * read. `tailLines` and `limitBytes` are the API server's int64 (`limitBytes` 1 or more); a NaN
 * log budget or Salt job count turned the limit off.
 */
function checkCollectOptions(options: CollectOptions): void {
  numberOption('logTailLines', options.logTailLines, { integer: true, min: 0, unit: 'lines' });
  numberOption('logLimitBytes', options.logLimitBytes, { integer: true, min: 1, unit: 'bytes' });
  // Whole: what is left of it becomes the limitBytes of the last logs.
  numberOption('maxLogBytes', options.maxLogBytes, { integer: true, min: 0, unit: 'bytes' });
  numberOption('maxSaltJobs', options.maxSaltJobs, { integer: true, min: 0, unit: 'Salt jobs' });
}

/** Seconds in `30m`, `24h`, `7d`, `90s` or a number of seconds; throws on anything else. */
export function parseSince(since: string | number): number {
  if (typeof since === 'number' && Number.isFinite(since) && since > 0) return Math.floor(since);
  const m = /^(\d+)\s*(s|m|h|d)?$/.exec(String(since).trim());
  if (!m || Number(m[1]) <= 0) throw new SdkError('SINCE_INVALID', `"${since}" is not a duration`, { hint: 'Use a positive number of seconds, or e.g. 30m, 24h, 7d.' });
  return Number(m[1]) * { s: 1, m: 60, h: 3600, d: 86_400 }[(m[2] ?? 's') as 's' | 'm' | 'h' | 'd'];
}

/** API groups of the platform, whose custom resources are not the Solution's own. */
const PLATFORM_GROUPS = /(^|\.)(k8s\.io|metalk8s\.scality\.com|coreos\.com|x-k8s\.io|cert-manager\.io)$/;

type List = { items?: KubernetesObject[] };

const byName = (a: KubernetesObject, b: KubernetesObject): number => {
  const ka = `${a.kind ?? ''}/${a.metadata?.namespace ?? ''}/${a.metadata?.name ?? ''}`;
  const kb = `${b.kind ?? ''}/${b.metadata?.namespace ?? ''}/${b.metadata?.name ?? ''}`;
  return ka < kb ? -1 : ka > kb ? 1 : 0;
};

/** Drops what only adds bulk (managed fields, node image lists) and sets `kind`. */
function slim(obj: KubernetesObject, kind: string, apiVersion: string): KubernetesObject {
  const { managedFields: _m, ...metadata } = obj.metadata ?? { name: '' };
  const out: KubernetesObject = { ...obj, apiVersion: obj.apiVersion ?? apiVersion, kind: obj.kind ?? kind, metadata };
  if (kind === 'Node' && typeof out.status === 'object' && out.status !== null) {
    const { images: _i, ...status } = out.status as Record<string, unknown>;
    out.status = status;
  }
  return out;
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Image references used by Pods and Deployments, with their users. */
function imageUsers(deployments: readonly KubernetesObject[], pods: readonly KubernetesObject[]): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  const add = (image: unknown, who: string) => {
    if (typeof image !== 'string') return;
    if (!out.has(image)) out.set(image, new Set());
    out.get(image)?.add(who);
  };
  for (const d of deployments) {
    const spec = (d.spec as { template?: { spec?: PodSpecLike } } | undefined)?.template?.spec;
    for (const c of [...(spec?.containers ?? []), ...(spec?.initContainers ?? [])]) add(c.image, `Deployment ${d.metadata?.namespace}/${d.metadata?.name}`);
  }
  for (const p of pods) {
    const spec = p.spec as PodSpecLike | undefined;
    for (const c of [...(spec?.containers ?? []), ...(spec?.initContainers ?? [])]) add(c.image, `Pod ${p.metadata?.namespace}/${p.metadata?.name}`);
  }
  return out;
}

interface PodSpecLike {
  containers?: { name: string; image?: string }[];
  initContainers?: { name: string; image?: string }[];
}

/** `<id>/<image>:<tag>` of a cluster-registry reference, or undefined for other registries. */
export function parseClusterImage(ref: string): { id: string; image: string; tag: string } | undefined {
  if (!ref.startsWith(`${CLUSTER_REGISTRY_HOST}/`)) return undefined;
  const rest = ref.slice(CLUSTER_REGISTRY_HOST.length + 1).split('@')[0] ?? '';
  const slash = rest.indexOf('/');
  if (slash < 0) return undefined;
  const path = rest.slice(slash + 1);
  const colon = path.lastIndexOf(':');
  return { id: rest.slice(0, slash), image: colon < 0 ? path : path.slice(0, colon), tag: colon < 0 ? 'latest' : path.slice(colon + 1) };
}

/**
 * Collects a {@link DiagnosticsSnapshot}. Every collector that fails is recorded in `problems`
 * instead of failing the whole collection.
 *
 * @example
 * ```ts
 * const snapshot = await collectSnapshot(cluster, { env: 'zenko-prod', since: '6h' });
 * ```
 */
export async function collectSnapshot(target: DiagnosticsTarget, options: CollectOptions = {}): Promise<DiagnosticsSnapshot> {
  checkCollectOptions(options);
  const kc = target.kubeConfig;
  const { signal } = options;
  const now = (options.now ?? (() => new Date()))();
  const sinceSeconds = parseSince(options.since ?? '24h');
  const cutoff = now.getTime() - sinceSeconds * 1000;
  const problems: CollectionProblem[] = [];
  const steps = ['cluster', 'nodes', 'solutions', 'workloads', 'custom resources', 'storage', 'logs', 'salt jobs', 'images', 'alerts'];
  let done = 0;
  const step = (what: string) => {
    throwIfAborted(signal, 'collecting diagnostics');
    options.onProgress?.({ type: 'collect', what, done: done++, total: steps.length });
  };
  const attempt = async <T>(collector: string, fallback: T, fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (err) {
      throwIfAborted(signal, 'collecting diagnostics');
      problems.push({ collector, message: messageOf(err) });
      return fallback;
    }
  };
  const list = async (path: string, kind: string, apiVersion: string): Promise<KubernetesObject[]> =>
    ((await kubeGet<List>(kc, path, signal))?.items ?? []).map((o) => slim(o, kind, apiVersion)).sort(byName);

  step('cluster');
  const kubeSystem = await attempt('cluster', undefined, () => kubeGet<KubernetesObject>(kc, '/api/v1/namespaces/kube-system', signal));
  const version = await attempt('cluster', undefined, () => kubeGet<{ gitVersion?: string }>(kc, '/version', signal));
  step('nodes');
  const nodes = await attempt('nodes', [], () => list('/api/v1/nodes', 'Node', 'v1'));
  step('solutions');
  const solutions = await attempt('solutions', {}, () => readAvailable(kc, signal));
  const envNamespaces = await attempt('environments', [], () =>
    list(`/api/v1/namespaces?labelSelector=${encodeURIComponent(options.env ? `${ENV_LABEL}=${options.env}` : ENV_LABEL)}`, 'Namespace', 'v1'),
  );
  const namespaces = envNamespaces.map((n) => n.metadata?.name ?? '').filter((n) => n !== '');
  const environments: EnvironmentRecord[] = [];
  const configMaps: KubernetesObject[] = [];
  const deployments: KubernetesObject[] = [];
  const replicaSets: KubernetesObject[] = [];
  const pods: KubernetesObject[] = [];
  const events: KubernetesObject[] = [];
  const pvcs: KubernetesObject[] = [];
  const rules: KubernetesObject[] = [];
  step('workloads');
  for (const ns of namespaces) {
    const e = encodeURIComponent(ns);
    const cms = await attempt(`configmaps ${ns}`, [], () => list(`/api/v1/namespaces/${e}/configmaps`, 'ConfigMap', 'v1'));
    configMaps.push(...cms);
    const envCm = cms.find((c) => c.metadata?.name === ENV_CONFIGMAP) as { data?: Record<string, string> | null } | undefined;
    const label = envNamespaces.find((n) => n.metadata?.name === ns)?.metadata?.labels?.[ENV_LABEL] ?? '';
    environments.push({ name: label, namespace: ns, solutions: { ...(envCm?.data ?? {}) } });
    deployments.push(...(await attempt(`deployments ${ns}`, [], () => list(`/apis/apps/v1/namespaces/${e}/deployments`, 'Deployment', 'apps/v1'))));
    replicaSets.push(...(await attempt(`replicasets ${ns}`, [], () => list(`/apis/apps/v1/namespaces/${e}/replicasets`, 'ReplicaSet', 'apps/v1'))));
    pods.push(...(await attempt(`pods ${ns}`, [], () => list(`/api/v1/namespaces/${e}/pods`, 'Pod', 'v1'))));
    const evs = await attempt(`events ${ns}`, [], () => list(`/api/v1/namespaces/${e}/events`, 'Event', 'v1'));
    events.push(...evs.filter((ev) => eventTime(ev) >= cutoff));
    pvcs.push(...(await attempt(`persistentvolumeclaims ${ns}`, [], () => list(`/api/v1/namespaces/${e}/persistentvolumeclaims`, 'PersistentVolumeClaim', 'v1'))));
    rules.push(
      ...(await attempt(`prometheusrules ${ns}`, [], async () => {
        const res = await kubeRequest(kc, 'GET', `/apis/monitoring.coreos.com/v1/namespaces/${e}/prometheusrules`, undefined, undefined, signal);
        return res.status === 404 ? [] : ((res.json as List).items ?? []).map((o) => slim(o, 'PrometheusRule', 'monitoring.coreos.com/v1'));
      })),
    );
  }
  // Events of cluster-scoped objects (Nodes, Volumes) land in `default`.
  const clusterEvents = await attempt('events default', [], () => list('/api/v1/namespaces/default/events', 'Event', 'v1'));
  events.push(...clusterEvents.filter((ev) => eventTime(ev) >= cutoff && ['Node', 'Volume', 'PersistentVolume'].includes(String((ev.involvedObject as { kind?: string } | undefined)?.kind))));

  step('custom resources');
  const customResources: KubernetesObject[] = [];
  const crds = await attempt('customresourcedefinitions', [], () => list('/apis/apiextensions.k8s.io/v1/customresourcedefinitions', 'CustomResourceDefinition', 'apiextensions.k8s.io/v1'));
  for (const crd of crds) {
    const spec = crd.spec as { group?: string; scope?: string; names?: { plural?: string; kind?: string }; versions?: { name: string; storage?: boolean; served?: boolean }[] } | undefined;
    if (!spec?.group || PLATFORM_GROUPS.test(spec.group) || spec.scope !== 'Namespaced') continue;
    const ver = spec.versions?.find((v) => v.storage)?.name ?? spec.versions?.[0]?.name;
    if (!ver || !spec.names?.plural) continue;
    for (const ns of namespaces) {
      customResources.push(
        ...(await attempt(`${spec.names.plural}.${spec.group} ${ns}`, [], () =>
          list(`/apis/${spec.group}/${ver}/namespaces/${encodeURIComponent(ns)}/${spec.names?.plural}`, spec.names?.kind ?? '', `${spec.group}/${ver}`),
        )),
      );
    }
  }

  step('storage');
  const volumes = await attempt('volumes', [], async () => {
    const res = await kubeRequest(kc, 'GET', '/apis/storage.metalk8s.scality.com/v1alpha1/volumes', undefined, undefined, signal);
    return res.status === 404 ? [] : ((res.json as List).items ?? []).map((o) => slim(o, 'Volume', 'storage.metalk8s.scality.com/v1alpha1')).sort(byName);
  });
  const persistentVolumes = await attempt('persistentvolumes', [], () => list('/api/v1/persistentvolumes', 'PersistentVolume', 'v1'));
  const storageClasses = await attempt('storageclasses', [], () => list('/apis/storage.k8s.io/v1/storageclasses', 'StorageClass', 'storage.k8s.io/v1'));

  step('logs');
  const logs = await collectLogs(kc, pods, sinceSeconds, options, problems);

  step('salt jobs');
  let saltJobs: SaltJobRecord[] = [];
  if (target.salt) saltJobs = await attempt('salt jobs', [], () => collectSaltJobs(target.salt as SaltApiClient, cutoff, options.maxSaltJobs ?? 30, signal));
  else problems.push({ collector: 'salt jobs', message: 'not collected: no SaltAPI connection' });

  step('images');
  const bootstrapIp = (nodes.find((n) => n.metadata?.labels?.['node-role.kubernetes.io/bootstrap'] !== undefined)?.status as { addresses?: { type: string; address: string }[] } | undefined)?.addresses?.find(
    (a) => a.type === 'InternalIP',
  )?.address;
  const registryUrl = options.registryUrl ?? (bootstrapIp ? `http://${bootstrapIp}:8080` : undefined);
  const images = await attempt('images', [], () => checkImages(deployments, pods, solutions, registryUrl, signal));

  step('alerts');
  // The Solution's alerts: those of the environments' namespaces.
  const alerts = options.alerts
    ? (await attempt('alerts', [] as readonly FiringAlert[], () => (options.alerts as AlertSource)({ signal }))).filter((a) => namespaces.includes(a.labels.namespace ?? ''))
    : [];
  options.onProgress?.({ type: 'collect', what: 'done', done: steps.length, total: steps.length });

  return {
    schemaVersion: 1,
    collectedAt: now.toISOString().replace(/\.\d+Z$/, 'Z'),
    sdkVersion: SDK_VERSION,
    cluster: {
      metalk8sVersion: kubeSystem?.metadata?.annotations?.['metalk8s.scality.com/cluster-version'],
      kubernetesVersion: version?.gitVersion,
    },
    scope: { env: options.env, namespaces, sinceSeconds },
    nodes,
    solutions,
    environments: environments.sort((a, b) => (a.namespace < b.namespace ? -1 : 1)),
    deployments,
    replicaSets,
    pods,
    events: events.sort(byName),
    configMaps,
    customResources: customResources.sort(byName),
    volumes,
    persistentVolumes,
    persistentVolumeClaims: pvcs,
    storageClasses,
    prometheusRules: rules.sort(byName),
    logs,
    saltJobs,
    images,
    alerts: alerts.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)),
    problems,
  };
}

function eventTime(ev: KubernetesObject): number {
  const e = ev as { lastTimestamp?: string; eventTime?: string; firstTimestamp?: string; metadata?: { creationTimestamp?: string } };
  const t = e.lastTimestamp ?? e.eventTime ?? e.firstTimestamp ?? e.metadata?.creationTimestamp;
  return t ? Date.parse(t) : Number.POSITIVE_INFINITY;
}

async function collectLogs(kc: KubeConfig, pods: readonly KubernetesObject[], sinceSeconds: number, options: CollectOptions, problems: CollectionProblem[]): Promise<ContainerLog[]> {
  const tail = options.logTailLines ?? 2000;
  const limit = options.logLimitBytes ?? 1 << 20;
  let budget = options.maxLogBytes ?? 64 << 20;
  const out: ContainerLog[] = [];
  for (const pod of pods) {
    const ns = pod.metadata?.namespace ?? '';
    const name = pod.metadata?.name ?? '';
    const statuses = ((pod.status as { containerStatuses?: { name: string; restartCount?: number }[] } | undefined)?.containerStatuses ?? []);
    for (const c of (pod.spec as PodSpecLike | undefined)?.containers ?? []) {
      const restarted = (statuses.find((s) => s.name === c.name)?.restartCount ?? 0) > 0;
      for (const previous of restarted ? [false, true] : [false]) {
        if (budget <= 0) {
          problems.push({ collector: 'logs', message: `log budget spent: ${ns}/${name}/${c.name}${previous ? ' (previous)' : ''} and later logs not collected` });
          return out;
        }
        const q = new URLSearchParams({ container: c.name, tailLines: String(tail), limitBytes: String(Math.min(limit, budget)), timestamps: 'true' });
        if (previous) q.set('previous', 'true');
        else q.set('sinceSeconds', String(sinceSeconds));
        try {
          const res = await kubeRequest(kc, 'GET', `/api/v1/namespaces/${encodeURIComponent(ns)}/pods/${encodeURIComponent(name)}/log?${q}`, undefined, undefined, options.signal);
          if (res.status !== 200) {
            const msg = (res.json as { message?: string } | undefined)?.message ?? res.text.slice(0, 200);
            problems.push({ collector: 'logs', message: `${ns}/${name}/${c.name}${previous ? ' (previous)' : ''}: HTTP ${res.status}: ${msg}` });
            continue;
          }
          budget -= Buffer.byteLength(res.text);
          const lines = res.text.split('\n').length - 1;
          out.push({ namespace: ns, pod: name, container: c.name, previous, text: res.text, truncated: lines >= tail || Buffer.byteLength(res.text) >= limit });
        } catch (err) {
          throwIfAborted(options.signal, 'collecting logs');
          problems.push({ collector: 'logs', message: `${ns}/${name}/${c.name}: ${messageOf(err)}` });
        }
      }
    }
  }
  return out;
}

/** Salt's `StartTime` (`2026, Dec 01 08:00:00.123456`) or a jid's digits to epoch ms. */
function jobTime(jid: string, startTime: unknown): number {
  const m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})/.exec(jid);
  if (m) return Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]));
  return typeof startTime === 'string' ? Date.parse(startTime) : Number.NaN;
}

/** Runner jobs read at most, newest first, to find the Solution orchestrates among them. */
const MAX_ORCHESTRATE_JOBS_READ = 200;

/**
 * Orchestrate jobs of Solutions and `deploy_node`, newest first. `jobs.list_jobs` gives no
 * arguments for runner jobs (real Salt keeps them in the job's return, `fun_args`), so each
 * recent `state.orchestrate` job is read with `jobs.print_job`.
 */
async function collectSaltJobs(salt: SaltApiClient, cutoff: number, max: number, signal?: AbortSignal): Promise<SaltJobRecord[]> {
  const listed = await salt.runner({ fun: 'jobs.list_jobs', kwarg: { search_function: 'runner.state.orchestrate' } }, { signal });
  const candidates = (isRecord(listed) ? Object.entries(listed) : [])
    .filter(([jid, info]) => isRecord(info) && String(info.Function ?? '') === 'runner.state.orchestrate' && jobTime(jid, info.StartTime) >= cutoff)
    .sort(([a], [b]) => (a < b ? 1 : -1))
    .slice(0, MAX_ORCHESTRATE_JOBS_READ);
  const out: SaltJobRecord[] = [];
  for (const [jid, raw] of candidates) {
    if (out.length >= max) break;
    const info = raw as Record<string, unknown>;
    const status = await salt.printJob(jid, { signal }).catch(() => undefined);
    const ret = status ? Object.values(status.result)[0] : undefined;
    const body = isRecord(ret) && isRecord(ret.return) ? ret.return : undefined;
    const funArgs = Array.isArray(body?.fun_args) ? body.fun_args : [];
    const mods = funArgs.find((a): a is string => typeof a === 'string' && !a.includes('='));
    if (!mods || !(mods.startsWith('metalk8s.orchestrate.solutions.') || mods === 'metalk8s.orchestrate.deploy_node')) continue;
    const kw = funArgs.find(isRecord) ?? {};
    const orchestrate = isRecord(kw.pillar) && isRecord(kw.pillar.orchestrate) ? kw.pillar.orchestrate : {};
    let success: boolean | undefined;
    let failure: string | undefined;
    if (status?.done && body) {
      const step = firstFailedStep(body.return);
      success = typeof body.success === 'boolean' ? body.success && !step : !step;
      failure = step ? describeFailure(step) : undefined;
    }
    const pillar: Record<string, unknown> = {};
    for (const k of ['node_name', 'env_name']) if (orchestrate[k] !== undefined) pillar[k] = orchestrate[k];
    out.push({
      jid,
      function: String(info.Function ?? ''),
      mods,
      pillar,
      startTime: typeof info.StartTime === 'string' ? info.StartTime : undefined,
      user: typeof info.User === 'string' ? info.User : undefined,
      success,
      failure,
    });
  }
  return out;
}

async function checkImages(
  deployments: readonly KubernetesObject[],
  pods: readonly KubernetesObject[],
  solutions: Readonly<Record<string, readonly AvailableEntry[]>>,
  registryUrl: string | undefined,
  signal?: AbortSignal,
): Promise<ImageCheck[]> {
  const entries = Object.values(solutions).flat();
  const out: ImageCheck[] = [];
  for (const [image, users] of [...imageUsers(deployments, pods)].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const parsed = parseClusterImage(image);
    if (!parsed) continue;
    const entry = entries.find((e) => e.id === parsed.id);
    const listedImages = ((entry?.manifest.spec as { images?: unknown } | undefined)?.images ?? []) as unknown[];
    const listed = listedImages.includes(`${parsed.image}:${parsed.tag}`);
    let served: boolean | undefined;
    let digest: string | undefined;
    let detail: string | undefined = entry ? undefined : `no imported Solution version has the id ${parsed.id}`;
    if (registryUrl) {
      try {
        const r = await headManifest(registryUrl, parsed.id, parsed.image, parsed.tag, signal);
        served = r.served;
        digest = r.digest;
        detail = detail ?? r.detail;
      } catch (err) {
        throwIfAborted(signal, 'checking images');
        detail = `registry not reachable at ${registryUrl}: ${messageOf(err)}`;
      }
    } else detail = detail ?? 'registry address unknown: only the manifests were checked';
    out.push({ image, solutionId: parsed.id, listed, served, digest, detail, usedBy: [...users].sort() });
  }
  return out;
}
