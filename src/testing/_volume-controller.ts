/**
 * The emulator's storage-operator (metalk8s-reference.md §4.1, §4.2): it reconciles `Volume`
 * objects into PersistentVolumes with the fields storage-operator sets, and keeps the Volume's
 * `Ready` condition, finalizer and deletion order. There is no disk: a sparse or LVM Volume gets
 * the size it asks for, and a raw block device is refused (the emulator has none).
 *
 * It polls instead of watching: a few Volumes per test, and no watch reconnection logic to get
 * wrong.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import { kubeRequest } from '../cluster/_kube.js';
import { Size } from '../solution/size.js';

const GROUP = 'storage.metalk8s.scality.com';
const VOLUMES = `/apis/${GROUP}/v1alpha1/volumes`;
const FINALIZER = `${GROUP}/volume-protection`;

interface Condition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
  lastUpdateTime?: string;
  lastTransitionTime?: string;
}

interface Volume {
  metadata: {
    name: string;
    uid: string;
    finalizers?: string[];
    deletionTimestamp?: string;
  };
  spec: {
    nodeName: string;
    storageClassName: string;
    mode?: 'Filesystem' | 'Block';
    template?: { metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> }; spec?: Record<string, unknown> };
    sparseLoopDevice?: { size: string | number };
    rawBlockDevice?: { devicePath: string };
    lvmLogicalVolume?: { vgName: string; size: string | number };
  };
  status?: { conditions?: Condition[]; job?: string; deviceName?: string };
}

/** Bytes in a Kubernetes quantity (`10Gi`, `500M`, `1024`), or undefined. */
export function quantityBytes(q: string | number): number | undefined {
  return typeof q === 'number' ? q : Size.parse(q)?.bytes;
}

async function check(res: Promise<{ status: number; text: string }>, what: string): Promise<void> {
  const r = await res;
  if (r.status >= 300 && r.status !== 404 && r.status !== 409) throw new Error(`${what}: HTTP ${r.status} ${r.text.slice(0, 200)}`);
}

