/**
 * `render()`: a validated solution to the files of its archive, as a pure function. The packer
 * adds the images and writes the ISO; nothing here touches the disk, the network or the clock.
 *
 * @module
 */
import { toYaml, toYamlDocuments } from './_yaml.js';
import type { KubernetesObject } from './kubernetes-object.js';
import type { Solution } from './validate.js';
import type { ImageSourceInput } from './schema.js';

/** Registry host MetalK8s' containerd maps to the cluster's static registries. */
export const METALK8S_REGISTRY = 'metalk8s-registry-from-config.invalid';
/** apiVersion of MetalK8s' Solution manifest, OperatorConfig and SolutionsConfiguration. */
export const SOLUTIONS_API_VERSION = 'solutions.metalk8s.scality.com/v1alpha1';
/** Namespace the SDK puts the solution's monitoring objects in. */
export const MONITORING_NAMESPACE = 'metalk8s-monitoring';
/** Label Prometheus Operator in MetalK8s selects rules and monitors with. */
export const MONITOR_LABEL = 'metalk8s.scality.com/monitor';
/** Value of `app.kubernetes.io/managed-by` on the objects the SDK applies. */
export const SDK_MANAGER = 'metalk8s-solution-sdk';

/** An image of the solution, as the packer needs it. */
export interface RenderedImage {
  readonly name: string;
  readonly tag: string;
  readonly source: ImageSourceInput;
  /** @default "linux/amd64" */
  readonly platform: string;
  /** Where pods pull it from in the cluster. */
  readonly clusterReference: string;
}

/** Build information for the manifest annotations (the packer passes it). */
export interface RenderOptions {
  /** Build time; written as `solutions.metalk8s.scality.com/build-timestamp` (UTC, seconds). */
  readonly buildTimestamp?: Date | undefined;
  /** Overrides `build.buildHost` of the definition. */
  readonly buildHost?: string | undefined;
  /** Overrides `build.gitRevision` of the definition. */
  readonly gitRevision?: string | undefined;
}

/** The archive's files, by path, in a stable order, and the images to pack. */
export interface RenderedSolution {
  /** File contents by archive path (no leading slash), sorted by path. */
  readonly files: ReadonlyMap<string, Uint8Array>;
  /** Every image to put under `images/`, sorted by name and tag. */
  readonly images: readonly RenderedImage[];
}


const enc = new TextEncoder();

