/**
 * The emulator's storage-operator: MetalK8s' Volume controller (platform-reference §A.2–§A.6),
 * reconciling `Volume` objects through the emulated SaltAPI with storage-operator's own
 * restricted account, as `storage-operator/internal/controller/volume_controller.go` does:
 *
 * - `PrepareVolume` (`local_async state.sls mods=metalk8s.volumes pillar={volume}`), then
 *   `GetDeviceInfo` (`local_async metalk8s_volumes.device_info`), then the PV of §A.5 with the
 *   real device size; `status.job` is `<JobName>/<jid>` or `<JobName>/DONE`;
 * - the `Ready` condition and its reasons, the finalizer, the events of §A.2;
 * - deletion (§A.6): Pending Volumes wait, the PV goes first, storage is reclaimed
 *   (`UnprepareVolume`) only once no claim holds the PV, then the finalizers are removed;
 * - terminal Failed states (any reason but UnavailableError), a Node without its version label
 *   leaves the Volume without status (requeued).
 *
 * It polls (every 250 ms) instead of watching: a few Volumes per test.
 *
 * @module
 */
import type { KubeConfig } from '@kubernetes/client-node';
import { kubeRequest } from '../cluster/_kube.js';
import { SaltApiClient } from '../cluster/salt-api.js';
import { firstFailedStep } from '../cluster/salt-results.js';
import { mintServiceAccountToken } from './control-plane.js';

const GROUP = 'storage.metalk8s.scality.com';
const VOLUMES = `/apis/${GROUP}/v1alpha1/volumes`;
const FINALIZER = `${GROUP}/volume-protection`;
const SA = { namespace: 'kube-system', name: 'storage-operator-controller-manager' } as const;

interface Condition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
  lastUpdateTime?: string;
  lastTransitionTime?: string;
}

interface Volume {
  metadata: { name: string; uid: string; finalizers?: string[]; deletionTimestamp?: string; resourceVersion?: string };
  spec: {
    nodeName: string;
    storageClassName: string;
    mode?: 'Filesystem' | 'Block';
    template?: { metadata?: Record<string, unknown>; spec?: Record<string, unknown> };
    sparseLoopDevice?: { size: string | number };
    rawBlockDevice?: { devicePath: string };
    lvmLogicalVolume?: { vgName: string; size: string | number };
  };
  status?: { conditions?: Condition[]; job?: string; deviceName?: string };
}

interface Pv {
  metadata: { name: string; finalizers?: string[]; deletionTimestamp?: string };
  spec?: { local?: { path?: string } };
  status?: { phase?: string };
}

/** A Kubernetes quantity in canonical BinarySI form, as `resource.NewQuantity(n, BinarySI)` prints it. */
export function binarySI(bytes: number): string {
  for (const [unit, f] of [
    ['Ei', 2 ** 60],
    ['Pi', 2 ** 50],
    ['Ti', 2 ** 40],
    ['Gi', 2 ** 30],
    ['Mi', 2 ** 20],
    ['Ki', 2 ** 10],
  ] as const) {
    if (bytes >= f && bytes % f === 0) return `${bytes / f}${unit}`;
  }
  return String(bytes);
}

/** Options of {@link startStorageOperator}. */
export interface StorageOperatorOptions {
  readonly kubeConfig: KubeConfig;
  readonly saltApiUrl: string;
  /** PEM CA of the SaltAPI certificate. */
  readonly ca?: string | undefined;
  readonly intervalMs?: number | undefined;
  /** Reconcile only the Volumes of these nodes (emulators sharing one API server keep to their own). */
  readonly nodes: () => readonly string[];
  /** Told about errors of a reconcile (the Volume is tried again on the next round). */
  readonly onError?: ((volume: string, error: unknown) => void) | undefined;
}

