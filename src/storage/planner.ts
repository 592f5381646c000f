/**
 * The Volume planner: from a Solution's storage needs (`components[].volumes`), the cluster's
 * disks ({@link Inventory}) and the Volumes that already exist, the MetalK8s `Volume` objects
 * to create, with an explanation, or a typed account of what cannot be satisfied. Pure and
 * deterministic: same inputs, same plan, in the same order.
 *
 * Rules (platform-reference §A.7, §D.4):
 * - `count: {perNode, role}` puts that many Volumes on every node of the role; `count: {total}`
 *   spreads the replicas over distinct nodes first, and says so when two must share a node;
 * - each Volume takes the smallest eligible device that fits (the PV gets the whole device,
 *   §A.4), on SSD or HDD when the need asks;
 * - LVM groups keep a spare margin, and LV sizes are rounded up to whole extents;
 * - xfs only on 300 MiB and more; sizes only in the grammar the node parses;
 * - sparse files only with `allowSparse`, and never for Block mode;
 * - existing Volumes of the need are kept, so planning again after an apply changes nothing.
 *
 * @module
 */
import { createHash } from 'node:crypto';
import type { Solution } from '../solution/validate.js';
import { sizeInBytes, type Size } from '../solution/size.js';
import { blockModePathProblem } from './eligibility.js';
import {
  type BlockDevice,
  type DeniedReason,
  type Inventory,
  type NodeInventory,
  STORAGE_LABELS,
  VOLUME_API_VERSION,
  type VolumeGroup,
  type VolumeManifest,
  type VolumeSourceKind,
} from './model.js';
import { BYTES, numberOption } from '../_number-option.js';
import { formatNodeQuantity, humanBytes } from './quantity.js';

/** xfsprogs refuses filesystems under 300 MB (platform-reference §E). */
export const XFS_MIN_BYTES = 300 * 2 ** 20;
const SDK = 'metalk8s-solution-sdk';

/** A Volume that exists in the cluster, as {@link planVolumes} needs to know it. */
export interface ExistingVolume {
  readonly name: string;
  readonly node: string;
  readonly storageClass: string;
  readonly labels: Readonly<Record<string, string>>;
  /** `rawBlockDevice.devicePath`, when it is one. */
  readonly devicePath?: string | undefined;
  /** LVM group and bytes, when it is an LVM Volume. */
  readonly vgName?: string | undefined;
  readonly sizeBytes?: number | undefined;
}

/** The solution part the planner reads. */
export interface PlannedSolution {
  readonly name: string;
  readonly definition: Pick<Solution['definition'], 'components' | 'storageClasses'>;
}

/** Options of {@link planVolumes}. */
export interface PlanVolumesOptions {
  /**
   * Allow sparse-file Volumes where no device fits (for trials: a sparse file shares the node's
   * system disk).
   * @default false
   */
  readonly allowSparse?: boolean | undefined;
  /**
   * Source per StorageClass name. LVM needs a volume group with room.
   * @default rawBlockDevice for every class
   */
  readonly sources?: Readonly<Record<string, VolumeSourceKind>> | undefined;
  /**
   * Bytes kept free in every LVM group (topolvm's `spare-gb`), 0 or more.
   * @default 5% of the group, at least one extent
   */
  readonly lvmSpareBytes?: number | undefined;
  /**
   * Pre-bind each `total` replica's PV to the PVC a StatefulSet named after the component makes
   * from a claim template named after the need (`<need>-<component>-<i>`) in this namespace.
   * @default undefined (no pre-binding: PVCs select the PVs by label)
   */
  readonly claimRefNamespace?: string | undefined;
  /**
   * Filesystem of StorageClasses not in the solution (MetalK8s' `metalk8s` is ext4).
   * @default { metalk8s: 'ext4' }
   */
  readonly storageClassFsTypes?: Readonly<Record<string, 'ext4' | 'xfs'>> | undefined;
  /**
   * Role of the nodes a need without `count.role` goes to.
   * @default 'node' (MetalK8s' workload plane)
   */
  readonly defaultRole?: string | undefined;
}