/** Runs the reconcile loop until `stop()`. */
export function startVolumeController(kc: KubeConfig, intervalMs = 250): { stop(): Promise<void> } {
  let stopped = false;
  let current: Promise<void> = Promise.resolve();

  const setStatus = async (vol: Volume, condition: Condition, extra: Record<string, unknown> = {}): Promise<void> => {
    const previous = vol.status?.conditions?.find((c) => c.type === 'Ready');
    if (previous?.status === condition.status && previous.reason === condition.reason && previous.message === condition.message) return;
    const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    const full = {
      ...condition,
      lastUpdateTime: now,
      lastTransitionTime: previous?.status === condition.status ? (previous.lastTransitionTime ?? now) : now,
    };
    await check(
      kubeRequest(kc, 'PATCH', `${VOLUMES}/${vol.metadata.name}/status`, { status: { conditions: [full], ...extra } }, 'application/merge-patch+json'),
      `status of Volume ${vol.metadata.name}`,
    );
  };

  const reconcile = async (vol: Volume): Promise<void> => {
    const name = vol.metadata.name;
    const finalizers = vol.metadata.finalizers ?? [];
    const pvPath = `/api/v1/persistentvolumes/${name}`;
    if (vol.metadata.deletionTimestamp) {
      if (!finalizers.includes(FINALIZER)) return;
      await setStatus(vol, { type: 'Ready', status: 'Unknown', reason: 'Terminating', message: 'The volume is being deleted' });
      const pv = await kubeRequest(kc, 'GET', pvPath);
      if (pv.status === 200) {
        const body = pv.json as { metadata?: { deletionTimestamp?: string; finalizers?: string[] }; status?: { phase?: string } };
        if (!body.metadata?.deletionTimestamp) await check(kubeRequest(kc, 'DELETE', pvPath), `delete PV ${name}`);
        // Storage is reclaimed only once nothing uses the PV (§4.2).
        const phase = body.status?.phase ?? '';
        if (['Available', 'Released', 'Failed', ''].includes(phase) && (body.metadata?.finalizers ?? []).includes(FINALIZER)) {
          const rest = (body.metadata?.finalizers ?? []).filter((f) => f !== FINALIZER);
          await check(kubeRequest(kc, 'PATCH', pvPath, { metadata: { finalizers: rest } }, 'application/merge-patch+json'), `PV ${name}`);
        }
        return;
      }
      await check(
        kubeRequest(kc, 'PATCH', `${VOLUMES}/${name}`, { metadata: { finalizers: finalizers.filter((f) => f !== FINALIZER) } }, 'application/merge-patch+json'),
        `finalizer of Volume ${name}`,
      );
      return;
    }
    if (!finalizers.includes(FINALIZER)) {
      await check(
        kubeRequest(kc, 'PATCH', `${VOLUMES}/${name}`, { metadata: { finalizers: [...finalizers, FINALIZER] } }, 'application/merge-patch+json'),
        `finalizer of Volume ${name}`,
      );
      return;
    }
    const ready = vol.status?.conditions?.find((c) => c.type === 'Ready');
    if (ready?.status === 'True' || (ready?.status === 'False' && ready.reason !== 'UnavailableError')) return;

    const fail = (message: string) => setStatus(vol, { type: 'Ready', status: 'False', reason: 'CreationError', message });
    const sources = [vol.spec.sparseLoopDevice, vol.spec.rawBlockDevice, vol.spec.lvmLogicalVolume].filter((s) => s !== undefined);
    if (sources.length !== 1) return fail('exactly one of sparseLoopDevice, rawBlockDevice, lvmLogicalVolume must be set');
    const sc = await kubeRequest(kc, 'GET', `/apis/storage.k8s.io/v1/storageclasses/${vol.spec.storageClassName}`);
    if (sc.status !== 200) return fail(`StorageClass ${vol.spec.storageClassName} not found`);
    const storageClass = sc.json as { parameters?: Record<string, string>; mountOptions?: string[] };
    const fsType = storageClass.parameters?.fsType;
    if (!fsType) return fail(`StorageClass ${vol.spec.storageClassName} has no parameters.fsType`);
    const node = await kubeRequest(kc, 'GET', `/api/v1/nodes/${vol.spec.nodeName}`);
    if (node.status !== 200) return fail(`Node ${vol.spec.nodeName} not found`);
    if (vol.spec.rawBlockDevice) return fail(`the emulator has no block device ${vol.spec.rawBlockDevice.devicePath} on ${vol.spec.nodeName}`);
    const size = quantityBytes((vol.spec.sparseLoopDevice ?? vol.spec.lvmLogicalVolume)?.size ?? '');
    if (size === undefined || size <= 0) return fail('invalid size');

    const mode = vol.spec.mode ?? 'Filesystem';
    const uid = vol.metadata.uid;
    const path = vol.spec.lvmLogicalVolume
      ? mode === 'Block'
        ? `/dev/${vol.spec.lvmLogicalVolume.vgName}/${name}`
        : `/dev/disk/by-uuid/${uid}`
      : mode === 'Block'
        ? `/dev/disk/by-partuuid/${uid}`
        : `/dev/disk/by-uuid/${uid}`;
    const template = vol.spec.template ?? {};
    const pv = {
      apiVersion: 'v1',
      kind: 'PersistentVolume',
      metadata: {
        name,
        ...(template.metadata?.labels ? { labels: template.metadata.labels } : {}),
        ...(template.metadata?.annotations ? { annotations: template.metadata.annotations } : {}),
        finalizers: [FINALIZER],
        ownerReferences: [{ apiVersion: `${GROUP}/v1alpha1`, kind: 'Volume', name, uid, controller: true, blockOwnerDeletion: true }],
      },
      spec: {
        ...(template.spec ?? {}),
        accessModes: ['ReadWriteOnce'],
        capacity: { storage: String(size) },
        ...(storageClass.mountOptions ? { mountOptions: storageClass.mountOptions } : {}),
        volumeMode: mode,
        local: { path, fsType },
        persistentVolumeReclaimPolicy: 'Retain',
        storageClassName: vol.spec.storageClassName,
        nodeAffinity: {
          required: {
            nodeSelectorTerms: [{ matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: [vol.spec.nodeName] }] }],
          },
        },
      },
    };
    await check(kubeRequest(kc, 'POST', '/api/v1/persistentvolumes', pv), `create PV ${name}`);
    const deviceName = vol.spec.sparseLoopDevice ? `loop-${uid.slice(0, 8)}` : `dm-${uid.slice(0, 8)}`;
    await setStatus(vol, { type: 'Ready', status: 'True' }, { job: 'PrepareVolume/DONE', deviceName });
  };

  const loop = async (): Promise<void> => {
    while (!stopped) {
      try {
        const res = await kubeRequest(kc, 'GET', VOLUMES);
        const items = res.status === 200 ? ((res.json as { items?: Volume[] }).items ?? []) : [];
        for (const vol of items) {
          if (stopped) break;
          await reconcile(vol).catch(() => undefined);
        }
      } catch {
        // The API server may be going away at shutdown; try again on the next round.
      }
      await new Promise((r) => setTimeout(r, intervalMs));
    }
  };
  current = loop();
  return {
    async stop() {
      stopped = true;
      await current;
    },
  };
}
