/**
 * The storage side of an emulated node's salt-minion: the Salt functions the SDK and
 * storage-operator call, run for real on the node's test disks (loop devices from
 * _storage-loop.ts) and on nothing else.
 *
 * - `cmd.run_all` runs `lsblk`, `blkid`, `vgs`, `pvs`, `find /dev/disk`, `smartctl`, `wipefs`
 *   and `udevadm` for real; every device argument must be one of the node's own devices (or a
 *   `/dev/disk` link to one), else the node answers as if it had no such device. With no device
 *   argument, `lsblk` lists the node's devices only; `vgs`/`pvs` see only the node's devices
 *   (`--devices`). Loop devices playing whole disks are shown with type `disk`.
 * - `disk.dump` runs `blockdev` as Salt does.
 * - `state.sls metalk8s.volumes` / `metalk8s.volumes.unprepared` do what MetalK8s' Salt does
 *   per Volume type and mode (`salt/_modules/metalk8s_volumes.py`, platform-reference §A.4):
 *   sparse files (attached as loop devices, as the `metalk8s-sparse-volume@` unit does),
 *   `mkfs.ext4 -U`/`mkfs.xfs -m uuid=`, `sgdisk` for Block mode, `lvcreate` for LVM (which fails
 *   on this machine: no device-mapper), with the same state ids and comments.
 * - `metalk8s_volumes.device_info` and `device_name` as MetalK8s' module.
 *
 * @module
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, open, realpath, rm, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { promisify } from 'node:util';
import type { KubeConfig } from '@kubernetes/client-node';
import { kubeRequest } from '../cluster/_kube.js';
import { addPartitions, type LoopDisks } from './_storage-loop.js';
import { type EmulatedMinionFunction, MinionReturn } from './salt-api-emulator.js';

const exec = promisify(execFile);

interface CmdResult {
  pid: number;
  retcode: number;
  stdout: string;
  stderr: string;
}

/** Splits a command line as Python's `shlex.split` does (quotes, backslashes). */
export function shellSplit(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quote: '"' | "'" | undefined;
  let has = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i] as string;
    if (quote) {
      if (c === quote) quote = undefined;
      else if (c === '\\' && quote === '"' && i + 1 < line.length) cur += line[++i];
      else cur += c;
    } else if (c === '"' || c === "'") {
      quote = c;
      has = true;
    } else if (c === '\\' && i + 1 < line.length) {
      cur += line[++i];
      has = true;
    } else if (/\s/.test(c)) {
      if (has || cur) out.push(cur);
      cur = '';
      has = false;
    } else cur += c;
  }
  if (has || cur) out.push(cur);
  return out;
}

async function runCmd(argv: readonly string[]): Promise<CmdResult> {
  const [cmd = '', ...args] = argv;
  try {
    const r = await exec(cmd, args, { env: { ...process.env, LVM_SUPPRESS_FD_WARNINGS: '1' }, maxBuffer: 64 * 2 ** 20 });
    return { pid: 0, retcode: 0, stdout: r.stdout.replace(/\n$/, ''), stderr: r.stderr.replace(/\n$/, '') };
  } catch (err) {
    const e = err as { code?: number | string; stdout?: string; stderr?: string; message: string };
    const retcode = typeof e.code === 'number' ? e.code : 127;
    return { pid: 0, retcode, stdout: (e.stdout ?? '').replace(/\n$/, ''), stderr: (e.stderr ?? e.message).replace(/\n$/, '') };
  }
}

interface VolumeObject {
  metadata: { name: string; uid: string; annotations?: Record<string, string> };
  spec: {
    nodeName: string;
    storageClassName: string;
    mode?: 'Filesystem' | 'Block';
    sparseLoopDevice?: { size: string | number };
    rawBlockDevice?: { devicePath: string };
    lvmLogicalVolume?: { vgName: string; size: string | number };
  };
}

interface StateEntry {
  name: string;
  changes: Record<string, unknown>;
  result: boolean;
  comment: string;
  __id__: string;
  __run_num__: number;
  __sls__: string;
  start_time: string;
  duration: number;
}

/** Salt's `_quantity_to_bytes` (platform-reference §0.1 item 3): AssertionError/KeyError otherwise. */
function quantityToBytes(q: string | number): number {
  const m = /^(?<size>[1-9][0-9]*)(?<unit>[kKMGTP]i?)?$/.exec(String(q));
  if (!m?.groups) throw new Error(`AssertionError: invalid quantity ${q}`);
  const units: Record<string, number> = { '': 1, Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15 };
  const unit = m.groups.unit ?? '';
  const factor = units[unit];
  if (factor === undefined) throw new Error(`KeyError: '${unit}'`);
  return Number(m.groups.size) * factor;
}

