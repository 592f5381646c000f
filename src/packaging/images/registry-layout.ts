/**
 * The MetalK8s static registry layout: `images/<image>/<tag>/{manifest.json, version, <hex>…}`
 * plus `registry-config.inc.j2`, the nginx snippet MetalK8s renders with Jinja at import.
 *
 * {@link planRegistryLayout} computes the tree without copying any byte: blobs are referenced in
 * the store (the ISO writer streams each distinct digest once), the small generated files are
 * returned as bytes. {@link writeLayout} materialises a plan on disk with hard links.
 *
 * The snippet reproduces what MetalK8s' `static-container-registry.py --name-prefix
 * '{{ repository }}' --server-root '{{ registry_root }}' --omit-constants` writes (same blocks,
 * same order): a tags list per image, manifests by tag and by digest with `Docker-Content-Digest`,
 * and a quoted blob regex with `try_files` over the image's tag folders. It is generated here
 * rather than by running that Python script so packing needs no MetalK8s checkout.
 *
 * @module
 */
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { type Issue, PackagingError, throwIfAborted, ValidationError } from '../../errors.js';
import { digestHex } from './_digest.js';
import { linkOrCopy } from './_link.js';
import type { BlobStore } from './blob-store.js';
import type { FetchedImage } from './fetched-image.js';
import { parseManifest } from './manifest.js';
import { MediaTypes } from './media-types.js';

/** One image to lay out, under `images/<name>/<tag>/`. */
export interface LayoutImage {
  /** Image name in the solution's registry (one path component: `operator`, `redis`). */
  readonly name: string;
  /** Tag. */
  readonly tag: string;
  /** The image, in the store. */
  readonly image: FetchedImage;
}

/** A blob of the layout, to be streamed from the store. */
export interface LayoutBlobFile {
  readonly kind: 'blob';
  /** Path in the archive, `images/<name>/<tag>/<hex>`. */
  readonly isoPath: string;
  /** `sha256:<hex>`: files with the same digest have the same bytes (store them once). */
  readonly digest: string;
  /** Size in bytes. */
  readonly size: number;
  /** The blob's file in the store (read-only). */
  readonly storePath: string;
  /** Streams the bytes from the store, verifying the digest at the end. */
  open(): AsyncIterable<Uint8Array>;
}

/** A small generated file of the layout (`manifest.json`, `version`, `registry-config.inc.j2`). */
export interface LayoutGeneratedFile {
  readonly kind: 'generated';
  /** Path in the archive. */
  readonly isoPath: string;
  /** Content. */
  readonly bytes: Uint8Array;
  /** Size in bytes. */
  readonly size: number;
}

/** A file of the layout. */
export type LayoutFile = LayoutBlobFile | LayoutGeneratedFile;

/** Options of {@link planRegistryLayout}. */
export interface PlanRegistryLayoutOptions {
  /** Store holding the images' blobs. */
  readonly store: BlobStore;
}

/** The laid-out tree, as a plan. */
export interface RegistryLayoutPlan {
  /** Every file, sorted by `isoPath`: the image tree, then `registry-config.inc.j2`. */
  readonly files: readonly LayoutFile[];
  /** The nginx snippet (also in `files` as `registry-config.inc.j2`). */
  readonly registryConfigTemplate: string;
  /** The images with the digest MetalK8s will serve for each. */
  readonly images: readonly { readonly name: string; readonly tag: string; readonly manifestDigest: string }[];
  /** Sum of distinct blob sizes: what the ISO stores for images when each blob is written once. */
  readonly uniqueBlobBytes: number;
}

/** Content of the `version` file skopeo's `dir:` transport writes, and MetalK8s ships. */
export const DIR_TRANSPORT_VERSION = 'Directory Transport Version: 1.1\n';

const NAME_RE = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG_RE = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;

/**
 * Checks image names and tags for the layout; returns every issue (never throws).
 *
 * @example
 * ```ts
 * validateLayoutImages([{ name: 'vendor/app', tag: '1.0' }]); // [{ code: 'IMAGE_NAME_INVALID', path: 'images[0].name', … }]
 * ```
 */
