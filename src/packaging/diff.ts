/**
 * `diff()`: what changed between two versions of a solution ISO, as a vendor reads it before
 * shipping an upgrade: images (added, removed, new digests), CRDs (versions and fields added or
 * removed; removals, fields that became required or changed type are breaking), operator
 * permissions, StorageClasses (a changed parameter is breaking: Kubernetes refuses to update
 * StorageClass parameters), alerts, dashboards and monitors.
 *
 * {@link diffContents} is the pure comparison of two file trees; {@link diff} reads two ISOs.
 *
 * @module
 */
import { createHash } from 'node:crypto';
import { resolve } from 'node:path';
import { archiveFiles, cmp, imageFolders, isCrdFile, type ArchiveObject, nameOf, readSmallFiles, yamlDocuments, yamlObject } from './_archive.js';
import { openIso } from './iso/iso-reader.js';

/** What a change is about. */
export type ChangeCategory = 'manifest' | 'image' | 'crd' | 'permission' | 'storageclass' | 'alert' | 'dashboard' | 'monitor' | 'other';

/** Every category, in the order changes are reported. */
export const CHANGE_CATEGORIES = ['manifest', 'image', 'crd', 'permission', 'storageclass', 'alert', 'dashboard', 'monitor', 'other'] as const satisfies readonly ChangeCategory[];

/** One difference between the old and the new archive. */
export interface Change {
  readonly category: ChangeCategory;
  readonly action: 'added' | 'removed' | 'changed';
  /** What changed: `zenkos.zenko.io v1alpha2 spec.redis`, `cloudserver`, `zenko-mongodb parameters.fsType`. */
  readonly subject: string;
  /** One readable sentence. */
  readonly message: string;
  /** Whether existing installations or custom resources may break on upgrade. */
  readonly breaking: boolean;
  readonly before?: string | undefined;
  readonly after?: string | undefined;
}

/** The files of an archive, by path (image blobs may be left out). */
export interface ArchiveContents {
  readonly files: ReadonlyMap<string, Uint8Array>;
}

/** What {@link diff} found. */
export interface DiffResult {
  readonly old: { readonly name: string; readonly version: string };
  readonly new: { readonly name: string; readonly version: string };
  /** Every change, grouped by category (manifest, image, crd, permission, storageclass, alert, dashboard, monitor, other), then by subject. */
  readonly changes: readonly Change[];
  /** Number of breaking changes. */
  readonly breaking: number;
}

/** Options of {@link diff}. */
export interface DiffOptions {
  /** The version installed today. */
  readonly oldPath: string;
  /** The version to ship. */
  readonly newPath: string;
  readonly signal?: AbortSignal | undefined;
}

type Add = (c: Omit<Change, 'breaking'> & { breaking?: boolean }) => void;

function text(v: unknown): string {
  return typeof v === 'string' ? v : JSON.stringify(v);
}

function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(canonical(a)) === JSON.stringify(canonical(b));
}

function canonical(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canonical);
  if (typeof v === 'object' && v !== null) {
    return Object.fromEntries(Object.keys(v).sort().map((k) => [k, canonical((v as Record<string, unknown>)[k])]));
  }
  return v;
}

function objectsOf(files: ReadonlyMap<string, Uint8Array>, pred: (path: string) => boolean): ArchiveObject[] {
  const out: ArchiveObject[] = [];
  for (const [p, bytes] of files) {
    if (!pred(p)) continue;
    for (const d of yamlDocuments(bytes)) if (typeof d.value === 'object' && d.value !== null) out.push(d.value as ArchiveObject);
  }
  return out;
}

function byName(list: readonly ArchiveObject[], key: (o: ArchiveObject) => string = nameOf): Map<string, ArchiveObject> {
  return new Map(list.map((o) => [key(o), o]));
}

function keyed<T>(a: ReadonlyMap<string, T>, b: ReadonlyMap<string, T>, fn: (key: string, before: T | undefined, after: T | undefined) => void): void {
  for (const k of [...new Set([...a.keys(), ...b.keys()])].sort(cmp)) fn(k, a.get(k), b.get(k));
}