/** Starts the reconcile loop; `stop()` ends it. */
export async function startStorageOperator(options: StorageOperatorOptions): Promise<{ stop(): Promise<void> }> {
  const kc = options.kubeConfig;
  const token = await mintServiceAccountToken(kc, SA.namespace, SA.name, { expirationSeconds: 86_400 });
  const salt = new SaltApiClient({
    url: options.saltApiUrl,
    username: `system:serviceaccount:${SA.namespace}:${SA.name}`,
    token,
    ...(options.ca ? { ca: options.ca } : {}),
  });
  /** GetDeviceInfo results, kept in memory as the operator does. */
  const deviceInfo = new Map<string, { size: number; path: string }>();
  let stopped = false;

  const now = (): string => new Date().toISOString().replace(/\.\d+Z$/, 'Z');

  const event = async (vol: Volume, type: 'Normal' | 'Warning', reason: string, message: string): Promise<void> => {
    const t = now();
    await kubeRequest(kc, 'POST', '/api/v1/namespaces/default/events', {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { generateName: `${vol.metadata.name}.`, namespace: 'default' },
      involvedObject: { apiVersion: `${GROUP}/v1alpha1`, kind: 'Volume', name: vol.metadata.name, uid: vol.metadata.uid },
      reason,
      message,
      type,
      source: { component: 'volume-controller' },
      firstTimestamp: t,
      lastTimestamp: t,
      count: 1,
    }).catch(() => undefined);
  };

  const phaseOf = (c: Condition | undefined): string =>
    !c ? '' : c.status === 'True' ? 'Available' : c.status === 'False' ? 'Failed' : c.reason === 'Pending' ? 'Pending' : 'Terminating';

  const setStatus = async (vol: Volume, condition: Omit<Condition, 'type'>, job: string | undefined, deviceName?: string): Promise<void> => {
    const previous = vol.status?.conditions?.find((c) => c.type === 'Ready');
    const t = now();
    const full: Condition = {
      type: 'Ready',
      status: condition.status,
      ...(condition.reason ? { reason: condition.reason } : {}),
      ...(condition.message ? { message: condition.message } : {}),
      lastUpdateTime: previous?.status === condition.status && previous.reason === condition.reason ? (previous.lastUpdateTime ?? t) : t,
      lastTransitionTime: previous?.status === condition.status ? (previous.lastTransitionTime ?? t) : t,
    };
    const status: Record<string, unknown> = { conditions: [full], job: job ?? null };
    if (deviceName !== undefined) status.deviceName = deviceName;
    const same = previous?.status === full.status && previous.reason === full.reason && previous.message === full.message && (vol.status?.job ?? undefined) === job && (deviceName === undefined || deviceName === vol.status?.deviceName);
    if (same) return;
    await kubeRequest(kc, 'PATCH', `${VOLUMES}/${vol.metadata.name}/status`, { status }, 'application/merge-patch+json');
    const from = phaseOf(previous);
    const to = phaseOf(full);
    if (from !== to) await event(vol, 'Normal', 'StateTransition', `volume phase transition from '${from}' to '${to}'`);
    vol.status = { ...vol.status, conditions: [full], ...(job === undefined ? {} : { job }) };
  };

  const patchFinalizers = (path: string, finalizers: string[]) => kubeRequest(kc, 'PATCH', path, { metadata: { finalizers } }, 'application/merge-patch+json');

  /** The job's state for this node: running, unknown, or its retcode and return. */
  type Polled = { state: 'running' } | { state: 'unknown' } | { state: 'done'; retcode: number; ret: unknown };
  const poll = async (jid: string, node: string): Promise<Polled> => {
    try {
      const status = await salt.lookupJob(jid);
      const entry = status.result[node] as { return?: unknown; retcode?: number } | undefined;
      if (!entry) return { state: 'running' };
      return { state: 'done', retcode: Number(entry.retcode ?? 0), ret: entry.return };
    } catch {
      return { state: 'unknown' };
    }
  };

  const rootCause = (ret: unknown): string => {
    const failure = firstFailedStep({ data: ret });
    if (failure) return failure.step.comment;
    return typeof ret === 'string' ? ret : JSON.stringify(ret);
  };

  const submitState = async (vol: Volume, saltenv: string, mods: string): Promise<string> =>
    (
      await salt.localAsync({
        tgt: vol.spec.nodeName,
        fun: 'state.sls',
        kwarg: { mods, saltenv, pillar: { volume: vol.metadata.name } },
        timeout: 1,
      })
    ).jid;

  const createPv = async (vol: Volume, info: { size: number; path: string }): Promise<boolean> => {
    const scRes = await kubeRequest(kc, 'GET', `/apis/storage.k8s.io/v1/storageclasses/${encodeURIComponent(vol.spec.storageClassName)}`);
    if (scRes.status !== 200) return false; // requeue until the StorageClass exists
    const sc = scRes.json as { parameters?: Record<string, string>; mountOptions?: string[] };
    const fsType = sc.parameters?.fsType;
    if (!fsType) return false; // "missing field 'parameters.fsType'": requeued forever
    const template = vol.spec.template ?? {};
    const meta = (template.metadata ?? {}) as { labels?: Record<string, string>; annotations?: Record<string, string>; finalizers?: string[] };
    const pv = {
      apiVersion: 'v1',
      kind: 'PersistentVolume',
      metadata: {
        ...meta,
        name: vol.metadata.name,
        finalizers: [...(meta.finalizers ?? []), FINALIZER],
        ownerReferences: [{ apiVersion: `${GROUP}/v1alpha1`, kind: 'Volume', name: vol.metadata.name, uid: vol.metadata.uid, controller: true, blockOwnerDeletion: true }],
      },
      spec: {
        ...(template.spec ?? {}),
        accessModes: ['ReadWriteOnce'],
        capacity: { storage: binarySI(info.size) },
        ...(sc.mountOptions ? { mountOptions: sc.mountOptions } : {}),
        volumeMode: vol.spec.mode ?? 'Filesystem',
        local: { path: info.path, fsType },
        persistentVolumeReclaimPolicy: 'Retain',
        storageClassName: vol.spec.storageClassName,
        nodeAffinity: { required: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: [vol.spec.nodeName] }] }] } },
      },
    };
    const res = await kubeRequest(kc, 'POST', '/api/v1/persistentvolumes', pv);
    if (res.status >= 300 && res.status !== 409) return false;
    await event(vol, 'Normal', 'PvCreation', 'backing PersistentVolume created');
    return true;
  };

  const refreshDeviceName = async (vol: Volume, pv: Pv): Promise<string | undefined> => {
    const path = pv.spec?.local?.path;
    if (!path) return undefined;
    const ret = await salt.local({ tgt: vol.spec.nodeName, fun: 'metalk8s_volumes.device_name', arg: [path], timeout: 1 }).catch(() => undefined);
    const r = ret?.[vol.spec.nodeName] as { success?: boolean; result?: string } | undefined;
    return r?.success ? r.result : undefined;
  };

  const finalize = async (vol: Volume, saltenv: string, pv: Pv | undefined): Promise<void> => {
    const name = vol.metadata.name;
    if (pv && !pv.metadata.deletionTimestamp) {
      await kubeRequest(kc, 'DELETE', `/api/v1/persistentvolumes/${name}`);
      await event(vol, 'Normal', 'PvDeletion', 'backing PersistentVolume deleted');
      return;
    }
    if (pv) {
      const phase = pv.status?.phase ?? '';
      const onlyOurs = (pv.metadata.finalizers ?? []).every((f) => f === FINALIZER);
      if (!['Available', 'Released', 'Failed'].includes(phase) || !onlyOurs) return; // a claim still holds it
    }
    const job = vol.status?.job ?? '';
    const [jobName, jid] = job.split('/');
    const ready = vol.status?.conditions?.find((c) => c.type === 'Ready');
    // A failed reclaim keeps its finalizers: a person must look (§A.6 item 5).
    if (ready?.status === 'False' && ready.reason === 'DestructionError') return;
    if (jobName !== 'UnprepareVolume' || !jid) {
      const newJid = await submitState(vol, saltenv, 'metalk8s.volumes.unprepared');
      await setStatus(vol, { status: 'Unknown', reason: 'Terminating', message: '' }, `UnprepareVolume/${newJid}`);
      await event(vol, 'Normal', 'SaltCall', 'volume finalization started');
      return;
    }
    if (jid === 'DONE') return;
    const r = await poll(jid, vol.spec.nodeName);
    if (r.state === 'running') return;
    if (r.state === 'unknown' || (r.retcode === 1 && typeof r.ret !== 'string')) {
      await setStatus(vol, { status: 'Unknown', reason: 'Terminating', message: '' }, 'UnprepareVolume/');
      return;
    }
    if (r.retcode !== 0) {
      await event(vol, 'Warning', 'SaltCall', "step 'UnprepareVolume' failed");
      await setStatus(vol, { status: 'False', reason: 'DestructionError', message: `error during volume finalization: ${rootCause(r.ret)}` }, job);
      return;
    }
    if (pv) await patchFinalizers(`/api/v1/persistentvolumes/${name}`, (pv.metadata.finalizers ?? []).filter((f) => f !== FINALIZER));
    await patchFinalizers(`${VOLUMES}/${name}`, (vol.metadata.finalizers ?? []).filter((f) => f !== FINALIZER));
    await event(vol, 'Normal', 'VolumeFinalization', 'storage reclaimed');
    deviceInfo.delete(vol.metadata.uid);
  };

  const reconcile = async (vol: Volume): Promise<void> => {
    const name = vol.metadata.name;
    const ready = vol.status?.conditions?.find((c) => c.type === 'Ready');
    const phase = phaseOf(ready);
    const sources = [vol.spec.sparseLoopDevice, vol.spec.rawBlockDevice, vol.spec.lvmLogicalVolume].filter((s) => s !== undefined);
    const size = vol.spec.sparseLoopDevice?.size ?? vol.spec.lvmLogicalVolume?.size;
    const invalid = sources.length === 0 ? 'volume type not found in Volume Spec' : size !== undefined && !/^[+]?[0-9.]+[A-Za-z]*$/.test(String(size)) ? 'invalid size' : size !== undefined && Number.parseFloat(String(size)) <= 0 ? 'size must be positive' : undefined;
    if (invalid && !vol.metadata.deletionTimestamp) {
      await setStatus(vol, { status: 'False', reason: 'InternalError', message: `invalid volume: ${invalid}` }, vol.status?.job);
      return;
    }
    const nodeRes = await kubeRequest(kc, 'GET', `/api/v1/nodes/${encodeURIComponent(vol.spec.nodeName)}`);
    const version = nodeRes.status === 200 ? (nodeRes.json as { metadata?: { labels?: Record<string, string> } }).metadata?.labels?.['metalk8s.scality.com/version'] : undefined;
    if (!version) return; // fetchSaltEnv: requeue, no status written
    const saltenv = `metalk8s-${version}`;
    const pvRes = await kubeRequest(kc, 'GET', `/api/v1/persistentvolumes/${encodeURIComponent(name)}`);
    const pv = pvRes.status === 200 ? (pvRes.json as Pv) : undefined;

    if (vol.metadata.deletionTimestamp && phase !== 'Pending') {
      if ((vol.metadata.finalizers ?? []).includes(FINALIZER)) await finalize(vol, saltenv, pv);
      return;
    }
    if (ready?.status === 'False' && ready.reason !== 'UnavailableError') return; // unrecoverable

    if (!pv) {
      const finalizers = vol.metadata.finalizers ?? [];
      if (!finalizers.includes(FINALIZER)) {
        await patchFinalizers(`${VOLUMES}/${name}`, [...finalizers, FINALIZER]);
        return;
      }
      const [jobName = '', jid = ''] = (vol.status?.job ?? '').split('/');
      if (jobName === '' || (jobName === 'PrepareVolume' && jid === '')) {
        const newJid = await submitState(vol, saltenv, 'metalk8s.volumes');
        await setStatus(vol, { status: 'Unknown', reason: 'Pending', message: '' }, `PrepareVolume/${newJid}`);
        await event(vol, 'Normal', 'SaltCall', 'volume provisioning step 1/2 started');
        return;
      }
      if (jobName === 'PrepareVolume' && jid !== 'DONE') {
        const r = await poll(jid, vol.spec.nodeName);
        if (r.state === 'running') return;
        if (r.state === 'unknown' || (r.retcode === 1 && typeof r.ret !== 'string')) {
          // Unknown job, or "concurrent state run": submit again.
          await setStatus(vol, { status: 'Unknown', reason: 'Pending', message: '' }, 'PrepareVolume/');
          return;
        }
        if (r.retcode !== 0) {
          await event(vol, 'Warning', 'SaltCall', "step 'PrepareVolume' failed");
          await setStatus(vol, { status: 'False', reason: 'CreationError', message: `error during volume preparation: ${rootCause(r.ret)}` }, vol.status?.job);
          return;
        }
        await event(vol, 'Normal', 'SaltCall', "step 'PrepareVolume' succeeded");
        await setStatus(vol, { status: 'Unknown', reason: 'Pending', message: '' }, 'PrepareVolume/DONE');
        return;
      }
      if (jobName === 'PrepareVolume' || (jobName === 'GetDeviceInfo' && jid === '')) {
        const job = await salt.localAsync({ tgt: vol.spec.nodeName, fun: 'metalk8s_volumes.device_info', arg: [name], timeout: 1 });
        await setStatus(vol, { status: 'Unknown', reason: 'Pending', message: '' }, `GetDeviceInfo/${job.jid}`);
        await event(vol, 'Normal', 'SaltCall', 'volume provisioning step 2/2 started');
        return;
      }
      if (jobName === 'GetDeviceInfo' && jid !== 'DONE') {
        const r = await poll(jid, vol.spec.nodeName);
        if (r.state === 'running') return;
        if (r.state === 'unknown') {
          await setStatus(vol, { status: 'Unknown', reason: 'Pending', message: '' }, 'GetDeviceInfo/');
          return;
        }
        const info = r.ret as { size?: string; path?: string } | string;
        const bytes = typeof info === 'object' && info !== null ? Number.parseInt(String(info.size), 10) : Number.NaN;
        if (r.retcode !== 0 || typeof info !== 'object' || info === null || !Number.isFinite(bytes) || !info.path) {
          await event(vol, 'Warning', 'SaltCall', 'volume provisioning step 2/2 failed');
          await setStatus(vol, { status: 'False', reason: 'CreationError', message: `error during volume preparation: ${typeof info === 'string' ? info : JSON.stringify(info)}` }, vol.status?.job);
          return;
        }
        deviceInfo.set(vol.metadata.uid, { size: bytes, path: info.path });
        await setStatus(vol, { status: 'Unknown', reason: 'Pending', message: '' }, 'GetDeviceInfo/DONE');
        return;
      }
      if (jobName === 'GetDeviceInfo') {
        const info = deviceInfo.get(vol.metadata.uid);
        if (!info) {
          // "no device info" (operator restarted): ask again.
          await setStatus(vol, { status: 'Unknown', reason: 'Pending', message: '' }, 'GetDeviceInfo/');
          return;
        }
        await createPv(vol, info);
      }
      return;
    }
    if (pv.status?.phase === 'Failed') {
      await setStatus(vol, { status: 'False', reason: 'UnavailableError', message: 'backing PersistentVolume is in a failed state' }, undefined);
      return;
    }
    const deviceName = await refreshDeviceName(vol, pv);
    await setStatus(vol, { status: 'True' }, undefined, deviceName);
  };

  const loop = async (): Promise<void> => {
    while (!stopped) {
      try {
        const res = await kubeRequest(kc, 'GET', VOLUMES);
        const items = res.status === 200 ? ((res.json as { items?: Volume[] }).items ?? []) : [];
        const nodes = options.nodes();
        const mine = items.filter((v) => nodes.includes(v.spec?.nodeName));
        await Promise.all(mine.map((v) => reconcile(v).catch((err: unknown) => options.onError?.(v.metadata.name, err))));
      } catch {
        // The API server may be going away at shutdown; try again on the next round.
      }
      await new Promise((r) => setTimeout(r, options.intervalMs ?? 250));
    }
  };
  const current = loop();
  return {
    async stop() {
      stopped = true;
      await current;
    },
  };
}
