import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { defineSolution, type SolutionInput } from '../../../src/index.js';
import {
  type BlockDevice,
  describeDevices,
  type ExistingVolume,
  formatNodeQuantity,
  type Inventory,
  type NodeInventory,
  parseBlkidExport,
  parseLsblk,
  parseNodeQuantity,
  parsePvs,
  parseVgs,
  planVolumes,
  STORAGE_LABELS,
  type VolumeGroup,
  volumeName,
  volumePhase,
} from '../../../src/storage/index.js';
import { baseSolution } from '../../fixtures/solution/base.js';

const GiB = 2 ** 30;

function disks(specs: readonly { name: string; gib: number; rota?: boolean; fs?: string }[]): BlockDevice[] {
  return describeDevices({
    lsblk: parseLsblk({ blockdevices: specs.map((s) => ({ name: s.name, type: 'disk', size: s.gib * GiB, rota: s.rota ?? true, fstype: s.fs ?? null })) }),
    links: new Map(specs.map((s) => [s.name, [`/dev/disk/by-id/wwn-${s.name}`]])),
  });
}

function node(name: string, devices: BlockDevice[], extra: Partial<NodeInventory> = {}): NodeInventory {
  return { name, roles: ['node'], metalk8sVersion: '129.0.0', devices, volumeGroups: [], ...extra };
}

function solution(components: SolutionInput['components'], storageClasses: SolutionInput['storageClasses'] = []) {
  return defineSolution({ ...(baseSolution() as SolutionInput), components, storageClasses });
}

const zenkoLike = () =>
  solution(
    [
      { name: 'mongodb', image: 'acme-store', volumes: [{ name: 'data', size: '100Gi', storageClass: 'fast', count: { total: 3 } }] },
      { name: 'kafka', image: 'acme-store', volumes: [{ name: 'logs', size: '200Gi', storageClass: 'logs', count: { perNode: 1, role: 'node' } }] },
    ],
    [
      { name: 'fast', fsType: 'xfs' },
      { name: 'logs', fsType: 'ext4' },
    ],
  );

const cluster = (): Inventory => ({
  nodes: [
    node('node-1', disks([{ name: 'sdb', gib: 120 }, { name: 'sdc', gib: 250 }, { name: 'sdd', gib: 500 }])),
    node('node-2', disks([{ name: 'sdb', gib: 300 }, { name: 'sdc', gib: 110 }, { name: 'sdd', gib: 50 }])),
    node('node-3', disks([{ name: 'sdb', gib: 220 }, { name: 'sdc', gib: 150 }, { name: 'sde', gib: 100, fs: 'ext4' }])),
    node('bootstrap', disks([{ name: 'sdb', gib: 1000 }]), { roles: ['bootstrap', 'master', 'etcd', 'infra'] }),
  ],
});

/** What a cluster's Volumes look like once the plan is applied. */
function applied(plan: ReturnType<typeof planVolumes>): ExistingVolume[] {
  return plan.volumes.map((v) => ({
    name: v.name,
    node: v.node,
    storageClass: v.storageClass,
    labels: v.manifest?.metadata.labels ?? {},
    devicePath: v.device?.path,
  }));
}

