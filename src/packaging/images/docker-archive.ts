/**
 * Tarball inputs: `docker save` archives (the classic format with `manifest.json`, and the
 * OCI-in-tar format of Docker 25+ with `index.json` and `blobs/`), `skopeo copy …
 * docker-archive:` and `oci-archive:` files, optionally gzip-compressed.
 *
 * The tarball is streamed once and never extracted to disk: each large entry is hashed while it
 * is written into the blob store, small JSON entries stay in memory. Entries with absolute
 * paths or `..` components, links that point outside the archive, and devices or fifos are
 * rejected. Links inside the archive (skopeo and older Docker write `<id>/layer.tar ->
 * ../<hex>.tar`) are resolved in memory as aliases; nothing is ever written to disk by name.
 * Written on tar-stream: no npm package reads image archives without a Docker daemon.
 *
 * @module
 */
import { constants, createReadStream } from 'node:fs';
import { access, open, stat } from 'node:fs/promises';
import { posix } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { PackagingError, RegistryError, throwIfAborted } from '../../errors.js';
import { isDigest, sha256Digest } from './_digest.js';
import { pickReference, sameImage, selectPlatform } from './_select.js';
import type { BlobInfo, BlobStore } from './blob-store.js';
import { recordImage } from './_record.js';
import type { FetchedImage } from './fetched-image.js';
import { parseManifest } from './manifest.js';
import { MediaTypes } from './media-types.js';
import { DEFAULT_PLATFORM, type Platform } from './platform.js';

/** Options of {@link readDockerArchive}. */
export interface ReadDockerArchiveOptions {
  /** Store receiving the blobs. */
  readonly store: BlobStore;
  /** Which image (a `RepoTags` entry such as `demo/app:1.0`, or an OCI ref name); optional when the archive holds one. */
  readonly reference?: string | undefined;
  /** Platform to resolve an OCI index to. @default linux/amd64 */
  readonly platform?: Platform | undefined;
  /** Cancels the read. */
  readonly signal?: AbortSignal | undefined;
}

const SMALL = 4 * 1024 * 1024;
const MAX_BUFFERED = 256 * 1024 * 1024;

function hostile(path: string, message: string): RegistryError {
  return new RegistryError('ARCHIVE_ENTRY_REJECTED', `${path}: ${message}`, {
    hint: 'Image archives must only hold regular files and directories with relative paths; recreate it with docker save or skopeo copy … docker-archive:.',
  });
}

function invalid(path: string, message: string): RegistryError {
  return new RegistryError('ARCHIVE_INVALID', `${path}: ${message}`, {
    hint: 'Pass a tarball written by docker save or skopeo copy … docker-archive:/oci-archive:.',
  });
}

interface Stored {
  readonly small?: Uint8Array;
  readonly blob?: BlobInfo;
  readonly size: number;
}

