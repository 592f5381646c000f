/**
 * Which devices of a node may hold a Volume, and why the others may not (platform-reference
 * §A.7–§A.8, with directpv's and rook's rules from §D.1): every refusal is a
 * {@link DeniedReason} with a stable code, shown by default. Pure: it reads what the probes
 * printed (see probe-output.ts).
 *
 * @module
 */
import type { BlockDevice, DeniedReason, DeviceHealth, DeviceWarning } from './model.js';
import type { LsblkDevice, SmartHealth } from './probe-output.js';
import { BYTES, numberOption } from '../_number-option.js';
import { humanBytes } from './quantity.js';

/** Options of {@link describeDevices}. */
export interface DescribeDevicesOptions {
  /**
   * Device types that may hold a Volume. MetalK8s takes whole disks, partitions and LVM LVs.
   * @default ['disk', 'part', 'lvm']
   */
  readonly types?: readonly string[] | undefined;
  /**
   * Devices smaller than this are refused outright (directpv refuses below 512 MiB); 0 or more.
   * @default 536870912 (512 MiB)
   */
  readonly minSizeBytes?: number | undefined;
  /**
   * NVMe wear (percentage used, which NVMe reports up to 255) from which a device is warned
   * about; 0 or more.
   * @default 80
   */
  readonly wornPercent?: number | undefined;
}

/**
 * Checks the numbers of {@link DescribeDevicesOptions} (`OPTION_INVALID` naming the option): a
 * NaN `minSizeBytes` or `wornPercent` compared false with every size and wear, so it turned the
 * check off instead of setting it.
 */
export function checkDescribeDevicesOptions(options: DescribeDevicesOptions): void {
  numberOption('minSizeBytes', options.minSizeBytes, BYTES);
  numberOption('wornPercent', options.wornPercent, { min: 0, unit: 'percent of rated life' });
}

/** What the probes of one node printed, parsed. */
export interface ProbedNode {
  readonly lsblk: readonly LsblkDevice[];
  /** `blkid -p -o export`, by device path. */
  readonly blkid?: ReadonlyMap<string, Readonly<Record<string, string>>> | undefined;
  /** `/dev/disk/by-*` links, by kernel name. */
  readonly links?: ReadonlyMap<string, readonly string[]> | undefined;
  /** smartctl results, by kernel name. */
  readonly smart?: ReadonlyMap<string, SmartHealth> | undefined;
  /** Volumes whose device is known: device path (any of its links), or kernel name → Volume name. */
  readonly volumeDevices?: ReadonlyMap<string, string> | undefined;
}

const ID_PREFERENCE = ['wwn-', 'nvme-eui.', 'nvme-', 'scsi-', 'ata-', 'virtio-', 'usb-'];

/** The `/dev/disk/by-id/…` link to write into a Volume: the most stable one (WWN first). */
export function stableLink(links: readonly string[]): string | undefined {
  const byId = links.filter((l) => l.startsWith('/dev/disk/by-id/') && !l.includes('/by-id/dm-name-') && !l.includes('/by-id/lvm-pv-uuid-'));
  const rank = (l: string): number => {
    const base = l.slice('/dev/disk/by-id/'.length);
    const i = ID_PREFERENCE.findIndex((p) => base.startsWith(p));
    return i < 0 ? ID_PREFERENCE.length : i;
  };
  return [...byId].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b))[0];
}

function health(smart: SmartHealth | undefined): DeviceHealth | undefined {
  if (!smart) return undefined;
  return {
    passed: smart.passed,
    ...(smart.reallocatedSectors === undefined ? {} : { reallocatedSectors: smart.reallocatedSectors }),
    ...(smart.pendingSectors === undefined ? {} : { pendingSectors: smart.pendingSectors }),
    ...(smart.percentageUsed === undefined ? {} : { percentageUsed: smart.percentageUsed }),
  };
}

/**
 * Turns a node's probe outputs into its devices, each eligible or with its reasons.
 *
 * @example
 * ```ts
 * const devices = describeDevices({ lsblk: parseLsblk(out), blkid: parseBlkidExport(ids) });
 * for (const d of devices) console.log(d.path, d.eligible ? 'free' : d.deniedReasons.map((r) => r.message));
 * ```
 */
