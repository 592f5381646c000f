/**
 * A real OpenSSH sshd on 127.0.0.1 for tests, on a free port, with its own host key and one
 * authorised client key, in a temporary directory removed by `stop()`.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const pexec = promisify(execFile);

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => resolve(typeof a === 'object' && a ? a.port : 0));
    });
  });
}

/** A running sshd. */
export interface TestSshd {
  readonly port: number;
  /** Working directory (keys, config); tests may put files under it. */
  readonly dir: string;
  /** Path of the authorised client private key, and its text. */
  readonly keyFile: string;
  readonly key: string;
  /** A private key sshd does not accept. */
  readonly otherKey: string;
  stop(): Promise<void>;
}

/** Starts sshd, and waits until it accepts connections. */
export async function startSshd(): Promise<TestSshd> {
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
    stop,
  };
}
