/**
 * The schema of a solution definition: what a vendor writes in `solution.config.ts` (or YAML or
 * JSON). The TypeScript types are inferred from these zod schemas, and the JSON Schema of the
 * solution file is generated from them (`schema/solution.schema.json`), so the three never drift.
 *
 * Semantic rules that need more than one field (an operator image that must be shipped, a
 * StorageClass a volume refers to, PromQL syntax…) live in `validate.ts`.
 *
 * @module
 */
import { VERSION_RANGE_RE } from './_version-range.js';
import { z } from 'zod';
import { Size } from './size.js';

const stringMap = z.record(z.string(), z.string());

/** `solutions.metalk8s.scality.com/*` build annotations of the manifest. */
export const BuildInfoSchema = z
  .strictObject({
    buildTimestamp: z.string().optional().describe('ISO 8601 UTC build time; `pack` fills it from SOURCE_DATE_EPOCH.'),
    buildHost: z.string().optional().describe('Host that built the archive.'),
    gitRevision: z.string().optional().describe('Source revision the archive was built from.'),
    developmentRelease: z
      .boolean()
      .optional()
      .describe('Whether this is a development build. Default: true when the version contains `-dev`.'),
  })
  .describe('Build information written as `solutions.metalk8s.scality.com/*` manifest annotations.');

/** One Kubernetes RBAC rule. */
export const PolicyRuleSchema = z
  .strictObject({
    apiGroups: z.array(z.string()).optional().describe('API groups; `""` is the core group.'),
    resources: z.array(z.string()).optional(),
    resourceNames: z.array(z.string()).optional(),
    nonResourceURLs: z.array(z.string()).optional().describe('Only allowed in cluster permissions.'),
    verbs: z.array(z.string()).min(1),
  })
  .describe('A Kubernetes RBAC PolicyRule.');

/**
 * The operator MetalK8s deploys in every environment the solution is added to. MetalK8s writes
 * its Deployment whole and replaces it on every `prepare-environment` run, so there is no
 * `args`, `env` or `resources` here: nothing set on top of MetalK8s' Deployment would last.
 */
export const OperatorSchema = z
  .strictObject({
    image: z
      .string()
      .describe(
        'Name of one of `images` (its tag is used). MetalK8s runs it as container `<name>-operator` with the command `<name>-operator --config=/etc/config/operator.yaml`, where `<name>` is the solution\'s `name` (not the image\'s): the image must hold an executable `<name>-operator` on $PATH, e.g. /usr/local/bin/<name>-operator.',
      ),
    permissions: z
      .strictObject({
        namespaced: z.array(PolicyRuleSchema).optional().describe('Rules in the environment namespace (a Role).'),
        cluster: z
          .array(PolicyRuleSchema)
          .optional()
          .describe('Rules rendered to a ClusterRole. MetalK8s binds it with a RoleBinding, so it only applies inside the environment namespace: rules on cluster-scoped resources (nodes, Volumes, StorageClasses...) and nonResourceURLs never take effect.'),
      })
      .optional()
      .describe('What the operator may do, rendered to `operator/deploy/role.yaml`.'),
    webhook: z
      .boolean()
      .optional()
      .describe('Mount Secret `<name>-cert` at /cert (MetalK8s 124.1.7+ `add-solution --webhook`).'),
    metrics: z
      .strictObject({
        enabled: z.boolean().optional(),
        scheme: z.enum(['https', 'http']).optional(),
        path: z.string().optional(),
        port: z.number().int().optional(),
      })
      .optional()
      .describe('Operator metrics endpoint (`spec.operator.metrics`, MetalK8s newer than 129).'),
  })
  .describe(
    'The solution operator. MetalK8s writes its Deployment (fixed command, env and no resources) and replaces it on every prepare-environment run, so the operator takes no args, env or resources.',
  );

/** A file of an image layer built from local files. */
export const BuildFileSchema = z
  .strictObject({
    path: z.string().describe('Absolute path inside the image.'),
    from: z.string().optional().describe('Local file to copy, relative to the solution file.'),
    content: z.string().optional().describe('Literal content, instead of `from`.'),
    mode: z
      .union([z.number().int(), z.string().regex(/^(0o|0)?[0-7]{3,4}$/, 'an octal mode such as "0755"')])
      .optional()
      .describe(
        'Unix permission bits: 0o755 in TypeScript; 0755 (a YAML 1.1 octal number) or the string "0755" in YAML; the string "0755" in JSON. Decimal numbers written with octal digits (755, 644) are refused. Default: 0o755 for `from` files executable by their owner, else 0o644.',
      ),
  })
  .describe('One file of a built image layer: `from` a local file or literal `content`.');

