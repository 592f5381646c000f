/**
 * `cluster.solutions`: import Solution ISOs into MetalK8s, activate and deactivate versions, and
 * remove archives, through SaltAPI as `solutions.sh` does through `salt-call` (metalk8s-reference.md
 * §2.4–§2.6, §2.10). Every verb converges when run again and names the Salt step that failed.
 *
 * @module
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { ClusterError, type Issue } from '../errors.js';
import { MILLISECONDS, numberOption } from '../_number-option.js';
import { openIso } from '../packaging/iso/index.js';
import { REQUIRES_METALK8S_ANNOTATION } from '../solution/render.js';
import { satisfiesRange } from '../solution/_version-range.js';
import { checkPlatformFile } from '../packaging/platform-objects.js';
import { checksumsOf } from '../packaging/_checksum-file.js';
import { compareVersions } from '../solution/version-order.js';
import { describeFailure, firstFailedStep } from './salt-results.js';
import { applyObject, deleteObject, kubeGet } from '../_kube.js';
import type { KubernetesObject } from '../solution/kubernetes-object.js';
import {
  type AvailableEntry,
  bootstrapCall,
  ENV_CONFIGMAP,
  ENV_LABEL,
  type LifecycleCallOptions,
  type LifecycleContext,
  readAvailable,
  readIsoIdentity,
  until,
} from './_lifecycle.js';

export type { LifecycleCallOptions, LifecycleProgressEvent } from './_lifecycle.js';

/** Where `import(iso, { upload: true })` puts ISOs on the bootstrap node. */
export const DEFAULT_REMOTE_DIR = '/var/lib/metalk8s-solution-sdk/archives';

/** Field manager and `managed-by` value of the platform objects the SDK applies. */
export const SDK_FIELD_MANAGER = 'metalk8s-solution-sdk';

/** One imported version of a Solution. */
export interface SolutionVersionInfo {
  readonly version: string;
  /** `<name>-<version>`. */
  readonly id: string;
  /** ISO path on the bootstrap node. */
  readonly archive: string;
  readonly active: boolean;
  /** Environments whose `metalk8s-environment` ConfigMap uses this version. */
  readonly environments: readonly string[];
  /** `spec.images` of the merged manifest. */
  readonly images: readonly string[];
}

/** An imported Solution and its versions. */
export interface SolutionInfo {
  readonly name: string;
  readonly versions: readonly SolutionVersionInfo[];
  /** The active version, if any. */
  readonly active: string | undefined;
}

/** Options of {@link SolutionsApi.import}. */
export interface ImportOptions extends LifecycleCallOptions {
  /**
   * Copy the ISO to the bootstrap node over SFTP first (needs `connect({ ssh })`), into
   * `remoteDir`, and check its sha256 there. A copy with the same sha256 is not sent again.
   * @default false (the ISO is already on the bootstrap node at `remotePath`)
   */
  readonly upload?: boolean | { readonly remoteDir?: string | undefined } | undefined;
  /**
   * Where the ISO is on the bootstrap node. Without it, the ISO path given is taken as already
   * on the bootstrap node (a local path when the SDK runs there, or in the emulator).
   * @default the absolute path of `iso`; with `upload`, `<remoteDir>/<file name>`
   */
  readonly remotePath?: string | undefined;
  /**
   * Check the ISO against the `SHA256SUM` file beside it when there is one.
   * @default true
   */
  readonly verifyChecksum?: boolean | undefined;
  /**
   * How long to wait for the version to be listed after the import orchestrate.
   * @default 120000
   */
  readonly timeoutMs?: number | undefined;
}

/** Options of {@link SolutionsApi.activate}. */
export interface ActivateOptions extends LifecycleCallOptions {
  /** The version to activate: an imported version, or `'latest'` (highest imported). @default 'latest' */
  readonly version?: string | undefined;
}

/** What {@link SolutionsApi.import} did. */
export interface ImportResult {
  readonly name: string;
  readonly version: string;
  readonly id: string;
  readonly archive: string;
  /** `false` when the version was already imported from that archive (nothing done). */
  readonly changed: boolean;
  /** sha256 of the ISO, hex. */
  readonly sha256: string;
}

/** Options of {@link SolutionsApi.deactivate}. */
export type DeactivateOptions = LifecycleCallOptions;