// ---- manifest ----

function diffManifest(a: ArchiveObject | undefined, b: ArchiveObject | undefined, add: Add): void {
  const spec = (o: ArchiveObject | undefined) => (o?.spec ?? {}) as { version?: unknown; operator?: { image?: unknown; metrics?: unknown } };
  const va = text(spec(a).version);
  const vb = text(spec(b).version);
  if (nameOf(a) !== nameOf(b)) {
    add({ category: 'manifest', action: 'changed', subject: 'metadata.name', message: `solution name changed from ${nameOf(a)} to ${nameOf(b)}: MetalK8s sees a different solution, not an upgrade`, breaking: true, before: nameOf(a), after: nameOf(b) });
  }
  if (va !== vb) add({ category: 'manifest', action: 'changed', subject: 'spec.version', message: `version ${va} → ${vb}`, before: va, after: vb });
  const image = (v: unknown) => {
    const i = v as { name?: unknown; tag?: unknown } | undefined;
    return i ? `${text(i.name ?? '')}:${text(i.tag ?? '')}` : '(default)';
  };
  const ia = image(spec(a).operator?.image);
  const ib = image(spec(b).operator?.image);
  if (ia !== ib) add({ category: 'manifest', action: 'changed', subject: 'spec.operator.image', message: `operator image ${ia} → ${ib}`, before: ia, after: ib });
  const ma = spec(a).operator?.metrics;
  const mb = spec(b).operator?.metrics;
  if (!same(ma, mb)) add({ category: 'manifest', action: 'changed', subject: 'spec.operator.metrics', message: `operator metrics ${text(ma ?? null)} → ${text(mb ?? null)}`, before: text(ma ?? null), after: text(mb ?? null) });
}

// ---- images ----

function imagesOf(files: ReadonlyMap<string, Uint8Array>): Map<string, Map<string, string>> {
  const out = new Map<string, Map<string, string>>();
  for (const { name, tag } of imageFolders(files.keys())) {
    const bytes = files.get(`images/${name}/${tag}/manifest.json`)!;
    if (!out.has(name)) out.set(name, new Map());
    out.get(name)!.set(tag, `sha256:${createHash('sha256').update(bytes).digest('hex')}`);
  }
  return out;
}

function diffImages(a: Map<string, Map<string, string>>, b: Map<string, Map<string, string>>, add: Add): void {
  keyed(a, b, (name, ta, tb) => {
    if (!ta) {
      for (const [tag, d] of tb!) add({ category: 'image', action: 'added', subject: `${name}:${tag}`, message: `image ${name}:${tag} added (${d})`, after: d });
      return;
    }
    if (!tb) {
      for (const [tag, d] of ta) add({ category: 'image', action: 'removed', subject: `${name}:${tag}`, message: `image ${name}:${tag} removed`, before: d });
      return;
    }
    const onlyA = [...ta.keys()].filter((t) => !tb.has(t));
    const onlyB = [...tb.keys()].filter((t) => !ta.has(t));
    if (onlyA.length === 1 && onlyB.length === 1) {
      const [x, y] = [onlyA[0]!, onlyB[0]!];
      add({ category: 'image', action: 'changed', subject: name, message: `image ${name} ${x} → ${y} (${tb.get(y)})`, before: `${x}@${ta.get(x)}`, after: `${y}@${tb.get(y)}` });
    } else {
      for (const t of onlyA) add({ category: 'image', action: 'removed', subject: `${name}:${t}`, message: `image ${name}:${t} removed`, before: ta.get(t) });
      for (const t of onlyB) add({ category: 'image', action: 'added', subject: `${name}:${t}`, message: `image ${name}:${t} added (${tb.get(t)})`, after: tb.get(t) });
    }
    for (const [t, d] of ta) {
      const e = tb.get(t);
      if (e && e !== d) add({ category: 'image', action: 'changed', subject: `${name}:${t}`, message: `image ${name}:${t} has new content under the same tag (${d} → ${e}): nodes that cached the old one may keep running it`, before: d, after: e });
    }
  });
}