/** Inputs of {@link planVolumes}. */
export interface PlanVolumesInput {
  readonly solution: PlannedSolution;
  readonly inventory: Inventory;
  /** Every Volume of the cluster. @default [] */
  readonly existing?: readonly ExistingVolume[] | undefined;
  readonly options?: PlanVolumesOptions | undefined;
}

/** One Volume of the plan. */
export interface PlannedVolume {
  /** `create`: to be applied; `keep`: it exists already and counts toward the need. */
  readonly action: 'create' | 'keep';
  readonly name: string;
  readonly component: string;
  readonly need: string;
  readonly node: string;
  readonly storageClass: string;
  readonly source: VolumeSourceKind;
  /** The chosen device (raw Volumes). */
  readonly device?: { readonly path: string; readonly name: string; readonly size: number; readonly rotational: boolean | undefined } | undefined;
  readonly vgName?: string | undefined;
  /** Capacity the PV will have: the device size, or the size rounded to LVM extents. */
  readonly capacityBytes: number | undefined;
  /** True when this replica shares its node with another replica of the same need. */
  readonly stacked: boolean;
  /** The object to apply (for `keep`, as the planner would write it). */
  readonly manifest: VolumeManifest | undefined;
}

/** Why one device or group could not take a Volume of a need. */
export interface Refusal {
  readonly path: string;
  readonly size: number;
  readonly reasons: readonly { readonly code: string; readonly message: string }[];
}

/** What a node offered an unsatisfied need. */
export interface NodeConsidered {
  readonly node: string;
  /** Why the whole node was passed over, when it was. */
  readonly refused?: string | undefined;
  readonly devices: readonly Refusal[];
  readonly volumeGroups: readonly Refusal[];
}

/** A need the plan cannot satisfy, and why. */
export interface UnsatisfiedNeed {
  readonly component: string;
  readonly need: string;
  readonly storageClass: string;
  readonly sizeBytes: number;
  /** Volumes wanted in all, and found (existing plus planned). */
  readonly wanted: number;
  readonly placed: number;
  /** One sentence: what is missing. */
  readonly message: string;
  readonly nodes: readonly NodeConsidered[];
}

/** A remark on the plan. */
export interface PlanNote {
  readonly code: 'stacked' | 'sparse' | 'xfs-minimum' | 'surplus' | 'no-claim-ref' | 'gpt-name-truncated';
  readonly message: string;
}

/** A device the inventory refuses, shown with every plan. */
export interface RefusedDevice {
  readonly node: string;
  readonly path: string;
  readonly size: number;
  readonly reasons: readonly DeniedReason[];
}

/** What {@link planVolumes} returns. */
export interface VolumePlan {
  /** True when every need is satisfied. A plan that is not ok must not be applied. */
  readonly ok: boolean;
  readonly solution: string;
  /** Every Volume of the solution's needs: kept and to create, in need order. */
  readonly volumes: readonly PlannedVolume[];
  readonly unsatisfied: readonly UnsatisfiedNeed[];
  readonly refusedDevices: readonly RefusedDevice[];
  readonly notes: readonly PlanNote[];
}

interface Need {
  readonly component: string;
  readonly name: string;
  readonly bytes: number;
  readonly storageClass: string;
  readonly fsType: 'ext4' | 'xfs';
  readonly mode: 'Filesystem' | 'Block';
  readonly media: 'ssd' | 'hdd' | undefined;
  readonly count: { readonly total: number } | { readonly perNode: number; readonly role: string };
  readonly source: VolumeSourceKind;
}

interface Choice {
  readonly source: VolumeSourceKind;
  readonly device?: BlockDevice | undefined;
  readonly vg?: VolumeGroup | undefined;
  readonly sizeBytes: number;
  readonly capacity: number | undefined;
  /** Ordering key: smaller is better. */
  readonly weight: number;
}

/** A Kubernetes object name of at most 63 characters, kept unique by a hash when shortened. */
export function volumeName(parts: readonly string[]): string {
  const raw = parts
    .join('-')
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/-+/g, '-')
    .replace(/^-|-$/g, '');
  if (raw.length <= 63) return raw;
  const hash = createHash('sha256').update(raw).digest('hex').slice(0, 8);
  return `${raw.slice(0, 54).replace(/-$/, '')}-${hash}`;
}

function roundUp(n: number, step: number): number {
  return Math.ceil(n / step) * step;
}

