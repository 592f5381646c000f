/**
 * A Zenko-like multi-cloud object storage solution: an operator with two CRDs, an S3 front end,
 * a replication engine, MongoDB, Redis and Kafka, each with its StorageClass, dashboard, alerts
 * and ServiceMonitor.
 *
 * Images: by default every image is built from the small files in `files/`, so the example packs
 * on a machine with no registry access. Set `ZENKO_IMAGES=upstream` to pull the real upstream
 * images instead (MongoDB, Redis and Kafka from Docker Hub).
 */
import { defineCrd, defineSolution, Size, z } from 'metalk8s-solution-sdk';

const VERSION = '2.6.0';
const upstream = process.env.ZENKO_IMAGES === 'upstream';

/** A shared base layer: identical in every image, stored once in the ISO. */
const baseLayer = { files: [{ path: '/etc/os-release', from: 'files/os-release' }] };

function builtImage(binary: string, extra: { path: string; from: string }[] = []) {
  return {
    kind: 'build' as const,
    layers: [baseLayer, { files: [{ path: `/usr/local/bin/${binary}`, from: `files/${binary}` }, ...extra] }],
    config: { entrypoint: [`/usr/local/bin/${binary}`], user: '1000', labels: { 'org.opencontainers.image.vendor': 'Zenko-like' } },
  };
}

function standIn(binary: string) {
  return {
    kind: 'build' as const,
    layers: [baseLayer, { files: [{ path: `/usr/local/bin/${binary}`, content: `#!/bin/sh\n# Stand-in for ${binary}.\nexec sleep infinity\n`, mode: 0o755 }] }],
    config: { entrypoint: [`/usr/local/bin/${binary}`] },
  };
}

const serviceSpec = z.object({
  replicas: z.number().int().min(1).default(1).describe('Number of pods.'),
  resources: z
    .object({ cpu: z.string().optional(), memory: z.string().optional() })
    .optional()
    .describe('Requests of each pod.'),
});

