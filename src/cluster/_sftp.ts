/**
 * Copies a Solution ISO to the bootstrap node over SFTP (ssh2: SSH and SFTP are not worth
 * writing by hand), into a temporary name renamed once complete, then checks its sha256 on the
 * node with `sha256sum`. A copy already there with the same sha256 is not sent again.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { posix } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Client, type ConnectConfig, type SFTPWrapper } from 'ssh2';
import { ClusterError, throwIfAborted } from '../errors.js';

/** How to reach the bootstrap node over SSH. */
export interface SshTarget {
  readonly host: string;
  readonly port?: number | undefined;
  readonly user: string;
  /** PEM or OpenSSH private key text. */
  readonly privateKey: string | Buffer;
}

function sshFailure(target: SshTarget, what: string, err: Error): ClusterError {
  return new ClusterError('SSH_FAILED', `${what} on ${target.user}@${target.host}:${target.port ?? 22} failed: ${err.message}`, {
    hint: 'Check the SSH host, port, user and key (the connect() `ssh` option).',
    cause: err,
  });
}

/** Runs one command on an SSH connection: its exit code and outputs. */
export function sshExec(client: Client, command: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    client.exec(command, (err, stream) => {
      if (err) {
        reject(err);
        return;
      }
      let stdout = '';
      let stderr = '';
      stream.on('data', (d: Buffer) => {
        stdout += d.toString('utf8');
      });
      stream.stderr.on('data', (d: Buffer) => {
        stderr += d.toString('utf8');
      });
      stream.on('close', (code: number | null) => resolve({ code: code ?? 0, stdout, stderr }));
    });
  });
}

/** Opens an SSH connection (rejects with ssh2's error; `signal` ends an attempt under way). */
export function sshConnect(target: SshTarget, signal?: AbortSignal): Promise<Client> {
  const client = new Client();
  const config: ConnectConfig = { host: target.host, port: target.port ?? 22, username: target.user, privateKey: target.privateKey, readyTimeout: 20_000 };
  return new Promise<Client>((resolve, reject) => {
    const onAbort = (): void => {
      client.end();
      reject(new Error('cancelled'));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    client.once('ready', () => {
      signal?.removeEventListener('abort', onAbort);
      resolve(client);
    });
    client.once('error', (err) => {
      signal?.removeEventListener('abort', onAbort);
      reject(err);
    });
    client.connect(config);
  });
}

const quote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/** Uploads `local` to `remote`; returns whether bytes were sent. */
export async function uploadIso(
  target: SshTarget,
  local: string,
  remote: string,
  sha256: string,
  options: { readonly signal?: AbortSignal | undefined; readonly onBytes?: ((sent: number, total: number) => void) | undefined },
): Promise<boolean> {
  throwIfAborted(options.signal, 'upload');
  const total = (await stat(local)).size;
  const client = await sshConnect(target).catch((err: Error) => {
    throw sshFailure(target, 'SSH login', err);
  });
  const abort = () => client.end();
  options.signal?.addEventListener('abort', abort, { once: true });
  try {
    const remoteSum = async (): Promise<string | undefined> => {
      const r = await sshExec(client, `sha256sum ${quote(remote)} 2>/dev/null`);
      return r.code === 0 ? r.stdout.trim().split(/\s+/)[0] : undefined;
    };
    if ((await remoteSum()) === sha256) return false;
    const mk = await sshExec(client, `mkdir -p ${quote(posix.dirname(remote))}`);
    if (mk.code !== 0) throw new Error(`mkdir ${posix.dirname(remote)}: ${mk.stderr.trim()}`);
    const sftp = await new Promise<SFTPWrapper>((resolve, reject) => client.sftp((err, s) => (err ? reject(err) : resolve(s))));
    const part = `${remote}.part`;
    let sent = 0;
    const source = createReadStream(local);
    source.on('data', (c) => {
      sent += c.length;
      options.onBytes?.(sent, total);
    });
    await pipeline(source, sftp.createWriteStream(part, { mode: 0o644 }), { signal: options.signal });
    throwIfAborted(options.signal, 'upload');
    const mv = await sshExec(client, `mv -f ${quote(part)} ${quote(remote)}`);
    if (mv.code !== 0) throw new Error(`mv ${part}: ${mv.stderr.trim()}`);
    const got = await remoteSum();
    if (got !== sha256) {
      throw new ClusterError('ISO_UPLOAD_CHECKSUM_MISMATCH', `${remote} on ${target.host} has sha256 ${got ?? '(unreadable)'}, expected ${sha256}`, {
        hint: 'The copy was corrupted on the way or changed on the node: run the import again.',
      });
    }
    return true;
  } catch (err) {
    if (err instanceof ClusterError) throw err;
    throwIfAborted(options.signal, 'upload');
    throw sshFailure(target, 'ISO upload', err as Error);
  } finally {
    options.signal?.removeEventListener('abort', abort);
    client.end();
  }
}
