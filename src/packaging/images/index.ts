/**
 * Container images for MetalK8s solutions: fetch them from registries, OCI layouts and docker
 * archives, or build them from files, into a content-addressed blob store; lay them out as
 * MetalK8s' static registry (Docker v2s2 `images/<name>/<tag>/` plus `registry-config.inc.j2`).
 *
 * @module
 */
export * from './blob-store.js';
export * from './build-image.js';
export type {  } from './docker-archive.js';
export * from './fetch-image.js';
export * from './fetched-image.js';
export * from './manifest.js';
export { MediaTypes } from './media-types.js';
export { type OciLayoutEntry, writeOciLayout, type WriteOciLayoutOptions } from './oci-layout.js';
export { parsePlatform, type Platform, platformMatches } from './platform.js';
export * from './reference.js';
export {
  type LayoutBlobFile,
  type LayoutFile,
  type LayoutGeneratedFile,
  type LayoutImage,
  planRegistryLayout,
  type PlanRegistryLayoutOptions,
  registryCommonConfig,
  registryConfigTemplate,
  type RegistryConfigValues,
  type RegistryLayoutPlan,
  renderRegistryConfig,
  validateLayoutImages,
  writeLayout,
  type WriteLayoutOptions,
  type WriteLayoutResult,
} from './registry-layout.js';
