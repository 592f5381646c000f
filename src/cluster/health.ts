/**
 * `cluster.health(name, env)`: one report on a Solution in an environment, joining the
 * Kubernetes API (operator Deployment, the Solution's custom resources, PVCs and Volumes) with
 * Prometheus (its rules loaded and evaluating, its monitors' targets) and Alertmanager (its
 * alerts firing, silenced or not). A check that cannot run (Prometheus down) says so as
 * `unknown` instead of failing the report.
 *
 * @module
 */
import type { KubeConfig } from '@kubernetes/client-node';
import { ClusterError } from '../errors.js';
import { kubeGet } from './_kube.js';
import { ENV_CONFIGMAP } from './_lifecycle.js';
import { environmentNamespaces, ownedAlertRules } from './_platform.js';
import type { AlertsApi } from './alerts.js';
import type { MetricsApi } from './metrics.js';

/** Status of one check, and of the report (`unhealthy` > `degraded` > `unknown` > `healthy`). */
export type CheckStatus = 'ok' | 'warning' | 'error' | 'unknown';

/** One check of a {@link HealthReport}. */
export interface HealthCheck {
  readonly name: 'operator' | 'custom-resources' | 'storage' | 'rules' | 'alerts' | 'targets';
  readonly status: CheckStatus;
  /** One line for humans. */
  readonly summary: string;
  /** One line per finding. */
  readonly details: readonly string[];
}

/** An alert of the Solution, as the report gives it. */
export interface HealthAlert {
  readonly alertname: string;
  readonly severity: string | undefined;
  /** `active` (firing and notified), `suppressed` (silenced or inhibited), or Prometheus' `firing` when Alertmanager could not be asked. */
  readonly state: 'active' | 'suppressed' | 'unprocessed' | 'firing';
  /** Rule group (PrometheusRule group) it comes from. */
  readonly group: string | undefined;
  /** The namespace label, when the alert has one. */
  readonly namespace: string | undefined;
  readonly summary: string | undefined;
  readonly startsAt: string | undefined;
  readonly silencedBy: readonly string[];
}

/** The health of a Solution in an environment. */
export interface HealthReport {
  readonly solution: string;
  readonly environment: string;
  /** Version running in the environment (its `metalk8s-environment` ConfigMaps). */
  readonly version: string | undefined;
  readonly namespaces: readonly string[];
  readonly status: 'healthy' | 'degraded' | 'unhealthy' | 'unknown';
  readonly checkedAt: string;
  readonly checks: readonly HealthCheck[];
  readonly alerts: readonly HealthAlert[];
}

/** Options of `cluster.health()`. */
export interface HealthOptions {
  readonly signal?: AbortSignal | undefined;
}

const PLATFORM_GROUPS = /(^|\.)(metalk8s\.scality\.com|coreos\.com|cert-manager\.io|k8s\.io)$/;

function worst(statuses: readonly CheckStatus[]): HealthReport['status'] {
  if (statuses.includes('error')) return 'unhealthy';
  if (statuses.includes('warning')) return 'degraded';
  if (statuses.includes('unknown')) return 'unknown';
  return 'healthy';
}

function reason(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

type Cond = { type: string; status: string; reason?: string; message?: string };

/** Retries a read the API server refused for now (429: a CRD's storage is (re)initializing after a change). */
async function retryTransient<T>(read: () => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await read();
    } catch (err) {
      if (!(err instanceof ClusterError && err.status === 429) || attempt >= 10) throw err;
      await new Promise((r) => setTimeout(r, 200 * (attempt + 1)));
    }
  }
}

