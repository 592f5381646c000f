/**
 * Validation of a solution definition: every mistake at once, each with a stable code, the path
 * to the field, a message and a hint. Schema problems come from zod, section by section, so a
 * typo in `alerts` does not hide a wrong name in `images`; MetalK8s' own rules
 * (metalk8s-reference.md §1.3, §1.6, §1.7, §7) and cross-field rules come after.
 *
 * @module
 */
import type { z } from 'zod';
import type { Issue } from '../errors.js';
import {
  DNS_LABEL_RE,
  DNS_SUBDOMAIN_RE,
  IMAGE_NAME_RE,
  IMAGE_TAG_RE,
  JINJA_RE,
  MAX_ID_LENGTH,
  PLATFORM_RE,
  PROM_DURATION_RE,
  solutionNameProblems,
  VERSION_RE,
} from './_names.js';
import { checkCrdManifest, typedCrdPaths } from './_crd-rules.js';
import {
  checkDashboardQueries,
  checkLabelSelector,
  checkMkfsOptions,
  checkMountOptions,
  checkPolicyRules,
  checkRuleGroups,
  Issues,
  isLabelKey,
  isLabelValue,
  type OwnResource,
} from './_object-rules.js';
import { parseQuantity } from './_quantity.js';
import { suggest, zodIssues } from './_zod-issues.js';
import { checkImageReference } from './_reference.js';
import { buildCrd, type CrdInfo } from './crd.js';
import { type PolicyRule, type SolutionInput, SolutionSchema } from './schema.js';
import { sizeInBytes } from './size.js';

/** A solution definition after schema validation (defaults not yet applied). */
export type SolutionDefinition = z.output<typeof SolutionSchema>;

/** A validated solution: what `render()` and `pack()` take. */
export interface Solution {
  /** Machine name. */
  readonly name: string;
  readonly version: string;
  /** `<name>-<version>`: MetalK8s' id of this archive (mount point, registry repository prefix). */
  readonly id: string;
  readonly displayName: string;
  /** The definition as validated. */
  readonly definition: SolutionDefinition;
  /** The CRDs, with their generated manifests. */
  readonly crds: readonly CrdInfo[];
  /** Warnings found while validating (errors would have thrown). */
  readonly warnings: readonly Issue[];
}

/** What {@link validateSolution} found. */
export interface ValidationReport {
  /** True when there is no error (warnings allowed). */
  readonly ok: boolean;
  /** Every issue, errors and warnings. */
  readonly issues: readonly Issue[];
  /** The validated solution, when `ok`. */
  readonly solution?: Solution;
}

/** Sizes MetalK8s' node code parses (`_quantity_to_bytes`, platform-reference.md §A.7). */
const METALK8S_SIZE_RE = /^[1-9][0-9]*(Ki|Mi|Gi|Ti|Pi|k|M|G|T|P)?$/;

function duplicates<T>(items: readonly T[], key: (t: T) => string): Map<string, number[]> {
  const seen = new Map<string, number[]>();
  items.forEach((t, i) => {
    const k = key(t);
    seen.set(k, [...(seen.get(k) ?? []), i]);
  });
  return new Map([...seen].filter(([, idx]) => idx.length > 1));
}

function walkStrings(value: unknown, path: string, visit: (s: string, path: string) => void): void {
  if (typeof value === 'string') visit(value, path);
  else if (Array.isArray(value)) {
    for (const [i, v] of value.entries()) walkStrings(v, `${path}[${i}]`, visit);
  }
  else if (value && typeof value === 'object')
    for (const [k, v] of Object.entries(value)) {
      visit(k, `${path}.${k}`);
      walkStrings(v, `${path}.${k}`, visit);
    }
}

