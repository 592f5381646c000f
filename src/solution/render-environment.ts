/**
 * `renderEnvironment()`: the objects MetalK8s itself creates in an environment namespace when a
 * solution is added to it (the `prepare-environment` orchestrate, metalk8s-reference.md §2.7 to
 * §2.9, held to §8: what MetalK8s' real Salt code wrote), for one MetalK8s version, so vendors
 * can preview and test against exactly what their operator will get.
 *
 * @module
 */
import { toYaml } from './_yaml.js';
import { DEFAULT_METALK8S_VERSION, metalk8sFeatures, OPERATOR_METRICS_SINCE } from './metalk8s-version.js';
import type { KubernetesObject } from './kubernetes-object.js';
import {
  METALK8S_REGISTRY,
  MONITOR_LABEL,
  renderRoles,
  SOLUTIONS_API_VERSION,
} from './render.js';
import type { Solution } from './validate.js';

/** A version of the solution imported in the cluster, with the images its manifest lists. */
export interface ImportedVersion {
  readonly version: string;
  /** `name:tag` entries of that version's `spec.images`. */
  readonly images: readonly string[];
}

/** Options of {@link renderEnvironment}. */
export interface RenderEnvironmentOptions {
  /** The environment namespace. */
  readonly namespace: string;
  /**
   * Every version of the solution imported in the cluster: MetalK8s lists all of them in the
   * OperatorConfig. Versions given as strings reuse this solution's image list.
   * @default [the solution's own version]
   */
  readonly importedVersions?: readonly (string | ImportedVersion)[];
  /** Whether the solution is added with `--webhook` (mounts Secret `<name>-cert`). @default the definition's `operator.webhook` */
  readonly webhook?: boolean;
  /**
   * The MetalK8s version of the cluster (its saltenv `metalk8s-<version>`): it decides which
   * objects exist and the `metalk8s.scality.com/version` label. `129` means `129.0.0`.
   * @default '129.0.0'
   */
  readonly metalk8sVersion?: string;
}

/** The objects, in the order MetalK8s applies them. */
export interface RenderedEnvironment {
  /** The MetalK8s version predicted, `major.minor.patch`. */
  readonly metalk8sVersion: string;
  readonly objects: readonly KubernetesObject[];
  /**
   * Objects that only MetalK8s versions newer than 129 create, as `<Kind>/<name>` → the first
   * version assumed to create them (not confirmed by a release, see the reference §2.9).
   */
  readonly laterVersionObjects: Readonly<Record<string, string>>;
  /** What the definition asks for that this MetalK8s version does not do, one sentence each. */
  readonly notes: readonly string[];
  /** The OperatorConfig file the operator reads at `/etc/config/operator.yaml`. */
  readonly operatorConfig: string;
}

const RBAC = 'rbac.authorization.k8s.io/v1';

/**
 * The labels MetalK8s' Salt writer (`metalk8s_kubernetes`) puts on every object it writes
 * (reference §8), e.g. to select what MetalK8s wrote in an environment.
 *
 * @example
 * ```ts
 * const selector = Object.entries(saltWriterLabels('129.0.0')).map(([k, v]) => `${k}=${v}`).join(',');
 * ```
 */
export function saltWriterLabels(metalk8sVersion: string): Record<string, string> {
  return { 'app.kubernetes.io/managed-by': 'salt', heritage: 'salt', 'metalk8s.scality.com/version': metalk8sVersion };
}

/**
 * Renders what MetalK8s creates when the solution is added to an environment: ServiceAccount,
 * the roles of `role.yaml` with their RoleBindings (MetalK8s' names, cut at 63 characters), the
 * OperatorConfig ConfigMap and the operator Deployment (fixed command, env and registry image),
 * each with the labels MetalK8s' Salt writer adds; with MetalK8s 129 that is 7 objects for a
 * solution with both permission kinds. The operator metrics objects are added only for a
 * MetalK8s version that creates them, and listed in `laterVersionObjects`. Pure.
 *
 * @example
 * const { objects } = renderEnvironment(solution, { namespace: 'zenko-prod', metalk8sVersion: '129' });
 * const deployment = objects.find((o) => o.kind === 'Deployment');
 */
