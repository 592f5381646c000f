/**
 * `supportBundle()`: what a customer sends the vendor instead of a shell. A deterministic
 * `.tar.gz` of a {@link DiagnosticsSnapshot}: `index.json` (versions, scope, counts, every file
 * with its size and sha256, what could not be collected), one JSON file per kind of object, one
 * file per container log, and `redaction-report.json`.
 *
 * Secrets are never read. Every file, logs included, goes through the credential scrubber
 * (`redaction.ts`) before it is written; the report says what was scrubbed where, never the
 * value. The archive is written to a temporary path beside the output, then renamed. Entries
 * are sorted, with fixed owner, mode and mtime (the collection time), so one snapshot always
 * gives the same bytes.
 *
 * @module
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGunzip, createGzip } from 'node:zlib';
import tar from 'tar-stream';
import { PackagingError, SdkError, throwIfAborted } from '../errors.js';
import { BYTES, numberOption } from '../_number-option.js';
import {
  type CollectOptions,
  type CollectProgressEvent,
  type ContainerLog,
  collectSnapshot,
  type DiagnosticsSnapshot,
  type DiagnosticsTarget,
} from './diagnostics-snapshot.js';
import { type RedactionFinding, RedactionReport, scrubObject, scrubText } from './redaction.js';

/** Collections of a snapshot stored as `objects/<name>.json`. */
const COLLECTIONS = [
  'nodes',
  'solutions',
  'environments',
  'deployments',
  'replicaSets',
  'pods',
  'events',
  'configMaps',
  'customResources',
  'volumes',
  'persistentVolumes',
  'persistentVolumeClaims',
  'storageClasses',
  'prometheusRules',
  'saltJobs',
  'images',
  'alerts',
] as const satisfies readonly (keyof DiagnosticsSnapshot)[];

/** One file of a bundle. */
export interface BundleFile {
  readonly path: string;
  readonly size: number;
  readonly sha256: string;
}

/** `index.json` of a bundle. */
export interface BundleIndex {
  readonly kind: 'metalk8s-solution-support-bundle';
  readonly schemaVersion: 1;
  readonly sdkVersion: string;
  readonly collectedAt: string;
  readonly cluster: DiagnosticsSnapshot['cluster'];
  readonly scope: DiagnosticsSnapshot['scope'];
  /** Objects per collection. */
  readonly counts: Readonly<Record<string, number>>;
  readonly logs: readonly (Omit<ContainerLog, 'text'> & { readonly path: string })[];
  readonly problems: DiagnosticsSnapshot['problems'];
  /** Values scrubbed, in total; the detail is in `redaction-report.json`. */
  readonly redactions: number;
  /** Files dropped to stay under `maxBytes`. */
  readonly omitted: readonly string[];
  readonly files: readonly BundleFile[];
}

/** Progress of {@link supportBundle}. */
export type SupportBundleProgressEvent = CollectProgressEvent | { readonly type: 'write'; readonly files: number; readonly bytes: number };

/** Options of {@link supportBundle}. */
export interface SupportBundleOptions extends Omit<CollectOptions, 'onProgress'> {
  /** Where to write the `.tar.gz`. */
  readonly output: string;
  /**
   * Largest uncompressed size of the files, 0 or more; logs are dropped (largest first, and said
   * so in `index.json`) to stay under it. @default 256 MiB
   */
  readonly maxBytes?: number | undefined;
  readonly onProgress?: ((event: SupportBundleProgressEvent) => void) | undefined;
}

/** What {@link supportBundle} wrote. */
export interface SupportBundleResult {
  /** Absolute path of the bundle. */
  readonly path: string;
  readonly bytes: number;
  readonly sha256: string;
  readonly index: BundleIndex;
  /** What was scrubbed where (never the values). */
  readonly redactions: readonly RedactionFinding[];
  /** The snapshot as collected (before scrubbing), for `doctor()` without reading the file back. */
  readonly snapshot: DiagnosticsSnapshot;
}

function logPath(l: Omit<ContainerLog, 'text'>): string {
  return `logs/${l.namespace}/${l.pod}/${l.container}${l.previous ? '.previous' : ''}.log`;
}

function json(value: unknown): Buffer {
  return Buffer.from(`${JSON.stringify(value, null, 2)}\n`);
}

/** Options of {@link bundleFiles}. */
export interface BundleFilesOptions {
  /** Largest uncompressed size of the files, as {@link SupportBundleOptions.maxBytes}. @default 256 MiB */
  readonly maxBytes?: number | undefined;
}

/** What {@link bundleFiles} gives. */
export interface BundleFilesResult {
  /** File contents by bundle path, sorted by path, `index.json` last. */
  readonly files: Map<string, Buffer>;
  readonly index: BundleIndex;
  readonly redactions: RedactionFinding[];
}

/**
 * The files of a bundle for a snapshot, scrubbed, sorted by path, with the index last built.
 * Pure: the same snapshot gives the same files.
 */
