/**
 * The MetalK8s Solution SDK: the typed solution model. Describe a solution with
 * {@link defineSolution}, check it with {@link validateSolution}, turn it into the archive's files
 * with {@link render}, and preview what MetalK8s deploys with {@link renderEnvironment}.
 * `z` is re-exported: zod as the SDK uses it, for CRD schemas (its API is zod's own,
 * https://zod.dev, and is not repeated in these pages).
 *
 * @module
 */
export {
  AbortError,
  ClusterError,
  type Issue,
  type IssueSeverity,
  IsoError,
  PackagingError,
  PromqlError,
  type PromqlErrorOptions,
  RegistryError,
  redact,
  SdkError,
  type SdkErrorOptions,
  ServiceError,
  type ServiceErrorOptions,
  ValidationError,
} from './errors.js';
export * from './error-codes.js';
export * from './solution/index.js';
/**
 * zod, as the SDK uses it: write CRD schemas with this `z` so they are read the same way. Its own
 * API is zod's (https://zod.dev) and is not repeated in these pages.
 *
 * @hidden
 */
export { z } from 'zod';
