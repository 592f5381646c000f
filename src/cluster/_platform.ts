/**
 * What the platform-service verbs share: the namespaces of an environment, the monitoring
 * objects a Solution owns (found by the ownership labels the SDK puts on them at activation).
 */
import type { KubeConfig } from '@kubernetes/client-node';
import { ClusterError } from '../errors.js';
import { kubeGet } from './_kube.js';
import { ENV_LABEL } from './_lifecycle.js';

/** The namespaces of an environment, sorted. */
export async function environmentNamespaces(kc: KubeConfig, environment: string, signal?: AbortSignal): Promise<string[]> {
  const list = await kubeGet<{ items: { metadata: { name: string; deletionTimestamp?: string } }[] }>(
    kc,
    `/api/v1/namespaces?labelSelector=${encodeURIComponent(`${ENV_LABEL}=${environment}`)}`,
    signal,
  );
  const names = (list?.items ?? []).filter((n) => !n.metadata.deletionTimestamp).map((n) => n.metadata.name).sort();
  if (names.length === 0) {
    throw new ClusterError('ENVIRONMENT_NOT_FOUND', `environment ${environment} has no namespace (none labelled ${ENV_LABEL}=${environment})`, {
      hint: 'Create it with `solution env create`, or check the name with `solution env list`.',
    });
  }
  return names;
}

/** An alerting rule a Solution ships, as stored in its PrometheusRule. */
export interface OwnedAlertRule {
  /** `<namespace>/<PrometheusRule name>`. */
  readonly object: string;
  readonly group: string;
  readonly alert: string;
  readonly expr: string;
  readonly severity: string | undefined;
}

/** The PrometheusRule objects of a Solution (label `app.kubernetes.io/part-of=<name>`), and their alerting rules. */
export async function ownedAlertRules(kc: KubeConfig, solution: string, signal?: AbortSignal): Promise<OwnedAlertRule[]> {
  type Rule = { alert?: string; record?: string; expr?: string; labels?: Record<string, string> };
  const list = await kubeGet<{ items: { metadata: { name: string; namespace: string }; spec?: { groups?: { name: string; rules?: Rule[] }[] } }[] }>(
    kc,
    `/apis/monitoring.coreos.com/v1/prometheusrules?labelSelector=${encodeURIComponent(`app.kubernetes.io/part-of=${solution}`)}`,
    signal,
  ).catch(() => undefined);
  const out: OwnedAlertRule[] = [];
  for (const pr of list?.items ?? []) {
    for (const g of pr.spec?.groups ?? []) {
      for (const r of g.rules ?? []) {
        if (r.alert) out.push({ object: `${pr.metadata.namespace}/${pr.metadata.name}`, group: g.name, alert: r.alert, expr: r.expr ?? '', severity: r.labels?.severity });
      }
    }
  }
  return out;
}
