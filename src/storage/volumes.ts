/**
 * The Volume verbs: {@link applyVolumePlan} (re-probe, create, watch to the end),
 * {@link listVolumes}, {@link deleteVolume} and {@link wipeDevice}, with MetalK8s' rules
 * (platform-reference §A.2–§A.6).
 *
 * @module
 */
import type { Cluster } from '../cluster/connect.js';
import { applyObject, Discovery, kubeFailure, kubeGet, kubeRequest } from '../_kube.js';
import { ClusterError, throwIfAborted } from '../errors.js';
import { MILLISECONDS, numberOption, TIMER_MS } from '../_number-option.js';
import { inventory, runOnNode } from './inventory.js';
import { type BlockDevice, isUnrecoverable, sourceKind, VOLUME_API_VERSION, type VolumeCondition, type VolumePhase, type VolumeSourceKind, volumePhase } from './model.js';
import type { ExistingVolume, PlannedVolume, VolumePlan } from './planner.js';
import { humanBytes, parseNodeQuantity } from './quantity.js';
import { claimPhase, requestVolumeDelete, VOLUMES_PATH as VOLUMES, waitVolumesGone } from '../_volumes.js';
import { sleep } from '../_wait.js';

const FIELD_MANAGER = 'metalk8s-solution-sdk';

/** The part of a connected cluster the storage verbs use. */
export type StorageCluster = Pick<Cluster, 'kubeConfig' | 'salt'>;

interface VolumeObject {
  metadata: { name: string; uid: string; labels?: Record<string, string>; deletionTimestamp?: string; creationTimestamp?: string };
  spec: {
    nodeName: string;
    storageClassName: string;
    mode?: 'Filesystem' | 'Block';
    rawBlockDevice?: { devicePath: string };
    lvmLogicalVolume?: { vgName: string; size: string | number };
    sparseLoopDevice?: { size: string | number };
  };
  status?: { conditions?: VolumeCondition[]; job?: string; deviceName?: string };
}

interface PvObject {
  metadata: { name: string; finalizers?: string[] };
  spec?: { capacity?: { storage?: string }; claimRef?: { namespace?: string; name?: string }; local?: { path?: string } };
  status?: { phase?: string };
}

/** A Volume as {@link listVolumes} shows it. */
export interface VolumeInfo extends ExistingVolume {
  readonly uid: string;
  readonly source: VolumeSourceKind | undefined;
  readonly mode: 'Filesystem' | 'Block';
  /** Computed as storage-operator does (§A.2). */
  readonly phase: VolumePhase;
  readonly reason: string | undefined;
  readonly message: string | undefined;
  /** `status.job`, e.g. `PrepareVolume/2026…` */
  readonly job: string | undefined;
  /** Kernel name of the device (`status.deviceName`). */
  readonly deviceName: string | undefined;
  readonly terminating: boolean;
  /** Its PersistentVolume, when there is one. */
  readonly pv?: { readonly phase: string | undefined; readonly capacity: string | undefined; readonly path: string | undefined; readonly claim: string | undefined } | undefined;
}

/** Options of {@link listVolumes}. */
export interface ListVolumesOptions {
  /** Only the Volumes of this node. */
  readonly node?: string | undefined;
  readonly signal?: AbortSignal | undefined;
}

function quantityBytes(q: string | number | undefined): number | undefined {
  if (q === undefined) return undefined;
  if (typeof q === 'number') return q;
  return parseNodeQuantity(q) ?? (/^[0-9]+$/.test(q) ? Number(q) : undefined);
}

/**
 * The Volumes of the cluster with their phase, PV and claim, sorted by name.
 *
 * @example
 * ```ts
 * for (const v of await listVolumes(cluster, { node: 'node-1' })) console.log(v.name, v.phase, v.pv?.claim);
 * ```
 */