function checkIdentity(d: Partial<SolutionDefinition>, is: Issues): void {
  const { name, version } = d;
  if (name !== undefined) {
    for (const p of solutionNameProblems(name)) is.error(p.code, 'name', p.message, p.hint);
  }
  if (version !== undefined) {
    if (!VERSION_RE.test(version))
      is.error('VERSION_INVALID', 'version', `"${version}" has characters MetalK8s cannot carry`, 'Use lowercase letters, digits, dots and dashes only (no "+", "_" or uppercase), e.g. 2.6.0 or 2.7.0-dev.1.');
    else if (/^\d+(\.\d+)?$/.test(version) || /^\d+e\d+$/i.test(version))
      is.error('VERSION_NOT_STRING', 'version', `"${version}" would be read back as a number from YAML (MetalK8s writes versions as unquoted keys)`, 'Use three parts, e.g. 1.10.0.');
    else if (!/^\d+\.\d+\.\d+(-[0-9a-z.-]+)?$/.test(version))
      is.warn('VERSION_NOT_SEMVER', 'version', `"${version}" is not semantic versioning`, 'MetalK8s orders versions to find "latest": MAJOR.MINOR.PATCH[-suffix] orders as people expect.');
  }
  if (name !== undefined && version !== undefined) {
    const id = `${name}-${version}`;
    if (id.length > MAX_ID_LENGTH)
      is.error('ID_TOO_LONG', 'name', `"${id}" is ${id.length} characters; MetalK8s needs <name>-<version> to be at most ${MAX_ID_LENGTH}`, 'It becomes a pod volume name "registry-<id>" (63 characters at most): shorten the name or the version.');
    const volid = `${d.displayName ?? name} ${version}`;
    if (Buffer.byteLength(volid) > 32)
      is.warn('VOLUME_ID_TRUNCATED', 'displayName', `the ISO volume id "${volid}" is longer than 32 bytes and will be truncated`, 'Shorten the display name if the volume label matters to you; MetalK8s does not read it.');
  }
  for (const [k, v] of Object.entries(d.labels ?? {})) {
    if (!isLabelKey(k)) is.error('LABEL_KEY_INVALID', `labels.${k}`, `"${k}" is not a valid Kubernetes label key`);
    else if (!isLabelValue(v))
      is.warn('LABEL_VALUE_INVALID', `labels.${k}`, `"${v}" is not a valid Kubernetes label value: a tool that copies the manifest's labels onto objects would be refused`, 'At most 63 of [A-Za-z0-9-_.], starting and ending with a letter or digit.');
  }
}

/** Permissions of the operator, as the API server validates them and as MetalK8s binds them. */
function checkPermissions(d: Partial<SolutionDefinition>, is: Issues): void {
  const perms = d.operator?.permissions;
  const own: OwnResource[] = [];
  for (const c of d.crds ?? []) {
    if ('manifest' in c) {
      const spec = (c.manifest.spec ?? {}) as { group?: unknown; scope?: unknown; names?: { plural?: unknown } };
      own.push({ group: String(spec.group), plural: String(spec.names?.plural), scope: String(spec.scope) });
    } else own.push({ group: c.group, plural: c.plural ?? `${c.kind.toLowerCase()}s`, scope: c.scope ?? 'Namespaced' });
  }
  const namespaced = perms?.namespaced ?? [];
  const cluster = perms?.cluster ?? [];
  checkPolicyRules(namespaced, 'operator.permissions.namespaced', false, own, is);
  checkPolicyRules(cluster, 'operator.permissions.cluster', true, own, is);
  const grants = (rules: readonly PolicyRule[], crd: OwnResource) =>
    rules.some((r) => (r.apiGroups ?? []).some((g) => g === crd.group || g === '*') && (r.resources ?? []).some((res) => res === '*' || res.split('/')[0] === crd.plural));
  own.forEach((crd, i) => {
    if (!grants(namespaced, crd) && !grants(cluster, crd))
      is.warn('RBAC_OWN_CRD_NOT_GRANTED', 'operator.permissions', `the operator is granted nothing on its own CRD ${crd.plural}.${crd.group} (crds[${i}]): it cannot watch its custom resources`, `Add { apiGroups: ["${crd.group}"], resources: ["${crd.plural}", "${crd.plural}/status"], verbs: ["get", "list", "watch", "update", "patch"] } to operator.permissions.namespaced.`);
    else if (crd.scope === 'Cluster' && grants(namespaced, crd) && !grants(cluster, crd))
      is.warn('RBAC_CLUSTER_CRD_NAMESPACED', 'operator.permissions.namespaced', `${crd.plural}.${crd.group} is Cluster-scoped, but only the namespaced Role grants it: a Role never grants cluster-scoped resources`, 'Make the CRD Namespaced (one object per environment), which is what MetalK8s can grant: MetalK8s 129 has no way to give an operator cluster-wide rights.');
  });
}

