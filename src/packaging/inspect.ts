/**
 * `inspect()`: what a solution ISO holds, read from the ISO itself: the manifest, each image
 * with its digests and size, the CRDs, the operator roles, the platform objects, and the total
 * and deduplicated image sizes. Works on ISOs built by other tools too (the SDK index only adds
 * the build information and the image sources).
 *
 * @module
 */
import { createHash } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { archiveFiles, cmp, imageFolders, type ArchiveObject, nameOf, parseSdkIndex, readSmallFiles, yamlDocuments, yamlObject } from './_archive.js';
import { type IsoEntryInfo, openIso } from './iso/iso-reader.js';
import { SDK_INDEX_PATH } from './_sdk-index.js';

/** Options of {@link inspect}. */
export interface InspectOptions {
  /** The ISO to read. */
  readonly path: string;
  readonly signal?: AbortSignal | undefined;
}

/** An image of the ISO. */
export interface InspectedImage {
  readonly name: string;
  readonly tag: string;
  /** Digest MetalK8s serves (sha256 of `manifest.json`), or `undefined` when it is missing. */
  readonly manifestDigest: string | undefined;
  /** Manifest media type (MetalK8s serves Docker v2s2 only). */
  readonly mediaType: string | undefined;
  readonly configDigest: string | undefined;
  readonly layers: readonly { readonly digest: string; readonly size: number }[];
  /** Config plus layers, in bytes. */
  readonly size: number;
  /** `os/arch` from the image config, when readable. */
  readonly platform: string | undefined;
  /** Where it came from (SDK-built ISOs only). */
  readonly source: string | undefined;
}

/** A CRD of `operator/deploy/crds/`. */
export interface InspectedCrd {
  readonly file: string;
  readonly name: string;
  readonly group: string;
  readonly kind: string;
  readonly scope: string;
  /** Version names, storage version marked with `*`. */
  readonly versions: readonly string[];
}

/** A Kubernetes object of `operator/deploy/role.yaml` or `platform/`. */
export interface InspectedObject {
  readonly file: string;
  readonly kind: string;
  readonly name: string;
  readonly namespace?: string | undefined;
  /** Number of RBAC rules (roles), alert rules (PrometheusRules), else undefined. */
  readonly rules?: number | undefined;
}

/** What {@link inspect} found. */
export interface InspectResult {
  readonly path: string;
  /** ISO file size in bytes. */
  readonly size: number;
  readonly volumeId: string;
  /** From `manifest.yaml`. */
  readonly solution: {
    readonly name: string;
    readonly version: string;
    readonly id: string;
    readonly displayName: string | undefined;
    readonly annotations: Readonly<Record<string, string>>;
    readonly operatorImage: string | undefined;
    /** `spec.images`. */
    readonly images: readonly string[];
  };
  /** From `/sdk/index.json`, when the ISO has one. */
  readonly build: { readonly sdkVersion: string; readonly timestamp: string } | undefined;
  readonly images: readonly InspectedImage[];
  readonly crds: readonly InspectedCrd[];
  readonly roles: readonly InspectedObject[];
  readonly platform: readonly InspectedObject[];
  readonly sizes: {
    /** Sum of every image's size, as if each were stored alone. */
    readonly images: number;
    /** Bytes of distinct blobs: what the ISO stores for the images. */
    readonly imagesDeduplicated: number;
    /** Sum of all file sizes, with shared content counted once. */
    readonly files: number;
  };
}

function strings(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (typeof v === 'object' && v !== null) for (const [k, x] of Object.entries(v)) if (typeof x === 'string') out[k] = x;
  return out;
}

function s(v: unknown): string {
  return typeof v === 'string' ? v : v === undefined || v === null ? '' : String(v);
}

/**
 * Reads what a solution ISO holds, without extracting it.
 *
 * @example
 * const info = await inspect({ path: 'out/zenko-2.6.0.iso' });
 * for (const img of info.images) console.log(img.name, img.tag, img.manifestDigest, img.size);
 */