function formatTimestamp(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/**
 * Labels that mark the objects the SDK applies at activation, to find and remove them later.
 *
 * @example
 * ```ts
 * const selector = Object.entries(ownershipLabels(solution)).map(([k, v]) => `${k}=${v}`).join(',');
 * ```
 */
export function ownershipLabels(solution: Solution): Record<string, string> {
  return {
    'app.kubernetes.io/part-of': solution.name,
    'app.kubernetes.io/version': solution.version,
    'app.kubernetes.io/managed-by': SDK_MANAGER,
  };
}

function prefixed(solution: Solution, name: string): string {
  return name.startsWith(`${solution.name}-`) ? name : `${solution.name}-${name}`;
}

/** Manifest annotation carrying `requires.metalk8s`, checked by preflight and at import. */
export const REQUIRES_METALK8S_ANNOTATION = 'solutions.metalk8s.scality.com/requires-metalk8s';

/**
 * The `manifest.yaml` object MetalK8s reads.
 *
 * @example
 * ```ts
 * const manifest = renderManifest(solution, { buildTimestamp: new Date(0) });
 * console.log(manifest.metadata.name, manifest.spec);
 * ```
 */
export function renderManifest(solution: Solution, options: RenderOptions = {}): KubernetesObject {
  const d = solution.definition;
  const op = d.images.find((i) => i.name === d.operator.image);
  const annotations: Record<string, string> = {
    'solutions.metalk8s.scality.com/display-name': solution.displayName,
  };
  const ts = options.buildTimestamp ?? (d.build?.buildTimestamp ? new Date(d.build.buildTimestamp) : undefined);
  if (ts) annotations['solutions.metalk8s.scality.com/build-timestamp'] = formatTimestamp(ts);
  const host = options.buildHost ?? d.build?.buildHost;
  if (host) annotations['solutions.metalk8s.scality.com/build-host'] = host;
  const dev = d.build?.developmentRelease ?? /-dev/.test(solution.version);
  annotations['solutions.metalk8s.scality.com/development-release'] = dev ? '1' : '0';
  const git = options.gitRevision ?? d.build?.gitRevision;
  if (git) annotations['solutions.metalk8s.scality.com/git-revision'] = git;
  if (d.description) annotations['solutions.metalk8s.scality.com/description'] = d.description;
  if (d.requires?.metalk8s) annotations[REQUIRES_METALK8S_ANNOTATION] = d.requires.metalk8s;
  Object.assign(annotations, d.annotations);

  const operator: Record<string, unknown> = { image: { name: d.operator.image, tag: op?.tag ?? solution.version } };
  const m = d.operator.metrics;
  if (m) {
    const scheme = m.scheme ?? 'https';
    operator.metrics = {
      enabled: m.enabled ?? true,
      scheme,
      path: m.path ?? '/metrics',
      port: m.port ?? (scheme === 'https' ? 8443 : 8080),
    };
  }
  const metadata: KubernetesObject['metadata'] = { name: solution.name, annotations };
  if (d.labels) metadata.labels = { ...d.labels };
  return {
    apiVersion: SOLUTIONS_API_VERSION,
    kind: 'Solution',
    metadata,
    // MetalK8s reads the display name from a top-level `annotations` key, not from
    // metadata.annotations (metalk8s-reference §1.3): written in both places, so the cluster
    // shows "Zenko" and tools that follow the documented layout find it too.
    annotations: { 'solutions.metalk8s.scality.com/display-name': solution.displayName },
    spec: {
      version: solution.version,
      images: [...new Set(d.images.map((i) => `${i.name}:${i.tag}`))].sort(),
      operator,
    },
  };
}

/**
 * The Role and ClusterRole documents of `operator/deploy/role.yaml` (may be empty).
 *
 * @example
 * ```ts
 * for (const doc of renderRoles(solution)) console.log(doc.kind, doc.metadata.name); // Role acme-operator, ClusterRole acme-1.0.0-operator
 * ```
 */
export function renderRoles(solution: Solution): KubernetesObject[] {
  const p = solution.definition.operator.permissions;
  const labels = { 'app.kubernetes.io/part-of': solution.name, 'app.kubernetes.io/version': solution.version };
  const docs: KubernetesObject[] = [];
  if (p?.namespaced?.length)
    docs.push({
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'Role',
      metadata: { name: `${solution.name}-operator`, labels },
      rules: p.namespaced,
    });
  if (p?.cluster?.length)
    docs.push({
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      // Cluster-wide name: carry the solution and its version so two solutions, or two versions
      // running in different environments, never overwrite each other's rules.
      metadata: { name: `${solution.id}-operator`, labels },
      rules: p.cluster,
    });
  return docs;
}

/**
 * The objects of the SDK's `platform/` folder, applied at activation, by archive path.
 *
 * @example
 * ```ts
 * for (const [path, obj] of renderPlatform(solution)) console.log(path, obj.kind);
 * ```
 */
export function renderPlatform(solution: Solution): Map<string, KubernetesObject> {
  const d = solution.definition;
  const labels = ownershipLabels(solution);
  const out = new Map<string, KubernetesObject>();
  for (const sc of d.storageClasses ?? []) {
    const parameters: Record<string, string> = { fsType: sc.fsType };
    if (sc.mkfsOptions) parameters.mkfsOptions = JSON.stringify(sc.mkfsOptions);
    const metadata: KubernetesObject['metadata'] = { name: sc.name, labels };
    if (sc.description) metadata.annotations = { 'kubernetes.io/description': sc.description };
    out.set(`platform/storageclasses/${sc.name}.yaml`, {
      apiVersion: 'storage.k8s.io/v1',
      kind: 'StorageClass',
      metadata,
      provisioner: 'kubernetes.io/no-provisioner',
      reclaimPolicy: 'Retain',
      volumeBindingMode: 'WaitForFirstConsumer',
      mountOptions: sc.mountOptions ?? ['rw', 'discard'],
      parameters,
    });
  }
  if (d.alerts?.length) {
    const name = `${solution.name}-alerts`;
    out.set(`platform/prometheusrules/${name}.yaml`, {
      apiVersion: 'monitoring.coreos.com/v1',
      kind: 'PrometheusRule',
      metadata: { name, namespace: MONITORING_NAMESPACE, labels: { ...labels, [MONITOR_LABEL]: '' } },
      spec: {
        groups: d.alerts.map((g) => ({
          name: g.name,
          ...(g.interval ? { interval: g.interval } : {}),
          rules: g.rules.map((r) => ({
            alert: r.alert,
            expr: r.expr,
            ...(r.for ? { for: r.for } : {}),
            ...(r.labels ? { labels: r.labels } : {}),
            ...(r.annotations ? { annotations: r.annotations } : {}),
          })),
        })),
      },
    });
  }
  const monitors = [
    ...(d.serviceMonitors ?? []).map((m) => ['ServiceMonitor', 'servicemonitors', 'endpoints', m] as const),
    ...(d.podMonitors ?? []).map((m) => ['PodMonitor', 'podmonitors', 'podMetricsEndpoints', m] as const),
  ];
  for (const [kind, folder, endpointsKey, m] of monitors) {
    const name = prefixed(solution, m.name);
    out.set(`platform/${folder}/${name}.yaml`, {
      apiVersion: 'monitoring.coreos.com/v1',
      kind,
      metadata: { name, namespace: MONITORING_NAMESPACE, labels: { ...labels, [MONITOR_LABEL]: '' } },
      spec: {
        selector: m.selector,
        namespaceSelector: m.namespaces ? { matchNames: m.namespaces } : { any: true },
        [endpointsKey]: m.endpoints.map((e) => ({ port: e.port, path: e.path ?? '/metrics', ...(e.interval ? { interval: e.interval } : {}), ...(e.scheme ? { scheme: e.scheme } : {}) })),
      },
    });
  }
  for (const db of d.dashboards ?? []) {
    const name = `${solution.name}-dashboard-${db.uid.toLowerCase().replace(/[^a-z0-9-]/g, '-')}`.replace(/-+$/, '');
    const model = { ...db.dashboard, uid: db.uid, title: db.title ?? db.dashboard.title };
    out.set(`platform/dashboards/${name}.yaml`, {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: {
        name,
        namespace: MONITORING_NAMESPACE,
        labels: { ...labels, grafana_dashboard: '1' },
        annotations: { 'metalk8s.scality.com/grafana-folder-name': db.folder ?? solution.displayName },
      },
      data: { [`${db.uid}.json`]: `${JSON.stringify(model, null, 2)}\n` },
    });
  }
  return out;
}

/**
 * The images to pack, sorted by name and tag.
 *
 * @example
 * ```ts
 * for (const i of renderImages(solution)) console.log(`${i.name}:${i.tag}`, i.source.kind);
 * ```
 */
export function renderImages(solution: Solution): RenderedImage[] {
  return [...solution.definition.images]
    .sort((a, b) => (a.name === b.name ? (a.tag < b.tag ? -1 : a.tag > b.tag ? 1 : 0) : a.name < b.name ? -1 : 1))
    .map((i) => ({
      name: i.name,
      tag: i.tag,
      source: i.source,
      platform: i.platform ?? 'linux/amd64',
      clusterReference: `${METALK8S_REGISTRY}/${solution.id}/${i.name}:${i.tag}`,
    }));
}

/**
 * Renders a validated solution to the files of its archive (`manifest.yaml`, one
 * `operator/deploy/crds/<group>_<plural>_crd.yaml` per CRD, `operator/deploy/role.yaml`, and the
 * SDK's `platform/` objects), YAML 1.1-safe, in a stable order, plus the images to pack. Pure and
 * deterministic: the same solution and options give the same bytes.
 *
 * @example
 * const { files, images } = render(solution, { buildTimestamp: new Date(0) });
 * new TextDecoder().decode(files.get('manifest.yaml'));
 */
export function render(solution: Solution, options: RenderOptions = {}): RenderedSolution {
  const files = new Map<string, Uint8Array>();
  files.set('manifest.yaml', enc.encode(toYaml(renderManifest(solution, options))));
  for (const crd of solution.crds) {
    files.set(`operator/deploy/crds/${crd.group}_${crd.plural}_crd.yaml`, enc.encode(toYaml(crd.manifest)));
  }
  const roles = renderRoles(solution);
  if (roles.length > 0) files.set('operator/deploy/role.yaml', enc.encode(toYamlDocuments(roles)));
  for (const [path, obj] of renderPlatform(solution)) files.set(path, enc.encode(toYaml(obj)));
  const sorted = new Map([...files].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  return { files: sorted, images: renderImages(solution) };
}
