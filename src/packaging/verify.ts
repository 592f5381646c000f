/**
 * `verify()`: checks a solution ISO the way a cautious operator would before importing it:
 * its `SHA256SUM` line, its Ed25519 signature, every file against `/sdk/index.json`, every
 * image blob against its digest, and everything MetalK8s itself relies on (the primary-tree
 * `MANIFEST.YAML;1`, the manifest rules, Docker v2s2 image folders holding all their blobs,
 * one-document Jinja-safe `_crd.yaml` files, a Role/ClusterRole-only `role.yaml`, a Jinja-safe
 * `registry-config.inc.j2`), and the rules `validateSolution` applies, on the CRDs, roles and
 * platform objects the ISO holds (apiextensions' CRD rules, RBAC as MetalK8s binds it, rule groups
 * as promtool checks them, StorageClass options, selectors, dashboard queries).
 *
 * The image is read once, sequentially: the whole-image sha256 and every file's sha256 are
 * computed in the same pass, and content shared by several files (identical layers) is hashed
 * once. ISOs built by other tools are checked as far as they allow: without `/sdk/index.json`
 * a warning is given and the blob and MetalK8s checks still run.
 *
 * @module
 */
import { createHash, createPublicKey, type KeyObject, verify as verifySignature } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { type Issue, IsoError, PackagingError, SdkError } from '../errors.js';
import { checkArchiveObjects } from '../solution/_archive-rules.js';
import { SOLUTION_NAME_RE, solutionNameProblems } from '../solution/_names.js';
import { archiveFiles, BLOB_NAME, isBlobPath, parseSdkIndex, yamlDocuments } from './_archive.js';
import { checksumsOf } from './_checksum-file.js';
import { hashImage } from './_hash-image.js';
import { metalk8sYamlProblems } from './_metalk8s-yaml.js';
import { MediaTypes } from './images/media-types.js';
import { type IsoEntryInfo, type IsoImage, openIso } from './iso/iso-reader.js';
import { SDK_INDEX_PATH, type SdkIndex, signatureMessage } from './pack.js';
import { checkPlatformFile } from './platform-objects.js';
import type { IssueCode, SdkErrorCode } from '../error-codes.js';

/** Files up to this size are read for the checks (manifest, index, CRDs, roles, platform objects). */
const SMALL_FILE_MAX = 64 * 1024 * 1024;

/** Progress of {@link verify}. */
export type VerifyProgressEvent =
  | { readonly type: 'phase'; readonly phase: 'open' | 'read' | 'metalk8s' }
  | { readonly type: 'read'; readonly bytesRead: number; readonly bytesTotal: number };

/** Options of {@link verify}. */
export interface VerifyOptions {
  /** The ISO to check. */
  readonly path: string;
  /**
   * Ed25519 public key (PEM text or KeyObject) the ISO must be signed with. When given, a
   * missing or wrong `<iso>.sig` is an error.
   * @default none: a signature present beside the ISO is reported as not checked
   */
  readonly publicKey?: string | KeyObject | undefined;
  /** The detached signature file. @default `<iso>.sig` */
  readonly signaturePath?: string | undefined;
  /** The checksum file. @default `SHA256SUM` beside the ISO (a warning when absent) */
  readonly checksumPath?: string | undefined;
  readonly onProgress?: ((event: VerifyProgressEvent) => void) | undefined;
  readonly signal?: AbortSignal | undefined;
}

/** What {@link verify} found. */
export interface VerifyResult {
  /** Absolute path of the ISO. */
  readonly path: string;
  /** Size of the file, in bytes. */
  readonly size: number;
  /** sha256 of the whole file, hex. */
  readonly sha256: string;
  /** No error-severity issue. */
  readonly ok: boolean;
  /** Every problem found, errors and warnings, in check order. */
  readonly issues: readonly Issue[];
  /** `SHA256SUM`: the line matched, did not, or there was none. */
  readonly checksum: 'match' | 'mismatch' | 'absent';
  /** The signature: valid, invalid, missing while a key was given, or present but no key given. */
  readonly signature: 'valid' | 'invalid' | 'missing' | 'unchecked' | 'absent';
  /** Whether the ISO carries `/sdk/index.json`. */
  readonly indexed: boolean;
  /** Regular files whose content was hashed. */
  readonly filesChecked: number;
  /** Image blobs whose digest was checked. */
  readonly blobsChecked: number;
  /** Name and version from `manifest.yaml`, when readable. */
  readonly solution?: { readonly name: string; readonly version: string } | undefined;
}

