/**
 * {@link fetchImage}: brings an image from any source (registry, OCI layout, docker archive,
 * or built from files) into the blob store, verifying every digest, and describes it as a
 * {@link FetchedImage} ready for {@link planRegistryLayout}.
 *
 * @module
 */
import { DOWNLOAD_CONCURRENCY, numberOption } from '../../_number-option.js';
import { pool } from './_pool.js';
import { RegistryError, throwIfAborted } from '../../errors.js';
import { sha256Digest } from './_digest.js';
import { type RegistryConnection, RegistrySession } from './_registry.js';
import { selectPlatform } from './_select.js';
import type { BlobStore } from './blob-store.js';
import { type BuildImageOptions, buildImage } from './build-image.js';
import { readDockerArchive } from './docker-archive.js';
import { recordImage } from './_record.js';
import type { FetchedImage } from './fetched-image.js';
import { type Descriptor, parseManifest, toDockerV2s2 } from './manifest.js';
import { readOciLayout } from './oci-layout.js';
import { DEFAULT_PLATFORM, type Platform } from './platform.js';
import { formatImageReference, parseImageReference } from './reference.js';

export type { RegistryAuth, RegistryConnection } from './_registry.js';

/** An image in a registry, pulled through the OCI distribution API. */
export interface RegistryImageSource extends RegistryConnection {
  readonly kind: 'registry';
  /** `docker.io/library/redis:7.2`, `registry.example.com:5000/app@sha256:…`. */
  readonly reference: string;
  /** Platform to resolve a multi-platform image to; overrides the fetch option. */
  readonly platform?: Platform | undefined;
}

/** An image in an OCI image layout directory. */
export interface OciLayoutImageSource {
  readonly kind: 'oci-layout';
  /** The layout directory (holds `oci-layout`, `index.json`, `blobs/`). */
  readonly path: string;
  /** Value of the `org.opencontainers.image.ref.name` annotation; optional with one image. */
  readonly reference?: string | undefined;
  readonly platform?: Platform | undefined;
}

/** An image in a `docker save` (classic or OCI) or skopeo docker-archive / oci-archive tarball. */
export interface DockerArchiveImageSource {
  readonly kind: 'docker-archive';
  /** The tarball (optionally gzip-compressed). */
  readonly path: string;
  /** A `RepoTags` entry (`vendor/app:1.0`) or OCI ref name; optional with one image. */
  readonly reference?: string | undefined;
  readonly platform?: Platform | undefined;
}

/** An image built from files by {@link buildImage}. */
export interface BuildImageSource {
  readonly kind: 'build';
  readonly build: BuildImageOptions;
}

/** Where an image comes from. */
export type ImageSource = RegistryImageSource | OciLayoutImageSource | DockerArchiveImageSource | BuildImageSource;

/**
 * Parses a source written the way skopeo names transports: `docker://REF`, `oci:PATH[:REF]`,
 * `docker-archive:PATH[:REF]` (also `oci-archive:`). A bare reference means `docker://`.
 *
 * @example
 * ```ts
 * parseImageSource('oci:./build/oci:1.0.0'); // { kind: 'oci-layout', path: './build/oci', reference: '1.0.0' }
 * ```
 */
