/**
 * Breaking changes between the CRDs of two Solution versions, for the warning of an upgrade:
 * a CRD that disappears, an API version no longer served, or a field removed from a version's
 * schema. MetalK8s itself does not look ("TODO: consider API version changes", §2.6).
 */
import { parseAllDocuments } from 'yaml';
import { openIso } from '../packaging/iso/index.js';

interface CrdVersion {
  name: string;
  served?: boolean;
  schema?: { openAPIV3Schema?: unknown };
}

/** The parts of a CRD this check reads. */
export interface CrdLike {
  metadata?: { name?: string | undefined } | undefined;
  spec?: { versions?: CrdVersion[] } | undefined;
}

function fieldPaths(schema: unknown, prefix: string, out: Set<string>): void {
  if (typeof schema !== 'object' || schema === null) return;
  const s = schema as { properties?: Record<string, unknown>; items?: unknown };
  for (const [k, v] of Object.entries(s.properties ?? {})) {
    const p = prefix ? `${prefix}.${k}` : k;
    out.add(p);
    fieldPaths(v, p, out);
  }
  if (s.items) fieldPaths(s.items, `${prefix}[]`, out);
}

/** Human-readable breaking changes from `before` to `after`, sorted. */
export function breakingCrdChanges(before: readonly CrdLike[], after: readonly CrdLike[]): string[] {
  const out: string[] = [];
  const next = new Map(after.map((c) => [c.metadata?.name ?? '', c]));
  for (const old of before) {
    const name = old.metadata?.name ?? '';
    const now = next.get(name);
    if (!now) {
      out.push(`CRD ${name} is removed: its custom resources would be lost when the new version is activated`);
      continue;
    }
    const nowVersions = new Map((now.spec?.versions ?? []).map((v) => [v.name, v]));
    for (const v of old.spec?.versions ?? []) {
      if (v.served === false) continue;
      const nv = nowVersions.get(v.name);
      if (!nv || nv.served === false) {
        out.push(`${name}: API version ${v.name} is no longer served`);
        continue;
      }
      const a = new Set<string>();
      const b = new Set<string>();
      fieldPaths(v.schema?.openAPIV3Schema, '', a);
      fieldPaths(nv.schema?.openAPIV3Schema, '', b);
      for (const f of a) if (!b.has(f)) out.push(`${name} ${v.name}: field ${f} is removed`);
    }
  }
  return out.sort();
}

/** The `operator/deploy/crds/**\/*_crd.yaml` documents of a Solution ISO. */
export async function crdsOfIso(archive: string): Promise<CrdLike[]> {
  const iso = await openIso(archive);
  try {
    const out: CrdLike[] = [];
    for (const e of await iso.list({ view: 'rockridge' })) {
      if (e.type !== 'file' || !e.path.startsWith('operator/deploy/crds/') || !e.path.endsWith('_crd.yaml')) continue;
      for (const d of parseAllDocuments((await iso.readFile(e, { view: 'rockridge' })).toString('utf8'))) {
        const o = d.toJS() as CrdLike | null;
        if (o) out.push(o);
      }
    }
    return out;
  } finally {
    await iso.close();
  }
}
