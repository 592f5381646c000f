/**
 * Real disks for emulated nodes: loop devices on sparse files, attached by the test, each
 * allowlisted for one emulated node, and `systemd-udevd` for the `/dev/disk/by-*` links.
 * Everything attached is detached by `release()`, also after a failure; the host's own block
 * devices are never touched (the emulated node only sees its allowlist, see _storage-node.ts).
 *
 * Needs root and `/dev/loop-control`: without them {@link attachLoopDisks} throws, saying so,
 * so storage tests fail instead of skipping silently. Commands that work here are in
 * platform-reference §E.
 *
 * @module
 */
import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, readlink, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** What a test disk holds when attached. */
export type LoopDiskContent = 'blank' | 'ext4' | 'xfs' | 'gpt' | 'mounted' | 'lvm-pv';

/** One disk of an emulated node. */
export interface LoopDiskSpec {
  /** Emulated node (minion id) that owns the disk. */
  readonly node: string;
  /** Size in bytes (the backing file is sparse). */
  readonly sizeBytes: number;
  /** @default 'blank' */
  readonly content?: LoopDiskContent | undefined;
}

/** An attached test disk. */
export interface LoopDisk extends Required<LoopDiskSpec> {
  /** `/dev/loopN`. */
  readonly device: string;
  readonly backingFile: string;
}

/** The disks of a test run. */
export interface LoopDisks {
  readonly disks: readonly LoopDisk[];
  /** Devices an emulated node may see, whole disks first (`/dev/loopN`). */
  devicesOf(node: string): string[];
  /** Attaches a loop device on a file for a node (a sparse Volume); returns `/dev/loopN`. */
  attachFile(node: string, file: string): Promise<string>;
  /** Detaches a loop device this harness attached (the sparse Volume cleanup). */
  detach(device: string): Promise<void>;
  /** Runs udevadm trigger + settle for the test devices, so by-uuid/by-partuuid links appear. */
  settle(): Promise<void>;
  /** Unmounts, detaches, stops udevd, removes the links and files. Safe to call twice. */
  release(): Promise<void>;
}

/** Thrown when this machine cannot give loop devices to the tests. */
export class LoopDevicesUnavailableError extends Error {}

/** Why loop devices cannot be used here, or undefined when they can. */
export function loopDevicesUnavailable(): string | undefined {
  if (typeof process.getuid === 'function' && process.getuid() !== 0) return 'storage tests need root to attach loop devices (run as root, or in a privileged container)';
  if (!existsSync('/dev/loop-control')) return 'no /dev/loop-control: the kernel has no loop driver here (load the loop module, or give the container the device)';
  return undefined;
}

