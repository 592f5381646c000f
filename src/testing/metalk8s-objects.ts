/**
 * The Kubernetes objects a MetalK8s cluster has before any Solution is imported, as far as the
 * SDK reads or writes them (metalk8s-reference.md §2.3, §3.1, §4.1, §5): the `metalk8s-*`
 * namespaces, the cluster-version annotation on `kube-system`, the storage Volume CRD, the
 * Prometheus Operator CRDs whose objects Solutions ship, the default `metalk8s` StorageClass,
 * and the Nodes (a bootstrap node and workload nodes, simulated by kwok).
 *
 * The Prometheus Operator CRDs are written for this harness: they type the fields the SDK
 * emits and keep the rest open, so the API server checks our objects' structure without
 * vendoring the upstream 10,000-line schemas.
 *
 * @module
 */
import { ClusterError } from '../errors.js';
import type { KubeConfig } from '@kubernetes/client-node';
import { Discovery, kubeRequest } from '../_kube.js';
import type { KubernetesObject } from '../solution/kubernetes-object.js';
import { pollUntil } from '../_wait.js';

/** Options of {@link metalk8sBaseObjects}. */
export interface BaseObjectsOptions {
  /**
   * MetalK8s version: the `kube-system` annotation and the Nodes' version label.
   * @default '129.0.0'
   */
  readonly clusterVersion?: string | undefined;
  /**
   * Name of the bootstrap Node.
   * @default 'bootstrap'
   */
  readonly bootstrapNode?: string | undefined;
  /**
   * Names of the workload Nodes (no taint; operator Pods are scheduled there).
   * @default ['node-1']
   */
  readonly workloadNodes?: readonly string[] | undefined;
}

/** Label/annotation of MetalK8s objects. */
export const METALK8S_LABELS = {
  version: 'metalk8s.scality.com/version',
  clusterVersion: 'metalk8s.scality.com/cluster-version',
  rolePrefix: 'node-role.kubernetes.io/',
} as const;

/** The namespaces a MetalK8s 129 cluster has. */
export const METALK8S_NAMESPACES = [
  'metalk8s-solutions',
  'metalk8s-monitoring',
  'metalk8s-logging',
  'metalk8s-ingress',
  'metalk8s-auth',
  'metalk8s-ui',
] as const;

const preserve = { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } as const;
const str = { type: 'string' } as const;
const strMap = { type: 'object', additionalProperties: { type: 'string' } } as const;
const labelSelector = {
  type: 'object',
  properties: {
    matchLabels: strMap,
    matchExpressions: {
      type: 'array',
      items: {
        type: 'object',
        required: ['key', 'operator'],
        properties: { key: str, operator: str, values: { type: 'array', items: str } },
      },
    },
  },
} as const;
const namespaceSelector = {
  type: 'object',
  properties: { any: { type: 'boolean' }, matchNames: { type: 'array', items: str } },
} as const;
const endpoint = {
  type: 'object',
  'x-kubernetes-preserve-unknown-fields': true,
  properties: {
    port: str,
    targetPort: { 'x-kubernetes-int-or-string': true },
    path: str,
    scheme: { type: 'string', enum: ['http', 'https', 'HTTP', 'HTTPS'] },
    interval: { type: 'string', pattern: '^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$' },
    scrapeTimeout: str,
    bearerTokenFile: str,
    honorLabels: { type: 'boolean' },
    tlsConfig: preserve,
    relabelings: { type: 'array', items: preserve },
    metricRelabelings: { type: 'array', items: preserve },
  },
} as const;

