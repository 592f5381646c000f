/**
 * Hardware-aware storage for MetalK8s Solutions: the disk inventory of each node (every device
 * eligible or with its reasons), a pure Volume planner from the solution's storage needs, and
 * the Volume verbs (apply a plan and watch it, list, delete, wipe).
 *
 * @module
 */
export {
  type BlockDevice,
  type DeniedCode,
  type DeniedReason,
  type DeviceHealth,
  type DeviceWarning,
  type Inventory,
  type NodeInventory,
  STORAGE_LABELS,
  type VolumeCondition,
  type VolumeGroup,
  type VolumeManifest,
  type VolumePhase,
  volumePhase,
  type VolumeSource,
  type VolumeSourceKind,
} from './model.js';
export { formatNodeQuantity, parseNodeQuantity } from './quantity.js';
export {
  type LsblkDevice,
  parseBlkidExport,
  parseLsblk,
  parsePvs,
  parseSmartctl,
  parseVgs,
  type PvReport,
  type SmartHealth,
  type VgReport,
} from './probe-output.js';
export { describeDevices, type DescribeDevicesOptions, type ProbedNode, stableLink } from './eligibility.js';
export {
  type ExistingVolume,
  type NodeConsidered,
  type PlannedSolution,
  type PlannedVolume,
  type PlanNote,
  planVolumes,
  type PlanVolumesInput,
  type PlanVolumesOptions,
  type Refusal,
  type RefusedDevice,
  type UnsatisfiedNeed,
  volumeName,
  type VolumePlan,
} from './planner.js';
export { inventory, type InventoryOptions, type InventoryProgressEvent } from './inventory.js';
export * from './volumes.js';
export * from './prometheus-inventory.js';
