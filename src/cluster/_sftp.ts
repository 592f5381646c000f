/**
 * Copies a Solution ISO to the bootstrap node over SFTP (ssh2: SSH and SFTP are not worth
 * writing by hand) with several WRITE requests in flight, into a temporary name whose sha256 is
 * checked on the node before it is renamed. A copy already there with the same sha256 is not sent
 * again.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { posix } from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import { Client, type ConnectConfig, type SFTPWrapper, type Stats } from 'ssh2';
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

/**
 * Runs one command on an SSH connection: its exit code and outputs. With `input`, what it gives
 * becomes the command's stdin, which ends when it ends: the command can start before all of its
 * input is known.
 */
export function sshExec(client: Client, command: string, input?: Readable): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    client.exec(command, (err, stream) => {
      if (err) {
        reject(err);
        return;
      }
      input?.pipe(stream);
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
      // No Nagle: a command's or a request's last small packet is sent at once, not after the
      // peer's delayed ACK (up to 40 ms a round trip).
      client.setNoDelay(true);
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

/**
 * SFTP WRITE requests in flight at once, and the bytes of each. One request at a time (a plain
 * `createWriteStream`) waits a round trip per chunk, and with the small chunks a read stream
 * gives, TCP's delayed ACK adds 40 ms to most of them (2 MiB/s here); eight requests of ~254 KiB,
 * what OpenSSH's sftp-server accepts in one packet (256 KiB less ssh2's allowance for the header),
 * fill sshd's 2 MiB channel window and send as fast as `scp` with the same cipher does
 * (bench/upload.mjs).
 */
const WRITES_IN_FLIGHT = 8;
const WRITE_BYTES = 256 * 1024 - 2048;

/**
 * The shell command printing the node's sha256 of `path`. `openssl dgst` first: it uses the
 * CPU's SHA extensions, about 4x the speed of coreutils' `sha256sum` (for 1 GiB: 0.5 s instead of
 * 2 s), which stays the fallback for a node without openssl.
 */
const sha256Command = (path: string): string => `{ openssl dgst -sha256 -r ${quote(path)} || sha256sum ${quote(path)}; } 2>/dev/null`;

/**
 * Python 3 (every MetalK8s node has it, for Salt) reading the steps on stdin and the file with
 * `pread`: hashlib's SHA-256 is OpenSSL's, and the bytes are read once, not passed through a pipe
 * (which, with `dd`, doubles the CPU time of the hash).
 */
const STREAMING_SHA256_PY = [
  'import hashlib, os, sys',
  'h = hashlib.sha256()',
  'fd = os.open(sys.argv[1], os.O_RDONLY)',
  'at = 0',
  'for line in sys.stdin:',
  '    end = at + int(line)',
  '    while at < end:',
  '        b = os.pread(fd, min(1 << 20, end - at), at)',
  '        if not b:',
  '            sys.exit(1)',
  '        h.update(b)',
  '        at += len(b)',
  'print(h.hexdigest())',
].join('\n');

/**
 * The shell command hashing `path` while it is being written: each line on its stdin gives how
 * many more bytes from the start are written whole, and those are hashed (by Python, else by
 * GNU `dd` of exactly those bytes into one openssl or sha256sum), the digest printed when stdin
 * ends. The hash then runs on the node during the transfer instead of after it. Any failure (no
 * GNU dd, a short read) gives a wrong digest, never a wrong match; the caller then hashes the
 * whole file again. (`python` false leaves Python out, for the tests of the fallback.)
 */
export const streamingSha256Command = (path: string, python = true): string =>
  (python ? `if command -v python3 >/dev/null 2>&1; then exec python3 -c ${quote(STREAMING_SHA256_PY)} ${quote(path)}; fi; ` : '') +
  `at=0; while read -r n; do dd if=${quote(path)} bs=1M skip="$at" count="$n" iflag=skip_bytes,count_bytes status=none || exit 1; at=$((at + n)); done` +
  ' | { openssl dgst -sha256 -r || sha256sum; } 2>/dev/null';

/** Bytes written whole between two lines to {@link streamingSha256Command}'s stdin. */
const HASH_STEP = 32 * 1024 * 1024;

/** The digest in `sha256Command`'s output, or undefined when it failed. */
function digestOf(r: { code: number; stdout: string }): string | undefined {
  const digest = r.stdout.trim().split(/\s+/)[0]?.toLowerCase();
  return r.code === 0 && digest !== undefined && /^[0-9a-f]{64}$/.test(digest) ? digest : undefined;
}

const sftpCall = <T>(run: (cb: (err: Error | null | undefined, value: T) => void) => void): Promise<T> =>
  new Promise<T>((resolve, reject) => run((err, value) => (err ? reject(err) : resolve(value))));

/** SFTP status NO_SUCH_FILE (ssh2 puts the status in `code`). */
const isMissing = (err: unknown): boolean => (err as { code?: unknown }).code === 2;

/** The remote file's attributes, or undefined when there is none. */
const remoteStat = (sftp: SFTPWrapper, path: string): Promise<Stats | undefined> =>
  sftpCall<Stats>((cb) => sftp.stat(path, cb)).catch((err: unknown) => {
    if (isMissing(err)) return undefined;
    throw err;
  });

/** `mkdir -p` over SFTP (no shell started on the node). */
async function makeDirectories(sftp: SFTPWrapper, dir: string): Promise<void> {
  const st = await remoteStat(sftp, dir);
  if (st) {
    if (!st.isDirectory()) throw new Error(`${dir} is not a directory`);
    return;
  }
  const parent = posix.dirname(dir);
  if (parent !== dir) await makeDirectories(sftp, parent);
  await sftpCall<undefined>((cb) => sftp.mkdir(dir, (err) => cb(err, undefined))).catch(async (err: unknown) => {
    // Made meanwhile by someone else is as good.
    if (!(await remoteStat(sftp, dir))?.isDirectory()) throw err;
  });
}

/** Renames over an existing file: OpenSSH's posix-rename extension, else `mv -f` on the node. */
async function renameOver(client: Client, sftp: SFTPWrapper, from: string, to: string): Promise<void> {
  try {
    await sftpCall<undefined>((cb) => sftp.ext_openssh_rename(from, to, (err) => cb(err, undefined)));
    return;
  } catch (err) {
    if (!/does not support/.test((err as Error).message)) throw err;
  }
  const mv = await sshExec(client, `mv -f ${quote(from)} ${quote(to)}`);
  if (mv.code !== 0) throw new Error(`mv ${from}: ${mv.stderr.trim()}`);
}

/**
 * Writes `local` to `remote` with {@link WRITES_IN_FLIGHT} WRITE requests in flight; `onWritten`
 * gets the length of the start of the file the server has confirmed whole (every write in it
 * answered). A failed write, a failed read or `signal` stops the reads and rejects at once; the
 * caller then ends the connection, which closes the handle.
 */
async function putFile(sftp: SFTPWrapper, local: string, remote: string, onWritten: (bytes: number) => void, signal?: AbortSignal): Promise<void> {
  const handle = await sftpCall<Buffer>((cb) => sftp.open(remote, 'w', { mode: 0o644 }, cb));
  await new Promise<void>((resolve, reject) => {
    const source = createReadStream(local, { highWaterMark: WRITE_BYTES });
    // Writes in the order sent, each marked once answered; `written` is where the first
    // unanswered one starts.
    const pending: { end: number; done: boolean }[] = [];
    let written = 0;
    let inFlight = 0;
    let position = 0;
    let ended = false;
    let failed = false;
    const fail = (err: unknown): void => {
      if (failed) return;
      failed = true;
      signal?.removeEventListener('abort', onAbort);
      source.destroy();
      reject(err);
    };
    const onAbort = (): void => fail(signal?.reason ?? new Error('aborted'));
    signal?.addEventListener('abort', onAbort, { once: true });
    const finishIfDone = (): void => {
      if (!ended || inFlight > 0 || failed) return;
      signal?.removeEventListener('abort', onAbort);
      resolve();
    };
    source.on('data', (chunk) => {
      const buf = chunk as Buffer;
      const entry = { end: position + buf.length, done: false };
      pending.push(entry);
      inFlight++;
      sftp.write(handle, buf, 0, buf.length, position, (err) => {
        inFlight--;
        if (failed) return;
        if (err) {
          fail(err);
          return;
        }
        entry.done = true;
        const before = written;
        while (pending[0]?.done) written = pending.shift()?.end ?? written;
        if (written > before) onWritten(written);
        if (inFlight < WRITES_IN_FLIGHT) source.resume();
        finishIfDone();
      });
      position += buf.length;
      if (inFlight >= WRITES_IN_FLIGHT) source.pause();
    });
    source.once('end', () => {
      ended = true;
      finishIfDone();
    });
    source.once('error', fail);
    if (signal?.aborted) onAbort();
  });
  await sftpCall<undefined>((cb) => sftp.close(handle, (err) => cb(err, undefined)));
}

/**
 * Uploads `local` to `remote` and checks its sha256 on the node; returns whether bytes were
 * sent (false: a copy with that sha256 is there already). The bytes go to `<remote>.part`, whose
 * sha256 is checked before it is renamed: a corrupt copy never takes the final name, and is
 * removed. `onBytes` reports the bytes the node has acknowledged; `signal` ends the connection.
 *
 * The node hashes the copy while it arrives ({@link streamingSha256Command}), so the check
 * costs little more than the transfer. Only what needs a shell on the node starts one (that
 * hash, and the sha256 of a same-size copy already there); stat, mkdir and the rename are SFTP
 * requests.
 */
export async function uploadIso(
  target: SshTarget,
  local: string,
  remote: string,
  sha256: string,
  options: { readonly signal?: AbortSignal | undefined; readonly onBytes?: ((sent: number, total: number) => void) | undefined },
): Promise<boolean> {
  throwIfAborted(options.signal, 'upload');
  const total = (await stat(local)).size;
  const client = await sshConnect(target, options.signal).catch((err: Error) => {
    throwIfAborted(options.signal, 'upload');
    throw sshFailure(target, 'SSH login', err);
  });
  const abort = () => client.end();
  options.signal?.addEventListener('abort', abort, { once: true });
  const part = `${remote}.part`;
  const hashInput = new PassThrough();
  try {
    const sftp = await sftpCall<SFTPWrapper>((cb) => client.sftp(cb));
    const existing = await remoteStat(sftp, remote);
    if (existing?.size === total && digestOf(await sshExec(client, sha256Command(remote))) === sha256) return false;
    await makeDirectories(sftp, posix.dirname(remote));
    const streamed = sshExec(client, streamingSha256Command(part), hashInput).catch(() => ({ code: 1, stdout: '' }));
    let hashed = 0;
    const hashTo = (written: number): void => {
      hashInput.write(`${written - hashed}\n`);
      hashed = written;
    };
    await putFile(
      sftp,
      local,
      part,
      (written) => {
        options.onBytes?.(written, total);
        if (written - hashed >= HASH_STEP) hashTo(written);
      },
      options.signal,
    );
    throwIfAborted(options.signal, 'upload');
    if (total > hashed) hashTo(total);
    hashInput.end();
    // A digest that does not match is confirmed on the whole file, read again.
    let got = digestOf(await streamed);
    if (got !== sha256) got = digestOf(await sshExec(client, sha256Command(part)));
    if (got !== sha256) {
      await sftpCall<undefined>((cb) => sftp.unlink(part, (err) => cb(err, undefined))).catch(() => {});
      throw new ClusterError('ISO_UPLOAD_CHECKSUM_MISMATCH', `${part} on ${target.host} has sha256 ${got ?? '(unreadable)'}, expected ${sha256}`, {
        hint: 'The copy was corrupted on the way or changed on the node (it was removed): run the import again.',
      });
    }
    await renameOver(client, sftp, part, remote);
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
