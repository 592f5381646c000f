/**
 * OCI image layout directories (`oci-layout`, `index.json`, `blobs/sha256/…`): reading an
 * image out of one into the store, and writing images from the store into one (for pushing
 * with `skopeo copy oci:DIR:TAG docker://…` or validating with `oci-image-tool`).
 *
 * @module
 */
import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PackagingError, RegistryError, throwIfAborted } from '../../errors.js';
import { digestHex, sha256Digest } from './_digest.js';
import { linkOrCopy } from './_link.js';
import { pickReference, selectPlatform } from './_select.js';
import type { BlobStore } from './blob-store.js';
import { recordImage } from './_record.js';
import type { FetchedImage } from './fetched-image.js';
import { type Descriptor, parseManifest } from './manifest.js';
import { MediaTypes } from './media-types.js';
import { DEFAULT_PLATFORM, type Platform } from './platform.js';

/** Annotation holding a manifest's reference (tag) in an OCI layout's `index.json`. */
export const OCI_REF_ANNOTATION = 'org.opencontainers.image.ref.name';

/** Options of {@link readOciLayout}. */
export interface ReadOciLayoutOptions {
  /** Store receiving the blobs. */
  readonly store: BlobStore;
  /** Reference (the `org.opencontainers.image.ref.name` annotation) to read; optional when the layout holds one image. */
  readonly reference?: string | undefined;
  /** Platform to resolve an index to. @default linux/amd64 */
  readonly platform?: Platform | undefined;
  /** Cancels the read. */
  readonly signal?: AbortSignal | undefined;
}

async function readBlobFile(layout: string, d: Descriptor, what: string): Promise<Uint8Array> {
  const p = join(layout, 'blobs', 'sha256', digestHex(d.digest));
  let bytes: Buffer;
  try {
    bytes = await readFile(p);
  } catch (cause) {
    throw new RegistryError('OCI_LAYOUT_BLOB_MISSING', `${what}: blob ${d.digest} is missing (${p})`, {
      cause,
      hint: 'The OCI layout is incomplete; recreate it (e.g. with skopeo copy … oci:DIR:TAG).',
    });
  }
  const actual = sha256Digest(bytes);
  if (actual !== d.digest) {
    throw new PackagingError('BLOB_DIGEST_MISMATCH', `${what}: ${p} has digest ${actual}, expected ${d.digest}`, {
      hint: 'The OCI layout is corrupted; recreate it.',
    });
  }
  return bytes;
}

/**
 * Reads one image out of an OCI layout directory into the store, verifying every blob.
 *
 * @example
 * ```ts
 * const image = await readOciLayout('./build/oci', { store, reference: '1.0.0' });
 * ```
 */
export async function readOciLayout(path: string, options: ReadOciLayoutOptions): Promise<FetchedImage> {
  const what = `OCI layout ${path}`;
  let layoutFile: { imageLayoutVersion?: string };
  let indexBytes: Buffer;
  const st = await stat(path).catch(() => undefined);
  if (!st?.isDirectory()) {
    throw new RegistryError(st ? 'OCI_LAYOUT_NOT_A_FOLDER' : 'OCI_LAYOUT_NOT_FOUND', `${what} ${st ? 'is a file, not a folder' : 'does not exist'}`, {
      hint: st
        ? 'An OCI layout is a folder (oci-layout, index.json, blobs/); a tar file is read with kind: docker-archive.'
        : 'Check the path (relative paths are resolved from the solution folder); write one with skopeo copy … oci:DIR:TAG.',
    });
  }
  try {
    layoutFile = JSON.parse(await readFile(join(path, 'oci-layout'), 'utf8')) as { imageLayoutVersion?: string };
    indexBytes = await readFile(join(path, 'index.json'));
  } catch (cause) {
    throw new RegistryError('OCI_LAYOUT_INVALID', `${what} is not an OCI image layout (no readable oci-layout and index.json)`, {
      cause,
      hint: 'Point at a directory written by skopeo copy … oci:DIR, umoci or buildah (it holds oci-layout, index.json and blobs/).',
    });
  }
  if (layoutFile.imageLayoutVersion !== '1.0.0') {
    throw new RegistryError('OCI_LAYOUT_INVALID', `${what}: imageLayoutVersion is ${JSON.stringify(layoutFile.imageLayoutVersion)}`, {
      hint: 'Only OCI image layout version 1.0.0 is supported.',
    });
  }
  const index = parseManifest(indexBytes, `${what} index.json`, { contentType: MediaTypes.ociIndex });
  if (index.kind !== 'index') throw new RegistryError('OCI_LAYOUT_INVALID', `${what}: index.json is not an index`);
  let top = pickReference(index, options.reference, what);
  let bytes = await readBlobFile(path, top, what);
  let parsed = parseManifest(bytes, what, { contentType: top.mediaType });
  let indexDigest: string | undefined;
  if (parsed.kind === 'index') {
    indexDigest = top.digest;
    top = selectPlatform(parsed, options.platform ?? DEFAULT_PLATFORM, what);
    bytes = await readBlobFile(path, top, what);
    parsed = parseManifest(bytes, what, { contentType: top.mediaType });
  }
  if (parsed.kind !== 'manifest') throw new RegistryError('IMAGE_MANIFEST_INVALID', `${what}: nested indexes are not supported`);
  for (const d of [parsed.config, ...parsed.layers]) {
    throwIfAborted(options.signal, `reading ${what}`);
    const file = join(path, 'blobs', 'sha256', digestHex(d.digest));
    await options.store.ensure(d.digest, d.size, async () => {
      const st = await stat(file).catch(() => undefined);
      if (!st?.isFile()) {
        throw new RegistryError('OCI_LAYOUT_BLOB_MISSING', `${what}: blob ${d.digest} is ${st ? 'not a regular file' : 'missing'} (${file})`, {
          hint: 'The OCI layout is incomplete; recreate it (e.g. with skopeo copy … oci:DIR:TAG).',
        });
      }
      return options.store.put(createReadStream(file, { highWaterMark: 1 << 20 }), {
        expectedDigest: d.digest,
        expectedSize: d.size,
        what: `${what} blob ${d.digest}`,
        signal: options.signal,
      });
    });
  }
  return recordImage(options.store, bytes, { source: what, indexDigest });
}

