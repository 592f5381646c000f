/**
 * The SDK's reader against images written by xorriso and genisoimage (and by the SDK itself):
 * every file must come back byte for byte, in each view the image offers.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type IsoImage, openIso } from '../../../src/packaging/iso/index.js';
import { makeSourceTree, snapshotTree, type TreeItem } from '../../fixtures/iso/source-tree.js';
import { cli, run } from './_tools.js';

let tmp: string;
let src: string;
let expected: TreeItem[];

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'iso-readback-'));
  src = path.join(tmp, 'src');
  makeSourceTree(src);
  expected = snapshotTree(src);
});

afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

async function snapshotIso(img: IsoImage): Promise<TreeItem[]> {
  const out: TreeItem[] = [];
  for await (const e of img.walk()) {
    const mode = e.mode.toString(8);
    if (e.type === 'directory') out.push({ path: e.path, type: 'directory', mode });
    else if (e.type === 'symlink') out.push({ path: e.path, type: 'symlink', mode: '777', target: e.target ?? '' });
    else {
      const hash = createHash('sha256');
      let size = 0;
      for await (const chunk of img.createReadStream(e)) {
        hash.update(chunk as Uint8Array);
        size += (chunk as Uint8Array).length;
      }
      out.push({ path: e.path, type: 'file', mode, size, sha256: hash.digest('hex') });
    }
  }
  return out;
}

const writers: Record<string, (iso: string) => void> = {
  xorriso: (iso) => {
    const r = run('xorriso', ['-as', 'mkisofs', '-R', '-J', '-joliet-long', '-iso-level', '3', '-V', 'XORRISO', '-o', iso, src]);
    expect(r.status).toBe(0);
  },
  genisoimage: (iso) => {
    const r = run('genisoimage', [
      '-quiet', '-rock', '-joliet', '-joliet-long', '-full-iso9660-filenames', '--iso-level', '3',
      '-input-charset', 'utf-8', '-V', 'GENISOIMAGE', '-o', iso, src,
    ]);
    expect(r.status).toBe(0);
  },
  sdk: (iso) => {
    expect(cli(['iso', 'create', src, '-o', iso, '--volid', 'SDK', '-q']).status).toBe(0);
  },
};

describe.each(Object.keys(writers))('an image written by %s', (writer) => {
  let img: IsoImage;
  beforeAll(async () => {
    const iso = path.join(tmp, `${writer}.iso`);
    writers[writer]!(iso);
    img = await openIso(iso);
  });
  afterAll(async () => {
    await img?.close();
  });

  it('has Rock Ridge and Joliet, and its volume id', () => {
    expect(img.hasRockRidge).toBe(true);
    expect(img.hasJoliet).toBe(true);
    expect(img.volumeId).toBe(writer === 'sdk' ? 'SDK' : writer.toUpperCase());
  });

  it('reads back every file, directory and symlink of the source, byte for byte (Rock Ridge view)', async () => {
    const got = await snapshotIso(img);
    // genisoimage and xorriso do not keep the modes of directories they create themselves: compare
    // files and links in full, directories by name.
    const norm = (list: TreeItem[]) => list.map((e) => (e.type === 'directory' ? { path: e.path, type: e.type } : e));
    expect(norm(got)).toEqual(norm(expected));
  });

  it('finds files by their Joliet names and reads the same bytes', async () => {
    const joliet = await img.list({ view: 'joliet' });
    const names = joliet.map((e) => e.path);
    expect(names).toContain('manifest.yaml');
    expect(names).toContain(`odd/${'é'.repeat(99)}.txt`);
    // genisoimage puts symlinks in the Joliet tree as empty files; xorriso and the SDK leave them out.
    if (writer !== 'genisoimage') expect(names).not.toContain('odd/link-relative');
    const data = await img.readFile('odd/one-mib-plus-one.bin', { view: 'joliet' });
    expect(data.equals(fs.readFileSync(path.join(src, 'odd/one-mib-plus-one.bin')))).toBe(true);
  });

  it('finds MANIFEST.YAML;1 in the primary tree, as MetalK8s does', async () => {
    const entry = await img.stat('/MANIFEST.YAML;1', { view: 'primary' });
    expect(entry.name).toBe('MANIFEST.YAML;1');
    expect((await img.readFile(entry)).toString()).toBe(fs.readFileSync(path.join(src, 'manifest.yaml'), 'utf8'));
  });
});
