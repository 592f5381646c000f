import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CoreV1Api } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type Cluster, connect } from '../../../src/cluster/index.js';
import { kubeRequest } from '../../../src/_kube.js';
import { ClusterError } from '../../../src/errors.js';
import { loadSolutionFile } from '../../../src/packaging/solution-file.js';
import { renderPlatform, type Solution } from '../../../src/solution/index.js';
import {
  applyVolumePlan,
  deleteVolume,
  inventory,
  listVolumes,
  planVolumes,
  STORAGE_LABELS,
  type VolumePlan,
  wipeDevice,
} from '../../../src/storage/index.js';
import { applyObjects, type MetalK8sEmulator, mintServiceAccountToken, startMetalK8s, uniqueSuffix } from '../../../src/testing/index.js';
import { CLI as cli, runCli, writeEmulatorEnv } from './_cli.js';


const GiB = 2 ** 30;

async function rejects(p: Promise<unknown>): Promise<ClusterError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof ClusterError) return err;
    throw err;
  }
  throw new Error('expected a ClusterError');
}

// The issue's acceptance scenario: examples/zenko-like on 3 workload nodes with real loop disks.
describe('storage on loop disks: examples/zenko-like on three nodes', () => {
  const s = uniqueSuffix();
  const [n1, n2, n3] = [`z${s}-1`, `z${s}-2`, `z${s}-3`] as const;
  let mk8s: MetalK8sEmulator;
  let cluster: Cluster;
  let solution: Solution;
  let plan: VolumePlan;
  const ns = `zenko-${s}`;
  const deviceOf = (node: string, sizeGiB: number) => mk8s.disks?.disks.find((d) => d.node === node && d.sizeBytes === sizeGiB * GiB)?.device ?? '';

  beforeAll(async () => {
    mk8s = await startMetalK8s({
      kubeconfigYaml: await readFile(inject('kubeconfigPath'), 'utf8'),
      workloadNodes: [n1, n2, n3],
      disks: [
        { node: n1, sizeBytes: 120 * GiB },
        { node: n1, sizeBytes: 250 * GiB },
        { node: n1, sizeBytes: 50 * GiB },
        { node: n2, sizeBytes: 110 * GiB },
        { node: n2, sizeBytes: 300 * GiB },
        { node: n2, sizeBytes: 200 * GiB, content: 'ext4' },
        { node: n3, sizeBytes: 220 * GiB },
        { node: n3, sizeBytes: 150 * GiB },
        { node: n3, sizeBytes: 201 * GiB, content: 'mounted' },
        { node: n3, sizeBytes: 256 * 2 ** 20 },
      ],
    });
    cluster = await connect({
      kubeconfigYaml: mk8s.kubeconfigYaml,
      saltApi: { url: mk8s.saltApi.url, username: mk8s.saltApi.username, token: mk8s.saltApi.token, ca: mk8s.saltApi.ca },
    });
    solution = (await loadSolutionFile('examples/zenko-like')).solution;
    // The StorageClasses the SDK applies at activation.
    await applyObjects(cluster.kubeConfig, [...renderPlatform(solution).values()].filter((o) => o.kind === 'StorageClass'));
    await cluster.kubeConfig.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: ns } } });
  });
  afterAll(async () => {
    try {
      if (cluster) {
        await cluster.kubeConfig.makeApiClient(CoreV1Api).deleteNamespace({ name: ns }).catch(() => undefined);
        const mine: string[] = [n1, n2, n3];
        for (const v of await listVolumes(cluster).catch(() => [])) {
          if (mine.includes(v.node)) await deleteVolume(cluster, v.name, { timeoutMs: 30_000 }).catch(() => undefined);
        }
      }
    } finally {
      await mk8s?.stop();
    }
  });

  it('each emulated node sees its own disks only, never the host\'s', async () => {
    const lsblk = await cluster.salt.local({ tgt: n1, fun: 'cmd.run_all', arg: ['lsblk --json --bytes --output-all /dev/vda'] });
    expect(lsblk[n1]).toMatchObject({ retcode: 32, stderr: 'lsblk: /dev/vda: not a block device' });
    const other = await cluster.salt.local({ tgt: n1, fun: 'cmd.run_all', arg: [`blkid -p -o export ${deviceOf(n2, 200)}`] });
    expect((other[n1] as { retcode: number }).retcode).not.toBe(0);
    expect(await cluster.salt.local({ tgt: n1, fun: 'disk.dump', arg: ['/dev/vda'] })).toEqual({ [n1]: {} });
    const all = await cluster.salt.local({ tgt: n1, fun: 'cmd.run_all', arg: ['lsblk --json --bytes --output-all'] });
    const names = (JSON.parse((all[n1] as { stdout: string }).stdout) as { blockdevices: { path: string; type: string }[] }).blockdevices;
    expect(names.map((d) => d.path).sort()).toEqual([deviceOf(n1, 120), deviceOf(n1, 250), deviceOf(n1, 50)].sort());
    expect(new Set(names.map((d) => d.type))).toEqual(new Set(['disk']));
    const cmd = await cluster.salt.local({ tgt: n1, fun: 'cmd.run_all', arg: ['dd if=/dev/vda of=/dev/null count=1'] });
    expect((cmd[n1] as { retcode: number }).retcode).toBe(127);
  });

  it('inventories every disk, with the reasons refused ones are refused', async () => {
    const inv = await inventory(cluster, { nodes: [n1, n2, n3] });
    const reasons = (node: string, size: number) =>
      inv.nodes.find((n) => n.name === node)?.devices.find((d) => d.size === size)?.deniedReasons.map((r) => r.code);
    expect(reasons(n2, 200 * GiB)).toEqual(['filesystem']);
    expect(reasons(n3, 201 * GiB)).toEqual(['mounted', 'filesystem']);
    expect(reasons(n3, 256 * 2 ** 20)).toEqual(['too-small']);
    expect(reasons(n1, 120 * GiB)).toEqual([]);
    expect(inv.nodes.map((n) => n.roles)).toEqual([['node'], ['node'], ['node']]);
  });

  it('plans MongoDB on three different nodes and Kafka on every node, listing refused disks', async () => {
    const inv = await inventory(cluster, { nodes: [n1, n2, n3] });
    plan = planVolumes({ solution, inventory: inv, existing: await listVolumes(cluster) });
    expect(plan.ok).toBe(true);
    const rows = plan.volumes.map((v) => `${v.component} ${v.node} ${(v.device?.size ?? 0) / GiB}`);
    expect(rows).toEqual([`mongodb ${n2} 110`, `mongodb ${n1} 120`, `mongodb ${n3} 150`, `kafka ${n1} 250`, `kafka ${n2} 300`, `kafka ${n3} 220`]);
    expect(plan.refusedDevices.map((d) => `${d.node} ${d.reasons.map((r) => r.code).join(',')}`)).toEqual([`${n2} filesystem`, `${n3} mounted,filesystem`, `${n3} too-small`]);
  });

  it('refuses to format raw devices without dangerous', async () => {
    const err = await rejects(applyVolumePlan(cluster, plan));
    expect(err.code).toBe('DANGEROUS_NOT_ALLOWED');
    expect(await listVolumes(cluster, { node: n1 })).toEqual([]);
  });

  it('applies the plan: every Volume Available, formatted as its StorageClass says, PVs of the real device size', async () => {
    const events: string[] = [];
    const result = await applyVolumePlan(cluster, plan, { dangerous: true, onProgress: (e) => e.type === 'volume' && events.push(`${e.name} ${e.status}`) });
    expect(result.volumes.map((v) => [v.outcome, v.message])).toEqual(plan.volumes.map(() => ['available', undefined]));
    expect(events.filter((e) => e.endsWith(' created'))).toHaveLength(6);
    const volumes = await listVolumes(cluster);
    for (const p of plan.volumes) {
      const v = volumes.find((x) => x.name === p.name);
      expect(v?.phase).toBe('Available');
      const loop = deviceOf(p.node, (p.device?.size ?? 0) / GiB);
      const ids = execFileSync('blkid', ['-p', '-o', 'export', loop], { encoding: 'utf8' });
      expect(ids).toContain(`TYPE=${p.component === 'mongodb' ? 'xfs' : 'ext4'}`);
      expect(ids).toContain(`UUID=${v?.uid}`);
      expect(v?.pv?.capacity).toBe(`${(p.device?.size ?? 0) / GiB}Gi`);
      expect(v?.pv?.path).toBe(`/dev/disk/by-uuid/${v?.uid}`);
      expect(v?.deviceName).toBe(loop.slice('/dev/'.length));
    }
    // storage-operator's events, on the Volume, in namespace default.
    const first = plan.volumes[0]?.name ?? '';
    const ev = await kubeRequest(cluster.kubeConfig, 'GET', `/api/v1/namespaces/default/events?fieldSelector=${encodeURIComponent(`involvedObject.name=${first}`)}`);
    const messages = ((ev.json as { items: { reason: string; message: string }[] }).items ?? []).map((e) => `${e.reason}: ${e.message}`);
    expect(messages).toEqual(
      expect.arrayContaining([
        'SaltCall: volume provisioning step 1/2 started',
        'SaltCall: volume provisioning step 2/2 started',
        'PvCreation: backing PersistentVolume created',
        "StateTransition: volume phase transition from 'Pending' to 'Available'",
      ]),
    );
  });

  it('plans no change after apply, and applying again is a no-op', async () => {
    const again = planVolumes({ solution, inventory: await inventory(cluster, { nodes: [n1, n2, n3] }), existing: await listVolumes(cluster) });
    expect(again.ok).toBe(true);
    expect(again.volumes.filter((v) => v.action === 'create')).toEqual([]);
    const events: string[] = [];
    const result = await applyVolumePlan(cluster, plan, { dangerous: true, onProgress: (e) => e.type === 'volume' && events.push(e.status) });
    expect(result.ok).toBe(true);
    expect(events.filter((e) => e === 'created')).toEqual([]);
    expect(events.filter((e) => e === 'exists')).toHaveLength(6);
  });

  it('binds a Pod\'s claim through the real PV controller and scheduler; deleting its Volume is refused', async () => {
    const core = cluster.kubeConfig.makeApiClient(CoreV1Api);
    await core.createNamespacedPersistentVolumeClaim({
      namespace: ns,
      body: {
        metadata: { name: 'data-mongodb-0' },
        spec: {
          storageClassName: 'zenko-mongodb',
          accessModes: ['ReadWriteOnce'],
          resources: { requests: { storage: '100Gi' } },
          selector: { matchLabels: { [STORAGE_LABELS.component]: 'mongodb', [STORAGE_LABELS.need]: 'data' } },
        },
      },
    });
    await core.createNamespacedPod({
      namespace: ns,
      body: {
        metadata: { name: 'mongodb-0' },
        spec: {
          containers: [{ name: 'mongod', image: 'metalk8s-registry-from-config.invalid/zenko-2.6.0/mongodb:6.0.13' }],
          volumes: [{ name: 'data', persistentVolumeClaim: { claimName: 'data-mongodb-0' } }],
        },
      },
    });
    let pvcName = '';
    let podNode = '';
    for (let i = 0; i < 120 && (!pvcName || !podNode); i++) {
      const pvc = await core.readNamespacedPersistentVolumeClaim({ name: 'data-mongodb-0', namespace: ns });
      const pod = await core.readNamespacedPod({ name: 'mongodb-0', namespace: ns });
      if (pvc.status?.phase === 'Bound') pvcName = pvc.spec?.volumeName ?? '';
      if (pod.status?.phase === 'Running') podNode = pod.spec?.nodeName ?? '';
      await new Promise((r) => setTimeout(r, 500));
    }
    const bound = plan.volumes.find((v) => v.name === pvcName);
    expect(bound?.component).toBe('mongodb');
    expect(podNode).toBe(bound?.node);
    const err = await rejects(deleteVolume(cluster, pvcName));
    expect(err.code).toBe('VOLUME_IN_USE');
    expect(err.message).toContain(`${ns}/data-mongodb-0`);
  });

  it('refuses a device changed between plan and apply; the device can be wiped with confirmation', async () => {
    const one = {
      name: 'trial',
      definition: { components: [{ name: 'cache', image: 'redis', volumes: [{ name: 'data', size: '10Gi', storageClass: 'metalk8s' }] }], storageClasses: [] },
    };
    const p = planVolumes({ solution: one as never, inventory: await inventory(cluster, { nodes: [n1, n2, n3] }), existing: await listVolumes(cluster) });
    expect(p.volumes.map((v) => `${v.node} ${(v.device?.size ?? 0) / GiB}`)).toEqual([`${n1} 50`]);
    const loop = deviceOf(n1, 50);
    execFileSync('mkfs.ext4', ['-q', '-F', loop]);
    const err = await rejects(applyVolumePlan(cluster, p, { dangerous: true }));
    expect(err.code).toBe('DEVICE_CHANGED');
    expect(err.message).toContain('ext4');
    expect((await rejects(wipeDevice(cluster, { node: n1, device: loop, confirm: 'yes' }))).code).toBe('WIPE_NOT_CONFIRMED');
    expect(await wipeDevice(cluster, { node: n1, device: loop, confirm: loop })).toEqual({ removed: ['ext4'] });
    const inv = await inventory(cluster, { nodes: [n1] });
    expect(inv.nodes[0]?.devices.find((d) => d.path === loop)?.eligible).toBe(true);
  });

  it('an mkfs failure on the node gives Failed/CreationError with the node\'s message', async () => {
    const tiny = deviceOf(n3, 0.25);
    const name = `tiny-${s}`;
    const res = await kubeRequest(cluster.kubeConfig, 'POST', '/apis/storage.metalk8s.scality.com/v1alpha1/volumes', {
      apiVersion: 'storage.metalk8s.scality.com/v1alpha1',
      kind: 'Volume',
      metadata: { name },
      spec: { nodeName: n3, storageClassName: 'zenko-mongodb', rawBlockDevice: { devicePath: tiny } },
    });
    expect(res.status).toBe(201);
    let v = (await listVolumes(cluster)).find((x) => x.name === name);
    for (let i = 0; i < 60 && v?.phase !== 'Failed'; i++) {
      await new Promise((r) => setTimeout(r, 500));
      v = (await listVolumes(cluster)).find((x) => x.name === name);
    }
    expect(v?.reason).toBe('CreationError');
    expect(v?.message).toContain(`Failed to prepare volume ${name}`);
    expect(v?.message).toContain('Filesystem must be larger than 300MB');
    await deleteVolume(cluster, name);
    expect((await listVolumes(cluster)).some((x) => x.name === name)).toBe(false);
  });

  it('says which right is missing when the SaltAPI user is not a node-admin', async () => {
    const token = await mintServiceAccountToken(cluster.kubeConfig, 'kube-system', 'storage-operator-controller-manager');
    const weak = await connect({
      kubeconfigYaml: mk8s.kubeconfigYaml,
      saltApi: { url: mk8s.saltApi.url, username: 'system:serviceaccount:kube-system:storage-operator-controller-manager', token, ca: mk8s.saltApi.ca },
    });
    const err = await rejects(inventory(weak, { nodes: [n1] }));
    expect(err.code).toBe('STORAGE_NOT_NODE_ADMIN');
    expect(err.hint).toContain('`*` on `nodes`');
  });

  it('the built CLI shows disks, plans, lists, and refuses what must be refused', async () => {
    if (!existsSync(cli)) throw new Error(`${cli} is missing: run \`npm run build\` first (npm test does)`);
    const dir = await mkdtemp(path.join(tmpdir(), 'sdk-storage-cli-'));
    try {
      const env = await writeEmulatorEnv(dir, mk8s);
      const solutionCli = (...args: string[]) => runCli(env, args, 120_000);
      const disks = await solutionCli('disks', n3);
      expect(disks.code).toBe(0);
      expect(disks.stdout).toMatch(/256 MiB\s+disk .* 256 MiB, smaller than 512 MiB/);
      expect(disks.stdout).toMatch(/mounted on \S+; holds a filesystem \(ext4/);
      const json = await solutionCli('disks', n2, '--json');
      const data = JSON.parse(json.stdout.trim().split('\n').pop() ?? '{}').data as { nodes: { devices: { deniedReasons: { code: string }[] }[] }[] };
      expect(data.nodes[0]?.devices.map((d) => d.deniedReasons.map((r) => r.code).join(','))).toContain('filesystem');
      const nodes = `--nodes=${n1},${n2},${n3}`;
      const plan = await solutionCli('volumes', 'plan', 'examples/zenko-like', nodes);
      expect(plan.code).toBe(0);
      expect(plan.stdout).toContain('0 Volume(s) to create, 6 kept');
      const list = await solutionCli('volumes', 'list', '--node', n1);
      expect(list.stdout).toMatch(/zenko-kafka-logs-\S+\s+z\S+-1\s+zenko-kafka\s+\/dev\/loop\d+\s+250Gi\s+Available/);
      await writeFile(
        path.join(dir, 'solution.config.yaml'),
        'name: huge\nversion: 1.0.0\noperator: { image: op }\nimages: [{ name: op, tag: 1.0.0, source: { kind: registry, reference: registry.example.com/op:1.0.0 } }]\ncomponents: [{ name: db, image: op, volumes: [{ name: data, size: 10Ti, storageClass: metalk8s, count: { total: 2 } }] }]\n',
      );
      const huge = await solutionCli('volumes', 'plan', dir, nodes);
      expect(huge.code).toBe(1);
      expect(huge.stdout).toContain('cannot satisfy db.data (10 TiB metalk8s): 2 of 2 Volumes cannot be placed: no node with role node has a fitting device');
      expect(huge.stdout).toMatch(/less than the 10 TiB asked/);
      const apply = await solutionCli('volumes', 'apply', dir, '--dangerous', nodes);
      expect(apply.code).toBe(1);
      const bound = (await listVolumes(cluster)).find((v) => v.pv?.claim);
      const del = await solutionCli('volumes', 'delete', bound?.name ?? '');
      expect(del.code).toBe(1);
      expect(del.stderr).toContain('[VOLUME_IN_USE]');
      expect(del.stderr).not.toContain('    at ');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('deleting a raw Volume leaves its filesystem on the disk, as MetalK8s does; a wipe frees the disk', async () => {
    const kafka = plan.volumes.find((v) => v.component === 'kafka' && v.node === n1);
    const loop = deviceOf(n1, 250);
    await deleteVolume(cluster, kafka?.name ?? '');
    expect((await listVolumes(cluster)).some((v) => v.name === kafka?.name)).toBe(false);
    expect(execFileSync('blkid', ['-p', '-o', 'export', loop], { encoding: 'utf8' })).toContain('TYPE=ext4');
    const before = (await inventory(cluster, { nodes: [n1] })).nodes[0]?.devices.find((d) => d.path === loop);
    expect(before?.deniedReasons.map((r) => r.code)).toEqual(['filesystem']);
    await wipeDevice(cluster, { node: n1, device: loop, confirm: loop });
    const after = (await inventory(cluster, { nodes: [n1] })).nodes[0]?.devices.find((d) => d.path === loop);
    expect(after?.eligible).toBe(true);
  });

  it('explains a Volume that gets no status: its Node lacks the MetalK8s version label', async () => {
    const bare = `bare-${s}`;
    await kubeRequest(cluster.kubeConfig, 'POST', '/api/v1/nodes', { apiVersion: 'v1', kind: 'Node', metadata: { name: bare, labels: { 'node-role.kubernetes.io/node': '' } } });
    const manual: VolumePlan = {
      ok: true,
      solution: 'trial',
      unsatisfied: [],
      refusedDevices: [],
      notes: [],
      volumes: [
        {
          action: 'create',
          name: `nostatus-${s}`,
          component: 'c',
          need: 'd',
          node: bare,
          storageClass: 'metalk8s',
          source: 'sparseLoopDevice',
          capacityBytes: GiB,
          stacked: false,
          manifest: {
            apiVersion: 'storage.metalk8s.scality.com/v1alpha1',
            kind: 'Volume',
            metadata: { name: `nostatus-${s}`, labels: {} },
            spec: { nodeName: bare, storageClassName: 'metalk8s', mode: 'Filesystem', template: { metadata: { labels: {} } }, sparseLoopDevice: { size: '1Gi' } },
          },
        },
      ],
    };
    // Cancelled while it waits: a typed AbortError, not a hang.
    await expect(applyVolumePlan(cluster, manual, { noStatusTimeoutMs: 60_000, signal: AbortSignal.timeout(1000) })).rejects.toMatchObject({ code: 'ABORTED' });
    const result = await applyVolumePlan(cluster, manual, { noStatusTimeoutMs: 2000 });
    expect(result.volumes[0]?.outcome).toBe('stuck');
    expect(result.volumes[0]?.message).toMatch(/^no status after \d+ s: Node bare-.* has no metalk8s.scality.com\/version label/);
    await kubeRequest(cluster.kubeConfig, 'DELETE', `/apis/storage.metalk8s.scality.com/v1alpha1/volumes/nostatus-${s}`);
    await kubeRequest(cluster.kubeConfig, 'DELETE', `/api/v1/nodes/${bare}`);
  });
});
