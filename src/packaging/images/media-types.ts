/**
 * Media types of container image manifests, indexes, configs and layers, Docker and OCI.
 *
 * @module
 */

/** Media types the SDK reads and writes. */
export const MediaTypes = {
  /** Docker image manifest, version 2 schema 2: the only manifest MetalK8s' static registry serves. */
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  /** Docker manifest list (multi-platform). */
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  /** Docker image configuration. */
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  /** Docker gzip-compressed layer. */
  dockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  /** Docker uncompressed layer. */
  dockerLayer: 'application/vnd.docker.image.rootfs.diff.tar',
  /** Docker foreign (non-distributable) layer. */
  dockerForeignLayer: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
  /** OCI image manifest. */
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  /** OCI image index (multi-platform). */
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  /** OCI image configuration. */
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  /** OCI uncompressed layer. */
  ociLayer: 'application/vnd.oci.image.layer.v1.tar',
  /** OCI gzip-compressed layer. */
  ociLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  /** OCI zstd-compressed layer (cannot be served to MetalK8s as Docker v2s2). */
  ociLayerZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  /** Deprecated Docker v2 schema 1 signed manifest (not supported). */
  dockerManifestV1Signed: 'application/vnd.docker.distribution.manifest.v1+prettyjws',
  /** Deprecated Docker v2 schema 1 manifest (not supported). */
  dockerManifestV1: 'application/vnd.docker.distribution.manifest.v1+json',
} as const;

/** The `Accept` header sent when asking a registry for a manifest. */
export const MANIFEST_ACCEPT = [
  MediaTypes.dockerManifest,
  MediaTypes.dockerManifestList,
  MediaTypes.ociManifest,
  MediaTypes.ociIndex,
].join(', ');
