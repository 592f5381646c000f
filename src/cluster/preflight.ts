/**
 * `preflight()`: what would go wrong if this Solution were imported and activated here, asked
 * before anything changes: the MetalK8s version against `requires.metalk8s`, CRDs and
 * StorageClasses that another Solution (or someone by hand) already owns, images already served
 * under the same id with other digests, free space on the bootstrap node for the ISO, nodes of
 * the roles the storage needs ask for, and (when a planner is given) the storage plan.
 *
 * Read-only: Kubernetes GETs, a registry HEAD per image, and SaltAPI `disk.usage` on the
 * bootstrap node.
 *
 * @module
 */
import { createHash } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { openIso } from '../packaging/iso/index.js';
import type { Solution } from '../solution/validate.js';
import { REQUIRES_METALK8S_ANNOTATION, render } from '../solution/render.js';
import { satisfiesRange } from '../solution/_version-range.js';
import { kubeGet } from '../_kube.js';
import type { KubernetesObject } from '../solution/kubernetes-object.js';
import { readAvailable } from './_lifecycle.js';
import { headManifest } from './_registry-head.js';
import type { SaltApiClient } from './salt-api.js';
import { DEFAULT_REMOTE_DIR } from './solutions.js';

/** Outcome of one check. */
export type SolutionPreflightStatus = 'pass' | 'warn' | 'fail';

/** One check of {@link preflight}. */
export interface SolutionPreflightCheck {
  /** Stable name, e.g. `metalk8s-version`. */
  readonly name: string;
  readonly status: SolutionPreflightStatus;
  /** One line. */
  readonly message: string;
  /** The facts it rests on. */
  readonly evidence: readonly string[];
}

/** What a storage planner says about the Solution's needs on this cluster (the storage module plugs in here). */
export interface StoragePlanVerdict {
  readonly satisfiable: boolean;
  readonly evidence: readonly string[];
}

/** Where preflight looks: a {@link Cluster} from `connect()` fits. */
export interface SolutionPreflightTarget {
  readonly kubeConfig: import('@kubernetes/client-node').KubeConfig;
  readonly salt?: SaltApiClient | undefined;
  readonly bootstrapId?: string | undefined;
}

/** Options of {@link preflight}. */
export interface SolutionPreflightOptions {
  /** The environment the Solution will be added to (checked to exist, or to be creatable). */
  readonly env?: string | undefined;
  /** The cluster registry, to compare served digests. @default the bootstrap node on port 8080 */
  readonly registryUrl?: string | undefined;
  /** Where the ISO will be uploaded on the bootstrap node. @default DEFAULT_REMOTE_DIR */
  readonly remoteDir?: string | undefined;
  /**
   * The solution definition of the ISO, for what the ISO does not carry: its storage needs
   * (node roles, storage plan). @default the roles are not checked (a `warn`)
   */
  readonly solution?: Solution | undefined;
  /** Plans the Solution's storage on the live inventory. @default not checked (a `warn`) */
  readonly planStorage?: ((solution: { readonly manifest: Record<string, unknown>; readonly components: readonly unknown[] }) => Promise<StoragePlanVerdict>) | undefined;
  readonly signal?: AbortSignal | undefined;
}

/** What {@link preflight} found. */
export interface SolutionPreflightResult {
  readonly solution: string;
  readonly version: string;
  readonly checks: readonly SolutionPreflightCheck[];
  /** No check failed. */
  readonly ok: boolean;
}

interface Candidate {
  readonly manifest: Record<string, unknown>;
  readonly crds: readonly KubernetesObject[];
  readonly storageClasses: readonly KubernetesObject[];
  /** `image:tag` → sha256 digest of its manifest.json (undefined for a Solution not packed yet). */
  readonly images: ReadonlyMap<string, string | undefined>;
  /** Storage needs: in the solution definition, not in the ISO. */
  readonly components: readonly { volumes?: readonly { storageClass: string; count?: { perNode?: number; role?: string } }[] }[] | undefined;
  readonly isoBytes: number | undefined;
}

