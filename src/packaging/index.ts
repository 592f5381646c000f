/**
 * Packaging: ISO images, container images and the MetalK8s archive layout. Does file and
 * registry I/O; never talks to a cluster.
 *
 * @module packaging
 */
export * from './iso/index.js';
export * from './images/index.js';
export * from './dev.js';
export * from './init-project.js';
export * from './solution-file.js';
export * from './build-time.js';
export * from './pack.js';
export * from './inspect.js';
export * from './verify.js';
export * from './diff.js';
export * from './platform-objects.js';
export * from './check-solution-inputs.js';
export * from './keygen.js';
