/**
 * A read-only inventory from Prometheus, for callers without a node-admin SaltAPI identity:
 * node-exporter's `node_disk_info` (names, models, serials, WWNs), `node_disk_filesystem_info`
 * (signatures) and `node_uname_info` (instance → node name), as MetalK8s' UI maps them
 * (platform-reference §A.8). node-exporter has no size metric, so every device is marked
 * `not-probed`: good for a fleet view, not for planning.
 *
 * @module
 */
import { prometheusData } from '../cluster/_prometheus-answer.js';
import { ClusterError } from '../errors.js';
import type { BlockDevice, DeniedReason, Inventory, NodeInventory } from './model.js';

/** Options of {@link inventoryFromPrometheus}. */
export interface PrometheusInventoryOptions {
  /**
   * Prometheus base URL, e.g. `https://<control-plane-ingress>:8443/api/prometheus` (no
   * authentication there in MetalK8s, §0.1 item 9).
   */
  readonly url: string;
  /** A `fetch` to use instead of the global one. */
  readonly fetch?: typeof fetch | undefined;
  readonly signal?: AbortSignal | undefined;
}

type Sample = { metric: Record<string, string> };

async function query(o: PrometheusInventoryOptions, promql: string): Promise<Sample[]> {
  const f = o.fetch ?? fetch;
  const url = `${o.url.replace(/\/+$/, '')}/api/v1/query?query=${encodeURIComponent(promql)}`;
  let status: number;
  let text: string;
  try {
    const res = await f(url, { headers: { accept: 'application/json' }, ...(o.signal ? { signal: o.signal } : {}) });
    status = res.status;
    text = await res.text();
  } catch (err) {
    throw new ClusterError('PROMETHEUS_UNREACHABLE', `cannot reach Prometheus at ${o.url}: ${(err as Error).message}`, { hint: 'Check the URL (MetalK8s serves it at /api/prometheus on the control-plane ingress).', retryable: true, cause: err });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  // The answer read as `cluster.metrics` reads it: its data, or PROMQL_REJECTED / PROMETHEUS_REQUEST_FAILED.
  const { data } = prometheusData({ status, text, json }, '/api/v1/query', promql);
  return (data as { result?: Sample[] } | undefined)?.result ?? [];
}

/**
 * Lists the nodes' disks from node-exporter metrics: names, models, serials, WWNs and filesystem
 * signatures, with no sizes (every device is `not-probed`).
 *
 * @example
 * ```ts
 * const inv = await inventoryFromPrometheus({ url: 'https://10.0.0.1:8443/api/prometheus' });
 * ```
 */
export async function inventoryFromPrometheus(options: PrometheusInventoryOptions): Promise<Inventory> {
  const [disks, filesystems, unames] = await Promise.all([
    query(options, 'node_disk_info'),
    query(options, 'node_disk_filesystem_info'),
    query(options, 'node_uname_info'),
  ]);
  const nodeOf = new Map(unames.map((u) => [u.metric.instance ?? '', u.metric.nodename ?? '']));
  const byNode = new Map<string, BlockDevice[]>();
  for (const d of disks) {
    const instance = d.metric.instance ?? '';
    const node = nodeOf.get(instance) || instance;
    const name = d.metric.device ?? '';
    const fs = filesystems.find((f) => f.metric.instance === instance && f.metric.device === name)?.metric;
    const links = [
      ...(d.metric.path ? [`/dev/disk/by-path/${d.metric.path}`] : []),
      ...(d.metric.wwn ? [`/dev/disk/by-id/wwn-${d.metric.wwn}`] : []),
    ];
    const byId = links.find((l) => l.includes('/by-id/'));
    const denied: DeniedReason[] = [{ code: 'not-probed', message: 'read from Prometheus only: no size, mounts or holders (node-exporter has no such metric); a node-admin SaltAPI identity reads them' }];
    if (fs?.type) denied.push({ code: 'filesystem', message: `holds a filesystem (${fs.type}${fs.uuid ? `, UUID ${fs.uuid}` : ''})` });
    const device: BlockDevice = {
      name,
      path: `/dev/${name}`,
      stablePath: byId ?? `/dev/${name}`,
      links,
      size: 0,
      type: /^(dm-|md|loop|sr)/.test(name) ? 'unknown' : 'disk',
      rotational: undefined,
      model: d.metric.model || undefined,
      serial: d.metric.serial || undefined,
      wwn: d.metric.wwn || undefined,
      parent: undefined,
      partitionTable: undefined,
      filesystem: fs?.type || undefined,
      signatures: fs?.type ? [fs.type] : [],
      mountpoints: [],
      partitions: [],
      holders: [],
      swap: false,
      readOnly: false,
      removable: false,
      eligible: false,
      deniedReasons: denied,
      warnings: [],
    };
    byNode.set(node, [...(byNode.get(node) ?? []), device]);
  }
  const nodes: NodeInventory[] = [...byNode.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, devices]) => ({ name, roles: [], metalk8sVersion: undefined, devices: devices.sort((a, b) => a.name.localeCompare(b.name)), volumeGroups: [] }));
  return { nodes };
}
