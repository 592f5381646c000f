/**
 * `inventory()`: every block device of every node, read through the SaltAPI as a node-admin
 * (`cmd.run_all` of `lsblk`, `blkid -p`, `find /dev/disk`, `vgs`, `pvs`, `smartctl`, as
 * platform-reference §A.8 lists), joined with the Volumes of the Kubernetes API (what is taken),
 * each device eligible or with its reasons (eligibility.ts).
 *
 * @module
 */
import type { Cluster } from '../cluster/connect.js';
import { kubeGet } from '../_kube.js';
import { ClusterError, throwIfAborted } from '../errors.js';
import { checkDescribeDevicesOptions, describeDevices, type DescribeDevicesOptions } from './eligibility.js';
import type { Inventory, NodeInventory, VolumeGroup } from './model.js';
import { parseBlkidExport, parseDiskLinks, parseLsblk, parsePvs, parseSmartctl, parseVgs, type SmartHealth } from './probe-output.js';

/** Progress of {@link inventory}. */
export type InventoryProgressEvent = { readonly type: 'node-probed'; readonly node: string; readonly devices: number; readonly error?: string | undefined };

/** Options of {@link inventory}. */
export interface InventoryOptions extends DescribeDevicesOptions {
  /** Only these nodes. @default every node */
  readonly nodes?: readonly string[] | undefined;
  /**
   * Read SMART health with smartctl where the node has it.
   * @default true
   */
  readonly smart?: boolean | undefined;
  readonly signal?: AbortSignal | undefined;
  readonly onProgress?: ((event: InventoryProgressEvent) => void) | undefined;
}

/** What `cmd.run_all` returns for one command on a node. */
export interface CmdReturn {
  retcode: number;
  stdout: string;
  stderr: string;
}

interface NodeObject {
  metadata: { name: string; labels?: Record<string, string> };
}

interface VolumeObject {
  metadata: { name: string };
  spec: { nodeName: string; rawBlockDevice?: { devicePath: string } };
  status?: { deviceName?: string };
}

const ROLE = 'node-role.kubernetes.io/';
/** Commands the inventory runs on each node (read-only). */
export const INVENTORY_COMMANDS = {
  lsblk: 'lsblk --json --bytes --output-all',
  blkid: 'blkid -p -o export',
  links: "find /dev/disk -mindepth 2 -maxdepth 2 -type l -printf '%h/%f %l\\n'",
  vgs: 'vgs --reportformat json --units b -o vg_name,vg_size,vg_free,vg_uuid,vg_extent_size',
  pvs: 'pvs --reportformat json --units b -o pv_name,vg_name,pv_size,pv_free',
  smartctl: 'smartctl --json -H -A',
} as const;

/** Options of {@link runOnNode}. */
export interface RunOnNodeOptions {
  /** Cancels the SaltAPI call. */
  readonly signal?: AbortSignal | undefined;
}

/** Runs one command on one node with `cmd.run_all`; a node-admin right is needed. */
export async function runOnNode(cluster: Pick<Cluster, 'salt'>, node: string, command: string, options: RunOnNodeOptions = {}): Promise<CmdReturn | undefined> {
  const { signal } = options;
  let ret: Record<string, unknown>;
  try {
    ret = await cluster.salt.local({ tgt: node, fun: 'cmd.run_all', arg: [command] }, { signal });
  } catch (err) {
    if (err instanceof ClusterError && (err.status === 401 || err.status === 403)) {
      throw new ClusterError('STORAGE_NOT_NODE_ADMIN', `the SaltAPI refused cmd.run_all on ${node}: reading disks needs a node-admin identity`, {
        hint: 'Use a SaltAPI user allowed `*` on `nodes` in Kubernetes RBAC (MetalK8s puts it in node-admins); storage-operator\'s account cannot read disks.',
        status: err.status,
        cause: err,
      });
    }
    throw err;
  }
  const r = ret[node];
  if (typeof r === 'object' && r !== null && 'retcode' in r) return r as CmdReturn;
  return undefined;
}

/**
 * Reads the disks and LVM groups of the cluster's nodes.
 *
 * @throws `ClusterError` `STORAGE_NOT_NODE_ADMIN` when the SaltAPI user may not run commands on nodes.
 * @example
 * ```ts
 * import { connect } from 'metalk8s-solution-sdk/cluster';
 * import { inventory } from 'metalk8s-solution-sdk/storage';
 *
 * const inv = await inventory(await connect({}), { nodes: ['node-1'] });
 * for (const d of inv.nodes[0].devices) console.log(d.path, d.eligible, d.deniedReasons);
 * ```
 */
