import { randomBytes } from 'node:crypto';
import { open, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RegistryError } from '../../../src/errors.js';
import {
  type BlobStore,
  buildImage,
  type FetchedImage,
  type FetchProgressEvent,
  fetchImage,
  fetchImagePlatforms,
  openBlobStore,
  parsePlatform,
  writeOciLayout,
} from '../../../src/packaging/images/index.js';
import { pushImages, skopeoDigest, testImage, writeMultiPlatformLayout, push } from './_images.js';
import { makeCerts, type Registry, run, startCountingForwarder, startFaultyProxy, startTinyproxy, startRegistry, startTokenServer, type TestCerts, type TokenServer, tempDir } from './_servers.js';

let dir: string;
let src: BlobStore;
let certs: TestCerts;
let a: FetchedImage;
let b: FetchedImage;
const base = randomBytes(400_000);

beforeAll(async () => {
  dir = await tempDir('registry-test');
  src = await openBlobStore({ dir: join(dir, 'src-store') });
  certs = await makeCerts(join(dir, 'certs'));
  a = await testImage(src, base, 200_000);
  b = await testImage(src, base, 150_000);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function freshStore(): Promise<BlobStore> {
  return openBlobStore({ dir: join(dir, `store-${randomBytes(4).toString('hex')}`) });
}

describe('pull from docker-registry without auth (plain HTTP)', () => {
  let reg: Registry;
  let big: FetchedImage;
  beforeAll(async () => {
    reg = await startRegistry();
    big = await testImage(src, base, 1_500_000);
    await pushImages(src, dir, reg.host, [
      { repo: 'demo/a', tag: '1.0', image: a },
      { repo: 'demo/b', tag: '1.0', image: b },
      { repo: 'demo/big', tag: '1.0', image: big },
    ]);
  });
  afterAll(async () => reg.stop());

  it('pulls images with the digests skopeo sees, and a warm rebuild downloads no blob', async () => {
    const store = await freshStore();
    const events: FetchProgressEvent[] = [];
    const onProgress = (e: FetchProgressEvent) => events.push(e);
    const ga = await fetchImage({ kind: 'registry', reference: `${reg.host}/demo/a:1.0`, plainHttp: true }, { store, onProgress });
    const gb = await fetchImage({ kind: 'registry', reference: `${reg.host}/demo/b:1.0`, plainHttp: true }, { store, onProgress });
    expect(ga.sourceDigest).toBe(await skopeoDigest(`docker://${reg.host}/demo/a:1.0`));
    expect(gb.sourceDigest).toBe(await skopeoDigest(`docker://${reg.host}/demo/b:1.0`));
    expect(ga.sourceDigest).toBe(a.sourceDigest);
    expect(ga.manifestDigest).toBe(a.manifestDigest);
    expect(ga.pinned).toBe(`${reg.host}/demo/a@${a.sourceDigest}`);
    // The shared base layer was downloaded once.
    const started = events.filter((e) => e.type === 'blob-start').map((e) => (e as { digest: string }).digest);
    expect(new Set(started).size).toBe(started.length);
    expect(started).toHaveLength(5);
    for (const l of [...ga.layers, ...gb.layers]) await store.verify(l.digest);

    const warm: FetchProgressEvent[] = [];
    await fetchImage({ kind: 'registry', reference: `${reg.host}/demo/a:1.0`, plainHttp: true }, { store, onProgress: (e) => warm.push(e) });
    expect(warm.filter((e) => e.type === 'blob-start')).toEqual([]);
    expect(warm.filter((e) => e.type === 'blob-cached')).toHaveLength(3);
    const done = warm.find((e) => e.type === 'image-done') as { bytesDownloaded: number };
    expect(done.bytesDownloaded).toBeLessThan(2000); // the manifest only

    // Pinned by digest and in the store: nothing at all is downloaded.
    const pinned: FetchProgressEvent[] = [];
    await fetchImage({ kind: 'registry', reference: ga.pinned!, plainHttp: true }, { store, onProgress: (e) => pinned.push(e) });
    expect((pinned.find((e) => e.type === 'image-done') as { bytesDownloaded: number }).bytesDownloaded).toBe(0);
  });

  it('a second image from the same registry reuses the connections of the first', async () => {
    const fwd = await startCountingForwarder(reg.host);
    try {
      const store = await freshStore();
      const pull = (repo: string) => fetchImage({ kind: 'registry', reference: `${fwd.host}/${repo}:1.0`, plainHttp: true }, { store, concurrency: 1 });
      await pull('demo/a');
      const afterFirst = fwd.connections();
      expect(afterFirst).toBeGreaterThan(0);
      const gb = await pull('demo/b');
      expect(gb.sourceDigest).toBe(b.sourceDigest);
      // Manifest, config and own layer of the second image: no new connection (and no new TLS
      // handshake or authentication round trip on a real registry).
      expect(fwd.connections()).toBe(afterFirst);
    } finally {
      await fwd.stop();
    }
  });

  it('resumes a cut blob download with a Range request, and retries 429 and 503 with backoff', async () => {
    const bigLayer = big.layers[1]!.digest;
    let cut = false;
    let limited = 0;
    const proxy = await startFaultyProxy(reg.host, (req) => {
      if (req.url?.includes('/manifests/') && limited < 2) return limited++ === 0 ? 429 : 503;
      if (req.url?.endsWith(bigLayer) && !cut) {
        cut = true;
        return 'cut';
      }
      return undefined;
    });
    try {
      const store = await freshStore();
      const got = await fetchImage({ kind: 'registry', reference: `${proxy.host}/demo/big:1.0`, plainHttp: true }, { store });
      expect(got.sourceDigest).toBe(big.sourceDigest);
      await store.verify(bigLayer);
      const blobReqs = proxy.seen.filter((s) => s.path.endsWith(bigLayer));
      expect(blobReqs).toHaveLength(2);
      expect(blobReqs[0]!.range).toBeUndefined();
      expect(blobReqs[1]!.range).toMatch(/^bytes=[1-9][0-9]*-$/);
      expect(blobReqs[1]!.status).toBe(206);
      expect(proxy.seen.filter((s) => s.status === 429 || s.status === 503)).toHaveLength(2);
    } finally {
      await proxy.stop();
    }
    // A registry that keeps rate-limiting gives a typed, retryable error.
    const always = await startFaultyProxy(reg.host, () => 429);
    try {
      const err = await fetchImage({ kind: 'registry', reference: `${always.host}/demo/big:1.0`, plainHttp: true, retries: 2 }, { store: await freshStore() }).catch((e) => e);
      expect(err.code).toBe('REGISTRY_RATE_LIMITED');
      expect(err.retryable).toBe(true);
      expect(err.hint).toMatch(/authenticate|mirror|Wait/);
    } finally {
      await always.stop();
    }
  });

  it('stops on abort, with AbortError, leaving no partial blob', async () => {
    const store = await freshStore();
    const ctl = new AbortController();
    const err = await fetchImage(
      { kind: 'registry', reference: `${reg.host}/demo/big:1.0`, plainHttp: true },
      { store, signal: ctl.signal, onProgress: (e) => e.type === 'blob-progress' && ctl.abort() },
    ).catch((e) => e);
    expect(err.code).toBe('ABORTED');
    expect(await readdir(join(store.dir, 'tmp'))).toEqual([]);
  });

  it('goes through an HTTP proxy for plain-HTTP registries', async () => {
    const proxy = await startTinyproxy();
    try {
      const got = await fetchImage({ kind: 'registry', reference: `${reg.host}/demo/a:1.0`, plainHttp: true, proxy: proxy.url }, { store: await freshStore() });
      expect(got.sourceDigest).toBe(a.sourceDigest);
      expect(await proxy.log()).toContain(`GET http://${reg.host}/v2/demo/a/manifests/1.0`);
    } finally {
      await proxy.stop();
    }
  });

  it('refuses an image with zstd layers before downloading any blob', async () => {
    // Uncompressed layers, so that skopeo compresses them with the format asked.
    const plain = await buildImage({ layers: [{ files: [{ path: '/z', content: randomBytes(5000) }] }], compression: 'none' }, { store: src });
    const layout = join(dir, 'zstd-src');
    await writeOciLayout([{ image: plain, reference: 'z' }], layout, { store: src });
    await run('skopeo', ['copy', '--quiet', '--dest-tls-verify=false', '--dest-compress-format', 'zstd', `oci:${layout}:z`, `docker://${reg.host}/demo/zstd:1.0`]);
    const store = await freshStore();
    const events: FetchProgressEvent[] = [];
    const err = await fetchImage({ kind: 'registry', reference: `${reg.host}/demo/zstd:1.0`, plainHttp: true }, { store, onProgress: (e) => events.push(e) }).catch((e) => e);
    expect(err.code).toBe('IMAGE_LAYER_ZSTD');
    expect(err.hint).toMatch(/gzip/);
    expect(events.filter((e) => e.type === 'blob-start')).toEqual([]);
  });

  it('maps a missing tag to REGISTRY_NOT_FOUND with a hint', async () => {
    const err = await fetchImage({ kind: 'registry', reference: `${reg.host}/demo/a:nope`, plainHttp: true }, { store: await freshStore() }).catch((e) => e);
    expect(err).toBeInstanceOf(RegistryError);
    expect(err.code).toBe('REGISTRY_NOT_FOUND');
    expect(err.status).toBe(404);
    expect(err.message).toContain('demo/a:nope');
    expect(err.hint).toBeTruthy();
  });

  it('resolves a multi-platform index to the requested platform', async () => {
    const amd = await testImage(src, base, 1000, parsePlatform('linux/amd64'));
    const arm = await testImage(src, base, 1000, parsePlatform('linux/arm64/v8'));
    const layout = join(dir, 'multi');
    const indexDigest = await writeMultiPlatformLayout(src, layout, [amd, arm]);
    await push(layout, 'multi', `${reg.host}/demo/multi:1.0`, { all: true });
    const store = await freshStore();
    const ref = `${reg.host}/demo/multi:1.0`;
    const gotArm = await fetchImage({ kind: 'registry', reference: ref, plainHttp: true }, { store, platform: parsePlatform('linux/arm64') });
    expect(gotArm.sourceDigest).toBe(arm.sourceDigest);
    expect(gotArm.platform).toEqual({ os: 'linux', architecture: 'arm64', variant: 'v8' });
    expect(gotArm.indexDigest).toBe(indexDigest);
    expect(gotArm.pinned).toBe(`${reg.host}/demo/multi@${indexDigest}`);
    const gotAmd = await fetchImage({ kind: 'registry', reference: ref, plainHttp: true }, { store });
    expect(gotAmd.sourceDigest).toBe(amd.sourceDigest);
    // skopeo's view of the index: its linux/amd64 entry is what was pulled.
    const raw = JSON.parse(await run('skopeo', ['inspect', '--tls-verify=false', '--raw', `docker://${ref}`]));
    expect(raw.manifests.find((m: { platform: { architecture: string } }) => m.platform.architecture === 'amd64').digest).toBe(gotAmd.sourceDigest);
    expect(await skopeoDigest(`docker://${ref}`)).toBe(indexDigest);
    const both = await fetchImagePlatforms({ kind: 'registry', reference: ref, plainHttp: true }, { store: await freshStore(), platforms: [parsePlatform('linux/amd64'), parsePlatform('linux/arm64')] });
    expect(both.map((i) => i.sourceDigest)).toEqual([amd.sourceDigest, arm.sourceDigest]);
    const err = await fetchImage({ kind: 'registry', reference: ref, plainHttp: true, platform: parsePlatform('linux/s390x') }, { store }).catch((e) => e);
    expect(err.code).toBe('IMAGE_PLATFORM_NOT_FOUND');
    expect(err.hint).toContain('linux/arm64/v8');
  });

  it('catches a registry serving corrupted bytes and stores nothing', async () => {
    const c = await testImage(src, base, 50_000);
    await pushImages(src, dir, reg.host, [{ repo: 'demo/c', tag: '1.0', image: c }]);
    /** Changes three bytes of a blob in the registry's storage. */
    const corrupt = async (digest: string, at: number) => {
      const hex = digest.slice(7);
      const fh = await open(join(reg.dataDir, 'docker/registry/v2/blobs/sha256', hex.slice(0, 2), hex, 'data'), 'r+');
      await fh.write(Buffer.from([0x00, 0x01, 0x02]), 0, 3, at);
      await fh.close();
    };
    await corrupt(c.layers[1]!.digest, 1000);
    const store = await freshStore();
    const err = await fetchImage({ kind: 'registry', reference: `${reg.host}/demo/c:1.0`, plainHttp: true }, { store }).catch((e) => e);
    expect(err).toBeInstanceOf(RegistryError);
    expect(err.code).toBe('REGISTRY_DIGEST_MISMATCH');
    expect(err.message).toContain(c.layers[1]!.digest);
    expect(await store.has(c.layers[1]!.digest)).toBe(false);
    expect(await readdir(join(store.dir, 'tmp'))).toEqual([]);
    // A blob of several MiB is hashed on the second core as it arrives: a byte changed in its
    // third MiB is caught the same way.
    const d = await testImage(src, base, 3_000_000);
    await pushImages(src, dir, reg.host, [{ repo: 'demo/d', tag: '1.0', image: d }]);
    await corrupt(d.layers[1]!.digest, 2_500_000);
    const bigErr = await fetchImage({ kind: 'registry', reference: `${reg.host}/demo/d:1.0`, plainHttp: true }, { store }).catch((e) => e);
    expect(bigErr.code).toBe('REGISTRY_DIGEST_MISMATCH');
    expect(bigErr.message).toContain(d.layers[1]!.digest);
    expect(await store.has(d.layers[1]!.digest)).toBe(false);
    expect(await readdir(join(store.dir, 'tmp'))).toEqual([]);
  });
});

describe('pull from docker-registry with basic auth, over TLS with a custom CA', () => {
  let reg: Registry;
  beforeAll(async () => {
    reg = await startRegistry({ htpasswd: { user: 'vendor', password: 's3cret' }, tls: certs });
    await pushImages(src, dir, reg.host, [{ repo: 'demo/a', tag: '1.0', image: a }], { creds: 'vendor:s3cret' });
  });
  afterAll(async () => reg.stop());
  const ref = () => `${reg.host}/demo/a:1.0`;

  it('pulls with credentials and the CA', async () => {
    const got = await fetchImage({ kind: 'registry', reference: ref(), ca: certs.caPem, auth: { username: 'vendor', password: 's3cret' } }, { store: await freshStore() });
    expect(got.sourceDigest).toBe(a.sourceDigest);
  });

  it('reads credentials from a Docker config.json', async () => {
    const cfg = join(dir, 'docker-config.json');
    await writeFile(cfg, JSON.stringify({ auths: { [reg.host]: { auth: Buffer.from('vendor:s3cret').toString('base64') } } }));
    const got = await fetchImage({ kind: 'registry', reference: ref(), ca: certs.caPem, authFile: cfg }, { store: await freshStore() });
    expect(got.sourceDigest).toBe(a.sourceDigest);
  });

  it('goes through an HTTP proxy (CONNECT tunnel, TLS end to end)', async () => {
    const proxy = await startTinyproxy();
    try {
      const got = await fetchImage(
        { kind: 'registry', reference: ref(), ca: certs.caPem, auth: { username: 'vendor', password: 's3cret' }, proxy: proxy.url },
        { store: await freshStore() },
      );
      expect(got.sourceDigest).toBe(a.sourceDigest);
      expect(await proxy.log()).toMatch(new RegExp(`CONNECT ${reg.host.replace(/\./g, '\\.')}`));
    } finally {
      await proxy.stop();
    }
  });

  it('fails with typed errors: no credentials, wrong password, unknown CA; insecure mode works', async () => {
    const store = await freshStore();
    const none = await fetchImage({ kind: 'registry', reference: ref(), ca: certs.caPem, authFile: false }, { store }).catch((e) => e);
    expect(none.code).toBe('REGISTRY_AUTH_REQUIRED');
    const wrong = await fetchImage({ kind: 'registry', reference: ref(), ca: certs.caPem, auth: { username: 'vendor', password: 'nope' } }, { store }).catch((e) => e);
    expect(wrong.code).toBe('REGISTRY_AUTH_FAILED');
    expect(wrong.status).toBe(401);
    expect(String(wrong.message)).not.toContain('nope');
    const tls = await fetchImage({ kind: 'registry', reference: ref(), auth: { username: 'vendor', password: 's3cret' } }, { store }).catch((e) => e);
    expect(tls.code).toBe('REGISTRY_TLS_ERROR');
    expect(tls.hint).toMatch(/ca/);
    const insecure = await fetchImage({ kind: 'registry', reference: ref(), insecure: true, auth: { username: 'vendor', password: 's3cret' } }, { store });
    expect(insecure.sourceDigest).toBe(a.sourceDigest);
  });
});

describe('pull from docker-registry behind a bearer-token flow', () => {
  let reg: Registry;
  let tokens: TokenServer;
  beforeAll(async () => {
    tokens = await startTokenServer(certs, { vendor: 'tok3n-pass' });
    reg = await startRegistry({ token: { realm: tokens.realm, certs } });
    await pushImages(src, dir, reg.host, [{ repo: 'demo/b', tag: '2.0', image: b }], { creds: 'vendor:tok3n-pass' });
  });
  afterAll(async () => {
    await reg.stop();
    await tokens.stop();
  });

  it('gets a token for the pull scope, caches it, and pulls', async () => {
    const before = tokens.requests.length;
    const got = await fetchImage(
      { kind: 'registry', reference: `${reg.host}/demo/b:2.0`, plainHttp: true, auth: { username: 'vendor', password: 'tok3n-pass' } },
      { store: await freshStore() },
    );
    expect(got.sourceDigest).toBe(b.sourceDigest);
    const mine = tokens.requests.slice(before);
    expect(mine).toEqual([{ scope: 'repository:demo/b:pull', user: 'vendor' }]);
  });

  it('a second pull of the same repository with the same credentials asks for no new token', async () => {
    const before = tokens.requests.length;
    const source = { kind: 'registry', reference: `${reg.host}/demo/b:2.0`, plainHttp: true, auth: { username: 'vendor', password: 'tok3n-pass' } } as const;
    await fetchImage(source, { store: await freshStore() });
    await fetchImage(source, { store: await freshStore() });
    // The first one may reuse the token of the test above (same credentials, a few seconds ago).
    expect(tokens.requests.length - before).toBeLessThanOrEqual(1);
  });

  it('refuses anonymous pulls with REGISTRY_AUTH_FAILED', async () => {
    const err = await fetchImage({ kind: 'registry', reference: `${reg.host}/demo/b:2.0`, plainHttp: true, authFile: false }, { store: await freshStore() }).catch((e) => e);
    expect(err).toBeInstanceOf(RegistryError);
    expect(err.code).toBe('REGISTRY_AUTH_FAILED');
    expect(err.hint).toMatch(/credentials/);
  });
});
