/**
 * Packaging: ISO images, container images and the MetalK8s archive layout. Does file and
 * registry I/O; never talks to a cluster.
 *
 * @module packaging
 */
export * from './iso/index.js';
export * from './images/index.js';
export * from './dev.js';
export { type LoadedSolution, loadSolutionFile } from './solution-file.js';
export type { BuildTime, BuildTimeSource } from './build-time.js';
export {
  pack,
  type PackedImage,
  type PackOptions,
  type PackProgressEvent,
  type PackResult,
  type SdkIndex,
  type SdkIndexFile,
  toImageSource,
} from './pack.js';
export * from './inspect.js';
export * from './verify.js';
export {
  type ArchiveContents,
  type Change,
  type ChangeCategory,
  crdChanges,
  diff,
  diffContents,
  type DiffOptions,
  type DiffResult,
} from './diff.js';
export type {  } from './platform-objects.js';
export * from './check-solution-inputs.js';
export * from './keygen.js';