export function bundleFiles(snapshot: DiagnosticsSnapshot, options: BundleFilesOptions = {}): BundleFilesResult {
  const { maxBytes = 256 << 20 } = options;
  checkMaxBytes(maxBytes);
  const report = new RedactionReport();
  const files = new Map<string, Buffer>();
  const counts: Record<string, number> = {};
  for (const c of COLLECTIONS) {
    const value = snapshot[c];
    counts[c] = Array.isArray(value) ? value.length : Object.keys(value).length;
    const path = `objects/${c}.json`;
    files.set(path, json(scrubObject(value, { where: path, report })));
  }
  let total = [...files.values()].reduce((n, b) => n + b.length, 0);
  const omitted: string[] = [];
  const logs: BundleIndex['logs'][number][] = [];
  // Smallest logs first, so one huge log does not push out all the others.
  const sorted = [...snapshot.logs].sort((a, b) => a.text.length - b.text.length || (logPath(a) < logPath(b) ? -1 : 1));
  for (const l of sorted) {
    const { text, ...meta } = l;
    const path = logPath(meta);
    const bytes = Buffer.from(scrubText(text, { where: path, report }));
    if (total + bytes.length > maxBytes) {
      omitted.push(path);
      continue;
    }
    total += bytes.length;
    files.set(path, bytes);
    logs.push({ ...meta, path });
  }
  const redactions = report.findings();
  files.set('redaction-report.json', json({ note: 'What was scrubbed, where. Values are never kept.', total: report.total, findings: redactions }));
  const list: BundleFile[] = [...files.entries()]
    .map(([path, b]) => ({ path, size: b.length, sha256: createHash('sha256').update(b).digest('hex') }))
    .sort((a, b) => (a.path < b.path ? -1 : 1));
  const index: BundleIndex = {
    kind: 'metalk8s-solution-support-bundle',
    schemaVersion: 1,
    sdkVersion: snapshot.sdkVersion,
    collectedAt: snapshot.collectedAt,
    cluster: snapshot.cluster,
    scope: snapshot.scope,
    counts,
    logs: logs.sort((a, b) => (a.path < b.path ? -1 : 1)),
    problems: scrubObject(snapshot.problems, { where: 'index.json', report }),
    redactions: report.total,
    omitted: omitted.sort(),
    files: list,
  };
  files.set('index.json', json(index));
  return { files, index, redactions };
}

/** A NaN `maxBytes` compared false with every size: no log was ever dropped. */
function checkMaxBytes(maxBytes: number | undefined): void {
  numberOption('maxBytes', maxBytes, BYTES);
}

/** Writes bundle files as a deterministic `.tar.gz` to `output` (temp path, then rename). */
async function writeTarGz(files: Map<string, Buffer>, mtime: Date, output: string, signal?: AbortSignal, onFile?: (n: number, bytes: number) => void): Promise<{ bytes: number; sha256: string }> {
  const tmp = join(dirname(output), `.${randomBytes(6).toString('hex')}.tmp`);
  const pack = tar.pack();
  const hash = createHash('sha256');
  let bytes = 0;
  const gzip = createGzip({ level: 9 });
  gzip.on('data', (c: Buffer) => {
    hash.update(c);
    bytes += c.length;
  });
  const done = pipeline(pack, gzip, createWriteStream(tmp), signal ? { signal } : {});
  try {
    // index.json first so `tar tzf | head` shows what the bundle is; the rest by path.
    const paths = ['index.json', ...[...files.keys()].filter((p) => p !== 'index.json').sort()];
    let n = 0;
    for (const path of paths) {
      throwIfAborted(signal, 'writing the support bundle');
      const body = files.get(path) ?? Buffer.alloc(0);
      await new Promise<void>((res, rej) =>
        pack.entry({ name: `support-bundle/${path}`, size: body.length, mode: 0o644, mtime, uid: 0, gid: 0, uname: '', gname: '', type: 'file' }, body, (err) => (err ? rej(err) : res())),
      );
      onFile?.(++n, body.length);
    }
    pack.finalize();
    await done;
    await rename(tmp, output);
  } catch (err) {
    pack.destroy();
    await done.catch(() => {});
    await rm(tmp, { force: true });
    throw err;
  }
  return { bytes, sha256: hash.digest('hex') };
}

/**
 * Collects a snapshot of the cluster and writes it as a support bundle.
 *
 * @example
 * ```ts
 * const cluster = await connect({ kubeconfigPath: '/etc/kubernetes/admin.conf' });
 * const { path, redactions } = await supportBundle(cluster, { env: 'zenko-prod', since: '24h', output: 'zenko.tar.gz' });
 * ```
 */
