/**
 * `renderEnvironment()`: the objects MetalK8s itself creates in an environment namespace when a
 * solution is added to it (the `prepare-environment` orchestrate, metalk8s-reference.md §2.7 to
 * §2.9), so vendors can preview and test against exactly what their operator will get.
 *
 * @module
 */
import { toYaml } from './_yaml.js';
import {
  type KubernetesObject,
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
   * Also apply the operator `args`, `env` and `resources` of the definition, as the SDK does after
   * MetalK8s creates the Deployment. `false` gives exactly what `solutions.sh add-solution` leaves.
   * @default true
   */
  readonly sdkOverrides?: boolean;
}

/** The objects, in the order MetalK8s applies them. */
export interface RenderedEnvironment {
  readonly objects: readonly KubernetesObject[];
  /** The OperatorConfig file the operator reads at `/etc/config/operator.yaml`. */
  readonly operatorConfig: string;
}

const RBAC = 'rbac.authorization.k8s.io/v1';

/**
 * Renders what MetalK8s creates when the solution is added to an environment: ServiceAccount,
 * the roles of `role.yaml` with their RoleBindings (MetalK8s' names, cut at 63 characters), the
 * OperatorConfig ConfigMap and the operator Deployment (fixed command, env and registry image),
 * plus the metrics objects when `operator.metrics` is enabled. Pure.
 *
 * @example
 * const { objects } = renderEnvironment(solution, { namespace: 'zenko-prod' });
 * const deployment = objects.find((o) => o.kind === 'Deployment');
 */
export function renderEnvironment(solution: Solution, options: RenderEnvironmentOptions): RenderedEnvironment {
  const { namespace } = options;
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
  const meta = (name: string) => ({ name, namespace, labels: { ...labels } });
  const objects: KubernetesObject[] = [];

  objects.push({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: meta(opName) });

  for (const role of renderRoles(solution)) {
    const applied: KubernetesObject =
      role.kind === 'Role' ? { ...role, metadata: { ...role.metadata, namespace } } : role;
    objects.push(applied);
    objects.push({
      apiVersion: RBAC,
      kind: 'RoleBinding',
      metadata: meta(`${opName}-${role.kind.toLowerCase()}-${role.metadata.name}`.slice(0, 63)),
      subjects: [{ kind: 'ServiceAccount', name: opName, namespace }],
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: role.kind, name: role.metadata.name },
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

  const webhook = options.webhook ?? d.operator.webhook ?? false;
  const sdk = options.sdkOverrides ?? true;
  const container: Record<string, unknown> = {
    name: opName,
    image: `${METALK8S_REGISTRY}/${solution.id}/${d.operator.image}:${opImage?.tag ?? solution.version}`,
    imagePullPolicy: 'Always',
    command: [opName, '--config=/etc/config/operator.yaml'],
    env: [
      { name: 'WATCH_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
      { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
      { name: 'OPERATOR_NAME', value: opName },
      ...(sdk ? Object.entries(d.operator.env ?? {}).map(([name, value]) => ({ name, value })) : []),
    ],
    volumeMounts: [
      { name: 'operator-config', mountPath: '/etc/config' },
      ...(webhook ? [{ name: 'cert', mountPath: '/cert', readOnly: true }] : []),
    ],
  };
  if (sdk && d.operator.args?.length) container.args = [...d.operator.args];
  if (sdk && d.operator.resources) container.resources = d.operator.resources;
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
          containers: [container],
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
    const scheme = m.scheme ?? 'https';
    const port = m.port ?? (scheme === 'https' ? 8443 : 8080);
    const auth = `${opName}-metrics-auth`;
    objects.push({
      apiVersion: RBAC,
      kind: 'ClusterRole',
      metadata: { name: auth, labels: { ...labels } },
      rules: [
        { apiGroups: ['authentication.k8s.io'], resources: ['tokenreviews'], verbs: ['create'] },
        { apiGroups: ['authorization.k8s.io'], resources: ['subjectaccessreviews'], verbs: ['create'] },
      ],
    });
    objects.push({
      apiVersion: RBAC,
      kind: 'ClusterRoleBinding',
      metadata: { name: auth, labels: { ...labels } },
      subjects: [{ kind: 'ServiceAccount', name: opName, namespace }],
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: auth },
    });
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
      metadata: { name: opName, namespace, labels: { ...labels, [MONITOR_LABEL]: '' } },
      spec: {
        endpoints: [endpoint],
        namespaceSelector: { matchNames: [namespace] },
        selector: { matchLabels: { 'app.kubernetes.io/name': opName } },
      },
    });
  }
  return { objects, operatorConfig };
}
