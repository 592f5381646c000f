/**
 * Deleting the MetalK8s Volumes of a Node before the Node goes away (platform-reference.md
 * §A.3, §B.5: once the Node is gone the storage-operator cannot compute the saltenv, so such a
 * Volume can never be finalized). Through the Kubernetes API only; kept small so that the
 * storage module's `deleteVolume` can take its place.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import { ClusterError, throwIfAborted } from '../errors.js';
import { kubeFailure, kubeGet, kubeRequest } from './_kube.js';

const VOLUMES = '/apis/storage.metalk8s.scality.com/v1alpha1/volumes';

interface Volume {
  metadata: { name: string; deletionTimestamp?: string; finalizers?: string[] };
  spec?: { nodeName?: string };
  status?: { conditions?: { type: string; status: string; reason?: string; message?: string }[] };
}

/** Names of the Volumes on `node` (none when the Volume CRD is not installed). */
export async function nodeVolumes(kc: KubeConfig, node: string, signal?: AbortSignal): Promise<Volume[]> {
  const list = await kubeGet<{ items?: Volume[] }>(kc, VOLUMES, signal);
  return (list?.items ?? []).filter((v) => v.spec?.nodeName === node).sort((a, b) => a.metadata.name.localeCompare(b.metadata.name));
}

/**
 * Deletes every Volume of `node` and waits until they are gone (their storage reclaimed).
 * Returns the names deleted.
 *
 * @throws `NODE_VOLUMES_STUCK` naming each Volume left and its Ready condition.
 */
export async function deleteNodeVolumes(
  kc: KubeConfig,
  node: string,
  options: { readonly timeoutMs: number; readonly signal?: AbortSignal | undefined; readonly onWaiting?: ((left: readonly string[], elapsedMs: number) => void) | undefined },
): Promise<string[]> {
  const volumes = await nodeVolumes(kc, node, options.signal);
  for (const v of volumes) {
    if (v.metadata.deletionTimestamp) continue;
    const res = await kubeRequest(kc, 'DELETE', `${VOLUMES}/${encodeURIComponent(v.metadata.name)}`, undefined, undefined, options.signal);
    if (res.status >= 300 && res.status !== 404) throw kubeFailure(`delete Volume ${v.metadata.name}`, res);
  }
  const start = Date.now();
  for (;;) {
    throwIfAborted(options.signal, 'waiting for Volumes to be deleted');
    const left = await nodeVolumes(kc, node, options.signal);
    if (left.length === 0) return volumes.map((v) => v.metadata.name);
    const elapsed = Date.now() - start;
    if (elapsed > options.timeoutMs) {
      const why = left.map((v) => {
        const ready = v.status?.conditions?.find((c) => c.type === 'Ready');
        return `${v.metadata.name}${ready ? ` (${ready.reason ?? ready.status}${ready.message ? `: ${ready.message}` : ''})` : ''}`;
      });
      throw new ClusterError('NODE_VOLUMES_STUCK', `Volumes of Node ${node} were not deleted within ${Math.round(options.timeoutMs / 1000)} s: ${why.join(', ')}`, {
        retryable: true,
        hint: 'A PersistentVolumeClaim may still use them (delete it), or the storage-operator cannot reach the node\'s minion. The Node was kept, so the Volumes can still be finalized; run remove again once they are gone.',
      });
    }
    options.onWaiting?.(left.map((v) => v.metadata.name), elapsed);
    await new Promise((r) => setTimeout(r, 500));
  }
}
