import { mkdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ValidationError } from '../../../src/errors.js';
import { type BlobStore, buildImage, type BuildImageOptions, openBlobStore, writeOciLayout } from '../../../src/packaging/images/index.js';
import { run, tempDir } from './_servers.js';

let dir: string;
let store: BlobStore;

beforeAll(async () => {
  dir = await tempDir('build');
  store = await openBlobStore({ dir: join(dir, 'store') });
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const options = (bin: string): BuildImageOptions => ({
  layers: [
    { files: [{ path: '/etc/app/config.yaml', content: 'level: info\n' }, { path: '/usr/local/bin/app', source: bin, mode: 0o755 }] },
    { files: [{ path: '/data', type: 'directory', mode: 0o770 }, { path: '/usr/bin/app', type: 'symlink', target: '/usr/local/bin/app' }] },
  ],
  config: { entrypoint: ['/usr/local/bin/app'], cmd: ['--serve'], env: { B: '2', A: '1' }, user: '1000:1000', workdir: '/data', labels: { vendor: 'acme' } },
});

describe('buildImage', () => {
  it('gives the same digests when built twice, into fresh stores', async () => {
    const bin = join(dir, 'app.bin');
    await writeFile(bin, Buffer.alloc(300_000, 7));
    const a = await buildImage(options(bin), { store });
    const other = await openBlobStore({ dir: join(dir, 'store2') });
    const b = await buildImage(options(bin), { store: other });
    expect(b.manifestDigest).toBe(a.manifestDigest);
    expect(b.sourceDigest).toBe(a.sourceDigest);
    expect(b.layers.map((l) => l.digest)).toEqual(a.layers.map((l) => l.digest));
    await writeFile(bin, Buffer.alloc(300_000, 8));
    const c = await buildImage(options(bin), { store });
    expect(c.layers[0]!.digest).not.toBe(a.layers[0]!.digest);
    expect(c.layers[1]!.digest).toBe(a.layers[1]!.digest);
  });

  it('is accepted by oci-image-tool validate, and its layer holds what was asked (read back by umoci)', async () => {
    const bin = join(dir, 'app2.bin');
    await writeFile(bin, 'binary');
    const image = await buildImage(options(bin), { store });
    const layout = join(dir, 'oci');
    await writeOciLayout([{ image, reference: '1.0.0' }], layout, { store });
    const out = await run('oci-image-tool', ['validate', '--type', 'image', '--ref', 'name=1.0.0', layout]);
    expect(out).toMatch(/Validation succeeded/);
    const bundle = join(dir, 'bundle');
    await run('umoci', ['unpack', '--rootless', '--image', `${layout}:1.0.0`, bundle]);
    expect(await readFile(join(bundle, 'rootfs/usr/local/bin/app'), 'utf8')).toBe('binary');
    expect(await readFile(join(bundle, 'rootfs/etc/app/config.yaml'), 'utf8')).toBe('level: info\n');
    const cfg = JSON.parse(await readFile(join(bundle, 'config.json'), 'utf8'));
    expect(cfg.process.args).toEqual(['/usr/local/bin/app', '--serve']);
    expect(cfg.process.env).toEqual(expect.arrayContaining(['A=1', 'B=2']));
    expect(cfg.process.cwd).toBe('/data');
  });

  it('builds a layer from a directory, keeping symlinks and modes', async () => {
    const src = join(dir, 'tree');
    await mkdir(join(src, 'bin'), { recursive: true });
    await writeFile(join(src, 'bin', 'tool'), '#!/bin/sh\n', { mode: 0o755 });
    await symlink('tool', join(src, 'bin', 'alias'));
    const image = await buildImage({ layers: [{ directory: src, prefix: '/opt/x' }] }, { store });
    const layout = join(dir, 'oci-dir');
    await writeOciLayout([{ image, reference: 'v1' }], layout, { store });
    const listing = await run('tar', ['-tvzf', store.path(image.layers[0]!.digest)]);
    expect(listing).toMatch(/^-rwxr-xr-x 0\/0 +10 1970-01-01 00:00 opt\/x\/bin\/tool$/m);
    expect(listing).toMatch(/opt\/x\/bin\/alias -> tool/);
    expect(listing.split('\n')[0]).toMatch(/ opt\/$/);
  });

  it('rejects paths escaping the image and duplicate paths, naming the field', async () => {
    await expect(buildImage({ layers: [{ files: [{ path: '../etc/passwd', content: 'x' }] }] }, { store })).rejects.toThrow(ValidationError);
    const err = await buildImage({ layers: [{ files: [{ path: '/a', content: 'x' }, { path: 'a', content: 'y' }] }] }, { store }).catch((e) => e);
    expect(err).toBeInstanceOf(ValidationError);
    expect(err.issues[0].path).toBe('layers[0]');
    await expect(buildImage({ layers: [] }, { store })).rejects.toThrow(/at least one layer/);
  });
});
