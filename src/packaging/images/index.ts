/**
 * Container images for MetalK8s solutions: fetch them from registries, OCI layouts and docker
 * archives, or build them from files, into a content-addressed blob store; lay them out as
 * MetalK8s' static registry (Docker v2s2 `images/<name>/<tag>/` plus `registry-config.inc.j2`).
 *
 * @module
 */
export * from './blob-store.js';
export * from './build-image.js';
export * from './docker-archive.js';
export * from './fetch-image.js';
export * from './fetched-image.js';
export * from './manifest.js';
export * from './media-types.js';
export * from './oci-layout.js';
export * from './platform.js';
export * from './reference.js';
export * from './registry-layout.js';
