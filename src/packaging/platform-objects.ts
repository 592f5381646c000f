/**
 * The allowlist of the ISO's `platform/` folder: what `activate` may apply with the caller's
 * credentials. Only what `render()` itself writes there is accepted: StorageClasses,
 * PrometheusRules, ServiceMonitors, PodMonitors and Grafana dashboard ConfigMaps, with the
 * namespace, names, labels, annotations and fields the SDK renders. Anything else (a
 * ClusterRoleBinding, a webhook, a Secret, a ServiceMonitor reading Prometheus' credentials, a
 * StorageClass made the cluster default) is refused, naming the file and the object.
 *
 * Same spirit as MetalK8s' own rule for `operator/deploy/role.yaml` (Role and ClusterRole only).
 * Pure: `verify` runs it on the ISO offline, `activate` runs it before its first write.
 *
 * @module
 */
import type { Issue } from '../errors.js';
import type { KubernetesObject } from '../solution/kubernetes-object.js';
import { MONITOR_LABEL, MONITORING_NAMESPACE, SDK_MANAGER } from '../solution/render.js';
import { yamlDocuments } from './_archive.js';
import { isRecord } from '../_record.js';

/** What {@link checkPlatformFile} found in one file. */
export interface PlatformFileCheck {
  /** The objects that passed the allowlist, in file order (empty when any issue is an error). */
  readonly objects: readonly KubernetesObject[];
  readonly issues: readonly Issue[];
}

interface KindRule {
  readonly apiVersion: string;
  readonly namespaced: boolean;
  /** Top-level fields besides apiVersion, kind and metadata. */
  readonly fields: readonly string[];
  readonly labels: readonly string[];
  readonly annotations: readonly string[];
  /** Further checks of the object's content. */
  readonly check?: (o: Record<string, unknown>, bad: (what: string) => void) => void;
}

const OWNERSHIP = ['app.kubernetes.io/part-of', 'app.kubernetes.io/version', 'app.kubernetes.io/managed-by'] as const;


function onlyKeys(v: unknown, allowed: readonly string[], where: string, bad: (what: string) => void): void {
  if (!isRecord(v)) {
    bad(`${where} must be a mapping`);
    return;
  }
  for (const k of Object.keys(v)) if (!allowed.includes(k)) bad(`${where} has "${k}", which the SDK never renders there`);
}

const ENDPOINT_FIELDS = ['port', 'path', 'interval', 'scheme'];

/** Prometheus Operator kinds: in the monitoring namespace, with the label Prometheus selects. */
function monitoringRule(check: NonNullable<KindRule['check']>): KindRule {
  return { apiVersion: 'monitoring.coreos.com/v1', namespaced: true, fields: ['spec'], labels: [...OWNERSHIP, MONITOR_LABEL], annotations: [], check };
}

function monitorRule(endpointsKey: string): KindRule {
  return monitoringRule((o, bad) => {
    onlyKeys(o.spec, ['selector', 'namespaceSelector', endpointsKey], 'spec', bad);
    const eps = isRecord(o.spec) ? o.spec[endpointsKey] : undefined;
    if (!Array.isArray(eps)) bad(`spec.${endpointsKey} must be a list`);
    // No tlsConfig, bearer tokens, authorization or relabelings: Prometheus would send its
    // own credentials, or scrape targets the solution does not own.
    else
      eps.forEach((e, i) => {
        onlyKeys(e, ENDPOINT_FIELDS, `spec.${endpointsKey}[${i}]`, bad);
      });
  });
}

const RULES: Readonly<Record<string, KindRule>> = {
  StorageClass: {
    apiVersion: 'storage.k8s.io/v1',
    namespaced: false,
    fields: ['provisioner', 'reclaimPolicy', 'volumeBindingMode', 'mountOptions', 'parameters'],
    labels: OWNERSHIP,
    // Not storageclass.kubernetes.io/is-default-class: a solution never makes itself the default.
    annotations: ['kubernetes.io/description'],
    check: (o, bad) => {
      // MetalK8s' local Volumes: PVs are made by storage-operator, never by a provisioner.
      if (o.provisioner !== 'kubernetes.io/no-provisioner') bad(`provisioner is ${JSON.stringify(o.provisioner)}, not kubernetes.io/no-provisioner`);
    },
  },
  PrometheusRule: monitoringRule((o, bad) => {
    onlyKeys(o.spec, ['groups'], 'spec', bad);
    const groups = isRecord(o.spec) ? o.spec.groups : undefined;
    if (!Array.isArray(groups)) {
      bad('spec.groups must be a list');
      return;
    }
    groups.forEach((g, i) => {
      onlyKeys(g, ['name', 'interval', 'rules'], `spec.groups[${i}]`, bad);
      const rules = isRecord(g) ? g.rules : undefined;
      if (!Array.isArray(rules)) return;
      rules.forEach((r, j) => {
        onlyKeys(r, ['alert', 'record', 'expr', 'for', 'labels', 'annotations'], `spec.groups[${i}].rules[${j}]`, bad);
      });
    });
  }),
  ServiceMonitor: monitorRule('endpoints'),
  PodMonitor: monitorRule('podMetricsEndpoints'),
  ConfigMap: {
    apiVersion: 'v1',
    namespaced: true,
    fields: ['data'],
    labels: [...OWNERSHIP, 'grafana_dashboard'],
    annotations: ['metalk8s.scality.com/grafana-folder-name'],
    check: (o, bad) => {
      const labels = (o.metadata as { labels?: Record<string, unknown> }).labels;
      if (labels?.grafana_dashboard !== '1') bad('is not a Grafana dashboard (label grafana_dashboard: "1")');
      if (!isRecord(o.data)) bad('data must be a mapping');
      else for (const [k, v] of Object.entries(o.data)) if (!k.endsWith('.json') || typeof v !== 'string') bad(`data key "${k}" is not a dashboard JSON document`);
    },
  },
};