function checkOperator(d: Partial<SolutionDefinition>, is: Issues): void {
  const op = d.operator;
  if (!op) return;
  if (d.images && !d.images.some((i) => i.name === op.image))
    is.error('OPERATOR_IMAGE_NOT_SHIPPED', 'operator.image', `"${op.image}" is not one of images[].name`, `Ship it: add { name: "${op.image}", tag, source } to images.`);
  if (d.name && op.image !== `${d.name}-operator`)
    is.warn('OPERATOR_IMAGE_NAME', 'operator.image', `MetalK8s' convention is an operator image named "${d.name}-operator"`, 'It works with another name (the manifest says which), but tools that assume the convention will not find it.');
  checkPermissions(d, is);
  const m = op.metrics;
  if (m?.port !== undefined && (m.port < 1 || m.port > 65535))
    is.error('METRICS_PORT_INVALID', 'operator.metrics.port', `${m.port} is not a TCP port`);
  if (m?.path !== undefined && !m.path.startsWith('/'))
    is.error('METRICS_PATH_INVALID', 'operator.metrics.path', 'must start with "/"');
}

function checkImages(d: Partial<SolutionDefinition>, is: Issues): void {
  const images = d.images;
  if (!images) return;
  images.forEach((img, i) => {
    const p = `images[${i}]`;
    if (!IMAGE_NAME_RE.test(img.name))
      is.error('IMAGE_NAME_INVALID', `${p}.name`, `"${img.name}" is not a valid repository name`, 'Use one path component of lowercase letters, digits and separators (. _ -): MetalK8s serves images/<name>/<tag>.');
    if (!IMAGE_TAG_RE.test(img.tag))
      is.error('IMAGE_TAG_INVALID', `${p}.tag`, `"${img.tag}" is not a valid tag`, 'Tags are up to 128 of [A-Za-z0-9_.-], not starting with . or -.');
    if (img.tag === 'latest')
      is.warn('IMAGE_TAG_LATEST', `${p}.tag`, 'the tag "latest" says nothing about what is inside', 'Tag images with their version so an upgrade can tell them apart.');
    if (img.platform !== undefined && !PLATFORM_RE.test(img.platform))
      is.error('IMAGE_PLATFORM_INVALID', `${p}.platform`, `"${img.platform}" is not os/arch[/variant]`, 'For example linux/amd64 or linux/arm64/v8.');
    const src = img.source;
    if (src.kind === 'registry') checkImageReference(src.reference, `${p}.source.reference`, is);
    if (src.kind === 'build') {
      const seen = new Set<string>();
      src.layers.forEach((layer, li) => {
        if (!('files' in layer)) {
          const lp = `${p}.source.layers[${li}]`;
          if (layer.prefix !== undefined && (!layer.prefix.startsWith('/') || layer.prefix.split('/').includes('..')))
            is.error('BUILD_PATH_INVALID', `${lp}.prefix`, `"${layer.prefix}" must be an absolute path without ".."`);
          if (layer.directory.startsWith('/') || layer.directory.split(/[\\/]/).includes('..'))
            is.warn('BUILD_FROM_OUTSIDE', `${lp}.directory`, `"${layer.directory}" points outside the solution folder`, 'Keep build inputs next to the solution file so the build is reproducible elsewhere.');
          return;
        }
        layer.files.forEach((f, fi) => {
          const fp = `${p}.source.layers[${li}].files[${fi}]`;
          if (!f.path.startsWith('/') || f.path.split('/').includes('..'))
            is.error('BUILD_PATH_INVALID', `${fp}.path`, `"${f.path}" must be an absolute path without ".."`);
          if ((f.from === undefined) === (f.content === undefined))
            is.error('BUILD_FILE_SOURCE', fp, 'needs exactly one of `from` (a local file) or `content`');
          if (f.from !== undefined && (f.from.startsWith('/') || f.from.split(/[\\/]/).includes('..')))
            is.warn('BUILD_FROM_OUTSIDE', `${fp}.from`, `"${f.from}" points outside the solution folder`, 'Keep build inputs next to the solution file so the build is reproducible elsewhere.');
          if (typeof f.mode === 'number' && (f.mode < 0 || f.mode > 0o7777))
            is.error('BUILD_MODE_INVALID', `${fp}.mode`, `${f.mode} is not a permission mode`, 'Write it in octal: 0o755 in TypeScript, 0755 or "0755" in YAML, "0755" in JSON.');
          else if (typeof f.mode === 'number' && f.mode > 0o777 && /^[0-7]{3,4}$/.test(String(f.mode)))
            // 755 as a decimal number is 0o1363 (--wxrw--wt plus sticky): certainly meant as octal.
            is.error(
              'BUILD_MODE_DECIMAL',
              `${fp}.mode`,
              `${f.mode} is the decimal number ${f.mode} (mode 0o${f.mode.toString(8)}), not the octal mode 0${f.mode}`,
              `Write 0o${f.mode} in TypeScript, 0${f.mode} or "0${f.mode}" in YAML, "0${f.mode}" in JSON.`,
            );
          const key = `${li}:${f.path}`;
          if (seen.has(key)) is.error('BUILD_DUPLICATE_PATH', `${fp}.path`, `"${f.path}" appears twice in the same layer`);
          seen.add(key);
        });
      });
    }
  });
  for (const [key, idx] of duplicates(images, (i) => `${i.name}:${i.tag}`))
    is.error('IMAGE_DUPLICATE', `images[${idx[1]}]`, `${key} is declared ${idx.length} times`, 'Declare each name:tag once.');

  const used = new Set<string>();
  if (d.operator) used.add(d.operator.image);
  for (const c of d.components ?? []) used.add(c.image);
  images.forEach((img, i) => {
    if (!used.has(img.name))
      is.warn('IMAGE_UNUSED', `images[${i}]`, `"${img.name}:${img.tag}" is shipped but neither the operator nor a component uses it`, 'Reference it from components[].image, or drop it to make the archive smaller.');
  });
  if (d.name && d.operator) {
    const op = images.find((i) => i.name === d.operator?.image);
    if (op?.source.kind === 'build') {
      const bin = `${d.name}-operator`;
      const files = op.source.layers.flatMap((l) => ('files' in l ? l.files.map((f) => f.path) : []));
      // A folder layer's files are known only when packing.
      const folders = op.source.layers.some((l) => !('files' in l));
      if (!folders && !files.some((f) => f.endsWith(`/bin/${bin}`)))
        is.warn('OPERATOR_BINARY_MISSING', `images[${images.indexOf(op)}].source`, `no layer installs a "${bin}" binary in a bin/ directory`, `MetalK8s runs the command "${bin}": install it as /usr/bin/${bin} or /usr/local/bin/${bin}.`);
    }
  }
}

