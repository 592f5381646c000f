/**
 * The storage model: what the inventory says about each node's disks, the MetalK8s `Volume`
 * object (platform-reference §A.1) and its computed phase (§A.2). Pure types and functions.
 *
 * @module
 */

/** Group, version and kind of MetalK8s Volumes. */
export const VOLUME_GROUP = 'storage.metalk8s.scality.com';
export const VOLUME_API_VERSION = `${VOLUME_GROUP}/v1alpha1`;
/** Finalizer storage-operator puts on Volumes and their PVs. */
export const VOLUME_FINALIZER = `${VOLUME_GROUP}/volume-protection`;
/** Labels the planner puts on Volumes and their PV templates. */
export const STORAGE_LABELS = {
  /** The Solution that needs the Volume. */
  solution: 'app.kubernetes.io/part-of',
  /** The component (a PVC selector of the component matches it). */
  component: 'app.kubernetes.io/name',
  /** The component's volume need, e.g. `data`. */
  need: 'storage.metalk8s-solution-sdk.io/need',
  /** Who made the Volume. */
  managedBy: 'app.kubernetes.io/managed-by',
} as const;

/** Why a device cannot hold a Volume. */
export type DeniedCode =
  | 'unsupported-type'
  | 'read-only'
  | 'removable'
  | 'mounted'
  | 'swap'
  | 'holders'
  | 'partitioned'
  | 'filesystem'
  | 'partition-table'
  | 'volume-device'
  | 'too-small'
  | 'smart-failed'
  | 'not-probed';

/** One reason a device is refused. */
export interface DeniedReason {
  readonly code: DeniedCode;
  readonly message: string;
}

/** Something worth knowing about a device that does not refuse it. */
export interface DeviceWarning {
  readonly code: 'smart-worn' | 'smart-sectors' | 'no-stable-path' | 'block-path-shape';
  readonly message: string;
}

/** One block device of a node, with the verdict on it. */
export interface BlockDevice {
  /** Kernel name, e.g. `sdb`. */
  readonly name: string;
  /** `/dev/<name>`. */
  readonly path: string;
  /**
   * The path the planner writes into a Volume: a `/dev/disk/by-id/…` link when one exists
   * (kernel names move after a reboot, platform-reference §A.7), else {@link path}.
   */
  readonly stablePath: string;
  /** Every `/dev/disk/by-*` link to it. */
  readonly links: readonly string[];
  readonly size: number;
  /** `disk`, `part`, `lvm`, `loop`, `rom`… */
  readonly type: string;
  /** `undefined` when the kernel does not say. */
  readonly rotational: boolean | undefined;
  readonly model: string | undefined;
  readonly serial: string | undefined;
  readonly wwn: string | undefined;
  /** Parent kernel name (for partitions). */
  readonly parent: string | undefined;
  /** Partition table type (`gpt`, `dos`), when there is one. */
  readonly partitionTable: string | undefined;
  /** Filesystem or other signature type (`ext4`, `xfs`, `LVM2_member`, `swap`…). */
  readonly filesystem: string | undefined;
  /** Every signature found (`blkid -p`: `TYPE`, `PTTYPE`). */
  readonly signatures: readonly string[];
  readonly mountpoints: readonly string[];
  /** Partitions of a disk. */
  readonly partitions: readonly string[];
  /** Devices built on it (LVM LVs, dm, md): kernel names. */
  readonly holders: readonly string[];
  readonly swap: boolean;
  readonly readOnly: boolean;
  readonly removable: boolean;
  /** SMART health, when smartctl ran. */
  readonly health?: DeviceHealth | undefined;
  /** Name of the Volume whose device this is, when one is. */
  readonly volume?: string | undefined;
  /** True when nothing refuses it (warnings allowed). */
  readonly eligible: boolean;
  readonly deniedReasons: readonly DeniedReason[];
  readonly warnings: readonly DeviceWarning[];
}

/** SMART health of a device. */
export interface DeviceHealth {
  readonly passed: boolean | undefined;
  readonly reallocatedSectors?: number | undefined;
  readonly pendingSectors?: number | undefined;
  readonly percentageUsed?: number | undefined;
}

