/**
 * The objects the emulator's `prepare-environment` applies in an environment namespace for one
 * Solution (metalk8s-reference.md §2.7–§2.9), and the cert-manager CRDs MetalK8s ships. Pure:
 * `_solutions.ts` applies them.
 */
import { stringify as stringifyYaml } from 'yaml';
import type { KubernetesObject } from '../solution/kubernetes-object.js';

/** apiVersion of MetalK8s' Solution manifest, SolutionsConfiguration and OperatorConfig. */
export const API = 'solutions.metalk8s.scality.com/v1alpha1';
const REGISTRY = 'metalk8s-registry-from-config.invalid';

/** One version listed in the emulator's `metalk8s-solutions` ConfigMap. */
export interface AvailableVersion {
  name: string;
  id: string;
  mountpoint: string;
  archive: string;
  version: string;
  manifest: Record<string, unknown>;
  active: boolean;
}

/** What `prepare-environment.sls` applies for one Solution in one namespace (§2.7–§2.9). */
export function environmentObjects(
  sol: string,
  chosen: AvailableVersion,
  available: readonly AvailableVersion[],
  namespace: string,
  webhook: boolean,
  metricsObjects: boolean,
  roles: readonly KubernetesObject[],
): KubernetesObject[] {
  const op = `${sol}-operator`;
  const labels = {
    app: op,
    'app.kubernetes.io/name': op,
    'app.kubernetes.io/instance': op,
    'app.kubernetes.io/version': chosen.version,
    'app.kubernetes.io/component': 'operator',
    'app.kubernetes.io/part-of': sol,
  };
  const meta = (name: string) => ({ name, namespace, labels: { ...labels } });
  const objs: KubernetesObject[] = [{ apiVersion: 'v1', kind: 'ServiceAccount', metadata: meta(op) }];
  for (const role of roles) {
    const md = role.metadata ?? {};
    const r: KubernetesObject = role.kind === 'Role' ? { ...role, metadata: { ...md, namespace } } : role;
    objs.push(r);
    objs.push({
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: meta(`${op}-${String(role.kind).toLowerCase()}-${md.name}`.slice(0, 63)),
      // role_binding.yaml.j2 gives the subject no namespace (reference §8).
      subjects: [{ kind: 'ServiceAccount', name: op }],
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: role.kind, name: md.name },
    });
  }
  const repositories: Record<string, unknown> = {};
  for (const v of available.filter((x) => String((x.manifest.metadata as Record<string, unknown>).name) === sol)) {
    repositories[v.version] = [{ endpoint: `${REGISTRY}/${v.id}`, images: (v.manifest.spec as Record<string, unknown>).images }];
  }
  objs.push({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: meta(`${op}-config`),
    data: { 'operator.yaml': stringifyYaml({ apiVersion: API, kind: 'OperatorConfig', repositories }) },
  });
  const spec = chosen.manifest.spec as { operator: { image: { name: string; tag: string }; metrics?: Record<string, unknown> } };
  const image = spec.operator.image;
  objs.push({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: meta(op),
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: op } },
      template: {
        metadata: { labels: { ...labels, 'app.kubernetes.io/managed-by': 'salt', heritage: 'salt' } },
        spec: {
          serviceAccountName: op,
          containers: [
            {
              name: op,
              image: `${REGISTRY}/${chosen.id}/${image.name}:${image.tag}`,
              imagePullPolicy: 'Always',
              command: [op, '--config=/etc/config/operator.yaml'],
              env: [
                { name: 'WATCH_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
                { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
                { name: 'OPERATOR_NAME', value: op },
              ],
              volumeMounts: [
                { name: 'operator-config', mountPath: '/etc/config' },
                ...(webhook ? [{ name: 'cert', mountPath: '/cert', readOnly: true }] : []),
              ],
            },
          ],
          volumes: [
            { name: 'operator-config', configMap: { name: `${op}-config` } },
            ...(webhook ? [{ name: 'cert', secret: { secretName: `${sol}-cert`, defaultMode: 420 } }] : []),
          ],
        },
      },
    },
  });
  const metrics = spec.operator.metrics;
  // Only a MetalK8s newer than 129 creates these (reference §2.9, §8).
  if (metricsObjects && metrics?.enabled === true) {
    const scheme = metrics.scheme === 'http' ? 'http' : 'https';
    const port = typeof metrics.port === 'number' ? metrics.port : scheme === 'https' ? 8443 : 8080;
    const path = typeof metrics.path === 'string' ? metrics.path : '/metrics';
    const auth = `${op}-metrics-auth`;
    objs.push({
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name: auth, labels: { ...labels } },
      rules: [
        { apiGroups: ['authentication.k8s.io'], resources: ['tokenreviews'], verbs: ['create'] },
        { apiGroups: ['authorization.k8s.io'], resources: ['subjectaccessreviews'], verbs: ['create'] },
      ],
    });
    objs.push({
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: auth, labels: { ...labels } },
      subjects: [{ kind: 'ServiceAccount', name: op, namespace }],
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: auth },
    });
    if (scheme === 'https') {
      objs.push({ apiVersion: 'cert-manager.io/v1', kind: 'Issuer', metadata: meta(`${op}-metrics-issuer`), spec: { selfSigned: {} } });
      objs.push({
        apiVersion: 'cert-manager.io/v1',
        kind: 'Certificate',
        metadata: meta(`${op}-metrics-cert`),
        spec: {
          secretName: `${op}-metrics-cert`,
          dnsNames: [`${op}-metrics.${namespace}.svc`, `${op}-metrics.${namespace}.svc.cluster.local`],
          issuerRef: { name: `${op}-metrics-issuer`, kind: 'Issuer' },
        },
      });
    }
    objs.push({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: meta(`${op}-metrics`),
      spec: { type: 'ClusterIP', ports: [{ name: scheme, port, targetPort: port }], selector: { 'app.kubernetes.io/name': op } },
    });
    const endpoint: Record<string, unknown> = { port: scheme, path };
    if (scheme === 'https') {
      endpoint.scheme = 'https';
      endpoint.bearerTokenFile = '/var/run/secrets/kubernetes.io/serviceaccount/token';
      endpoint.tlsConfig = { insecureSkipVerify: true };
    }
    objs.push({
      apiVersion: 'monitoring.coreos.com/v1',
      kind: 'ServiceMonitor',
      metadata: { name: op, namespace, labels: { ...labels, 'metalk8s.scality.com/monitor': '' } },
      spec: { endpoints: [endpoint], namespaceSelector: { matchNames: [namespace] }, selector: { matchLabels: { 'app.kubernetes.io/name': op } } },
    });
  }
  return objs;
}

/** Minimal cert-manager CRDs (Issuer, Certificate): schemaless, as the emulator does not issue. */
export function certManagerCrds(): KubernetesObject[] {
  return (['Issuer', 'Certificate'] as const).map((kind) => {
    const plural = `${kind.toLowerCase()}s`;
    return {
      apiVersion: 'apiextensions.k8s.io/v1',
      kind: 'CustomResourceDefinition',
      metadata: { name: `${plural}.cert-manager.io` },
      spec: {
        group: 'cert-manager.io',
        scope: 'Namespaced',
        names: { kind, listKind: `${kind}List`, plural, singular: kind.toLowerCase() },
        versions: [
          {
            name: 'v1',
            served: true,
            storage: true,
            schema: { openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } },
          },
        ],
      },
    };
  });
}

/**
 * A failed `test.fail_without_changes` state as MetalK8s' SLS files write them: the reason is
 * the state's `name`, the comment is Salt's fixed "Failure!" (reference §8).
 */
