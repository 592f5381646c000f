/**
 * Test harness for MetalK8s Solutions: a real Kubernetes control plane (etcd, kube-apiserver,
 * controllers, kwok) and the objects of an empty MetalK8s cluster.
 *
 * @module
 */
export * from './control-plane.js';
export * from './metalk8s-objects.js';
