/**
 * A private containerd for the tests: its own root, state and sockets under a temp folder, no CRI
 * plugin, so it never touches the host's containerd. `ctr` pulls through a hosts.toml mirror that
 * maps MetalK8s' registry name to the test nginx, as MetalK8s configures containerd on its nodes.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from './_servers.js';

/** The registry host name MetalK8s' containerd maps to its repositories endpoints. */
export const METALK8S_REGISTRY = 'metalk8s-registry-from-config.invalid';

export interface Containerd {
  readonly dir: string;
  /** Runs `ctr` against this containerd; rejects with its stderr. */
  ctr(args: readonly string[], timeoutMs?: number): Promise<string>;
  /** Makes `<METALK8S_REGISTRY>/…` resolve to `http://<host>` for pulls. */
  mirror(host: string): Promise<void>;
  /** Why `ctr run` cannot run a container on this machine, or undefined when it can. */
  cannotRun(): Promise<string | undefined>;
  stop(): Promise<void>;
}

/** The binaries the test needs, or the first missing one. */
export function missingTool(): string | undefined {
  for (const t of ['/usr/bin/containerd', '/usr/bin/ctr', '/usr/sbin/runc', '/usr/bin/gcc']) if (!existsSync(t)) return t;
  return undefined;
}

export async function startContainerd(): Promise<Containerd> {
  const dir = await mkdtemp(join(tmpdir(), 'sdk-ctrd-'));
  const sock = join(dir, 'containerd.sock');
  const config = [
    'version = 2',
    `root = "${dir}/root"`,
    `state = "${dir}/state"`,
    'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
    '[grpc]',
    `  address = "${sock}"`,
    '[ttrpc]',
    `  address = "${dir}/ttrpc.sock"`,
    '[debug]',
    '  address = ""',
    '[metrics]',
    '  address = ""',
    '',
  ].join('\n');
  await writeFile(join(dir, 'config.toml'), config);
  const log: Buffer[] = [];
  const proc: ChildProcess = spawn('containerd', ['--config', join(dir, 'config.toml')], { stdio: ['ignore', 'pipe', 'pipe'] });
  proc.stdout?.on('data', (c: Buffer) => log.push(c));
  proc.stderr?.on('data', (c: Buffer) => log.push(c));
  const hostsDir = join(dir, 'certs.d');
  const ctr = (args: readonly string[], timeoutMs = 120_000) => run('ctr', ['--address', sock, '--namespace', 'sdk-test', ...args], { timeoutMs });
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`containerd exited with ${proc.exitCode}:\n${Buffer.concat(log).toString()}`);
    if (existsSync(sock)) {
      try {
        await ctr(['version'], 5000);
        break;
      } catch {
        // not serving yet
      }
    }
    if (Date.now() > deadline) throw new Error(`containerd did not start:\n${Buffer.concat(log).toString()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    dir,
    ctr,
    mirror: async (host) => {
      await mkdir(join(hostsDir, METALK8S_REGISTRY), { recursive: true });
      await writeFile(
        join(hostsDir, METALK8S_REGISTRY, 'hosts.toml'),
        `server = "http://${host}"\n\n[host."http://${host}"]\n  capabilities = ["pull", "resolve"]\n`,
      );
    },
    cannotRun: async () => {
      // A container from a plain rootfs folder with a static binary: if this fails, no image can run.
      const probe = join(dir, 'probe');
      await mkdir(join(probe, 'rootfs'), { recursive: true });
      await writeFile(join(probe, 'p.c'), 'int main(void){return 0;}\n');
      await run('gcc', ['-static', '-O2', '-o', join(probe, 'rootfs', 'p'), join(probe, 'p.c')]);
      try {
        await ctr(['run', '--rm', '--rootfs', join(probe, 'rootfs'), 'sdk-probe', '/p'], 60_000);
        return undefined;
      } catch (err) {
        return (err as Error).message;
      }
    },
    stop: async () => {
      if (proc.exitCode === null && proc.signalCode === null) {
        const done = new Promise<void>((r) => proc.once('exit', () => r()));
        proc.kill('SIGTERM');
        const t = setTimeout(() => proc.kill('SIGKILL'), 5000);
        await done;
        clearTimeout(t);
      }
      // Snapshots may still be mounted (overlayfs); unmount before removing the folder.
      const mounts = (await readFile('/proc/self/mounts', 'utf8').catch(() => ''))
        .split('\n')
        .map((l) => l.split(' ')[1] ?? '')
        .filter((m) => m.startsWith(dir))
        .sort()
        .reverse();
      for (const m of mounts) await run('umount', ['-l', m]).catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** `ctr image pull` arguments for a MetalK8s-style reference through the mirror. */
export function pullArgs(c: Containerd, ref: string): string[] {
  return ['image', 'pull', '--hosts-dir', join(c.dir, 'certs.d'), ref];
}
