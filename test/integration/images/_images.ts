/** Test images: built with buildImage, pushed with skopeo, inspected with skopeo. */
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { sha256Digest } from '../../../src/packaging/images/_digest.js';
import { type BlobStore, buildImage, type FetchedImage, MediaTypes, type Platform, writeOciLayout } from '../../../src/packaging/images/index.js';
import { run } from './_servers.js';

/** A small image: a shared base layer plus its own layer of random bytes. */
export async function testImage(store: BlobStore, base: Uint8Array, own: number | Uint8Array, platform?: Platform): Promise<FetchedImage> {
  const mine = typeof own === 'number' ? randomBytes(own) : own;
  return buildImage(
    {
      layers: [{ files: [{ path: '/base.bin', content: base }] }, { files: [{ path: '/own.bin', content: mine }] }],
      config: { cmd: ['/own.bin'] },
      platform,
    },
    { store },
  );
}

export interface PushOptions {
  readonly creds?: string | undefined;
  readonly tls?: boolean | undefined;
  readonly all?: boolean | undefined;
}

/** skopeo copy oci:layout:ref docker://dest. */
export async function push(layout: string, ref: string, dest: string, o: PushOptions = {}): Promise<void> {
  const args = ['copy', '--quiet', '--dest-tls-verify=false'];
  if (o.creds) args.push('--dest-creds', o.creds);
  if (o.all) args.push('--all');
  await run('skopeo', [...args, `oci:${layout}:${ref}`, `docker://${dest}`]);
}

/** Writes images to an OCI layout and pushes each to `host/<repo>:<tag>`. */
export async function pushImages(
  store: BlobStore,
  dir: string,
  host: string,
  images: readonly { repo: string; tag: string; image: FetchedImage }[],
  o: PushOptions = {},
): Promise<void> {
  const layout = join(dir, `push-${randomBytes(4).toString('hex')}`);
  await writeOciLayout(images.map((i) => ({ image: i.image, reference: `${i.repo.replace(/\//g, '-')}-${i.tag}` })), layout, { store });
  for (const i of images) await push(layout, `${i.repo.replace(/\//g, '-')}-${i.tag}`, `${host}/${i.repo}:${i.tag}`, o);
}

/** Writes a multi-platform OCI layout (an index of the given images) with ref `multi`; returns the index digest. */
export async function writeMultiPlatformLayout(store: BlobStore, layout: string, images: readonly FetchedImage[]): Promise<string> {
  await writeOciLayout(images.map((image, n) => ({ image, reference: `p${n}` })), layout, { store });
  const top = JSON.parse(await readFile(join(layout, 'index.json'), 'utf8'));
  const index = new TextEncoder().encode(
    JSON.stringify({ schemaVersion: 2, mediaType: MediaTypes.ociIndex, manifests: top.manifests.map(({ annotations: _a, ...m }: Record<string, unknown>) => m) }),
  );
  const digest = sha256Digest(index);
  await writeFile(join(layout, 'blobs', 'sha256', digest.slice(7)), index);
  await writeFile(
    join(layout, 'index.json'),
    JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: MediaTypes.ociIndex, digest, size: index.byteLength, annotations: { 'org.opencontainers.image.ref.name': 'multi' } }] }),
  );
  return digest;
}

/** The manifest digest skopeo sees for a reference (for an index: of the linux/amd64 image). */
export async function skopeoDigest(ref: string, extra: readonly string[] = []): Promise<string> {
  return (await run('skopeo', ['inspect', '--tls-verify=false', '--format', '{{.Digest}}', ...extra, ref])).trim();
}