export function renderEnvironment(solution: Solution, options: RenderEnvironmentOptions): RenderedEnvironment {
  const { namespace } = options;
  const features = metalk8sFeatures(options.metalk8sVersion ?? DEFAULT_METALK8S_VERSION);
  const d = solution.definition;
  const sol = solution.name;
  const opName = `${sol}-operator`;
  const opImage = d.images.find((i) => i.name === d.operator.image);
  const labels = {
    app: opName,
    'app.kubernetes.io/name': opName,
    'app.kubernetes.io/instance': opName,
    'app.kubernetes.io/version': solution.version,
    'app.kubernetes.io/component': 'operator',
    'app.kubernetes.io/part-of': sol,
  };
  const written = saltWriterLabels(features.version);
  const meta = (name: string) => ({ name, namespace, labels: { ...labels, ...written } });
  const objects: KubernetesObject[] = [];
  const notes: string[] = [];
  const laterVersionObjects: Record<string, string> = {};

  objects.push({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: meta(opName) });

  for (const role of renderRoles(solution)) {
    const md = role.metadata as { name: string; labels?: Record<string, string> };
    objects.push({
      ...role,
      metadata: { name: md.name, ...(role.kind === 'Role' ? { namespace } : {}), labels: { ...md.labels, ...written } },
    });
    objects.push({
      apiVersion: RBAC,
      kind: 'RoleBinding',
      metadata: meta(`${opName}-${role.kind.toLowerCase()}-${md.name}`.slice(0, 63)),
      // MetalK8s' template gives the subject no namespace (reference §8).
      subjects: [{ kind: 'ServiceAccount', name: opName }],
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: role.kind, name: md.name },
    });
  }

  const ownImages = [...new Set(d.images.map((i) => `${i.name}:${i.tag}`))].sort();
  const versions = (options.importedVersions ?? [solution.version]).map((v) =>
    typeof v === 'string' ? { version: v, images: ownImages } : v,
  );
  const repositories: Record<string, unknown> = {};
  for (const v of versions)
    repositories[v.version] = [{ endpoint: `${METALK8S_REGISTRY}/${sol}-${v.version}`, images: [...v.images] }];
  const operatorConfig = toYaml({ apiVersion: SOLUTIONS_API_VERSION, kind: 'OperatorConfig', repositories });
  objects.push({ apiVersion: 'v1', kind: 'ConfigMap', metadata: meta(`${opName}-config`), data: { 'operator.yaml': operatorConfig } });

  const wantsWebhook = options.webhook ?? d.operator.webhook ?? false;
  const webhook = wantsWebhook && features.webhook;
  if (wantsWebhook && !features.webhook)
    notes.push(`webhook: MetalK8s ${features.version} has no add-solution --webhook (124.1.7 and 125.0 have it): no /cert mount`);
  objects.push({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: meta(opName),
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: opName } },
      template: {
        metadata: { labels: { ...labels, 'app.kubernetes.io/managed-by': 'salt', heritage: 'salt' } },
        spec: {
          serviceAccountName: opName,
          containers: [
            {
              name: opName,
              image: `${METALK8S_REGISTRY}/${solution.id}/${d.operator.image}:${opImage?.tag ?? solution.version}`,
              imagePullPolicy: 'Always',
              command: [opName, '--config=/etc/config/operator.yaml'],
              env: [
                { name: 'WATCH_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
                { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
                { name: 'OPERATOR_NAME', value: opName },
              ],
              volumeMounts: [
                { name: 'operator-config', mountPath: '/etc/config' },
                ...(webhook ? [{ name: 'cert', mountPath: '/cert', readOnly: true }] : []),
              ],
            },
          ],
          volumes: [
            { name: 'operator-config', configMap: { name: `${opName}-config` } },
            ...(webhook ? [{ name: 'cert', secret: { secretName: `${sol}-cert`, defaultMode: 420 } }] : []),
          ],
        },
      },
    },
  });

  const m = d.operator.metrics;
  if (m && (m.enabled ?? true)) {
    if (!features.operatorMetrics) {
      notes.push(
        `operator.metrics: MetalK8s ${features.version} creates no metrics objects (no Service, ServiceMonitor, Issuer, Certificate or metrics-auth roles); a later MetalK8s (assumed ${OPERATOR_METRICS_SINCE}) does`,
      );
    } else {
      const first = objects.length;
      objects.push(...metricsObjects(m, opName, namespace, labels, written));
      for (const o of objects.slice(first)) laterVersionObjects[`${o.kind}/${(o.metadata as { name: string }).name}`] = OPERATOR_METRICS_SINCE;
    }
  }
  return { metalk8sVersion: features.version, objects, laterVersionObjects, notes, operatorConfig };
}