// ---- CRDs ----

interface Field {
  readonly type: string;
  readonly required: boolean;
  readonly enum: readonly string[] | undefined;
}

type Schema = { type?: unknown; properties?: unknown; required?: unknown; items?: unknown; additionalProperties?: unknown; enum?: unknown; 'x-kubernetes-int-or-string'?: unknown };

function fieldsOf(schema: Schema | undefined, prefix: string, required: boolean, out: Map<string, Field>): Map<string, Field> {
  if (typeof schema !== 'object' || schema === null) return out;
  const type = schema['x-kubernetes-int-or-string'] === true ? 'int-or-string' : typeof schema.type === 'string' ? schema.type : 'any';
  if (prefix !== '') out.set(prefix, { type, required, enum: Array.isArray(schema.enum) ? schema.enum.map((e) => text(e)) : undefined });
  const req = new Set(Array.isArray(schema.required) ? schema.required.map(String) : []);
  if (typeof schema.properties === 'object' && schema.properties !== null) {
    for (const [k, v] of Object.entries(schema.properties)) fieldsOf(v as Schema, prefix ? `${prefix}.${k}` : k, req.has(k), out);
  }
  if (typeof schema.items === 'object' && schema.items !== null) fieldsOf(schema.items as Schema, `${prefix}[]`, false, out);
  if (typeof schema.additionalProperties === 'object' && schema.additionalProperties !== null) fieldsOf(schema.additionalProperties as Schema, `${prefix}{}`, false, out);
  return out;
}

