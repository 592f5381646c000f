/**
 * `pack()`: a solution into the one ISO MetalK8s imports offline, with `SHA256SUM` beside it.
 *
 * The data path writes every image byte once: images are fetched (or built) into the
 * content-addressed store, the registry layout is planned without copying, and the ISO writer
 * streams each distinct blob from the store straight into the image. The ISO also carries
 * `/sdk/index.json` (every file's size and sha256, every image's digests) for `verify`,
 * `inspect` and `diff`.
 *
 * @module
 */
import { createHash, createPrivateKey, type KeyObject, sign } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { AbortError, type Issue, IsoError, PackagingError, SdkError, throwIfAborted, ValidationError } from '../errors.js';
import { DOWNLOAD_CONCURRENCY, numberOption } from '../_number-option.js';
import { render } from '../solution/render.js';
import type { BuildFile, ImageSourceInput } from '../solution/schema.js';
import type { Solution } from '../solution/validate.js';
import { SDK_VERSION } from '../version.js';
import { type BlobStore, defaultCacheDir, openBlobStore } from './images/blob-store.js';
import type { BuildImageOptions, LayerFile } from './images/build-image.js';
import { type FetchProgressEvent, fetchImage, type ImageSource } from './images/fetch-image.js';
import { pool } from './images/_pool.js';
import type { FetchedImage } from './images/fetched-image.js';
import { parsePlatform } from './images/platform.js';
import { planRegistryLayout } from './images/registry-layout.js';
import { type FileFingerprint, type IsoEntry, type IsoFileSource, writeIso } from './iso/iso-writer.js';
import { type BuildTime, resolveBuildTime } from './build-time.js';
import { checkSolutionInputs } from './check-solution-inputs.js';
import { loadSolutionFile, solutionBaseDir } from './solution-file.js';
import { SDK_INDEX_PATH, signatureMessage } from './_sdk-index.js';

/** Progress of {@link pack}. */
export type PackProgressEvent =
  | { readonly type: 'phase'; readonly phase: 'load' | 'render' | 'images' | 'layout' | 'write' | 'checksum' | 'sign' }
  | { readonly type: 'image-start'; readonly name: string; readonly tag: string; readonly index: number; readonly count: number }
  | { readonly type: 'image-bytes'; readonly name: string; readonly tag: string; readonly bytes: number; readonly total: number }
  | { readonly type: 'image-done'; readonly name: string; readonly tag: string; readonly bytesDownloaded: number; readonly digest: string }
  | { readonly type: 'write'; readonly bytesWritten: number; readonly bytesTotal: number }
  /**
   * A blob copied on the store's trust record changed during the write: the ISO is written again
   * with every stored blob hashed as it is copied (`reason`: which file).
   */
  | { readonly type: 'store-recheck'; readonly reason: string };

