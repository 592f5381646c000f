/**
 * Images written by the SDK, checked by independent readers: isoinfo, file, xorriso, bsdtar,
 * isovfy and a fuseiso mount.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openIso, writeIso } from '../../../src/packaging/iso/index.js';
import { makeSourceTree, type SourceTree, snapshotTree } from '../../fixtures/iso/source-tree.js';
import { cli, isoinfoLbas, run } from './_tools.js';

let tmp: string;
let src: string;
let tree: SourceTree;
let iso: string;

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'iso-tools-'));
  src = path.join(tmp, 'src');
  tree = makeSourceTree(src);
  iso = path.join(tmp, 'example.iso');
  const r = cli(['iso', 'create', src, '-o', iso, '--volid', 'Example 1.0.0', '--preserve-times', '-q']);
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
});

afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('an image written by `solution iso create`', () => {
  it('is reported by isoinfo with Rock Ridge, Joliet and its volume id', () => {
    const out = run('isoinfo', ['-d', '-i', iso]).stdout;
    expect(out).toContain('Volume id: Example 1.0.0');
    expect(out).toContain('Rock Ridge signatures version 1 found');
    expect(out).toContain('Joliet with UCS level 3 found');
    expect(out).toContain('Logical block size is: 2048');
  });

  it('gives the manifest to `isoinfo -x /MANIFEST.YAML;1`, as MetalK8s reads it', () => {
    const r = run('isoinfo', ['-x', '/MANIFEST.YAML;1', '-i', iso]);
    expect(r.stdout).toBe(fs.readFileSync(path.join(src, 'manifest.yaml'), 'utf8'));
  });

  it('is recognised by file(1) as ISO 9660 with its volume id', () => {
    expect(run('file', [iso]).stdout).toContain("ISO 9660 CD-ROM filesystem data 'Example 1.0.0'");
  });

  it('matches its source tree for xorriso -compare_r', () => {
    const r = run('xorriso', ['-indev', iso, '-compare_r', src, '/']);
    const all = r.stdout + r.stderr;
    expect(all).toContain('Both file objects match as far as expectable.');
    expect(all).not.toContain('Differences detected');
  });

  it('extracts with bsdtar into a tree identical to the source (names, modes, symlinks, contents)', () => {
    const out = path.join(tmp, 'bsdtar');
    fs.mkdirSync(out);
    const r = run('bsdtar', ['-xpf', iso, '-C', out]);
    expect(r.stderr).toBe('');
    expect(snapshotTree(out)).toEqual(snapshotTree(src));
  });

  it('passes isovfy without errors', () => {
    const out = run('isovfy', [iso]).stdout;
    expect(out).toContain('No errors found');
  });

  it('stores the two identical blobs in one extent (equal LBAs in isoinfo -l)', () => {
    const lbas = isoinfoLbas(iso);
    const a = lbas.get(`/${tree.sharedBlobs[0]}`);
    const b = lbas.get(`/${tree.sharedBlobs[1]}`);
    expect(a).toBeDefined();
    expect(a).toEqual(b);
    const manifest = lbas.get('/manifest.yaml');
    expect(manifest).toBeDefined();
    expect(manifest).not.toEqual(a);
  });

  it('is byte-identical when written twice from the same tree', () => {
    const again = path.join(tmp, 'again.iso');
    expect(cli(['iso', 'create', src, '-o', again, '--volid', 'Example 1.0.0', '--preserve-times', '-q']).status).toBe(0);
    expect(fs.readFileSync(again).equals(fs.readFileSync(iso))).toBe(true);
    fs.rmSync(again);
  });

  it('shows the same tree through a fuseiso mount', (ctx) => {
    const mnt = path.join(tmp, 'mnt');
    fs.mkdirSync(mnt);
    if (!fs.existsSync('/dev/fuse')) {
      console.log('fuseiso part not run: /dev/fuse does not exist in this environment');
      ctx.skip();
    }
    const m = run('fuseiso', [iso, mnt]);
    if (m.status !== 0) {
      console.log(`fuseiso part not run: the mount failed (${m.stderr.trim() || `exit ${m.status}`})`);
      ctx.skip();
    }
    try {
      const mounted = snapshotTree(mnt);
      // fuseiso shows files as the image records them; compare what it exposes.
      const expected = snapshotTree(src).map((e) => ({ path: e.path, type: e.type }));
      expect(mounted.map((e) => ({ path: e.path, type: e.type }))).toEqual(expected);
      expect(fs.readFileSync(path.join(mnt, 'manifest.yaml'))).toEqual(fs.readFileSync(path.join(src, 'manifest.yaml')));
      expect(fs.readlinkSync(path.join(mnt, 'odd/link-relative'))).toBe('../manifest.yaml');
    } finally {
      run('fusermount', ['-u', mnt]);
    }
  });
});

describe('writeIso with streamed sources', () => {
  it('shares one extent between entries with the same contentKey, as isoinfo shows', async () => {
    const blob = Buffer.alloc(5000, 7);
    const out = path.join(tmp, 'streamed.iso');
    let opened = 0;
    const stream = () => ({
      kind: 'stream' as const,
      size: blob.length,
      contentKey: 'sha256:abc',
      open: async function* () {
        opened++;
        yield blob.subarray(0, 1000);
        yield blob.subarray(1000);
      },
    });
    const result = await writeIso({
      output: out,
      volumeId: 'Streamed',
      entries: [
        { path: 'manifest.yaml', type: 'file', source: { kind: 'bytes', data: 'kind: Solution\n' } },
        { path: 'images/a/1.0/blob', type: 'file', source: stream() },
        { path: 'images/b/2.0/blob', type: 'file', source: stream() },
      ],
    });
    expect(opened).toBe(1);
    expect(result.dedupedFiles).toBe(1);
    expect(result.dedupedBytes).toBe(5000);
    const lbas = isoinfoLbas(out);
    expect(lbas.get('/images/a/1.0/blob')).toEqual(lbas.get('/images/b/2.0/blob'));
    expect(run('isoinfo', ['-x', '/IMAGES/B/2_0/BLOB.;1', '-i', out]).stdout).toBe(blob.toString());
    const img = await openIso(out);
    try {
      expect(await img.readFile('images/b/2.0/blob')).toEqual(blob);
    } finally {
      await img.close();
    }
    expect(run('sha256sum', [out]).stdout.split(' ')[0]).toBe(result.sha256);
  });
});