describe('planVolumes', () => {
  it('spreads replicas on distinct nodes, puts per-node Volumes on every node of the role, on the smallest fitting device', () => {
    const plan = planVolumes({ solution: zenkoLike(), inventory: cluster() });
    expect(plan.ok).toBe(true);
    const rows = plan.volumes.map((v) => `${v.name} ${v.node} ${v.device?.name} ${v.action}`);
    expect(rows).toEqual([
      'acme-mongodb-data-0 node-2 sdc create',
      'acme-mongodb-data-1 node-1 sdb create',
      'acme-mongodb-data-2 node-3 sdc create',
      'acme-kafka-logs-node-1-0 node-1 sdc create',
      'acme-kafka-logs-node-2-0 node-2 sdb create',
      'acme-kafka-logs-node-3-0 node-3 sdb create',
    ]);
    expect(new Set(plan.volumes.filter((v) => v.component === 'mongodb').map((v) => v.node)).size).toBe(3);
    expect(plan.volumes.every((v) => v.node !== 'bootstrap')).toBe(true);
    const m = plan.volumes[0]?.manifest;
    expect(m).toEqual({
      apiVersion: 'storage.metalk8s.scality.com/v1alpha1',
      kind: 'Volume',
      metadata: {
        name: 'acme-mongodb-data-0',
        labels: { [STORAGE_LABELS.solution]: 'acme', [STORAGE_LABELS.component]: 'mongodb', [STORAGE_LABELS.need]: 'data', [STORAGE_LABELS.managedBy]: 'metalk8s-solution-sdk' },
      },
      spec: {
        nodeName: 'node-2',
        storageClassName: 'fast',
        mode: 'Filesystem',
        template: { metadata: { labels: { [STORAGE_LABELS.solution]: 'acme', [STORAGE_LABELS.component]: 'mongodb', [STORAGE_LABELS.need]: 'data' } } },
        rawBlockDevice: { devicePath: '/dev/disk/by-id/wwn-sdc' },
      },
    });
    expect(plan.volumes[0]?.capacityBytes).toBe(110 * GiB);
    // Refused devices are listed with the plan, with their reasons.
    expect(plan.refusedDevices.map((d) => `${d.node} ${d.path} ${d.reasons.map((r) => r.code)}`)).toEqual(['node-3 /dev/sde filesystem']);
  });

  it('is deterministic and stable: the same plan twice, no change after apply, existing Volumes kept with more disks', () => {
    const first = planVolumes({ solution: zenkoLike(), inventory: cluster() });
    expect(planVolumes({ solution: zenkoLike(), inventory: cluster() })).toEqual(first);
    const existing = applied(first);
    const again = planVolumes({ solution: zenkoLike(), inventory: cluster(), existing });
    expect(again.ok).toBe(true);
    expect(again.volumes.filter((v) => v.action === 'create')).toEqual([]);
    expect(again.volumes.map((v) => v.name).sort()).toEqual(first.volumes.map((v) => v.name).sort());
    const more = cluster();
    const bigger: Inventory = { nodes: more.nodes.map((n) => (n.name === 'node-1' ? { ...n, devices: [...n.devices, ...disks([{ name: 'sdz', gib: 101 }])] } : n)) };
    const withMore = planVolumes({ solution: zenkoLike(), inventory: bigger, existing });
    expect(withMore.volumes.filter((v) => v.action === 'create')).toEqual([]);
  });

  it('says when replicas must share a node', () => {
    const inventory: Inventory = { nodes: [node('node-1', disks([{ name: 'sdb', gib: 200 }, { name: 'sdc', gib: 200 }])), node('node-2', disks([{ name: 'sdb', gib: 200 }]))] };
    const plan = planVolumes({ solution: solution([{ name: 'db', image: 'acme-store', volumes: [{ name: 'data', size: '100Gi', storageClass: 'metalk8s', count: { total: 3 } }] }]), inventory });
    expect(plan.ok).toBe(true);
    expect(plan.volumes.filter((v) => v.stacked).map((v) => v.node)).toEqual(['node-1']);
    expect(plan.notes.map((n) => n.code)).toEqual(['stacked']);
  });

  it('explains an unsatisfiable need per node and device, and never returns a silent partial plan', () => {
    const inventory: Inventory = {
      nodes: [
        node('node-1', disks([{ name: 'sdb', gib: 50 }, { name: 'sdc', gib: 500, fs: 'xfs' }])),
        node('node-2', [], { metalk8sVersion: undefined }),
      ],
    };
    const plan = planVolumes({ solution: zenkoLike(), inventory });
    expect(plan.ok).toBe(false);
    const mongo = plan.unsatisfied.find((u) => u.component === 'mongodb');
    expect(mongo).toMatchObject({ wanted: 3, placed: 0 });
    expect(mongo?.message).toContain('3 of 3 Volumes cannot be placed: no node with role node has a fitting device (sparse files not allowed)');
    const n1 = mongo?.nodes.find((n) => n.node === 'node-1');
    expect(n1?.devices.map((d) => `${d.path}: ${d.reasons.map((r) => r.code).join(',')}`)).toEqual(['/dev/sdb: too-small-for-need', '/dev/sdc: filesystem']);
    expect(mongo?.nodes.find((n) => n.node === 'node-2')?.refused).toContain('metalk8s.scality.com/version');
    expect(plan.unsatisfied.find((u) => u.component === 'kafka')?.message).toContain('node-1, node-2');
  });

  it('honours SSD/HDD, Block-mode path shapes and the xfs minimum', () => {
    const inventory: Inventory = {
      nodes: [node('node-1', disks([{ name: 'sdb', gib: 10, rota: true }, { name: 'nvme0n1', gib: 20, rota: false }, { name: 'sdc', gib: 30, rota: false }]))],
    };
    const sol = solution([
      {
        name: 'db',
        image: 'acme-store',
        volumes: [
          { name: 'wal', size: '5Gi', storageClass: 'metalk8s', media: 'ssd' },
          { name: 'raw', size: '5Gi', storageClass: 'metalk8s', mode: 'Block', media: 'ssd' },
          { name: 'cold', size: '5Gi', storageClass: 'metalk8s', media: 'hdd' },
        ],
      },
    ]);
    const plan = planVolumes({ solution: sol, inventory });
    expect(plan.volumes.map((v) => `${v.need} ${v.device?.name}`)).toEqual(['wal nvme0n1', 'raw sdc', 'cold sdb']);
    expect(plan.notes).toEqual([]);
    const longBlock = planVolumes({
      solution: solution([{ name: 'a-rather-long-component', image: 'acme-store', volumes: [{ name: 'raw-device', size: '5Gi', storageClass: 'metalk8s', mode: 'Block' }] }]),
      inventory,
    });
    expect(longBlock.notes.map((n) => n.code)).toEqual(['gpt-name-truncated']);
    const blockOnNvmeOnly = planVolumes({
      solution: solution([{ name: 'db', image: 'acme-store', volumes: [{ name: 'raw', size: '5Gi', storageClass: 'metalk8s', mode: 'Block' }] }]),
      inventory: { nodes: [node('node-1', disks([{ name: 'nvme0n1', gib: 20, rota: false }]))] },
    });
    expect(blockOnNvmeOnly.unsatisfied[0]?.nodes[0]?.devices[0]?.reasons.map((r) => r.code)).toEqual(['block-path-shape']);
    const tinyXfs = planVolumes({
      solution: solution([{ name: 'db', image: 'acme-store', volumes: [{ name: 'meta', size: '300Mi', storageClass: 'x' }] }], [{ name: 'x', fsType: 'xfs' }]),
      inventory: { nodes: [node('node-1', describeDevices({ lsblk: parseLsblk({ blockdevices: [{ name: 'sdb', type: 'disk', size: 256 * 2 ** 20 }] }) }, { minSizeBytes: 1 }))] },
    });
    expect(tinyXfs.unsatisfied[0]?.nodes[0]?.devices[0]?.reasons[0]?.message).toContain('300 MiB asked');
  });

  it('uses LVM groups with a spare margin, sizes in the node grammar', () => {
    const vg: VolumeGroup = { name: 'vg_data', size: 100 * GiB, free: 100 * GiB, extentSize: 4 * 2 ** 20, physicalVolumes: ['/dev/sdb'], rotational: true };
    const sol = solution([{ name: 'db', image: 'acme-store', volumes: [{ name: 'data', size: '1537Mi', storageClass: 'metalk8s', count: { perNode: 2, role: 'node' } }] }]);
    const plan = planVolumes({ solution: sol, inventory: { nodes: [node('node-1', [], { volumeGroups: [vg] })] }, options: { sources: { metalk8s: 'lvmLogicalVolume' } } });
    expect(plan.ok).toBe(true);
    expect(plan.volumes.map((v) => v.manifest?.spec)).toMatchObject([
      // In the node's grammar as asked; lvcreate rounds up to whole extents itself.
      { lvmLogicalVolume: { vgName: 'vg_data', size: '1537Mi' } },
      { lvmLogicalVolume: { vgName: 'vg_data', size: '1537Mi' } },
    ]);
    const full = planVolumes({
      solution: sol,
      inventory: { nodes: [node('node-1', [], { volumeGroups: [{ ...vg, free: 4 * GiB }] })] },
      options: { sources: { metalk8s: 'lvmLogicalVolume' } },
    });
    // 4 GiB free minus the 5 GiB default spare (5% of 100 GiB): no room at all.
    expect(full.ok).toBe(false);
    expect(full.unsatisfied[0]?.nodes[0]?.volumeGroups[0]?.reasons[0]?.code).toBe('no-room');
  });

  it('uses sparse files only with allowSparse, and says so', () => {
    const sol = solution([{ name: 'db', image: 'acme-store', volumes: [{ name: 'data', size: '10Gi', storageClass: 'metalk8s' }] }]);
    const inventory: Inventory = { nodes: [node('node-1', [])] };
    expect(planVolumes({ solution: sol, inventory }).ok).toBe(false);
    const plan = planVolumes({ solution: sol, inventory, options: { allowSparse: true } });
    expect(plan.ok).toBe(true);
    expect(plan.volumes[0]?.manifest?.spec).toMatchObject({ sparseLoopDevice: { size: '10Gi' } });
    expect(plan.notes.map((n) => n.code)).toEqual(['sparse']);
  });

  it('pre-binds total replicas to the StatefulSet claims when asked', () => {
    const plan = planVolumes({ solution: zenkoLike(), inventory: cluster(), options: { claimRefNamespace: 'zenko' } });
    expect(plan.volumes[0]?.manifest?.spec.template.spec).toEqual({ claimRef: { namespace: 'zenko', name: 'data-mongodb-0' } });
    expect(plan.volumes[3]?.manifest?.spec.template.spec).toBeUndefined();
  });

  it('writes legal Volume names, short enough, unique when shortened', () => {
    expect(volumeName(['Acme', 'db', 'data', 'node_1.example', '0'])).toBe('acme-db-data-node-1-example-0');
    const long = volumeName(['a'.repeat(40), 'b'.repeat(40), '0']);
    expect(long.length).toBeLessThanOrEqual(63);
    expect(long).not.toBe(volumeName(['a'.repeat(40), 'b'.repeat(40), '1']));
    expect(long).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
  });
});