async function sh(cmd: string, args: readonly string[]): Promise<string> {
  try {
    const { stdout } = await run(cmd, [...args], { env: { ...process.env, LVM_SUPPRESS_FD_WARNINGS: '1' } });
    return stdout;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(' ')} failed: ${(e.stderr ?? e.message).trim()}`);
  }
}

/** Waits until the kernel shows partition 1 of a loop device (sgdisk's re-read races with partx). */
export async function addPartitions(device: string): Promise<void> {
  for (let i = 0; i < 25; i++) {
    await run('partx', ['-a', device]).catch(() => run('partx', ['-u', device]).catch(() => undefined));
    if (existsSync(`${device}p1`)) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`the kernel shows no partition on ${device} after sgdisk`);
}

/**
 * One systemd-udevd for every test process of the machine (a second one cannot bind udev's
 * control socket): test processes register in a directory, the first starts the daemon, the
 * last stops it, by the pid it recorded.
 */
const UDEVD_DIR = join(tmpdir(), 'metalk8s-sdk-udevd');
let udevdUsers = 0;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function livePeers(): Promise<number[]> {
  const users = await readdir(join(UDEVD_DIR, 'users')).catch(() => [] as string[]);
  return users.map(Number).filter((pid) => pid !== process.pid && Number.isInteger(pid) && alive(pid));
}

async function recordedUdevd(): Promise<number | undefined> {
  const pid = Number((await readFile(join(UDEVD_DIR, 'udevd.pid'), 'utf8').catch(() => '')).trim());
  return Number.isInteger(pid) && pid > 0 && alive(pid) && (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).includes('systemd-udevd') ? pid : undefined;
}

async function startUdevd(): Promise<void> {
  udevdUsers++;
  if (udevdUsers > 1) return;
  await mkdir(join(UDEVD_DIR, 'users'), { recursive: true });
  await writeFile(join(UDEVD_DIR, 'users', String(process.pid)), '');
  if (await recordedUdevd()) return;
  const bin = ['/lib/systemd/systemd-udevd', '/usr/lib/systemd/systemd-udevd'].find((p) => existsSync(p));
  if (!bin) {
    udevdUsers--;
    throw new LoopDevicesUnavailableError('systemd-udevd is not installed (apt-get install udev): storage tests need it for /dev/disk/by-uuid links');
  }
  // /dev/disk is udevd's: when it did not exist, the last user removes it with the daemon.
  if (!existsSync('/dev/disk')) await writeFile(join(UDEVD_DIR, 'made-dev-disk'), '');
  // Detached: it serves the other test processes too, until the last one stops it.
  const proc: ChildProcess = spawn(bin, [], { stdio: 'ignore', detached: true });
  proc.unref();
  await new Promise((r) => setTimeout(r, 300));
  if (proc.exitCode !== null || proc.pid === undefined) {
    udevdUsers--;
    throw new LoopDevicesUnavailableError(`systemd-udevd exited at once (code ${proc.exitCode}); is a udevd not started by these tests running?`);
  }
  await writeFile(join(UDEVD_DIR, 'udevd.pid'), String(proc.pid));
}

/** Leaves udevd to the other test processes, or stops it when this was the last; true when stopped. */
async function stopUdevd(): Promise<boolean> {
  if (udevdUsers === 0) return false;
  udevdUsers--;
  if (udevdUsers > 0) return false;
  await rm(join(UDEVD_DIR, 'users', String(process.pid)), { force: true });
  if ((await livePeers()).length > 0) return false;
  const pid = await recordedUdevd();
  if (pid !== undefined) {
    process.kill(pid, 'SIGTERM');
    for (let i = 0; i < 30 && alive(pid); i++) await new Promise((r) => setTimeout(r, 100));
    if (alive(pid)) process.kill(pid, 'SIGKILL');
  }
  await rm(join(UDEVD_DIR, 'udevd.pid'), { force: true });
  if (existsSync(join(UDEVD_DIR, 'made-dev-disk'))) {
    await rm('/dev/disk', { recursive: true, force: true });
    await rm(join(UDEVD_DIR, 'made-dev-disk'), { force: true });
  }
  return true;
}

/** Removes the `/dev/disk` links that point to these kernel names. */
async function removeLinks(names: ReadonlySet<string>): Promise<void> {
  for (const dir of await readdir('/dev/disk').catch(() => [] as string[])) {
    const full = join('/dev/disk', dir);
    for (const link of await readdir(full).catch(() => [] as string[])) {
      const target = await readlink(join(full, link)).catch(() => '');
      if (names.has(basename(target))) await rm(join(full, link), { force: true });
    }
    if ((await readdir(full).catch(() => ['x'])).length === 0) await rm(full, { recursive: true, force: true });
  }
  if ((await readdir('/dev/disk').catch(() => ['x'])).length === 0) await rm('/dev/disk', { recursive: true, force: true });
}

/**
 * Attaches the test disks: sparse files in a new temporary directory, loop devices with
 * partition scanning, the content asked for, and udevd for the links.
 *
 * @throws LoopDevicesUnavailableError when not root or there is no loop driver.
 */
export async function attachLoopDisks(specs: readonly LoopDiskSpec[]): Promise<LoopDisks> {
  const why = loopDevicesUnavailable();
  if (why) throw new LoopDevicesUnavailableError(why);
  const dir = await mkdtemp(join(tmpdir(), 'metalk8s-disks-'));
  const disks: LoopDisk[] = [];
  const extra = new Map<string, { node: string; device: string }>();
  const mounts: string[] = [];
  const vgs: string[] = [];
  let released = false;
  let udevStarted = false;

  const attach = async (file: string): Promise<string> => (await sh('losetup', ['--find', '--show', '--partscan', file])).trim();

  // If the process ends before release() (a killed test worker), detach synchronously on exit.
  const onExit = (): void => {
    if (released) return;
    const quiet = { stdio: 'ignore' } as const;
    for (const m of mounts) {
      try {
        execFileSync('umount', [m], quiet);
      } catch {}
    }
    for (const dev of [...disks.map((d) => d.device), ...[...extra.values()].map((e) => e.device)]) {
      try {
        execFileSync('losetup', ['-d', dev], quiet);
      } catch {}
    }
    if (udevStarted) {
      try {
        execFileSync('rm', ['-f', join(UDEVD_DIR, 'users', String(process.pid))], quiet);
      } catch {}
    }
  };
  process.once('exit', onExit);

  const release = async (): Promise<void> => {
    if (released) return;
    released = true;
    process.removeListener('exit', onExit);
    const errors: string[] = [];
    const attempt = async (what: string, fn: () => Promise<unknown>): Promise<void> => {
      await fn().catch((err: unknown) => errors.push(`${what}: ${(err as Error).message}`));
    };
    for (const m of mounts.reverse()) await attempt(`umount ${m}`, () => sh('umount', [m]));
    for (const vg of vgs) await attempt(`vgremove ${vg}`, () => sh('vgremove', ['-f', vg]));
    const names = new Set<string>();
    const all = [...disks.map((d) => d.device), ...[...extra.values()].map((e) => e.device)];
    for (const dev of all) {
      names.add(basename(dev));
      for (let p = 1; p <= 8; p++) names.add(`${basename(dev)}p${p}`);
      await run('partx', ['-d', dev]).catch(() => undefined);
      await attempt(`losetup -d ${dev}`, () => sh('losetup', ['-d', dev]));
    }
    await removeLinks(names).catch(() => undefined);
    if (udevStarted) await stopUdevd();
    await rm(dir, { recursive: true, force: true });
    if (errors.length > 0) throw new Error(`releasing the test disks: ${errors.join('; ')}`);
  };

  try {
    await startUdevd();
    udevStarted = true;
    let i = 0;
    for (const spec of specs) {
      const file = join(dir, `${spec.node}-disk${i++}.img`);
      await writeFile(file, '');
      await truncate(file, spec.sizeBytes);
      const device = await attach(file);
      const content = spec.content ?? 'blank';
      disks.push({ node: spec.node, sizeBytes: spec.sizeBytes, content, device, backingFile: file });
      if (content === 'ext4' || content === 'mounted') await sh('mkfs.ext4', ['-q', '-F', device]);
      if (content === 'xfs') await sh('mkfs.xfs', ['-q', '-f', device]);
      if (content === 'gpt') {
        await sh('sgdisk', ['--largest-new', '1', '--change-name', '1:data', device]);
        await addPartitions(device);
      }
      if (content === 'mounted') {
        const mnt = join(dir, `mnt-${basename(device)}`);
        await mkdir(mnt);
        await sh('mount', [device, mnt]);
        mounts.push(mnt);
      }
      if (content === 'lvm-pv') {
        const vg = `vg_${spec.node.replace(/[^A-Za-z0-9]/g, '_')}_${i}`;
        await sh('pvcreate', ['-q', '-y', device]);
        await sh('vgcreate', ['-q', vg, device]);
        vgs.push(vg);
      }
    }
    const settle = async (): Promise<void> => {
      await run('udevadm', ['trigger', '--action=change', '--type=devices', '--subsystem-match=block']).catch(() => undefined);
      await run('udevadm', ['settle', '--timeout=20']).catch(() => undefined);
    };
    await settle();
    return {
      disks,
      devicesOf: (node) => [
        ...disks.filter((d) => d.node === node).map((d) => d.device),
        ...[...extra.values()].filter((e) => e.node === node).map((e) => e.device),
      ],
      attachFile: async (node, file) => {
        const device = await attach(resolve(file));
        extra.set(device, { node, device });
        return device;
      },
      detach: async (device) => {
        if (!extra.has(device)) throw new Error(`${device} was not attached by this harness`);
        await run('partx', ['-d', device]).catch(() => undefined);
        await sh('losetup', ['-d', device]);
        extra.delete(device);
        const names = new Set([basename(device), `${basename(device)}p1`]);
        await removeLinks(names).catch(() => undefined);
      },
      settle,
      release,
    };
  } catch (err) {
    await release().catch(() => undefined);
    throw err;
  }
}
