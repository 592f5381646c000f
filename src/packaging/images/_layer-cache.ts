/**
 * The build cache of {@link buildImage}: a built layer is found again by the digest of its
 * inputs, so a repack whose files did not change tars and compresses nothing.
 *
 * The key is the sha256 of a canonical description of the layer: every entry's path, type,
 * mode, symlink target, size and the sha256 of its content, plus the compression, the zlib
 * version and the SDK version (either could change the bytes of a fresh build). The value is
 * a small JSON file under `<store>/layer-cache/<key>.json` naming the compressed blob (digest,
 * size, media type) and its uncompressed digest (the config's `diff_id`).
 *
 * A cache entry is trusted only when it proves itself: the file carries the sha256 of its own
 * fields and the key it was written for, and the blob it names is re-hashed by the store
 * ({@link BlobStore.verify}, which removes a damaged blob). Anything that does not check out is
 * a miss, and the layer is built again: a damaged cache costs time, never a wrong image.
 *
 * Source files are stat'ed before they are hashed and after the layer is built; an entry is
 * written only when none changed meanwhile, so a file edited during a build never maps the new
 * bytes to the old key.
 *
 * @module
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat, mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { versions } from 'node:process';
import { throwIfAborted } from '../../errors.js';
import { SDK_VERSION } from '../../version.js';
import type { BlobStore } from './blob-store.js';

/** A layer entry as the builder sees it (paths already normalised, sizes known). */
export interface CacheableEntry {
  readonly name: string;
  readonly type: 'file' | 'directory' | 'symlink';
  readonly mode: number;
  readonly size: number;
  readonly content?: Uint8Array | undefined;
  readonly source?: string | undefined;
  readonly target?: string | undefined;
  /** The option that named `source`, for error messages (not part of the cache key). */
  readonly field?: string | undefined;
}

/** What a built layer is. */
export interface BuiltLayer {
  readonly mediaType: string;
  readonly digest: string;
  readonly size: number;
  /** sha256 of the uncompressed tar. */
  readonly diffId: string;
}

/** How a layer was obtained. */
export interface LayerOutcome extends BuiltLayer {
  /** `true` when it came from the cache (nothing was tarred nor compressed). */
  readonly cached: boolean;
  /** Uncompressed bytes that went through tar and the compressor (0 when cached). */
  readonly bytesCompressed: number;
}

const FORMAT = 1;
const DIGEST = /^sha256:[0-9a-f]{64}$/;

function sha256(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

async function fileSha256(path: string, signal: AbortSignal | undefined): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) {
    throwIfAborted(signal, 'hashing build inputs');
    h.update(chunk as Buffer);
  }
  return h.digest('hex');
}

type Stamp = string;
async function stampOf(path: string): Promise<Stamp> {
  const st = await lstat(path, { bigint: true });
  return `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;
}

async function stampsOf(entries: readonly CacheableEntry[]): Promise<Stamp[]> {
  const out: Stamp[] = [];
  for (const e of entries) if (e.source !== undefined) out.push(await stampOf(e.source));
  return out;
}

/** The digest of a layer's inputs (hex). */
async function layerKey(entries: readonly CacheableEntry[], compression: string, signal: AbortSignal | undefined): Promise<string> {
  const described: unknown[] = [];
  for (const e of entries) {
    const content =
      e.type !== 'file' ? null : e.source !== undefined ? await fileSha256(e.source, signal) : sha256(e.content ?? new Uint8Array());
    described.push([e.name, e.type, e.mode, e.size, e.target ?? null, content]);
  }
  return sha256(JSON.stringify({ format: FORMAT, sdk: SDK_VERSION, zlib: versions.zlib, compression, entries: described }));
}

function entryChecksum(key: string, layer: BuiltLayer): string {
  return sha256(JSON.stringify([FORMAT, key, layer.mediaType, layer.digest, layer.size, layer.diffId]));
}

function entryPath(store: BlobStore, key: string): string {
  return join(store.dir, 'layer-cache', `${key}.json`);
}

async function lookup(store: BlobStore, key: string): Promise<BuiltLayer | undefined> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(entryPath(store, key), 'utf8'));
  } catch {
    return undefined;
  }
  const e = parsed as Partial<BuiltLayer & { format: number; key: string; checksum: string }>;
  if (
    e.format !== FORMAT ||
    e.key !== key ||
    typeof e.mediaType !== 'string' ||
    typeof e.digest !== 'string' ||
    !DIGEST.test(e.digest) ||
    typeof e.diffId !== 'string' ||
    !DIGEST.test(e.diffId) ||
    typeof e.size !== 'number'
  )
    return undefined;
  const layer: BuiltLayer = { mediaType: e.mediaType, digest: e.digest, size: e.size, diffId: e.diffId };
  if (e.checksum !== entryChecksum(key, layer)) return undefined;
  if (!(await store.has(layer.digest, layer.size))) return undefined;
  try {
    await store.verify(layer.digest, { ifChanged: true });
  } catch {
    return undefined;
  }
  return layer;
}

async function remember(store: BlobStore, key: string, layer: BuiltLayer): Promise<void> {
  const path = entryPath(store, key);
  await mkdir(join(store.dir, 'layer-cache'), { recursive: true });
  const tmp = `${path}.tmp-${process.pid}-${Math.random().toString(16).slice(2)}`;
  const body = { format: FORMAT, key, ...layer, checksum: entryChecksum(key, layer) };
  try {
    await writeFile(tmp, `${JSON.stringify(body)}\n`);
    await rename(tmp, path);
  } catch {
    // The cache is an optimisation: a read-only or full store still builds.
    await rm(tmp, { force: true }).catch(() => undefined);
  }
}

/**
 * Returns the layer of `entries` from the cache when a verified entry exists, else runs `build`
 * and records its result.
 */
export async function cachedLayer(
  store: BlobStore,
  entries: readonly CacheableEntry[],
  options: { readonly compression: string; readonly enabled: boolean; readonly signal?: AbortSignal | undefined },
  build: () => Promise<BuiltLayer & { readonly bytesCompressed: number }>,
): Promise<LayerOutcome> {
  if (!options.enabled) return { ...(await build()), cached: false };
  const before = await stampsOf(entries);
  const key = await layerKey(entries, options.compression, options.signal);
  const hit = await lookup(store, key);
  if (hit) return { ...hit, cached: true, bytesCompressed: 0 };
  const built = await build();
  const after = await stampsOf(entries).catch(() => undefined);
  if (after && after.join('\n') === before.join('\n')) {
    await remember(store, key, { mediaType: built.mediaType, digest: built.digest, size: built.size, diffId: built.diffId });
  }
  return { ...built, cached: false };
}

/**
 * Removes the cache entries whose blob is no longer in the store (after a prune), and entries
 * that cannot be read. Returns how many were removed.
 */
export async function pruneLayerCache(store: BlobStore): Promise<number> {
  const dir = join(store.dir, 'layer-cache');
  let removed = 0;
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    const path = join(dir, name);
    let digest: unknown;
    try {
      digest = (JSON.parse(await readFile(path, 'utf8')) as { digest?: unknown }).digest;
    } catch {
      digest = undefined;
    }
    const alive = typeof digest === 'string' && DIGEST.test(digest) && (await lstat(store.path(digest)).then(() => true, () => false));
    if (!alive) {
      await rm(path, { force: true });
      removed++;
    }
  }
  return removed;
}
