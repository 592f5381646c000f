/**
 * Deleting the MetalK8s Volumes of a Node before the Node goes away (platform-reference.md
 * §A.3, §B.5: once the Node is gone the storage-operator cannot compute the saltenv, so such a
 * Volume can never be finalized), on the shared Volume logic of `src/_volumes.ts` that the
 * storage module's `deleteVolume` uses too.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import { ClusterError } from '../errors.js';
import { type ClaimInUse, claimsInUse, deleteClaim, describeVolume, readVolumes, requestVolumeDelete, type VolumeRef, waitVolumesGone } from '../_volumes.js';

/** The Volumes on `node` (none when the Volume CRD is not installed). */
export async function nodeVolumes(kc: KubeConfig, node: string, signal?: AbortSignal): Promise<VolumeRef[]> {
  return (await readVolumes(kc, node, signal)) ?? [];
}

/**
 * The claims that still hold Volumes of `node`; refuses (`NODE_VOLUMES_IN_USE`, before anything
 * changes) unless `deleteClaims` says they may go with the node.
 */
export async function checkNodeClaims(kc: KubeConfig, node: string, deleteClaims: boolean, signal?: AbortSignal): Promise<ClaimInUse[]> {
  const claims = await claimsInUse(kc, await nodeVolumes(kc, node, signal), signal);
  if (claims.length > 0 && !deleteClaims) {
    const list = claims.map((c) => `${c.claim} (${c.phase}) on Volume ${c.volume}`).join(', ');
    throw new ClusterError('NODE_VOLUMES_IN_USE', `Volumes of Node ${node} are still claimed: ${list}. Their data lives on ${node} and is lost with it. Nothing was changed`, {
      hint: `Move or back up the data, then delete the claims (kubectl -n <namespace> delete pvc <name>) or remove the node with --delete-claims (deleteClaims: true), which deletes them after the drain.`,
    });
  }
  return claims;
}

/**
 * Deletes every Volume of `node` (and first the claims `claims` names, which
 * {@link checkNodeClaims} allowed) and waits until they are gone (their storage reclaimed).
 * Returns the names deleted.
 *
 * @throws `NODE_VOLUMES_STUCK` naming each Volume left and its Ready condition.
 */
export async function deleteNodeVolumes(
  kc: KubeConfig,
  node: string,
  options: {
    readonly timeoutMs: number;
    readonly claims?: readonly ClaimInUse[] | undefined;
    readonly signal?: AbortSignal | undefined;
    readonly onWaiting?: ((left: readonly string[], elapsedMs: number) => void) | undefined;
  },
): Promise<string[]> {
  const { signal } = options;
  for (const c of options.claims ?? []) await deleteClaim(kc, c.claim, signal);
  const volumes = await nodeVolumes(kc, node, signal);
  for (const v of volumes) if (!v.terminating) await requestVolumeDelete(kc, v.name, signal);
  const names = volumes.map((v) => v.name);
  if (names.length === 0) return names;
  const outcome = await waitVolumesGone(kc, names, options);
  if (outcome.kind === 'gone') return names;
  const left = outcome.kind === 'failed' ? [outcome.volume] : outcome.left;
  const why = outcome.kind === 'failed' ? 'storage-operator could not reclaim them' : `they were not deleted within ${Math.round(options.timeoutMs / 1000)} s`;
  throw new ClusterError('NODE_VOLUMES_STUCK', `Volumes of Node ${node}: ${why}: ${left.map(describeVolume).join(', ')}`, {
    retryable: outcome.kind === 'timeout',
    hint: "A PersistentVolumeClaim may still hold them (delete it), or the storage-operator cannot reach the node's minion. The Node was kept, so the Volumes can still be finalized; run remove again once they are gone.",
  });
}