/** One image to write with {@link writeOciLayout}. */
export interface OciLayoutEntry {
  /** The image (its blobs must be in the store). */
  readonly image: FetchedImage;
  /** Reference written as `org.opencontainers.image.ref.name` (usually the tag). */
  readonly reference: string;
}

/** Options of {@link writeOciLayout}. */
export interface WriteOciLayoutOptions {
  /** Store holding the blobs. */
  readonly store: BlobStore;
  /**
   * Which manifest to write: the source's own (`source`, digests unchanged) or the Docker v2s2 form (`v2s2`).
   * @default 'source'
   */
  readonly manifest?: 'source' | 'v2s2' | undefined;
}

/**
 * Writes images from the store into an OCI layout directory (blobs hard-linked when possible).
 *
 * @example
 * ```ts
 * await writeOciLayout([{ image, reference: '1.0.0' }], './out/oci', { store });
 * // skopeo copy oci:./out/oci:1.0.0 docker://registry.example.com/app:1.0.0
 * ```
 */
export async function writeOciLayout(
  entries: readonly OciLayoutEntry[],
  dir: string,
  options: WriteOciLayoutOptions,
): Promise<void> {
  const { store } = options;
  await mkdir(join(dir, 'blobs', 'sha256'), { recursive: true });
  const manifests: Record<string, unknown>[] = [];
  for (const { image, reference } of entries) {
    const useV2 = options.manifest === 'v2s2';
    const digest = useV2 ? image.manifestDigest : image.sourceDigest;
    const bytes = await store.read(digest);
    const mediaType = useV2 ? MediaTypes.dockerManifest : image.sourceMediaType;
    const parsed = parseManifest(bytes, image.source, { contentType: mediaType });
    if (parsed.kind !== 'manifest') throw new PackagingError('IMAGE_NOT_SINGLE_PLATFORM', `${image.source} is an index`);
    for (const d of [{ digest }, parsed.config, ...parsed.layers]) {
      await linkOrCopy(store.path(d.digest), join(dir, 'blobs', 'sha256', digestHex(d.digest)));
    }
    manifests.push({
      mediaType,
      digest,
      size: bytes.byteLength,
      annotations: { [OCI_REF_ANNOTATION]: reference },
      platform: { architecture: image.platform.architecture, os: image.platform.os, ...(image.platform.variant ? { variant: image.platform.variant } : {}) },
    });
  }
  const tmp = randomBytes(6).toString('hex');
  await writeFile(join(dir, `oci-layout.${tmp}`), `${JSON.stringify({ imageLayoutVersion: '1.0.0' })}\n`);
  await rename(join(dir, `oci-layout.${tmp}`), join(dir, 'oci-layout'));
  await writeFile(join(dir, `index.json.${tmp}`), JSON.stringify({ schemaVersion: 2, mediaType: MediaTypes.ociIndex, manifests }));
  await rename(join(dir, `index.json.${tmp}`), join(dir, 'index.json'));
}
