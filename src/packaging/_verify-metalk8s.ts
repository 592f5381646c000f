/**
 * What MetalK8s itself relies on in a solution ISO, as `verify()` checks it: the primary-tree
 * `MANIFEST.YAML;1`, the manifest rules, Docker v2s2 image folders holding all their blobs,
 * one-document Jinja-safe `_crd.yaml` files, a Role/ClusterRole-only `role.yaml`, a Jinja-safe
 * `registry-config.inc.j2`, and only SDK-rendered, solution-owned objects under `platform/`.
 * Each check reads the small files the one hashing pass kept; none reads the image again,
 * except the primary-tree lookup. The trust checks (checksum, signature, the SDK index) stay
 * in `verify.ts`. Private to the packaging module.
 */
import { createHash } from 'node:crypto';
import type { Issue } from '../errors.js';
import type { IssueCode, SdkErrorCode } from '../error-codes.js';
import { SOLUTION_NAME_RE, solutionNameProblems } from '../solution/_names.js';
import { BLOB_NAME, yamlDocuments } from './_archive.js';
import { metalk8sYamlProblems } from './_metalk8s-yaml.js';
import { MediaTypes } from './images/media-types.js';
import type { IsoEntryInfo, IsoImage } from './iso/iso-reader.js';
import type { SdkIndex } from './pack.js';
import { SDK_INDEX_PATH } from './_sdk-index.js';
import { checkPlatformFile } from './platform-objects.js';