/** The operator metrics objects of a MetalK8s newer than 129 (reference §2.9). */
function metricsObjects(
  m: NonNullable<Solution['definition']['operator']['metrics']>,
  opName: string,
  namespace: string,
  labels: Record<string, string>,
  written: Record<string, string>,
): KubernetesObject[] {
  const all = { ...labels, ...written };
  const meta = (name: string) => ({ name, namespace, labels: { ...all } });
  const scheme = m.scheme ?? 'https';
  const port = m.port ?? (scheme === 'https' ? 8443 : 8080);
  const auth = `${opName}-metrics-auth`;
  const objects: KubernetesObject[] = [
    {
      apiVersion: RBAC,
      kind: 'ClusterRole',
      metadata: { name: auth, labels: { ...all } },
      rules: [
        { apiGroups: ['authentication.k8s.io'], resources: ['tokenreviews'], verbs: ['create'] },
        { apiGroups: ['authorization.k8s.io'], resources: ['subjectaccessreviews'], verbs: ['create'] },
      ],
    },
    {
      apiVersion: RBAC,
      kind: 'ClusterRoleBinding',
      metadata: { name: auth, labels: { ...all } },
      subjects: [{ kind: 'ServiceAccount', name: opName, namespace }],
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: auth },
    },
  ];
  if (scheme === 'https') {
    objects.push({ apiVersion: 'cert-manager.io/v1', kind: 'Issuer', metadata: meta(`${opName}-metrics-issuer`), spec: { selfSigned: {} } });
    objects.push({
      apiVersion: 'cert-manager.io/v1',
      kind: 'Certificate',
      metadata: meta(`${opName}-metrics-cert`),
      spec: {
        secretName: `${opName}-metrics-cert`,
        dnsNames: [`${opName}-metrics.${namespace}.svc`, `${opName}-metrics.${namespace}.svc.cluster.local`],
        issuerRef: { name: `${opName}-metrics-issuer`, kind: 'Issuer' },
      },
    });
  }
  objects.push({
    apiVersion: 'v1',
    kind: 'Service',
    metadata: meta(`${opName}-metrics`),
    spec: { type: 'ClusterIP', ports: [{ name: scheme, port, targetPort: port }], selector: { 'app.kubernetes.io/name': opName } },
  });
  const endpoint: Record<string, unknown> = { port: scheme, path: m.path ?? '/metrics' };
  if (scheme === 'https')
    Object.assign(endpoint, {
      scheme: 'https',
      bearerTokenFile: '/var/run/secrets/kubernetes.io/serviceaccount/token',
      tlsConfig: { insecureSkipVerify: true },
    });
  objects.push({
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'ServiceMonitor',
    metadata: { name: opName, namespace, labels: { ...all, [MONITOR_LABEL]: '' } },
    spec: {
      endpoints: [endpoint],
      namespaceSelector: { matchNames: [namespace] },
      selector: { matchLabels: { 'app.kubernetes.io/name': opName } },
    },
  });
  return objects;
}