const SOLUTIONS_API = 'solutions.metalk8s.scality.com/v1alpha1';
const JINJA_RE = /\{\{|\{%|\{#/;

class Issues {
  readonly list: Issue[] = [];
  error(code: IssueCode | SdkErrorCode, path: string, message: string, hint?: string): void {
    this.list.push({ code, path, message, severity: 'error', ...(hint ? { hint } : {}) });
  }
  warn(code: IssueCode, path: string, message: string, hint?: string): void {
    this.list.push({ code, path, message, severity: 'warning', ...(hint ? { hint } : {}) });
  }
}

function publicKeyOf(key: string | KeyObject): KeyObject {
  // A private key would verify too (its public half is inside), but whoever holds it can sign
  // anything: it must never be handed to the people who verify.
  if ((typeof key === 'string' && /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/.test(key)) || (typeof key !== 'string' && key.type === 'private')) {
    throw new PackagingError('VERIFY_KEY_IS_PRIVATE', 'the verification key is a private key; verify takes the public key', {
      hint: 'Give the public half (`solution keygen` writes it as <name>.pub.pem, or `openssl pkey -in sign.pem -pubout`), and keep the private key on the build machine only.',
    });
  }
  try {
    const k = typeof key === 'string' ? createPublicKey(key) : key;
    if (k.asymmetricKeyType !== 'ed25519') throw new Error(`a ${k.asymmetricKeyType ?? k.type} key`);
    return k;
  } catch (err) {
    throw new PackagingError('VERIFY_KEY_INVALID', `the verification key is not an Ed25519 public key (${err instanceof Error ? err.message : String(err)})`, {
      hint: 'Give the public half of the signing key: `openssl pkey -in sign.pem -pubout -out sign.pub.pem`.',
      cause: err,
    });
  }
}

async function checkChecksum(isoPath: string, sha256: string, options: VerifyOptions, issues: Issues): Promise<VerifyResult['checksum']> {
  const sumPath = options.checksumPath ? resolve(options.checksumPath) : join(dirname(isoPath), 'SHA256SUM');
  let text: string;
  try {
    text = await readFile(sumPath, 'utf8');
  } catch (err) {
    if (options.checksumPath !== undefined) {
      // Asked for by name: its absence is not a detail.
      issues.error('CHECKSUM_FILE_MISSING', sumPath, `the checksum file given cannot be read (${(err as NodeJS.ErrnoException).code ?? String(err)})`, 'Check the --checksum-file path, or leave it out to use SHA256SUM beside the ISO.');
      return 'absent';
    }
    issues.warn('CHECKSUM_FILE_MISSING', sumPath, 'no SHA256SUM file beside the ISO: its integrity was checked only against its own index', 'Ship the SHA256SUM file `solution pack` writes next to the ISO.');
    return 'absent';
  }
  const name = basename(isoPath);
  const claimed = checksumsOf(text, name);
  if (claimed.size > 1) {
    issues.error('CHECKSUM_CONFLICT', sumPath, `SHA256SUM has ${claimed.size} different lines for ${name} (${[...claimed].map((h) => h.slice(0, 12)).join(', ')}…): it cannot vouch for the ISO`, 'Use the SHA256SUM file published with this ISO; a file with conflicting lines was edited or merged by hand.');
    return 'mismatch';
  }
  const [only] = claimed;
  if (only !== undefined) {
    if (only === sha256) return 'match';
    issues.error('CHECKSUM_MISMATCH', sumPath, `${name}: sha256 is ${sha256}, SHA256SUM says ${only}`, 'The ISO was changed or damaged after it was packed: download or copy it again.');
    return 'mismatch';
  }
  issues.warn('CHECKSUM_ENTRY_MISSING', sumPath, `SHA256SUM has no line for ${name}`, 'Use the SHA256SUM file written with this ISO.');
  return 'absent';
}

async function checkSignature(isoPath: string, sha256: string, options: VerifyOptions, issues: Issues): Promise<VerifyResult['signature']> {
  const sigPath = options.signaturePath ? resolve(options.signaturePath) : `${isoPath}.sig`;
  let text: string | undefined;
  try {
    text = await readFile(sigPath, 'utf8');
  } catch {
    text = undefined;
  }
  if (options.publicKey === undefined) {
    if (text !== undefined) {
      issues.warn('SIGNATURE_NOT_CHECKED', sigPath, 'the ISO is signed but no public key was given, so the signature was not checked', 'Pass the vendor public key (`--key pub.pem`).');
      return 'unchecked';
    }
    return 'absent';
  }
  const key = publicKeyOf(options.publicKey);
  if (text === undefined) {
    issues.error('SIGNATURE_MISSING', sigPath, 'a public key was given but the ISO has no signature file', 'Get the .sig file published with the ISO, or pack with `--sign`.');
    return 'missing';
  }
  const sig = Buffer.from(text.trim(), 'base64');
  if (sig.length !== 64 || !/^[A-Za-z0-9+/=\s]+$/.test(text)) {
    issues.error('SIGNATURE_MALFORMED', sigPath, 'the signature file does not hold a base64 Ed25519 signature (64 bytes)', 'Get the .sig file published with the ISO.');
    return 'invalid';
  }
  if (!verifySignature(null, signatureMessage(sha256), key, sig)) {
    issues.error('SIGNATURE_INVALID', sigPath, 'the signature does not match this ISO and key: the ISO was changed, or it was signed with another key', 'Do not import this ISO; get it again from the vendor and check which key signed it.');
    return 'invalid';
  }
  return 'valid';
}

function checkAgainstIndex(
  index: SdkIndex,
  files: readonly IsoEntryInfo[],
  digests: Map<string, { digest: string; truncated: boolean }>,
  issues: Issues,
): void {
  const inIso = new Map(files.map((f) => [f.path, f]));
  const listed = new Set<string>();
  for (const f of index.files) {
    listed.add(f.path);
    const e = inIso.get(f.path);
    if (!e) {
      issues.error('FILE_MISSING', f.path, `listed in ${SDK_INDEX_PATH} but not in the ISO`, 'The ISO is incomplete or was rebuilt by hand: pack it again.');
      continue;
    }
    if (e.size !== f.size) {
      issues.error('FILE_SIZE_MISMATCH', f.path, `has ${e.size} bytes, ${SDK_INDEX_PATH} says ${f.size}`, 'The ISO was changed after packing: pack it again.');
      continue;
    }
    const d = digests.get(f.path);
    // Blobs are checked against their own name below (same value): one issue per damage.
    if (d && !d.truncated && d.digest !== f.sha256 && !isBlobPath(f.path)) {
      issues.error('FILE_DIGEST_MISMATCH', f.path, `sha256 is ${d.digest}, ${SDK_INDEX_PATH} says ${f.sha256}`, 'The file was changed or damaged after packing: get the ISO again.');
    }
  }
  for (const f of files) {
    if (f.path !== SDK_INDEX_PATH && !listed.has(f.path)) {
      issues.error('FILE_NOT_INDEXED', f.path, `in the ISO but not listed in ${SDK_INDEX_PATH}: it was added after packing`, 'Pack the ISO again instead of editing it.');
    }
  }
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

function checkManifest(bytes: Uint8Array | undefined, index: SdkIndex | undefined, issues: Issues): { name: string; version: string; images?: string[] } | undefined {
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

async function checkPrimaryManifest(iso: IsoImage, issues: Issues): Promise<void> {
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

function checkImages(
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

function checkRegistryConfig(small: Map<string, Uint8Array>, files: readonly IsoEntryInfo[], issues: Issues): void {
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
    const im = /^images\/([^/]+)\/([^/]+)\/manifest\.json$/.exec(p);
    if (!im) continue;
    if (!text.includes(`/${im[1]}/manifests/${im[2]}"`)) {
      issues.error('REGISTRY_CONFIG_IMAGE_MISSING', 'registry-config.inc.j2', `has no location serving ${im[1]}:${im[2]}: the image would not be pullable`, 'Regenerate the snippet from the images/ folder.');
    }
  }
}

function checkCrds(small: Map<string, Uint8Array>, files: readonly IsoEntryInfo[], issues: Issues): void {
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

function checkRoles(small: Map<string, Uint8Array>, issues: Issues): void {
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
function checkPlatform(small: Map<string, Uint8Array>, files: readonly IsoEntryInfo[], solution: string | undefined, issues: Issues): void {
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

/**
 * Verifies a solution ISO: checksum, signature, every file against `/sdk/index.json`, every blob
 * against its digest, and MetalK8s compatibility. Problems are returned as issues (never thrown);
 * an error is thrown only when the ISO cannot be opened at all or the key is not usable.
 *
 * @example
 * const result = await verify({ path: 'out/zenko-2.6.0.iso', publicKey: await readFile('sign.pub.pem', 'utf8') });
 * if (!result.ok) for (const i of result.issues) console.error(i.code, i.path, i.message);
 */
export async function verify(options: VerifyOptions): Promise<VerifyResult> {
  const path = resolve(options.path);
  const issues = new Issues();
  if (options.publicKey !== undefined) publicKeyOf(options.publicKey);
  options.onProgress?.({ type: 'phase', phase: 'open' });
  let iso: IsoImage | undefined;
  try {
    iso = await openIso(path, { signal: options.signal });
  } catch (err) {
    if (!(err instanceof IsoError) || err.code === 'ISO_OPEN_FAILED' || err.code === 'ISO_NOT_REGULAR_FILE') throw err;
    issues.error(err.code, basename(path), err.message, err.hint);
  }
  try {
    let files: IsoEntryInfo[] = [];
    if (iso) {
      try {
        files = await archiveFiles(iso, options.signal);
      } catch (err) {
        if (!(err instanceof IsoError)) throw err;
        issues.error(err.code, basename(path), `cannot list the ISO: ${err.message}`, err.hint);
      }
    }
    options.onProgress?.({ type: 'phase', phase: 'read' });
    // The small files the checks read are kept from the one pass (not read a second time).
    const { sha256, size, digests } = await hashImage(path, iso, files, options, (f) => !isBlobPath(f.path) && f.size <= SMALL_FILE_MAX);
    if (iso && size < iso.volumeSize) {
      issues.error('ISO_TRUNCATED', basename(path), `the file has ${size} bytes but its volume descriptor says ${iso.volumeSize}: the ISO is truncated`, 'Download or copy the ISO again and compare its checksum.');
    }
    const checksum = await checkChecksum(path, sha256, options, issues);
    const signature = await checkSignature(path, sha256, options, issues);
    if (!iso) {
      return { path, size, sha256, ok: false, issues: issues.list, checksum, signature, indexed: false, filesChecked: 0, blobsChecked: 0 };
    }

    // Content of every file, from the one pass.
    const small = new Map<string, Uint8Array>();
    let blobsChecked = 0;
    for (const f of files) {
      const d = digests.get(f.path);
      if (d?.truncated) {
        issues.error('FILE_TRUNCATED', f.path, 'its content lies beyond the end of the ISO', 'The ISO is truncated: download or copy it again.');
        continue;
      }
      if (isBlobPath(f.path)) {
        blobsChecked++;
        const want = f.path.slice(f.path.lastIndexOf('/') + 1);
        if (d && d.digest !== want) {
          issues.error('BLOB_DIGEST_MISMATCH', f.path, `content has sha256 ${d.digest}, not the digest it is named by`, 'The blob was damaged or altered after packing: do not import this ISO; get it again.');
        }
      } else if (f.size <= SMALL_FILE_MAX) {
        if (d?.bytes) {
          small.set(f.path, d.bytes);
          continue;
        }
        try {
          small.set(f.path, await iso.readFile(f, { signal: options.signal }));
        } catch (err) {
          if (!(err instanceof IsoError)) throw err;
          issues.error(err.code, f.path, err.message, err.hint);
        }
      }
    }

    const parsed = parseSdkIndex(small.get(SDK_INDEX_PATH));
    if (parsed.problem) issues.error('SDK_INDEX_INVALID', SDK_INDEX_PATH, parsed.problem, 'Pack the ISO again with `solution pack`.');
    else if (!parsed.index) {
      issues.warn('SDK_INDEX_MISSING', SDK_INDEX_PATH, 'the ISO has no SDK index (built by another tool?): files are checked for MetalK8s compatibility and blob digests only', 'Pack with `solution pack` to get per-file checksums.');
    }
    const index = parsed.index;
    if (index) {
      const own = index.files.find((f) => f.path === SDK_INDEX_PATH);
      if (own) issues.error('SDK_INDEX_INVALID', SDK_INDEX_PATH, 'the index lists itself', 'Pack the ISO again.');
      checkAgainstIndex(index, files, digests, issues);
    }

    options.onProgress?.({ type: 'phase', phase: 'metalk8s' });
    await checkPrimaryManifest(iso, issues);
    const manifest = checkManifest(small.get('manifest.yaml'), index, issues);
    checkImages(files, small, index, manifest?.images, issues);
    checkRegistryConfig(small, files, issues);
    checkCrds(small, files, issues);
    checkRoles(small, issues);
    checkPlatform(small, files, manifest?.name, issues);
    // The solution rules, on what the ISO holds: the report validate gives, for the archive.
    issues.list.push(...checkArchiveObjects(small));

    return {
      path,
      size,
      sha256,
      ok: !issues.list.some((i) => i.severity === 'error'),
      issues: issues.list,
      checksum,
      signature,
      indexed: index !== undefined,
      filesChecked: files.length,
      blobsChecked,
      ...(manifest ? { solution: { name: manifest.name, version: manifest.version } } : {}),
    };
  } catch (err) {
    if (err instanceof SdkError) throw err;
    throw new PackagingError('VERIFY_FAILED', `cannot verify ${path}: ${err instanceof Error ? err.message : String(err)}`, {
      hint: 'Check that the file is readable.',
      cause: err,
    });
  } finally {
    await iso?.close();
  }
}