/** An LVM volume group of a node. */
export interface VolumeGroup {
  readonly name: string;
  readonly size: number;
  readonly free: number;
  /** LVM allocates in extents of this size. */
  readonly extentSize: number;
  /** Its physical volumes (`/dev/…`). */
  readonly physicalVolumes: readonly string[];
  /** True when every PV is rotational, false when none is, undefined when unknown or mixed. */
  readonly rotational: boolean | undefined;
}

/** What one node has. */
export interface NodeInventory {
  readonly name: string;
  /** MetalK8s roles (`node-role.kubernetes.io/<role>` labels). */
  readonly roles: readonly string[];
  /** The `metalk8s.scality.com/version` label; storage-operator ignores Volumes of a node without it. */
  readonly metalk8sVersion: string | undefined;
  readonly devices: readonly BlockDevice[];
  readonly volumeGroups: readonly VolumeGroup[];
  /** Why the node's disks could not be read, when they could not. */
  readonly probeError?: string | undefined;
}

/** What the cluster has. */
export interface Inventory {
  readonly nodes: readonly NodeInventory[];
}

/** The source of a Volume, exactly one (platform-reference §0.1 item 2). */
export type VolumeSource =
  | { readonly rawBlockDevice: { readonly devicePath: string } }
  | { readonly lvmLogicalVolume: { readonly vgName: string; readonly size: string } }
  | { readonly sparseLoopDevice: { readonly size: string } };

/** Kind of source, as the planner names it. */
export type VolumeSourceKind = 'rawBlockDevice' | 'lvmLogicalVolume' | 'sparseLoopDevice';

/** A MetalK8s `Volume` object as the SDK writes it. */
export interface VolumeManifest {
  readonly apiVersion: typeof VOLUME_API_VERSION;
  readonly kind: 'Volume';
  readonly metadata: {
    readonly name: string;
    readonly labels: Readonly<Record<string, string>>;
    readonly annotations?: Readonly<Record<string, string>> | undefined;
  };
  readonly spec: {
    readonly nodeName: string;
    readonly storageClassName: string;
    readonly mode: 'Filesystem' | 'Block';
    readonly template: {
      readonly metadata: { readonly labels: Readonly<Record<string, string>> };
      readonly spec?: { readonly claimRef: { readonly namespace: string; readonly name: string } } | undefined;
    };
  } & VolumeSource;
}

/** A Volume's Ready condition. */
export interface VolumeCondition {
  readonly type: string;
  readonly status: 'True' | 'False' | 'Unknown' | string;
  readonly reason?: string | undefined;
  readonly message?: string | undefined;
  readonly lastTransitionTime?: string | undefined;
}

/** The phase MetalK8s computes (`ComputePhase`), never stored: `''` when there is no condition. */
export type VolumePhase = 'Available' | 'Failed' | 'Pending' | 'Terminating' | '';

/**
 * The phase of a Volume from its conditions, exactly as storage-operator's `ComputePhase`
 * (platform-reference §A.2).
 *
 * @example
 * ```ts
 * volumePhase([{ type: 'Ready', status: 'Unknown', reason: 'Pending' }]); // 'Pending'
 * ```
 */
export function volumePhase(conditions: readonly VolumeCondition[] | undefined): VolumePhase {
  const ready = conditions?.find((c) => c.type === 'Ready');
  if (!ready) return '';
  if (ready.status === 'True') return 'Available';
  if (ready.status === 'False') return 'Failed';
  return ready.reason === 'Pending' ? 'Pending' : 'Terminating';
}

/**
 * Whether the controller gave up on a Volume for good (`IsInUnrecoverableFailedState`): Failed
 * for any reason but `UnavailableError`. Only delete and recreate gets out of it.
 */
export function isUnrecoverable(conditions: readonly VolumeCondition[] | undefined): boolean {
  const ready = conditions?.find((c) => c.type === 'Ready');
  return ready?.status === 'False' && ready.reason !== 'UnavailableError';
}

/** The source kind of a Volume spec (the first of rawBlockDevice, sparseLoopDevice, lvmLogicalVolume, as Salt reads it). */
export function sourceKind(spec: Readonly<Record<string, unknown>>): VolumeSourceKind | undefined {
  if (spec.rawBlockDevice) return 'rawBlockDevice';
  if (spec.sparseLoopDevice) return 'sparseLoopDevice';
  if (spec.lvmLogicalVolume) return 'lvmLogicalVolume';
  return undefined;
}