const SOLUTIONS_API = 'solutions.metalk8s.scality.com/v1alpha1';
const JINJA_RE = /\{\{|\{%|\{#/;
/** `images/<name>/<tag>/manifest.json`. */
const IMAGE_MANIFEST_RE = /^images\/([^/]+)\/([^/]+)\/manifest\.json$/;

/**
 * Whether one of the checks (here, in `verify.ts` and the solution rules) reads a file's
 * content. Only these files are kept from the hashing pass; every other file is hashed and
 * compared with the SDK index, never held in memory.
 */
export function readByChecks(path: string): boolean {
  return (
    path === SDK_INDEX_PATH ||
    path === 'manifest.yaml' ||
    path === 'registry-config.inc.j2' ||
    path === 'operator/deploy/role.yaml' ||
    path.startsWith('operator/deploy/crds/') ||
    path.startsWith('platform/') ||
    IMAGE_MANIFEST_RE.test(path)
  );
}

/** The issues a verification collects, in the order found. */
export class Issues {
  readonly list: Issue[] = [];
  error(code: IssueCode | SdkErrorCode, path: string, message: string, hint?: string): void {
    this.list.push({ code, path, message, severity: 'error', ...(hint ? { hint } : {}) });
  }
  warn(code: IssueCode, path: string, message: string, hint?: string): void {
    this.list.push({ code, path, message, severity: 'warning', ...(hint ? { hint } : {}) });
  }
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

export function checkManifest(bytes: Uint8Array | undefined, index: SdkIndex | undefined, issues: Issues): { name: string; version: string; images?: string[] } | undefined {
  if (bytes === undefined) {
    issues.error('MANIFEST_MISSING', 'manifest.yaml', 'the ISO has no /manifest.yaml', 'MetalK8s identifies a solution by its manifest.yaml: pack with `solution pack`.');
    return undefined;
  }
  const loading = metalk8sYamlProblems(Buffer.from(bytes).toString('utf8'), true);
  for (const p of loading) {
    issues.error('MANIFEST_YAML_UNSAFE', 'manifest.yaml', `${p}: MetalK8s would refuse the ISO or read another manifest than the SDK`, 'Write plain YAML: one document, no tags, no duplicate keys (pack with `solution pack`).');
  }
  const docs = yamlDocuments(bytes);
  const errs = docs.flatMap((d) => d.errors);
  const doc = docs.length === 1 ? docs[0]!.value : undefined;
  if (loading.length > 0) return undefined;
  if (errs.length > 0 || typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    issues.error('MANIFEST_INVALID_YAML', 'manifest.yaml', errs.length > 0 ? `not valid YAML: ${errs[0]}` : 'not one YAML mapping', 'Write one YAML document of kind Solution.');
    return undefined;
  }
  const m = doc as { apiVersion?: unknown; kind?: unknown; metadata?: { name?: unknown }; spec?: { version?: unknown; images?: unknown } };
  for (const key of ['metadata', 'spec'] as const) {
    if (m[key] !== undefined && (typeof m[key] !== 'object' || m[key] === null || Array.isArray(m[key]))) {
      issues.error('MANIFEST_INVALID_YAML', 'manifest.yaml', `${key} is not a mapping: MetalK8s' loader fails on it`, `Write ${key} as a YAML mapping.`);
      return undefined;
    }
  }
  // MetalK8s joins name and version into the id: both must be strings after YAML 1.1 loading.
  for (const [field, v] of [['metadata.name', m.metadata?.name], ['spec.version', m.spec?.version]] as const) {
    if (v !== undefined && v !== null && typeof v !== 'string') {
      issues.error(
        'MANIFEST_FIELD_NOT_STRING',
        'manifest.yaml',
        `${field} is read by YAML 1.1 as ${v instanceof Date ? 'a date' : `the ${typeof v} ${JSON.stringify(v)}`}, not a string: MetalK8s cannot build the id <name>-<version> from it`,
        `Quote it: ${field.split('.')[1]}: "${String(v)}".`,
      );
      return undefined;
    }
  }
  if (m.apiVersion !== SOLUTIONS_API) {
    issues.error('MANIFEST_API_VERSION', 'manifest.yaml', `apiVersion is ${JSON.stringify(m.apiVersion)}: MetalK8s mounts the ISO but skips it as "not a Solution"`, `Set apiVersion: ${SOLUTIONS_API}.`);
  }
  if (m.kind !== 'Solution') {
    issues.error('MANIFEST_KIND', 'manifest.yaml', `kind is ${JSON.stringify(m.kind)}: MetalK8s skips it as "not a Solution"`, 'Set kind: Solution.');
  }
  const name = str(m.metadata?.name);
  if (name === undefined) {
    issues.error('MANIFEST_NAME_MISSING', 'manifest.yaml', 'metadata.name is missing: MetalK8s refuses the ISO at mount time', 'Set metadata.name.');
  } else {
    const [p] = solutionNameProblems(name);
    if (p) issues.error(p.code, 'manifest.yaml', `metadata.name ${p.message}`, p.hint);
  }
  const version = m.spec?.version === undefined || m.spec?.version === null ? undefined : String(m.spec.version);
  if (version === undefined || version === '') {
    issues.error('MANIFEST_VERSION_MISSING', 'manifest.yaml', 'spec.version is missing: MetalK8s refuses the ISO at mount time', 'Set spec.version, e.g. "1.0.0".');
  }
  if (name !== undefined && version) {
    const id = `${name}-${version}`;
    if (SOLUTION_NAME_RE.test(name) && (!/^[a-z0-9.-]+$/.test(id) || id.length > 54)) {
      issues.error('MANIFEST_ID_INVALID', 'manifest.yaml', `"${id}" (name-version) must be lowercase [a-z0-9.-] and at most 54 characters: MetalK8s uses it in pod volume names and paths`, 'Use a version such as 1.2.3 or 1.2.3-rc.1 and a shorter name.');
    }
    if (index && (index.solution.name !== name || index.solution.version !== version)) {
      issues.error('MANIFEST_INDEX_MISMATCH', 'manifest.yaml', `says ${id}, ${SDK_INDEX_PATH} says ${index.solution.id}`, 'The manifest was edited after packing: pack again.');
    }
  }
  const images = Array.isArray(m.spec?.images) ? m.spec.images.map((i) => String(i)) : undefined;
  return name !== undefined && version ? { name, version, ...(images ? { images } : {}) } : undefined;
}

export async function checkPrimaryManifest(iso: IsoImage, issues: Issues): Promise<void> {
  const root = await iso.readdir('', { view: 'primary' });
  if (!root.some((e) => e.name === 'MANIFEST.YAML;1' && e.type === 'file')) {
    const near = root.find((e) => e.name.toUpperCase().startsWith('MANIFEST'));
    issues.error(
      'MANIFEST_NOT_IN_PRIMARY',
      'MANIFEST.YAML;1',
      `the primary ISO 9660 tree has no MANIFEST.YAML;1${near ? ` (found ${near.name})` : ''}: MetalK8s reads the manifest with \`isoinfo -x /MANIFEST.YAML\\;1\` and would refuse the ISO`,
      'Build the ISO with version numbers kept (no -N / -omit-version-number), as `solution pack` does.',
    );
  }
}

export function checkImages(
  files: readonly IsoEntryInfo[],
  small: Map<string, Uint8Array>,
  index: SdkIndex | undefined,
  listedImages: readonly string[] | undefined,
  issues: Issues,
): void {
  const byPath = new Map(files.map((f) => [f.path, f]));
  const hasImagesDir = files.some((f) => f.path.startsWith('images/'));
  if (!hasImagesDir) {
    issues.error('IMAGES_DIR_MISSING', 'images', 'the ISO has no images/ folder: MetalK8s refuses to make it available', 'Every solution ships at least its operator image.');
    return;
  }
  const tagDirs = new Set<string>();
  for (const f of files) {
    const m = /^images\/([^/]+)\/([^/]+)\/[^/]+$/.exec(f.path);
    if (m) tagDirs.add(`${m[1]}/${m[2]}`);
  }
  const present = new Set<string>();
  for (const dir of [...tagDirs].sort()) {
    const [name, tag] = dir.split('/') as [string, string];
    const mpath = `images/${dir}/manifest.json`;
    const bytes = small.get(mpath);
    if (bytes === undefined) {
      issues.error('IMAGE_MANIFEST_MISSING', `images/${dir}`, 'the image folder has no manifest.json: MetalK8s does not serve it', 'Lay images out with `solution pack` (skopeo dir: layout).');
      continue;
    }
    let doc: { schemaVersion?: unknown; mediaType?: unknown; config?: unknown; layers?: unknown };
    try {
      doc = JSON.parse(Buffer.from(bytes).toString('utf8')) as typeof doc;
    } catch {
      issues.error('IMAGE_MANIFEST_INVALID', mpath, 'manifest.json is not JSON', 'Lay the image out again.');
      continue;
    }
    if (doc?.schemaVersion !== 2 || doc.mediaType !== MediaTypes.dockerManifest) {
      issues.error('IMAGE_MANIFEST_NOT_V2S2', mpath, `not a Docker v2 schema 2 manifest (mediaType ${JSON.stringify(doc?.mediaType)}): MetalK8s' static registry silently skips it`, 'Convert it with `skopeo copy --format v2s2`, or let `solution pack` lay it out.');
      continue;
    }
    present.add(`${name}:${tag}`);
    const descriptors = [doc.config, ...(Array.isArray(doc.layers) ? doc.layers : [])] as { digest?: unknown; size?: unknown }[];
    for (const d of descriptors) {
      const digest = str(d?.digest);
      const hex = digest?.startsWith('sha256:') ? digest.slice(7) : undefined;
      if (!hex || !BLOB_NAME.test(hex)) {
        issues.error('IMAGE_MANIFEST_INVALID', mpath, `a descriptor has no sha256 digest (${JSON.stringify(d?.digest)})`, 'Lay the image out again.');
        continue;
      }
      // MetalK8s' nginx looks a blob up in every tag folder of the same image, never elsewhere.
      const found = [...tagDirs].filter((t) => t.startsWith(`${name}/`)).map((t) => byPath.get(`images/${t}/${hex}`)).find((e) => e !== undefined);
      if (!found) {
        issues.error('IMAGE_BLOB_MISSING', `images/${dir}/${hex}`, `${name}:${tag} needs blob ${digest}, absent from images/${name}/: pulls would fail with 404`, 'Each image folder must hold all of its blobs (share them with hard links, as `solution pack` does).');
      } else if (typeof d.size === 'number' && found.size !== d.size) {
        issues.error('IMAGE_BLOB_SIZE_MISMATCH', found.path, `has ${found.size} bytes, the manifest of ${name}:${tag} says ${d.size}`, 'Lay the image out again.');
      }
    }
    const entry = index?.images.find((i) => i.name === name && i.tag === tag);
    if (index && !entry) {
      issues.error('IMAGE_NOT_INDEXED', `images/${dir}`, `${name}:${tag} is not listed in ${SDK_INDEX_PATH}`, 'Pack the ISO again instead of editing it.');
    } else if (entry) {
      const actual = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
      if (actual !== entry.manifestDigest) {
        issues.error('IMAGE_DIGEST_MISMATCH', mpath, `digest is ${actual}, ${SDK_INDEX_PATH} says ${entry.manifestDigest}`, 'The image was changed after packing: pack again.');
      }
    }
  }
  for (const img of index?.images ?? []) {
    if (!tagDirs.has(`${img.name}/${img.tag}`)) {
      issues.error('IMAGE_MISSING', `images/${img.name}/${img.tag}`, `${img.name}:${img.tag} is listed in ${SDK_INDEX_PATH} but has no folder`, 'The ISO is incomplete: pack it again.');
    }
  }
  for (const ref of listedImages ?? []) {
    if (!present.has(ref)) {
      issues.error('IMAGE_LISTED_MISSING', 'manifest.yaml', `spec.images lists ${ref}, which the ISO does not serve: the operator would fail to pull it`, 'Add the image to the solution, or remove it from spec.images.');
    }
  }
}

export function checkRegistryConfig(small: Map<string, Uint8Array>, files: readonly IsoEntryInfo[], issues: Issues): void {
  const bytes = small.get('registry-config.inc.j2');
  if (bytes === undefined) {
    const plain = files.some((f) => f.path === 'registry-config.inc');
    issues.error(
      'REGISTRY_CONFIG_MISSING',
      'registry-config.inc.j2',
      `the ISO has no /registry-config.inc.j2${plain ? ' (it has registry-config.inc, which MetalK8s does not read)' : ''}: MetalK8s cannot serve its images`,
      "Generate it with static-container-registry.py --name-prefix '{{ repository }}' --server-root '{{ registry_root }}' --omit-constants, or use `solution pack`.",
    );
    return;
  }
  const text = Buffer.from(bytes).toString('utf8');
  const left = text.replace(/\{\{-?\s*(repository|registry_root)\s*-?\}\}/g, '');
  const m = JINJA_RE.exec(left);
  if (m) {
    const line = left.slice(0, m.index).split('\n').length;
    issues.error('REGISTRY_CONFIG_NOT_JINJA_SAFE', 'registry-config.inc.j2', `line ${line} holds Jinja syntax "${m[0]}" other than {{ repository }} and {{ registry_root }}: MetalK8s renders this file with Jinja`, 'Regenerate the snippet; image names and tags must not contain { or }.');
  }
  for (const p of small.keys()) {
    const im = IMAGE_MANIFEST_RE.exec(p);
    if (!im) continue;
    if (!text.includes(`/${im[1]}/manifests/${im[2]}"`)) {
      issues.error('REGISTRY_CONFIG_IMAGE_MISSING', 'registry-config.inc.j2', `has no location serving ${im[1]}:${im[2]}: the image would not be pullable`, 'Regenerate the snippet from the images/ folder.');
    }
  }
}

export function checkCrds(small: Map<string, Uint8Array>, files: readonly IsoEntryInfo[], issues: Issues): void {
  for (const f of files) {
    if (!f.path.startsWith('operator/deploy/crds/')) continue;
    if (!f.path.endsWith('_crd.yaml')) {
      issues.warn('CRD_FILE_IGNORED', f.path, 'MetalK8s only applies files ending in _crd.yaml: this file is ignored', 'Rename it to <group>_<plural>_crd.yaml if it is a CRD, or move it out of crds/.');
      continue;
    }
    const bytes = small.get(f.path);
    if (bytes === undefined) continue;
    const text = Buffer.from(bytes).toString('utf8');
    const j = JINJA_RE.exec(text);
    if (j) {
      const line = text.slice(0, j.index).split('\n').length;
      issues.error('CRD_JINJA_SYNTAX', f.path, `line ${line} holds "${j[0]}": MetalK8s renders CRD files with Jinja, which would fail or change it`, 'Remove {{, {% and {# from the CRD (descriptions included).');
    }
    // The document count has its own code below.
    const loading = metalk8sYamlProblems(text, false);
    for (const p of loading) issues.error('CRD_YAML_UNSAFE', f.path, `${p}`, 'Write plain YAML, one CRD per file.');
    if (loading.length > 0) continue;
    const docs = yamlDocuments(bytes);
    const errs = docs.flatMap((d) => d.errors);
    if (errs.length > 0) {
      issues.error('CRD_INVALID_YAML', f.path, `not valid YAML: ${errs[0]}`, 'Fix the YAML.');
      continue;
    }
    if (docs.length !== 1) {
      issues.error('CRD_DOCUMENT_COUNT', f.path, `holds ${docs.length} YAML documents: MetalK8s reads exactly one per file`, 'Put each CRD in its own _crd.yaml file.');
      continue;
    }
    const o = docs[0]!.value as { apiVersion?: unknown; kind?: unknown; metadata?: { name?: unknown } } | null;
    if (o?.kind !== 'CustomResourceDefinition' || typeof o.apiVersion !== 'string' || !o.apiVersion.startsWith('apiextensions.k8s.io/')) {
      issues.error('CRD_NOT_A_CRD', f.path, `is a ${JSON.stringify(o?.kind)} (${JSON.stringify(o?.apiVersion)}), not a CustomResourceDefinition`, 'Only CRDs belong in operator/deploy/crds/.');
    } else if (o.apiVersion !== 'apiextensions.k8s.io/v1') {
      issues.error('CRD_API_VERSION_UNSERVED', f.path, `uses ${o.apiVersion}, which no Kubernetes that MetalK8s runs serves (removed in 1.22): activation would fail`, 'Convert the CRD to apiextensions.k8s.io/v1.');
    }
  }
}

export function checkRoles(small: Map<string, Uint8Array>, issues: Issues): void {
  const bytes = small.get('operator/deploy/role.yaml');
  if (bytes === undefined) return;
  const loading = metalk8sYamlProblems(Buffer.from(bytes).toString('utf8'), false);
  for (const p of loading) issues.error('ROLE_YAML_UNSAFE', 'operator/deploy/role.yaml', p, 'Write plain YAML documents of kind Role or ClusterRole.');
  if (loading.length > 0) return;
  const docs = yamlDocuments(bytes);
  docs.forEach((d, i) => {
    if (d.errors.length > 0) {
      issues.error('ROLE_INVALID_YAML', 'operator/deploy/role.yaml', `document ${i + 1} is not valid YAML: ${d.errors[0]}`, 'Fix the YAML.');
      return;
    }
    const kind = (d.value as { kind?: unknown } | null)?.kind;
    if (kind !== 'Role' && kind !== 'ClusterRole') {
      issues.error('ROLE_KIND_FORBIDDEN', 'operator/deploy/role.yaml', `document ${i + 1} is a ${JSON.stringify(kind)}: MetalK8s only accepts Role and ClusterRole and fails with "Forbidden object kind"`, 'Keep only Role and ClusterRole documents; MetalK8s creates the bindings itself.');
    }
  });
}

/** `platform/`: only the objects the SDK renders, owned by the solution (what `activate` would refuse). */
export function checkPlatform(small: Map<string, Uint8Array>, files: readonly IsoEntryInfo[], solution: string | undefined, issues: Issues): void {
  for (const f of files) {
    if (!f.path.startsWith('platform/')) continue;
    // Without a valid name nothing is activated (the manifest error says why).
    if (solution === undefined || solutionNameProblems(solution).length > 0) return;
    const bytes = small.get(f.path);
    if (bytes === undefined) {
      issues.error('PLATFORM_OBJECT_FORBIDDEN', f.path, 'too large to be an object the SDK renders', 'Do not import this ISO.');
      continue;
    }
    issues.list.push(...checkPlatformFile(f.path, bytes, solution).issues);
  }
}