export function validateLayoutImages(images: readonly Pick<LayoutImage, 'name' | 'tag'>[]): Issue[] {
  const issues: Issue[] = [];
  const seen = new Set<string>();
  images.forEach((img, i) => {
    if (!NAME_RE.test(img.name)) {
      issues.push({
        code: 'IMAGE_NAME_INVALID',
        path: `images[${i}].name`,
        message: `"${img.name}" is not a valid image name for the MetalK8s registry`,
        severity: 'error',
        hint: 'Use one path component of lowercase letters, digits and . _ - (no slash), e.g. "operator".',
      });
    }
    if (!TAG_RE.test(img.tag)) {
      issues.push({
        code: 'IMAGE_TAG_INVALID',
        path: `images[${i}].tag`,
        message: `"${img.tag}" is not a valid tag`,
        severity: 'error',
        hint: 'Tags are up to 128 characters of letters, digits, _ . - and do not start with . or -.',
      });
    }
    const key = `${img.name}:${img.tag}`;
    if (seen.has(key)) {
      issues.push({
        code: 'IMAGE_DUPLICATE',
        path: `images[${i}]`,
        message: `${key} is listed twice`,
        severity: 'error',
        hint: 'Each name:tag can be laid out once.',
      });
    }
    seen.add(key);
  });
  return issues;
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Generates the nginx snippet for a set of images (name → tag → hex digest of `manifest.json`),
 * with MetalK8s' static-container-registry semantics and Jinja placeholders. Deterministic.
 *
 * @example
 * ```ts
 * const j2 = registryConfigTemplate(new Map([['app', new Map([['1.0', '3f…']])]]));
 * ```
 */
export function registryConfigTemplate(images: ReadonlyMap<string, ReadonlyMap<string, string>>): string {
  const prefix = '{{ repository }}/';
  const root = '{{ registry_root }}';
  let out = '';
  for (const name of [...images.keys()].sort(cmp)) {
    const tags = images.get(name)!;
    const sorted = [...tags.keys()].sort(cmp);
    const payload = `{"name": ${JSON.stringify(name)}, "tags": [${sorted.map((t) => JSON.stringify(t)).join(', ')}]}`;
    out += `\nlocation = /v2/${prefix}${name}/tags/list {\n    types { } default_type "application/json";\n    return 200 '${payload}';\n}\n`;
    const served = new Set<string>();
    for (const tag of sorted) {
      const hex = tags.get(tag)!;
      const block = (path: string) =>
        `\nlocation = "/v2/${prefix}${name}/manifests/${path}" {\n    alias ${root}/${name}/${tag}/;\n    types { } default_type "application/vnd.docker.distribution.manifest.v2+json";\n    add_header 'Docker-Content-Digest' 'sha256:${hex}';\n    try_files manifest.json =404;\n    error_page 404 @404_tag;\n}\n`;
      out += block(tag);
      out += served.has(hex) ? `\n# Digest for "${name}:${tag}" already served\n` : block(`sha256:${hex}`);
      served.add(hex);
    }
    out += `\nlocation ~ "/v2/${prefix}${name}/blobs/sha256:([a-f0-9]{64})" {\n    alias ${root}/${name}/;\n    try_files ${sorted.map((t) => `${t}/$1`).join(' ')} =404;\n}\n`;
  }
  return out;
}

/**
 * The constant locations MetalK8s serves once for every registry (`/v2`, `/v2/`, `@404_tag`),
 * which solution snippets omit. For test servers and emulators that play MetalK8s' nginx.
 *
 * @example
 * ```ts
 * await writeFile('conf.d/00-common.inc', registryCommonConfig());
 * ```
 */
export function registryCommonConfig(): string {
  const tagInvalid = '{"errors": [{"code": "TAG_INVALID", "message": "manifest tag did not match URI", "detail": ""}]}';
  return `\nlocation = /v2 {\n    return 301 /v2/;\n}\n\nlocation = /v2/ {\n    return 200 'ok';\n}\n\nlocation @404_tag {\n    internal;\n    types { } default_type "application/json";\n    return 404 '${tagInvalid}';\n}\n`;
}

/** Values MetalK8s passes when it renders `registry-config.inc.j2`. */
export interface RegistryConfigValues {
  /** `<name>-<version>`: the path prefix of the solution's images. */
  readonly repository: string;
  /** Directory the `images/` tree is served from (`/srv/scality/<name>-<version>/images`). */
  readonly registryRoot: string;
}

/**
 * Renders the snippet as Salt's Jinja does with `repository` and `registry_root` (the only two
 * variables MetalK8s passes). Throws when any other Jinja syntax is left, which MetalK8s would
 * choke on.
 *
 * @example
 * ```ts
 * const conf = renderRegistryConfig(plan.registryConfigTemplate, {
 *   repository: 'example-1.0.0',
 *   registryRoot: '/srv/scality/example-1.0.0/images',
 * });
 * ```
 */
export function renderRegistryConfig(template: string, values: RegistryConfigValues): string {
  const out = template
    .replace(/\{\{-?\s*repository\s*-?\}\}/g, values.repository)
    .replace(/\{\{-?\s*registry_root\s*-?\}\}/g, values.registryRoot);
  const left = /\{\{|\{%|\{#/.exec(out);
  if (left) {
    throw new PackagingError('REGISTRY_CONFIG_NOT_JINJA_SAFE', `registry-config.inc.j2 holds Jinja syntax "${left[0]}" other than {{ repository }} and {{ registry_root }}`, {
      hint: 'Image names and tags must not contain { or }; regenerate the snippet with planRegistryLayout.',
    });
  }
  return out;
}

/**
 * Plans the static registry tree for images already in the store. No byte is copied.
 *
 * @throws `ValidationError` for invalid or duplicate names and tags.
 * @example
 * ```ts
 * const plan = await planRegistryLayout([{ name: 'operator', tag: '1.0.0', image }], { store });
 * for (const f of plan.files) console.log(f.isoPath, f.size);
 * ```
 */
export async function planRegistryLayout(images: readonly LayoutImage[], options: PlanRegistryLayoutOptions): Promise<RegistryLayoutPlan> {
  const issues = validateLayoutImages(images);
  if (issues.some((i) => i.severity === 'error')) throw new ValidationError(issues, 'image layout');
  const { store } = options;
  const files: LayoutFile[] = [];
  const digests = new Map<string, Map<string, string>>();
  const unique = new Map<string, number>();
  const version = new TextEncoder().encode(DIR_TRANSPORT_VERSION);
  for (const { name, tag, image } of images) {
    const dir = `images/${name}/${tag}`;
    const manifest = await store.read(image.manifestDigest);
    files.push({ kind: 'generated', isoPath: `${dir}/manifest.json`, bytes: manifest, size: manifest.byteLength });
    files.push({ kind: 'generated', isoPath: `${dir}/version`, bytes: version, size: version.byteLength });
    // The blobs to ship are the ones the served manifest names, whatever the caller passed.
    const parsed = parseManifest(manifest, image.source, { contentType: MediaTypes.dockerManifest });
    if (parsed.kind !== 'manifest' || parsed.mediaType !== MediaTypes.dockerManifest) {
      throw new PackagingError('IMAGE_NOT_V2S2', `${image.source}: stored manifest ${image.manifestDigest} is not a Docker v2s2 manifest`, {
        hint: 'Pass images returned by fetchImage or buildImage (their manifestDigest is the v2s2 form).',
      });
    }
    const seen = new Set<string>();
    for (const d of [parsed.config, ...parsed.layers]) {
      if (seen.has(d.digest)) continue;
      seen.add(d.digest);
      const size = await store.size(d.digest);
      if (size !== d.size) {
        throw new PackagingError('BLOB_SIZE_MISMATCH', `${image.source}: stored blob ${d.digest} has ${size} bytes, the manifest says ${d.size}`, {
          hint: 'The store is damaged; prune it and fetch the image again.',
        });
      }
      const storePath = store.path(d.digest);
      const digest = d.digest;
      files.push({ kind: 'blob', isoPath: `${dir}/${digestHex(digest)}`, digest, size, storePath, open: () => store.open(digest) });
      unique.set(digest, size);
    }
    if (!digests.has(name)) digests.set(name, new Map());
    digests.get(name)!.set(tag, digestHex(image.manifestDigest));
  }
  const template = registryConfigTemplate(digests);
  const conf = new TextEncoder().encode(template);
  files.sort((a, b) => cmp(a.isoPath, b.isoPath));
  files.push({ kind: 'generated', isoPath: 'registry-config.inc.j2', bytes: conf, size: conf.byteLength });
  return {
    files,
    registryConfigTemplate: template,
    images: images.map(({ name, tag, image }) => ({ name, tag, manifestDigest: image.manifestDigest })),
    uniqueBlobBytes: [...unique.values()].reduce((a, b) => a + b, 0),
  };
}

/** Options of {@link writeLayout}. */
export interface WriteLayoutOptions {
  /** Cancels the write. */
  readonly signal?: AbortSignal | undefined;
}

/** What {@link writeLayout} did. */
export interface WriteLayoutResult {
  /** Blobs hard-linked from the store. */
  readonly linked: number;
  /** Blobs copied (the store is on another filesystem). */
  readonly copied: number;
  /** Generated files written. */
  readonly written: number;
}

/**
 * Materialises a plan under `dir` (`dir/images/…`, `dir/registry-config.inc.j2`): blobs are
 * hard links into the store when possible (same filesystem), copies otherwise; generated files
 * are written to a temporary name then renamed. Files already at those paths are replaced;
 * other files under `dir` are left alone. Files are world-readable so nginx workers
 * running as `nobody` can serve them.
 *
 * @example
 * ```ts
 * await writeLayout(plan, './build/root');
 * ```
 */
export async function writeLayout(plan: RegistryLayoutPlan, dir: string, options: WriteLayoutOptions = {}): Promise<WriteLayoutResult> {
  let linked = 0;
  let copied = 0;
  let written = 0;
  const made = new Set<string>();
  for (const f of plan.files) {
    throwIfAborted(options.signal, 'writing the image layout');
    const target = join(dir, f.isoPath);
    const parent = dirname(target);
    if (!made.has(parent)) {
      await mkdir(parent, { recursive: true, mode: 0o755 });
      made.add(parent);
    }
    if (f.kind === 'blob') {
      const how = await linkOrCopy(f.storePath, target);
      if (how === 'copied') {
        copied++;
        await chmod(target, 0o644);
      } else linked++;
    } else {
      const tmp = `${target}.tmp-${randomBytes(6).toString('hex')}`;
      await writeFile(tmp, f.bytes, { mode: 0o644 });
      await rename(tmp, target);
      written++;
    }
  }
  return { linked, copied, written };
}
