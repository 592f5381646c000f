/**
 * {@link FetchedImage}: an image whose every blob is in a blob store, whatever its
 * source, with both its source manifest and its Docker v2s2 form stored.
 *
 * @module
 */
import type { Descriptor } from './manifest.js';
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