function crd(
  group: string,
  kind: string,
  plural: string,
  scope: 'Namespaced' | 'Cluster',
  version: string,
  schema: Record<string, unknown>,
  extra: Record<string, unknown> = {},
): KubernetesObject {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${plural}.${group}` },
    spec: {
      group,
      names: { kind, listKind: `${kind}List`, plural, singular: kind.toLowerCase() },
      scope,
      versions: [{ name: version, served: true, storage: true, schema: { openAPIV3Schema: schema }, ...extra }],
    },
  };
}

/**
 * The `storage.metalk8s.scality.com/v1alpha1` Volume CRD (metalk8s-reference.md §4.1).
 *
 * @example
 * ```ts
 * await applyObjects(kc, [volumeCrd()]); // the Volume kind MetalK8s' storage operator serves
 * ```
 */
export function volumeCrd(): KubernetesObject {
  const condition = {
    type: 'object',
    required: ['type', 'status'],
    properties: {
      type: { type: 'string', enum: ['Ready'] },
      status: { type: 'string', enum: ['True', 'False', 'Unknown'] },
      lastUpdateTime: { type: 'string', format: 'date-time' },
      lastTransitionTime: { type: 'string', format: 'date-time' },
      reason: {
        type: 'string',
        enum: ['Pending', 'Terminating', 'InternalError', 'CreationError', 'DestructionError', 'UnavailableError'],
      },
      message: str,
    },
  };
  return crd(
    'storage.metalk8s.scality.com',
    'Volume',
    'volumes',
    'Cluster',
    'v1alpha1',
    {
      type: 'object',
      properties: {
        apiVersion: str,
        kind: str,
        metadata: { type: 'object' },
        spec: {
          type: 'object',
          required: ['nodeName', 'storageClassName'],
          properties: {
            nodeName: str,
            storageClassName: str,
            mode: { type: 'string', enum: ['Filesystem', 'Block'] },
            template: {
              type: 'object',
              properties: {
                metadata: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
                spec: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
              },
            },
            sparseLoopDevice: {
              type: 'object',
              required: ['size'],
              properties: {
                size: {
                  'x-kubernetes-int-or-string': true,
                  anyOf: [{ type: 'integer' }, { type: 'string' }],
                  pattern: '^(\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))))?$',
                },
              },
            },
            rawBlockDevice: { type: 'object', required: ['devicePath'], properties: { devicePath: str } },
            lvmLogicalVolume: {
              type: 'object',
              required: ['vgName', 'size'],
              properties: {
                vgName: str,
                size: {
                  'x-kubernetes-int-or-string': true,
                  anyOf: [{ type: 'integer' }, { type: 'string' }],
                  pattern: '^(\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))))?$',
                },
              },
            },
          },
        },
        status: {
          type: 'object',
          properties: {
            conditions: { type: 'array', items: condition, 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['type'] },
            job: str,
            deviceName: str,
          },
        },
      },
    },
    {
      subresources: { status: {} },
      additionalPrinterColumns: [
        { name: 'Node', type: 'string', jsonPath: '.spec.nodeName', description: 'The node on which the volume is available' },
        { name: 'StorageClass', type: 'string', jsonPath: '.spec.storageClassName', description: 'The storage class of the volume' },
      ],
    },
  );
}

/**
 * PrometheusRule, ServiceMonitor and PodMonitor CRDs (`monitoring.coreos.com/v1`).
 *
 * @example
 * ```ts
 * await applyObjects(kc, prometheusOperatorCrds()); // PrometheusRule, ServiceMonitor, PodMonitor
 * ```
 */
export function prometheusOperatorCrds(): KubernetesObject[] {
  const top = (spec: Record<string, unknown>) => ({
    type: 'object',
    required: ['spec'],
    properties: { apiVersion: str, kind: str, metadata: { type: 'object' }, spec },
  });
  const rule = {
    type: 'object',
    required: ['expr'],
    properties: {
      alert: str,
      record: str,
      expr: { 'x-kubernetes-int-or-string': true, anyOf: [{ type: 'integer' }, { type: 'string' }] },
      for: str,
      keep_firing_for: str,
      labels: strMap,
      annotations: strMap,
    },
  };
  return [
    crd(
      'monitoring.coreos.com',
      'PrometheusRule',
      'prometheusrules',
      'Namespaced',
      'v1',
      top({
        type: 'object',
        properties: {
          groups: {
            type: 'array',
            items: {
              type: 'object',
              required: ['name'],
              properties: {
                name: { type: 'string', minLength: 1 },
                interval: str,
                limit: { type: 'integer' },
                partial_response_strategy: str,
                labels: strMap,
                rules: { type: 'array', items: rule },
              },
            },
            'x-kubernetes-list-type': 'map',
            'x-kubernetes-list-map-keys': ['name'],
          },
        },
      }),
    ),
    crd(
      'monitoring.coreos.com',
      'ServiceMonitor',
      'servicemonitors',
      'Namespaced',
      'v1',
      top({
        type: 'object',
        required: ['selector'],
        'x-kubernetes-preserve-unknown-fields': true,
        properties: {
          jobLabel: str,
          endpoints: { type: 'array', items: endpoint },
          selector: labelSelector,
          namespaceSelector,
          targetLabels: { type: 'array', items: str },
          podTargetLabels: { type: 'array', items: str },
        },
      }),
    ),
    crd(
      'monitoring.coreos.com',
      'PodMonitor',
      'podmonitors',
      'Namespaced',
      'v1',
      top({
        type: 'object',
        required: ['selector'],
        'x-kubernetes-preserve-unknown-fields': true,
        properties: {
          jobLabel: str,
          podMetricsEndpoints: { type: 'array', items: endpoint },
          selector: labelSelector,
          namespaceSelector,
          podTargetLabels: { type: 'array', items: str },
        },
      }),
    ),
  ];
}

function node(name: string, version: string, roles: readonly string[], taints: readonly string[]): KubernetesObject {
  const labels: Record<string, string> = {
    'kubernetes.io/hostname': name,
    'kubernetes.io/os': 'linux',
    'kubernetes.io/arch': 'amd64',
    [METALK8S_LABELS.version]: version,
    'topology.kubernetes.io/region': 'default',
    'topology.kubernetes.io/zone': 'default',
    type: 'kwok',
    // kwok plays the kubelet of the Nodes carrying this label.
    'kwok.x-k8s.io/node': 'fake',
  };
  for (const r of roles) labels[`${METALK8S_LABELS.rolePrefix}${r}`] = '';
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name,
      labels,
      annotations: {
        'metalk8s.scality.com/ssh-host': name,
        'metalk8s.scality.com/ssh-user': 'root',
        'metalk8s.scality.com/ssh-key-path': '/etc/metalk8s/pki/salt-bootstrap',
      },
    },
    spec: { taints: taints.map((r) => ({ key: `${METALK8S_LABELS.rolePrefix}${r}`, effect: 'NoSchedule' })) },
  };
}

/**
 * The base objects of an empty MetalK8s cluster, in apply order (CRDs and namespaces first).
 *
 * @example
 * ```ts
 * const objects = metalk8sBaseObjects({ clusterVersion: '129.0.0' });
 * await applyObjects(cp.kubeConfig(), objects);
 * ```
 */
export function metalk8sBaseObjects(options: BaseObjectsOptions = {}): KubernetesObject[] {
  const version = options.clusterVersion ?? '129.0.0';
  const bootstrap = options.bootstrapNode ?? 'bootstrap';
  const workers = options.workloadNodes ?? ['node-1'];
  const namespaces: KubernetesObject[] = METALK8S_NAMESPACES.map((name) => ({
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: {
      name,
      labels: {
        'app.kubernetes.io/managed-by': 'metalk8s',
        'app.kubernetes.io/part-of': 'metalk8s',
        heritage: 'metalk8s',
      },
    },
  }));
  return [
    volumeCrd(),
    ...prometheusOperatorCrds(),
    {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: 'kube-system', annotations: { [METALK8S_LABELS.clusterVersion]: version } },
    },
    ...namespaces,
    {
      apiVersion: 'storage.k8s.io/v1',
      kind: 'StorageClass',
      metadata: {
        name: 'metalk8s',
        labels: { 'app.kubernetes.io/managed-by': 'salt', 'app.kubernetes.io/part-of': 'metalk8s' },
      },
      provisioner: 'kubernetes.io/no-provisioner',
      reclaimPolicy: 'Retain',
      volumeBindingMode: 'WaitForFirstConsumer',
      mountOptions: ['rw', 'discard'],
      parameters: { fsType: 'ext4', mkfsOptions: '["-m", "0"]' },
    },
    node(bootstrap, version, ['bootstrap', 'master', 'etcd', 'infra'], ['bootstrap', 'infra']),
    ...workers.map((w) => node(w, version, ['node'], [])),
  ];
}

/** Options of {@link applyObjects}. */
export interface ApplyObjectsOptions {
  /**
   * Field manager of the server-side apply.
   * @default 'metalk8s-sdk-testing'
   */
  readonly fieldManager?: string | undefined;
  /**
   * Only validate (`dryRun=All`).
   * @default false
   */
  readonly dryRun?: boolean | undefined;
}

/**
 * Server-side applies objects in order, waiting for each CRD to be served before the next
 * object (a CR may follow its CRD).
 *
 * @example
 * ```ts
 * await applyObjects(kc, metalk8sBaseObjects());
 * ```
 */
export async function applyObjects(
  kc: KubeConfig,
  objects: readonly KubernetesObject[],
  options: ApplyObjectsOptions = {},
): Promise<void> {
  const discovery = new Discovery(kc);
  const manager = encodeURIComponent(options.fieldManager ?? 'metalk8s-sdk-testing');
  const dryRun = options.dryRun ? '&dryRun=All' : '';
  for (const obj of objects) {
    const where = await discovery.path(obj);
    if (!where) throw new ClusterError('KIND_NOT_SERVED', `the API server does not serve ${obj.kind} in ${obj.apiVersion}`, { hint: 'Apply its CustomResourceDefinition first.' });
    const res = await kubeRequest(kc, 'PATCH', `${where}?fieldManager=${manager}&force=true${dryRun}`, obj, 'application/apply-patch+yaml');
    if (res.status < 200 || res.status >= 300) {
      const message = (res.json as { message?: string } | undefined)?.message ?? res.text.slice(0, 300);
      throw new ClusterError('APPLY_FAILED', `applying ${obj.kind} ${obj.metadata?.name} failed (HTTP ${res.status}): ${message}`, { status: res.status });
    }
    if (obj.kind === 'CustomResourceDefinition' && !options.dryRun) {
      await waitEstablished(kc, obj.metadata?.name ?? '');
      const spec = obj.spec as { group?: string; versions?: { name: string }[] } | undefined;
      for (const v of spec?.versions ?? []) discovery.reset(`${spec?.group}/${v.name}`);
    }
  }
}

async function waitEstablished(kc: KubeConfig, name: string): Promise<void> {
  const established = await pollUntil(
    async () => {
      const res = await kubeRequest(kc, 'GET', `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${name}`);
      const conditions = (res.json as { status?: { conditions?: { type: string; status: string }[] } } | undefined)?.status
        ?.conditions;
      return conditions?.some((c) => c.type === 'Established' && c.status === 'True') ? true : undefined;
    },
    { what: `CRD ${name} to be established`, timeoutMs: 30_000, intervalMs: 100 },
  );
  if (!established) throw new ClusterError('CRD_NOT_ESTABLISHED', `CRD ${name} was not established within 30 s`, { retryable: true });
}
