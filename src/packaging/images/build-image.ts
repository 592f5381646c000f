/**
 * Builds a container image from files, deterministically: tar entries sorted by path, mtime 0,
 * uid/gid 0, no user or group names, gzip with a fixed header; the config has a fixed
 * `created` date. The same inputs give the same layer, config and manifest digests.
 *
 * For vendors who ship static binaries (no Dockerfile, no daemon) and for examples and tests.
 * Written on tar-stream and node:zlib because no npm package builds OCI images without a daemon.
 *
 * @module
 */
import { createHash } from 'node:crypto';
import { constants, createReadStream } from 'node:fs';
import { access, lstat, readdir, readlink, stat } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { PassThrough, type Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import type * as tar from 'tar-stream';
import { meetsRule } from '../../_number-option.js';
import { fromSystemError, ValidationError } from '../../errors.js';
import { sha256Digest } from './_digest.js';
import { type BuiltLayer, type CacheableEntry, cachedLayer } from './_layer-cache.js';
import type { BlobStore } from './blob-store.js';
import { recordImage } from './_record.js';
import type { FetchedImage } from './fetched-image.js';
import { MediaTypes } from './media-types.js';
import { DEFAULT_PLATFORM, type Platform } from './platform.js';
import { sourceDate } from '../_source-date-epoch.js';

/** One entry of a layer given file by file. */
export interface LayerFile {
  /** Path inside the image, absolute or relative to `/` (`/usr/local/bin/app`). */
  readonly path: string;
  /** Entry type. @default 'file' */
  readonly type?: 'file' | 'directory' | 'symlink' | undefined;
  /** File content (for `file`), as bytes or UTF-8 text. Exclusive with `source`. */
  readonly content?: Uint8Array | string | undefined;
  /** Local file to copy (for `file`). Exclusive with `content`. */
  readonly source?: string | undefined;
  /** Symlink target (for `symlink`). */
  readonly target?: string | undefined;
  /**
   * Permission bits.
   * @default 0o755 for directories; for files copied from `source`, 0o755 when the source is
   * executable by its owner, else 0o644; 0o644 for `content`
   */
  readonly mode?: number | undefined;
}

/** A layer: a list of files, or a local directory copied under `prefix`. */
export type LayerInput =
  | { readonly files: readonly LayerFile[] }
  | {
      /** Local directory whose content becomes the layer (walked in sorted order, symlinks kept, owners set to 0). */
      readonly directory: string;
      /** Where the directory goes in the image. @default '/' */
      readonly prefix?: string | undefined;
      /**
       * `'keep'`: the permission bits found on disk. `'normalize'`: as git stores them, 0o755 for
       * directories and files with an execute bit, 0o644 for other files, so a checkout with any
       * umask gives the same layer.
       * @default 'keep'
       */
      readonly modes?: 'keep' | 'normalize' | undefined;
    };

/** Runtime configuration of a built image (the OCI config's `config` section). */
export interface BuildImageConfig {
  readonly entrypoint?: readonly string[] | undefined;
  readonly cmd?: readonly string[] | undefined;
  /** Environment, `{ NAME: 'value' }` (written sorted by name). */
  readonly env?: Readonly<Record<string, string>> | undefined;
  /** `uid[:gid]` or a name. */
  readonly user?: string | undefined;
  readonly workdir?: string | undefined;
  readonly labels?: Readonly<Record<string, string>> | undefined;
  /** Ports, e.g. `['8080/tcp']`. */
  readonly exposedPorts?: readonly string[] | undefined;
}

/** Options of {@link buildImage}. */
export interface BuildImageOptions {
  /** Layers, bottom first. At least one. */
  readonly layers: readonly LayerInput[];
  /** Runtime configuration. @default {} */
  readonly config?: BuildImageConfig | undefined;
  /** Platform written in the config. @default linux/amd64 */
  readonly platform?: Platform | undefined;
  /**
   * Creation date written in the config (ISO 8601).
   * @default `SOURCE_DATE_EPOCH` when set, else 1970-01-01T00:00:00Z
   */
  readonly created?: string | undefined;
  /** Layer compression. @default 'gzip' */
  readonly compression?: 'gzip' | 'none' | undefined;
}

/** Options of the store and cancellation for {@link buildImage}. */
export interface BuildImageRunOptions {
  /** Store that receives the blobs. */
  readonly store: BlobStore;
  /** Cancels the build. */
  readonly signal?: AbortSignal | undefined;
  /**
   * Reuse layers built before from the same inputs (paths, contents, modes, compression), found
   * in the store's build cache and verified against their digests.
   * @default true
   */
  readonly cache?: boolean | undefined;
  /** Called once per layer: whether it came from the cache and how many bytes were compressed. */
  readonly onLayer?: ((event: BuildLayerEvent) => void) | undefined;
}

/** One layer of {@link buildImage} done. */
export interface BuildLayerEvent {
  readonly index: number;
  readonly digest: string;
  readonly size: number;
  /** Found in the build cache: nothing was tarred nor compressed. */
  readonly cached: boolean;
  /** Uncompressed bytes tarred and compressed for it (0 when cached). */
  readonly bytesCompressed: number;
}

type Entry = CacheableEntry;

function invalid(path: string, message: string, hint: string): ValidationError {
  return new ValidationError([{ code: 'IMAGE_BUILD_INVALID', path, message, severity: 'error', hint }], 'image build');
}

function normalise(p: string, where: string): string {
  const n = posix.normalize(`/${p}`).replace(/^\/+/, '').replace(/\/+$/, '');
  if (n === '' || n === '.' || p.split('/').includes('..')) {
    throw invalid(where, `"${p}" is not a valid path inside the image`, 'Use paths such as /usr/local/bin/app.');
  }
  return n;
}

async function walk(dir: string, prefix: string, out: Entry[], where: string, normalize: boolean): Promise<void> {
  let names: string[];
  try {
    names = (await readdir(dir)).sort();
  } catch (cause) {
    throw invalid(where, `cannot read the layer directory ${dir}: ${(cause as Error).message}`, 'Check that the directory exists and is readable.');
  }
  for (const name of names) {
    const full = join(dir, name);
    const inImage = prefix === '' ? name : `${prefix}/${name}`;
    const st = await lstat(full);
    const mode = normalize ? (st.isDirectory() || st.mode & 0o111 ? 0o755 : 0o644) : st.mode & 0o7777;
    if (st.isDirectory()) {
      out.push({ name: inImage, type: 'directory', mode, size: 0 });
      await walk(full, inImage, out, where, normalize);
    } else if (st.isSymbolicLink()) {
      out.push({ name: inImage, type: 'symlink', mode: 0o777, size: 0, target: await readlink(full) });
    } else if (st.isFile()) {
      out.push({ name: inImage, type: 'file', mode, size: st.size, source: full });
    } else {
      throw invalid(where, `${full} is neither a file, a directory nor a symlink`, 'Remove devices, sockets and fifos from the layer directory.');
    }
  }
}

async function layerEntries(layer: LayerInput, index: number): Promise<Entry[]> {
  const where = `layers[${index}]`;
  const entries: Entry[] = [];
  if ('directory' in layer) {
    const prefix = layer.prefix && layer.prefix !== '/' ? normalise(layer.prefix, `${where}.prefix`) : '';
    await walk(layer.directory, prefix, entries, where, layer.modes === 'normalize');
  } else {
    layer.files.forEach((f, i) => {
      const name = normalise(f.path, `${where}.files[${i}].path`);
      const type = f.type ?? 'file';
      if (f.mode !== undefined && !meetsRule(f.mode, { integer: true, min: 0, max: 0o7777, unit: 'permission bits' })) {
        throw invalid(`${where}.files[${i}].mode`, `${String(f.mode)} is not a file mode`, 'Give the permission bits as an octal number from 0o0 to 0o7777, e.g. 0o755.');
      }
      if (type === 'directory') entries.push({ name, type, mode: f.mode ?? 0o755, size: 0 });
      else if (type === 'symlink') {
        if (!f.target) throw invalid(`${where}.files[${i}].target`, 'a symlink needs a target', 'Set target.');
        entries.push({ name, type, mode: 0o777, size: 0, target: f.target });
      } else if (f.source !== undefined) {
        // The mode is taken from the source below, when none is given.
        entries.push({ name, type, mode: f.mode ?? -1, size: -1, source: f.source, field: `${where}.files[${i}].source` });
      } else {
        const content = typeof f.content === 'string' ? new TextEncoder().encode(f.content) : (f.content ?? new Uint8Array());
        entries.push({ name, type, mode: f.mode ?? 0o644, size: content.byteLength, content });
      }
    });
  }
  // Parent directories, so extraction never depends on implicit ones.
  const byName = new Map<string, Entry>();
  for (const e of entries) {
    if (byName.has(e.name)) {
      throw invalid(`${where}`, `"/${e.name}" appears twice in the layer`, 'List each path once.');
    }
    byName.set(e.name, e);
  }
  for (const e of entries) {
    let parent = posix.dirname(e.name);
    while (parent !== '.' && !byName.has(parent)) {
      byName.set(parent, { name: parent, type: 'directory', mode: 0o755, size: 0 });
      parent = posix.dirname(parent);
    }
  }
  const out = [...byName.values()];
  for (let i = 0; i < out.length; i++) {
    const e = out[i]!;
    if (e.size === -1 && e.source) {
      // stat, not lstat: the size and mode are those of the file that is read.
      let st: Awaited<ReturnType<typeof stat>>;
      try {
        st = await stat(e.source);
      } catch (err) {
        throw fromSystemError(err, { file: e.source, field: e.field, doing: `copy it to /${e.name}` }) ?? err;
      }
      try {
        await access(e.source, constants.R_OK);
      } catch (err) {
        throw fromSystemError(err, { file: e.source, field: e.field, doing: `copy it to /${e.name}` }) ?? err;
      }
      if (!st.isFile()) {
        throw invalid(e.field ?? where, `${e.source} is ${st.isDirectory() ? 'a folder' : 'not a regular file'}, not a file to copy to /${e.name}`, st.isDirectory() ? 'Name a file; list the files of a folder one by one.' : 'Copy a regular file (devices, sockets and fifos cannot go into a layer).');
      }
      // Owner-executable sources stay executable (an entrypoint must run); other bits are not
      // copied, so the umask of the checkout does not change the layer.
      const mode = e.mode === -1 ? (st.mode & 0o100 ? 0o755 : 0o644) : e.mode;
      out[i] = { ...e, size: st.size, mode };
    }
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

async function feed(pack: tar.Pack, entries: readonly Entry[], signal: AbortSignal | undefined): Promise<void> {
  const epoch = new Date(0);
  for (const e of entries) {
    if (signal?.aborted) throw signal.reason;
    const base = { mtime: epoch, uid: 0, gid: 0, uname: '', gname: '', mode: e.mode };
    if (e.type === 'directory') {
      await new Promise<void>((res, rej) => pack.entry({ ...base, name: `${e.name}/`, type: 'directory' }, (err) => (err ? rej(err) : res())));
    } else if (e.type === 'symlink') {
      await new Promise<void>((res, rej) =>
        pack.entry({ ...base, name: e.name, type: 'symlink', linkname: e.target ?? '' }, (err) => (err ? rej(err) : res())),
      );
    } else if (e.content) {
      await new Promise<void>((res, rej) =>
        pack.entry({ ...base, name: e.name, type: 'file', size: e.size }, Buffer.from(e.content!), (err) => (err ? rej(err) : res())),
      );
    } else {
      const done = new Promise<void>((res, rej) => {
        const w = pack.entry({ ...base, name: e.name, type: 'file', size: e.size }, (err) => (err ? rej(err) : res()));
        pipeline(createReadStream(e.source!), w).catch((err: unknown) => rej(fromSystemError(err, { file: e.source, field: e.field, doing: `copy it to /${e.name}` }) ?? err));
      });
      await done;
    }
  }
  pack.finalize();
}

/** Tars (and compresses) one layer into the store. */
async function tarLayer(
  entries: readonly Entry[],
  i: number,
  gzip: boolean,
  store: BlobStore,
  signal: AbortSignal | undefined,
): Promise<BuiltLayer & { bytesCompressed: number }> {
  // Loaded on first use: importing the images module (a pull) does not pay for tar-stream.
  const pack = (await import('tar-stream')).pack();
  const diffHash = createHash('sha256');
  let bytes = 0;
  const tee = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      diffHash.update(chunk);
      bytes += chunk.byteLength;
      cb(null, chunk);
    },
  });
  const out = new PassThrough({ highWaterMark: 1 << 20 });
  const piping = gzip ? pipeline(pack, tee, createGzip({ level: 6, memLevel: 9 }), out) : pipeline(pack, tee, out);
  const feeding = feed(pack, entries, signal);
  const [, , info] = await Promise.all([feeding, piping, store.put(out as Readable, { what: `layer ${i}`, signal })]);
  return {
    mediaType: gzip ? MediaTypes.ociLayerGzip : MediaTypes.ociLayer,
    digest: info.digest,
    size: info.size,
    diffId: `sha256:${diffHash.digest('hex')}`,
    bytesCompressed: bytes,
  };
}