/** Builds the report; see {@link HealthReport}. */
export async function solutionHealth(kc: KubeConfig, metrics: MetricsApi, alertsApi: AlertsApi, name: string, environment: string, options: HealthOptions = {}): Promise<HealthReport> {
  const { signal } = options;
  const namespaces = await environmentNamespaces(kc, environment, signal);
  let version: string | undefined;
  const inNs: string[] = [];
  for (const ns of namespaces) {
    const cm = await kubeGet<{ data?: Record<string, string> | null }>(kc, `/api/v1/namespaces/${ns}/configmaps/${ENV_CONFIGMAP}`, signal);
    const v = cm?.data?.[name];
    if (v !== undefined) {
      version ??= v;
      inNs.push(ns);
    }
  }
  if (inNs.length === 0) {
    throw new ClusterError('SOLUTION_NOT_IN_ENVIRONMENT', `${name} does not run in environment ${environment}`, {
      hint: `Add it with \`solution env add ${environment} ${name} <version>\`, or check \`solution status\`.`,
    });
  }
  const checks: HealthCheck[] = [];

  // --- operator ---------------------------------------------------------------------------
  {
    const details: string[] = [];
    let status: CheckStatus = 'ok';
    for (const ns of inNs) {
      type Dep = { metadata: { labels?: Record<string, string> }; spec?: { replicas?: number }; status?: { readyReplicas?: number; conditions?: Cond[] } };
      const dep = await kubeGet<Dep>(kc, `/apis/apps/v1/namespaces/${ns}/deployments/${name}-operator`, signal);
      if (!dep) {
        status = 'error';
        details.push(`${ns}/${name}-operator: Deployment missing`);
        continue;
      }
      const available = dep.status?.conditions?.some((c) => c.type === 'Available' && c.status === 'True');
      const bad = (dep.status?.conditions ?? []).filter((c) => (c.type === 'ReplicaFailure' && c.status === 'True') || (c.type === 'Progressing' && c.status === 'False') || (c.type === 'Available' && c.status !== 'True'));
      const ready = `${dep.status?.readyReplicas ?? 0}/${dep.spec?.replicas ?? 1} ready`;
      if (!available) status = 'error';
      details.push(`${ns}/${name}-operator: ${available ? 'Available' : 'not Available'}, ${ready}, version ${dep.metadata.labels?.['app.kubernetes.io/version'] ?? '?'}${bad.length ? ` (${bad.map((c) => `${c.reason ?? c.type}: ${c.message ?? ''}`.trim()).join('; ')})` : ''}`);
    }
    checks.push({ name: 'operator', status, summary: status === 'ok' ? 'operator Available' : 'operator not Available', details });
  }

  // --- custom resources ----------------------------------------------------------------------
  try {
    const groups = new Set<string>();
    for (const ns of inNs) {
      const roles = await kubeGet<{ items: { metadata: { labels?: Record<string, string> }; rules?: { apiGroups?: string[] }[] }[] }>(kc, `/apis/rbac.authorization.k8s.io/v1/namespaces/${ns}/roles`, signal);
      for (const r of roles?.items ?? []) {
        if (r.metadata.labels?.['app.kubernetes.io/part-of'] !== undefined && r.metadata.labels['app.kubernetes.io/part-of'] !== name) continue;
        for (const rule of r.rules ?? []) for (const g of rule.apiGroups ?? []) if (g.includes('.') && !PLATFORM_GROUPS.test(g)) groups.add(g);
      }
    }
    const crds = await kubeGet<{ items: { spec: { group: string; scope: string; names: { plural: string; kind: string }; versions: { name: string; storage?: boolean; served?: boolean }[] } }[] }>(kc, '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', signal);
    const details: string[] = [];
    let status: CheckStatus = 'ok';
    let count = 0;
    for (const crd of (crds?.items ?? []).filter((c) => groups.has(c.spec.group) && c.spec.scope === 'Namespaced')) {
      const v = crd.spec.versions.find((x) => x.storage) ?? crd.spec.versions[0];
      if (!v) continue;
      for (const ns of inNs) {
        const list = await retryTransient(() =>
          kubeGet<{ items: { metadata: { name: string }; status?: { phase?: string; conditions?: Cond[] } }[] }>(kc, `/apis/${crd.spec.group}/${v.name}/namespaces/${ns}/${crd.spec.names.plural}`, signal),
        );
        for (const obj of list?.items ?? []) {
          count++;
          const conds = obj.status?.conditions ?? [];
          const failing = conds.filter((c) => (/^(Ready|Available|Healthy|Reconciled)$/.test(c.type) && c.status === 'False') || (/^(Degraded|Failed|Error)$/.test(c.type) && c.status === 'True'));
          const phase = obj.status?.phase;
          const phaseBad = phase !== undefined && /fail|error|degrad/i.test(phase);
          if (failing.length > 0 || phaseBad) status = 'error';
          else if (conds.length === 0 && phase === undefined && status === 'ok') status = 'warning';
          const state = conds.length ? conds.map((c) => `${c.type}=${c.status}${c.reason ? ` (${c.reason}${c.message ? `: ${c.message}` : ''})` : ''}`).join(', ') : 'no status conditions yet';
          details.push(`${crd.spec.names.kind} ${ns}/${obj.metadata.name}: ${phase ? `phase ${phase}; ` : ''}${state}`);
        }
      }
    }
    checks.push({ name: 'custom-resources', status, summary: count === 0 ? 'no custom resource' : `${count} custom resource(s)`, details });
  } catch (err) {
    checks.push({ name: 'custom-resources', status: 'unknown', summary: 'could not read the custom resources', details: [reason(err)] });
  }

  // --- storage: PVCs and their Volumes -------------------------------------------------------
  {
    const details: string[] = [];
    let status: CheckStatus = 'ok';
    let count = 0;
    for (const ns of inNs) {
      const pvcs = await kubeGet<{ items: { metadata: { name: string }; spec?: { volumeName?: string }; status?: { phase?: string } }[] }>(kc, `/api/v1/namespaces/${ns}/persistentvolumeclaims`, signal);
      for (const pvc of pvcs?.items ?? []) {
        count++;
        const phase = pvc.status?.phase ?? 'Pending';
        if (phase !== 'Bound') status = status === 'error' ? status : phase === 'Lost' ? 'error' : 'warning';
        let volume = '';
        if (pvc.spec?.volumeName) {
          const vol = await kubeGet<{ status?: { phase?: string; conditions?: Cond[] } }>(kc, `/apis/storage.metalk8s.scality.com/v1alpha1/volumes/${pvc.spec.volumeName}`, signal).catch(() => undefined);
          const ready = vol?.status?.conditions?.find((c) => c.type === 'Ready');
          if (vol) {
            volume = `, Volume ${pvc.spec.volumeName} ${ready ? `Ready=${ready.status}${ready.reason ? ` (${ready.reason})` : ''}` : (vol.status?.phase ?? 'no status')}`;
            if (ready && ready.status !== 'True') status = 'error';
          }
        }
        details.push(`PVC ${ns}/${pvc.metadata.name}: ${phase}${volume}`);
      }
    }
    checks.push({ name: 'storage', status, summary: count === 0 ? 'no PersistentVolumeClaim' : `${count} PVC(s)${status === 'ok' ? ', all Bound' : ''}`, details });
  }

  // --- rules (Prometheus) ---------------------------------------------------------------------
  const owned = await ownedAlertRules(kc, name, signal);
  const groupOf = new Map(owned.map((r) => [r.alert, r.group]));
  try {
    const loaded = (await metrics.rules({ type: 'alert', signal })).flatMap((g) => g.rules.map((r) => ({ group: g.name, rule: r })));
    const details: string[] = [];
    let status: CheckStatus = 'ok';
    for (const r of owned) {
      const found = loaded.find((l) => l.group === r.group && l.rule.name === r.alert);
      if (!found) {
        status = 'error';
        details.push(`${r.group}/${r.alert}: not loaded in Prometheus (${r.object})`);
      } else if (found.rule.health === 'err') {
        status = 'error';
        details.push(`${r.group}/${r.alert}: evaluation fails: ${found.rule.lastError ?? 'unknown error'}`);
      } else if (found.rule.health === 'unknown' && status === 'ok') {
        status = 'warning';
        details.push(`${r.group}/${r.alert}: not evaluated yet`);
      }
    }
    checks.push({ name: 'rules', status, summary: owned.length === 0 ? 'the Solution ships no alert rule' : `${owned.length - details.length}/${owned.length} rules loaded and evaluating`, details });
  } catch (err) {
    checks.push({ name: 'rules', status: 'unknown', summary: 'Prometheus could not be asked', details: [reason(err)] });
  }

  // --- alerts (Alertmanager, else Prometheus) -------------------------------------------------
  const alerts: HealthAlert[] = [];
  const names = [...new Set(owned.map((r) => r.alert))];
  const mine = (labels: Readonly<Record<string, string>>): boolean =>
    (labels.namespace !== undefined && inNs.includes(labels.namespace)) || (names.includes(labels.alertname ?? '') && (labels.namespace === undefined || inNs.includes(labels.namespace)));
  let alertsChecked = false;
  let alertsError: string | undefined;
  try {
    for (const a of await alertsApi.list({ signal })) {
      if (!mine(a.labels) || a.labels.alertname === 'Watchdog') continue;
      alerts.push({
        alertname: a.labels.alertname ?? '',
        severity: a.labels.severity,
        state: a.status.state,
        group: groupOf.get(a.labels.alertname ?? ''),
        namespace: a.labels.namespace,
        summary: a.annotations.summary,
        startsAt: a.startsAt,
        silencedBy: a.status.silencedBy,
      });
    }
    alertsChecked = true;
  } catch (err) {
    alertsError = `Alertmanager: ${reason(err)}`;
    try {
      for (const a of await metrics.alerts({ signal })) {
        if (a.state !== 'firing' || !mine(a.labels) || a.labels.alertname === 'Watchdog') continue;
        alerts.push({ alertname: a.labels.alertname ?? '', severity: a.labels.severity, state: 'firing', group: groupOf.get(a.labels.alertname ?? ''), namespace: a.labels.namespace, summary: a.annotations.summary, startsAt: a.activeAt, silencedBy: [] });
      }
      alertsChecked = true;
    } catch (err2) {
      alertsError += `; Prometheus: ${reason(err2)}`;
    }
  }
  alerts.sort((a, b) => (a.alertname < b.alertname ? -1 : a.alertname > b.alertname ? 1 : 0));
  {
    const loud = alerts.filter((a) => a.state === 'active' || a.state === 'firing');
    const status: CheckStatus = !alertsChecked ? 'unknown' : loud.some((a) => a.severity === 'critical') ? 'error' : loud.some((a) => a.severity === 'warning') ? 'warning' : 'ok';
    const details = alerts.map(
      (a) => `${a.alertname} (${a.severity ?? 'no severity'}) ${a.state}${a.silencedBy.length ? ` by silence ${a.silencedBy.join(', ')}` : ''}${a.group ? `, rule group ${a.group}` : ''}${a.namespace ? `, namespace ${a.namespace}` : ''}${a.summary ? `: ${a.summary}` : ''}`,
    );
    if (alertsError) details.push(alertsError);
    const suppressed = alerts.length - loud.length;
    checks.push({ name: 'alerts', status, summary: !alertsChecked ? 'alerts could not be read' : `${loud.length} firing${suppressed ? `, ${suppressed} silenced or inhibited` : ''}`, details });
  }

  // --- targets --------------------------------------------------------------------------------
  try {
    const pools = new RegExp(`^(serviceMonitor|podMonitor)/[^/]+/${name}-`);
    const targets = (await metrics.targets({ signal })).filter((t) => (t.labels.namespace !== undefined && inNs.includes(t.labels.namespace)) || pools.test(t.scrapePool));
    const down = targets.filter((t) => t.health !== 'up');
    const status: CheckStatus = down.length > 0 ? (down.length === targets.length ? 'error' : 'warning') : 'ok';
    checks.push({
      name: 'targets',
      status,
      summary: targets.length === 0 ? 'no scrape target' : `${targets.length - down.length}/${targets.length} targets up`,
      details: down.map((t) => `${t.labels.job ?? t.scrapePool} ${t.scrapeUrl}: ${t.health}${t.lastError ? ` (${t.lastError})` : ''}`),
    });
  } catch (err) {
    checks.push({ name: 'targets', status: 'unknown', summary: 'Prometheus could not be asked', details: [reason(err)] });
  }

  return {
    solution: name,
    environment,
    version,
    namespaces: inNs,
    status: worst(checks.map((c) => c.status)),
    checkedAt: new Date().toISOString(),
    checks,
    alerts,
  };
}