/** Options of {@link SolutionsApi.remove}. */
export type RemoveOptions = LifecycleCallOptions;

/** What {@link SolutionsApi.activate} did. */
export interface ActivateResult {
  readonly name: string;
  /** The version active afterwards, or undefined after a deactivation. */
  readonly version: string | undefined;
  /** Whether the active version changed. */
  readonly changed: boolean;
  /** Platform objects applied (activate) or deleted (deactivate). */
  readonly platformObjects: readonly string[];
}

/** What {@link SolutionsApi.deactivate} did: `version` is undefined. */
export type DeactivateResult = ActivateResult;

/** What {@link SolutionsApi.remove} did. */
export interface RemoveResult {
  readonly id: string | undefined;
  readonly changed: boolean;
}

function sha256File(path: string): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    const h = createHash('sha256');
    createReadStream(path)
      .on('data', (c) => h.update(c))
      .on('error', reject)
      .on('end', () => resolvePromise(h.digest('hex')));
  });
}

function describeObject(o: KubernetesObject): string {
  return `${o.kind}/${o.metadata?.namespace ? `${o.metadata.namespace}/` : ''}${o.metadata?.name}`;
}

/** The Solutions of a cluster. Get it from {@link connect}. */
export class SolutionsApi {
  readonly #ctx: LifecycleContext;

  /** @internal */
  constructor(ctx: LifecycleContext) {
    this.#ctx = ctx;
  }

