/**
 * Parsers of what the node's tools print: `lsblk --json --bytes --output-all`, `blkid -p -o
 * export`, `vgs`/`pvs --reportformat json --units b`, `find /dev/disk … -printf '%h/%f %l\n'`
 * and `smartctl --json -H -A`. Pure functions of the text, tested on outputs captured on real
 * loop devices (test/fixtures/storage/, made by scripts/capture-storage-fixtures.sh).
 *
 * `lsblk` prints typed JSON (numbers, booleans) since util-linux 2.33; EL8's 2.32 prints every
 * value as a string (`"rm":"0"`, `"size":"1000"`) and has `mountpoint` instead of
 * `mountpoints`. Both are read the same way.
 *
 * Written by hand: no maintained npm package reads these formats.
 *
 * @module
 */

/** One block device as `lsblk` describes it, flattened (children point to their parent). */
export interface LsblkDevice {
  /** Kernel name, e.g. `sdb`, `nvme0n1p1`, `loop3`. */
  readonly name: string;
  /** `/dev/…` path. */
  readonly path: string;
  /** Parent's kernel name, for partitions and holders. */
  readonly parent: string | undefined;
  readonly size: number;
  /** `disk`, `part`, `lvm`, `loop`, `rom`, `crypt`, `raid1`… */
  readonly type: string;
  readonly rotational: boolean | undefined;
  readonly readOnly: boolean;
  readonly removable: boolean;
  readonly hotplug: boolean;
  readonly model: string | undefined;
  readonly serial: string | undefined;
  readonly wwn: string | undefined;
  readonly transport: string | undefined;
  readonly fsType: string | undefined;
  readonly uuid: string | undefined;
  readonly label: string | undefined;
  readonly partitionTable: string | undefined;
  readonly partUuid: string | undefined;
  readonly partLabel: string | undefined;
  readonly mountpoints: readonly string[];
  /** Kernel names of the direct children (partitions, LVs, dm or md devices on top). */
  readonly children: readonly string[];
}

type Raw = Record<string, unknown>;

