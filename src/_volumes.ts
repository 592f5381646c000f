/**
 * MetalK8s Volume objects through the Kubernetes API, as the storage verbs and node removal
 * both need them: the Volumes with their PersistentVolume and its claim, which claims still
 * exist, the delete request, and the wait until storage-operator has reclaimed them
 * (platform-reference.md §A.3, §A.6, §B.5). One owner, so that `deleteVolume` and
 * `nodes.remove` refuse and report the same way. Private to the SDK.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import { kubeFailure, kubeGet, kubeRequest } from './_kube.js';
import { sleep } from './_wait.js';

/** The Volume collection's path. */
export const VOLUMES_PATH = '/apis/storage.metalk8s.scality.com/v1alpha1/volumes';

/** The Ready condition of a Volume, as storage-operator writes it. */
export interface VolumeReadyCondition {
  readonly type: string;
  readonly status: string;
  readonly reason?: string;
  readonly message?: string;
}

/** What the delete logic reads of a Volume. */
export interface VolumeRef {
  readonly name: string;
  readonly node: string;
  readonly terminating: boolean;
  readonly ready: VolumeReadyCondition | undefined;
  /** `namespace/name` of the claim its PersistentVolume (same name as the Volume) is bound to. */
  readonly claim: string | undefined;
}

interface VolumeObject {
  metadata: { name: string; deletionTimestamp?: string };
  spec?: { nodeName?: string };
  status?: { conditions?: VolumeReadyCondition[] };
}

interface PvObject {
  metadata: { name: string };
  spec?: { claimRef?: { namespace?: string; name?: string } };
}

/**
 * The Volumes (of `node` when given), sorted by name, each with its PV's claim; `undefined`
 * when the cluster does not serve the Volume CRD.
 */
export async function readVolumes(kc: KubeConfig, node: string | undefined, signal?: AbortSignal): Promise<VolumeRef[] | undefined> {
  const list = await kubeGet<{ items?: VolumeObject[] }>(kc, VOLUMES_PATH, signal);
  if (!list) return undefined;
  const items = (list.items ?? []).filter((v) => node === undefined || v.spec?.nodeName === node);
  if (items.length === 0) return [];
  const pvs = (await kubeGet<{ items?: PvObject[] }>(kc, '/api/v1/persistentvolumes', signal))?.items ?? [];
  return items
    .map((v): VolumeRef => {
      const ref = pvs.find((p) => p.metadata.name === v.metadata.name)?.spec?.claimRef;
      return {
        name: v.metadata.name,
        node: v.spec?.nodeName ?? '',
        terminating: v.metadata.deletionTimestamp !== undefined,
        ready: v.status?.conditions?.find((c) => c.type === 'Ready'),
        claim: ref?.name ? `${ref.namespace ?? ''}/${ref.name}` : undefined,
      };
    })
    .sort((a, b) => a.name.localeCompare(b.name));
}

/** A claim that still exists and holds a Volume's PersistentVolume. */
export interface ClaimInUse {
  readonly volume: string;
  /** `namespace/name`. */
  readonly claim: string;
  readonly phase: string;
}

/**
 * The phase of the claim `namespace/name` when it still exists (a PV keeps its claimRef after
 * the claim is gone), else `undefined`.
 */
export async function claimPhase(kc: KubeConfig, claim: string, signal?: AbortSignal): Promise<string | undefined> {
  const [ns = '', name = ''] = claim.split('/');
  const pvc = await kubeGet<{ status?: { phase?: string } }>(kc, claimPath(ns, name), signal);
  return pvc ? (pvc.status?.phase ?? 'unknown phase') : undefined;
}

/** The claims of `volumes` that still exist. */
export async function claimsInUse(kc: KubeConfig, volumes: readonly VolumeRef[], signal?: AbortSignal): Promise<ClaimInUse[]> {
  const out: ClaimInUse[] = [];
  for (const v of volumes) {
    const phase = v.claim ? await claimPhase(kc, v.claim, signal) : undefined;
    if (v.claim && phase) out.push({ volume: v.name, claim: v.claim, phase });
  }
  return out;
}

function claimPath(ns: string, name: string): string {
  return `/api/v1/namespaces/${encodeURIComponent(ns)}/persistentvolumeclaims/${encodeURIComponent(name)}`;
}

/** Deletes a claim (`namespace/name`); a claim already gone is fine. */
export async function deleteClaim(kc: KubeConfig, claim: string, signal?: AbortSignal): Promise<void> {
  const [ns = '', name = ''] = claim.split('/');
  const res = await kubeRequest(kc, 'DELETE', claimPath(ns, name), undefined, undefined, signal);
  if (res.status >= 300 && res.status !== 404) throw kubeFailure(`delete PersistentVolumeClaim ${claim}`, res);
}

/** Asks for a Volume's deletion (storage-operator then reclaims it); a Volume already gone is fine. */
export async function requestVolumeDelete(kc: KubeConfig, name: string, signal?: AbortSignal): Promise<void> {
  const res = await kubeRequest(kc, 'DELETE', `${VOLUMES_PATH}/${encodeURIComponent(name)}`, undefined, undefined, signal);
  if (res.status >= 300 && res.status !== 404) throw kubeFailure(`delete Volume ${name}`, res);
}

/** How a wait for deleted Volumes ended. */
export type VolumeWaitOutcome =
  | { readonly kind: 'gone' }
  /** storage-operator could not reclaim one (Ready False, reason DestructionError). */
  | { readonly kind: 'failed'; readonly volume: VolumeRef }
  | { readonly kind: 'timeout'; readonly left: readonly VolumeRef[] };

/**
 * Waits until none of `names` exists any more, polling every 500 ms; stops early when one
 * fails to be reclaimed. `onWaiting` hears the names left and the time waited.
 */
export async function waitVolumesGone(
  kc: KubeConfig,
  names: readonly string[],
  options: { readonly timeoutMs: number; readonly signal?: AbortSignal | undefined; readonly onWaiting?: ((left: readonly string[], elapsedMs: number) => void) | undefined },
): Promise<VolumeWaitOutcome> {
  const start = Date.now();
  for (;;) {
    const left = ((await readVolumes(kc, undefined, options.signal)) ?? []).filter((v) => names.includes(v.name));
    if (left.length === 0) return { kind: 'gone' };
    const failed = left.find((v) => v.ready?.status === 'False' && v.ready.reason === 'DestructionError');
    if (failed) return { kind: 'failed', volume: failed };
    const elapsed = Date.now() - start;
    if (elapsed > options.timeoutMs) return { kind: 'timeout', left };
    options.onWaiting?.(left.map((v) => v.name), elapsed);
    await sleep(500, options.signal, 'waiting for Volumes to be deleted');
  }
}

/** `name (Reason: message)` of a Volume for error messages. */
export function describeVolume(v: VolumeRef): string {
  const r = v.ready;
  return `${v.name}${r ? ` (${r.reason ?? r.status}${r.message ? `: ${r.message}` : ''})` : ''}`;
}
