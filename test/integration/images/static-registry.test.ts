import { randomBytes } from 'node:crypto';
import { readdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256Digest } from '../../../src/packaging/images/_digest.js';
import {
  type BlobStore,
  fetchImage,
  type LayoutImage,
  MediaTypes,
  openBlobStore,
  planRegistryLayout,
  type RegistryLayoutPlan,
  registryCommonConfig,
  renderRegistryConfig,
  writeLayout,
} from '../../../src/packaging/images/index.js';
import { pushImages, testImage } from './_images.js';
import { run, type StaticRegistry, startNginx, startRegistry, tempDir } from './_servers.js';

// The whole path: images pushed to docker-registry, pulled by the SDK (OCI manifests), laid out
// as MetalK8s' static registry (v2s2), served by real nginx with the rendered snippet, pulled by skopeo.
let dir: string;
let store: BlobStore;
let images: LayoutImage[];
let plan: RegistryLayoutPlan;
let nginx: StaticRegistry;
const repository = 'example-solution-1.2.3';

beforeAll(async () => {
  dir = await tempDir('static');
  const src = await openBlobStore({ dir: join(dir, 'src-store') });
  const base = randomBytes(300_000);
  const op = await testImage(src, base, 100_000);
  const ui = await testImage(src, base, 80_000);
  const reg = await startRegistry();
  try {
    await pushImages(src, dir, reg.host, [
      { repo: 'vendor/operator', tag: '1.2.3', image: op },
      { repo: 'vendor/ui', tag: '1.2.3', image: ui },
    ]);
    store = await openBlobStore({ dir: join(dir, 'store') });
    const fop = await fetchImage({ kind: 'registry', reference: `${reg.host}/vendor/operator:1.2.3`, plainHttp: true }, { store });
    const fui = await fetchImage({ kind: 'registry', reference: `${reg.host}/vendor/ui:1.2.3`, plainHttp: true }, { store });
    images = [
      { name: 'example-solution-operator', tag: '1.2.3', image: fop },
      { name: 'example-solution-operator', tag: 'latest', image: fop },
      { name: 'example-solution-ui', tag: '1.2.3', image: fui },
    ];
  } finally {
    await reg.stop();
  }
  plan = await planRegistryLayout(images, { store });
  const root = join(dir, 'iso-root');
  await writeLayout(plan, root);
  const snippet = renderRegistryConfig(plan.registryConfigTemplate, { repository, registryRoot: join(root, 'images') });
  nginx = await startNginx(snippet, registryCommonConfig());
});
afterAll(async () => {
  await nginx?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('MetalK8s static registry layout served by nginx', () => {
  it('lays out v2s2 manifests, version files and every blob of each image in its own folder', async () => {
    const root = join(dir, 'iso-root');
    expect((await readdir(join(root, 'images'))).sort()).toEqual(['example-solution-operator', 'example-solution-ui']);
    const tagDir = join(root, 'images/example-solution-operator/1.2.3');
    const manifest = JSON.parse(await readFile(join(tagDir, 'manifest.json'), 'utf8'));
    expect(manifest.schemaVersion).toBe(2);
    expect(manifest.mediaType).toBe(MediaTypes.dockerManifest);
    expect(manifest.config.mediaType).toBe(MediaTypes.dockerConfig);
    expect(manifest.layers.map((l: { mediaType: string }) => l.mediaType)).toEqual([MediaTypes.dockerLayerGzip, MediaTypes.dockerLayerGzip]);
    expect(await readFile(join(tagDir, 'version'), 'utf8')).toBe('Directory Transport Version: 1.1\n');
    const files = (await readdir(tagDir)).sort();
    const expected = [manifest.config.digest, ...manifest.layers.map((l: { digest: string }) => l.digest)].map((d: string) => d.slice(7));
    expect(files).toEqual([...expected, 'manifest.json', 'version'].sort());
    // Blobs are hard links into the store: no byte copied.
    const st = await stat(join(tagDir, expected[1]!));
    expect(st.ino).toBe((await stat(store.path(manifest.layers[0].digest))).ino);
    // The layers are byte-identical to the source image's.
    expect(manifest.layers.map((l: { digest: string }) => l.digest)).toEqual(images[0]!.image.layers.map((l) => l.digest));
    // The plan stores the shared base layer once.
    const blobs = plan.files.filter((f) => f.kind === 'blob');
    const distinct = new Map(blobs.map((f) => [f.digest, f.size]));
    expect(plan.uniqueBlobBytes).toBe([...distinct.values()].reduce((x, y) => x + y, 0));
    expect(distinct.size).toBeLessThan(blobs.length);
  });

  it('serves every image to skopeo with the v2s2 digest, by tag and by digest', async () => {
    for (const img of images) {
      const ref = `docker://${nginx.host}/${repository}/${img.name}:${img.tag}`;
      const digest = (await run('skopeo', ['inspect', '--tls-verify=false', '--format', '{{.Digest}}', ref])).trim();
      expect(digest).toBe(img.image.manifestDigest);
      const out = join(dir, `pulled-${img.name}-${img.tag}`);
      await run('skopeo', ['copy', '--quiet', '--src-tls-verify=false', ref, `oci:${out}:x`]);
      const index = JSON.parse(await readFile(join(out, 'index.json'), 'utf8'));
      const m = JSON.parse(await readFile(join(out, 'blobs/sha256', index.manifests[0].digest.slice(7)), 'utf8'));
      expect(m.layers.map((l: { digest: string }) => l.digest)).toEqual(img.image.layers.map((l) => l.digest));
      const byDigest = `docker://${nginx.host}/${repository}/${img.name}@${img.image.manifestDigest}`;
      await run('skopeo', ['copy', '--quiet', '--src-tls-verify=false', byDigest, `oci:${out}-d:x`]);
    }
  });

  it('answers the tags list, the Docker-Content-Digest header, and 404s like MetalK8s', async () => {
    const base = `http://${nginx.host}/v2/${repository}/example-solution-operator`;
    const tags = await (await fetch(`${base}/tags/list`)).json();
    expect(tags).toEqual({ name: 'example-solution-operator', tags: ['1.2.3', 'latest'] });
    const res = await fetch(`${base}/manifests/latest`);
    const body = new Uint8Array(await res.arrayBuffer());
    expect(res.headers.get('docker-content-digest')).toBe(sha256Digest(body));
    expect(res.headers.get('content-type')).toBe(MediaTypes.dockerManifest);
    expect((await fetch(`${base}/manifests/nope`)).status).toBe(404);
    expect((await fetch(`${base}/blobs/sha256:${'0'.repeat(64)}`)).status).toBe(404);
    expect((await fetch(`http://${nginx.host}/v2/`)).status).toBe(200);
  });

  it('writes a deterministic, Jinja-safe snippet', async () => {
    const again = await planRegistryLayout([...images].reverse(), { store });
    expect(again.registryConfigTemplate).toBe(plan.registryConfigTemplate);
    const j2 = plan.registryConfigTemplate;
    expect(j2.match(/\{\{|\{%|\{#/g)?.length).toBe((j2.match(/\{\{ repository \}\}|\{\{ registry_root \}\}/g) ?? []).length);
    // The tag `latest` shares the 1.2.3 manifest: its digest location is written once.
    expect(j2).toContain('# Digest for "example-solution-operator:latest" already served');
  });
});
