/**
 * Vitest global setup of the `cluster` project: one real control plane (etcd, kube-apiserver,
 * kube-controller-manager, kube-scheduler, kwok) with MetalK8s' base objects, shared by every
 * cluster test. Tests isolate themselves by namespace. The binaries are built and cached on
 * first use; when they cannot be had, the whole project fails with the reason.
 */
import type { TestProject } from 'vitest/node';
import { applyObjects, metalk8sBaseObjects, startControlPlane } from '../../src/testing/index.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Path of the admin kubeconfig of the shared control plane. */
    kubeconfigPath: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const t0 = Date.now();
  const log = (line: string) => process.stderr.write(`[control-plane ${((Date.now() - t0) / 1000).toFixed(1)}s] ${line}\n`);
  const cp = await startControlPlane({
    onProgress: (e) => {
      if (e.type === 'building') log(`building ${e.binaries.join(', ')} (first run only; takes a while)`);
      if (e.type === 'ready') log(`${e.component} ready`);
    },
  });
  try {
    await applyObjects(cp.kubeConfig(), metalk8sBaseObjects());
  } catch (err) {
    await cp.stop();
    throw err;
  }
  log(`ready at ${cp.server} (${cp.dir})`);
  project.provide('kubeconfigPath', cp.kubeconfigPath);
  return async () => {
    await cp.stop();
  };
}