export function describeDevices(probed: ProbedNode, options: DescribeDevicesOptions = {}): BlockDevice[] {
  checkDescribeDevicesOptions(options);
  const types = options.types ?? ['disk', 'part', 'lvm'];
  const minSize = options.minSizeBytes ?? 512 * 2 ** 20;
  const worn = options.wornPercent ?? 80;
  const byName = new Map(probed.lsblk.map((d) => [d.name, d]));
  return probed.lsblk.map((d) => {
    const ids = probed.blkid?.get(d.path) ?? {};
    const links = [...(probed.links?.get(d.name) ?? [])].sort();
    const stable = stableLink(links);
    const kids = d.children.map((c) => byName.get(c)).filter((c): c is LsblkDevice => c !== undefined);
    const partitions = kids.filter((c) => c.type === 'part').map((c) => c.name);
    const holders = kids.filter((c) => c.type !== 'part').map((c) => c.name);
    // lsblk repeats the parent's table type on partitions: only the device's own blkid counts there.
    const ownTable = d.type === 'part' ? ids.PTTYPE : (ids.PTTYPE ?? d.partitionTable);
    const filesystem = ids.TYPE ?? d.fsType;
    const signatures = [...new Set([filesystem, ownTable].filter((s): s is string => s !== undefined))];
    const swap = filesystem === 'swap' || d.mountpoints.includes('[SWAP]');
    const mounts = d.mountpoints.filter((m) => m !== '[SWAP]');
    const smart = probed.smart?.get(d.name);
    const volume = [d.path, d.name, ...links].map((k) => probed.volumeDevices?.get(k)).find((v) => v !== undefined);

    const denied: DeniedReason[] = [];
    const deny = (code: DeniedReason['code'], message: string): void => {
      denied.push({ code, message });
    };
    if (!types.includes(d.type)) deny('unsupported-type', `a ${d.type} device, not a disk, partition or LVM volume`);
    if (d.readOnly) deny('read-only', 'read-only');
    if (d.removable) deny('removable', 'removable media');
    if (mounts.length > 0) deny('mounted', `mounted on ${mounts.join(', ')}`);
    if (swap) deny('swap', 'used as swap');
    if (holders.length > 0) deny('holders', `held by ${holders.join(', ')}`);
    if (partitions.length > 0) deny('partitioned', `has partitions ${partitions.join(', ')}`);
    else if (ownTable) deny('partition-table', `has a ${ownTable} partition table`);
    if (filesystem && !swap) {
      const uuid = ids.UUID ?? d.uuid;
      deny('filesystem', filesystem === 'LVM2_member' ? `holds an LVM physical volume${uuid ? ` (${uuid})` : ''}` : `holds a filesystem (${filesystem}${uuid ? `, UUID ${uuid}` : ''})`);
    }
    if (volume) deny('volume-device', `already the device of Volume ${volume}`);
    if (d.size < minSize) deny('too-small', `${humanBytes(d.size)}, smaller than ${humanBytes(minSize)}`);
    if (smart?.passed === false) deny('smart-failed', 'SMART overall health self-assessment FAILED');

    const warnings: DeviceWarning[] = [];
    if (smart?.percentageUsed !== undefined && smart.percentageUsed >= worn) {
      warnings.push({ code: 'smart-worn', message: `NVMe wear at ${smart.percentageUsed}% of its rated life` });
    }
    const bad = (smart?.reallocatedSectors ?? 0) + (smart?.pendingSectors ?? 0);
    if (bad > 0) warnings.push({ code: 'smart-sectors', message: `${smart?.reallocatedSectors ?? 0} reallocated and ${smart?.pendingSectors ?? 0} pending sectors` });
    if (!stable && d.type === 'disk') warnings.push({ code: 'no-stable-path', message: `no /dev/disk/by-id link: the Volume will name ${d.path}, which may change after a reboot` });

    return {
      name: d.name,
      path: d.path,
      stablePath: stable ?? d.path,
      links,
      size: d.size,
      type: d.type,
      rotational: d.rotational,
      model: d.model,
      serial: d.serial,
      wwn: d.wwn,
      parent: d.parent,
      partitionTable: ownTable,
      filesystem,
      signatures,
      mountpoints: d.mountpoints,
      partitions,
      holders,
      swap,
      readOnly: d.readOnly,
      removable: d.removable,
      ...(smart ? { health: health(smart) } : {}),
      ...(volume ? { volume } : {}),
      eligible: denied.length === 0,
      deniedReasons: denied,
      warnings,
    };
  });
}

/**
 * Why MetalK8s' Salt would mishandle a Block-mode Volume on this device (platform-reference
 * §A.7): it appends `1` to a disk's name to find its partition (wrong for `nvme0n1`, `loop0`,
 * `mmcblk0`), and strips the partition number's *characters* from a partition's path.
 */
export function blockModePathProblem(device: Pick<BlockDevice, 'name' | 'type' | 'stablePath'>): string | undefined {
  if (device.type === 'lvm') return undefined;
  if (device.type === 'part') {
    if (!/^(?:h|s|v|xv)d[a-z]\d+$/.test(device.name)) return `MetalK8s cannot name the partition ${device.name} in Block mode (only sdXN, vdXN, hdXN, xvdXN)`;
    return undefined;
  }
  if (/\d$/.test(device.name)) return `MetalK8s looks for partition ${device.name}1 in Block mode, but the kernel names it ${device.name}p1`;
  return undefined;
}
