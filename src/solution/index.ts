export { type CrdDefinition, type CrdDefinitionOptions, type CrdInfo, type CrdVersionDefinition, type CustomResource, type CustomResourceInput, defineCrd, type PrinterColumn } from './crd.js';
export { defineSolution } from './define-solution.js';
export type { KubernetesObject, ObjectMeta, OwnerReference } from './kubernetes-object.js';
export {
  type RenderedImage,
  type RenderedSolution,
  type RenderOptions,
  render,
  renderPlatform,
} from './render.js';
export { compareVersions } from './version-order.js';
export { type MetalK8sFeatures, metalk8sFeatures } from './metalk8s-version.js';
export { type ImportedVersion, type RenderedEnvironment, type RenderEnvironmentOptions, renderEnvironment } from './render-environment.js';
export { type DeepReadonly, type SolutionInput, SolutionSchema } from './schema.js';
export { Size, sizeInBytes } from './size.js';
export { type Solution, type SolutionDefinition, type ValidationReport, validateSolution } from './validate.js';
export { solutionJsonSchema } from './json-schema.js';