async function fromIso(path: string, signal?: AbortSignal): Promise<Candidate> {
  const iso = await openIso(path, { signal });
  try {
    const files = (await iso.list({ view: 'rockridge' })).filter((e) => e.type === 'file');
    const read = async (p: string) => {
      const e = files.find((f) => f.path === p);
      return e ? Buffer.from(await iso.readFile(e, { view: 'rockridge', maxBytes: 64 << 20 })).toString('utf8') : undefined;
    };
    const manifest = (parseYaml((await read('manifest.yaml')) ?? '{}') ?? {}) as Record<string, unknown>;
    const crds: KubernetesObject[] = [];
    for (const f of files.filter((x) => x.path.startsWith('operator/deploy/crds/') && x.path.endsWith('_crd.yaml'))) crds.push(parseYaml((await read(f.path)) ?? '') as KubernetesObject);
    const storageClasses: KubernetesObject[] = [];
    for (const f of files.filter((x) => x.path.startsWith('platform/') && /\.ya?ml$/.test(x.path))) {
      const o = parseYaml((await read(f.path)) ?? '') as KubernetesObject | null;
      if (o?.kind === 'StorageClass') storageClasses.push(o);
    }
    const images = new Map<string, string | undefined>();
    for (const f of files) {
      const m = /^images\/([^/]+)\/([^/]+)\/manifest\.json$/.exec(f.path);
      if (m) images.set(`${m[1]}:${m[2]}`, `sha256:${createHash('sha256').update(await iso.readFile(f, { view: 'rockridge' })).digest('hex')}`);
    }
    return { manifest, crds, storageClasses, images, components: undefined, isoBytes: (await stat(path)).size };
  } finally {
    await iso.close();
  }
}

function fromSolution(solution: Solution): Candidate {
  const { files } = render(solution);
  const text = (p: string) => Buffer.from(files.get(p) ?? new Uint8Array()).toString('utf8');
  const paths = [...files.keys()];
  return {
    manifest: parseYaml(text('manifest.yaml')) as Record<string, unknown>,
    crds: paths.filter((p) => p.endsWith('_crd.yaml')).map((p) => parseYaml(text(p)) as KubernetesObject),
    storageClasses: paths
      .filter((p) => p.startsWith('platform/'))
      .map((p) => parseYaml(text(p)) as KubernetesObject)
      .filter((o) => o?.kind === 'StorageClass'),
    images: new Map(solution.definition.images.map((i) => [`${i.name}:${i.tag}`, undefined])),
    components: (solution.definition.components ?? []) as Candidate['components'],
    isoBytes: undefined,
  };
}

const str = (v: unknown): string => (typeof v === 'string' ? v : '');

/**
 * Checks a Solution ISO (or a defined Solution) against a cluster before import.
 *
 * @example
 * ```ts
 * const r = await preflight(cluster, 'zenko-2.7.0.iso', { env: 'zenko-prod' });
 * for (const c of r.checks) console.log(c.status, c.name, c.message);
 * ```
 */