describe('node size grammar and phase', () => {
  it('emits only sizes the node parses', () => {
    expect(formatNodeQuantity(10 * GiB)).toBe('10Gi');
    expect(formatNodeQuantity(1536 * 2 ** 20)).toBe('1536Mi');
    expect(formatNodeQuantity(1000)).toBe('1000');
    for (const bad of ['1.5Gi', '1e9', '0', '+1Gi', '1Ei', '1K', '500m']) expect(parseNodeQuantity(bad)).toBeUndefined();
    expect(parseNodeQuantity('3Gi')).toBe(3 * GiB);
    expect(() => formatNodeQuantity(0)).toThrow(expect.objectContaining({ code: 'QUANTITY_INVALID' }));
  });

  it('computes the phase as storage-operator does', () => {
    expect(volumePhase(undefined)).toBe('');
    expect(volumePhase([{ type: 'Ready', status: 'True' }])).toBe('Available');
    expect(volumePhase([{ type: 'Ready', status: 'False', reason: 'CreationError' }])).toBe('Failed');
    expect(volumePhase([{ type: 'Ready', status: 'Unknown', reason: 'Pending' }])).toBe('Pending');
    expect(volumePhase([{ type: 'Ready', status: 'Unknown', reason: 'Terminating' }])).toBe('Terminating');
  });
});

