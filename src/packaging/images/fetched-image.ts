/**
 * {@link FetchedImage}: an image whose every blob is in a {@link BlobStore}, whatever its
 * source, with both its source manifest and its Docker v2s2 form stored.
 *
 * @module
 */
import { PackagingError } from '../../errors.js';
import { sha256Digest } from './_digest.js';
import type { BlobStore } from './blob-store.js';
import { type Descriptor, parseManifest, toDockerV2s2 } from './manifest.js';
import type { Platform } from './platform.js';

/** An image in the store, ready to be laid out. */
export interface FetchedImage {
  /** Where it came from, for messages: a reference, a path, or `build`. */
  readonly source: string;
  /** The source reference pinned to the digest it resolved to (`registry/repo@sha256:…`), for registry sources. */
  readonly pinned: string | undefined;
  /** Digest of the manifest the source has for this platform (unchanged source bytes, stored). */
  readonly sourceDigest: string;
  /** Media type of the source manifest. */
  readonly sourceMediaType: string;
  /** Digest of the index or manifest list the reference pointed at, when there was one. */
  readonly indexDigest: string | undefined;
  /** Digest of the Docker v2s2 `manifest.json` (stored): what MetalK8s serves as `Docker-Content-Digest`. */
  readonly manifestDigest: string;
  /** Size of the v2s2 manifest in bytes. */
  readonly manifestSize: number;
  /** The config blob (media type as in the v2s2 manifest). */
  readonly config: Descriptor;
  /** The layers, in order (media types as in the v2s2 manifest; bytes and digests unchanged). */
  readonly layers: readonly Descriptor[];
  /** The image's platform, from its config. */
  readonly platform: Platform;
}

/**
 * Records an image whose config and layers are already in the store: stores the source
 * manifest and its v2s2 form, reads the platform from the config.
 *
 * @internal
 */
export async function recordImage(
  store: BlobStore,
  manifestBytes: Uint8Array,
  info: { readonly source: string; readonly pinned?: string | undefined; readonly indexDigest?: string | undefined },
): Promise<FetchedImage> {
  const sourceDigest = sha256Digest(manifestBytes);
  const v2 = toDockerV2s2(manifestBytes, info.source);
  const sourceMediaType = parseManifest(manifestBytes, info.source).mediaType;
  await store.put(manifestBytes, { expectedDigest: sourceDigest });
  if (v2.digest !== sourceDigest) await store.put(v2.bytes, { expectedDigest: v2.digest });
  for (const d of [v2.manifest.config, ...v2.manifest.layers]) {
    if (!(await store.has(d.digest, d.size))) {
      throw new PackagingError('BLOB_NOT_FOUND', `${info.source}: blob ${d.digest} (${d.size} bytes) is missing from the store`, {
        hint: 'The image source is incomplete; fetch the image again.',
      });
    }
  }
  const cfg = JSON.parse(Buffer.from(await store.read(v2.manifest.config.digest)).toString('utf8')) as {
    os?: string;
    architecture?: string;
    variant?: string;
  };
  const platform: Platform = {
    os: cfg.os ?? 'linux',
    architecture: cfg.architecture ?? 'amd64',
    ...(cfg.variant ? { variant: cfg.variant } : {}),
  };
  return {
    source: info.source,
    pinned: info.pinned,
    sourceDigest,
    sourceMediaType,
    indexDigest: info.indexDigest,
    manifestDigest: v2.digest,
    manifestSize: v2.bytes.byteLength,
    config: v2.manifest.config,
    layers: v2.manifest.layers,
    platform,
  };
}