function checkComponents(d: Partial<SolutionDefinition>, is: Issues): void {
  const comps = d.components;
  if (!comps) return;
  const classes = new Set(['metalk8s', ...(d.storageClasses ?? []).map((s) => s.name)]);
  comps.forEach((c, i) => {
    const p = `components[${i}]`;
    if (!DNS_LABEL_RE.test(c.name)) is.error('COMPONENT_NAME_INVALID', `${p}.name`, `"${c.name}" is not a DNS label`);
    if (d.images && !d.images.some((img) => img.name === c.image))
      is.error('IMAGE_NOT_SHIPPED', `${p}.image`, `"${c.image}" is not one of images[].name`, 'Every image the solution runs must be inside the archive: add it to images.');
    c.volumes?.forEach((v, vi) => {
      const vp = `${p}.volumes[${vi}]`;
      const text = String(v.size);
      const bytes = sizeInBytes(v.size);
      if (bytes === undefined && parseQuantity(text) === undefined)
        is.error('SIZE_INVALID', `${vp}.size`, `"${text}" is not a size`, 'Use a Kubernetes quantity such as 100Gi or 500Mi, or Size.gibibytes(100).');
      else if ((bytes ?? parseQuantity(text) ?? 0) <= 0) is.error('SIZE_INVALID', `${vp}.size`, `"${text}" must be more than zero`);
      else if (!METALK8S_SIZE_RE.test(text))
        is.error('SIZE_NOT_METALK8S', `${vp}.size`, `"${text}" is a Kubernetes quantity, but MetalK8s' node code only parses <positive integer><unit>: creating the Volume would fail on the node`, 'Write a whole number with one of the units Ki, Mi, Gi, Ti, Pi, k, M, G, T, P (e.g. 1536Mi, not 1.5Gi).');
      else {
        const sc = (d.storageClasses ?? []).find((x) => x.name === v.storageClass);
        const fs = sc?.fsType ?? (v.storageClass === 'metalk8s' ? 'ext4' : undefined);
        const n = bytes ?? 0;
        if ((v.mode ?? 'Filesystem') === 'Filesystem' && fs === 'xfs' && n < 300 * 2 ** 20)
          is.error('SIZE_TOO_SMALL', `${vp}.size`, `"${text}" is below 300 MiB, the smallest filesystem mkfs.xfs makes: the Volume would fail`, 'Ask for at least 300Mi, or use an ext4 StorageClass.');
        else if (n < 2 ** 20)
          is.error('SIZE_TOO_SMALL', `${vp}.size`, `"${text}" is below 1 MiB: no filesystem or partition fits`, 'Sizes are in bytes without a unit: write e.g. 10Gi.');
        else if (n > 2 ** 50)
          is.warn('SIZE_HUGE', `${vp}.size`, `"${text}" is more than 1 PiB for one volume: no disk MetalK8s can use is that large`, 'Check the unit; split the need over several volumes (count).');
      }
      if (!classes.has(v.storageClass))
        is.error('STORAGE_CLASS_UNKNOWN', `${vp}.storageClass`, `"${v.storageClass}" is neither declared in storageClasses nor MetalK8s' default "metalk8s"`, 'Declare it in storageClasses.');
      if (!DNS_LABEL_RE.test(v.name)) is.error('VOLUME_NAME_INVALID', `${vp}.name`, `"${v.name}" is not a DNS label`);
    });
    for (const [name, idx] of duplicates(c.volumes ?? [], (v) => v.name))
      is.error('VOLUME_DUPLICATE', `${p}.volumes[${idx[1]}].name`, `volume "${name}" is declared twice`);
  });
  for (const [name, idx] of duplicates(comps, (c) => c.name))
    is.error('COMPONENT_DUPLICATE', `components[${idx[1]}].name`, `component "${name}" is declared twice`);
}