/** Options of {@link pack}. Give either `solution` or `configPath`. */
export interface PackOptions {
  /** A validated solution (from `defineSolution`). */
  readonly solution?: Solution | undefined;
  /** A solution file, or the folder holding `solution.config.ts`. */
  readonly configPath?: string | undefined;
  /**
   * Folder that relative paths of the definition (build `from` files, OCI layouts, docker
   * archives) are resolved from. Required with `solution` when the definition has relative
   * paths, unless the solution came from {@link loadSolutionFile}, which records its folder.
   * @default the solution file's folder
   */
  readonly baseDir?: string | undefined;
  /**
   * Accept build `from` files outside the solution folder (see {@link checkSolutionInputs}).
   * @default false
   */
  readonly allowOutsideInputs?: boolean | undefined;
  /** Where to write `<name>-<version>.iso` and `SHA256SUM`. */
  readonly outDir: string;
  /**
   * Blob store folder, shared between builds.
   * @default `<user cache folder>/blobs` ({@link defaultCacheDir}), the store `solution images` commands (and `images prune`) use
   */
  readonly cacheDir?: string | undefined;
  /**
   * Build time in seconds since the epoch: the manifest's build-timestamp, the ISO's dates and
   * built images' creation date. Same inputs and epoch give a byte-identical ISO.
   * @default `SOURCE_DATE_EPOCH`, else the last commit time of the git work tree holding the
   * solution (`baseDir`), else 0: the output stays reproducible (`PackResult.buildTime` says which)
   */
  readonly sourceDateEpoch?: number | undefined;
  /** Platform of the images, where an image does not set its own. @default "linux/amd64" */
  readonly platform?: string | undefined;
  /** Host name written in the manifest. @default none, to stay reproducible */
  readonly buildHost?: string | undefined;
  /** Ed25519 private key (PEM text or KeyObject): writes `<iso>.sig`, a detached signature of the ISO's sha256. */
  readonly signingKey?: string | KeyObject | undefined;
  /** Parallel blob downloads per image: a whole number from 1 to 64. @default 4 */
  readonly concurrency?: number | undefined;
  /**
   * Reuse layers of built images whose inputs did not change (the build cache in the blob store).
   * @default true
   */
  readonly buildCache?: boolean | undefined;
  /** Images fetched at the same time: a whole number from 1 to 64. @default 3 */
  readonly imageConcurrency?: number | undefined;
  /**
   * Hash every blob taken from the store again as it is copied into the ISO, even one whose file
   * has not changed since the store last hashed it (its trust record, see {@link BlobStore.trusted}).
   * Catches damage below the file system, which leaves a file's metadata alone, at the cost of
   * reading every byte twice (on a second core).
   * @default false
   */
  readonly recheckStore?: boolean | undefined;
  readonly onProgress?: ((event: PackProgressEvent) => void) | undefined;
  readonly signal?: AbortSignal | undefined;
}

/** An image inside the packed ISO. */
export interface PackedImage {
  readonly name: string;
  readonly tag: string;
  /** Where it came from. */
  readonly source: string;
  /** Registry sources: the reference pinned to its digest. */
  readonly pinned?: string | undefined;
  /** Digest of the served `manifest.json` (Docker v2s2). */
  readonly manifestDigest: string;
  /** Digest of the manifest at the source (differs when it was converted to v2s2). */
  readonly sourceDigest: string;
  readonly configDigest: string;
  readonly layers: readonly { readonly digest: string; readonly size: number }[];
  /** Config plus layers, in bytes. */
  readonly size: number;
  readonly platform: string;
  /** Bytes downloaded for it by this build (0 when everything was in the store). */
  readonly bytesDownloaded: number;
}

/** What {@link pack} produced. */
export interface PackResult {
  /** `<name>-<version>`. */
  readonly id: string;
  /** Absolute path of the ISO. */
  readonly path: string;
  readonly size: number;
  /** sha256 of the ISO, hex. */
  readonly sha256: string;
  /** The `SHA256SUM` file beside the ISO. */
  readonly checksumPath: string;
  /** `<iso>.sig` when a signing key was given. */
  readonly signaturePath?: string | undefined;
  readonly images: readonly PackedImage[];
  /** Image bytes not written thanks to layers shared between images. */
  readonly dedupSavedBytes: number;
  /**
   * Distinct blobs of the ISO and how their bytes were checked: `ingested`, downloaded or built
   * by this run (hashed on the way in); `trusted`, taken from the store on its trust record
   * (unchanged since last hashed); `rehashed`, hashed again while copied (every blob, after a
   * `store-recheck`).
   */
  readonly blobs: { readonly ingested: number; readonly trusted: number; readonly rehashed: number };
  /** Layers of built images: how many came from the build cache, how many were built, bytes compressed. */
  readonly build: { readonly layersCached: number; readonly layersBuilt: number; readonly bytesCompressed: number };
  /** Warnings of the solution's validation (errors stop the pack). */
  readonly warnings: readonly Issue[];
  /** The build time used, and where it came from. */
  readonly buildTime: BuildTime;
  /** Milliseconds spent in each phase. */
  readonly timings: { readonly render: number; readonly images: number; readonly write: number; readonly total: number };
}

