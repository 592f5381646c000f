/**
 * `cluster.environments`: MetalK8s environments (labelled namespaces, §2.3) and the Solutions
 * running in them (`metalk8s-environment` + `prepare-environment`, §2.4, §2.7).
 *
 * @module
 */
import { ClusterError } from '../errors.js';
import { MILLISECONDS, numberOption } from '../_number-option.js';
import { metalk8sFeatures } from '../solution/metalk8s-version.js';
import { crdChanges } from '../packaging/diff.js';
import { crdFilesOfIso } from './_crd-changes.js';
import { deleteObject, kubeFailure, kubeGet, kubePatch, kubeRequest } from '../_kube.js';
import type { KubernetesObject } from '../solution/kubernetes-object.js';
import {
  type AvailableEntry,
  ENV_ANNOTATION,
  ENV_CONFIGMAP,
  ENV_LABEL,
  type LifecycleCallOptions,
  type LifecycleContext,
  readAvailable,
  until,
} from './_lifecycle.js';

/** Options of {@link EnvironmentsApi.create}. */
export interface CreateEnvironmentOptions extends LifecycleCallOptions {
  /** Free text, the `environment-description` annotation. @default none */
  readonly description?: string | undefined;
  /** Namespaces of the environment. @default [the environment name] */
  readonly namespaces?: readonly string[] | undefined;
}

/** An environment and what runs in it. */
export interface EnvironmentInfo {
  readonly name: string;
  readonly description: string | undefined;
  readonly namespaces: readonly string[];
  /** Solution name → version, from the `metalk8s-environment` ConfigMaps. */
  readonly solutions: Readonly<Record<string, string>>;
}

/** Options of {@link EnvironmentsApi.addSolution}. */
export interface AddSolutionOptions extends LifecycleCallOptions {
  /** The Solution's name. */
  readonly name: string;
  /** The imported version to run in the environment. */
  readonly version: string;
  /** Mount the webhook certificate Secret `<name>-cert` (`--webhook`). @default false */
  readonly webhook?: boolean | undefined;
  /** How long to wait for the operator Deployment to be Available. @default 120000 */
  readonly timeoutMs?: number | undefined;
}

/** Options of {@link EnvironmentsApi.removeSolution}. */
export interface RemoveSolutionOptions extends LifecycleCallOptions {
  /** The Solution's name. */
  readonly name: string;
}

/** What {@link EnvironmentsApi.addSolution} did. */
export interface AddSolutionResult {
  readonly environment: string;
  readonly name: string;
  readonly version: string;
  /** `false` when that version was already there. */
  readonly changed: boolean;
}

/** Options of {@link EnvironmentsApi.upgradeSolution}: those of `addSolution`. */
export type UpgradeSolutionOptions = AddSolutionOptions;

/** What {@link EnvironmentsApi.upgradeSolution} did. */
export type UpgradeSolutionResult = AddSolutionResult;

/** What {@link EnvironmentsApi.removeSolution} did. */
export interface RemoveSolutionResult {
  /** `false` when the Solution was not in the environment and nothing was left to delete. */
  readonly changed: boolean;
  /** `Kind/namespace/name` of the operator objects the SDK deleted. */
  readonly deleted: readonly string[];
}

/** Options of {@link EnvironmentsApi.delete}. */
export type DeleteEnvironmentOptions = LifecycleCallOptions;

/** What {@link EnvironmentsApi.delete} did. */
export interface DeleteEnvironmentResult {
  /** The namespaces whose deletion was asked (empty when the environment does not exist). */
  readonly namespaces: readonly string[];
}

const OPERATOR_KINDS: readonly [string, string, string][] = [
  ['apps/v1', 'Deployment', ''],
  ['v1', 'ConfigMap', '-config'],
  ['v1', 'Service', '-metrics'],
  ['monitoring.coreos.com/v1', 'ServiceMonitor', ''],
  ['cert-manager.io/v1', 'Certificate', '-metrics-cert'],
  ['cert-manager.io/v1', 'Issuer', '-metrics-issuer'],
  ['v1', 'ServiceAccount', ''],
];