function checkStorageClasses(d: Partial<SolutionDefinition>, is: Issues): void {
  const scs = d.storageClasses;
  if (!scs) return;
  scs.forEach((sc, i) => {
    const p = `storageClasses[${i}]`;
    if (!DNS_SUBDOMAIN_RE.test(sc.name) || sc.name.length > 253) is.error('STORAGE_CLASS_NAME_INVALID', `${p}.name`, `"${sc.name}" is not a valid object name`);
    if (sc.name === 'metalk8s')
      is.error('STORAGE_CLASS_RESERVED', `${p}.name`, '"metalk8s" is MetalK8s\' own StorageClass', 'Name yours after the solution, e.g. "<name>-mongodb".');
    else if (d.name && !sc.name.startsWith(`${d.name}-`))
      is.warn('STORAGE_CLASS_NOT_PREFIXED', `${p}.name`, `StorageClasses are cluster-wide; "${sc.name}" does not start with "${d.name}-"`, 'Prefix it with the solution name so two solutions never collide.');
    if (sc.mkfsOptions) checkMkfsOptions(sc.fsType, sc.mkfsOptions, `${p}.mkfsOptions`, is);
    if (sc.mountOptions) checkMountOptions(sc.fsType, sc.mountOptions, `${p}.mountOptions`, is);
  });
  for (const [name, idx] of duplicates(scs, (s) => s.name))
    is.error('STORAGE_CLASS_DUPLICATE', `storageClasses[${idx[1]}].name`, `"${name}" is declared twice`);
}

