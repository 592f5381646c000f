/**
 * Image manifests and indexes, Docker v2s2 and OCI: parsing with validation, and the conversion
 * of an OCI manifest to Docker v2 schema 2, the only form MetalK8s' static registry serves.
 *
 * The conversion changes media types only: the config and layer blobs stay byte-identical, so
 * their digests do not change, but the manifest's own digest does. In-cluster references
 * should therefore use tags (MetalK8s serves manifests by tag and by the v2s2 digest).
 *
 * @module
 */
import { PackagingError, RegistryError } from '../../errors.js';
import { isDigest, sha256Digest } from './_digest.js';
import { MediaTypes } from './media-types.js';
import type { Platform } from './platform.js';

/** A content descriptor: what a manifest says about a blob. */
export interface Descriptor {
  readonly mediaType: string;
  /** `sha256:<hex>`. */
  readonly digest: string;
  /** Size in bytes. */
  readonly size: number;
  /** Download locations of foreign layers (kept as they are). */
  readonly urls?: readonly string[] | undefined;
  /** OCI annotations (dropped in v2s2). */
  readonly annotations?: Readonly<Record<string, string>> | undefined;
  /** Platform of a manifest list or index entry. */
  readonly platform?: (Platform & { readonly 'os.version'?: string }) | undefined;
}

/** A single-platform image manifest (Docker v2s2 or OCI). */
export interface ImageManifest {
  readonly kind: 'manifest';
  readonly mediaType: string;
  readonly config: Descriptor;
  readonly layers: readonly Descriptor[];
}

/** A multi-platform index (Docker manifest list or OCI index). */
export interface ImageIndex {
  readonly kind: 'index';
  readonly mediaType: string;
  readonly manifests: readonly Descriptor[];
}

function bad(what: string, message: string): RegistryError {
  return new RegistryError('IMAGE_MANIFEST_INVALID', `${what}: ${message}`, {
    hint: 'The source does not hold a valid Docker v2s2 or OCI image manifest; check the reference and the source.',
  });
}

function descriptor(what: string, value: unknown): Descriptor {
  if (typeof value !== 'object' || value === null) throw bad(what, 'a descriptor is not an object');
  const d = value as Record<string, unknown>;
  if (typeof d.digest !== 'string' || !isDigest(d.digest)) {
    throw bad(what, `descriptor digest ${JSON.stringify(d.digest)} is not a sha256 digest`);
  }
  if (typeof d.size !== 'number' || !Number.isSafeInteger(d.size) || d.size < 0) {
    throw bad(what, `descriptor ${d.digest} has no valid size`);
  }
  if (typeof d.mediaType !== 'string') throw bad(what, `descriptor ${d.digest} has no mediaType`);
  return d as unknown as Descriptor;
}

/** Options of {@link parseManifest}. */
export interface ParseManifestOptions {
  /**
   * The registry's `Content-Type`, or the index descriptor's media type: used when the document
   * has no `mediaType` field (allowed by OCI). @default none
   */
  readonly contentType?: string | undefined;
}

/**
 * Parses manifest or index bytes; `what` names the image in errors. `options.contentType` is used
 * when the document has no `mediaType` field (allowed by OCI).
 *
 * @throws `RegistryError` `IMAGE_MANIFEST_INVALID` or `IMAGE_MANIFEST_UNSUPPORTED`.
 * @example
 * ```ts
 * const m = parseManifest(bytes, 'vendor/app:1.0', { contentType: response.headers['content-type'] });
 * if (m.kind === 'index') console.log(m.manifests.map((d) => d.platform));
 * ```
 */
export function parseManifest(bytes: Uint8Array, what: string, options: ParseManifestOptions = {}): ImageManifest | ImageIndex {
  const { contentType } = options;
  let doc: Record<string, unknown>;
  try {
    doc = JSON.parse(Buffer.from(bytes).toString('utf8')) as Record<string, unknown>;
  } catch (cause) {
    throw new RegistryError('IMAGE_MANIFEST_INVALID', `${what}: the manifest is not JSON`, {
      cause,
      hint: 'Check that the source serves an image manifest at this reference.',
    });
  }
  if (typeof doc !== 'object' || doc === null) throw bad(what, 'the manifest is not a JSON object');
  const ct = contentType?.split(';')[0]?.trim();
  const mediaType =
    typeof doc.mediaType === 'string'
      ? doc.mediaType
      : ct && ct !== 'application/json' && ct !== 'application/octet-stream'
        ? ct
        : Array.isArray(doc.manifests)
          ? MediaTypes.ociIndex
          : MediaTypes.ociManifest;
  if (doc.schemaVersion === 1 || mediaType === MediaTypes.dockerManifestV1 || mediaType === MediaTypes.dockerManifestV1Signed) {
    throw new RegistryError('IMAGE_MANIFEST_UNSUPPORTED', `${what}: Docker schema 1 manifests are not supported`, {
      hint: 'Re-push the image with a current Docker, skopeo or buildah (they write schema 2 or OCI manifests).',
    });
  }
  if (doc.schemaVersion !== 2) throw bad(what, `schemaVersion is ${JSON.stringify(doc.schemaVersion)}, expected 2`);
  if (mediaType === MediaTypes.dockerManifestList || mediaType === MediaTypes.ociIndex) {
    if (!Array.isArray(doc.manifests)) throw bad(what, 'an index without "manifests"');
    return { kind: 'index', mediaType, manifests: doc.manifests.map((m) => descriptor(what, m)) };
  }
  if (mediaType === MediaTypes.dockerManifest || mediaType === MediaTypes.ociManifest) {
    if (!Array.isArray(doc.layers)) throw bad(what, 'a manifest without "layers"');
    return {
      kind: 'manifest',
      mediaType,
      config: descriptor(what, doc.config),
      layers: doc.layers.map((l) => descriptor(what, l)),
    };
  }
  throw new RegistryError('IMAGE_MANIFEST_UNSUPPORTED', `${what}: unsupported manifest media type ${mediaType}`, {
    hint: 'Only container images are supported (Docker v2s2 or OCI); artifacts such as Helm charts or signatures are not.',
  });
}