export async function listVolumes(cluster: StorageCluster, options: ListVolumesOptions = {}): Promise<VolumeInfo[]> {
  const kc = cluster.kubeConfig;
  const res = await kubeRequest(kc, 'GET', VOLUMES, undefined, undefined, options.signal);
  if (res.status === 404) {
    throw new ClusterError('VOLUME_CRD_MISSING', 'the cluster does not serve MetalK8s Volumes (storage.metalk8s.scality.com/v1alpha1)', {
      hint: 'Is this a MetalK8s cluster? The storage-operator installs the Volume CRD.',
    });
  }
  if (res.status >= 300) throw kubeFailure('list Volumes', res);
  const items = ((res.json as { items?: VolumeObject[] }).items ?? []).filter((v) => !options.node || v.spec.nodeName === options.node);
  const pvs = (await kubeGet<{ items: PvObject[] }>(kc, '/api/v1/persistentvolumes', options.signal))?.items ?? [];
  return items
    .map((v): VolumeInfo => {
      const pv = pvs.find((p) => p.metadata.name === v.metadata.name);
      const ready = v.status?.conditions?.find((c) => c.type === 'Ready');
      const claim = pv?.spec?.claimRef?.name ? `${pv.spec.claimRef.namespace}/${pv.spec.claimRef.name}` : undefined;
      const capacity = pv?.spec?.capacity?.storage;
      const pvBytes = capacity === undefined ? undefined : quantityBytes(capacity);
      return {
        name: v.metadata.name,
        uid: v.metadata.uid,
        node: v.spec.nodeName,
        storageClass: v.spec.storageClassName,
        labels: v.metadata.labels ?? {},
        source: sourceKind(v.spec as unknown as Record<string, unknown>),
        mode: v.spec.mode ?? 'Filesystem',
        devicePath: v.spec.rawBlockDevice?.devicePath,
        vgName: v.spec.lvmLogicalVolume?.vgName,
        sizeBytes: pvBytes ?? quantityBytes(v.spec.lvmLogicalVolume?.size ?? v.spec.sparseLoopDevice?.size),
        phase: volumePhase(v.status?.conditions),
        reason: ready?.reason,
        message: ready?.message,
        job: v.status?.job,
        deviceName: v.status?.deviceName,
        terminating: v.metadata.deletionTimestamp !== undefined,
        ...(pv ? { pv: { phase: pv.status?.phase, capacity, path: pv.spec?.local?.path, claim } } : {}),
      };
    })
    .sort((a, b) => a.name.localeCompare(b.name));
}

/** Progress of {@link applyVolumePlan}, per Volume. */
export type ApplyProgressEvent =
  | { readonly type: 'probed'; readonly nodes: readonly string[] }
  | { readonly type: 'volume'; readonly name: string; readonly node: string; readonly status: 'created' | 'exists' | 'pending' | 'available' | 'failed' | 'stuck'; readonly detail?: string | undefined };

/** Options of {@link applyVolumePlan}. */
export interface ApplyVolumePlanOptions {
  /**
   * Allow formatting raw block devices: whatever they hold is lost.
   * @default false
   */
  readonly dangerous?: boolean | undefined;
  /**
   * Give up on a Volume that has no terminal state after this long.
   * @default 600000 (10 min)
   */
  readonly timeoutMs?: number | undefined;
  /**
   * A Volume with no status after this long is reported as stuck, with the likely cause.
   * @default 30000
   */
  readonly noStatusTimeoutMs?: number | undefined;
  /** Pause between two reads of the Volumes, at most 2147483647. @default 500 */
  readonly pollIntervalMs?: number | undefined;
  readonly signal?: AbortSignal | undefined;
  readonly onProgress?: ((event: ApplyProgressEvent) => void) | undefined;
}

/** What became of one Volume. */
export interface AppliedVolume {
  readonly name: string;
  readonly node: string;
  /** `available`: ready with its PV; `failed`: storage-operator gave up (see `message`); `stuck`: no terminal state in time. */
  readonly outcome: 'available' | 'failed' | 'stuck';
  /** Whether this run created it (false: it existed). */
  readonly created: boolean;
  readonly reason?: string | undefined;
  /** The node's root-cause message (failed), or why it is stuck. */
  readonly message?: string | undefined;
  /** The PV's capacity (available). */
  readonly capacity?: string | undefined;
}

