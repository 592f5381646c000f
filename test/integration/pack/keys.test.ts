import { readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pack, type PackResult } from '../../../src/packaging/pack.js';
import { verify } from '../../../src/packaging/verify.js';
import { defineSolution } from '../../../src/solution/define-solution.js';
import { EPOCH, solution, tempDir } from './_pack.js';

// solution keygen, signing with its key, and what verify refuses: a private key given as the
// public one, a SHA256SUM with conflicting lines, a named checksum file that is not there.
let dir: string;
let packed: PackResult;

beforeAll(async () => {
  dir = await tempDir('keys');
  const acme = defineSolution({
    name: 'acme',
    version: '1.0.0',
    operator: { image: 'acme-operator' },
    images: [{ name: 'acme-operator', tag: '1.0.0', source: { kind: 'build', layers: [{ files: [{ path: '/usr/bin/acme-operator', content: 'x', mode: 0o755 }] }] } }],
  });
  packed = await pack({ solution: acme, outDir: join(dir, 'out'), cacheDir: join(dir, 'cache'), sourceDateEpoch: EPOCH });
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('solution keygen', () => {
  it('writes an Ed25519 pair, the private key 0600, and never replaces a key', async () => {
    const key = join(dir, 'vendor.pem');
    const r = solution('keygen', key);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/fingerprint {2}sha256:[0-9a-f]{64}/);
    expect((await stat(key)).mode & 0o777).toBe(0o600);
    expect((await stat(join(dir, 'vendor.pub.pem'))).mode & 0o777).toBe(0o644);
    expect(await readFile(key, 'utf8')).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    const before = await readFile(key, 'utf8');
    const again = solution('keygen', key);
    expect(again.status).toBe(1);
    expect(again.stderr).toMatch(/already exists; keygen never replaces a key \[KEY_FILE_EXISTS\]/);
    expect(await readFile(key, 'utf8')).toBe(before);
  });

  it('its key signs an ISO that verify accepts with the public key, and refuses as --key', async () => {
    const key = join(dir, 'sign.pem');
    expect(solution('keygen', key).status).toBe(0);
    const signed = await pack({
      solution: defineSolution({
        name: 'acme',
        version: '1.0.1',
        operator: { image: 'acme-operator' },
        images: [{ name: 'acme-operator', tag: '1.0.1', source: { kind: 'build', layers: [{ files: [{ path: '/usr/bin/acme-operator', content: 'x', mode: 0o755 }] }] } }],
      }),
      outDir: join(dir, 'signed'),
      cacheDir: join(dir, 'cache'),
      signingKey: await readFile(key, 'utf8'),
      sourceDateEpoch: EPOCH,
    });
    const ok = solution('verify', signed.path, '--key', join(dir, 'sign.pub.pem'));
    expect(ok.status, ok.stderr + ok.stdout).toBe(0);
    const priv = solution('verify', signed.path, '--key', key);
    expect(priv.status).toBe(1);
    expect(priv.stderr).toMatch(/is a private key; verify takes the public key \[VERIFY_KEY_IS_PRIVATE\]/);
    expect(priv.stderr).not.toMatch(/BEGIN PRIVATE KEY/);
  });
});

describe('verify and SHA256SUM', () => {
  it('two different lines for the ISO in SHA256SUM are refused, whichever comes first', async () => {
    const sums = join(dir, 'conflict.SHA256SUM');
    const name = packed.path.split('/').pop();
    for (const lines of [
      [`${packed.sha256}  ${name}`, `${'0'.repeat(64)}  ${name}`],
      [`${'0'.repeat(64)}  ${name}`, `${packed.sha256}  ${name}`],
    ]) {
      await writeFile(sums, `${lines.join('\n')}\n`);
      const r = await verify({ path: packed.path, checksumPath: sums });
      expect(r.ok).toBe(false);
      expect(r.checksum).toBe('mismatch');
      expect(r.issues).toContainEqual(expect.objectContaining({ code: 'CHECKSUM_CONFLICT', severity: 'error' }));
    }
    // The same line twice is not a conflict.
    await writeFile(sums, `${packed.sha256}  ${name}\n${packed.sha256} *${name}\n`);
    expect((await verify({ path: packed.path, checksumPath: sums })).checksum).toBe('match');
  });

  it('a --checksum-file that does not exist is an error; without the option a missing SHA256SUM stays a warning', async () => {
    const r = solution('verify', packed.path, '--checksum-file', join(dir, 'nope.SHA256SUM'));
    expect(r.status).toBe(1);
    expect(r.stderr + r.stdout).toMatch(/the checksum file given cannot be read \(ENOENT\) \[CHECKSUM_FILE_MISSING\]/);
    await rm(packed.checksumPath);
    const plain = await verify({ path: packed.path });
    expect(plain.ok).toBe(true);
    expect(plain.issues).toContainEqual(expect.objectContaining({ code: 'CHECKSUM_FILE_MISSING', severity: 'warning' }));
  });
});
