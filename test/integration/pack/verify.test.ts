import { copyFile, open, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openIso } from '../../../src/packaging/iso/iso-reader.js';
import { writeIso } from '../../../src/packaging/iso/iso-writer.js';
import type { PackResult } from '../../../src/packaging/pack.js';
import { verify } from '../../../src/packaging/verify.js';
import { EXAMPLE, ed25519, packFolder, sh, solution, tempDir } from './_pack.js';

// The example packed and signed once; each test damages its own copy.
let dir: string;
let packed: PackResult;
let keys: ReturnType<typeof ed25519>;

beforeAll(async () => {
  dir = await tempDir('verify');
  keys = ed25519();
  packed = await packFolder(EXAMPLE, join(dir, 'out'), join(dir, 'cache'), { signingKey: keys.privatePem });
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Copies the ISO (and its SHA256SUM line, and signature) into a new folder. */
async function copyIso(name: string): Promise<string> {
  const to = join(dir, name);
  await sh('mkdir', ['-p', to]);
  const iso = join(to, 'zenko-2.6.0.iso');
  await copyFile(packed.path, iso);
  await copyFile(packed.checksumPath, join(to, 'SHA256SUM'));
  await copyFile(packed.signaturePath!, `${iso}.sig`);
  return iso;
}

async function flipByte(path: string, position: number): Promise<void> {
  const fh = await open(path, 'r+');
  try {
    const b = Buffer.alloc(1);
    await fh.read(b, 0, 1, position);
    b[0] = b[0]! ^ 0xff;
    await fh.write(b, 0, 1, position);
  } finally {
    await fh.close();
  }
}

describe('verify on a packed example', () => {
  it('passes: checksum, signature, every file, every blob, MetalK8s rules', async () => {
    const r = await verify({ path: packed.path, publicKey: keys.publicPem });
    expect(r.issues).toEqual([]);
    expect(r.ok).toBe(true);
    expect(r.checksum).toBe('match');
    expect(r.signature).toBe('valid');
    expect(r.indexed).toBe(true);
    expect(r.sha256).toBe(packed.sha256);
    expect(r.blobsChecked).toBe(18);
    expect(r.solution).toEqual({ name: 'zenko', version: '2.6.0' });
  });

  it('is what MetalK8s reads: isoinfo extracts /MANIFEST.YAML;1 from the primary tree', () => {
    const r = sh('isoinfo', ['-x', '/MANIFEST.YAML;1', '-i', packed.path]);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('kind: Solution');
    expect(r.stdout).toContain('name: zenko');
  });

  it('the CLI names a key file it cannot read', () => {
    const r = solution('verify', packed.path, '--key', join(dir, 'pub.pem'));
    // The key file does not exist yet: a readable error, exit 1.
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('VERIFY_KEY_UNREADABLE');
  });

  it('the CLI with the key exits 0 and reports a valid signature', async () => {
    await writeFile(join(dir, 'pub.pem'), keys.publicPem);
    const r = solution('verify', packed.path, '--key', join(dir, 'pub.pem'));
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^OK /);
    expect(r.stdout).toContain('signature  valid');
    const j = solution('verify', packed.path, '--json');
    expect(j.status).toBe(0);
    const data = JSON.parse(j.stdout.trim().split('\n').pop()!).data;
    expect(data.ok).toBe(true);
    expect(data.signature).toBe('unchecked');
    expect(data.issues.map((i: { code: string }) => i.code)).toEqual(['SIGNATURE_NOT_CHECKED']);
  });

  it('catches a flipped byte in a blob, names the blob, and the CLI exits 1', async () => {
    const iso = await copyIso('flipped');
    const img = await openIso(iso);
    const cloudserver = packed.images.find((i) => i.name === 'cloudserver')!;
    const blob = `images/cloudserver/8.8.45/${cloudserver.layers[1]!.digest.slice(7)}`;
    let lba: number;
    try {
      lba = (await img.stat(blob)).extents[0]!.lba;
    } finally {
      await img.close();
    }
    await flipByte(iso, lba * 2048 + 100);
    const r = await verify({ path: iso, publicKey: keys.publicPem });
    expect(r.ok).toBe(false);
    const codes = r.issues.map((i) => `${i.code} ${i.path}`);
    expect(codes).toContain(`BLOB_DIGEST_MISMATCH ${blob}`);
    expect(r.issues.map((i) => i.code)).toEqual(expect.arrayContaining(['CHECKSUM_MISMATCH', 'SIGNATURE_INVALID']));
    expect(r.issues.find((i) => i.code === 'BLOB_DIGEST_MISMATCH')!.message).toMatch(/not the digest it is named by/);
    const cli = solution('verify', iso);
    expect(cli.status).toBe(1);
    expect(cli.stdout).toMatch(/^FAILED /);
    expect(cli.stdout).toContain(`${blob}: content has sha256`);
    expect(cli.stdout).toContain('[BLOB_DIGEST_MISMATCH]');
  });

  it('catches a flipped byte in a small file against /sdk/index.json', async () => {
    const iso = await copyIso('flipped-crd');
    const img = await openIso(iso);
    const crd = 'operator/deploy/crds/zenko.io_zenkos_crd.yaml';
    const lba = (await img.stat(crd)).extents[0]!.lba;
    await img.close();
    await flipByte(iso, lba * 2048 + 10);
    const r = await verify({ path: iso });
    expect(r.issues.filter((i) => i.code === 'FILE_DIGEST_MISMATCH').map((i) => i.path)).toEqual([crd]);
  });

  it('catches a truncated ISO', async () => {
    const iso = await copyIso('truncated');
    const size = packed.size;
    await truncate(iso, Math.floor(size / 2));
    const r = await verify({ path: iso });
    expect(r.ok).toBe(false);
    const t = r.issues.find((i) => i.code === 'ISO_TRUNCATED');
    expect(t?.message).toBe(`the file has ${Math.floor(size / 2)} bytes but its volume descriptor says ${size}: the ISO is truncated`);
    expect(r.issues.some((i) => i.code === 'CHECKSUM_MISMATCH')).toBe(true);
    const cli = solution('verify', iso);
    expect(cli.status).toBe(1);
    expect(cli.stdout).toContain('[ISO_TRUNCATED]');
  });

  it('catches an ISO cut inside its directories (cannot even be listed)', async () => {
    const iso = await copyIso('cut');
    await truncate(iso, 20 * 2048);
    const r = await verify({ path: iso });
    expect(r.ok).toBe(false);
    expect(r.issues.map((i) => i.code)).toContain('ISO_TRUNCATED');
  });

  it('catches a wrong signature and a missing one', async () => {
    const iso = await copyIso('wrong-sig');
    const other = ed25519();
    const r = await verify({ path: iso, publicKey: other.publicPem });
    expect(r.signature).toBe('invalid');
    expect(r.issues.map((i) => i.code)).toEqual(['SIGNATURE_INVALID']);
    expect(r.issues[0]!.message).toContain('signature does not match this ISO and key');
    await writeFile(join(dir, 'other.pem'), other.publicPem);
    const cli = solution('verify', iso, '--key', join(dir, 'other.pem'));
    expect(cli.status).toBe(1);
    expect(cli.stdout).toContain('[SIGNATURE_INVALID]');

    await writeFile(`${iso}.sig`, 'not base64 at all!\n');
    expect((await verify({ path: iso, publicKey: keys.publicPem })).issues.map((i) => i.code)).toEqual(['SIGNATURE_MALFORMED']);
    await rm(`${iso}.sig`);
    const missing = await verify({ path: iso, publicKey: keys.publicPem });
    expect(missing.issues.map((i) => i.code)).toEqual(['SIGNATURE_MISSING']);
  });

  it('refuses a key that is not Ed25519 with a typed error', async () => {
    const { generateKeyPairSync } = await import('node:crypto');
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
    await expect(verify({ path: packed.path, publicKey: rsa })).rejects.toMatchObject({ code: 'VERIFY_KEY_INVALID' });
  });

  it('reports a SHA256SUM line that does not match, and a missing SHA256SUM as a warning', async () => {
    const iso = await copyIso('sums');
    await writeFile(join(dir, 'sums', 'SHA256SUM'), `${'0'.repeat(64)}  zenko-2.6.0.iso\n`);
    const bad = await verify({ path: iso });
    expect(bad.issues.map((i) => i.code)).toEqual(['CHECKSUM_MISMATCH', 'SIGNATURE_NOT_CHECKED']);
    await rm(join(dir, 'sums', 'SHA256SUM'));
    const none = await verify({ path: iso });
    expect(none.ok).toBe(true);
    expect(none.issues.filter((i) => i.severity === 'warning').map((i) => i.code)).toContain('CHECKSUM_FILE_MISSING');
    // Warnings pass, unless --strict.
    expect(solution('verify', iso).status).toBe(0);
    const strict = solution('verify', iso, '--strict');
    expect(strict.status).toBe(1);
    expect(strict.stdout).toMatch(/^FAILED .*: 0 error\(s\), 2 warning\(s\)/);
  });

  it('an image of more than 64 MiB, hashed on the second core: its sha256 matches SHA256SUM, and one byte changed is found', async () => {
    const big = join(dir, 'big');
    await sh('mkdir', ['-p', big]);
    const iso = join(big, 'big.iso');
    const data = Buffer.alloc(70 << 20);
    for (let i = 0; i < data.length; i += 4096) data.writeUInt32LE(i, i);
    const written = await writeIso({ output: iso, volumeId: 'BIG', entries: [{ path: 'data.bin', type: 'file', source: { kind: 'bytes', data } }] });
    await writeFile(join(big, 'SHA256SUM'), `${written.sha256}  big.iso\n`);
    const good = await verify({ path: iso });
    expect(good.checksum).toBe('match');
    expect(good.sha256).toBe(written.sha256);
    // One byte of the file's data, 40 MiB into the image.
    const fh = await open(iso, 'r+');
    await fh.write(Buffer.from([0xff]), 0, 1, 40 << 20);
    await fh.close();
    const bad = await verify({ path: iso });
    expect(bad.checksum).toBe('mismatch');
    expect(bad.ok).toBe(false);
  });

  it('a file that is not an ISO is one issue, not a crash', async () => {
    const p = join(dir, 'not-an.iso');
    await writeFile(p, Buffer.alloc(64 * 2048, 7));
    const r = await verify({ path: p });
    expect(r.ok).toBe(false);
    expect(r.issues[0]!.code).toBe('ISO_NOT_ISO9660');
    expect((await readFile(p)).length).toBe(64 * 2048);
  });
});
