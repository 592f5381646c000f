/**
 * Test harness for MetalK8s Solutions: a real Kubernetes control plane (etcd, kube-apiserver,
 * controllers, kwok), the objects of an empty MetalK8s cluster, the MetalK8s emulator, and a real
 * OpenSSH sshd standing in for a node reached over SSH.
 *
 * @module
 */
export * from './control-plane.js';
export * from './metalk8s-objects.js';
export * from './metalk8s-emulator.js';
export * from './salt-api-emulator.js';
export type { EmulatedNetworks, EmulatedNodes, InjectedFailure, NodesEmulatorOptions } from './_nodes.js';
export * from './pod-logs.js';
export type { LoopDisk, LoopDiskContent, LoopDiskSpec, LoopDisks } from './_storage-loop.js';
export * from './sshd.js';