/** A layer of a built image given as a local folder. */
export const BuildDirectorySchema = z
  .strictObject({
    directory: z.string().describe('Local folder whose content becomes the layer, relative to the solution file.'),
    prefix: z.string().optional().describe('Where the folder goes in the image, an absolute path. Default: `/`.'),
  })
  .describe(
    'A layer built from a local folder, walked in sorted order. Symlinks are kept; modes are normalised as git stores them: 0o755 for folders and for files with an execute bit, 0o644 for other files; owners 0:0.',
  );

/** A layer of a built image: files listed one by one, or a folder. */
export const BuildLayerSchema = z.union([
  z.strictObject({ files: z.array(BuildFileSchema) }).describe('A layer whose files are listed one by one.'),
  BuildDirectorySchema,
]);

/** How an image is obtained. */
export const ImageSourceSchema = z.discriminatedUnion('kind', [
  z
    .strictObject({
      kind: z.literal('registry'),
      reference: z.string().describe('e.g. `docker.io/library/redis:7.2.4` or `…@sha256:<digest>`.'),
      insecure: z.boolean().optional().describe('TLS without certificate verification, for lab registries.'),
      plainHttp: z.boolean().optional().describe('Plain HTTP, for lab registries.'),
    })
    .describe('Pulled from a registry (OCI distribution API).'),
  z
    .strictObject({
      kind: z.literal('oci-layout'),
      path: z.string().describe('OCI image layout directory, relative to the solution file.'),
      reference: z.string().optional().describe('`org.opencontainers.image.ref.name` to pick; default: the only image.'),
    })
    .describe('Read from an OCI image layout directory.'),
  z
    .strictObject({
      kind: z.literal('docker-archive'),
      path: z.string().describe('`docker save` tarball, relative to the solution file.'),
      reference: z.string().optional().describe('Repo tag inside the archive; default: the only image.'),
    })
    .describe('Read from a `docker save` tarball.'),
  z
    .strictObject({
      kind: z.literal('build'),
      layers: z.array(BuildLayerSchema).min(1).describe('Layers, bottom first: `{ files }` or `{ directory, prefix }`.'),
      config: z
        .strictObject({
          entrypoint: z.array(z.string()).optional(),
          cmd: z.array(z.string()).optional(),
          env: stringMap.optional(),
          user: z.string().optional(),
          workdir: z.string().optional(),
          labels: stringMap.optional(),
        })
        .optional(),
    })
    .describe('Built deterministically from local files (static binaries, configuration).'),
]);

/** An image shipped in the archive. */
export const ImageSchema = z
  .strictObject({
    name: z.string().describe('Repository name in the archive, e.g. `zenko-operator`.'),
    tag: z.string().describe('Tag in the archive.'),
    source: ImageSourceSchema,
    platform: z.string().optional().describe('`os/arch[/variant]`. Default: linux/amd64.'),
  })
  .describe('A container image shipped inside the ISO and served by the cluster registry.');

const sizeSchema = z.union([z.string(), z.custom<Size>((v) => v instanceof Size, { message: 'expected a Size' })]);

/** A volume a component needs, per replica. */
export const VolumeNeedSchema = z
  .strictObject({
    name: z.string().describe('Name of the volume within the component, e.g. `data`.'),
    size: sizeSchema.describe('A whole number and a unit, as MetalK8s\' node code parses sizes (`100Gi`, `1536Mi`, not `1.5Gi`), or a `Size`.'),
    storageClass: z.string().describe('One of `storageClasses`, or `metalk8s` (MetalK8s\' default).'),
    mode: z.enum(['Filesystem', 'Block']).optional().describe('Default: Filesystem.'),
    media: z
      .enum(['ssd', 'hdd'])
      .optional()
      .describe('Only on solid-state (`ssd`) or rotational (`hdd`) devices. Default: either.'),
    count: z
      .union([
        z.strictObject({ total: z.number().int().positive() }),
        z.strictObject({ perNode: z.number().int().positive(), role: z.string().optional() }),
      ])
      .optional()
      .describe('How many: `{total}` in the cluster, or `{perNode, role?}` on each node (with that role). Default: {total: 1}.'),
  })
  .describe('Storage a component needs: the input of the storage planner.');

/** A service of the solution that the operator deploys. */
export const ComponentSchema = z
  .strictObject({
    name: z.string(),
    image: z.string().describe('Name of one of `images`.'),
    description: z.string().optional(),
    volumes: z.array(VolumeNeedSchema).optional(),
  })
  .describe('A service the operator deploys: its image and its storage needs.');