export function parseImageSource(text: string): RegistryImageSource | OciLayoutImageSource | DockerArchiveImageSource {
  const m = /^(docker|oci|docker-archive|oci-archive):(.*)$/.exec(text);
  if (!m) return { kind: 'registry', reference: text };
  const [, transport, rest = ''] = m;
  if (transport === 'docker') return { kind: 'registry', reference: rest.replace(/^\/\//, '') };
  // PATH[:REF], split at the first colon as skopeo does (REF may hold colons: vendor/app:1.0).
  const colon = rest.indexOf(':');
  const path = colon > 0 ? rest.slice(0, colon) : rest;
  const reference = colon > 0 ? rest.slice(colon + 1) : undefined;
  if (transport === 'oci') return reference === undefined ? { kind: 'oci-layout', path } : { kind: 'oci-layout', path, reference };
  return reference === undefined ? { kind: 'docker-archive', path } : { kind: 'docker-archive', path, reference };
}

/** Progress of {@link fetchImage}. */
export type FetchProgressEvent =
  | { readonly type: 'manifest'; readonly source: string; readonly digest: string }
  | { readonly type: 'blob-cached'; readonly source: string; readonly digest: string; readonly size: number }
  | { readonly type: 'blob-start'; readonly source: string; readonly digest: string; readonly size: number }
  | { readonly type: 'blob-progress'; readonly source: string; readonly digest: string; readonly bytes: number; readonly size: number }
  | { readonly type: 'blob-done'; readonly source: string; readonly digest: string; readonly size: number }
  | { readonly type: 'image-done'; readonly source: string; readonly image: FetchedImage; readonly bytesDownloaded: number }
  /** A layer of a built image: from the build cache, or tarred and compressed now. */
  | { readonly type: 'layer-built'; readonly source: string; readonly index: number; readonly digest: string; readonly size: number; readonly cached: boolean; readonly bytesCompressed: number };

/** Options of {@link fetchImage}. */
export interface FetchImageOptions {
  /** The blob store that receives the image. */
  readonly store: BlobStore;
  /** Platform for multi-platform images (a source's own `platform` wins). @default linux/amd64 */
  readonly platform?: Platform | undefined;
  /** Parallel blob downloads: a whole number from 1 to 64. @default 4 */
  readonly concurrency?: number | undefined;
  /** Cancels the fetch. */
  readonly signal?: AbortSignal | undefined;
  /** Progress events. */
  readonly onProgress?: ((event: FetchProgressEvent) => void) | undefined;
  /** Built images: reuse layers from the build cache (see {@link buildImage}). @default true */
  readonly buildCache?: boolean | undefined;
}

async function fetchFromRegistry(source: RegistryImageSource, options: FetchImageOptions): Promise<FetchedImage> {
  const ref = parseImageReference(source.reference);
  const name = formatImageReference(ref);
  const { store, signal } = options;
  const emit = options.onProgress ?? (() => undefined);
  const concurrency = options.concurrency ?? 4;
  const session = new RegistrySession(ref.registry, source);
  try {
    const getManifest = async (reference: string, expected: string | undefined, mediaType?: string) => {
      if (expected && (await store.has(expected))) {
        const bytes = await store.read(expected);
        return { bytes, contentType: mediaType, digest: expected };
      }
      const m = await session.manifest(ref.repository, reference, signal);
      const actual = sha256Digest(m.bytes);
      const want = expected ?? m.digest;
      if (want && want !== actual) {
        throw new RegistryError('REGISTRY_DIGEST_MISMATCH', `${name}: the manifest has digest ${actual}, expected ${want}`, {
          hint: 'The registry served a different or corrupted manifest; nothing was stored.',
        });
      }
      await store.put(m.bytes, { expectedDigest: actual });
      return { bytes: m.bytes, contentType: m.contentType, digest: actual };
    };
    const top = await getManifest(ref.digest ?? ref.tag ?? 'latest', ref.digest);
    let parsed = parseManifest(top.bytes, name, { contentType: top.contentType });
    let manifest = top;
    let indexDigest: string | undefined;
    if (parsed.kind === 'index') {
      indexDigest = top.digest;
      const d = selectPlatform(parsed, source.platform ?? options.platform ?? DEFAULT_PLATFORM, name);
      manifest = await getManifest(d.digest, d.digest, d.mediaType);
      parsed = parseManifest(manifest.bytes, name, { contentType: d.mediaType });
      if (parsed.kind !== 'manifest') throw new RegistryError('IMAGE_MANIFEST_INVALID', `${name}: nested indexes are not supported`);
    }
    // Fail before downloading anything when the image cannot be served as v2s2 (zstd layers…).
    toDockerV2s2(manifest.bytes, name);
    emit({ type: 'manifest', source: name, digest: manifest.digest });
    const blobs: Descriptor[] = [parsed.config, ...parsed.layers];
    const unique = [...new Map(blobs.map((b) => [b.digest, b])).values()];
    await pool(unique, concurrency, signal, `fetching ${name}`, async (d, signal) => {
      throwIfAborted(signal, `fetching ${name}`);
      let got = 0;
      const produce = () => {
        emit({ type: 'blob-start', source: name, digest: d.digest, size: d.size });
        return session.blob(ref.repository, d, store, signal, (n) => {
          got += n;
          emit({ type: 'blob-progress', source: name, digest: d.digest, bytes: got, size: d.size });
        });
      };
      let status: 'present' | 'added';
      try {
        status = await store.ensure(d.digest, d.size, produce);
      } catch (err) {
        // Another fetch sharing this download was cancelled, not this one: download it ourselves.
        if ((err as { code?: string }).code !== 'ABORTED' || signal.aborted) throw err;
        status = await store.ensure(d.digest, d.size, produce);
      }
      emit({ type: status === 'present' ? 'blob-cached' : 'blob-done', source: name, digest: d.digest, size: d.size });
    });
    const pinned = `${ref.registry}/${ref.repository}@${top.digest}`;
    // getManifest stored it (or found it in the store).
    const image = await recordImage(store, manifest.bytes, { source: name, pinned, indexDigest, manifestStored: true });
    emit({ type: 'image-done', source: name, image, bytesDownloaded: session.bytesDownloaded });
    return image;
  } finally {
    session.close();
  }
}

/** Options of {@link fetchImagePlatforms}. */
export interface FetchImagePlatformsOptions extends Omit<FetchImageOptions, 'platform'> {
  /** Platforms to fetch, e.g. `[parsePlatform('linux/amd64'), parsePlatform('linux/arm64')]`. */
  readonly platforms: readonly Platform[];
}

/**
 * Fetches one image per platform from a multi-platform source (shared blobs are fetched once).
 * MetalK8s serves single-platform manifests, so lay each result out under its own tag.
 *
 * @example
 * ```ts
 * const [amd64, arm64] = await fetchImagePlatforms(
 *   { kind: 'registry', reference: 'docker.io/library/redis:7.2' },
 *   { store, platforms: [parsePlatform('linux/amd64'), parsePlatform('linux/arm64')] },
 * );
 * ```
 */
export async function fetchImagePlatforms(source: ImageSource, options: FetchImagePlatformsOptions): Promise<FetchedImage[]> {
  const out: FetchedImage[] = [];
  for (const platform of options.platforms) {
    const src = source.kind === 'build' ? source : { ...source, platform };
    out.push(await fetchImage(src, { ...options, platform }));
  }
  return out;
}

/**
 * Brings an image into the store from a registry, an OCI layout, a docker archive, or files.
 * Blobs already in the store are not fetched again; every blob is verified against its digest.
 *
 * @throws `RegistryError` (`REGISTRY_AUTH_FAILED`, `REGISTRY_NOT_FOUND`, `REGISTRY_RATE_LIMITED`,
 *   `REGISTRY_DIGEST_MISMATCH`, `IMAGE_PLATFORM_NOT_FOUND`, …) and `PackagingError` (`IMAGE_LAYER_ZSTD`, …).
 * @example
 * ```ts
 * const store = await openBlobStore();
 * const redis = await fetchImage(
 *   { kind: 'registry', reference: 'docker.io/library/redis:7.2' },
 *   { store, platform: { os: 'linux', architecture: 'amd64' }, onProgress: (e) => console.log(e.type) },
 * );
 * console.log(redis.pinned, redis.manifestDigest);
 * ```
 */
export async function fetchImage(source: ImageSource, options: FetchImageOptions): Promise<FetchedImage> {
  throwIfAborted(options.signal, 'fetching an image');
  // NaN here started no download at all: the image came back without its layers fetched.
  numberOption('concurrency', options.concurrency, DOWNLOAD_CONCURRENCY);
  const platform = ('platform' in source ? source.platform : undefined) ?? options.platform;
  let image: FetchedImage;
  switch (source.kind) {
    case 'registry':
      return fetchFromRegistry(source, options);
    case 'oci-layout':
      image = await readOciLayout(source.path, { store: options.store, reference: source.reference, platform, signal: options.signal });
      break;
    case 'docker-archive':
      image = await readDockerArchive(source.path, { store: options.store, reference: source.reference, platform, signal: options.signal });
      break;
    case 'build':
      image = await buildImage(source.build, {
        store: options.store,
        signal: options.signal,
        cache: options.buildCache,
        onLayer: (e) => options.onProgress?.({ type: 'layer-built', source: 'build', ...e }),
      });
      break;
  }
  options.onProgress?.({ type: 'image-done', source: image.source, image, bytesDownloaded: 0 });
  return image;
}