/** What {@link applyVolumePlan} returns. */
export interface ApplyVolumePlanResult {
  /** True when every Volume is available. */
  readonly ok: boolean;
  readonly volumes: readonly AppliedVolume[];
}

function sameDevice(d: BlockDevice, path: string): boolean {
  return d.path === path || d.stablePath === path || d.links.includes(path);
}

/**
 * Applies a plan: re-probes the chosen devices (refusing any that changed since planning),
 * creates the Volumes (idempotent: existing ones are left alone) and watches each to a terminal
 * state.
 *
 * @throws `ClusterError` `PLAN_NOT_SATISFIABLE`, `DANGEROUS_NOT_ALLOWED`, `DEVICE_CHANGED`,
 *   `VOLUME_CONFLICT`; `SdkError` `OPTION_INVALID` for a timeout or interval out of range.
 * @example
 * ```ts
 * const result = await applyVolumePlan(cluster, plan, { dangerous: true, onProgress: console.log });
 * if (!result.ok) for (const v of result.volumes) if (v.outcome !== 'available') console.error(v.name, v.message);
 * ```
 */
export async function applyVolumePlan(cluster: StorageCluster, plan: VolumePlan, options: ApplyVolumePlanOptions = {}): Promise<ApplyVolumePlanResult> {
  // Before any Volume is created: with a NaN timeout a Volume that never settles was watched forever.
  numberOption('timeoutMs', options.timeoutMs, MILLISECONDS);
  numberOption('noStatusTimeoutMs', options.noStatusTimeoutMs, MILLISECONDS);
  numberOption('pollIntervalMs', options.pollIntervalMs, TIMER_MS);
  const kc = cluster.kubeConfig;
  const signal = options.signal;
  if (!plan.ok) {
    throw new ClusterError('PLAN_NOT_SATISFIABLE', `the plan for ${plan.solution} does not satisfy ${plan.unsatisfied.length} need(s): ${plan.unsatisfied.map((u) => u.message).join('; ')}`, {
      hint: 'Add disks, allow sparse files for a trial, or lower the needs; `solution volumes plan` shows why each device was refused.',
    });
  }
  const creates = plan.volumes.filter((v): v is PlannedVolume & { manifest: NonNullable<PlannedVolume['manifest']> } => v.action === 'create' && v.manifest !== undefined);
  const raw = creates.filter((v) => v.source === 'rawBlockDevice');
  if (raw.length > 0 && options.dangerous !== true) {
    throw new ClusterError('DANGEROUS_NOT_ALLOWED', `${raw.length} Volume(s) would format raw devices (${raw.map((v) => `${v.node}:${v.device?.path}`).join(', ')}); anything on them is lost`, {
      hint: 'Check the devices with `solution disks`, then pass dangerous: true (--dangerous).',
    });
  }

  // The guard between plan and apply: the devices must be as they were planned.
  const existing = new Map((await listVolumes(cluster, { signal })).map((v) => [v.name, v]));
  const toProbe = [...new Set(creates.filter((v) => !existing.has(v.name) && v.source !== 'sparseLoopDevice').map((v) => v.node))].sort();
  if (toProbe.length > 0) {
    const fresh = await inventory(cluster, { nodes: toProbe, smart: false, signal });
    options.onProgress?.({ type: 'probed', nodes: toProbe });
    const changes: string[] = [];
    for (const v of creates) {
      if (existing.has(v.name)) continue;
      const node = fresh.nodes.find((n) => n.name === v.node);
      if (v.source === 'rawBlockDevice' && v.device) {
        const d = node?.devices.find((x) => sameDevice(x, v.device?.path ?? ''));
        if (!d) changes.push(`${v.node}:${v.device.path} is gone`);
        else if (d.size !== v.device.size) changes.push(`${v.node}:${v.device.path} is now ${humanBytes(d.size)}, was ${humanBytes(v.device.size)}`);
        else if (!d.eligible) changes.push(`${v.node}:${v.device.path} ${d.deniedReasons.map((r) => r.message).join(', ')}`);
      }
      if (v.source === 'lvmLogicalVolume' && v.vgName) {
        const vg = node?.volumeGroups.find((g) => g.name === v.vgName);
        if (!vg) changes.push(`${v.node}: volume group ${v.vgName} is gone`);
        else if (vg.free < (v.capacityBytes ?? 0)) changes.push(`${v.node}: volume group ${v.vgName} has ${humanBytes(vg.free)} free, ${humanBytes(v.capacityBytes ?? 0)} planned`);
      }
    }
    if (changes.length > 0) {
      throw new ClusterError('DEVICE_CHANGED', `device changed since planning: ${changes.join('; ')}`, { hint: 'Plan again (`solution volumes plan`) and check the new plan before applying it.' });
    }
  }

  const discovery = new Discovery(kc);
  const created = new Set<string>();
  for (const v of creates) {
    throwIfAborted(signal, 'applying the Volume plan');
    const there = existing.get(v.name);
    if (there) {
      const spec = v.manifest.spec as unknown as Record<string, unknown>;
      const sameSource = there.source === sourceKind(spec) && there.node === v.node && (there.devicePath ?? '') === ((spec.rawBlockDevice as { devicePath?: string } | undefined)?.devicePath ?? '');
      if (!sameSource) {
        throw new ClusterError('VOLUME_CONFLICT', `Volume ${v.name} exists with another node or source (${there.node}, ${there.source} ${there.devicePath ?? ''})`, {
          hint: 'Delete it first (`solution volumes delete`) if it is not in use, or plan again.',
        });
      }
      options.onProgress?.({ type: 'volume', name: v.name, node: v.node, status: 'exists' });
      continue;
    }
    await applyObject(kc, discovery, { ...v.manifest, apiVersion: VOLUME_API_VERSION } as never, FIELD_MANAGER, signal);
    created.add(v.name);
    options.onProgress?.({ type: 'volume', name: v.name, node: v.node, status: 'created' });
  }

  // Watch every Volume of the plan to a terminal state.
  const names = plan.volumes.map((v) => v.name);
  const started = Date.now();
  const timeout = options.timeoutMs ?? 600_000;
  const noStatus = options.noStatusTimeoutMs ?? 30_000;
  const done = new Map<string, AppliedVolume>();
  const lastStatus = new Map<string, string>();
  while (done.size < names.length) {
    throwIfAborted(signal, 'waiting for Volumes');
    const now = new Map((await listVolumes(cluster, { signal })).map((v) => [v.name, v]));
    for (const name of names) {
      if (done.has(name)) continue;
      const v = now.get(name);
      const node = plan.volumes.find((p) => p.name === name)?.node ?? '';
      const base = { name, node, created: created.has(name) };
      if (!v) {
        done.set(name, { ...base, outcome: 'failed', message: 'the Volume disappeared while it was being prepared' });
        continue;
      }
      if (v.phase === 'Available' && v.pv) {
        done.set(name, { ...base, outcome: 'available', capacity: v.pv.capacity });
        options.onProgress?.({ type: 'volume', name, node, status: 'available', detail: v.pv.capacity });
        continue;
      }
      if (v.phase === 'Failed' && isUnrecoverable([{ type: 'Ready', status: 'False', reason: v.reason }])) {
        done.set(name, { ...base, outcome: 'failed', reason: v.reason, message: v.message });
        options.onProgress?.({ type: 'volume', name, node, status: 'failed', detail: `${v.reason}: ${v.message ?? ''}` });
        continue;
      }
      const elapsed = Date.now() - started;
      if (v.phase === '' && elapsed > noStatus) {
        const why = await whyNoStatus(cluster, v.node, signal);
        done.set(name, { ...base, outcome: 'stuck', message: `no status after ${Math.round(elapsed / 1000)} s: ${why}` });
        options.onProgress?.({ type: 'volume', name, node, status: 'stuck', detail: why });
        continue;
      }
      if (elapsed > timeout) {
        const message = `not ready after ${Math.round(elapsed / 1000)} s (phase ${v.phase || 'none'}, job ${v.job ?? 'none'})`;
        done.set(name, { ...base, outcome: 'stuck', message });
        options.onProgress?.({ type: 'volume', name, node, status: 'stuck', detail: message });
        continue;
      }
      const status = `${v.phase}/${v.job ?? ''}`;
      if (lastStatus.get(name) !== status) {
        lastStatus.set(name, status);
        options.onProgress?.({ type: 'volume', name, node, status: 'pending', detail: v.job ? `job ${v.job}` : undefined });
      }
    }
    if (done.size < names.length) await sleep(options.pollIntervalMs ?? 500, signal, 'waiting for Volumes');
  }
  const volumes = names.map((n) => done.get(n) as AppliedVolume);
  return { ok: volumes.every((v) => v.outcome === 'available'), volumes };
}

