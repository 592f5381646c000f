/**
 * A file over 4 GiB becomes a multi-extent file (sections of 0xFFFFF800 bytes) that bsdtar,
 * xorriso and the SDK's reader all read back whole. The source is sparse, the image is streamed:
 * nothing holds 4 GiB in memory. Costs about 4.3 GB of disk for a minute; removed afterwards.
 */
import { createHash } from 'node:crypto';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ISO_MAX_SECTION, openIso } from '../../../src/packaging/iso/index.js';
import { cli, isoinfoLbas, run } from './_tools.js';

const SIZE = 4 * 1024 ** 3 + 3 * 1024 * 1024 + 123;
let tmp: string;
let src: string;
let iso: string;
let expectedSha: string;

function sha256OfFile(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    fs.createReadStream(file, { highWaterMark: 4 * 1024 * 1024 })
      .on('data', (c) => hash.update(c))
      .on('error', reject)
      .on('end', () => resolve(hash.digest('hex')));
  });
}

/** sha256 of what a command prints on stdout, streamed. */
function sha256OfCommand(cmd: string, args: string[]): Promise<{ sha: string; bytes: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    const hash = createHash('sha256');
    let bytes = 0;
    child.stdout.on('data', (c: Buffer) => {
      hash.update(c);
      bytes += c.length;
    });
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve({ sha: hash.digest('hex'), bytes }) : reject(new Error(`${cmd} exited ${code}`))));
  });
}

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'iso-large-'));
  src = path.join(tmp, 'src');
  fs.mkdirSync(path.join(src, 'big'), { recursive: true });
  fs.writeFileSync(path.join(src, 'manifest.yaml'), 'kind: Solution\n');
  const big = path.join(src, 'big/big.bin');
  const fd = fs.openSync(big, 'w');
  fs.ftruncateSync(fd, SIZE);
  // Markers at the start, across the boundary between the two sections, and at the very end.
  fs.writeSync(fd, Buffer.from('HEAD'), 0, 4, 0);
  fs.writeSync(fd, Buffer.from('ACROSS-THE-SECTION-BOUNDARY'), 0, 27, ISO_MAX_SECTION - 10);
  fs.writeSync(fd, Buffer.from('TAIL'), 0, 4, SIZE - 4);
  fs.closeSync(fd);
  expectedSha = await sha256OfFile(big);
  iso = path.join(tmp, 'large.iso');
  const r = cli(['iso', 'create', src, '-o', iso, '--volid', 'LARGE', '--preserve-times', '-q']);
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
}, 600_000);

afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('a file over 4 GiB', () => {
  it('is written as two sections, as isoinfo -l shows', () => {
    const lbas = isoinfoLbas(iso).get('/big/big.bin');
    expect(lbas).toHaveLength(2);
    expect(lbas![1]! - lbas![0]!).toBe(ISO_MAX_SECTION / 2048);
  });

  it('comes back whole from the SDK reader', async () => {
    const img = await openIso(iso);
    try {
      const e = await img.stat('big/big.bin');
      expect(e.size).toBe(SIZE);
      expect(e.extents.map((x) => x.size)).toEqual([ISO_MAX_SECTION, SIZE - ISO_MAX_SECTION]);
      const hash = createHash('sha256');
      for await (const c of img.createReadStream(e)) hash.update(c as Uint8Array);
      expect(hash.digest('hex')).toBe(expectedSha);
    } finally {
      await img.close();
    }
  }, 300_000);

  it('comes back whole from bsdtar', async () => {
    const { sha, bytes } = await sha256OfCommand('bsdtar', ['-xOf', iso, 'big/big.bin']);
    expect(bytes).toBe(SIZE);
    expect(sha).toBe(expectedSha);
    const listing = run('bsdtar', ['-tvf', iso]).stdout;
    expect(listing).toMatch(new RegExp(`-rw-r--r-- .* ${SIZE} .* big/big.bin`));
  }, 300_000);

  it('matches its source tree for xorriso -compare_r', () => {
    const r = run('xorriso', ['-indev', iso, '-compare_r', src, '/']);
    const all = r.stdout + r.stderr;
    expect(all).toContain('Both file objects match as far as expectable.');
    expect(all).not.toContain('Differences detected');
  }, 300_000);
});