function parentOf(path: string): string {
  const m = /^(.*)(\.[^.[{]+|\[\]|\{\})$/.exec(path);
  return m ? m[1]! : '';
}

type CrdVersion = { name?: unknown; served?: unknown; storage?: unknown; schema?: { openAPIV3Schema?: Schema } };

function diffCrdVersion(crd: string, v: string, a: CrdVersion, b: CrdVersion, add: Add): void {
  if (a.served !== false && b.served === false) add({ category: 'crd', action: 'changed', subject: `${crd} ${v}`, message: `${crd} version ${v} is no longer served: clients and stored objects using it break`, breaking: true });
  if (a.served === false && b.served !== false) add({ category: 'crd', action: 'changed', subject: `${crd} ${v}`, message: `${crd} version ${v} is served again` });
  if (a.storage !== true && b.storage === true) add({ category: 'crd', action: 'changed', subject: `${crd} ${v}`, message: `${crd} stores objects as ${v} from now on` });
  const fa = fieldsOf(a.schema?.openAPIV3Schema, '', false, new Map());
  const fb = fieldsOf(b.schema?.openAPIV3Schema, '', false, new Map());
  keyed(fa, fb, (path, x, y) => {
    const subject = `${crd} ${v} ${path}`;
    if (x && !y) {
      if (fa.has(parentOf(path)) && !fb.has(parentOf(path)) && parentOf(path) !== '') return;
      add({ category: 'crd', action: 'removed', subject, message: `field ${path} of ${crd} ${v} removed: existing objects that set it lose it (or are rejected)`, breaking: true, before: x.type });
      return;
    }
    if (!x && y) {
      if (fb.has(parentOf(path)) && !fa.has(parentOf(path)) && parentOf(path) !== '') {
        // Inside a new field: a required child only matters if the new parent is required.
        return;
      }
      add({ category: 'crd', action: 'added', subject, message: `field ${path} of ${crd} ${v} added${y.required ? ' as required: existing objects without it become invalid' : ''}`, breaking: y.required, after: y.type });
      return;
    }
    if (!x || !y) return;
    if (x.type !== y.type) add({ category: 'crd', action: 'changed', subject, message: `field ${path} of ${crd} ${v} changed type ${x.type} → ${y.type}`, breaking: true, before: x.type, after: y.type });
    if (!x.required && y.required) add({ category: 'crd', action: 'changed', subject, message: `field ${path} of ${crd} ${v} became required: existing objects without it become invalid`, breaking: true });
    if (x.required && !y.required) add({ category: 'crd', action: 'changed', subject, message: `field ${path} of ${crd} ${v} is now optional` });
    if (x.enum || y.enum) {
      const removed = (x.enum ?? []).filter((e) => y.enum && !y.enum.includes(e));
      const added = (y.enum ?? []).filter((e) => !x.enum?.includes(e));
      if (removed.length > 0) add({ category: 'crd', action: 'changed', subject, message: `field ${path} of ${crd} ${v} no longer accepts ${removed.join(', ')}`, breaking: true });
      if (!x.enum && y.enum) add({ category: 'crd', action: 'changed', subject, message: `field ${path} of ${crd} ${v} is now restricted to ${y.enum.join(', ')}`, breaking: true });
      else if (added.length > 0) add({ category: 'crd', action: 'changed', subject, message: `field ${path} of ${crd} ${v} also accepts ${added.join(', ')}` });
    }
  });
}

function diffCrds(a: Map<string, ArchiveObject>, b: Map<string, ArchiveObject>, add: Add): void {
  keyed(a, b, (name, x, y) => {
    if (!x) {
      add({ category: 'crd', action: 'added', subject: name, message: `CRD ${name} added` });
      return;
    }
    if (!y) {
      add({ category: 'crd', action: 'removed', subject: name, message: `CRD ${name} removed: deleting a CRD deletes every object of its kind`, breaking: true });
      return;
    }
    const sx = (x.spec ?? {}) as { scope?: unknown; versions?: unknown };
    const sy = (y.spec ?? {}) as { scope?: unknown; versions?: unknown };
    if (sx.scope !== sy.scope) add({ category: 'crd', action: 'changed', subject: name, message: `CRD ${name} scope ${text(sx.scope)} → ${text(sy.scope)}`, breaking: true });
    const vx = new Map((Array.isArray(sx.versions) ? (sx.versions as CrdVersion[]) : []).map((v) => [text(v.name), v]));
    const vy = new Map((Array.isArray(sy.versions) ? (sy.versions as CrdVersion[]) : []).map((v) => [text(v.name), v]));
    keyed(vx, vy, (v, p, q) => {
      if (!p) add({ category: 'crd', action: 'added', subject: `${name} ${v}`, message: `CRD ${name} version ${v} added` });
      else if (!q) add({ category: 'crd', action: 'removed', subject: `${name} ${v}`, message: `CRD ${name} version ${v} removed: objects and clients using it break`, breaking: true });
      else diffCrdVersion(name, v, p, q, add);
    });
  });
}

/** The CRDs of an archive (`operator/deploy/crds/**\/*_crd.yaml`), by name. */
function crdsOf(files: ReadonlyMap<string, Uint8Array>): Map<string, ArchiveObject> {
  return byName(objectsOf(files, isCrdFile));
}

/**
 * The CRD part of {@link diffContents}: CRDs, versions and schema fields added, removed or changed
 * between two archives (only their `operator/deploy/crds/**\/*_crd.yaml` files are read). The upgrade of a solution in
 * an environment warns with the breaking ones.
 *
 * @example
 * const breaking = crdChanges({ files: render(v1).files }, { files: render(v2).files }).filter((c) => c.breaking);
 */
export function crdChanges(oldArchive: ArchiveContents, newArchive: ArchiveContents): Change[] {
  const changes: Change[] = [];
  diffCrds(crdsOf(oldArchive.files), crdsOf(newArchive.files), (c) => changes.push({ ...c, breaking: c.breaking ?? false }));
  return changes;
}

// ---- permissions ----

function triples(role: ArchiveObject): Set<string> {
  const out = new Set<string>();
  for (const r of (Array.isArray(role.rules) ? role.rules : []) as { apiGroups?: unknown; resources?: unknown; verbs?: unknown; nonResourceURLs?: unknown; resourceNames?: unknown }[]) {
    const list = (v: unknown) => (Array.isArray(v) ? v.map(String) : []);
    const names = list(r.resourceNames);
    const suffix = names.length > 0 ? ` (names ${names.join(',')})` : '';
    for (const verb of list(r.verbs)) {
      for (const g of list(r.apiGroups)) for (const res of list(r.resources)) out.add(`${verb} ${g === '' ? 'core' : g}/${res}${suffix}`);
      for (const u of list(r.nonResourceURLs)) out.add(`${verb} ${u}`);
    }
  }
  return out;
}

function diffRoles(a: readonly ArchiveObject[], b: readonly ArchiveObject[], idA: string, idB: string, add: Add): void {
  // ClusterRole names carry the solution id (name-version): compare them across versions.
  const key = (id: string) => (o: ArchiveObject) => `${text(o.kind)} ${id ? nameOf(o).split(id).join('<id>') : nameOf(o)}`;
  const ma = byName(a, key(idA));
  const mb = byName(b, key(idB));
  keyed(ma, mb, (k, x, y) => {
    if (!x) add({ category: 'permission', action: 'added', subject: k, message: `${k} added with ${triples(y!).size} permission(s): review what the operator may now do` });
    else if (!y) add({ category: 'permission', action: 'removed', subject: k, message: `${k} removed` });
    else {
      const tx = triples(x);
      const ty = triples(y);
      const added = [...ty].filter((t) => !tx.has(t)).sort(cmp);
      const removed = [...tx].filter((t) => !ty.has(t)).sort(cmp);
      if (added.length > 0) add({ category: 'permission', action: 'added', subject: k, message: `${k} gains ${added.join('; ')}`, after: added.join('; ') });
      if (removed.length > 0) add({ category: 'permission', action: 'removed', subject: k, message: `${k} loses ${removed.join('; ')}`, before: removed.join('; ') });
    }
  });
}

// ---- platform objects ----

const IMMUTABLE_SC_FIELDS = ['provisioner', 'reclaimPolicy', 'volumeBindingMode'] as const;

function diffStorageClasses(a: Map<string, ArchiveObject>, b: Map<string, ArchiveObject>, add: Add): void {
  keyed(a, b, (name, x, y) => {
    if (!x) return add({ category: 'storageclass', action: 'added', subject: name, message: `StorageClass ${name} added` });
    if (!y) return add({ category: 'storageclass', action: 'removed', subject: name, message: `StorageClass ${name} removed: volumes and claims of the installed version still name it`, breaking: true });
    const px = (x.parameters ?? {}) as Record<string, unknown>;
    const py = (y.parameters ?? {}) as Record<string, unknown>;
    for (const k of [...new Set([...Object.keys(px), ...Object.keys(py)])].sort(cmp)) {
      if (same(px[k], py[k])) continue;
      add({
        category: 'storageclass',
        action: px[k] === undefined ? 'added' : py[k] === undefined ? 'removed' : 'changed',
        subject: `${name} parameters.${k}`,
        message: `StorageClass ${name} parameter ${k} ${text(px[k] ?? null)} → ${text(py[k] ?? null)}: parameters are immutable, the upgrade must delete and recreate the StorageClass`,
        breaking: true,
        before: px[k] === undefined ? undefined : text(px[k]),
        after: py[k] === undefined ? undefined : text(py[k]),
      });
    }
    for (const f of IMMUTABLE_SC_FIELDS) {
      if (!same(x[f], y[f])) add({ category: 'storageclass', action: 'changed', subject: `${name} ${f}`, message: `StorageClass ${name} ${f} ${text(x[f] ?? null)} → ${text(y[f] ?? null)}: immutable in Kubernetes`, breaking: true });
    }
    for (const f of ['mountOptions', 'allowVolumeExpansion'] as const) {
      if (!same(x[f], y[f])) add({ category: 'storageclass', action: 'changed', subject: `${name} ${f}`, message: `StorageClass ${name} ${f} ${text(x[f] ?? null)} → ${text(y[f] ?? null)} (new volumes only)` });
    }
  });
}

type Rule = { alert?: unknown; record?: unknown; expr?: unknown; for?: unknown; labels?: unknown; annotations?: unknown };

function alertRules(objs: readonly ArchiveObject[]): Map<string, Rule> {
  const out = new Map<string, Rule>();
  for (const o of objs) {
    for (const g of ((o.spec as { groups?: unknown } | undefined)?.groups ?? []) as { name?: unknown; rules?: unknown }[]) {
      for (const r of (Array.isArray(g.rules) ? g.rules : []) as Rule[]) out.set(`${text(g.name)}/${text(r.alert ?? r.record)}`, r);
    }
  }
  return out;
}

function diffAlerts(a: Map<string, Rule>, b: Map<string, Rule>, add: Add): void {
  keyed(a, b, (k, x, y) => {
    if (!x) return add({ category: 'alert', action: 'added', subject: k, message: `alert ${k} added${y!.expr ? `: ${text(y!.expr)}` : ''}` });
    if (!y) return add({ category: 'alert', action: 'removed', subject: k, message: `alert ${k} removed` });
    const parts: string[] = [];
    if (!same(x.expr, y.expr)) parts.push(`expr ${text(x.expr)} → ${text(y.expr)}`);
    if (!same(x.for, y.for)) parts.push(`for ${text(x.for ?? null)} → ${text(y.for ?? null)}`);
    if (!same(x.labels, y.labels)) parts.push(`labels ${text(x.labels ?? {})} → ${text(y.labels ?? {})}`);
    if (!same(x.annotations, y.annotations)) parts.push('annotations changed');
    if (parts.length > 0) add({ category: 'alert', action: 'changed', subject: k, message: `alert ${k}: ${parts.join('; ')}` });
  });
}

function dashboardTitle(o: ArchiveObject): string {
  for (const v of Object.values((o.data ?? {}) as Record<string, unknown>)) {
    try {
      const t = (JSON.parse(String(v)) as { title?: unknown }).title;
      if (typeof t === 'string') return t;
    } catch {
      // Not JSON: no title.
    }
  }
  return nameOf(o);
}

function diffSimple(category: ChangeCategory, label: string, a: Map<string, ArchiveObject>, b: Map<string, ArchiveObject>, add: Add, title: (o: ArchiveObject) => string = nameOf): void {
  keyed(a, b, (k, x, y) => {
    const t = y ? title(y) : '';
    if (!x) add({ category, action: 'added', subject: k, message: `${label} ${k} added${t && !k.endsWith(t) ? ` (${t})` : ''}` });
    else if (!y) add({ category, action: 'removed', subject: k, message: `${label} ${k} removed` });
    else if (!same({ ...x, metadata: undefined }, { ...y, metadata: undefined }) || !same(labelsOf(x), labelsOf(y))) {
      add({ category, action: 'changed', subject: k, message: `${label} ${k} changed` });
    }
  });
}

function labelsOf(o: ArchiveObject): unknown {
  const l = (o.metadata as { labels?: Record<string, unknown> } | undefined)?.labels ?? {};
  // The version label changes with every release: not a change worth reporting.
  const { 'app.kubernetes.io/version': _, ...rest } = l;
  return rest;
}

/**
 * Compares two archives given as file trees (paths as in the ISO; blobs may be absent).
 *
 * @example
 * const result = diffContents({ files: render(v1).files }, { files: render(v2).files });
 * for (const c of result.changes) console.log(c.breaking ? 'BREAKING' : '', c.message);
 */
export function diffContents(oldArchive: ArchiveContents, newArchive: ArchiveContents): DiffResult {
  const changes: Change[] = [];
  const add: Add = (c) => changes.push({ ...c, breaking: c.breaking ?? false });
  const ma = yamlObject(oldArchive.files.get('manifest.yaml'));
  const mb = yamlObject(newArchive.files.get('manifest.yaml'));
  const idOf = (m: ArchiveObject | undefined) => {
    const v = (m?.spec as { version?: unknown } | undefined)?.version;
    return nameOf(m) && v !== undefined ? `${nameOf(m)}-${text(v)}` : '';
  };
  diffManifest(ma, mb, add);
  diffImages(imagesOf(oldArchive.files), imagesOf(newArchive.files), add);
  diffCrds(crdsOf(oldArchive.files), crdsOf(newArchive.files), add);
  const roles = (f: ReadonlyMap<string, Uint8Array>) => objectsOf(f, (p) => p === 'operator/deploy/role.yaml');
  diffRoles(roles(oldArchive.files), roles(newArchive.files), idOf(ma), idOf(mb), add);
  const platform = (f: ReadonlyMap<string, Uint8Array>) => objectsOf(f, (p) => p.startsWith('platform/'));
  const pa = platform(oldArchive.files);
  const pb = platform(newArchive.files);
  const ofKind = (list: readonly ArchiveObject[], ...kinds: string[]) => list.filter((o) => kinds.includes(text(o.kind)));
  diffStorageClasses(byName(ofKind(pa, 'StorageClass')), byName(ofKind(pb, 'StorageClass')), add);
  diffAlerts(alertRules(ofKind(pa, 'PrometheusRule')), alertRules(ofKind(pb, 'PrometheusRule')), add);
  const isDashboard = (o: ArchiveObject) => o.kind === 'ConfigMap' && (o.metadata as { labels?: Record<string, unknown> } | undefined)?.labels?.grafana_dashboard === '1';
  diffSimple('dashboard', 'dashboard', byName(pa.filter(isDashboard)), byName(pb.filter(isDashboard)), add, dashboardTitle);
  const monitorKey = (o: ArchiveObject) => `${text(o.kind)} ${nameOf(o)}`;
  diffSimple('monitor', '', byName(ofKind(pa, 'ServiceMonitor', 'PodMonitor'), monitorKey), byName(ofKind(pb, 'ServiceMonitor', 'PodMonitor'), monitorKey), add);
  const known = ['StorageClass', 'PrometheusRule', 'ServiceMonitor', 'PodMonitor'];
  const other = (list: readonly ArchiveObject[]) => byName(list.filter((o) => !known.includes(text(o.kind)) && !isDashboard(o)), monitorKey);
  diffSimple('other', '', other(pa), other(pb), add);
  const order = new Map<ChangeCategory, number>(CHANGE_CATEGORIES.map((c, i) => [c, i]));
  const sorted = changes
    .map((c, i) => ({ c, i }))
    .sort((x, y) => order.get(x.c.category)! - order.get(y.c.category)! || x.i - y.i)
    .map(({ c }) => ({ ...c, message: c.message.replace(/^ /, '') }));
  const version = (m: ArchiveObject | undefined) => text((m?.spec as { version?: unknown } | undefined)?.version ?? '');
  return {
    old: { name: nameOf(ma), version: version(ma) },
    new: { name: nameOf(mb), version: version(mb) },
    changes: sorted,
    breaking: sorted.filter((c) => c.breaking).length,
  };
}

async function readArchive(path: string, signal: AbortSignal | undefined): Promise<ArchiveContents> {
  const iso = await openIso(resolve(path), { signal });
  try {
    return { files: await readSmallFiles(iso, await archiveFiles(iso, signal), signal) };
  } finally {
    await iso.close();
  }
}

/**
 * Compares two solution ISOs: what a vendor reads before shipping an upgrade. Only small files
 * are read (manifests, CRDs, roles, platform objects); image blobs are compared by digest.
 *
 * @example
 * const result = await diff({ oldPath: 'zenko-2.6.0.iso', newPath: 'zenko-2.7.0.iso' });
 * if (result.breaking > 0) console.error(result.changes.filter((c) => c.breaking));
 */
export async function diff(options: DiffOptions): Promise<DiffResult> {
  const [a, b] = [await readArchive(options.oldPath, options.signal), await readArchive(options.newPath, options.signal)];
  return diffContents(a, b);
}
