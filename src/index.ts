/**
 * The MetalK8s Solution SDK: the typed solution model.
 *
 * @module
 */
export * from './errors.js';
export { SDK_VERSION } from './version.js';