/** A StorageClass with MetalK8s conventions. */
export const StorageClassSchema = z
  .strictObject({
    name: z.string(),
    fsType: z.enum(['ext4', 'xfs']),
    mkfsOptions: z.array(z.string()).optional().describe('Rendered as a JSON-encoded list, as MetalK8s expects.'),
    mountOptions: z.array(z.string()).optional().describe('Default: [rw, discard] (as MetalK8s\' own class).'),
    description: z.string().optional(),
  })
  .describe('A StorageClass for MetalK8s Volumes: no-provisioner, WaitForFirstConsumer, Retain.');

/** A Grafana dashboard. */
export const DashboardSchema = z
  .strictObject({
    uid: z.string().describe('Grafana uid, at most 40 characters, unique.'),
    title: z.string().optional().describe('Default: the dashboard JSON\'s title.'),
    folder: z.string().optional().describe('Grafana folder. Default: the solution\'s display name.'),
    dashboard: z.record(z.string(), z.unknown()).describe('The dashboard JSON model.'),
  })
  .describe('A Grafana dashboard, shipped as a ConfigMap labelled `grafana_dashboard: "1"`.');

/** A Prometheus alerting rule. */
export const AlertRuleSchema = z
  .strictObject({
    alert: z.string(),
    expr: z.string().describe('PromQL expression.'),
    for: z.string().optional().describe('Prometheus duration, e.g. `5m`.'),
    labels: stringMap.optional().describe('Must include `severity` (critical, warning or info).'),
    annotations: z
      .strictObject({
        summary: z.string().optional(),
        description: z.string().optional(),
        runbook_url: z.string().optional(),
      })
      .catchall(z.string())
      .optional(),
  })
  .describe('A Prometheus alerting rule.');

/** A group of alerting rules. */
export const AlertGroupSchema = z
  .strictObject({
    name: z.string(),
    interval: z.string().optional().describe('Evaluation interval, a Prometheus duration.'),
    rules: z.array(AlertRuleSchema).min(1),
  })
  .describe('A Prometheus rule group.');

const labelSelector = z.strictObject({
  matchLabels: stringMap.optional(),
  matchExpressions: z
    .array(z.strictObject({ key: z.string(), operator: z.enum(['In', 'NotIn', 'Exists', 'DoesNotExist']), values: z.array(z.string()).optional() }))
    .optional(),
});

const monitorEndpoint = z.strictObject({
  port: z.string().describe('Name of the Service or Pod port.'),
  path: z.string().optional().describe('Default: /metrics.'),
  interval: z.string().optional(),
  scheme: z.enum(['http', 'https']).optional(),
});

/** A Prometheus Operator ServiceMonitor or PodMonitor. */
export const MonitorSchema = z
  .strictObject({
    name: z.string(),
    selector: labelSelector.describe('Selects the Services (or Pods) to scrape.'),
    endpoints: z.array(monitorEndpoint).min(1),
    namespaces: z
      .array(z.string())
      .optional()
      .describe('Namespaces to look in. Default: every namespace (environments are created at run time).'),
  })
  .describe('What Prometheus scrapes; labelled `metalk8s.scality.com/monitor: ""`.');

/** Where the operator's CRDs come from: a CRD manifest as is, or typed versions (see `defineCrd`). */
export const CrdSchema = z.union([
  z
    .strictObject({
      manifest: z.record(z.string(), z.unknown()).describe('A complete apiextensions.k8s.io/v1 CustomResourceDefinition.'),
    })
    .describe('A CRD object as is.'),
  z
    .strictObject({
      group: z.string(),
      kind: z.string(),
      plural: z.string().optional().describe('Default: kind lowercased + "s".'),
      singular: z.string().optional(),
      listKind: z.string().optional(),
      shortNames: z.array(z.string()).optional(),
      categories: z.array(z.string()).optional(),
      scope: z.enum(['Namespaced', 'Cluster']).optional().describe('Default: Namespaced.'),
      description: z.string().optional(),
      versions: z
        .array(
          z.strictObject({
            name: z.string(),
            served: z.boolean().optional().describe('Default: true.'),
            storage: z.boolean().optional().describe('Default: true when there is one version.'),
            deprecated: z.boolean().optional(),
            spec: z.unknown().optional().describe('A zod schema of the custom resource spec (TypeScript only).'),
            status: z.unknown().optional().describe('A zod schema of the status (TypeScript only).'),
            openAPIV3Schema: z
              .record(z.string(), z.unknown())
              .optional()
              .describe('The structural schema, for YAML and JSON solution files.'),
            printerColumns: z
              .array(
                z.strictObject({
                  name: z.string(),
                  type: z.enum(['string', 'integer', 'number', 'boolean', 'date']),
                  jsonPath: z.string(),
                  description: z.string().optional(),
                  priority: z.number().int().optional(),
                }),
              )
              .optional(),
            subresources: z
              .strictObject({
                status: z.boolean().optional().describe('Default: true when a status schema is given.'),
                scale: z
                  .strictObject({
                    specReplicasPath: z.string(),
                    statusReplicasPath: z.string(),
                    labelSelectorPath: z.string().optional(),
                  })
                  .optional(),
              })
              .optional(),
          }),
        )
        .min(1),
    })
    .describe('A CRD described by its versions; the structural schema is generated.'),
]);