async function whyNoStatus(cluster: StorageCluster, node: string, signal: AbortSignal | undefined): Promise<string> {
  const n = await kubeGet<{ metadata: { labels?: Record<string, string> } }>(cluster.kubeConfig, `/api/v1/nodes/${encodeURIComponent(node)}`, signal);
  if (!n) return `Node ${node} does not exist; storage-operator waits for it`;
  if (!n.metadata.labels?.['metalk8s.scality.com/version']) return `Node ${node} has no metalk8s.scality.com/version label, so storage-operator cannot pick its Salt environment and leaves the Volume alone`;
  return 'storage-operator has not picked it up: check that its Deployment (kube-system/storage-operator-controller-manager) is running';
}


/** Options of {@link deleteVolume}. */
export interface DeleteVolumeOptions {
  /**
   * Wait until the Volume is gone (storage reclaimed, finalizers removed).
   * @default true
   */
  readonly wait?: boolean | undefined;
  /** @default 300000 */
  readonly timeoutMs?: number | undefined;
  readonly signal?: AbortSignal | undefined;
}

/**
 * Deletes a Volume with MetalK8s' rules: refused while a PVC uses its PV (naming the PVC) and
 * while it is Pending (storage-operator would not finalize it); waits until storage-operator
 * has reclaimed it. The device keeps the filesystem MetalK8s wrote (see {@link wipeDevice}).
 *
 * @throws `ClusterError` `VOLUME_NOT_FOUND`, `VOLUME_IN_USE`, `VOLUME_PENDING`, `VOLUME_DELETE_FAILED`.
 * @example
 * ```ts
 * await deleteVolume(cluster, 'zenko-mongodb-data-0');
 * ```
 */