/** The Zenko instance: one per environment. */
export const ZenkoCrd = defineCrd({
  group: 'zenko.io',
  kind: 'Zenko',
  shortNames: ['zk'],
  categories: ['zenko'],
  description: 'A Zenko multi-cloud object storage instance.',
  versions: [
    {
      name: 'v1alpha2',
      spec: z.object({
        version: z.string().describe('Name of the ZenkoVersion to run.'),
        cloudserver: serviceSpec.extend({ ingress: z.object({ hostname: z.string() }).optional() }),
        backbeat: serviceSpec.extend({ replicationWorkers: z.number().int().min(1).default(2) }),
        mongodb: serviceSpec.extend({ storageSize: z.string().default('100Gi') }),
        redis: serviceSpec,
        kafka: serviceSpec.extend({ brokers: z.number().int().min(1).default(3), retentionHours: z.number().int().default(168) }),
        locations: z.record(z.string(), z.object({ type: z.enum(['aws_s3', 'azure', 'gcp', 'local']), endpoint: z.string().optional() })).optional(),
      }),
      status: z.object({
        phase: z.enum(['Pending', 'Deploying', 'Running', 'Degraded', 'Failed']).optional(),
        observedGeneration: z.number().int().optional(),
        conditions: z
          .array(z.object({ type: z.string(), status: z.enum(['True', 'False', 'Unknown']), reason: z.string().optional(), message: z.string().optional(), lastTransitionTime: z.string() }))
          .optional(),
      }),
      printerColumns: [
        { name: 'Version', type: 'string', jsonPath: '.spec.version' },
        { name: 'Phase', type: 'string', jsonPath: '.status.phase' },
        { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
      ],
    },
  ],
} as const);

/** The images and settings of one Zenko release, referenced by a Zenko instance. */
export const ZenkoVersionCrd = defineCrd({
  group: 'zenko.io',
  kind: 'ZenkoVersion',
  description: 'The component images and defaults of one Zenko release.',
  versions: [
    {
      name: 'v1alpha1',
      spec: z.object({
        versions: z.object({
          cloudserver: z.object({ image: z.string(), tag: z.string() }),
          backbeat: z.object({ image: z.string(), tag: z.string() }),
          mongodb: z.object({ image: z.string(), tag: z.string() }),
          redis: z.object({ image: z.string(), tag: z.string() }),
          kafka: z.object({ image: z.string(), tag: z.string() }),
        }),
        featureFlags: z.record(z.string(), z.boolean()).optional(),
      }),
    },
  ],
} as const);

type Service = 'cloudserver' | 'backbeat' | 'mongodb' | 'redis' | 'kafka';
const services: { name: Service; title: string; port: string; up: string }[] = [
  { name: 'cloudserver', title: 'S3 front end', port: 'metrics', up: 'up{job="zenko-cloudserver"}' },
  { name: 'backbeat', title: 'Replication engine', port: 'metrics', up: 'up{job="zenko-backbeat"}' },
  { name: 'mongodb', title: 'MongoDB', port: 'metrics', up: 'up{job="zenko-mongodb"}' },
  { name: 'redis', title: 'Redis', port: 'metrics', up: 'up{job="zenko-redis"}' },
  { name: 'kafka', title: 'Kafka', port: 'metrics', up: 'up{job="zenko-kafka"}' },
];

function dashboard(s: (typeof services)[number]) {
  return {
    uid: `zenko-${s.name}`,
    folder: 'Zenko',
    dashboard: {
      title: `Zenko / ${s.title}`,
      schemaVersion: 39,
      tags: ['zenko', s.name],
      time: { from: 'now-6h', to: 'now' },
      panels: [
        {
          id: 1,
          type: 'stat',
          title: 'Pods up',
          gridPos: { x: 0, y: 0, w: 6, h: 4 },
          datasource: { type: 'prometheus', uid: 'metalk8s-prometheus' },
          targets: [{ refId: 'A', expr: `sum(${s.up})` }],
        },
        {
          id: 2,
          type: 'timeseries',
          title: 'CPU',
          gridPos: { x: 6, y: 0, w: 18, h: 8 },
          datasource: { type: 'prometheus', uid: 'metalk8s-prometheus' },
          targets: [{ refId: 'A', expr: `sum by (pod) (rate(container_cpu_usage_seconds_total{container="${s.name}"}[5m]))` }],
        },
      ],
    },
  };
}

const alertRules = {
  cloudserver: [
    { alert: 'ZenkoS3Down', expr: 'sum(up{job="zenko-cloudserver"}) == 0', for: '5m', labels: { severity: 'critical' }, annotations: { summary: 'No S3 front end pod is up', description: 'S3 requests fail until a cloudserver pod is back.', runbook_url: 'https://docs.example.com/zenko/runbooks/s3-down' } },
    { alert: 'ZenkoS3HighErrorRate', expr: 'sum(rate(s3_cloudserver_http_requests_total{code=~"5.."}[5m])) / sum(rate(s3_cloudserver_http_requests_total[5m])) > 0.05', for: '10m', labels: { severity: 'warning' }, annotations: { summary: 'More than 5% of S3 requests fail', description: '{{ $value | humanizePercentage }} of S3 requests answer 5xx.' } },
  ],
  backbeat: [
    { alert: 'ZenkoReplicationBacklog', expr: 'sum(s3_replication_rpo_seconds) > 3600', for: '15m', labels: { severity: 'warning' }, annotations: { summary: 'Replication is more than an hour behind' } },
  ],
  mongodb: [
    { alert: 'ZenkoMongoDBReplicaSetDegraded', expr: 'min(mongodb_rs_members_health) < 1', for: '5m', labels: { severity: 'critical' }, annotations: { summary: 'A MongoDB replica set member is unhealthy' } },
    { alert: 'ZenkoMongoDBVolumeFilling', expr: 'predict_linear(kubelet_volume_stats_available_bytes{persistentvolumeclaim=~"mongodb-.*"}[6h], 24 * 3600) < 0', for: '1h', labels: { severity: 'warning' }, annotations: { summary: 'A MongoDB volume will be full within a day' } },
  ],
  redis: [{ alert: 'ZenkoRedisDown', expr: 'sum(redis_up) == 0', for: '5m', labels: { severity: 'critical' }, annotations: { summary: 'Redis is down' } }],
  kafka: [
    { alert: 'ZenkoKafkaUnderReplicatedPartitions', expr: 'sum(kafka_server_replicamanager_underreplicatedpartitions) > 0', for: '10m', labels: { severity: 'warning' }, annotations: { summary: 'Kafka has under-replicated partitions' } },
    { alert: 'ZenkoKafkaOfflinePartitions', expr: 'sum(kafka_controller_kafkacontroller_offlinepartitionscount) > 0', for: '1m', labels: { severity: 'critical' }, annotations: { summary: 'Kafka has offline partitions: some topics cannot be written' } },
  ],
} satisfies Record<Service, unknown[]>;

export default defineSolution({
  name: 'zenko',
  version: VERSION,
  displayName: 'Zenko',
  description: 'Multi-cloud object storage with an S3 API, replication and lifecycle.',
  build: { gitRevision: process.env.GIT_REVISION },
  operator: {
    image: 'zenko-operator',
    permissions: {
      namespaced: [
        { apiGroups: ['zenko.io'], resources: ['zenkos', 'zenkos/status', 'zenkoversions'], verbs: ['get', 'list', 'watch', 'update', 'patch'] },
        { apiGroups: ['apps'], resources: ['deployments', 'statefulsets'], verbs: ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'] },
        { apiGroups: [''], resources: ['services', 'configmaps', 'secrets', 'persistentvolumeclaims', 'pods'], verbs: ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'] },
        { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['get', 'create', 'update'] },
      ],
      // MetalK8s binds this ClusterRole with a RoleBinding in each environment namespace: it is a
      // set of namespaced rules shared by every environment, never cluster-wide rights (so no
      // Volumes, Nodes or StorageClasses here: those would never take effect).
      cluster: [{ apiGroups: ['', 'events.k8s.io'], resources: ['events'], verbs: ['create', 'patch'] }],
    },
    metrics: { enabled: true, scheme: 'https' },
  },
  crds: [ZenkoCrd, ZenkoVersionCrd],
  images: upstream
    ? [
        { name: 'zenko-operator', tag: VERSION, source: builtImage('zenko-operator') },
        { name: 'cloudserver', tag: '8.8.45', source: builtImage('cloudserver', [{ path: '/conf/config.json', from: 'files/cloudserver.json' }]) },
        { name: 'backbeat', tag: '8.6.49', source: builtImage('backbeat', [{ path: '/conf/config.json', from: 'files/backbeat.json' }]) },
        { name: 'mongodb', tag: '6.0.13', source: { kind: 'registry', reference: 'docker.io/library/mongo:6.0.13' } },
        { name: 'redis', tag: '7.2.4', source: { kind: 'registry', reference: 'docker.io/library/redis:7.2.4' } },
        { name: 'kafka', tag: '3.7.0', source: { kind: 'registry', reference: 'docker.io/apache/kafka:3.7.0' } },
      ]
    : [
        { name: 'zenko-operator', tag: VERSION, source: builtImage('zenko-operator') },
        { name: 'cloudserver', tag: '8.8.45', source: builtImage('cloudserver', [{ path: '/conf/config.json', from: 'files/cloudserver.json' }]) },
        { name: 'backbeat', tag: '8.6.49', source: builtImage('backbeat', [{ path: '/conf/config.json', from: 'files/backbeat.json' }]) },
        { name: 'mongodb', tag: '6.0.13', source: standIn('mongod') },
        { name: 'redis', tag: '7.2.4', source: standIn('redis-server') },
        { name: 'kafka', tag: '3.7.0', source: standIn('kafka-server-start.sh') },
      ],
  components: [
    { name: 'cloudserver', image: 'cloudserver', description: 'S3 API front end' },
    { name: 'backbeat', image: 'backbeat', description: 'Replication, lifecycle and ingestion engine' },
    {
      name: 'mongodb',
      image: 'mongodb',
      description: 'Metadata store (replica set)',
      volumes: [{ name: 'data', size: Size.gibibytes(100), storageClass: 'zenko-mongodb', count: { total: 3 } }],
    },
    { name: 'redis', image: 'redis', description: 'Cache and locks' },
    {
      name: 'kafka',
      image: 'kafka',
      description: 'Replication and lifecycle queues',
      volumes: [{ name: 'logs', size: '200Gi', storageClass: 'zenko-kafka', count: { perNode: 1, role: 'node' } }],
    },
  ],
  storageClasses: [
    { name: 'zenko-mongodb', fsType: 'xfs', mountOptions: ['rw', 'noatime'], description: 'MongoDB data (xfs, as MongoDB recommends)' },
    { name: 'zenko-kafka', fsType: 'ext4', mkfsOptions: ['-m', '0'], description: 'Kafka logs' },
  ],
  dashboards: services.map(dashboard),
  alerts: services.map((s) => ({ name: `zenko-${s.name}`, rules: alertRules[s.name] })),
  serviceMonitors: services.map((s) => ({
    name: s.name,
    selector: { matchLabels: { 'app.kubernetes.io/part-of': 'zenko', 'app.kubernetes.io/name': s.name } },
    endpoints: [{ port: s.port, interval: '30s' }],
  })),
});
