/**
 * Shared pieces of the Solution lifecycle verbs: the connection context, progress reporting,
 * reading a Solution ISO's manifest the way MetalK8s does, and the `metalk8s-solutions`
 * ConfigMap reader.
 */
import { open } from 'node:fs/promises';
import type { KubeConfig } from '@kubernetes/client-node';
import { parse as parseYaml } from 'yaml';
import { IsoError, PackagingError, throwIfAborted } from '../errors.js';
import { solutionNameProblems } from '../solution/_names.js';
import { pollUntil } from '../_wait.js';
import { openIso } from '../packaging/iso/index.js';
import { type Discovery, kubeGet } from '../_kube.js';
import type { SshTarget } from './_sftp.js';
import type { SaltApiClient } from './salt-api.js';

/** What every lifecycle verb needs. */
export interface LifecycleContext {
  readonly kubeConfig: KubeConfig;
  readonly discovery: Discovery;
  readonly salt: SaltApiClient;
  readonly saltenv: string;
  readonly bootstrapId: string;
  /** SSH access to the bootstrap node, for uploads. */
  readonly ssh: SshTarget | undefined;
}

/** Progress of a lifecycle verb. */
export type LifecycleProgressEvent =
  | { readonly type: 'step'; readonly step: string; readonly status: 'started' | 'done' | 'skipped'; readonly detail?: string | undefined }
  | { readonly type: 'salt-job'; readonly step: string; readonly jid: string }
  | { readonly type: 'warning'; readonly message: string }
  | { readonly type: 'upload'; readonly bytes: number; readonly total: number }
  | { readonly type: 'waiting'; readonly what: string; readonly elapsedMs: number };

/** Options every lifecycle verb takes. */
export interface LifecycleCallOptions {
  /** Cancels the operation between two requests. */
  readonly signal?: AbortSignal | undefined;
  /** Typed progress events. */
  readonly onProgress?: ((event: LifecycleProgressEvent) => void) | undefined;
}

export const ENV_LABEL = 'solutions.metalk8s.scality.com/environment';
export const ENV_ANNOTATION = 'solutions.metalk8s.scality.com/environment-description';
export const ENV_CONFIGMAP = 'metalk8s-environment';
export const SOLUTIONS_NAMESPACE = 'metalk8s-solutions';
export const SOLUTIONS_CONFIGMAP = 'metalk8s-solutions';

/** One version entry of the `metalk8s-solutions` ConfigMap (§2.2). */
export interface AvailableEntry {
  readonly name: string;
  readonly id: string;
  readonly mountpoint: string;
  readonly archive: string;
  readonly version: string;
  readonly manifest: Record<string, unknown>;
  readonly active: boolean;
}

/** Reads the `metalk8s-solutions` ConfigMap: entries by Solution name. */
export async function readAvailable(kc: KubeConfig, signal?: AbortSignal): Promise<Record<string, AvailableEntry[]>> {
  const cm = await kubeGet<{ data?: Record<string, string> | null }>(
    kc,
    `/api/v1/namespaces/${SOLUTIONS_NAMESPACE}/configmaps/${SOLUTIONS_CONFIGMAP}`,
    signal,
  );
  const out: Record<string, AvailableEntry[]> = {};
  for (const [k, v] of Object.entries(cm?.data ?? {})) {
    try {
      out[k] = JSON.parse(v) as AvailableEntry[];
    } catch {
      out[k] = [];
    }
  }
  return out;
}

/** The identity of a Solution ISO, read as MetalK8s reads it. */
export interface IsoIdentity {
  readonly name: string;
  readonly version: string;
  readonly manifest: Record<string, unknown>;
}

/**
 * Checks what `solutions.sh import` and `manifest_from_iso` check, before anything touches the
 * cluster: an ISO 9660 image (`file` magic), a root `MANIFEST.YAML;1` record with
 * `metadata.name` and `spec.version`, a valid name not reserved for MetalK8s.
 */
