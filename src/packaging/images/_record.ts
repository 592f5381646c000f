/** Records an image whose blobs are in the store as a {@link FetchedImage}. */
import { PackagingError } from '../../errors.js';
import { sha256Digest } from './_digest.js';
import type { BlobStore } from './blob-store.js';
import type { FetchedImage } from './fetched-image.js';
import { parseManifest, toDockerV2s2 } from './manifest.js';
import type { Platform } from './platform.js';

/**
 * Records an image whose config and layers are already in the store: stores the source
 * manifest and its v2s2 form, reads the platform from the config.
 */
export async function recordImage(
  store: BlobStore,
  manifestBytes: Uint8Array,
  info: {
    readonly source: string;
    readonly pinned?: string | undefined;
    readonly indexDigest?: string | undefined;
    /** The source manifest is in the store already (a registry fetch stored it on arrival). */
    readonly manifestStored?: boolean | undefined;
  },
): Promise<FetchedImage> {
  const sourceDigest = sha256Digest(manifestBytes);
  const v2 = toDockerV2s2(manifestBytes, info.source);
  const sourceMediaType = parseManifest(manifestBytes, info.source).mediaType;
  // The writes and checks are independent: run at once (each is a few file system calls).
  const blobs = [v2.manifest.config, ...v2.manifest.layers];
  const [present] = await Promise.all([
    Promise.all(blobs.map((d) => store.has(d.digest, d.size))),
    info.manifestStored ? undefined : store.put(manifestBytes, { expectedDigest: sourceDigest }),
    v2.digest !== sourceDigest ? store.put(v2.bytes, { expectedDigest: v2.digest }) : undefined,
  ]);
  const missing = blobs.find((_, i) => !present[i]);
  if (missing) {
    throw new PackagingError('BLOB_NOT_FOUND', `${info.source}: blob ${missing.digest} (${missing.size} bytes) is missing from the store`, {
      hint: 'The image source is incomplete; fetch the image again.',
    });
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