const LAYER_TO_DOCKER: Readonly<Record<string, string>> = {
  [MediaTypes.ociLayerGzip]: MediaTypes.dockerLayerGzip,
  [MediaTypes.ociLayer]: MediaTypes.dockerLayer,
  [MediaTypes.dockerLayerGzip]: MediaTypes.dockerLayerGzip,
  [MediaTypes.dockerLayer]: MediaTypes.dockerLayer,
  [MediaTypes.dockerForeignLayer]: MediaTypes.dockerForeignLayer,
  'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip': MediaTypes.dockerForeignLayer,
};

/** A Docker v2s2 manifest as bytes, with its digest. */
export interface DockerManifestBytes {
  /** The exact bytes to serve as `manifest.json`. */
  readonly bytes: Uint8Array;
  /** sha256 of `bytes`: the `Docker-Content-Digest` MetalK8s serves. */
  readonly digest: string;
  readonly manifest: ImageManifest;
}

/**
 * Converts a manifest to Docker v2 schema 2. A v2s2 manifest is returned byte for byte;
 * an OCI manifest is rewritten (media types only; deterministic JSON).
 *
 * @throws `PackagingError` `IMAGE_LAYER_ZSTD` for zstd layers, `IMAGE_LAYER_UNSUPPORTED` for other layer types.
 * @example
 * ```ts
 * const v2 = toDockerV2s2(ociManifestBytes, 'app:1.0');
 * await fs.writeFile('manifest.json', v2.bytes);
 * ```
 */
export function toDockerV2s2(bytes: Uint8Array, what: string): DockerManifestBytes {
  const parsed = parseManifest(bytes, what);
  if (parsed.kind !== 'manifest') {
    throw new PackagingError('IMAGE_NOT_SINGLE_PLATFORM', `${what}: an index cannot be laid out, resolve a platform first`, {
      hint: 'Fetch the image with a platform (e.g. linux/amd64); MetalK8s serves single-platform manifests only.',
    });
  }
  if (parsed.mediaType === MediaTypes.dockerManifest) {
    return { bytes, digest: sha256Digest(bytes), manifest: parsed };
  }
  const layers = parsed.layers.map((l) => {
    if (l.mediaType === MediaTypes.ociLayerZstd || l.mediaType.endsWith('+zstd')) {
      throw new PackagingError('IMAGE_LAYER_ZSTD', `${what}: layer ${l.digest} is zstd-compressed`, {
        hint: 'Docker v2s2 (what MetalK8s serves) has no zstd layers: rebuild or re-push the image with gzip layers (e.g. `skopeo copy --dest-compress-format gzip`, `buildah push --compression-format gzip`).',
      });
    }
    const mediaType = LAYER_TO_DOCKER[l.mediaType];
    if (!mediaType) {
      throw new PackagingError('IMAGE_LAYER_UNSUPPORTED', `${what}: layer ${l.digest} has media type ${l.mediaType}`, {
        hint: 'Only tar and tar+gzip layers can be served by MetalK8s (Docker v2s2).',
      });
    }
    return { mediaType, size: l.size, digest: l.digest, ...(l.urls ? { urls: l.urls } : {}) };
  });
  const doc = {
    schemaVersion: 2,
    mediaType: MediaTypes.dockerManifest,
    config: { mediaType: MediaTypes.dockerConfig, size: parsed.config.size, digest: parsed.config.digest },
    layers,
  };
  const out = new TextEncoder().encode(JSON.stringify(doc, null, 3));
  return {
    bytes: out,
    digest: sha256Digest(out),
    manifest: { kind: 'manifest', mediaType: MediaTypes.dockerManifest, config: doc.config, layers },
  };
}