export async function deleteVolume(cluster: StorageCluster, name: string, options: DeleteVolumeOptions = {}): Promise<void> {
  // Before the deletion is asked: a NaN timeout waited for the Volume to go forever.
  numberOption('timeoutMs', options.timeoutMs, MILLISECONDS);
  const kc = cluster.kubeConfig;
  const signal = options.signal;
  const v = (await listVolumes(cluster, { signal })).find((x) => x.name === name);
  if (!v) throw new ClusterError('VOLUME_NOT_FOUND', `no Volume named ${name}`, { hint: 'List them with `solution volumes list`.' });
  if (!v.terminating) {
    const claim = v.pv?.claim;
    const phase = claim ? await claimPhase(kc, claim, signal) : undefined;
    if (claim && phase) {
      const [ns = '', pvc = ''] = claim.split('/');
      throw new ClusterError('VOLUME_IN_USE', `Volume ${name} is used by PersistentVolumeClaim ${claim} (${phase})`, {
        hint: `Delete the claim (and the Pods using it) first: kubectl -n ${ns} delete pvc ${pvc}.`,
      });
    }
    if (v.phase === 'Pending') {
      throw new ClusterError('VOLUME_PENDING', `Volume ${name} is still being prepared (job ${v.job ?? 'none'}); storage-operator finalizes it only once it is Available or Failed`, {
        hint: 'Wait for it to finish (`solution volumes list`), then delete it.',
      });
    }
    await requestVolumeDelete(kc, name, signal);
  }
  if (options.wait === false) return;
  const outcome = await waitVolumesGone(kc, [name], { timeoutMs: options.timeoutMs ?? 300_000, signal });
  if (outcome.kind === 'failed') {
    throw new ClusterError('VOLUME_DELETE_FAILED', `storage-operator could not reclaim Volume ${name}: ${outcome.volume.ready?.message ?? ''}`, {
      hint: 'Fix the cause on the node; the Volume and its PV keep their finalizers until then.',
    });
  }
  if (outcome.kind === 'timeout') {
    const now = (await listVolumes(cluster, { signal })).find((x) => x.name === name);
    throw new ClusterError('VOLUME_DELETE_TIMEOUT', `Volume ${name} is still there (phase ${now?.phase || 'none'}, PV ${now?.pv?.phase ?? 'none'})`, {
      retryable: true,
      hint: now?.pv?.claim ? `PersistentVolumeClaim ${now.pv.claim} still holds the PV.` : "Check storage-operator and the node's salt-minion.",
    });
  }
}