/** One file of `/sdk/index.json`. */
export interface SdkIndexFile {
  readonly path: string;
  readonly size: number;
  readonly sha256: string;
}

/** `/sdk/index.json`: what the ISO holds, for `verify`, `inspect` and `diff`. */
export interface SdkIndex {
  readonly schemaVersion: 1;
  readonly sdkVersion: string;
  readonly solution: { readonly name: string; readonly version: string; readonly id: string; readonly displayName: string };
  readonly build: { readonly timestamp: string };
  readonly images: readonly Omit<PackedImage, 'bytesDownloaded'>[];
  /** Every other file of the ISO, sorted by path. */
  readonly files: readonly SdkIndexFile[];
}

const enc = new TextEncoder();

function sha256Hex(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/**
 * Maps the model's image source to the packager's, resolving local paths from `baseDir`.
 *
 * @example
 * ```ts
 * const source = toImageSource({ kind: 'oci-layout', path: 'build/oci' }, '/src/acme', '1970-01-01T00:00:00Z', 'linux/amd64');
 * const image = await fetchImage(source, { store });
 * ```
 */
export function toImageSource(source: ImageSourceInput, baseDir: string, created: string, platform: string): ImageSource {
  const at = (p: string) => (isAbsolute(p) ? p : resolve(baseDir, p));
  switch (source.kind) {
    case 'registry':
      return {
        kind: 'registry',
        reference: source.reference,
        ...(source.insecure ? { insecure: true } : {}),
        ...(source.plainHttp ? { plainHttp: true } : {}),
        platform: parsePlatform(platform),
      };
    case 'oci-layout':
      return { kind: 'oci-layout', path: at(source.path), reference: source.reference, platform: parsePlatform(platform) };
    case 'docker-archive':
      return { kind: 'docker-archive', path: at(source.path), reference: source.reference, platform: parsePlatform(platform) };
    case 'build': {
      const file = (f: BuildFile): LayerFile => ({
        path: f.path,
        ...(f.from !== undefined ? { source: at(f.from) } : {}),
        ...(f.content !== undefined ? { content: f.content } : {}),
        ...(f.mode !== undefined ? { mode: typeof f.mode === 'string' ? Number.parseInt(f.mode.replace(/^0o/, ''), 8) : f.mode } : {}),
      });
      const build: BuildImageOptions = {
        layers: source.layers.map((l) =>
          'files' in l
            ? { files: l.files.map(file) }
            : { directory: at(l.directory), ...(l.prefix !== undefined ? { prefix: l.prefix } : {}), modes: 'normalize' as const },
        ),
        config: source.config ?? {},
        platform: parsePlatform(platform),
        created,
      };
      return { kind: 'build', build };
    }
  }
}

/**
 * Where an image came from, as recorded in `/sdk/index.json`: local paths relative to the
 * solution folder (never the build machine's absolute paths, so the ISO is the same from any
 * checkout), with forward slashes.
 */
function describeSource(input: ImageSourceInput | undefined, fetched: string, baseDir: string): string {
  if (!input || input.kind === 'registry' || input.kind === 'build') return fetched;
  const rel = isAbsolute(input.path) ? input.path : relative(baseDir, resolve(baseDir, input.path)).split(sep).join('/') || '.';
  return `${input.kind}:${rel}${input.reference !== undefined ? `:${input.reference}` : ''}`;
}

/** Fields of the definition that hold relative paths on disk. */
function relativeInputs(solution: Solution): string[] {
  const out: string[] = [];
  solution.definition.images.forEach((img, i) => {
    const s = img.source;
    if ((s.kind === 'oci-layout' || s.kind === 'docker-archive') && !isAbsolute(s.path)) out.push(`images[${i}].source.path "${s.path}"`);
    if (s.kind !== 'build') return;
    for (const [li, l] of s.layers.entries()) {
      if (!('files' in l)) {
        if (!isAbsolute(l.directory)) out.push(`images[${i}].source.layers[${li}].directory "${l.directory}"`);
        continue;
      }
      for (const [fi, f] of l.files.entries()) {
        if (f.from !== undefined && !isAbsolute(f.from)) out.push(`images[${i}].source.layers[${li}].files[${fi}].from "${f.from}"`);
      }
    }
  });
  return out;
}

/**
 * The ISO volume id MetalK8s documents, `"<Name> <version>"`, cut to 32 bytes of printable ASCII.
 *
 * @example
 * ```ts
 * volumeIdOf(solution); // 'Zenko 2.6.0' for examples/zenko-like
 * ```
 */
export function volumeIdOf(solution: Solution): string {
  const text = `${solution.displayName} ${solution.version}`.replace(/[^\x20-\x7e]/g, '_');
  return text.slice(0, 32);
}

async function writeAtomic(path: string, data: string | Uint8Array): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}`;
  try {
    await writeFile(tmp, data);
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

/** Adds or replaces the line of `file` in a `SHA256SUM` file, keeping the other lines. */
async function updateChecksums(path: string, file: string, sha256: string): Promise<void> {
  let lines: string[] = [];
  try {
    lines = (await readFile(path, 'utf8')).split('\n').filter((l) => l.trim() !== '');
  } catch {
    // No SHA256SUM yet.
  }
  const kept = lines.filter((l) => l.replace(/^[0-9a-f]{64} [ *]/, '') !== file);
  kept.push(`${sha256}  ${file}`);
  await writeAtomic(path, `${kept.sort((a, b) => (a.slice(66) < b.slice(66) ? -1 : 1)).join('\n')}\n`);
}

function signingKeyOf(key: string | KeyObject): KeyObject {
  try {
    const k = typeof key === 'string' ? createPrivateKey(key) : key;
    if (k.asymmetricKeyType !== 'ed25519') throw new Error(`a ${k.asymmetricKeyType ?? k.type} key`);
    return k;
  } catch (err) {
    throw new PackagingError('SIGNING_KEY_INVALID', `the signing key is not an Ed25519 private key (${err instanceof Error ? err.message : String(err)})`, {
      hint: 'Create one with `solution keygen sign.pem` (or `openssl genpkey -algorithm ed25519 -out sign.pem`) and give the PEM file.',
      cause: err,
    });
  }
}

/**
 * Packs a solution into `<outDir>/<name>-<version>.iso` and updates `<outDir>/SHA256SUM`.
 * Reproducible: the same inputs and `sourceDateEpoch` give the same bytes. Nothing is left
 * half-written after a failure or an abort: the ISO is written to a temporary file and renamed.
 *
 * @example
 * const result = await pack({ configPath: 'examples/zenko-like', outDir: 'dist' });
 * console.log(result.path, result.sha256);
 */
export async function pack(options: PackOptions): Promise<PackResult> {
  const { signal, onProgress } = options;
  // Before anything is loaded or fetched: NaN started no fetch at all.
  numberOption('concurrency', options.concurrency, DOWNLOAD_CONCURRENCY);
  numberOption('imageConcurrency', options.imageConcurrency, { ...DOWNLOAD_CONCURRENCY, unit: 'images at once' });
  const t0 = performance.now();
  onProgress?.({ type: 'phase', phase: 'load' });
  let solution = options.solution;
  let baseDir = options.baseDir ?? (solution ? solutionBaseDir(solution) : undefined);
  if (!solution) {
    if (!options.configPath)
      throw new PackagingError('PACK_NO_SOLUTION', 'pack needs a solution or a configPath', {
        hint: 'Pass { solution } from defineSolution, or { configPath: "path/to/solution.config.ts" }.',
      });
    const loaded = await loadSolutionFile(options.configPath);
    solution = loaded.solution;
    baseDir = options.baseDir ?? loaded.baseDir;
  }
  if (baseDir === undefined) {
    const relativeInput = relativeInputs(solution)[0];
    if (relativeInput) {
      throw new PackagingError('PACK_NO_BASE_DIR', `${relativeInput} is a relative path, and pack was given no baseDir to resolve it from`, {
        hint: 'Pass { baseDir } (the folder the paths are relative to), or load the solution with loadSolutionFile(), which records its folder.',
      });
    }
    baseDir = process.cwd();
  }
  baseDir = resolve(baseDir);
  throwIfAborted(signal, 'pack');
  const inputs = await checkSolutionInputs({ solution, baseDir, allowOutside: options.allowOutsideInputs });
  if (!inputs.ok) throw new ValidationError(inputs.issues, 'the solution\'s input files');

  const buildTime = await resolveBuildTime({ sourceDateEpoch: options.sourceDateEpoch, dir: baseDir });
  const epoch = buildTime.epoch;
  const timestamp = new Date(epoch * 1000);
  const created = timestamp.toISOString().replace(/\.\d{3}Z$/, 'Z');

  onProgress?.({ type: 'phase', phase: 'render' });
  const rendered = render(solution, { buildTimestamp: timestamp, buildHost: options.buildHost });
  const tRender = performance.now();

  onProgress?.({ type: 'phase', phase: 'images' });
  const store: BlobStore = await openBlobStore({ dir: options.cacheDir ?? join(defaultCacheDir(), 'blobs') });
  // Left by an earlier pack killed with SIGKILL; those of packs still running are kept.
  await store.removeAbandonedTemp();
  type Fetched = { name: string; tag: string; image: FetchedImage; bytesDownloaded: number; platform: string };
  // Blobs downloaded by this run were hashed on their way into the store seconds ago; blobs that
  // were already in the store are hashed again as they are copied into the ISO, on a second
  // core beside the writer (BlobStore.open with reuseBuffers).
  const ingestedNow = new Set<string>();
  const build = { layersCached: 0, layersBuilt: 0, bytesCompressed: 0 };
  const fetchOne = async (img: (typeof rendered.images)[number], index: number, sig: AbortSignal): Promise<Fetched> => {
    onProgress?.({ type: 'image-start', name: img.name, tag: img.tag, index, count: rendered.images.length });
    const platform = solution.definition.images.find((i) => i.name === img.name && i.tag === img.tag)?.platform ?? options.platform ?? img.platform;
    const blobDone = new Map<string, number>();
    let total = 0;
    let bytesDownloaded = 0;
    const onFetch = (e: FetchProgressEvent) => {
      if (e.type === 'image-done') bytesDownloaded = e.bytesDownloaded;
      if (e.type === 'blob-done') ingestedNow.add(e.digest);
      if (e.type === 'layer-built') {
        // Compressed and stored by this run: hashed on its way in, like a download.
        if (!e.cached) ingestedNow.add(e.digest);
        if (e.cached) build.layersCached++;
        else build.layersBuilt++;
        build.bytesCompressed += e.bytesCompressed;
      }
      if (e.type === 'blob-start' || e.type === 'blob-cached') total += e.size;
      if (e.type === 'blob-progress') blobDone.set(e.digest, e.bytes);
      if (e.type === 'blob-done' || e.type === 'blob-cached') blobDone.set(e.digest, e.size);
      if (e.type === 'blob-progress' || e.type === 'blob-done' || e.type === 'blob-cached') {
        let bytes = 0;
        for (const b of blobDone.values()) bytes += b;
        onProgress?.({ type: 'image-bytes', name: img.name, tag: img.tag, bytes, total });
      }
    };
    try {
      const image = await fetchImage(toImageSource(img.source, baseDir, created, platform), {
        store,
        platform: parsePlatform(platform),
        concurrency: options.concurrency,
        buildCache: options.buildCache,
        signal: sig,
        onProgress: onFetch,
      });
      onProgress?.({ type: 'image-done', name: img.name, tag: img.tag, bytesDownloaded, digest: image.manifestDigest });
      return { name: img.name, tag: img.tag, image, bytesDownloaded, platform };
    } catch (err) {
      // Name the image in the message; keep the code, the hint and the class of the error.
      if (err instanceof SdkError && !(err instanceof AbortError) && !err.message.includes(img.name)) {
        err.message = `image ${img.name}:${img.tag}: ${err.message}`;
      }
      throw err;
    }
  };
  // A few images at a time: downloads overlap, and layers shared between images are fetched
  // once (the store makes concurrent fetches of one blob wait for each other).
  const fetched: Fetched[] = new Array(rendered.images.length);
  await pool(rendered.images, options.imageConcurrency ?? 3, signal, 'pack', async (img, signal, i) => {
    fetched[i] = await fetchOne(img, i, signal);
  });
  const tImages = performance.now();

  onProgress?.({ type: 'phase', phase: 'layout' });
  const plan = await planRegistryLayout(
    fetched.map(({ name, tag, image }) => ({ name, tag, image })),
    { store },
  );

  const images: PackedImage[] = fetched.map(({ name, tag, image, bytesDownloaded, platform }) => ({
    name,
    tag,
    source: describeSource(solution.definition.images.find((i) => i.name === name && i.tag === tag)?.source, image.source, baseDir),
    ...(image.pinned ? { pinned: image.pinned } : {}),
    manifestDigest: image.manifestDigest,
    sourceDigest: image.sourceDigest,
    configDigest: image.config.digest,
    layers: image.layers.map((l) => ({ digest: l.digest, size: l.size })),
    size: image.config.size + image.layers.reduce((n, l) => n + l.size, 0),
    platform,
    bytesDownloaded,
  }));

  // Every file but the index, with its sha256: blobs are named by theirs.
  const indexFiles: SdkIndexFile[] = [];
  for (const [path, bytes] of rendered.files) indexFiles.push({ path, size: bytes.byteLength, sha256: sha256Hex(bytes) });
  for (const f of plan.files) {
    indexFiles.push(
      f.kind === 'blob'
        ? { path: f.isoPath, size: f.size, sha256: f.digest.replace(/^sha256:/, '') }
        : { path: f.isoPath, size: f.size, sha256: sha256Hex(f.bytes) },
    );
  }
  indexFiles.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const index: SdkIndex = {
    schemaVersion: 1,
    sdkVersion: SDK_VERSION,
    solution: { name: solution.name, version: solution.version, id: solution.id, displayName: solution.displayName },
    build: { timestamp: created },
    images: images.map(({ bytesDownloaded: _, ...rest }) => rest),
    files: indexFiles,
  };

  // How each blob's bytes are known to be right. One this run downloaded or built was hashed on its
  // way in, and one whose file has not changed since the store last hashed it has a trust
  // record: the writer reads either file itself, through its own buffer, checking when it opens
  // it, and again after the copy, that it is still the file of the record (`expect`). Any other
  // blob is streamed through the store, which hashes it again beside the copy; with
  // `recheckStore`, every blob this run did not hash itself.
  const blobDigests = [...new Set(plan.files.flatMap((f) => (f.kind === 'blob' ? [f.digest] : [])))];
  const records = await Promise.all(
    blobDigests.map((d) => (options.recheckStore && !ingestedNow.has(d) ? undefined : store.trusted(d))),
  );
  const trust = new Map<string, FileFingerprint>();
  blobDigests.forEach((d, i) => {
    const record = records[i];
    if (record) trust.set(d, record);
  });
  /** The image's entries; `hashAll`: every blob streamed and hashed again (after ISO_SOURCE_CHANGED). */
  const entriesFor = (hashAll: boolean): IsoEntry[] => {
    const entries: IsoEntry[] = [];
    for (const [path, bytes] of rendered.files) entries.push({ path, type: 'file', source: { kind: 'bytes', data: bytes } });
    for (const f of plan.files) {
      if (f.kind !== 'blob') {
        entries.push({ path: f.isoPath, type: 'file', source: { kind: 'bytes', data: f.bytes } });
        continue;
      }
      const expect = hashAll ? undefined : trust.get(f.digest);
      const source: IsoFileSource = !hashAll && (ingestedNow.has(f.digest) || expect)
        ? { kind: 'path', path: store.path(f.digest), contentKey: f.digest, ...(expect ? { expect } : {}) }
        : { kind: 'stream', size: f.size, open: () => store.open(f.digest, { verify: true, reuseBuffers: true }), contentKey: f.digest };
      entries.push({ path: f.isoPath, type: 'file', source });
    }
    entries.push({ path: SDK_INDEX_PATH, type: 'file', source: { kind: 'bytes', data: enc.encode(`${JSON.stringify(index, null, 2)}\n`) } });
    return entries;
  };

  onProgress?.({ type: 'phase', phase: 'write' });
  const outDir = resolve(options.outDir);
  const isoName = `${solution.id}.iso`;
  const isoPath = join(outDir, isoName);
  await mkdir(outDir, { recursive: true });
  const write = (entries: IsoEntry[]) => writeIso({
    entries,
    output: isoPath,
    volumeId: volumeIdOf(solution),
    publisherId: solution.name.toUpperCase(),
    applicationId: `METALK8S SOLUTION SDK ${SDK_VERSION}`,
    joliet: true,
    timestamp,
    signal,
    onProgress: (e) => onProgress?.({ type: 'write', bytesWritten: e.bytesWritten, bytesTotal: e.bytesTotal }),
  });
  let written: Awaited<ReturnType<typeof writeIso>>;
  let hashAll = false;
  try {
    written = await write(entriesFor(false));
  } catch (err) {
    // A blob copied on its trust record changed after it was checked (the writer left nothing):
    // write again, hashing every stored blob, so a damaged one fails with BLOB_DIGEST_MISMATCH
    // (and is removed, for the next build to fetch again) and an intact one is recorded anew.
    if (!(err instanceof IsoError && err.code === 'ISO_SOURCE_CHANGED') || trust.size === 0) throw err;
    onProgress?.({ type: 'store-recheck', reason: err.message });
    hashAll = true;
    written = await write(entriesFor(true));
  }
  const ingested = blobDigests.filter((d) => ingestedNow.has(d)).length;
  const trustedUsed = hashAll ? 0 : blobDigests.filter((d) => !ingestedNow.has(d) && trust.has(d)).length;
  const blobCounts = { ingested, trusted: trustedUsed, rehashed: hashAll ? blobDigests.length : blobDigests.length - ingested - trustedUsed };
  const tWrite = performance.now();
  const isoSha256 = written.sha256;
  if (isoSha256 === undefined) throw new PackagingError('INTERNAL', 'the ISO writer returned no sha256');

  onProgress?.({ type: 'phase', phase: 'checksum' });
  const checksumPath = join(outDir, 'SHA256SUM');
  await updateChecksums(checksumPath, isoName, isoSha256);

  let signaturePath: string | undefined;
  if (options.signingKey !== undefined) {
    onProgress?.({ type: 'phase', phase: 'sign' });
    const key = signingKeyOf(options.signingKey);
    signaturePath = `${isoPath}.sig`;
    const signature = sign(null, signatureMessage(isoSha256), key);
    await writeAtomic(signaturePath, `${signature.toString('base64')}\n`);
  } else {
    // A stale signature of a previous build would no longer match: remove it.
    await rm(`${isoPath}.sig`, { force: true });
  }

  const allBlobBytes = plan.files.reduce((n, f) => n + (f.kind === 'blob' ? f.size : 0), 0);
  return {
    id: solution.id,
    path: isoPath,
    size: written.size,
    sha256: isoSha256,
    checksumPath,
    ...(signaturePath ? { signaturePath } : {}),
    images,
    dedupSavedBytes: allBlobBytes - plan.uniqueBlobBytes,
    blobs: blobCounts,
    build,
    warnings: solution.warnings,
    buildTime,
    timings: {
      render: Math.round(tRender - t0),
      images: Math.round(tImages - tRender),
      write: Math.round(tWrite - tImages),
      total: Math.round(performance.now() - t0),
    },
  };
}