function isRecord(v: unknown): v is Raw {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function str(v: unknown): string | undefined {
  if (v === null || v === undefined) return undefined;
  const s = String(v).trim();
  return s === '' ? undefined : s;
}

function bool(v: unknown): boolean | undefined {
  if (typeof v === 'boolean') return v;
  if (v === '1' || v === 1) return true;
  if (v === '0' || v === 0) return false;
  return undefined;
}

function num(v: unknown): number {
  const n = typeof v === 'number' ? v : Number(String(v ?? '').replace(/B$/, ''));
  return Number.isFinite(n) ? n : 0;
}

/** Thrown when a tool's output cannot be read. */
export class ProbeOutputError extends Error {}

/**
 * Reads `lsblk --json --bytes --output-all`, typed or all-strings; every device, children
 * after their parent. A device shown twice (a PV under two parents) is kept once.
 */
export function parseLsblk(output: string | unknown): LsblkDevice[] {
  let data: unknown = output;
  if (typeof output === 'string') {
    try {
      data = JSON.parse(output);
    } catch (err) {
      throw new ProbeOutputError(`lsblk output is not JSON: ${(err as Error).message}`);
    }
  }
  if (!isRecord(data) || !Array.isArray(data.blockdevices)) throw new ProbeOutputError('lsblk output has no "blockdevices" list');
  const out: LsblkDevice[] = [];
  const seen = new Set<string>();
  const walk = (raw: unknown, parent: string | undefined): void => {
    if (!isRecord(raw)) return;
    const name = str(raw.kname) ?? str(raw.name);
    if (name === undefined) return;
    const kids = Array.isArray(raw.children) ? raw.children : [];
    if (!seen.has(name)) {
      seen.add(name);
      const mounts = Array.isArray(raw.mountpoints) ? raw.mountpoints : [raw.mountpoint];
      out.push({
        name,
        path: str(raw.path) ?? `/dev/${name}`,
        parent: str(raw.pkname) ?? parent,
        size: num(raw.size),
        type: str(raw.type) ?? 'unknown',
        rotational: bool(raw.rota),
        readOnly: bool(raw.ro) ?? false,
        removable: bool(raw.rm) ?? false,
        hotplug: bool(raw.hotplug) ?? false,
        model: str(raw.model),
        serial: str(raw.serial),
        wwn: str(raw.wwn),
        transport: str(raw.tran),
        fsType: str(raw.fstype),
        uuid: str(raw.uuid),
        label: str(raw.label),
        partitionTable: str(raw.pttype),
        partUuid: str(raw.partuuid),
        partLabel: str(raw.partlabel),
        mountpoints: mounts.map(str).filter((m): m is string => m !== undefined),
        children: kids.filter(isRecord).map((k) => str(k.kname) ?? str(k.name) ?? '').filter((k) => k !== ''),
      });
    }
    for (const k of kids) walk(k, name);
  };
  for (const d of data.blockdevices) walk(d, undefined);
  return out;
}

/**
 * Reads `blkid -p -o export <dev>…`: one `KEY=value` block per device, blocks separated by a
 * blank line, keyed by `DEVNAME`. Values are unescaped (`LVM2\ 001` → `LVM2 001`). A device with
 * no signature prints nothing (blkid exits 2) and is absent from the result.
 */
export function parseBlkidExport(output: string): Map<string, Readonly<Record<string, string>>> {
  const out = new Map<string, Record<string, string>>();
  let current: Record<string, string> = {};
  const flush = (): void => {
    if (current.DEVNAME) out.set(current.DEVNAME, current);
    current = {};
  };
  for (const line of output.split('\n')) {
    if (line.trim() === '' || line.startsWith('#')) {
      flush();
      continue;
    }
    const eq = line.indexOf('=');
    if (eq <= 0) continue;
    const key = line.slice(0, eq);
    if (key === 'DEVNAME' && current.DEVNAME) flush();
    current[key] = line.slice(eq + 1).replace(/\\(.)/g, '$1');
  }
  flush();
  return out;
}

/** An LVM volume group, from `vgs`. */
export interface VgReport {
  readonly name: string;
  readonly size: number;
  readonly free: number;
  readonly uuid: string | undefined;
  /** Extent size in bytes; LVM rounds every LV up to whole extents. */
  readonly extentSize: number | undefined;
}

/** An LVM physical volume, from `pvs`. */
export interface PvReport {
  readonly path: string;
  /** `undefined` for a PV in no group. */
  readonly vgName: string | undefined;
  readonly size: number;
  readonly free: number;
}

function lvmRows(output: string, key: 'vg' | 'pv'): Raw[] {
  let data: unknown;
  try {
    data = JSON.parse(output);
  } catch (err) {
    throw new ProbeOutputError(`${key}s output is not JSON: ${(err as Error).message}`);
  }
  const report = isRecord(data) && Array.isArray(data.report) ? data.report : undefined;
  if (!report) throw new ProbeOutputError(`${key}s output has no "report" list`);
  return report.flatMap((r) => (isRecord(r) && Array.isArray(r[key]) ? (r[key] as unknown[]).filter(isRecord) : []));
}

/** Reads `vgs --reportformat json --units b -o vg_name,vg_size,vg_free,vg_uuid,vg_extent_size`. */
export function parseVgs(output: string): VgReport[] {
  return lvmRows(output, 'vg').map((r) => ({
    name: str(r.vg_name) ?? '',
    size: num(r.vg_size),
    free: num(r.vg_free),
    uuid: str(r.vg_uuid),
    extentSize: r.vg_extent_size === undefined ? undefined : num(r.vg_extent_size),
  }));
}

/** Reads `pvs --reportformat json --units b -o pv_name,vg_name,pv_size,pv_free`. */
export function parsePvs(output: string): PvReport[] {
  return lvmRows(output, 'pv').map((r) => ({
    path: str(r.pv_name) ?? '',
    vgName: str(r.vg_name),
    size: num(r.pv_size),
    free: num(r.pv_free),
  }));
}

/**
 * Reads `find /dev/disk -mindepth 2 -maxdepth 2 -type l -printf '%h/%f %l\n'`: udev's links
 * (`/dev/disk/by-id/wwn-… ../../sdb`) as link path → kernel name.
 */
export function parseDiskLinks(output: string): Map<string, string[]> {
  const byDevice = new Map<string, string[]>();
  for (const line of output.split('\n')) {
    const [link, target] = line.trim().split(/\s+/);
    if (!link || !target) continue;
    const name = target.split('/').pop() ?? '';
    byDevice.set(name, [...(byDevice.get(name) ?? []), link].sort());
  }
  return byDevice;
}

/** Disk health from `smartctl --json -H -A`. */
export interface SmartHealth {
  /** `ATA`, `SCSI` or `NVMe`. */
  readonly protocol: string | undefined;
  /** SMART overall-health self-assessment; `undefined` when the device does not say. */
  readonly passed: boolean | undefined;
  /** ATA attribute 5 (raw), or SCSI grown defect list. */
  readonly reallocatedSectors: number | undefined;
  /** ATA attribute 197 (raw). */
  readonly pendingSectors: number | undefined;
  /** NVMe "percentage used" (wear), 0–255. */
  readonly percentageUsed: number | undefined;
  readonly model: string | undefined;
  readonly serial: string | undefined;
  /** smartctl's own messages (e.g. "Unable to detect device type"). */
  readonly messages: readonly string[];
}

/** Reads `smartctl --json -H -A <dev>` for SATA, SAS and NVMe devices. */
export function parseSmartctl(output: string): SmartHealth {
  let data: unknown;
  try {
    data = JSON.parse(output);
  } catch (err) {
    throw new ProbeOutputError(`smartctl output is not JSON: ${(err as Error).message}`);
  }
  if (!isRecord(data)) throw new ProbeOutputError('smartctl output is not a JSON object');
  const device = isRecord(data.device) ? data.device : {};
  const status = isRecord(data.smart_status) ? data.smart_status : {};
  const table = isRecord(data.ata_smart_attributes) && Array.isArray(data.ata_smart_attributes.table) ? data.ata_smart_attributes.table.filter(isRecord) : [];
  const attr = (id: number): number | undefined => {
    const row = table.find((r) => r.id === id);
    const raw = row && isRecord(row.raw) ? row.raw.value : undefined;
    return raw === undefined ? undefined : num(raw);
  };
  const nvme = isRecord(data.nvme_smart_health_information_log) ? data.nvme_smart_health_information_log : undefined;
  const grown = data.scsi_grown_defect_list;
  const smartctl = isRecord(data.smartctl) ? data.smartctl : {};
  const messages = Array.isArray(smartctl.messages) ? smartctl.messages.filter(isRecord).map((m) => String(m.string ?? '')) : [];
  return {
    protocol: str(device.protocol),
    passed: typeof status.passed === 'boolean' ? status.passed : undefined,
    reallocatedSectors: attr(5) ?? (grown === undefined ? undefined : num(grown)),
    pendingSectors: attr(197),
    percentageUsed: nvme?.percentage_used === undefined ? undefined : num(nvme.percentage_used),
    model: str(data.model_name) ?? str(data.scsi_model_name),
    serial: str(data.serial_number),
    messages,
  };
}