/** Options of {@link wipeDevice}. */
export interface WipeDeviceOptions {
  readonly node: string;
  /** `/dev/…` path of the device (as `solution disks` shows it). */
  readonly device: string;
  /** Must repeat {@link device}: nothing is wiped without it. */
  readonly confirm: string;
  readonly signal?: AbortSignal | undefined;
}

/** What {@link wipeDevice} did. */
export interface WipeDeviceResult {
  /** The signature types `wipefs` removed (`ext4`, `gpt`, `LVM2_member`, …). */
  readonly removed: readonly string[];
}

/**
 * Erases the signatures (filesystem, partition table, LVM) of a device with `wipefs -a`, so a
 * Volume can be created on it again (MetalK8s leaves the filesystem behind when a Volume is
 * deleted). Refuses a mounted device, one with holders, and the device of an existing Volume.
 *
 * @throws `ClusterError` `WIPE_NOT_CONFIRMED`, `WIPE_REFUSED`, `WIPE_FAILED`.
 * @example
 * ```ts
 * await wipeDevice(cluster, { node: 'node-1', device: '/dev/sdb', confirm: '/dev/sdb' });
 * ```
 */
export async function wipeDevice(cluster: StorageCluster, options: WipeDeviceOptions): Promise<WipeDeviceResult> {
  if (options.confirm !== options.device) {
    throw new ClusterError('WIPE_NOT_CONFIRMED', `wiping ${options.node}:${options.device} needs confirm: '${options.device}'`, { hint: 'Repeat the device path to confirm that its data may be destroyed.' });
  }
  const inv = await inventory(cluster, { nodes: [options.node], smart: false, signal: options.signal });
  const d = inv.nodes[0]?.devices.find((x) => sameDevice(x, options.device));
  if (!d) throw new ClusterError('WIPE_REFUSED', `${options.node} has no device ${options.device}`, { hint: 'See `solution disks <node>`.' });
  const blocking = d.deniedReasons.filter((r) => ['mounted', 'swap', 'holders', 'volume-device', 'read-only', 'partitioned'].includes(r.code));
  if (blocking.length > 0) {
    throw new ClusterError('WIPE_REFUSED', `${options.node}:${options.device} cannot be wiped: ${blocking.map((r) => r.message).join(', ')}`, {
      hint: 'Delete its Volume, unmount it, or wipe its partitions first.',
    });
  }
  const out = await runOnNode(cluster, options.node, `wipefs -a ${d.path}`, { signal: options.signal });
  if (out?.retcode !== 0) {
    throw new ClusterError('WIPE_FAILED', `wipefs -a ${d.path} on ${options.node} failed: ${out?.stderr.trim() || 'the minion did not answer'}`);
  }
  return { removed: d.signatures };
}
