/** `solution iso ls | cat | extract` on an image written by `solution iso create`. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeSourceTree, snapshotTree } from '../../fixtures/iso/source-tree.js';
import { cli } from './_tools.js';

let tmp: string;
let src: string;
let iso: string;

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'iso-cli-'));
  src = path.join(tmp, 'src');
  makeSourceTree(src);
  iso = path.join(tmp, 'out.iso');
  const r = cli(['iso', 'create', src, '-o', iso, '--json']);
  expect(r.status).toBe(0);
  const result = r.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { type: string; data?: { volumeId?: string; size?: number } })
    .find((e) => e.type === 'result');
  expect(result?.data?.size).toBe(fs.statSync(iso).size);
});

afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('solution iso', () => {
  it('ls --long shows modes, sizes and symlink targets', () => {
    const r = cli(['iso', 'ls', '--long', iso]);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^-rw-r----- +\d+ 2000-01-01 00:00:00 odd\/private.key$/m);
    expect(r.stdout).toMatch(/^-rwxr-xr-x +\d+ .* odd\/run.sh$/m);
    expect(r.stdout).toMatch(/^drwx------ +2048 .* odd\/private-dir$/m);
    expect(r.stdout).toContain('odd/link-relative -> ../manifest.yaml');
  });

  it('ls --view primary shows the names MetalK8s reads', () => {
    const r = cli(['iso', 'ls', '--view', 'primary', iso]);
    expect(r.stdout.split('\n')).toContain('MANIFEST.YAML;1');
  });

  it('cat prints one file; a missing path fails with a readable error', () => {
    const r = cli(['iso', 'cat', iso, 'manifest.yaml']);
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(fs.readFileSync(path.join(src, 'manifest.yaml'), 'utf8'));
    const missing = cli(['iso', 'cat', iso, 'nope.yaml']);
    expect(missing.status).toBe(1);
    expect(missing.stderr).toContain('"/nope.yaml" is not in the image');
    expect(missing.stderr).toContain('[ISO_NOT_FOUND]');
  });

  it('extract recreates the source tree', () => {
    const out = path.join(tmp, 'extracted');
    const r = cli(['iso', 'extract', iso, out, '-q']);
    expect(r.status).toBe(0);
    expect(snapshotTree(out)).toEqual(snapshotTree(src));
  });

  it('create refuses a tree deeper than 64 levels, and writes nothing', () => {
    const deep = path.join(tmp, 'deep');
    const dirs = Array.from({ length: 64 }, (_, i) => `d${i}`).join('/');
    fs.mkdirSync(path.join(deep, dirs), { recursive: true });
    fs.writeFileSync(path.join(deep, dirs, 'x'), 'x');
    const out = path.join(tmp, 'deep.iso');
    const r = cli(['iso', 'create', deep, '-o', out]);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('[ISO_DEPTH_EXCEEDED]');
    expect(fs.existsSync(out)).toBe(false);
  });
});

describe('solution iso create --preserve-times', () => {
  it('stores a file time just before a second boundary as that second, not the next one', async () => {
    const { openIso } = await import('../../../src/packaging/iso/index.js');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iso-times-'));
    try {
      fs.mkdirSync(path.join(dir, 'src'));
      const file = path.join(dir, 'src', 'edge.txt');
      fs.writeFileSync(file, 'x\n');
      // 20.9999 s: Node's `stat().mtime` rounds this up to 21 s.
      fs.utimesSync(file, 1_700_000_020.9999, 1_700_000_020.9999);
      const iso = path.join(dir, 'times.iso');
      const r = cli(['iso', 'create', path.join(dir, 'src'), '-o', iso, '--preserve-times', '-q']);
      expect(r.status, r.stderr).toBe(0);
      const img = await openIso(iso);
      try {
        expect((await img.stat('edge.txt')).mtime.getTime()).toBe(1_700_000_020_000);
      } finally {
        await img.close();
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