export async function supportBundle(target: DiagnosticsTarget, options: SupportBundleOptions): Promise<SupportBundleResult> {
  // Before the collection (which checks its own numbers first), not after it.
  checkMaxBytes(options.maxBytes);
  const output = resolve(options.output);
  const snapshot = await collectSnapshot(target, { ...options, onProgress: options.onProgress });
  const { files, index, redactions } = bundleFiles(snapshot, { maxBytes: options.maxBytes });
  let written = 0;
  const { bytes, sha256 } = await writeTarGz(files, new Date(Date.parse(snapshot.collectedAt)), output, options.signal, (n, b) => {
    written += b;
    options.onProgress?.({ type: 'write', files: n, bytes: written });
  });
  return { path: output, bytes, sha256, index, redactions, snapshot };
}

/** Options of {@link writeSupportBundle}. */
export interface WriteSupportBundleOptions extends BundleFilesOptions {
  readonly signal?: AbortSignal | undefined;
}

/** What {@link writeSupportBundle} wrote. */
export interface WriteSupportBundleResult {
  /** Absolute path of the archive. */
  readonly path: string;
  readonly bytes: number;
  /** sha256 of the archive, hex. */
  readonly sha256: string;
}

/** Writes an already collected snapshot as a bundle (same bytes for the same snapshot). */
export async function writeSupportBundle(snapshot: DiagnosticsSnapshot, output: string, options: WriteSupportBundleOptions = {}): Promise<WriteSupportBundleResult> {
  const path = resolve(output);
  const { files } = bundleFiles(snapshot, { maxBytes: options.maxBytes });
  return { path, ...(await writeTarGz(files, new Date(Date.parse(snapshot.collectedAt)), path, options.signal)) };
}

/** Options of {@link readSupportBundle}. */
export interface ReadSupportBundleOptions {
  readonly signal?: AbortSignal | undefined;
}

/** Largest file read back from a bundle. */
const MAX_ENTRY = 512 << 20;

/**
 * Reads a support bundle back into the snapshot it was written from (scrubbed), checking each
 * file against the sha256 of `index.json`.
 *
 * @throws `PackagingError` `BUNDLE_INVALID` for a file that is no support bundle or is damaged.
 * @example
 * ```ts
 * const snapshot = await readSupportBundle('zenko.tar.gz');
 * ```
 */
export async function readSupportBundle(file: string, options: ReadSupportBundleOptions = {}): Promise<DiagnosticsSnapshot> {
  const files = new Map<string, Buffer>();
  const extract = tar.extract();
  extract.on('entry', (header, stream, next) => {
    const chunks: Buffer[] = [];
    let size = 0;
    stream.on('data', (c: unknown) => {
      if (!Buffer.isBuffer(c)) return;
      size += c.length;
      if (size <= MAX_ENTRY) chunks.push(c);
    });
    stream.on('end', () => {
      if (header.type === 'file') files.set(header.name.replace(/^support-bundle\//, ''), Buffer.concat(chunks));
      next();
    });
    stream.resume();
  });
  try {
    await pipeline(createReadStream(file), createGunzip(), extract, options.signal ? { signal: options.signal } : {});
  } catch (err) {
    if (err instanceof SdkError || (err as Error).name === 'AbortError') throw err;
    throw new PackagingError('BUNDLE_INVALID', `"${file}" is not a readable support bundle (.tar.gz): ${(err as Error).message}`, {
      hint: 'Give the file `solution support-bundle -o FILE` wrote.',
      cause: err,
    });
  }
  const bad = (why: string) => new PackagingError('BUNDLE_INVALID', `"${file}" is not a valid support bundle: ${why}`, { hint: 'Ask for a new bundle: this one is damaged or was edited.' });
  let index: BundleIndex;
  try {
    index = JSON.parse((files.get('index.json') ?? Buffer.from('null')).toString('utf8')) as BundleIndex;
  } catch {
    throw bad('index.json is not JSON');
  }
  if (index?.kind !== 'metalk8s-solution-support-bundle' || index.schemaVersion !== 1) throw bad('no index.json of a support bundle (schema version 1)');
  for (const f of index.files) {
    const body = files.get(f.path);
    if (!body) throw bad(`${f.path} is listed in index.json but missing`);
    if (createHash('sha256').update(body).digest('hex') !== f.sha256) throw bad(`${f.path} does not match its sha256 in index.json`);
  }
  const parsed: Record<string, unknown> = {};
  for (const c of COLLECTIONS) {
    const body = files.get(`objects/${c}.json`);
    parsed[c] = body ? JSON.parse(body.toString('utf8')) : c === 'solutions' ? {} : [];
  }
  const logs: ContainerLog[] = index.logs.map(({ path, ...meta }) => ({ ...meta, text: files.get(path)?.toString('utf8') ?? '' }));
  return {
    schemaVersion: 1,
    collectedAt: index.collectedAt,
    sdkVersion: index.sdkVersion,
    cluster: index.cluster,
    scope: index.scope,
    ...(parsed as Pick<DiagnosticsSnapshot, (typeof COLLECTIONS)[number]>),
    logs,
    problems: index.problems,
  };
}
