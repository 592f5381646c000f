/**
 * Test harness for MetalK8s Solutions: a real Kubernetes control plane (etcd, kube-apiserver,
 * controllers, kwok), the objects of an empty MetalK8s cluster, the MetalK8s emulator, and a real
 * OpenSSH sshd standing in for a node reached over SSH.
 *
 * @module
 */
export {
  type ControlPlane,
  CONTROL_PLANE_BINARIES,
  controlPlaneBinaries,
  type ControlPlaneBinary,
  type ControlPlaneProgressEvent,
  mintServiceAccountToken,
  type MintTokenOptions,
  startControlPlane,
  type StartControlPlaneOptions,
  uniqueSuffix,
} from './control-plane.js';
export {
  applyObjects,
  type ApplyObjectsOptions,
  type BaseObjectsOptions,
  METALK8S_NAMESPACES,
  metalk8sBaseObjects,
} from './metalk8s-objects.js';
export * from './metalk8s-emulator.js';
export type {
  OrchestrateContext,
  OrchestrateHandler,
  StepOptions,
  StepOutcome,
} from './salt-api-emulator.js';
export type { EmulatedNetworks, EmulatedNodes, InjectedFailure, NodesEmulatorOptions } from './_nodes.js';
export { appendPodLog, setPodLogs, type SetPodLogsOptions } from './pod-logs.js';
export type { LoopDisk, LoopDiskContent, LoopDiskSpec, LoopDisks } from './_storage-loop.js';
export { type SshdOptions, startSshd, type TestSshd } from './sshd.js';