/** The archive must be a readable regular file: typed errors for the usual mistakes. */
async function checkArchiveFile(path: string): Promise<void> {
  let st: Awaited<ReturnType<typeof stat>>;
  try {
    st = await stat(path);
  } catch (err) {
    throw new RegistryError('ARCHIVE_NOT_FOUND', `docker archive ${path} does not exist`, {
      cause: err,
      hint: 'Check the path (relative paths are resolved from the solution folder); write the archive with `docker save -o FILE IMAGE`.',
    });
  }
  if (!st.isFile()) {
    throw new RegistryError('ARCHIVE_NOT_A_FILE', `docker archive ${path} is ${st.isDirectory() ? 'a folder' : 'not a regular file'}`, {
      hint: st.isDirectory() ? 'An OCI layout folder is read with kind: oci-layout; a docker archive is the one tar file `docker save` writes.' : 'Give the tar file itself.',
    });
  }
  try {
    await access(path, constants.R_OK);
  } catch (err) {
    throw new RegistryError('ARCHIVE_UNREADABLE', `docker archive ${path} cannot be read: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, {
      cause: err,
      hint: 'Check the permissions of the file and of its folders.',
    });
  }
}

async function isGzip(path: string): Promise<boolean> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(2);
    const { bytesRead } = await fh.read(buf, 0, 2, 0);
    return bytesRead === 2 && buf[0] === 0x1f && buf[1] === 0x8b;
  } finally {
    await fh.close();
  }
}

interface Scanned {
  readonly files: Map<string, Stored>;
  readonly aliases: Map<string, string>;
}

async function scan(path: string, options: ReadDockerArchiveOptions): Promise<Scanned> {
  const files = new Map<string, Stored>();
  const aliases = new Map<string, string>();
  // Loaded on first use: importing the images module (a pull) does not pay for tar-stream.
  const extract = (await import('tar-stream')).extract();
  await checkArchiveFile(path);
  // The stream is made after every await that can fail, and goes straight into pipeline(),
  // which listens to its 'error' events: an unreadable file never becomes an unhandled error.
  const gzip = await isGzip(path);
  const source = createReadStream(path, { highWaterMark: 1 << 20 });
  const piping = gzip ? pipeline(source, createGunzip(), extract) : pipeline(source, extract);
  let buffered = 0;
  const consume = async () => {
    for await (const entry of extract) {
      throwIfAborted(options.signal, `reading ${path}`);
      const h = entry.header;
      const raw = h.name;
      const name = posix.normalize(raw).replace(/^\.\//, '').replace(/\/$/, '');
      if (raw.startsWith('/') || name === '..' || name.startsWith('../') || raw.split('/').includes('..')) {
        throw hostile(path, `entry "${raw}" escapes the archive`);
      }
      if (h.type === 'symlink' || h.type === 'link') {
        const link = h.linkname ?? '';
        // Symlinks are relative to the entry's directory, hard links to the archive root.
        const target = posix.normalize(h.type === 'symlink' ? posix.join(posix.dirname(name), link) : link).replace(/^\.\//, '');
        if (link.startsWith('/') || target === '..' || target.startsWith('../') || link === '') {
          throw hostile(path, `entry "${raw}" is a ${h.type === 'link' ? 'hard link' : 'symlink'} pointing outside the archive (to "${link}")`);
        }
        if (files.has(name) || aliases.has(name)) throw hostile(path, `entry "${raw}" appears twice`);
        aliases.set(name, target);
        entry.resume();
        continue;
      }
      if (h.type === 'directory') {
        entry.resume();
        continue;
      }
      if (h.type !== 'file' && h.type !== 'contiguous-file') throw hostile(path, `entry "${raw}" has type ${h.type}`);
      if (files.has(name) || aliases.has(name)) throw hostile(path, `entry "${raw}" appears twice`);
      const size = h.size ?? 0;
      const blobMatch = /^blobs\/sha256\/([a-f0-9]{64})$/.exec(name);
      if (size <= SMALL && buffered + size <= MAX_BUFFERED) {
        const chunks: Buffer[] = [];
        for await (const c of entry) chunks.push(c as Buffer);
        const bytes = Buffer.concat(chunks);
        buffered += bytes.byteLength;
        if (blobMatch && sha256Digest(bytes) !== `sha256:${blobMatch[1]}`) {
          throw new PackagingError('BLOB_DIGEST_MISMATCH', `${path}: ${name} does not match its digest`, {
            hint: 'The archive is corrupted; recreate it.',
          });
        }
        files.set(name, { small: bytes, size: bytes.byteLength });
      } else {
        const blob = await options.store.put(entry as AsyncIterable<Uint8Array>, {
          what: `${path} entry ${name}`,
          expectedDigest: blobMatch ? `sha256:${blobMatch[1]}` : undefined,
          expectedSize: size,
          signal: options.signal,
        });
        files.set(name, { blob, size: blob.size });
      }
    }
  };
  await Promise.all([piping, consume()]).catch((err: unknown) => {
    source.destroy();
    if (err instanceof RegistryError || (err as { code?: string }).code === 'ABORTED') throw err;
    if (err instanceof Error && 'code' in err && typeof (err as { code: unknown }).code === 'string' && (err as { code: string }).code.startsWith('BLOB_')) throw err;
    throw new RegistryError('ARCHIVE_INVALID', `${path} is not a readable tar archive: ${(err as Error).message}`, {
      cause: err,
      hint: 'Pass a tarball written by docker save or skopeo copy … docker-archive:/oci-archive:.',
    });
  });
  return { files, aliases };
}

function lookup(scanned: Scanned, name: string): Stored | undefined {
  let current = posix.normalize(name).replace(/^\.\//, '');
  for (let hops = 0; hops < 16; hops++) {
    const f = scanned.files.get(current);
    if (f) return f;
    const next = scanned.aliases.get(current);
    if (next === undefined) return undefined;
    current = next;
  }
  return undefined;
}

async function ensureStored(store: BlobStore, file: Stored, expected: string, what: string): Promise<void> {
  if (file.blob) {
    if (file.blob.digest !== expected) {
      throw new PackagingError('BLOB_DIGEST_MISMATCH', `${what}: content has digest ${file.blob.digest}, expected ${expected}`, {
        hint: 'The archive is corrupted; recreate it.',
      });
    }
    return;
  }
  await store.put(file.small ?? new Uint8Array(), { expectedDigest: expected, what });
}

function parseJson<T>(bytes: Uint8Array | undefined, path: string, name: string): T {
  try {
    return JSON.parse(Buffer.from(bytes ?? new Uint8Array()).toString('utf8')) as T;
  } catch (cause) {
    throw new RegistryError('ARCHIVE_INVALID', `${path}: ${name} is not valid JSON`, { cause });
  }
}

/**
 * Reads one image from a `docker save` / skopeo docker-archive or oci-archive tarball into the
 * store, streaming it once. Classic docker-archive layers are uncompressed tars: they are
 * checked against the config's `diff_ids` and laid out as uncompressed Docker layers.
 *
 * @example
 * ```ts
 * const image = await readDockerArchive('./app.tar', { store, reference: 'vendor/app:1.0' });
 * ```
 */
export async function readDockerArchive(path: string, options: ReadDockerArchiveOptions): Promise<FetchedImage> {
  const what = `archive ${path}`;
  const scanned = await scan(path, options);
  const { store } = options;
  const index = lookup(scanned, 'index.json');
  const classic = lookup(scanned, 'manifest.json');
  if (index?.small) {
    const blob = (digest: string): Stored => {
      const f = isDigest(digest) ? lookup(scanned, `blobs/sha256/${digest.slice(7)}`) : undefined;
      if (!f) throw invalid(path, `blob ${digest} is missing from the archive`);
      return f;
    };
    const idx = parseManifest(index.small, `${what} index.json`, { contentType: MediaTypes.ociIndex });
    if (idx.kind === 'index') {
      let top = pickReference(idx, options.reference, what);
      let bytes = blob(top.digest).small;
      let indexDigest: string | undefined;
      let parsed = bytes ? parseManifest(bytes, what, { contentType: top.mediaType }) : undefined;
      if (parsed?.kind === 'index') {
        indexDigest = top.digest;
        top = selectPlatform(parsed, options.platform ?? DEFAULT_PLATFORM, what);
        bytes = blob(top.digest).small;
        parsed = bytes ? parseManifest(bytes, what, { contentType: top.mediaType }) : undefined;
      }
      if (!bytes || parsed?.kind !== 'manifest') throw invalid(path, `${top.digest} is not an image manifest`);
      for (const d of [parsed.config, ...parsed.layers]) await ensureStored(store, blob(d.digest), d.digest, `${what} ${d.digest}`);
      return recordImage(store, bytes, { source: what, indexDigest });
    }
  }
  if (!classic?.small) throw invalid(path, 'neither manifest.json nor index.json found');
  const list = parseJson<{ Config?: string; RepoTags?: string[] | null; Layers?: string[] }[]>(classic.small, path, 'manifest.json');
  if (!Array.isArray(list) || list.length === 0) throw invalid(path, 'manifest.json lists no image');
  let entry = list[0]!;
  if (options.reference !== undefined) {
    const ref = options.reference;
    const found = list.find((e) => (e.RepoTags ?? []).some((t) => sameImage(t, ref)));
    if (!found) {
      throw new RegistryError('ARCHIVE_REF_NOT_FOUND', `${what} has no image "${ref}"`, {
        hint: `Available: ${list.flatMap((e) => e.RepoTags ?? []).join(', ') || '(untagged)'}.`,
      });
    }
    entry = found;
  } else if (list.length > 1) {
    throw new RegistryError('ARCHIVE_AMBIGUOUS', `${what} holds ${list.length} images; say which one`, {
      hint: `Pass reference: one of ${list.flatMap((e) => e.RepoTags ?? []).join(', ')}.`,
    });
  }
  if (!entry.Config || !Array.isArray(entry.Layers)) throw invalid(path, 'manifest.json entry without Config or Layers');
  const configFile = lookup(scanned, entry.Config);
  if (!configFile?.small) throw invalid(path, `config ${entry.Config} is missing`);
  const configDigest = sha256Digest(configFile.small);
  await store.put(configFile.small, { expectedDigest: configDigest, what: `${what} config` });
  const config = parseJson<{ rootfs?: { diff_ids?: string[] } }>(configFile.small, path, entry.Config);
  const diffIds = config.rootfs?.diff_ids ?? [];
  if (diffIds.length !== entry.Layers.length) {
    throw invalid(path, `config lists ${diffIds.length} layers, manifest.json ${entry.Layers.length}`);
  }
  const layers = [];
  for (const [i, name] of entry.Layers.entries()) {
    const f = lookup(scanned, name);
    if (!f) throw invalid(path, `layer ${name} is missing`);
    const digest = f.blob?.digest ?? sha256Digest(f.small ?? new Uint8Array());
    if (digest !== diffIds[i]) {
      throw new RegistryError('ARCHIVE_LAYER_MISMATCH', `${what}: layer ${name} has digest ${digest}, config says ${diffIds[i]}`, {
        hint: 'The archive is corrupted, or its layers are compressed (not supported for classic docker archives).',
      });
    }
    await ensureStored(store, f, digest, `${what} ${name}`);
    layers.push({ mediaType: MediaTypes.dockerLayer, size: f.size, digest });
  }
  const manifest = {
    schemaVersion: 2,
    mediaType: MediaTypes.dockerManifest,
    config: { mediaType: MediaTypes.dockerConfig, size: configFile.size, digest: configDigest },
    layers,
  };
  return recordImage(store, new TextEncoder().encode(JSON.stringify(manifest, null, 3)), { source: what });
}
