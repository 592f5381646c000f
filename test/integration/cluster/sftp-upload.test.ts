/**
 * The ISO upload itself (what `import(iso, { upload })` calls), against a real OpenSSH sshd on
 * 127.0.0.1: the bytes arrive whole through several SFTP writes in flight, under a `.part` name
 * renamed only once its sha256 on the node matches; progress counts acknowledged bytes; a wrong
 * digest or an abort leaves nothing under the final name.
 */
import { createHash, randomBytes } from 'node:crypto';
import { access, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { userInfo } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PassThrough } from 'node:stream';
import { type SshTarget, sshConnect, sshExec, streamingSha256Command, uploadIso } from '../../../src/cluster/_sftp.js';
import { startSshd, type TestSshd } from '../../../src/testing/index.js';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const exists = (p: string) => access(p).then(
  () => true,
  () => false,
);

describe('ISO upload over SFTP', () => {
  let sshd: TestSshd;
  let target: SshTarget;
  let local: string;
  let bytes: Buffer;

  beforeAll(async () => {
    sshd = await startSshd();
    target = { host: '127.0.0.1', port: sshd.port, user: userInfo().username, privateKey: sshd.key };
    await mkdir(path.join(sshd.dir, 'local'));
    local = path.join(sshd.dir, 'local', 'a.iso');
    // Several times the bytes in flight (8 x 254 KiB), and not a multiple of a write.
    bytes = randomBytes(24 * 1024 * 1024 + 12345);
    await writeFile(local, bytes);
  });

  afterAll(async () => {
    await sshd?.stop();
  });

  it('creates the directories, sends the bytes whole with progress, leaves no .part; a second upload sends nothing', async () => {
    const remote = path.join(sshd.dir, 'remote', 'a', 'b', 'a.iso');
    const events: [number, number][] = [];
    expect(await uploadIso(target, local, remote, sha(bytes), { onBytes: (sent, total) => events.push([sent, total]) })).toBe(true);
    expect((await readFile(remote)).equals(bytes)).toBe(true);
    expect(await readdir(path.dirname(remote))).toEqual(['a.iso']);
    expect(events.length).toBeGreaterThan(8);
    expect(events.every(([s, t], i) => t === bytes.length && s > (events[i - 1]?.[0] ?? 0))).toBe(true);
    expect(events.at(-1)).toEqual([bytes.length, bytes.length]);

    const again: number[] = [];
    expect(await uploadIso(target, local, remote, sha(bytes), { onBytes: (s) => again.push(s) })).toBe(false);
    expect(again).toEqual([]);
  });

  it('replaces a different copy of the same size under the final name', async () => {
    const remote = path.join(sshd.dir, 'remote', 'replace.iso');
    await mkdir(path.dirname(remote), { recursive: true });
    await writeFile(remote, randomBytes(bytes.length));
    expect(await uploadIso(target, local, remote, sha(bytes), {})).toBe(true);
    expect((await readFile(remote)).equals(bytes)).toBe(true);
  });

  it('a sha256 that does not match is a typed error, and neither the file nor its .part is left', async () => {
    const remote = path.join(sshd.dir, 'remote', 'bad', 'a.iso');
    const err = await uploadIso(target, local, remote, sha(Buffer.from('something else')), {}).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'ISO_UPLOAD_CHECKSUM_MISMATCH' });
    expect((err as Error).message).toContain(sha(bytes));
    expect(await readdir(path.dirname(remote))).toEqual([]);
  });

  it('an abort during the transfer rejects as cancelled and nothing takes the final name', async () => {
    const remote = path.join(sshd.dir, 'remote', 'abort', 'a.iso');
    const ac = new AbortController();
    let seen = 0;
    const err = await uploadIso(target, local, remote, sha(bytes), {
      signal: ac.signal,
      onBytes: (sent) => {
        seen = sent;
        if (sent > 2 * 1024 * 1024) ac.abort();
      },
    }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'ABORTED' });
    expect(seen).toBeLessThan(bytes.length);
    expect(await exists(remote)).toBe(false);
  });

  for (const [how, python] of [
    ['python3', true],
    ['dd and openssl, without Python', false],
  ] as const) {
    it(`the node hashes the file in the steps given on stdin, to the digest of the whole (${how})`, async () => {
      const client = await sshConnect(target);
      try {
        // The Python branch is the one taken only where the node has python3, as this host does.
        if (python) expect((await sshExec(client, 'command -v python3')).code).toBe(0);
        const input = new PassThrough();
        const run = sshExec(client, streamingSha256Command(local, python), input);
        // Uneven steps, the last one to the end of the file.
        for (const step of [1, 5 * 1024 * 1024 - 1, 7 * 1024 * 1024 + 3]) input.write(`${step}\n`);
        input.end(`${bytes.length - 12 * 1024 * 1024 - 3}\n`);
        const r = await run;
        expect(r.code).toBe(0);
        expect(r.stdout.split(/\s/)[0]).toBe(sha(bytes));
      } finally {
        client.end();
      }
    });
  }

  it('a wrong key is a typed SSH error', async () => {
    const err = await uploadIso({ ...target, privateKey: sshd.otherKey }, local, path.join(sshd.dir, 'remote', 'k.iso'), sha(bytes), {}).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'SSH_FAILED' });
  });
});