/** The kinds `platform/` may hold. */
export const PLATFORM_KINDS = Object.freeze(Object.keys(RULES));

function describeObj(o: unknown): string {
  if (!isRecord(o)) return 'a document that is not an object';
  const meta = isRecord(o.metadata) ? o.metadata : {};
  const ns = typeof meta.namespace === 'string' ? `${meta.namespace}/` : '';
  return `${String(o.kind ?? '?')} ${ns}${String(meta.name ?? '?')}`;
}

/**
 * Checks one `platform/` file of the ISO of solution `solution` against the allowlist. Every
 * problem is an error issue whose path is the file and whose message names the object.
 *
 * @example
 * const { objects, issues } = checkPlatformFile('platform/storageclasses/acme-data.yaml', bytes, 'acme');
 */
export function checkPlatformFile(file: string, bytes: Uint8Array, solution: string): PlatformFileCheck {
  const issues: Issue[] = [];
  const objects: KubernetesObject[] = [];
  const refuse = (what: string, message: string) =>
    issues.push({
      code: 'PLATFORM_OBJECT_FORBIDDEN',
      path: file,
      message: `${what}: ${message}`,
      severity: 'error',
      hint: `platform/ may only hold what the SDK renders there (${PLATFORM_KINDS.join(', ')}) for solution "${solution}". Do not import this ISO; pack the solution again with \`solution pack\`.`,
    });
  if (!/\.ya?ml$/.test(file)) {
    refuse(file, 'is not a YAML file; platform/ holds only the YAML objects the SDK renders');
    return { objects: [], issues };
  }
  const docs = yamlDocuments(bytes);
  docs.forEach((d, i) => {
    if (d.errors.length > 0) {
      issues.push({ code: 'PLATFORM_INVALID_YAML', path: file, message: `document ${i + 1} is not valid YAML: ${d.errors[0]}`, severity: 'error', hint: 'Pack the solution again.' });
      return;
    }
    const o = d.value;
    const what = describeObj(o);
    const before = issues.length;
    const bad = (m: string) => refuse(what, m);
    if (!isRecord(o)) {
      bad('not a Kubernetes object');
      return;
    }
    const rule = typeof o.kind === 'string' && Object.hasOwn(RULES, o.kind) ? RULES[o.kind] : undefined;
    if (!rule) {
      bad(`kind ${JSON.stringify(o.kind)} is not allowed in platform/ (only ${PLATFORM_KINDS.join(', ')})`);
      return;
    }
    if (o.apiVersion !== rule.apiVersion) bad(`apiVersion is ${JSON.stringify(o.apiVersion)}, not ${rule.apiVersion}`);
    onlyKeys(o, ['apiVersion', 'kind', 'metadata', ...rule.fields], 'the object', bad);
    const meta = o.metadata;
    if (!isRecord(meta) || typeof meta.name !== 'string') {
      bad('metadata.name is missing');
      return;
    }
    onlyKeys(meta, ['name', 'namespace', 'labels', 'annotations'], 'metadata', bad);
    if (rule.namespaced) {
      if (meta.namespace !== MONITORING_NAMESPACE) bad(`namespace is ${JSON.stringify(meta.namespace)}: the SDK puts ${o.kind}s in ${MONITORING_NAMESPACE} only`);
      if (!meta.name.startsWith(`${solution}-`)) bad(`name "${meta.name}" does not start with "${solution}-": it is not the solution's to own`);
    } else {
      if (meta.namespace !== undefined) bad(`a ${o.kind} is cluster-scoped and has no namespace`);
      if (meta.name === 'metalk8s') bad('"metalk8s" is MetalK8s\' own StorageClass');
    }
    const labels = meta.labels ?? {};
    onlyKeys(labels, rule.labels, 'metadata.labels', bad);
    if (isRecord(labels)) {
      for (const [k, v] of Object.entries(labels)) if (typeof v !== 'string') bad(`label ${k} is not a string`);
      const partOf = labels['app.kubernetes.io/part-of'];
      if (partOf !== undefined && partOf !== solution) bad(`label app.kubernetes.io/part-of is "${String(partOf)}", not "${solution}"`);
      const by = labels['app.kubernetes.io/managed-by'];
      if (by !== undefined && by !== SDK_MANAGER) bad(`label app.kubernetes.io/managed-by is "${String(by)}", not "${SDK_MANAGER}"`);
    }
    if (meta.annotations !== undefined) onlyKeys(meta.annotations, rule.annotations, 'metadata.annotations', bad);
    rule.check?.(o, bad);
    if (issues.length === before) objects.push(o as KubernetesObject);
  });
  return { objects: issues.length === 0 ? objects : [], issues };
}