/** Whether the cluster's MetalK8s (from its saltenv) mounts the webhook certificate. */
function webhookSupported(saltenv: string): boolean {
  try {
    return metalk8sFeatures(saltenv).webhook;
  } catch {
    return true; // an unknown version format: let MetalK8s decide
  }
}

/** Checked before the environment is read: a NaN timeout waited for the operator forever, after the ConfigMaps changed. */
function checkTimeout(options: AddSolutionOptions): void {
  numberOption('timeoutMs', options.timeoutMs, MILLISECONDS);
}

/** The environments of a cluster. Get it from {@link connect}. */
export class EnvironmentsApi {
  readonly #ctx: LifecycleContext;

  /** @internal */
  constructor(ctx: LifecycleContext) {
    this.#ctx = ctx;
  }

  /**
   * Creates an environment: its namespaces, labelled and annotated, each with an empty
   * `metalk8s-environment` ConfigMap. Converges when run again.
   *
   * @example
   * ```ts
   * await cluster.environments.create('zenko-prod', { description: 'Production' });
   * ```
   */
  async create(name: string, options: CreateEnvironmentOptions = {}): Promise<EnvironmentInfo> {
    const kc = this.#ctx.kubeConfig;
    if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(name)) {
      throw new ClusterError('ENVIRONMENT_NAME_INVALID', `environment name "${name}" is not a DNS label`, { hint: 'Use lowercase letters, digits and dashes.' });
    }
    for (const ns of options.namespaces ?? [name]) {
      const existing = await kubeGet<{ metadata: { labels?: Record<string, string> } }>(kc, `/api/v1/namespaces/${ns}`, options.signal);
      const owner = existing?.metadata.labels?.[ENV_LABEL];
      if (existing && owner !== undefined && owner !== name) {
        throw new ClusterError('NAMESPACE_IN_OTHER_ENVIRONMENT', `namespace ${ns} already belongs to environment ${owner}`, { hint: 'Choose another namespace.' });
      }
      options.onProgress?.({ type: 'step', step: `namespace ${ns}`, status: existing ? 'skipped' : 'started' });
      const body = {
        metadata: {
          name: ns,
          labels: { [ENV_LABEL]: name },
          ...(options.description !== undefined ? { annotations: { [ENV_ANNOTATION]: options.description } } : {}),
        },
      };
      if (existing) await kubePatch(kc, `/api/v1/namespaces/${ns}`, body, options.signal);
      else {
        const res = await kubeRequest(kc, 'POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', ...body }, undefined, options.signal);
        if (res.status === 409) await kubePatch(kc, `/api/v1/namespaces/${ns}`, body, options.signal);
        else if (res.status >= 300) throw kubeFailure(`create namespace ${ns}`, res);
      }
      const cm = await kubeRequest(
        kc,
        'POST',
        `/api/v1/namespaces/${ns}/configmaps`,
        { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: ENV_CONFIGMAP } },
        undefined,
        options.signal,
      );
      if (cm.status >= 300 && cm.status !== 409) throw kubeFailure(`create ConfigMap ${ns}/${ENV_CONFIGMAP}`, cm);
    }
    const env = (await this.list(options)).find((e) => e.name === name);
    if (!env) throw new ClusterError('ENVIRONMENT_NOT_FOUND', `environment ${name} is not listed after its creation`, { hint: 'Check the namespaces.' });
    return env;
  }

  /**
   * Lists environments with their namespaces and Solutions.
   *
   * @example
   * ```ts
   * const envs = await cluster.environments.list();
   * ```
   */
  async list(options: LifecycleCallOptions = {}): Promise<EnvironmentInfo[]> {
    const kc = this.#ctx.kubeConfig;
    const res = await kubeGet<{ items: { metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string>; deletionTimestamp?: string } }[] }>(
      kc,
      `/api/v1/namespaces?labelSelector=${encodeURIComponent(ENV_LABEL)}`,
      options.signal,
    );
    const envs = new Map<string, { description: string | undefined; namespaces: string[]; solutions: Record<string, string> }>();
    for (const ns of res?.items ?? []) {
      if (ns.metadata.deletionTimestamp) continue;
      const name = ns.metadata.labels?.[ENV_LABEL] ?? '';
      const env = envs.get(name) ?? { description: undefined, namespaces: [], solutions: {} };
      env.namespaces.push(ns.metadata.name);
      env.description ??= ns.metadata.annotations?.[ENV_ANNOTATION];
      const cm = await kubeGet<{ data?: Record<string, string> | null }>(kc, `/api/v1/namespaces/${ns.metadata.name}/configmaps/${ENV_CONFIGMAP}`, options.signal);
      Object.assign(env.solutions, cm?.data ?? {});
      envs.set(name, env);
    }
    return [...envs.entries()]
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([name, e]) => ({ name, description: e.description, namespaces: e.namespaces.sort(), solutions: e.solutions }));
  }

  /**
   * Deletes every namespace of an environment (and so everything in them).
   *
   * @example
   * ```ts
   * await cluster.environments.delete('zenko-prod');
   * ```
   */
  async delete(name: string, options: DeleteEnvironmentOptions = {}): Promise<DeleteEnvironmentResult> {
    const env = (await this.list(options)).find((e) => e.name === name);
    for (const ns of env?.namespaces ?? []) {
      options.onProgress?.({ type: 'step', step: `delete namespace ${ns}`, status: 'started' });
      const res = await kubeRequest(this.#ctx.kubeConfig, 'DELETE', `/api/v1/namespaces/${ns}`, undefined, undefined, options.signal);
      if (res.status >= 300 && res.status !== 404) throw kubeFailure(`delete namespace ${ns}`, res);
    }
    return { namespaces: env?.namespaces ?? [] };
  }

  /**
   * Adds a Solution version to an environment: patches `metalk8s-environment`, runs
   * `prepare-environment`, then waits until the operator Deployment is Available, or says why
   * it is not (image pull failure, crash loop…).
   *
   * @throws `ClusterError` `ENVIRONMENT_NOT_FOUND`, `SOLUTION_VERSION_NOT_IMPORTED`,
   *   `OPERATOR_NOT_AVAILABLE`, or `SALT_ORCHESTRATE_FAILED`.
   * @example
   * ```ts
   * await cluster.environments.addSolution('zenko-prod', { name: 'zenko', version: '2.6.0' });
   * ```
   */
  async addSolution(environment: string, options: AddSolutionOptions): Promise<AddSolutionResult> {
    checkTimeout(options);
    return this.#add(await this.#find(environment, options.signal), options);
  }

  /** The environment to add a Solution to, or `ENVIRONMENT_NOT_FOUND`. */
  async #find(environment: string, signal: AbortSignal | undefined): Promise<EnvironmentInfo> {
    const env = (await this.list({ signal })).find((e) => e.name === environment);
    if (!env) {
      throw new ClusterError('ENVIRONMENT_NOT_FOUND', `environment ${environment} does not exist`, { hint: `Create it first (solution env create ${environment}).` });
    }
    return env;
  }

  /**
   * addSolution on the environment as `env` read it: the version it moves from, and whether
   * anything changed, are those of that read (an upgrade reads the environment once, before it
   * compares the CRDs of both versions; a second read could see another client's upgrade land
   * meanwhile and report nothing moved). `imported`: the versions of the Solution the caller
   * already read from `metalk8s-solutions`, so that an upgrade reads that ConfigMap once.
   */
  async #add(env: EnvironmentInfo, options: AddSolutionOptions, imported?: readonly AvailableEntry[]): Promise<AddSolutionResult> {
    const { signal, onProgress, name, version } = options;
    const environment = env.name;
    const entries = imported ?? (await readAvailable(this.#ctx.kubeConfig, signal))[name] ?? [];
    if (!entries.some((e) => e.version === version)) {
      throw new ClusterError('SOLUTION_VERSION_NOT_IMPORTED', `${name} ${version} is not imported in the cluster`, {
        hint: `Imported versions: ${entries.map((e) => e.version).join(', ') || 'none'}. Import the ISO first (solution import).`,
      });
    }
    const previous = env.solutions[name];
    if (previous !== undefined && previous !== version) {
      onProgress?.({ type: 'warning', message: `${name} moves from ${previous} to ${version} in ${environment}` });
    }
    for (const ns of env.namespaces) {
      onProgress?.({ type: 'step', step: `metalk8s-environment ${ns}`, status: 'started' });
      await kubePatch(this.#ctx.kubeConfig, `/api/v1/namespaces/${ns}/configmaps/${ENV_CONFIGMAP}`, { data: { [name]: version } }, signal);
    }
    if (options.webhook === true && !webhookSupported(this.#ctx.saltenv)) {
      onProgress?.({ type: 'warning', message: `MetalK8s ${this.#ctx.saltenv.replace(/^metalk8s-/, '')} has no add-solution --webhook (124.1.7 and 125.0 have it): the operator gets no /cert mount` });
    }
    await this.#prepare(environment, options.webhook === true, options);
    for (const ns of env.namespaces) await this.#waitAvailable(ns, name, version, options);
    return { environment, name, version, changed: previous !== version };
  }

  /**
   * Moves an environment to another version of a Solution: the same path as
   * {@link EnvironmentsApi.addSolution}, with a warning when CRD versions disappear.
   *
   * @example
   * ```ts
   * await cluster.environments.upgradeSolution('zenko-prod', { name: 'zenko', version: '2.7.0' });
   * ```
   */
  async upgradeSolution(environment: string, options: UpgradeSolutionOptions): Promise<UpgradeSolutionResult> {
    checkTimeout(options);
    const { name, version } = options;
    const env = await this.#find(environment, options.signal);
    const current = env.solutions[name];
    if (current === undefined) {
      throw new ClusterError('SOLUTION_NOT_IN_ENVIRONMENT', `${name} is not in environment ${environment}`, { hint: `Add it instead (solution env add ${environment} ${name} ${version}).` });
    }
    let entries: readonly AvailableEntry[] | undefined;
    if (current !== version) {
      entries = (await readAvailable(this.#ctx.kubeConfig, options.signal))[name] ?? [];
      const from = entries.find((e) => e.version === current);
      const to = entries.find((e) => e.version === version);
      if (from && to) {
        // The ISOs are read where the SDK runs: skipped when they are only on the bootstrap node.
        const changes = await Promise.all([crdFilesOfIso(from.archive, options.signal), crdFilesOfIso(to.archive, options.signal)])
          .then(([a, b]) => crdChanges(a, b).filter((c) => c.breaking))
          .catch(() => []);
        for (const c of changes) options.onProgress?.({ type: 'warning', message: `${name} ${current} → ${version}: ${c.message}` });
      }
    }
    return this.#add(env, options, entries);
  }

  /**
   * Removes a Solution from an environment. MetalK8s only drops the ConfigMap key and leaves
   * the operator objects behind; the SDK deletes them too, and reports it.
   *
   * @example
   * ```ts
   * await cluster.environments.removeSolution('zenko-prod', { name: 'zenko' });
   * ```
   */
  async removeSolution(environment: string, options: RemoveSolutionOptions): Promise<RemoveSolutionResult> {
    const { signal, onProgress, name } = options;
    const env = (await this.list({ signal })).find((e) => e.name === environment);
    if (!env) {
      throw new ClusterError('ENVIRONMENT_NOT_FOUND', `environment ${environment} does not exist`, { hint: 'Check the name (solution env list).' });
    }
    const present = env.solutions[name] !== undefined;
    for (const ns of env.namespaces) {
      await kubePatch(this.#ctx.kubeConfig, `/api/v1/namespaces/${ns}/configmaps/${ENV_CONFIGMAP}`, { data: { [name]: null } }, signal);
    }
    if (present) await this.#prepare(environment, false, options);
    const deleted: string[] = [];
    const op = `${name}-operator`;
    for (const ns of env.namespaces) {
      for (const [apiVersion, kind, suffix] of OPERATOR_KINDS) {
        const obj: KubernetesObject = { apiVersion, kind, metadata: { name: `${op}${suffix}`, namespace: ns } };
        if (await deleteObject(this.#ctx.kubeConfig, this.#ctx.discovery, obj, signal)) deleted.push(`${kind}/${ns}/${op}${suffix}`);
      }
      const bindings = await kubeGet<{ items: { metadata: { name: string } }[] }>(
        this.#ctx.kubeConfig,
        `/apis/rbac.authorization.k8s.io/v1/namespaces/${ns}/rolebindings?labelSelector=${encodeURIComponent(`app=${op}`)}`,
        signal,
      );
      for (const b of bindings?.items ?? []) {
        const obj: KubernetesObject = { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: { name: b.metadata.name, namespace: ns } };
        if (await deleteObject(this.#ctx.kubeConfig, this.#ctx.discovery, obj, signal)) deleted.push(`RoleBinding/${ns}/${b.metadata.name}`);
      }
    }
    if (deleted.length > 0) {
      onProgress?.({ type: 'warning', message: `MetalK8s leaves a removed Solution's operator objects behind; the SDK deleted them: ${deleted.join(', ')}` });
    }
    return { changed: present || deleted.length > 0, deleted };
  }

  async #prepare(environment: string, webhook: boolean, options: LifecycleCallOptions): Promise<void> {
    const mods = 'metalk8s.orchestrate.solutions.prepare-environment';
    options.onProgress?.({ type: 'step', step: mods, status: 'started' });
    await this.#ctx.salt.orchestrate(mods, {
      saltenv: this.#ctx.saltenv,
      pillar: { orchestrate: { env_name: environment, webhook_enabled: webhook } },
      signal: options.signal,
      pollIntervalMs: 300,
      onProgress: (e) => {
        if (e.type === 'job-started') options.onProgress?.({ type: 'salt-job', step: mods, jid: e.jid });
      },
    });
    options.onProgress?.({ type: 'step', step: mods, status: 'done' });
  }

  async #waitAvailable(ns: string, name: string, version: string, options: AddSolutionOptions): Promise<void> {
    const kc = this.#ctx.kubeConfig;
    const op = `${name}-operator`;
    type Dep = { metadata: { generation?: number; labels?: Record<string, string> }; status?: { observedGeneration?: number; updatedReplicas?: number; conditions?: { type: string; status: string }[] } };
    const ok = await until(
      `Deployment ${ns}/${op} to be Available`,
      async () => {
        const d = await kubeGet<Dep>(kc, `/apis/apps/v1/namespaces/${ns}/deployments/${op}`, options.signal);
        const s = d?.status;
        const available = s?.conditions?.some((c) => c.type === 'Available' && c.status === 'True');
        const current = s?.observedGeneration === d?.metadata.generation && (s?.updatedReplicas ?? 0) >= 1;
        return available && current && d?.metadata.labels?.['app.kubernetes.io/version'] === version ? true : undefined;
      },
      { timeoutMs: options.timeoutMs ?? 120_000, signal: options.signal, onProgress: options.onProgress },
    );
    if (ok) return;
    const pods = await kubeGet<{ items: { metadata: { name: string }; status?: { containerStatuses?: { state?: { waiting?: { reason?: string; message?: string } } }[] } }[] }>(
      kc,
      `/api/v1/namespaces/${ns}/pods?labelSelector=${encodeURIComponent(`app=${op}`)}`,
      options.signal,
    );
    const dep = await kubeGet<{ status?: { conditions?: { type: string; status: string; reason?: string; message?: string }[] } }>(
      kc,
      `/apis/apps/v1/namespaces/${ns}/deployments/${op}`,
      options.signal,
    );
    const conditions = (dep?.status?.conditions ?? [])
      .filter((c) => (c.type === 'ReplicaFailure' && c.status === 'True') || (c.type === 'Progressing' && c.status === 'False'))
      .map((c) => `${c.reason ?? c.type}: ${c.message ?? ''}`);
    const reasons = (pods?.items ?? []).flatMap((p) =>
      (p.status?.containerStatuses ?? []).map((c) => c.state?.waiting).filter((w) => w?.reason).map((w) => `${p.metadata.name}: ${w?.reason}${w?.message ? ` (${w.message})` : ''}`),
    );
    throw new ClusterError('OPERATOR_NOT_AVAILABLE', `Deployment ${ns}/${op} is not Available: ${[...reasons, ...conditions].join('; ') || 'no pod is ready'}`, {
      hint: 'ImagePullBackOff: the image is not in the imported ISO; CrashLoopBackOff: see `kubectl logs` of the operator pod; FailedCreate: see the namespace quotas and policies.',
    });
  }
}