describe('planning on captured devices', () => {
  it('plans on the one blank captured device and lists the others with reasons', () => {
    const devices = describeDevices(
      { lsblk: parseLsblk(readFileSync('test/fixtures/storage/captured/lsblk.json', 'utf8')), blkid: parseBlkidExport(readFileSync('test/fixtures/storage/captured/blkid.txt', 'utf8')) },
      { types: ['loop', 'part'] },
    );
    const plan = planVolumes({
      solution: solution([{ name: 'db', image: 'acme-store', volumes: [{ name: 'data', size: '512Mi', storageClass: 'metalk8s' }] }]),
      inventory: { nodes: [node('node-1', devices)] },
    });
    expect(plan.volumes.map((v) => v.device?.path)).toEqual(['/dev/loop0']);
    expect(plan.refusedDevices.map((d) => d.path)).toEqual(['/dev/loop1', '/dev/loop2', '/dev/loop2p1', '/dev/loop3', '/dev/loop4', '/dev/loop5']);
  });

  it('plans LVM Volumes on the captured volume group, within its free space and spare', () => {
    const vg = parseVgs(readFileSync('test/fixtures/storage/captured/vgs.json', 'utf8'))[0];
    const pvs = parsePvs(readFileSync('test/fixtures/storage/captured/pvs.json', 'utf8'));
    if (!vg) throw new Error('no VG in the fixture');
    const group: VolumeGroup = { name: vg.name, size: vg.size, free: vg.free, extentSize: vg.extentSize ?? 0, physicalVolumes: pvs.map((p) => p.path), rotational: true };
    const need = (size: string) =>
      planVolumes({
        solution: solution([{ name: 'db', image: 'acme-store', volumes: [{ name: 'data', size, storageClass: 'metalk8s', count: { perNode: 1, role: 'node' } }] }]),
        inventory: { nodes: [node('node-1', [], { volumeGroups: [group] })] },
        options: { sources: { metalk8s: 'lvmLogicalVolume' } },
      });
    // 396 MiB group, 4 MiB extents: the default spare is 5% rounded up to extents (20 MiB).
    const fits = need('300Mi');
    expect(fits.volumes[0]?.manifest?.spec).toMatchObject({ lvmLogicalVolume: { vgName: 'sdkfixvg', size: '300Mi' } });
    expect(fits.volumes[0]?.capacityBytes).toBe(300 * 2 ** 20);
    const tooBig = need('380Mi');
    expect(tooBig.ok).toBe(false);
    expect(tooBig.unsatisfied[0]?.nodes[0]?.volumeGroups[0]?.reasons[0]?.message).toBe('376 MiB free after the 20 MiB spare, 380 MiB asked');
  });
});