  /**
   * Lists imported Solutions: their versions, the active one, and the environments using each.
   *
   * @example
   * ```ts
   * for (const s of await cluster.solutions.list()) console.log(s.name, s.active);
   * ```
   */
  async list(options: LifecycleCallOptions = {}): Promise<SolutionInfo[]> {
    const kc = this.#ctx.kubeConfig;
    const available = await readAvailable(kc, options.signal);
    const used = new Map<string, Set<string>>();
    const nsList = await kubeGet<{ items: { metadata: { name: string; labels?: Record<string, string> } }[] }>(
      kc,
      `/api/v1/namespaces?labelSelector=${encodeURIComponent(ENV_LABEL)}`,
      options.signal,
    );
    for (const ns of nsList?.items ?? []) {
      const env = ns.metadata.labels?.[ENV_LABEL] ?? '';
      const cm = await kubeGet<{ data?: Record<string, string> | null }>(kc, `/api/v1/namespaces/${ns.metadata.name}/configmaps/${ENV_CONFIGMAP}`, options.signal);
      for (const [sol, ver] of Object.entries(cm?.data ?? {})) {
        const key = `${sol}-${ver}`;
        if (!used.has(key)) used.set(key, new Set());
        used.get(key)?.add(env);
      }
    }
    return Object.entries(available)
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([name, entries]) => ({
        name,
        active: entries.find((e) => e.active)?.version,
        versions: entries.map((e) => ({
          version: e.version,
          id: e.id,
          archive: e.archive,
          active: e.active,
          environments: [...(used.get(e.id) ?? [])].sort(),
          images: ((e.manifest.spec as { images?: string[] } | undefined)?.images ?? []).slice(),
        })),
      }));
  }

  /**
   * Imports a Solution ISO: checks it as MetalK8s would, registers the archive in
   * `/etc/metalk8s/solutions.yaml` on the bootstrap node, runs
   * `metalk8s.orchestrate.solutions.import-components`, and waits until the version is listed.
   * A failed import is rolled back (the archive is unregistered).
   *
   * @throws `IsoError` for a file that is no ISO, has no manifest or a reserved name;
   *   `ClusterError` `SALT_ORCHESTRATE_FAILED` with Salt's comment when a step fails.
   * @example
   * ```ts
   * const { id, changed } = await cluster.solutions.import('/srv/isos/zenko-2.6.0.iso');
   * ```
   */
  async import(iso: string, options: ImportOptions = {}): Promise<ImportResult> {
    // Before the ISO is read and the archive registered: a NaN timeout waited forever after the import.
    numberOption('timeoutMs', options.timeoutMs, MILLISECONDS);
    const { signal, onProgress } = options;
    const local = resolve(iso);
    onProgress?.({ type: 'step', step: 'check-iso', status: 'started' });
    const identity = await readIsoIdentity(local, signal);
    const sha256 = await sha256File(local);
    if (options.verifyChecksum !== false) {
      const sums = await readFile(join(dirname(local), 'SHA256SUM'), 'utf8').catch(() => undefined);
      const expected = [...checksumsOf(sums ?? '', basename(local))].find((h) => h !== sha256);
      if (expected !== undefined) {
        throw new ClusterError('ISO_CHECKSUM_MISMATCH', `"${local}" has sha256 ${sha256}, but SHA256SUM says ${expected}`, {
          hint: 'The ISO is corrupt or was modified: copy it again.',
        });
      }
    }
    const range = (identity.manifest.metadata as { annotations?: Record<string, string> } | undefined)?.annotations?.[REQUIRES_METALK8S_ANNOTATION];
    const clusterVersion = this.#ctx.saltenv.replace(/^metalk8s-/, '');
    if (range && !satisfiesRange(clusterVersion, range)) {
      throw new ClusterError('METALK8S_VERSION_UNSUPPORTED', `${identity.name} ${identity.version} supports MetalK8s ${range}; this cluster runs ${clusterVersion}`, {
        hint: 'Use a version of the Solution built for this MetalK8s, or upgrade the cluster (solution preflight shows every check).',
      });
    }
    onProgress?.({ type: 'step', step: 'check-iso', status: 'done', detail: `${identity.name}-${identity.version}` });
    let archive = options.remotePath ?? local;
    if (options.upload) {
      const ssh = this.#ctx.ssh;
      if (!ssh) {
        throw new ClusterError('SSH_NOT_CONFIGURED', 'upload needs SSH access to the bootstrap node', {
          hint: 'Pass `ssh: { host, user, privateKey }` to connect(), or copy the ISO yourself and give remotePath.',
        });
      }
      const remoteDir = (typeof options.upload === 'object' ? options.upload.remoteDir : undefined) ?? DEFAULT_REMOTE_DIR;
      archive = options.remotePath ?? `${remoteDir.replace(/\/+$/, '')}/${basename(local)}`;
      onProgress?.({ type: 'step', step: 'upload', status: 'started', detail: `${ssh.host}:${archive}` });
      // ssh2 is an optional dependency, loaded only when an upload is asked for.
      const { uploadIso } = await import('./_sftp.js').catch((cause: unknown) => {
        throw new ClusterError('SSH_CLIENT_MISSING', 'upload needs the optional dependency ssh2, which is not installed', {
          hint: 'Install it next to the SDK (npm install ssh2), or copy the ISO yourself and give remotePath.',
          cause,
        });
      });
      const sent = await uploadIso(ssh, local, archive, sha256, { signal, onBytes: (bytes, total) => onProgress?.({ type: 'upload', bytes, total }) });
      onProgress?.({ type: 'step', step: 'upload', status: sent ? 'done' : 'skipped', detail: sent ? undefined : 'same sha256 already there' });
    }
    const id = `${identity.name}-${identity.version}`;
    const listed = async (): Promise<AvailableEntry | undefined> =>
      (await readAvailable(this.#ctx.kubeConfig, signal))[identity.name]?.find((e) => e.version === identity.version && e.archive === archive);
    if (await listed()) {
      onProgress?.({ type: 'step', step: 'import', status: 'skipped', detail: `${id} is already imported from ${archive}` });
      return { name: identity.name, version: identity.version, id, archive, changed: false, sha256 };
    }
    const other = (await readAvailable(this.#ctx.kubeConfig, signal))[identity.name]?.find((e) => e.version === identity.version);
    if (other) {
      throw new ClusterError('SOLUTION_ALREADY_IMPORTED', `${id} is already imported from another archive, ${other.archive}`, {
        hint: `Remove that archive first (solution remove ${other.archive}), or import the same path.`,
      });
    }
    await this.#configureArchive(archive, false, options);
    try {
      await this.#runImport(options);
    } catch (err) {
      onProgress?.({ type: 'step', step: 'rollback', status: 'started' });
      await this.#configureArchive(archive, true, options).catch(() => {});
      await this.#runImport({ signal }).catch(() => {});
      onProgress?.({ type: 'step', step: 'rollback', status: 'done' });
      throw err;
    }
    const ok = await until('the version to be listed in metalk8s-solutions', listed, { timeoutMs: options.timeoutMs ?? 120_000, signal, onProgress });
    if (!ok) {
      throw new ClusterError('SOLUTION_NOT_LISTED', `${id} is not listed in the metalk8s-solutions ConfigMap after the import`, {
        hint: 'Check the salt-master logs and the manifest (apiVersion and kind must be solutions.metalk8s.scality.com/v1alpha1 Solution).',
      });
    }
    return { name: identity.name, version: identity.version, id, archive, changed: true, sha256 };
  }

  /**
   * Activates a version (`options.version`, by default the latest imported): `activate_solution` then `deploy-components` (the
   * CRDs), then the ISO's `platform/` objects, server-side applied with ownership labels.
   *
   * @throws `ClusterError` `SOLUTION_VERSION_NOT_IMPORTED` when that version is not imported.
   * @example
   * ```ts
   * await cluster.solutions.activate('zenko', { version: '2.6.0' });
   * ```
   */
  async activate(name: string, options: ActivateOptions = {}): Promise<ActivateResult> {
    const { signal, onProgress, version = 'latest' } = options;
    const entries = (await readAvailable(this.#ctx.kubeConfig, signal))[name] ?? [];
    const target =
      version === 'latest'
        ? [...entries].sort((a, b) => compareVersions(b.version, a.version))[0]
        : entries.find((e) => e.version === version);
    if (!target) {
      throw new ClusterError('SOLUTION_VERSION_NOT_IMPORTED', `cannot activate ${name} ${version}: that version is not imported`, {
        hint: `Imported versions: ${entries.map((e) => e.version).join(', ') || 'none'}. Import the ISO first (solution import).`,
      });
    }
    const before = entries.find((e) => e.active)?.version;
    // Before the first write: every platform/ object must be one the SDK renders, and none may
    // replace an object that is not this solution's.
    const platform = await platformObjects(target.archive, name, target.version);
    await this.#refuseForeignObjects(name, platform, signal);
    onProgress?.({ type: 'step', step: 'activate_solution', status: 'started' });
    await this.#minion('metalk8s_solutions.activate_solution', { solution: name, version }, options);
    await this.#orchestrate('metalk8s.orchestrate.solutions.deploy-components', { bootstrap_id: this.#ctx.bootstrapId }, options);
    onProgress?.({ type: 'step', step: 'deploy-components', status: 'done' });
    const applied: string[] = [];
    onProgress?.({ type: 'step', step: 'platform', status: 'started', detail: `${platform.length} objects` });
    if (before !== undefined && before !== target.version) {
      const previous = entries.find((e) => e.version === before);
      if (previous) await this.#deletePlatform(previous, platform, options);
    }
    for (const obj of platform) {
      await applyObject(this.#ctx.kubeConfig, this.#ctx.discovery, obj, SDK_FIELD_MANAGER, signal);
      applied.push(describeObject(obj));
    }
    onProgress?.({ type: 'step', step: 'platform', status: 'done' });
    return { name, version: target.version, changed: before !== target.version, platformObjects: applied };
  }

  /**
   * Deactivates a Solution: `deactivate_solution`, `deploy-components` (which deletes its CRDs,
   * and with them every custom resource of those kinds, cluster-wide), then deletes its
   * platform objects. Warns through `onProgress` before deleting.
   *
   * @example
   * ```ts
   * await cluster.solutions.deactivate('zenko');
   * ```
   */
  async deactivate(name: string, options: DeactivateOptions = {}): Promise<DeactivateResult> {
    const { signal, onProgress } = options;
    const entries = (await readAvailable(this.#ctx.kubeConfig, signal))[name] ?? [];
    const active = entries.find((e) => e.active);
    if (active) {
      onProgress?.({
        type: 'warning',
        message: `deactivating ${name} deletes its CRDs, and with them every custom resource of those kinds in every namespace`,
      });
    }
    await this.#minion('metalk8s_solutions.deactivate_solution', { solution: name }, options);
    if (entries.length > 0) await this.#orchestrate('metalk8s.orchestrate.solutions.deploy-components', { bootstrap_id: this.#ctx.bootstrapId }, options);
    const deleted = active ? await this.#deletePlatform(active, [], options) : [];
    return { name, version: undefined, changed: active !== undefined, platformObjects: deleted };
  }

  /**
   * Removes an imported archive: refused while its version is active or used by an
   * environment, with the reason.
   *
   * @example
   * ```ts
   * await cluster.solutions.remove('/srv/isos/zenko-2.6.0.iso');
   * ```
   */
  async remove(iso: string, options: RemoveOptions = {}): Promise<RemoveResult> {
    const { signal, onProgress } = options;
    const all = await this.list({ signal });
    // The path on the bootstrap node, as given, as resolved here, or where `upload` puts it.
    const candidates = [iso, resolve(iso), `${DEFAULT_REMOTE_DIR}/${basename(iso)}`];
    const found = all.flatMap((s) => s.versions.map((v) => ({ s, v }))).find(({ v }) => candidates.includes(v.archive));
    const archive = found?.v.archive ?? resolve(iso);
    if (!found) {
      onProgress?.({ type: 'step', step: 'remove', status: 'skipped', detail: `${archive} is not imported` });
      // Still make sure the archive is not left configured by an interrupted run.
      await this.#configureArchive(archive, true, options);
      return { id: undefined, changed: false };
    }
    if (found.v.active) {
      throw new ClusterError('SOLUTION_ACTIVE', `cannot remove ${found.v.id}: it is the active version of ${found.s.name}`, {
        hint: `Deactivate it first (solution deactivate ${found.s.name}).`,
      });
    }
    if (found.v.environments.length > 0) {
      throw new ClusterError('SOLUTION_IN_USE', `cannot remove ${found.v.id}: environments ${found.v.environments.join(', ')} use it`, {
        hint: `Remove it from those environments first (solution env remove <env> ${found.s.name}).`,
      });
    }
    await this.#configureArchive(archive, true, options);
    await this.#runImport(options);
    await until(
      `${found.v.id} to leave metalk8s-solutions`,
      async () => ((await readAvailable(this.#ctx.kubeConfig, signal))[found.s.name]?.some((e) => e.version === found.v.version) ? undefined : true),
      { timeoutMs: 60_000, signal, onProgress },
    );
    return { id: found.v.id, changed: true };
  }

  /** Refuses objects that exist on the cluster and are not labelled as this solution's. */
  async #refuseForeignObjects(name: string, objects: readonly KubernetesObject[], signal: AbortSignal | undefined): Promise<void> {
    for (const obj of objects) {
      const path = await this.#ctx.discovery.path(obj, signal);
      if (!path) continue;
      const existing = await kubeGet<KubernetesObject>(this.#ctx.kubeConfig, path, signal);
      const labels = existing?.metadata?.labels ?? {};
      if (existing && (labels['app.kubernetes.io/part-of'] !== name || labels['app.kubernetes.io/managed-by'] !== SDK_FIELD_MANAGER)) {
        throw new ClusterError('PLATFORM_OBJECT_NOT_OWNED', `cannot activate ${name}: ${describeObject(obj)} of its platform/ folder already exists on the cluster and is not ${name}'s (labels app.kubernetes.io/part-of=${labels['app.kubernetes.io/part-of'] ?? '<none>'}, app.kubernetes.io/managed-by=${labels['app.kubernetes.io/managed-by'] ?? '<none>'}); nothing was changed`, {
          hint: 'Another solution or an administrator owns that object: rename it in the solution, or remove the existing object if it is a leftover.',
        });
      }
    }
  }

  async #deletePlatform(entry: AvailableEntry, keep: readonly KubernetesObject[], options: LifecycleCallOptions): Promise<string[]> {
    const name = String((entry.manifest.metadata as { name?: string } | undefined)?.name ?? entry.name);
    const objects = await platformObjects(entry.archive, name, entry.version).catch(() => []);
    const kept = new Set(keep.map(describeObject));
    const deleted: string[] = [];
    for (const obj of objects.reverse()) {
      if (kept.has(describeObject(obj))) continue;
      if (await deleteObject(this.#ctx.kubeConfig, this.#ctx.discovery, obj, options.signal)) deleted.push(describeObject(obj));
    }
    return deleted;
  }

  async #configureArchive(archive: string, removed: boolean, options: LifecycleCallOptions): Promise<void> {
    await this.#minion('metalk8s_solutions.configure_archive', { archive, removed, create_config: true }, options);
    await this.#minion('saltutil.refresh_pillar', {}, options);
  }

  async #runImport(options: LifecycleCallOptions): Promise<void> {
    await this.#orchestrate('metalk8s.orchestrate.solutions.import-components', { bootstrap_id: this.#ctx.bootstrapId }, options);
    // As solutions.sh: salt-master gets the Solution mounts. This restarts salt-api; the
    // client logs in again on the next 401.
    const step = 'metalk8s.salt.master.installed';
    options.onProgress?.({ type: 'step', step, status: 'started' });
    const ret = await bootstrapCall(this.#ctx, 'state.sls', { mods: step, saltenv: this.#ctx.saltenv }, options.signal);
    const failure = firstFailedStep({ [this.#ctx.bootstrapId]: ret });
    if (typeof ret === 'string' || Array.isArray(ret) || failure) {
      throw new ClusterError('SALT_STATE_FAILED', `state.sls ${step} on ${this.#ctx.bootstrapId} failed: ${failure ? describeFailure(failure) : JSON.stringify(ret)}`, {
        hint: 'Fix the cause above, then run the command again.',
      });
    }
    options.onProgress?.({ type: 'step', step, status: 'done' });
  }

  async #minion(fun: string, kwarg: Record<string, unknown>, options: LifecycleCallOptions): Promise<void> {
    options.onProgress?.({ type: 'step', step: fun, status: 'started' });
    const ret = await bootstrapCall(this.#ctx, fun, kwarg, options.signal);
    if (typeof ret === 'string' || (typeof ret === 'object' && ret !== null && 'missing' in ret)) {
      throw new ClusterError('SALT_FUNCTION_FAILED', `${fun} on ${this.#ctx.bootstrapId} failed: ${typeof ret === 'string' ? ret : 'the minion did not answer'}`, {
        hint: 'Fix the cause above and run the command again; nothing else was changed.',
      });
    }
    options.onProgress?.({ type: 'step', step: fun, status: 'done' });
  }

  async #orchestrate(mods: string, pillar: Record<string, unknown>, options: LifecycleCallOptions): Promise<void> {
    options.onProgress?.({ type: 'step', step: mods, status: 'started' });
    await this.#ctx.salt.orchestrate(mods, {
      saltenv: this.#ctx.saltenv,
      pillar,
      signal: options.signal,
      pollIntervalMs: 300,
      onProgress: (e) => {
        if (e.type === 'job-started') options.onProgress?.({ type: 'salt-job', step: mods, jid: e.jid });
      },
    });
    options.onProgress?.({ type: 'step', step: mods, status: 'done' });
  }
}

/**
 * The ISO's `platform/**` objects, labelled as the SDK's own. Throws `PLATFORM_OBJECT_FORBIDDEN`
 * naming every file and object outside the allowlist ({@link checkPlatformFile}).
 */
async function platformObjects(archive: string, name: string, version: string): Promise<KubernetesObject[]> {
  const iso = await openIso(archive);
  const out: KubernetesObject[] = [];
  const refused: Issue[] = [];
  try {
    const entries = (await iso.list({ view: 'rockridge' })).filter((e) => e.type !== 'directory' && e.path.startsWith('platform/'));
    for (const e of entries.sort((a, b) => (a.path < b.path ? -1 : 1))) {
      if (e.type !== 'file') {
        refused.push({ code: 'PLATFORM_OBJECT_FORBIDDEN', path: e.path, message: `${e.path} is a ${e.type}, not a YAML file`, severity: 'error' });
        continue;
      }
      const checked = checkPlatformFile(e.path, await iso.readFile(e, { view: 'rockridge' }), name);
      refused.push(...checked.issues);
      for (const checkedObj of checked.objects) {
        const obj = structuredClone(checkedObj) as KubernetesObject;
        obj.metadata = {
          ...obj.metadata,
          labels: {
            ...obj.metadata?.labels,
            'app.kubernetes.io/managed-by': SDK_FIELD_MANAGER,
            'app.kubernetes.io/part-of': name,
            'app.kubernetes.io/version': version,
          },
        };
        out.push(obj);
      }
    }
  } finally {
    await iso.close();
  }
  if (refused.length > 0) {
    throw new ClusterError(
      'PLATFORM_OBJECT_FORBIDDEN',
      `refusing ${archive}: its platform/ folder holds what the SDK never puts there; nothing was applied:\n${refused.map((i) => `  ${i.path}: ${i.message}`).join('\n')}`,
      { hint: refused[0]?.hint ?? 'Do not import this ISO; pack the solution again with `solution pack`.' },
    );
  }
  return out;
}
