/**
 * Reading a packed solution archive back: its file list, its small files (everything but image
 * blobs), `/sdk/index.json` and the image folders. Shared by `inspect`, `verify` and `diff`.
 *
 * @module
 */
import { parseAllDocuments } from 'yaml';
import type { IsoEntryInfo, IsoImage } from './iso/iso-reader.js';
import type { SdkIndex } from './pack.js';
import { SDK_INDEX_PATH } from './_sdk-index.js';
import { isRecord } from '../_record.js';

/** A 64-hex file name: an image blob named by its sha256. */
export const BLOB_NAME = /^[0-9a-f]{64}$/;

/** Largest non-blob file read into memory (by `inspect`, `diff` and the checks of `verify`). */
export const SMALL_FILE_MAX = 64 * 1024 * 1024;

/** Every regular file of the archive (default view), in walk order. */
export async function archiveFiles(iso: IsoImage, signal?: AbortSignal): Promise<IsoEntryInfo[]> {
  const out: IsoEntryInfo[] = [];
  for await (const e of iso.walk({ signal })) if (e.type === 'file') out.push(e);
  return out;
}

/** Whether `path` is a CRD file of an archive, as MetalK8s applies them: `operator/deploy/crds/**\/*_crd.yaml`. */
export function isCrdFile(path: string): boolean {
  return path.startsWith('operator/deploy/crds/') && path.endsWith('_crd.yaml');
}

/** Whether a path is an image blob (`images/<name>/<tag>/<hex>`). */
export function isBlobPath(path: string): boolean {
  const parts = path.split('/');
  return parts.length === 4 && parts[0] === 'images' && BLOB_NAME.test(parts[3]!);
}

/** Reads every file that is not an image blob, by path. */
export async function readSmallFiles(iso: IsoImage, files: readonly IsoEntryInfo[], signal?: AbortSignal): Promise<Map<string, Uint8Array>> {
  const out = new Map<string, Uint8Array>();
  for (const f of files) {
    if (isBlobPath(f.path) || f.size > SMALL_FILE_MAX) continue;
    out.set(f.path, await iso.readFile(f, { signal, maxBytes: SMALL_FILE_MAX }));
  }
  return out;
}

/** `/sdk/index.json` when present and shaped like an index; a reason otherwise. */
export function parseSdkIndex(bytes: Uint8Array | undefined): { index?: SdkIndex; problem?: string } {
  if (bytes === undefined) return {};
  let doc: unknown;
  try {
    doc = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch (err) {
    return { problem: `${SDK_INDEX_PATH} is not JSON (${err instanceof Error ? err.message : String(err)})` };
  }
  const d = doc as Partial<SdkIndex> | null;
  if (typeof d !== 'object' || d === null || d.schemaVersion !== 1 || !Array.isArray(d.files) || !Array.isArray(d.images) || typeof d.solution !== 'object') {
    return { problem: `${SDK_INDEX_PATH} is not an SDK index of schema version 1` };
  }
  for (const f of d.files) {
    if (typeof f?.path !== 'string' || typeof f.size !== 'number' || typeof f.sha256 !== 'string' || !BLOB_NAME.test(f.sha256)) {
      return { problem: `${SDK_INDEX_PATH} has a malformed file entry ${JSON.stringify(f)}` };
    }
  }
  return { index: d as SdkIndex };
}

/** A YAML document of a multi-document file, as plain data. */
export interface YamlDoc {
  readonly value: unknown;
  /** Parse errors of this document. */
  readonly errors: readonly string[];
}

/** Parses every document of a YAML file, skipping empty ones (a leading `---`). */
export function yamlDocuments(bytes: Uint8Array): YamlDoc[] {
  const docs = parseAllDocuments(Buffer.from(bytes).toString('utf8'), { version: '1.1' });
  const list = Array.isArray(docs) ? docs : [docs];
  const out: YamlDoc[] = [];
  for (const d of list) {
    const errors = d.errors.map((e) => e.message);
    if (errors.length === 0 && (d.contents === null || d.contents === undefined)) continue;
    out.push({ value: errors.length > 0 ? undefined : d.toJS({ maxAliasCount: 100 }), errors });
  }
  return out;
}

/** A Kubernetes-looking object read from an archive: its fields are not checked yet. */
export type ArchiveObject = {
  readonly apiVersion?: unknown;
  readonly kind?: unknown;
  readonly metadata?: { readonly name?: unknown; readonly namespace?: unknown } | undefined;
} & Readonly<Record<string, unknown>>;

/** The single object of a one-document YAML file, or undefined. */
export function yamlObject(bytes: Uint8Array | undefined): ArchiveObject | undefined {
  if (bytes === undefined) return undefined;
  const docs = yamlDocuments(bytes);
  const v = docs.length === 1 ? docs[0]!.value : undefined;
  return isRecord(v) ? (v as ArchiveObject) : undefined;
}

/** The images of an archive, from its `images/<name>/<tag>/manifest.json` files. */
export function imageFolders(paths: Iterable<string>): { name: string; tag: string }[] {
  const out: { name: string; tag: string }[] = [];
  for (const p of paths) {
    const m = /^images\/([^/]+)\/([^/]+)\/manifest\.json$/.exec(p);
    if (m) out.push({ name: m[1]!, tag: m[2]! });
  }
  return out.sort((a, b) => (a.name === b.name ? cmp(a.tag, b.tag) : cmp(a.name, b.name)));
}

/** Code-unit order, for stable output. */
export function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** `metadata.name` as a string, or `''`. */
export function nameOf(obj: ArchiveObject | undefined): string {
  const n = obj?.metadata?.name;
  return typeof n === 'string' ? n : '';
}