export async function inspect(options: InspectOptions): Promise<InspectResult> {
  const path = resolve(options.path);
  const iso = await openIso(path, { signal: options.signal });
  try {
    const files = await archiveFiles(iso, options.signal);
    const small = await readSmallFiles(iso, files, options.signal);
    const byPath = new Map<string, IsoEntryInfo>(files.map((f) => [f.path, f]));
    const { index } = parseSdkIndex(small.get(SDK_INDEX_PATH));
    const manifest = yamlObject(small.get('manifest.yaml')) ?? {};
    const meta = (manifest.metadata ?? {}) as Record<string, unknown>;
    const spec = (manifest.spec ?? {}) as { version?: unknown; images?: unknown; operator?: { image?: { name?: unknown; tag?: unknown } } };
    const annotations = strings(meta.annotations);
    const name = s(meta.name);
    const version = s(spec.version);
    const op = spec.operator?.image;

    const images: InspectedImage[] = [];
    const unique = new Map<string, number>();
    for (const { name: iname, tag } of imageFolders(small.keys())) {
      const bytes = small.get(`images/${iname}/${tag}/manifest.json`)!;
      let doc: { mediaType?: unknown; config?: { digest?: unknown; size?: unknown }; layers?: unknown } = {};
      try {
        doc = JSON.parse(Buffer.from(bytes).toString('utf8')) as typeof doc;
      } catch {
        // Reported by verify; shown here without layers.
      }
      const layers = (Array.isArray(doc.layers) ? doc.layers : [])
        .map((l: { digest?: unknown; size?: unknown }) => ({ digest: s(l?.digest), size: typeof l?.size === 'number' ? l.size : 0 }));
      const configDigest = typeof doc.config?.digest === 'string' ? doc.config.digest : undefined;
      const configSize = typeof doc.config?.size === 'number' ? doc.config.size : 0;
      for (const b of [...(configDigest ? [{ digest: configDigest, size: configSize }] : []), ...layers]) unique.set(b.digest, b.size);
      let platform: string | undefined;
      const configEntry = configDigest ? byPath.get(`images/${iname}/${tag}/${configDigest.replace(/^sha256:/, '')}`) : undefined;
      if (configEntry && configEntry.size < 4 * 1024 * 1024) {
        try {
          const cfg = JSON.parse((await iso.readFile(configEntry, { signal: options.signal })).toString('utf8')) as { os?: unknown; architecture?: unknown; variant?: unknown };
          if (typeof cfg.os === 'string' && typeof cfg.architecture === 'string') platform = `${cfg.os}/${cfg.architecture}${typeof cfg.variant === 'string' ? `/${cfg.variant}` : ''}`;
        } catch {
          // Not a JSON config: no platform shown.
        }
      }
      const fromIndex = index?.images.find((i) => i.name === iname && i.tag === tag);
      images.push({
        name: iname,
        tag,
        manifestDigest: `sha256:${createHash('sha256').update(bytes).digest('hex')}`,
        mediaType: typeof doc.mediaType === 'string' ? doc.mediaType : undefined,
        configDigest,
        layers,
        size: configSize + layers.reduce((n, l) => n + l.size, 0),
        platform: platform ?? fromIndex?.platform,
        source: fromIndex?.source,
      });
    }

    const crds: InspectedCrd[] = [];
    const roles: InspectedObject[] = [];
    const platform: InspectedObject[] = [];
    for (const [file, bytes] of small) {
      if (file.startsWith('operator/deploy/crds/') && file.endsWith('_crd.yaml')) {
        const o = yamlObject(bytes);
        const cs = (o?.spec ?? {}) as { group?: unknown; scope?: unknown; names?: { kind?: unknown }; versions?: unknown };
        const versions = (Array.isArray(cs.versions) ? cs.versions : []).map((v: { name?: unknown; storage?: unknown }) => `${s(v?.name)}${v?.storage === true ? '*' : ''}`);
        crds.push({ file, name: nameOf(o), group: s(cs.group), kind: s(cs.names?.kind), scope: s(cs.scope), versions });
      } else if (file === 'operator/deploy/role.yaml') {
        for (const d of yamlDocuments(bytes)) {
          const o = d.value as ArchiveObject | undefined;
          roles.push({ file, kind: s(o?.kind), name: nameOf(o), rules: Array.isArray(o?.rules) ? o.rules.length : 0 });
        }
      } else if (file.startsWith('platform/') && /\.ya?ml$/.test(file)) {
        for (const d of yamlDocuments(bytes)) {
          const o = d.value as ArchiveObject | undefined;
          const ns = o?.metadata?.namespace;
          const groups = (o?.spec as { groups?: unknown } | undefined)?.groups;
          const rules = o?.kind === 'PrometheusRule' && Array.isArray(groups) ? groups.reduce((n: number, g: { rules?: unknown }) => n + (Array.isArray(g?.rules) ? g.rules.length : 0), 0) : undefined;
          platform.push({ file, kind: s(o?.kind), name: nameOf(o), ...(typeof ns === 'string' ? { namespace: ns } : {}), ...(rules !== undefined ? { rules } : {}) });
        }
      }
    }
    crds.sort((a, b) => cmp(a.file, b.file));
    platform.sort((a, b) => cmp(a.file, b.file) || cmp(a.name, b.name));

    const extents = new Map<string, number>();
    for (const f of files) extents.set(f.extents.map((e) => `${e.lba}:${e.size}`).join(',') || `empty:${f.path}`, f.size);
    return {
      path,
      size: (await stat(path)).size,
      volumeId: iso.volumeId,
      solution: {
        name,
        version,
        id: name && version ? `${name}-${version}` : '',
        displayName: annotations['solutions.metalk8s.scality.com/display-name'],
        annotations,
        operatorImage: op ? `${s(op.name)}:${s(op.tag)}` : undefined,
        images: Array.isArray(spec.images) ? spec.images.map((i) => s(i)) : [],
      },
      build: index ? { sdkVersion: index.sdkVersion, timestamp: index.build.timestamp } : undefined,
      images,
      crds,
      roles,
      platform,
      sizes: {
        images: images.reduce((n, i) => n + i.size, 0),
        imagesDeduplicated: [...unique.values()].reduce((a, b) => a + b, 0),
        files: [...extents.values()].reduce((a, b) => a + b, 0),
      },
    };
  } finally {
    await iso.close();
  }
}