/** Options of {@link storageMinionFunctions}. */
export interface StorageMinionOptions {
  readonly kubeConfig: KubeConfig;
  readonly disks: LoopDisks;
  /** Where the emulated nodes keep their files (`<dir>/<node>/var/lib/metalk8s/storage/sparse/`). */
  readonly stateDir: string;
}

/**
 * The minion functions of the emulated nodes' storage, keyed by Salt function name.
 */
export function storageMinionFunctions(options: StorageMinionOptions): Record<string, EmulatedMinionFunction> {
  const { disks, kubeConfig: kc } = options;
  const sparseDir = (node: string): string => join(options.stateDir, 'nodes', node, 'var/lib/metalk8s/storage/sparse');
  /** Sparse files attached as loop devices, by node and Volume uid. */
  const sparseLoops = new Map<string, string>();

  /** Every device path the node owns: disks, their partitions, its sparse loop devices. */
  const owned = (node: string): Set<string> => {
    const out = new Set<string>();
    for (const d of disks.devicesOf(node)) {
      out.add(d);
      for (let p = 1; p <= 8; p++) if (existsSync(`${d}p${p}`)) out.add(`${d}p${p}`);
    }
    return out;
  };
  const wholeDisks = (node: string): Set<string> => new Set(disks.disks.filter((d) => d.node === node).map((d) => d.device));

  /** The node's device a path names (through /dev/disk links), or undefined. */
  const resolveOwned = async (node: string, path: string): Promise<string | undefined> => {
    const real = await realpath(path).catch(() => undefined);
    return real !== undefined && owned(node).has(real) ? real : undefined;
  };

  /** What the tool says of a device the host does not have: run it on an absent path, name the device back. */
  const noSuchDevice = async (argv: readonly string[], dev: string): Promise<CmdResult> => {
    const absent = '/dev/.metalk8s-emulator-absent-device';
    const r = await runCmd(argv.map((a) => (a === dev ? absent : a)));
    return { ...r, stdout: r.stdout.split(absent).join(dev), stderr: r.stderr.split(absent).join(dev) };
  };

  const cmdRunAll = async (node: string, line: string): Promise<CmdResult> => {
    const argv = shellSplit(line);
    const tool = basename(argv[0] ?? '');
    const devArgs = argv.slice(1).filter((a) => a.startsWith('/dev/'));
    for (const dev of devArgs) {
      if (tool === 'find' || tool === 'udevadm') continue;
      if (!(await resolveOwned(node, dev))) {
        // Only the read-only tools run at all; anything else on a foreign device is refused.
        if (['lsblk', 'blkid', 'smartctl', 'blockdev', 'wipefs'].includes(tool) && !argv.includes('-a')) return noSuchDevice(argv, dev);
        return { pid: 0, retcode: 1, stdout: '', stderr: `${tool}: ${dev}: No such file or directory` };
      }
    }
    switch (tool) {
      case 'lsblk': {
        const devices = devArgs.length > 0 ? argv : [...argv, ...disks.devicesOf(node)];
        if (disks.devicesOf(node).length === 0 && devArgs.length === 0) return { pid: 0, retcode: 0, stdout: '{\n   "blockdevices": []\n}', stderr: '' };
        const r = await runCmd(devices);
        if (r.retcode !== 0 || !argv.includes('--json')) return r;
        // Loop devices play whole disks on the emulated node.
        const disksOfNode = wholeDisks(node);
        const data = JSON.parse(r.stdout) as { blockdevices: Record<string, unknown>[] };
        for (const d of data.blockdevices) if (disksOfNode.has(String(d.path ?? `/dev/${d.name}`)) && d.type === 'loop') d.type = 'disk';
        return { ...r, stdout: JSON.stringify(data, null, 3) };
      }
      case 'blkid':
      case 'smartctl':
      case 'wipefs':
      case 'blockdev':
        if (devArgs.length === 0) return { pid: 0, retcode: 2, stdout: '', stderr: '' };
        return runCmd(argv);
      case 'vgs':
      case 'pvs': {
        const devs = [...owned(node)];
        if (devs.length === 0) return { pid: 0, retcode: 0, stdout: `  {\n      "report": [\n          {\n              "${tool.slice(0, 2)}": [\n              ]\n          }\n      ]\n  }`, stderr: '' };
        return runCmd([...argv, '--devices', devs.join(',')]);
      }
      case 'find': {
        const r = await runCmd(argv);
        const mine = owned(node);
        const lines = r.stdout.split('\n').filter((l) => {
          const target = l.trim().split(/\s+/)[1] ?? '';
          return mine.has(`/dev/${basename(target)}`);
        });
        return { ...r, stdout: lines.join('\n') };
      }
      case 'udevadm':
        if (argv[1] !== 'trigger' && argv[1] !== 'settle') break;
        await disks.settle();
        return { pid: 0, retcode: 0, stdout: '', stderr: '' };
      default:
        break;
    }
    return { pid: 0, retcode: 127, stdout: '', stderr: `the emulated node ${node} runs only lsblk, blkid, vgs, pvs, find /dev/disk, smartctl, wipefs, blockdev and udevadm: not ${tool}` };
  };

  const diskDump = async (node: string, path: string): Promise<Record<string, string>> => {
    if (!(await resolveOwned(node, path))) return {};
    const flags = ['--getro', '--getsz', '--getss', '--getpbsz', '--getiomin', '--getioopt', '--getalignoff', '--getmaxsect', '--getsize', '--getsize64', '--getra', '--getfra'];
    const r = await runCmd(['blockdev', ...flags, path]);
    if (r.retcode !== 0) return {};
    const values = r.stdout.split('\n');
    return Object.fromEntries(flags.map((f, i) => [f.slice(2), values[i] ?? '']));
  };

  const readVolume = async (node: string, name: string): Promise<VolumeObject | undefined> => {
    const res = await kubeRequest(kc, 'GET', `/apis/storage.metalk8s.scality.com/v1alpha1/volumes/${encodeURIComponent(name)}`);
    if (res.status !== 200) return undefined;
    const vol = res.json as VolumeObject;
    return vol.spec.nodeName === node ? vol : undefined;
  };

  const blkid = async (path: string): Promise<Record<string, string>> => {
    const r = await runCmd(['blkid', '-p', '-o', 'export', path]);
    const out: Record<string, string> = {};
    for (const l of r.stdout.split('\n')) {
      const eq = l.indexOf('=');
      if (eq > 0) out[l.slice(0, eq)] = l.slice(eq + 1);
    }
    return out;
  };

  const mustRun = async (argv: readonly string[]): Promise<CmdResult> => {
    const r = await runCmd(argv);
    if (r.retcode !== 0) throw new Error(`error while trying to run \`${argv.join(' ')}\`: ${r.stderr}`);
    return r;
  };

  /** What MetalK8s' Volume classes do, for one Volume on one node. */
  const volumeOps = (node: string, vol: VolumeObject) => {
    const uid = vol.metadata.uid.toLowerCase();
    const mode = vol.spec.mode ?? 'Filesystem';
    const sparse = vol.spec.sparseLoopDevice;
    const raw = vol.spec.rawBlockDevice;
    const lvm = vol.spec.lvmLogicalVolume;
    const sparseFile = join(sparseDir(node), uid);
    const path = raw ? raw.devicePath : sparse ? sparseFile : `/dev/${lvm?.vgName}/${vol.metadata.name}`;
    const persistentPath = mode === 'Block' ? (lvm ? path : `/dev/disk/by-partuuid/${uid}`) : `/dev/disk/by-uuid/${uid}`;
    const storageClass = async (): Promise<{ parameters?: Record<string, string> } | undefined> => {
      const r = await kubeRequest(kc, 'GET', `/apis/storage.k8s.io/v1/storageclasses/${encodeURIComponent(vol.spec.storageClassName)}`);
      return r.status === 200 ? (r.json as { parameters?: Record<string, string> }) : undefined;
    };
    const attachSparse = async (): Promise<void> => {
      const key = `${node}\0${uid}`;
      if (sparseLoops.has(key)) return;
      sparseLoops.set(key, await disks.attachFile(node, sparseFile));
      if (mode === 'Block') await addPartitions(sparseLoops.get(key) ?? '');
      await disks.settle();
    };
    return {
      path,
      persistentPath,
      async exists(): Promise<boolean> {
        if (sparse) return (await stat(sparseFile).catch(() => undefined))?.size === quantityToBytes(sparse.size);
        if (raw) return (await resolveOwned(node, raw.devicePath)) !== undefined;
        return existsSync(path);
      },
      async create(): Promise<void> {
        if (sparse) {
          const size = quantityToBytes(sparse.size);
          await mkdir(sparseDir(node), { recursive: true });
          try {
            const fd = await open(sparseFile, 'wx');
            await fd.truncate(size);
            await fd.close();
          } catch (err) {
            throw new Error(`cannot create sparse file at ${sparseFile}`, { cause: err });
          }
          return;
        }
        if (raw) throw new Error(`block device ${raw.devicePath} does not exists`);
        const r = await runCmd(['lvcreate', '-y', '-n', vol.metadata.name, '-L', `${quantityToBytes(lvm?.size ?? 0)}b`, lvm?.vgName ?? '']);
        if (r.retcode !== 0) throw new Error(`cannot create LVM LogicalVolume ${vol.metadata.name} in VG ${lvm?.vgName}: ${r.stderr}`);
      },
      async isPrepared(): Promise<boolean> {
        if (lvm && mode === 'Block') return true;
        if (mode === 'Block') {
          const target = await realpath(persistentPath).catch(() => '');
          return basename(target) === `${basename(sparse ? sparseFile : path)}1`;
        }
        return (await blkid(path)).UUID?.toLowerCase() === uid;
      },
      async prepare(): Promise<void> {
        if (mode === 'Block') {
          if (lvm) return;
          await mustRun(['sgdisk', '--largest-new', '1', '--partition-guid', `1:${uid}`, '--change-name', `1:${vol.metadata.name}`, path]);
          if (raw) {
            const dev = await resolveOwned(node, raw.devicePath);
            if (dev) await addPartitions(dev);
          }
          return;
        }
        const info = await blkid(path);
        if (info.TYPE) throw new Error(`backing device \`${path}\` already formatted`);
        if (info.PTTYPE) throw new Error(`backing device \`${path}\` contains a partition table`);
        const sc = await storageClass();
        if (!sc) throw new Error(`StorageClass ${vol.spec.storageClassName} not found`);
        const fsType = sc.parameters?.fsType;
        const opts = JSON.parse(sc.parameters?.mkfsOptions ?? '[]') as string[];
        const force = sparse !== undefined;
        let cmd: string[];
        if (fsType === 'ext4') cmd = ['mkfs.ext4', ...(force ? ['-F'] : []), '-U', uid, ...opts, path];
        else if (fsType === 'xfs') cmd = ['mkfs.xfs', ...(force ? ['-f'] : []), '-m', `uuid=${uid}`, ...opts, path];
        else throw new Error(`unsupported filesystem: ${fsType}`);
        await mustRun(cmd);
      },
      provision: attachSparse,
      async cleanUp(): Promise<void> {
        if (!sparse) return;
        const key = `${node}\0${uid}`;
        const dev = sparseLoops.get(key);
        if (dev) {
          await disks.detach(dev);
          sparseLoops.delete(key);
        }
        await rm(sparseFile, { force: true });
      },
    };
  };

  const stateSls = async (node: string, kwarg: Readonly<Record<string, unknown>>, arg: readonly unknown[]): Promise<unknown> => {
    const mods = String(kwarg.mods ?? arg[0] ?? '');
    const pillar = (kwarg.pillar ?? {}) as { volume?: string };
    const states: Record<string, StateEntry> = {};
    let runNum = 0;
    const record = (fun: string, id: string, name: string, result: boolean, comment: string, changes: Record<string, unknown> = {}): boolean => {
      const [mod, fn] = fun.split('.');
      states[`${mod}_|-${id}_|-${name}_|-${fn}`] = {
        name,
        changes,
        result,
        comment,
        __id__: id,
        __run_num__: runNum++,
        __sls__: mods,
        start_time: `${new Date().toISOString().slice(11, 23)}000`,
        duration: 1,
      };
      return result;
    };
    const step = async (fun: string, id: string, name: string, ok: () => Promise<boolean>, done: string, exists: string, fail: string, run: () => Promise<void>, requires: boolean): Promise<boolean> => {
      if (!requires) return record(fun, id, name, false, `One or more requisite failed: ${mods}.${id.replace(/ for .*/, '')}`);
      try {
        if (await ok()) return record(fun, id, name, true, exists);
        await run();
        return record(fun, id, name, true, done, { [name]: done.replace(`Volume ${name} `, '').replace(/\.$/, '') });
      } catch (err) {
        return record(fun, id, name, false, `${fail}: ${(err as Error).message}.`);
      }
    };
    const name = pillar.volume;
    if (mods === 'metalk8s.volumes' || mods === 'metalk8s.volumes.prepared') {
      record('file.directory', 'Create the sparse file directory', '/var/lib/metalk8s/storage/sparse/', true, 'The directory /var/lib/metalk8s/storage/sparse is in the correct state');
      const vol = name ? await readVolume(node, name) : undefined;
      if (!name || !vol) {
        record('test.configurable_test_state', `Volume ${name} not found in pillar`, String(name), false, `Volume ${name} not found in pillar`);
      } else {
        const ops = volumeOps(node, vol);
        const created = await step(
          'metalk8s_volumes.present',
          `Create backing storage for ${name}`,
          name,
          () => ops.exists(),
          `Storage for volume ${name} created.`,
          `Storage for volume ${name} already exists.`,
          `Cannot create storage for volume ${name}`,
          () => ops.create(),
          true,
        );
        const prepared = await step(
          'metalk8s_volumes.prepared',
          `Prepare backing storage for ${name}`,
          name,
          () => ops.isPrepared(),
          `Volume ${name} prepared.`,
          `Volume ${name} already prepared.`,
          `Failed to prepare volume ${name}`,
          () => ops.prepare(),
          created,
        );
        if (vol.spec.sparseLoopDevice) {
          const unit = `metalk8s-sparse-volume@${vol.metadata.uid.toLowerCase()}`;
          if (!prepared) record('service.running', `Provision backing storage for ${name}`, unit, false, `One or more requisite failed: ${mods}.Prepare backing storage for ${name}`);
          else {
            try {
              await ops.provision();
              record('service.running', `Provision backing storage for ${name}`, unit, true, `Service ${unit} has been enabled, and is running`, { [unit]: true });
            } catch (err) {
              record('service.running', `Provision backing storage for ${name}`, unit, false, `Job for ${unit}.service failed: ${(err as Error).message}`);
            }
          }
        }
        record('module.run', 'Update pillar after volume provisioning', 'saltutil.refresh_pillar', true, 'saltutil.refresh_pillar: True');
      }
    } else if (mods === 'metalk8s.volumes.unprepared') {
      const vol = name ? await readVolume(node, name) : undefined;
      if (!name || !vol) record('test.configurable_test_state', `Volume ${name} not found in pillar`, String(name), true, `Volume ${name} not found in pillar`);
      else {
        const ops = volumeOps(node, vol);
        await step(
          'metalk8s_volumes.removed',
          `Clean up backing storage for ${name}`,
          name,
          async () => vol.spec.sparseLoopDevice !== undefined && !(await ops.exists()),
          `Volume ${name} cleaned up.`,
          `Volume ${name} already cleaned up.`,
          `Failed to clean up volume ${name}`,
          () => ops.cleanUp(),
          true,
        );
      }
    } else {
      return new MinionReturn([`No matching sls found for '${mods}' in env 'base'`], 1);
    }
    const failed = Object.values(states).some((s) => !s.result);
    return new MinionReturn(states, failed ? 2 : 0);
  };

  const deviceInfo = async (node: string, name: string): Promise<unknown> => {
    const vol = await readVolume(node, name);
    if (!vol) throw new Error(`ValueError: volume ${name} not found in pillar`);
    const ops = volumeOps(node, vol);
    if (!existsSync(ops.persistentPath) && (await ops.isPrepared().catch(() => false))) await disks.settle();
    if (!existsSync(ops.persistentPath)) throw new Error(`Error '${name}' volume path '${ops.persistentPath}' does not exists`);
    const dump = await diskDump(node, ops.persistentPath);
    if (dump.getsize64 === undefined) throw new Error(`KeyError: 'getsize64'`);
    return { size: dump.getsize64, path: ops.persistentPath };
  };

  return {
    'cmd.run_all': async ({ minion, arg }) => cmdRunAll(minion, String(arg[0] ?? '')),
    'disk.dump': async ({ minion, arg }) => diskDump(minion, String(arg[0] ?? '')),
    'state.sls': async ({ minion, arg, kwarg }) => stateSls(minion, kwarg, arg),
    'metalk8s_volumes.device_info': async ({ minion, arg }) => deviceInfo(minion, String(arg[0] ?? '')),
    'metalk8s_volumes.device_name': async ({ minion, arg }) => {
      const path = String(arg[0] ?? '');
      const real = await resolveOwned(minion, path);
      return real ? { success: true, result: basename(real) } : { success: false, result: `Path ${path} is not a symlink or does not exist` };
    },
  };
}