function checkAlerts(d: Partial<SolutionDefinition>, is: Issues): void {
  if (d.alerts) checkRuleGroups(d.alerts, 'alerts', is);
}

function checkDashboards(d: Partial<SolutionDefinition>, is: Issues): void {
  const dashes = d.dashboards;
  if (!dashes) return;
  dashes.forEach((db, i) => {
    const p = `dashboards[${i}]`;
    if (db.uid.length === 0 || db.uid.length > 40 || !/^[a-zA-Z0-9_-]+$/.test(db.uid))
      is.error('DASHBOARD_UID_INVALID', `${p}.uid`, `"${db.uid}" is not a Grafana uid`, 'Use 1-40 letters, digits, dashes and underscores.');
    if (db.title === undefined && typeof db.dashboard.title !== 'string')
      is.error('DASHBOARD_TITLE_MISSING', `${p}.title`, 'the dashboard has no title', 'Set title, or a "title" in the dashboard JSON.');
    if (!Array.isArray(db.dashboard.panels) && !Array.isArray(db.dashboard.rows))
      is.warn('DASHBOARD_EMPTY', `${p}.dashboard`, 'the dashboard has no panels');
    const size = Buffer.byteLength(JSON.stringify(db.dashboard));
    if (size > 900 * 1024)
      is.error('DASHBOARD_TOO_LARGE', `${p}.dashboard`, `the dashboard JSON is ${size} bytes; a ConfigMap holds at most 1 MiB`, 'Split it into several dashboards.');
    checkDashboardQueries(db.dashboard, `${p}.dashboard`, is);
    walkStrings(db.dashboard, `${p}.dashboard`, (s, sp) => {
      if (/\$\{DS_[A-Z_]+\}/.test(s) && !sp.includes('__inputs'))
        is.warn('DASHBOARD_DATASOURCE_INPUT', sp, `"${s}" is an export placeholder that Grafana's sidecar does not resolve`, 'Use the datasource uid "metalk8s-prometheus" (or a templating variable) instead.');
    });
  });
  for (const [uid, idx] of duplicates(dashes, (x) => x.uid))
    is.error('DASHBOARD_UID_DUPLICATE', `dashboards[${idx[1]}].uid`, `uid "${uid}" is used twice`, 'Grafana keeps only one dashboard per uid.');
}

function checkMonitors(list: Partial<SolutionDefinition>['serviceMonitors'], field: string, is: Issues): void {
  if (!list) return;
  list.forEach((m, i) => {
    const p = `${field}[${i}]`;
    if (!DNS_SUBDOMAIN_RE.test(m.name)) is.error('MONITOR_NAME_INVALID', `${p}.name`, `"${m.name}" is not a valid object name`);
    const empty = !m.selector.matchLabels && !m.selector.matchExpressions;
    if (empty || (m.selector.matchLabels && Object.keys(m.selector.matchLabels).length === 0 && !m.selector.matchExpressions))
      is.error('MONITOR_SELECTOR_EMPTY', `${p}.selector`, 'an empty selector scrapes every Service or Pod of the cluster', 'Select your own objects, e.g. matchLabels: { "app.kubernetes.io/part-of": "<name>" }.');
    checkLabelSelector(m.selector, `${p}.selector`, is);
    m.namespaces?.forEach((n, ni) => {
      if (!DNS_LABEL_RE.test(n)) is.error('MONITOR_NAMESPACE_INVALID', `${p}.namespaces[${ni}]`, `"${n}" is not a namespace name`);
    });
    m.endpoints.forEach((e, ei) => {
      if (e.interval !== undefined && !PROM_DURATION_RE.test(e.interval))
        is.error('DURATION_INVALID', `${p}.endpoints[${ei}].interval`, `"${e.interval}" is not a Prometheus duration`);
      if (e.path !== undefined && !e.path.startsWith('/')) is.error('MONITOR_PATH_INVALID', `${p}.endpoints[${ei}].path`, 'must start with "/"');
    });
  });
  for (const [name, idx] of duplicates(list, (m) => m.name))
    is.error('MONITOR_DUPLICATE', `${field}[${idx[1]}].name`, `"${name}" is declared twice`);
}