export async function readIsoIdentity(path: string, signal?: AbortSignal): Promise<IsoIdentity> {
  throwIfAborted(signal, 'reading the ISO');
  const fh = await open(path, 'r').catch((err: Error) => {
    throw new IsoError('ISO_NOT_FOUND', `cannot open "${path}": ${err.message}`, { hint: 'Give the path of the Solution ISO.' });
  });
  const magic = Buffer.alloc(5);
  try {
    await fh.read(magic, 0, 5, 32769);
  } finally {
    await fh.close();
  }
  if (magic.toString('latin1') !== 'CD001') {
    throw new IsoError('ISO_NOT_ISO9660', `"${path}" is not an ISO 9660 image (MetalK8s' import checks that \`file\` says "ISO 9660")`, {
      hint: 'Give the .iso file that `solution pack` wrote.',
    });
  }
  const iso = await openIso(path, { signal });
  let text = '';
  try {
    const root = await iso.readdir('', { view: 'primary' });
    const entry = root.find((e) => e.name === 'MANIFEST.YAML;1' || e.name === 'MANIFEST.YAML');
    if (entry) text = (await iso.readFile(entry, { view: 'primary', maxBytes: 1 << 20 })).toString('utf8');
  } finally {
    await iso.close();
  }
  if (text.trim() === '') {
    throw new IsoError('ISO_NO_MANIFEST', `"${path}" has no root MANIFEST.YAML;1 record: MetalK8s refuses it ("must contain a 'manifest.yaml' file")`, {
      hint: 'Pack the solution with `solution pack`, which writes manifest.yaml at the ISO root.',
    });
  }
  const manifest = parseYaml(text) as Record<string, unknown> | null;
  const name = (manifest?.metadata as { name?: unknown } | undefined)?.name;
  const version = (manifest?.spec as { version?: unknown } | undefined)?.version;
  if (typeof name !== 'string' || typeof version !== 'string' || !manifest) {
    throw new IsoError('ISO_MANIFEST_INVALID', `manifest.yaml of "${path}" lacks metadata.name or spec.version`, {
      hint: 'Repack the solution; both fields are mandatory.',
    });
  }
  if (manifest.apiVersion !== 'solutions.metalk8s.scality.com/v1alpha1' || manifest.kind !== 'Solution') {
    throw new IsoError(
      'ISO_MANIFEST_INVALID',
      `manifest.yaml of "${path}" has apiVersion "${String(manifest.apiVersion)}" and kind "${String(manifest.kind)}": MetalK8s would mount it but skip it as "not a Solution"`,
      { hint: 'Use apiVersion: solutions.metalk8s.scality.com/v1alpha1 and kind: Solution (solution pack writes them).' },
    );
  }
  const [problem] = solutionNameProblems(name);
  if (problem) {
    throw new PackagingError(problem.code, `metadata.name in "${path}": ${problem.message}`, { hint: problem.hint });
  }
  return { name, version, manifest };
}

/** Calls a function on the bootstrap minion; Salt's `ERROR: …` answers become thrown messages. */
export async function bootstrapCall(ctx: LifecycleContext, fun: string, kwarg: Record<string, unknown>, signal?: AbortSignal): Promise<unknown> {
  const answer = await ctx.salt.local({ tgt: ctx.bootstrapId, fun, kwarg }, { signal });
  if (!(ctx.bootstrapId in answer)) return { missing: true };
  return answer[ctx.bootstrapId];
}

/** Polls until `probe` gives a value (or the timeout). */
export async function until<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  options: { readonly timeoutMs: number; readonly signal?: AbortSignal | undefined; readonly onProgress?: LifecycleCallOptions['onProgress'] },
): Promise<T | undefined> {
  const { onProgress } = options;
  return pollUntil(probe, {
    what,
    timeoutMs: options.timeoutMs,
    signal: options.signal,
    onWait: onProgress && ((elapsedMs) => onProgress({ type: 'waiting', what, elapsedMs })),
  });
}