/** The whole solution definition. */
export const SolutionSchema = z
  .strictObject({
    $schema: z.string().optional().describe('Editor hint, ignored.'),
    name: z.string().describe('Machine name: lowercase, digits and dashes; must not start with `metalk8s-`.'),
    version: z.string().describe('Version, e.g. `2.6.0` or `2.7.0-dev`: lowercase [0-9a-z.-] only.'),
    displayName: z.string().optional().describe('Human name. Default: the name.'),
    description: z.string().optional(),
    labels: stringMap.optional().describe('Extra `metadata.labels` of the manifest.'),
    annotations: stringMap.optional().describe('Extra `metadata.annotations` of the manifest.'),
    build: BuildInfoSchema.optional(),
    requires: z
      .strictObject({
        metalk8s: z.string().regex(VERSION_RANGE_RE, 'expected a version range such as ">=128.0.0 <131"').optional().describe('MetalK8s versions supported, e.g. `>=128.0.0 <131`; checked by preflight and at import.'),
      })
      .optional()
      .describe('What the cluster must have; written into the manifest annotations.'),
    operator: OperatorSchema,
    crds: z.array(CrdSchema).optional().describe('The operator\'s CRDs, applied by MetalK8s when the solution is activated.'),
    images: z.array(ImageSchema).min(1).describe('Every image the solution runs; all are packed into the ISO.'),
    components: z.array(ComponentSchema).optional().describe('The services the operator deploys, with their images and storage needs.'),
    storageClasses: z.array(StorageClassSchema).optional().describe('StorageClasses for MetalK8s Volumes, applied by the SDK at activation.'),
    dashboards: z.array(DashboardSchema).optional().describe('Grafana dashboards, applied by the SDK at activation.'),
    alerts: z.array(AlertGroupSchema).optional().describe('Prometheus alert rule groups, applied by the SDK at activation.'),
    serviceMonitors: z.array(MonitorSchema).optional().describe('Prometheus ServiceMonitors, applied by the SDK at activation.'),
    podMonitors: z.array(MonitorSchema).optional().describe('Prometheus PodMonitors, applied by the SDK at activation.'),
  })
  .describe('A MetalK8s Solution, as described with the MetalK8s Solution SDK.');

/** Makes every array and object of a type readonly, so `as const` data is accepted as input. */
export type DeepReadonly<T> = T extends Size
  ? T
  : T extends readonly (infer U)[]
    ? readonly DeepReadonly<U>[]
    : T extends object
      ? { readonly [K in keyof T]: DeepReadonly<T[K]> }
      : T;

/** A solution definition as written by a vendor. */
export type SolutionInput = DeepReadonly<z.input<typeof SolutionSchema>>;
export type BuildInfo = z.infer<typeof BuildInfoSchema>;
export type PolicyRule = z.infer<typeof PolicyRuleSchema>;
export type OperatorInput = z.infer<typeof OperatorSchema>;
export type ImageInput = z.infer<typeof ImageSchema>;
export type ImageSourceInput = z.infer<typeof ImageSourceSchema>;
export type BuildFile = z.infer<typeof BuildFileSchema>;
export type BuildDirectory = z.infer<typeof BuildDirectorySchema>;
export type BuildLayer = z.infer<typeof BuildLayerSchema>;
export type ComponentInput = z.infer<typeof ComponentSchema>;
export type VolumeNeed = z.infer<typeof VolumeNeedSchema>;
export type StorageClassInput = z.infer<typeof StorageClassSchema>;
export type DashboardInput = z.infer<typeof DashboardSchema>;
export type AlertGroup = z.infer<typeof AlertGroupSchema>;
export type AlertRule = z.infer<typeof AlertRuleSchema>;
export type MonitorInput = z.infer<typeof MonitorSchema>;
export type CrdInput = z.infer<typeof CrdSchema>;
