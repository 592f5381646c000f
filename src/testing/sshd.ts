/**
 * A real OpenSSH sshd on 127.0.0.1 for tests and benchmarks of what the SDK does over SSH (the
 * ISO upload, node preflight): on a free port, with its own host key and one authorised client
 * key, in a temporary directory removed by `stop()`. It needs OpenSSH's `sshd` and `ssh-keygen`
 * (Debian: openssh-server), and the right to create `/run/sshd`.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './_ports.js';

const pexec = promisify(execFile);

/** A running sshd (see {@link startSshd}). */
export interface TestSshd {
  /** Its port on 127.0.0.1. */
  readonly port: number;
  /** Working directory (keys, config); tests may put files under it. */
  readonly dir: string;
  /** Path of the authorised client private key (OpenSSH format, ed25519). */
  readonly keyFile: string;
  /** The text of that key (the `privateKey` of `connect({ ssh })`). */
  readonly key: string;
  /** A private key sshd does not accept. */
  readonly otherKey: string;
  /** The sshd process id (its CPU time includes that of the connections it served, once they end). */
  readonly pid: number;
  /** What sshd has logged so far (stderr; at `LogLevel DEBUG1` it names each connection's cipher). */
  log(): string;
  /** Stops sshd and removes its directory. */
  stop(): Promise<void>;
}

/** Options of {@link startSshd}. */
export interface SshdOptions {
  /** Extra `sshd_config` lines (e.g. `LogLevel DEBUG1`, `Ciphers ...`), after the harness's own. */
  readonly config?: readonly string[] | undefined;
}

/**
 * Starts sshd on 127.0.0.1, and waits until it accepts connections. The user is the one running
 * this process; SFTP is OpenSSH's internal-sftp.
 *
 * @example
 * ```ts
 * const sshd = await startSshd();
 * const cluster = await connect({ ..., ssh: { host: '127.0.0.1', port: sshd.port, user: userInfo().username, privateKey: sshd.key } });
 * await sshd.stop();
 * ```
 */
export async function startSshd(options: SshdOptions = {}): Promise<TestSshd> {
  const dir = await mkdtemp(path.join(tmpdir(), 'sdk-sshd-'));
  await pexec('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path.join(dir, 'host_key')]);
  await pexec('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path.join(dir, 'client_key')]);
  await writeFile(path.join(dir, 'authorized_keys'), await readFile(path.join(dir, 'client_key.pub')));
  const port = await freePort();
  const conf = path.join(dir, 'sshd_config');
  await writeFile(
    conf,
    [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${path.join(dir, 'host_key')}`,
      `PidFile ${path.join(dir, 'sshd.pid')}`,
      `AuthorizedKeysFile ${path.join(dir, 'authorized_keys')}`,
      'PermitRootLogin prohibit-password',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'UsePAM no',
      'StrictModes no',
      'Subsystem sftp internal-sftp',
      ...(options.config ?? []),
      '',
    ].join('\n'),
  );
  // sshd refuses to start without its privilege separation directory.
  await mkdir('/run/sshd', { recursive: true, mode: 0o755 });
  const sshd: ChildProcess = spawn('/usr/sbin/sshd', ['-D', '-e', '-f', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  sshd.stderr?.on('data', (d: Buffer) => {
    log += d.toString();
  });
  const stop = async (): Promise<void> => {
    if (sshd.exitCode === null) {
      const done = new Promise((r) => sshd.once('exit', r));
      sshd.kill('SIGTERM');
      await done;
    }
    await rm(dir, { recursive: true, force: true });
  };
  for (let i = 0; ; i++) {
    const up = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => {
        s.end();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (up) break;
    if (i > 100 || sshd.exitCode !== null) {
      await stop();
      throw new Error(`sshd did not start: ${log}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    port,
    dir,
    keyFile: path.join(dir, 'client_key'),
    key: await readFile(path.join(dir, 'client_key'), 'utf8'),
    otherKey: await readFile(path.join(dir, 'host_key'), 'utf8'),
    pid: sshd.pid ?? 0,
    log: () => log,
    stop,
  };
}