export async function preflight(target: SolutionPreflightTarget, iso: string | Solution, options: SolutionPreflightOptions = {}): Promise<SolutionPreflightResult> {
  const { signal } = options;
  const kc = target.kubeConfig;
  const loaded = typeof iso === 'string' ? await fromIso(iso, signal) : fromSolution(iso);
  const c: Candidate = loaded.components === undefined && options.solution ? { ...loaded, components: (options.solution.definition.components ?? []) as Candidate['components'] } : loaded;
  const name = str((c.manifest.metadata as { name?: unknown } | undefined)?.name);
  const version = str((c.manifest.spec as { version?: unknown } | undefined)?.version);
  const id = `${name}-${version}`;
  const checks: SolutionPreflightCheck[] = [];
  const add = (check: SolutionPreflightCheck) => checks.push(check);

  // MetalK8s version.
  const ns = await kubeGet<KubernetesObject>(kc, '/api/v1/namespaces/kube-system', signal);
  const clusterVersion = ns?.metadata?.annotations?.['metalk8s.scality.com/cluster-version'];
  const range = (c.manifest.metadata as { annotations?: Record<string, string> } | undefined)?.annotations?.[REQUIRES_METALK8S_ANNOTATION];
  if (!clusterVersion) add({ name: 'metalk8s-version', status: 'fail', message: 'not a MetalK8s cluster', evidence: ['kube-system has no metalk8s.scality.com/cluster-version annotation'] });
  else if (!range) add({ name: 'metalk8s-version', status: 'warn', message: `MetalK8s ${clusterVersion}; the Solution states no supported range`, evidence: [`no ${REQUIRES_METALK8S_ANNOTATION} annotation in manifest.yaml`] });
  else {
    const ok = satisfiesRange(clusterVersion, range);
    add({
      name: 'metalk8s-version',
      status: ok ? 'pass' : 'fail',
      message: ok ? `MetalK8s ${clusterVersion} is in ${range}` : `MetalK8s ${clusterVersion} is outside the supported range ${range}`,
      evidence: [`cluster: metalk8s.scality.com/cluster-version=${clusterVersion}`, `solution: ${REQUIRES_METALK8S_ANNOTATION}=${range}`],
    });
  }

  // Who else is imported.
  const available = await readAvailable(kc, signal);
  const own = available[name] ?? [];
  const others = Object.entries(available).filter(([n]) => n !== name);

  // CRDs.
  const crdEvidence: string[] = [];
  let crdFail = false;
  for (const crd of c.crds) {
    const crdName = str(crd?.metadata?.name);
    const existing = await kubeGet<KubernetesObject>(kc, `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${encodeURIComponent(crdName)}`, signal);
    if (!existing) continue;
    if (own.some((e) => e.active)) {
      crdEvidence.push(`${crdName} exists; ${name} ${own.find((e) => e.active)?.version} is active (an upgrade replaces it)`);
      continue;
    }
    crdFail = true;
    const labels = Object.entries(existing.metadata?.labels ?? {}).map(([k, v]) => `${k}=${v}`).join(', ');
    crdEvidence.push(`${crdName} already exists and ${name} has no active version: owned by ${others.find(([, es]) => es.some((e) => e.active))?.[0] ? `another Solution or installed by hand` : 'something else (installed by hand?)'}${labels ? ` (labels: ${labels})` : ''}, created ${String((existing.metadata as { creationTimestamp?: string } | undefined)?.creationTimestamp ?? '?')}`);
  }
  add({
    name: 'crd-conflicts',
    status: crdFail ? 'fail' : 'pass',
    message: crdFail ? `CRDs of ${id} already exist on the cluster, owned by someone else: activation would take them over` : `${c.crds.length} CRDs, none owned by another Solution`,
    evidence: crdEvidence,
  });

  // StorageClasses.
  const scEvidence: string[] = [];
  let scFail = false;
  for (const sc of c.storageClasses) {
    const scName = str(sc.metadata?.name);
    const existing = await kubeGet<KubernetesObject>(kc, `/apis/storage.k8s.io/v1/storageclasses/${encodeURIComponent(scName)}`, signal);
    if (!existing) continue;
    const owner = existing.metadata?.labels?.['app.kubernetes.io/part-of'];
    if (owner === name) continue;
    scFail = true;
    scEvidence.push(`StorageClass ${scName} exists, part-of ${owner ?? '(no label: made by hand or by MetalK8s)'}`);
  }
  add({ name: 'storageclass-conflicts', status: scFail ? 'fail' : 'pass', message: scFail ? 'StorageClasses of the Solution already belong to someone else' : `${c.storageClasses.length} StorageClasses, no conflict`, evidence: scEvidence });

  // Images under the same id with other digests; same image names in other Solutions.
  const nodes = (await kubeGet<{ items: KubernetesObject[] }>(kc, '/api/v1/nodes', signal))?.items ?? [];
  const bootstrap = nodes.find((n) => n.metadata?.labels?.['node-role.kubernetes.io/bootstrap'] !== undefined);
  const bootstrapIp = (bootstrap?.status as { addresses?: { type: string; address: string }[] } | undefined)?.addresses?.find((a) => a.type === 'InternalIP')?.address;
  const registry = (options.registryUrl ?? (bootstrapIp ? `http://${bootstrapIp}:8080` : '')).replace(/\/+$/, '');
  const head = async (repoId: string, ref: string): Promise<string | undefined> => {
    const [image = '', tag = ''] = ref.split(':');
    const r = await headManifest(registry, repoId, image, tag, signal);
    return r.served ? r.digest : undefined;
  };
  const imageEvidence: string[] = [];
  let imageStatus: SolutionPreflightStatus = 'pass';
  if (!registry) imageStatus = 'warn';
  else {
    try {
      for (const [ref, digest] of c.images) {
        if (own.some((e) => e.version === version)) {
          const served = await head(id, ref);
          if (served && digest && served !== digest) {
            imageStatus = 'fail';
            imageEvidence.push(`${id}/${ref} is already served with ${served}; this ISO has ${digest}`);
          }
        }
        for (const [other, entries] of others) {
          for (const e of entries) {
            if (!((e.manifest.spec as { images?: string[] } | undefined)?.images ?? []).includes(ref)) continue;
            const served = await head(e.id, ref);
            if (served && digest && served !== digest) {
              if (imageStatus === 'pass') imageStatus = 'warn';
              imageEvidence.push(`${ref} is also shipped by ${other} (${e.id}) with another digest ${served}`);
            }
          }
        }
      }
    } catch (err) {
      imageStatus = 'warn';
      imageEvidence.push(`registry ${registry} not reachable: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  if (!registry) imageEvidence.push('registry address unknown: pass registryUrl');
  add({
    name: 'image-conflicts',
    status: imageStatus,
    message: imageStatus === 'fail' ? `${id} is already imported with different images: re-packed under the same version` : imageStatus === 'warn' ? 'images could not all be compared' : `${c.images.size} images, no conflicting digest`,
    evidence: imageEvidence,
  });

  // Free space on the bootstrap node.
  if (c.isoBytes === undefined) add({ name: 'bootstrap-free-space', status: 'pass', message: 'not an ISO yet: nothing to upload', evidence: [] });
  else if (!target.salt) add({ name: 'bootstrap-free-space', status: 'warn', message: 'not checked: no SaltAPI connection', evidence: [] });
  else {
    const dirPath = options.remoteDir ?? DEFAULT_REMOTE_DIR;
    try {
      const tgt = target.bootstrapId ?? bootstrap?.metadata?.name ?? 'bootstrap';
      const answer = (await target.salt.local({ tgt, fun: 'disk.usage' }, { signal }))[tgt];
      const mounts = Object.entries(typeof answer === 'object' && answer !== null ? (answer as Record<string, { available?: string | number }>) : {});
      // The longest mount point that contains the upload directory.
      const mount = mounts.filter(([m]) => dirPath === m || dirPath.startsWith(m.endsWith('/') ? m : `${m}/`)).sort(([a], [b]) => b.length - a.length)[0];
      if (!mount) throw new Error(typeof answer === 'string' ? answer : `disk.usage gave no filesystem for ${dirPath}`);
      const free = Number(mount[1].available) * 1024;
      const need = c.isoBytes;
      add({
        name: 'bootstrap-free-space',
        status: free >= need * 1.1 ? 'pass' : 'fail',
        message: free >= need * 1.1 ? `${(free / 2 ** 30).toFixed(1)} GiB free on ${tgt}:${mount[0]} for a ${(need / 2 ** 20).toFixed(0)} MiB ISO` : `not enough space on ${tgt}:${mount[0]} for the ISO`,
        evidence: [`disk.usage ${mount[0]}: available ${(free / 2 ** 20).toFixed(0)} MiB`, `ISO ${(need / 2 ** 20).toFixed(0)} MiB (+10% margin), uploaded to ${dirPath}`],
      });
    } catch (err) {
      add({ name: 'bootstrap-free-space', status: 'warn', message: 'free space could not be read', evidence: [err instanceof Error ? err.message : String(err)] });
    }
  }

  // Node roles.
  const roles = new Set((c.components ?? []).flatMap((comp) => (comp.volumes ?? []).map((v) => v.count?.role).filter((r): r is string => typeof r === 'string')));
  const roleEvidence = [...roles].sort().map((r) => {
    const n = nodes.filter((x) => x.metadata?.labels?.[`node-role.kubernetes.io/${r}`] !== undefined).map((x) => str(x.metadata?.name));
    return { r, n };
  });
  const missing = roleEvidence.filter((x) => x.n.length === 0);
  if (c.components === undefined) add({ name: 'node-roles', status: 'warn', message: 'not checked: the ISO does not carry the storage needs (give the solution file)', evidence: [] });
  else add({
    name: 'node-roles',
    status: missing.length ? 'fail' : 'pass',
    message: missing.length ? `no node has role ${missing.map((m) => m.r).join(', ')}, which the storage needs ask for` : roles.size ? 'every role asked for has nodes' : 'no role asked for',
    evidence: roleEvidence.map((x) => `role ${x.r}: ${x.n.join(', ') || 'no node'}`),
  });

  // Storage plan (seam for the planner of the storage module).
  if (!options.planStorage) add({ name: 'storage-plan', status: 'warn', message: 'not checked: no storage planner given', evidence: [] });
  else {
    const v = await options.planStorage({ manifest: c.manifest, components: c.components ?? [] }).catch((err: unknown) => err instanceof Error ? err : new Error(String(err)));
    if (v instanceof Error) add({ name: 'storage-plan', status: 'warn', message: 'the storage plan could not be made', evidence: [v.message] });
    else add({ name: 'storage-plan', status: v.satisfiable ? 'pass' : 'fail', message: v.satisfiable ? 'the storage needs can be met on this cluster' : 'the storage needs cannot be met on this cluster', evidence: v.evidence });
  }

  // Environment.
  if (options.env) {
    const envNs = await kubeGet<{ items: KubernetesObject[] }>(kc, `/api/v1/namespaces?labelSelector=${encodeURIComponent(`solutions.metalk8s.scality.com/environment=${options.env}`)}`, signal);
    add({
      name: 'environment',
      status: 'pass',
      message: envNs?.items.length ? `environment ${options.env} exists (${envNs.items.map((n) => n.metadata?.name).join(', ')})` : `environment ${options.env} does not exist yet: solution env create ${options.env}`,
      evidence: [],
    });
  }
  return { solution: name, version, checks, ok: !checks.some((x) => x.status === 'fail') };
}