function checkCrds(d: Partial<SolutionDefinition>, is: Issues): CrdInfo[] {
  const out: CrdInfo[] = [];
  (d.crds ?? []).forEach((c, i) => {
    const p = `crds[${i}]`;
    const info = buildCrd(c, p, is.list);
    if (!info) return;
    out.push(info);
    const where = 'manifest' in c ? (mp: string) => `${p}.manifest.${mp}` : typedCrdPaths(p, c.versions.map((v) => v.spec !== undefined && !v.openAPIV3Schema));
    checkCrdManifest(info.manifest, where, is.list);
    walkStrings(info.manifest, p, (s, sp) => {
      if (JINJA_RE.test(s))
        is.error('CRD_JINJA_SYNTAX', sp.replace(/^crds\[\d+\]\./, `${p}.manifest.`), `contains "{{", "{%" or "{#", which MetalK8s' Jinja rendering of CRD files would interpret`, 'Reword it (e.g. "{ {"), since MetalK8s renders every *_crd.yaml with Jinja before applying it.');
    });
  });
  for (const [key, idx] of duplicates(out, (x) => `${x.plural}.${x.group}`))
    is.error('CRD_DUPLICATE', `crds[${idx[1]}]`, `${key} is declared twice`);
  return out;
}

function freezeDeep<T>(v: T): T {
  const plain = Array.isArray(v) || (v !== null && typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype);
  // Only plain data: zod schemas and value objects keep their own internal state.
  if (plain && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const x of Object.values(v)) freezeDeep(x);
  }
  return v;
}

/**
 * Validates a solution definition and reports every issue at once. Never throws for bad input.
 *
 * @example
 * const report = validateSolution(JSON.parse(text));
 * for (const i of report.issues) console.log(`${i.severity} ${i.path}: ${i.message}`);
 */
export function validateSolution(input: unknown): ValidationReport {
  const is = new Issues();
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    is.error('INVALID_TYPE', '', 'a solution definition must be an object');
    return { ok: false, issues: is.list };
  }
  const raw = input as Record<string, unknown>;
  const shape = SolutionSchema.shape as Record<string, z.ZodType>;
  const parsed: Record<string, unknown> = {};
  for (const key of Object.keys(raw)) {
    if (!(key in shape)) {
      const guess = suggest(key, Object.keys(shape));
      is.error('UNKNOWN_FIELD', key, `unknown field "${key}"`, guess ? `Did you mean "${guess}"?` : 'Remove it, or check the field names in docs/solution-file.md.');
    }
  }
  for (const [key, schema] of Object.entries(shape)) {
    const r = schema.safeParse(raw[key]);
    if (r.success) {
      if (r.data !== undefined) parsed[key] = r.data;
    } else is.list.push(...zodIssues(r.error, [key], raw));
  }
  const d = parsed as Partial<SolutionDefinition>;
  checkIdentity(d, is);
  checkOperator(d, is);
  checkImages(d, is);
  checkComponents(d, is);
  checkStorageClasses(d, is);
  checkAlerts(d, is);
  checkDashboards(d, is);
  checkMonitors(d.serviceMonitors, 'serviceMonitors', is);
  checkMonitors(d.podMonitors, 'podMonitors', is);
  const crds = checkCrds(d, is);

  const ok = !is.list.some((i) => i.severity === 'error');
  if (!ok) return { ok, issues: is.list };
  const def = parsed as SolutionDefinition;
  return {
    ok,
    issues: is.list,
    solution: freezeDeep({
      name: def.name,
      version: def.version,
      id: `${def.name}-${def.version}`,
      displayName: def.displayName ?? def.name,
      definition: def,
      crds,
      warnings: is.list.filter((i) => i.severity === 'warning'),
    }),
  };
}

/** Re-exported for the JSON Schema generator and editors. */
export type { SolutionInput };
