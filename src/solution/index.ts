export { type CrdDefinition, type CrdDefinitionOptions, type CrdInfo, type CrdVersionDefinition, type CustomResource, type CustomResourceInput, defineCrd, type Json, type PrinterColumn, toStructuralSchema } from './crd.js';
export { defineSolution, isSolution } from './define-solution.js';
export type { KubernetesObject, ObjectMeta, OwnerReference } from './kubernetes-object.js';
export {
  METALK8S_REGISTRY,
  MONITOR_LABEL,
  MONITORING_NAMESPACE,
  ownershipLabels,
  type RenderedImage,
  type RenderedSolution,
  type RenderOptions,
  render,
  renderImages,
  renderManifest,
  renderPlatform,
  renderRoles,
  SDK_MANAGER,
  SOLUTIONS_API_VERSION,
} from './render.js';
export { compareVersions } from './version-order.js';
export { DEFAULT_METALK8S_VERSION, type MetalK8sFeatures, metalk8sFeatures, OPERATOR_METRICS_SINCE } from './metalk8s-version.js';
export { type ImportedVersion, type RenderedEnvironment, type RenderEnvironmentOptions, renderEnvironment, saltWriterLabels } from './render-environment.js';
export * from './schema.js';
export { Size, sizeInBytes } from './size.js';
export { type Solution, type SolutionDefinition, type ValidationReport, validateSolution } from './validate.js';
export { solutionJsonSchema } from './json-schema.js';
