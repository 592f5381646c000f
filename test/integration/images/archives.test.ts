import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, open, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import * as tar from 'tar-stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RegistryError } from '../../../src/errors.js';
import {
  type BlobStore,
  fetchImage,
  openBlobStore,
  parsePlatform,
  planRegistryLayout,
  registryCommonConfig,
  renderRegistryConfig,
  writeLayout,
  writeOciLayout,
} from '../../../src/packaging/images/index.js';
import { testImage, writeMultiPlatformLayout } from './_images.js';
import { run, startNginx, tempDir } from './_servers.js';

let dir: string;
let store: BlobStore;
let umociLayout: string;

beforeAll(async () => {
  dir = await tempDir('archives');
  store = await openBlobStore({ dir: join(dir, 'store') });
  // An OCI layout made by umoci, with a file and a runtime config.
  umociLayout = join(dir, 'umoci');
  await run('umoci', ['init', '--layout', umociLayout]);
  await run('umoci', ['new', '--image', `${umociLayout}:1.0`]);
  const ins = join(dir, 'ins');
  await mkdir(ins);
  await writeFile(join(ins, 'hello.txt'), 'hello from umoci\n');
  await run('umoci', ['insert', '--rootless', '--image', `${umociLayout}:1.0`, join(ins, 'hello.txt'), '/hello.txt']);
  await run('umoci', ['config', '--image', `${umociLayout}:1.0`, '--config.cmd', '/hello.txt', '--config.user', '1000']);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function skopeoRaw(ref: string): Promise<{ digest: string; layers: string[] }> {
  const m = JSON.parse(await run('skopeo', ['inspect', '--raw', ref]));
  return { digest: (await run('skopeo', ['inspect', '--format', '{{.Digest}}', ref])).trim(), layers: m.layers.map((l: { digest: string }) => l.digest) };
}

/** Serves images through nginx and pulls them back with skopeo: returns the layer digests skopeo got. */
async function roundTrip(images: { name: string; tag: string; image: Awaited<ReturnType<typeof fetchImage>> }[]): Promise<void> {
  const plan = await planRegistryLayout(images, { store });
  const root = await tempDir('rt');
  await writeLayout(plan, root);
  const nginx = await startNginx(renderRegistryConfig(plan.registryConfigTemplate, { repository: 'rt-1.0.0', registryRoot: join(root, 'images') }), registryCommonConfig());
  try {
    for (const i of images) {
      const ref = `docker://${nginx.host}/rt-1.0.0/${i.name}:${i.tag}`;
      expect((await run('skopeo', ['inspect', '--tls-verify=false', '--format', '{{.Digest}}', ref])).trim()).toBe(i.image.manifestDigest);
      await run('skopeo', ['copy', '--quiet', '--src-tls-verify=false', ref, `oci:${join(root, 'back')}:${i.tag}`]);
    }
  } finally {
    await nginx.stop();
    await rm(root, { recursive: true, force: true });
  }
}

describe('OCI layout input', () => {
  it('reads an umoci layout by ref, keeps its digests, and round-trips through the static registry', async () => {
    const image = await fetchImage({ kind: 'oci-layout', path: umociLayout, reference: '1.0' }, { store });
    const ref = await skopeoRaw(`oci:${umociLayout}:1.0`);
    expect(image.sourceDigest).toBe(ref.digest);
    expect(image.layers.map((l) => l.digest)).toEqual(ref.layers);
    await roundTrip([{ name: 'hello', tag: '1.0', image }]);
  });

  it('resolves an index in a layout to the requested platform', async () => {
    const amd = await testImage(store, new Uint8Array(10), 100, parsePlatform('linux/amd64'));
    const arm = await testImage(store, new Uint8Array(10), 100, parsePlatform('linux/arm64/v8'));
    const layout = join(dir, 'multi');
    await writeMultiPlatformLayout(store, layout, [amd, arm]);
    const got = await fetchImage({ kind: 'oci-layout', path: layout, reference: 'multi', platform: parsePlatform('linux/arm64') }, { store });
    expect(got.sourceDigest).toBe(arm.sourceDigest);
  });

  it('names the missing ref and lists the available ones', async () => {
    const err = await fetchImage({ kind: 'oci-layout', path: umociLayout, reference: '9.9' }, { store }).catch((e) => e);
    expect(err).toBeInstanceOf(RegistryError);
    expect(err.code).toBe('OCI_LAYOUT_REF_NOT_FOUND');
    expect(err.hint).toContain('1.0');
  });

  it('catches a corrupted blob in the layout', async () => {
    const copy = join(dir, 'umoci-bad');
    await run('cp', ['-a', umociLayout, copy]);
    const image = await fetchImage({ kind: 'oci-layout', path: umociLayout, reference: '1.0' }, { store });
    const layer = join(copy, 'blobs/sha256', image.layers.at(-1)!.digest.slice(7));
    const fh = await open(layer, 'r+');
    await fh.write(Buffer.from('XX'), 0, 2, 20);
    await fh.close();
    const fresh = await openBlobStore({ dir: join(dir, 'fresh-store') });
    const err = await fetchImage({ kind: 'oci-layout', path: copy, reference: '1.0' }, { store: fresh }).catch((e) => e);
    expect(err.code).toBe('BLOB_DIGEST_MISMATCH');
    expect(await fresh.has(image.layers.at(-1)!.digest)).toBe(false);
  });
});

describe('docker-archive input (streamed, never extracted)', () => {
  it('reads a skopeo docker-archive (uncompressed layers checked against diff_ids) and round-trips', async () => {
    const tarPath = join(dir, 'hello.tar');
    await run('skopeo', ['copy', '--quiet', `oci:${umociLayout}:1.0`, `docker-archive:${tarPath}:vendor/hello:1.0`]);
    const image = await fetchImage({ kind: 'docker-archive', path: tarPath, reference: 'vendor/hello:1.0' }, { store });
    const ref = await skopeoRaw(`docker-archive:${tarPath}`);
    expect(image.config.digest).toBe(JSON.parse(await run('skopeo', ['inspect', '--raw', `docker-archive:${tarPath}`])).config.digest);
    expect(image.layers.map((l) => l.digest)).toEqual(ref.layers);
    await roundTrip([{ name: 'hello', tag: '1.0', image }]);
    // gzip-compressed archives (docker save | gzip) are read too.
    const gz = join(dir, 'hello.tar.gz');
    await pipeline((await open(tarPath)).createReadStream(), createGzip(), createWriteStream(gz));
    const again = await fetchImage({ kind: 'docker-archive', path: gz }, { store });
    expect(again.manifestDigest).toBe(image.manifestDigest);
  });

  it('streams large layers straight into the store (docker-archive and oci-archive)', async () => {
    const big = await testImage(store, randomBytes(5 << 20), 6 << 20);
    const layout = join(dir, 'big-oci');
    await writeOciLayout([{ image: big, reference: '1' }], layout, { store });
    const dockerTar = join(dir, 'big.tar');
    const ociTar = join(dir, 'big-oci.tar');
    await run('skopeo', ['copy', '--quiet', `oci:${layout}:1`, `docker-archive:${dockerTar}:vendor/big:1`]);
    await run('skopeo', ['copy', '--quiet', `oci:${layout}:1`, `oci-archive:${ociTar}:1`]);
    const fresh = await openBlobStore({ dir: join(dir, 'big-store') });
    const fromDocker = await fetchImage({ kind: 'docker-archive', path: dockerTar }, { store: fresh });
    expect(fromDocker.layers.map((l) => l.digest)).toEqual((await skopeoRaw(`docker-archive:${dockerTar}`)).layers);
    expect(fromDocker.layers.every((l) => l.size > 4 << 20)).toBe(true);
    const fromOci = await fetchImage({ kind: 'docker-archive', path: ociTar, reference: '1' }, { store: fresh });
    expect(fromOci.sourceDigest).toBe(big.sourceDigest);
    for (const l of [...fromDocker.layers, ...fromOci.layers]) await fresh.verify(l.digest);
  });

  it('reads an OCI-in-tar archive (Docker 25+ / oci-archive)', async () => {
    const tarPath = join(dir, 'hello-oci.tar');
    await run('skopeo', ['copy', '--quiet', `oci:${umociLayout}:1.0`, `oci-archive:${tarPath}:1.0`]);
    const image = await fetchImage({ kind: 'docker-archive', path: tarPath }, { store });
    const ref = await skopeoRaw(`oci:${umociLayout}:1.0`);
    expect(image.sourceDigest).toBe(ref.digest);
    await roundTrip([{ name: 'hello-oci', tag: '1.0', image }]);
  });

  async function hostileTar(name: string, entries: (Partial<tar.Header> & Pick<tar.Header, "name">)[]): Promise<string> {
    const p = join(dir, name);
    const pack = tar.pack();
    const done = pipeline(pack, createWriteStream(p));
    for (const e of entries) e.type === "file" ? pack.entry(e, "x") : pack.entry(e);
    pack.finalize();
    await done;
    return p;
  }

  it.each([
    ['a .. path', { name: '../../etc/cron.d/evil', type: 'file' as const, size: 1 }, /escapes the archive/],
    ['an absolute path', { name: '/etc/passwd', type: 'file' as const, size: 1 }, /escapes the archive/],
    ['a symlink out of the archive', { name: 'layer.tar', type: 'symlink' as const, linkname: '/etc/shadow' }, /symlink pointing outside/],
    ['a relative symlink out of the archive', { name: 'a/layer.tar', type: 'symlink' as const, linkname: '../../x' }, /symlink pointing outside/],
    ['a hard link out of the archive', { name: 'layer.tar', type: 'link' as const, linkname: '../../etc/shadow' }, /hard link pointing outside/],
    ['a device', { name: 'dev', type: 'character-device' as const }, /has type character-device/],
  ])('rejects a tarball with %s, storing nothing', async (_what, entry, message) => {
    const fresh = await openBlobStore({ dir: join(dir, `hostile-${Math.random()}`) });
    const p = await hostileTar(`hostile-${Math.random()}.tar`, [{ name: 'manifest.json', type: 'file', size: 1 }, entry]);
    const err = await fetchImage({ kind: 'docker-archive', path: p }, { store: fresh }).catch((e) => e);
    expect(err).toBeInstanceOf(RegistryError);
    expect(err.code).toBe('ARCHIVE_ENTRY_REJECTED');
    expect(err.message).toMatch(message);
    expect(await readdir(join(fresh.dir, 'blobs/sha256'))).toEqual([]);
  });

  it('rejects a file that is not a tarball, and an archive whose layer does not match the config', async () => {
    const junk = join(dir, 'junk.tar');
    await writeFile(junk, Buffer.alloc(4096, 0x41));
    const err = await fetchImage({ kind: 'docker-archive', path: junk }, { store }).catch((e) => e);
    expect(err.code).toBe('ARCHIVE_INVALID');
    // Swap a layer's bytes: the diff_id check catches it.
    const tarPath = join(dir, 'hello.tar');
    const bad = join(dir, 'bad.tar');
    const extract = tar.extract();
    const pack = tar.pack();
    const out = pipeline(pack, createWriteStream(bad));
    const reading = pipeline((await open(tarPath)).createReadStream(), extract);
    for await (const e of extract) {
      const chunks: Buffer[] = [];
      for await (const c of e) chunks.push(c as Buffer);
      let body = Buffer.concat(chunks);
      if (e.header.name.endsWith('.tar') && body.length > 0) {
        body = Buffer.from(body);
        body[body.length - 1] = (body[body.length - 1] ?? 0) ^ 0xff;
      }
      pack.entry({ ...e.header, size: body.length }, body);
    }
    await reading;
    pack.finalize();
    await out;
    const err2 = await fetchImage({ kind: 'docker-archive', path: bad }, { store }).catch((e) => e);
    expect(err2.code).toBe('ARCHIVE_LAYER_MISMATCH');
    expect(JSON.parse(await readFile(join(dir, 'umoci/index.json'), 'utf8')).manifests).toHaveLength(1);
  });
});