/**
 * Builds a deterministic image from files into the store. Building twice gives the same digests.
 * A layer whose inputs did not change since a previous build into the same store is taken from
 * the build cache (verified) instead of being tarred and compressed again.
 *
 * @example
 * ```ts
 * const store = await openBlobStore();
 * const image = await buildImage(
 *   {
 *     layers: [{ files: [{ path: '/usr/local/bin/app', source: './dist/app', mode: 0o755 }] }],
 *     config: { entrypoint: ['/usr/local/bin/app'], user: '1000' },
 *   },
 *   { store },
 * );
 * console.log(image.manifestDigest);
 * ```
 */
export async function buildImage(options: BuildImageOptions, run: BuildImageRunOptions): Promise<FetchedImage> {
  const { store, signal } = run;
  if (options.layers.length === 0) throw invalid('layers', 'an image needs at least one layer', 'Add a layer with files.');
  const platform = options.platform ?? DEFAULT_PLATFORM;
  const gzip = (options.compression ?? 'gzip') === 'gzip';
  const diffIds: string[] = [];
  const layers: { mediaType: string; digest: string; size: number }[] = [];
  for (const [i, layer] of options.layers.entries()) {
    const entries = await layerEntries(layer, i);
    const built = await cachedLayer(store, entries, { compression: gzip ? 'gzip-6' : 'none', enabled: run.cache ?? true, signal }, () =>
      tarLayer(entries, i, gzip, store, signal),
    );
    run.onLayer?.({ index: i, digest: built.digest, size: built.size, cached: built.cached, bytesCompressed: built.bytesCompressed });
    diffIds.push(built.diffId);
    layers.push({ mediaType: built.mediaType, digest: built.digest, size: built.size });
  }
  const c = options.config ?? {};
  const created =
    options.created ??
    (sourceDate()?.toISOString().replace('.000Z', 'Z') ?? '1970-01-01T00:00:00Z');
  const runtime: Record<string, unknown> = {};
  if (c.user !== undefined) runtime.User = c.user;
  if (c.exposedPorts?.length) runtime.ExposedPorts = Object.fromEntries([...c.exposedPorts].sort().map((p) => [p, {}]));
  if (c.env) runtime.Env = Object.keys(c.env).sort().map((k) => `${k}=${c.env![k]}`);
  if (c.entrypoint) runtime.Entrypoint = [...c.entrypoint];
  if (c.cmd) runtime.Cmd = [...c.cmd];
  if (c.workdir !== undefined) runtime.WorkingDir = c.workdir;
  if (c.labels) runtime.Labels = Object.fromEntries(Object.keys(c.labels).sort().map((k) => [k, c.labels![k]]));
  const config = {
    created,
    architecture: platform.architecture,
    os: platform.os,
    ...(platform.variant ? { variant: platform.variant } : {}),
    config: runtime,
    rootfs: { type: 'layers', diff_ids: diffIds },
    history: layers.map((_, i) => ({ created, created_by: `metalk8s-solution-sdk buildImage layer ${i}` })),
  };
  const configBytes = new TextEncoder().encode(JSON.stringify(config));
  const configInfo = await store.put(configBytes, { expectedDigest: sha256Digest(configBytes), signal });
  const manifest = {
    schemaVersion: 2,
    mediaType: MediaTypes.ociManifest,
    config: { mediaType: MediaTypes.ociConfig, digest: configInfo.digest, size: configInfo.size },
    layers,
  };
  return recordImage(store, new TextEncoder().encode(JSON.stringify(manifest)), { source: 'build' });
}