/**
 * Plans the Volumes a Solution needs on a cluster.
 *
 * @example
 * ```ts
 * import { planVolumes } from 'metalk8s-solution-sdk/storage';
 *
 * const plan = planVolumes({ solution, inventory: await inventory(cluster), existing: await listVolumes(cluster) });
 * if (!plan.ok) for (const u of plan.unsatisfied) console.error(u.message);
 * ```
 */
export function planVolumes(input: PlanVolumesInput): VolumePlan {
  const opts = input.options ?? {};
  // A negative spare made room beyond a group's free space: the plan held LVs that cannot fit.
  numberOption('options.lvmSpareBytes', opts.lvmSpareBytes, BYTES);
  for (const [i, v] of (input.existing ?? []).entries()) numberOption(`existing[${i}].sizeBytes`, v.sizeBytes, BYTES);
  const sol = input.solution;
  const fsTypes: Record<string, 'ext4' | 'xfs'> = { metalk8s: 'ext4', ...opts.storageClassFsTypes };
  for (const sc of sol.definition.storageClasses ?? []) fsTypes[sc.name] = sc.fsType;
  const nodes = [...input.inventory.nodes].sort((a, b) => a.name.localeCompare(b.name));
  const existing = [...(input.existing ?? [])].sort((a, b) => a.name.localeCompare(b.name));

  const volumes: PlannedVolume[] = [];
  const unsatisfied: UnsatisfiedNeed[] = [];
  const notes: PlanNote[] = [];
  // Devices and group space this plan takes, per node.
  const takenDevices = new Set<string>();
  const usedVgBytes = new Map<string, number>();
  const usedNames = new Set(existing.map((v) => v.name));
  for (const v of existing) {
    if (v.devicePath) takenDevices.add(`${v.node}\0${v.devicePath}`);
  }

  const needs: Need[] = [];
  for (const c of sol.definition.components ?? []) {
    for (const v of c.volumes ?? []) {
      const count = v.count ?? { total: 1 };
      needs.push({
        component: c.name,
        name: v.name,
        bytes: sizeInBytes(v.size as Size | string) ?? 0,
        storageClass: v.storageClass,
        fsType: fsTypes[v.storageClass] ?? 'ext4',
        mode: v.mode ?? 'Filesystem',
        media: v.media,
        count: 'total' in count ? { total: count.total } : { perNode: count.perNode, role: count.role ?? opts.defaultRole ?? 'node' },
        source: opts.sources?.[v.storageClass] ?? 'rawBlockDevice',
      });
    }
  }

  const spareOf = (vg: VolumeGroup): number => opts.lvmSpareBytes ?? Math.max(vg.extentSize, roundUp(Math.ceil(vg.size * 0.05), vg.extentSize));

  /** Every option a node offers a need, best first, and the refusals. */
  const optionsOn = (node: NodeInventory, need: Need): { choices: Choice[]; devices: Refusal[]; vgs: Refusal[] } => {
    const wantBytes = need.fsType === 'xfs' ? Math.max(need.bytes, XFS_MIN_BYTES) : need.bytes;
    const choices: Choice[] = [];
    const devices: Refusal[] = [];
    const vgs: Refusal[] = [];
    const kinds: VolumeSourceKind[] = need.source === 'sparseLoopDevice' ? ['sparseLoopDevice'] : [need.source, ...(opts.allowSparse ? (['sparseLoopDevice'] as const) : [])];
    for (const kind of kinds) {
      if (kind === 'rawBlockDevice') {
        for (const d of node.devices) {
          const reasons: { code: string; message: string }[] = [...d.deniedReasons];
          const path = need.mode === 'Block' && d.type === 'part' ? d.path : d.stablePath;
          if (takenDevices.has(`${node.name}\0${d.path}`) || takenDevices.has(`${node.name}\0${d.stablePath}`)) {
            reasons.push({ code: 'planned', message: 'taken by another Volume of this plan' });
          }
          if (d.size < wantBytes) reasons.push({ code: 'too-small-for-need', message: `${humanBytes(d.size)}, less than the ${humanBytes(wantBytes)} asked` });
          if (need.media === 'ssd' && d.rotational !== false) reasons.push({ code: 'media', message: d.rotational ? 'rotational (HDD), the need asks for SSD' : 'media unknown, the need asks for SSD' });
          if (need.media === 'hdd' && d.rotational !== true) reasons.push({ code: 'media', message: d.rotational === false ? 'solid-state (SSD), the need asks for HDD' : 'media unknown, the need asks for HDD' });
          if (need.mode === 'Block') {
            const problem = blockModePathProblem(d);
            if (problem) reasons.push({ code: 'block-path-shape', message: problem });
          }
          if (reasons.length > 0) devices.push({ path: d.path, size: d.size, reasons });
          else choices.push({ source: kind, device: { ...d, stablePath: path }, sizeBytes: d.size, capacity: d.size, weight: d.size });
        }
      } else if (kind === 'lvmLogicalVolume') {
        for (const vg of node.volumeGroups) {
          const key = `${node.name}\0${vg.name}`;
          const extent = vg.extentSize > 0 ? vg.extentSize : 4 * 2 ** 20;
          const capacity = roundUp(wantBytes, extent);
          const room = vg.free - (usedVgBytes.get(key) ?? 0) - spareOf(vg);
          const reasons: { code: string; message: string }[] = [];
          if (room < capacity) reasons.push({ code: 'no-room', message: `${humanBytes(Math.max(room, 0))} free after the ${humanBytes(spareOf(vg))} spare, ${humanBytes(capacity)} asked` });
          if (need.media === 'ssd' && vg.rotational !== false) reasons.push({ code: 'media', message: 'not all on SSD, the need asks for SSD' });
          if (need.media === 'hdd' && vg.rotational !== true) reasons.push({ code: 'media', message: 'not all on HDD, the need asks for HDD' });
          if (reasons.length > 0) vgs.push({ path: vg.name, size: vg.free, reasons });
          else choices.push({ source: kind, vg, sizeBytes: wantBytes, capacity, weight: vg.free - (usedVgBytes.get(key) ?? 0) });
        }
      } else if (opts.allowSparse && need.mode === 'Filesystem') {
        // Sparse files come last: any device or group that fits is better.
        choices.push({ source: kind, sizeBytes: wantBytes, capacity: wantBytes, weight: Number.MAX_SAFE_INTEGER });
      }
    }
    choices.sort((a, b) => a.weight - b.weight || (a.device?.stablePath ?? a.vg?.name ?? '').localeCompare(b.device?.stablePath ?? b.vg?.name ?? ''));
    return { choices, devices, vgs };
  };

  const labelsOf = (need: Need): Record<string, string> => ({
    [STORAGE_LABELS.solution]: sol.name,
    [STORAGE_LABELS.component]: need.component,
    [STORAGE_LABELS.need]: need.name,
  });

  const manifestOf = (need: Need, name: string, node: string, choice: Choice, claimIndex: number | undefined): VolumeManifest => {
    const source =
      choice.source === 'rawBlockDevice'
        ? { rawBlockDevice: { devicePath: choice.device?.stablePath ?? '' } }
        : choice.source === 'lvmLogicalVolume'
          ? { lvmLogicalVolume: { vgName: choice.vg?.name ?? '', size: formatNodeQuantity(choice.sizeBytes) } }
          : { sparseLoopDevice: { size: formatNodeQuantity(choice.sizeBytes) } };
    const claim =
      opts.claimRefNamespace !== undefined && claimIndex !== undefined
        ? { spec: { claimRef: { namespace: opts.claimRefNamespace, name: `${need.name}-${need.component}-${claimIndex}` } } }
        : {};
    return {
      apiVersion: VOLUME_API_VERSION,
      kind: 'Volume',
      metadata: { name, labels: { ...labelsOf(need), [STORAGE_LABELS.managedBy]: SDK } },
      spec: {
        nodeName: node,
        storageClassName: need.storageClass,
        mode: need.mode,
        template: { metadata: { labels: labelsOf(need) }, ...claim },
        ...source,
      },
    } as VolumeManifest;
  };

  const noteName = (need: Need, name: string): void => {
    // MetalK8s names the GPT partition of a Block Volume after it; sgdisk keeps 36 characters.
    if (need.mode === 'Block' && name.length > 36) notes.push({ code: 'gpt-name-truncated', message: `${name}: its GPT partition name will be cut to ${name.slice(0, 36)} (36 characters)` });
  };

  const take = (node: string, choice: Choice): void => {
    if (choice.device) {
      takenDevices.add(`${node}\0${choice.device.path}`);
      takenDevices.add(`${node}\0${choice.device.stablePath}`);
    }
    if (choice.vg) {
      const key = `${node}\0${choice.vg.name}`;
      usedVgBytes.set(key, (usedVgBytes.get(key) ?? 0) + (choice.capacity ?? choice.sizeBytes));
    }
  };

  const nodeRefusal = (node: NodeInventory, role: string): string | undefined => {
    if (!node.roles.includes(role)) return `not a ${role} node`;
    if (node.metalk8sVersion === undefined) return 'no metalk8s.scality.com/version label: storage-operator would never prepare its Volumes';
    if (node.probeError) return `its disks could not be read: ${node.probeError}`;
    return undefined;
  };

  const considered = (need: Need, role: string, only?: string): NodeConsidered[] =>
    nodes
      .filter((n) => only === undefined || n.name === only)
      .map((n) => {
        const refused = nodeRefusal(n, role);
        if (refused) return { node: n.name, refused, devices: [], volumeGroups: [] };
        const o = optionsOn(n, need);
        return { node: n.name, devices: o.devices, volumeGroups: o.vgs };
      });

  for (const need of needs) {
    const ofNeed = existing.filter(
      (v) => v.labels[STORAGE_LABELS.solution] === sol.name && v.labels[STORAGE_LABELS.component] === need.component && v.labels[STORAGE_LABELS.need] === need.name,
    );
    const keep = (v: ExistingVolume, stacked: boolean): void => {
      volumes.push({
        action: 'keep',
        name: v.name,
        component: need.component,
        need: need.name,
        node: v.node,
        storageClass: v.storageClass,
        source: v.devicePath ? 'rawBlockDevice' : v.vgName ? 'lvmLogicalVolume' : 'sparseLoopDevice',
        capacityBytes: v.sizeBytes,
        stacked,
        manifest: undefined,
      });
    };
    const base = [sol.name, need.component, need.name];
    const describeNeed = `${need.component}.${need.name} (${humanBytes(need.bytes)} ${need.storageClass}${need.media ? ` ${need.media}` : ''})`;
    if (need.fsType === 'xfs' && need.bytes < XFS_MIN_BYTES && need.source !== 'rawBlockDevice') {
      notes.push({ code: 'xfs-minimum', message: `${describeNeed}: raised to 300 MiB, the smallest xfs filesystem` });
    }

    if ('total' in need.count) {
      const total = need.count.total;
      const perNode = new Map<string, number>();
      for (const v of ofNeed) perNode.set(v.node, (perNode.get(v.node) ?? 0) + 1);
      for (const v of ofNeed) keep(v, (perNode.get(v.node) ?? 0) > 1);
      if (ofNeed.length > total) notes.push({ code: 'surplus', message: `${describeNeed}: ${ofNeed.length} Volumes exist for ${total} wanted; none is removed` });
      const role = opts.defaultRole ?? 'node';
      const usedIdx = new Set(ofNeed.map((v) => v.name));
      let placed = ofNeed.length;
      let index = 0;
      while (placed < total) {
        let best: { node: NodeInventory; choice: Choice; count: number } | undefined;
        for (const n of nodes) {
          if (nodeRefusal(n, role)) continue;
          const choice = optionsOn(n, need).choices[0];
          if (!choice) continue;
          const count = perNode.get(n.name) ?? 0;
          if (!best || count < best.count || (count === best.count && choice.weight < best.choice.weight)) best = { node: n, choice, count };
        }
        if (!best) break;
        let name = volumeName([...base, String(index)]);
        while (usedIdx.has(name) || usedNames.has(name)) name = volumeName([...base, String(++index)]);
        usedIdx.add(name);
        usedNames.add(name);
        noteName(need, name);
        take(best.node.name, best.choice);
        perNode.set(best.node.name, best.count + 1);
        if (best.count > 0) notes.push({ code: 'stacked', message: `${describeNeed}: replica ${name} shares node ${best.node.name} with another replica (not enough nodes with a fitting device)` });
        if (best.choice.source === 'sparseLoopDevice') notes.push({ code: 'sparse', message: `${name}: a sparse file on ${best.node.name}, no device fits (trials only)` });
        volumes.push({
          action: 'create',
          name,
          component: need.component,
          need: need.name,
          node: best.node.name,
          storageClass: need.storageClass,
          source: best.choice.source,
          ...(best.choice.device ? { device: { path: best.choice.device.stablePath, name: best.choice.device.name, size: best.choice.device.size, rotational: best.choice.device.rotational } } : {}),
          ...(best.choice.vg ? { vgName: best.choice.vg.name } : {}),
          capacityBytes: best.choice.capacity,
          stacked: best.count > 0,
          manifest: manifestOf(need, name, best.node.name, best.choice, index),
        });
        placed++;
        index++;
      }
      if (placed < total) {
        unsatisfied.push({
          component: need.component,
          need: need.name,
          storageClass: need.storageClass,
          sizeBytes: need.bytes,
          wanted: total,
          placed,
          message: `${describeNeed}: ${total - placed} of ${total} Volumes cannot be placed: no node with role ${role} has a fitting ${need.source === 'lvmLogicalVolume' ? 'volume group' : 'device'}${opts.allowSparse ? '' : ' (sparse files not allowed)'}`,
          nodes: considered(need, role),
        });
      }
    } else {
      const { perNode: want, role } = need.count;
      if (opts.claimRefNamespace !== undefined) notes.push({ code: 'no-claim-ref', message: `${describeNeed}: per-node Volumes are not pre-bound; their PVCs select them by label` });
      const missingOn: NodeConsidered[] = [];
      let wanted = 0;
      let placedAll = 0;
      for (const n of nodes) {
        if (!n.roles.includes(role)) continue;
        wanted += want;
        const mine = ofNeed.filter((v) => v.node === n.name);
        for (const v of mine) keep(v, false);
        let placed = mine.length;
        let index = 0;
        const refused = nodeRefusal(n, role);
        while (placed < want && !refused) {
          const choice = optionsOn(n, need).choices[0];
          if (!choice) break;
          let name = volumeName([...base, n.name, String(index)]);
          while (usedNames.has(name)) name = volumeName([...base, n.name, String(++index)]);
          usedNames.add(name);
          noteName(need, name);
          take(n.name, choice);
          if (choice.source === 'sparseLoopDevice') notes.push({ code: 'sparse', message: `${name}: a sparse file on ${n.name}, no device fits (trials only)` });
          volumes.push({
            action: 'create',
            name,
            component: need.component,
            need: need.name,
            node: n.name,
            storageClass: need.storageClass,
            source: choice.source,
            ...(choice.device ? { device: { path: choice.device.stablePath, name: choice.device.name, size: choice.device.size, rotational: choice.device.rotational } } : {}),
            ...(choice.vg ? { vgName: choice.vg.name } : {}),
            capacityBytes: choice.capacity,
            stacked: false,
            manifest: manifestOf(need, name, n.name, choice, undefined),
          });
          placed++;
          index++;
        }
        placedAll += Math.min(placed, want);
        if (placed < want) missingOn.push(...considered(need, role, n.name));
      }
      if (wanted === 0 || missingOn.length > 0) {
        unsatisfied.push({
          component: need.component,
          need: need.name,
          storageClass: need.storageClass,
          sizeBytes: need.bytes,
          wanted,
          placed: placedAll,
          message:
            wanted === 0
              ? `${describeNeed}: no node has the role ${role}`
              : `${describeNeed}: no fitting ${need.source === 'lvmLogicalVolume' ? 'volume group' : 'device'} on ${missingOn.map((m) => m.node).join(', ')}${opts.allowSparse ? '' : ' (sparse files not allowed)'}`,
          nodes: missingOn,
        });
      }
    }
  }

  const refusedDevices: RefusedDevice[] = [];
  for (const n of nodes) for (const d of n.devices) if (!d.eligible) refusedDevices.push({ node: n.name, path: d.path, size: d.size, reasons: d.deniedReasons });
  return { ok: unsatisfied.length === 0, solution: sol.name, volumes, unsatisfied, refusedDevices, notes };
}