export async function inventory(cluster: Pick<Cluster, 'kubeConfig' | 'salt'>, options: InventoryOptions = {}): Promise<Inventory> {
  // Before the nodes are probed, rather than once per node inside the probe.
  checkDescribeDevicesOptions(options);
  const kc = cluster.kubeConfig;
  const nodeList = (await kubeGet<{ items: NodeObject[] }>(kc, '/api/v1/nodes', options.signal))?.items ?? [];
  const wanted = options.nodes;
  if (wanted) {
    const missing = wanted.filter((n) => !nodeList.some((o) => o.metadata.name === n));
    if (missing.length > 0) throw new ClusterError('NODE_NOT_FOUND', `no Node named ${missing.join(', ')}`, { hint: 'List the nodes with `kubectl get nodes`.' });
  }
  const volumes = (await kubeGet<{ items: VolumeObject[] }>(kc, '/apis/storage.metalk8s.scality.com/v1alpha1/volumes', options.signal).catch(() => undefined))?.items ?? [];
  const selected = nodeList.filter((n) => !wanted || wanted.includes(n.metadata.name)).sort((a, b) => a.metadata.name.localeCompare(b.metadata.name));
  const nodes: NodeInventory[] = [];
  // A few nodes at a time: each probe is several SaltAPI calls.
  const queue = [...selected];
  const results = new Map<string, NodeInventory>();
  const worker = async (): Promise<void> => {
    for (let n = queue.shift(); n; n = queue.shift()) {
      throwIfAborted(options.signal, 'inventory');
      const inv = await probeNode(cluster, n, volumes, options);
      results.set(n.metadata.name, inv);
      options.onProgress?.({ type: 'node-probed', node: inv.name, devices: inv.devices.length, ...(inv.probeError ? { error: inv.probeError } : {}) });
    }
  };
  await Promise.all([worker(), worker(), worker(), worker()]);
  for (const n of selected) {
    const inv = results.get(n.metadata.name);
    if (inv) nodes.push(inv);
  }
  return { nodes };
}

async function probeNode(cluster: Pick<Cluster, 'salt'>, node: NodeObject, volumes: readonly VolumeObject[], options: InventoryOptions): Promise<NodeInventory> {
  const name = node.metadata.name;
  const labels = node.metadata.labels ?? {};
  const roles = Object.keys(labels)
    .filter((l) => l.startsWith(ROLE))
    .map((l) => l.slice(ROLE.length))
    .sort();
  const base = { name, roles, metalk8sVersion: labels['metalk8s.scality.com/version'] };
  const run = (cmd: string) => runOnNode(cluster, name, cmd, { signal: options.signal });
  const lsblkOut = await run(INVENTORY_COMMANDS.lsblk);
  if (!lsblkOut) return { ...base, devices: [], volumeGroups: [], probeError: `the salt-minion of ${name} did not answer` };
  if (lsblkOut.retcode !== 0) return { ...base, devices: [], volumeGroups: [], probeError: `lsblk failed (exit ${lsblkOut.retcode}): ${lsblkOut.stderr.trim()}` };
  let lsblk: ReturnType<typeof parseLsblk>;
  try {
    lsblk = parseLsblk(lsblkOut.stdout);
  } catch (err) {
    return { ...base, devices: [], volumeGroups: [], probeError: (err as Error).message };
  }
  const paths = lsblk.map((d) => d.path);
  const [blkidOut, linksOut, vgsOut, pvsOut] = await Promise.all([
    paths.length > 0 ? run(`${INVENTORY_COMMANDS.blkid} ${paths.join(' ')}`) : Promise.resolve(undefined),
    run(INVENTORY_COMMANDS.links),
    run(INVENTORY_COMMANDS.vgs),
    run(INVENTORY_COMMANDS.pvs),
  ]);
  const smart = new Map<string, SmartHealth>();
  if (options.smart !== false) {
    for (const d of lsblk.filter((x) => x.type === 'disk')) {
      const out = await run(`${INVENTORY_COMMANDS.smartctl} ${d.path}`);
      if (!out || out.retcode === 127 || out.stdout.trim() === '') continue;
      try {
        const h = parseSmartctl(out.stdout);
        if (h.passed !== undefined || h.percentageUsed !== undefined || h.reallocatedSectors !== undefined) smart.set(d.name, h);
      } catch {
        // No JSON: smartctl too old, or not a disk it knows.
      }
    }
  }
  const volumeDevices = new Map<string, string>();
  for (const v of volumes) {
    if (v.spec.nodeName !== name) continue;
    if (v.spec.rawBlockDevice) volumeDevices.set(v.spec.rawBlockDevice.devicePath, v.metadata.name);
    if (v.status?.deviceName) volumeDevices.set(v.status.deviceName, v.metadata.name);
  }
  const devices = describeDevices(
    {
      lsblk,
      blkid: blkidOut ? parseBlkidExport(blkidOut.stdout) : new Map(),
      links: linksOut?.retcode === 0 ? parseDiskLinks(linksOut.stdout) : new Map(),
      smart,
      volumeDevices,
    },
    options,
  );
  let volumeGroups: VolumeGroup[] = [];
  if (vgsOut?.retcode === 0 && pvsOut?.retcode === 0) {
    const pvs = parsePvs(pvsOut.stdout);
    volumeGroups = parseVgs(vgsOut.stdout).map((vg) => {
      const members = pvs.filter((p) => p.vgName === vg.name).map((p) => p.path);
      const rota = members.map((p) => lsblk.find((d) => d.path === p)?.rotational);
      return {
        name: vg.name,
        size: vg.size,
        free: vg.free,
        extentSize: vg.extentSize ?? 4 * 2 ** 20,
        physicalVolumes: members,
        rotational: rota.length > 0 && rota.every((r) => r === true) ? true : rota.length > 0 && rota.every((r) => r === false) ? false : undefined,
      };
    });
  }
  return { ...base, devices, volumeGroups };
}
