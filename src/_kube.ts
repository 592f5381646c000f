/**
 * Raw Kubernetes requests: server-side apply, JSON merge patches, deletes and reads, sent as-is.
 * `KubernetesObjectApi.patch/create` from @kubernetes/client-node 1.4 runs bodies through its
 * typed model serializer, which drops keys it does not know (such as
 * `x-kubernetes-preserve-unknown-fields` in CRD schemas), so objects a Solution ships would be
 * altered on the way. Connection settings come from `KubeConfig.applyToHTTPSOptions`.
 *
 * The one Kubernetes transport of the SDK, below the layers that talk to a cluster: `cluster/`,
 * `storage/` and the `testing/` emulator all send their requests through it (none reaches into
 * another layer's private modules for it). Not part of the public API.
 */
import http from 'node:http';
import https from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';
import { ClusterError } from './errors.js';
import type { KubernetesObject } from './solution/kubernetes-object.js';

/** An answer of the API server. */
export interface KubeResponse {
  readonly status: number;
  readonly json: unknown;
  readonly text: string;
}

/** Sends one request to the API server and parses the JSON answer. */
export async function kubeRequest(
  kc: KubeConfig,
  method: string,
  path: string,
  body?: unknown,
  contentType = 'application/json',
  signal?: AbortSignal,
): Promise<KubeResponse> {
  const cluster = kc.getCurrentCluster();
  if (!cluster) {
    throw new ClusterError('KUBECONFIG_NO_CLUSTER', 'the kubeconfig has no current cluster', {
      hint: 'Pass a kubeconfig whose current context names a cluster.',
    });
  }
  const url = new URL(path, cluster.server);
  const opts: https.RequestOptions = { method, headers: { accept: 'application/json' }, timeout: 30_000 };
  await kc.applyToHTTPSOptions(opts);
  if (signal) opts.signal = signal;
  const payload = body === undefined ? undefined : JSON.stringify(body);
  if (payload !== undefined) opts.headers = { ...opts.headers, 'content-type': contentType };
  const transport = url.protocol === 'http:' ? http : https;
  return new Promise((resolve, reject) => {
    const req = transport.request(url, opts, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: unknown;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode ?? 0, json, text });
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer from ${url.origin} within 30 s`)));
    req.on('error', (err) => {
      if (signal?.aborted) {
        reject(err);
        return;
      }
      reject(
        new ClusterError('KUBE_API_UNREACHABLE', `cannot reach the Kubernetes API server at ${url.origin}: ${err.message}`, {
          hint: 'Check the kubeconfig (server address, certificates) and that the API server is up.',
          retryable: true,
          cause: err,
        }),
      );
    });
    if (payload !== undefined) req.write(payload);
    req.end();
  });
}

/** Throws a `KUBE_REQUEST_FAILED` error for an unexpected status. */
export function kubeFailure(what: string, res: KubeResponse): ClusterError {
  const message = (res.json as { message?: string } | undefined)?.message ?? res.text.slice(0, 300);
  return new ClusterError('KUBE_REQUEST_FAILED', `${what}: HTTP ${res.status}: ${message}`, {
    hint: res.status === 401 || res.status === 403 ? 'Check the credentials and RBAC of the kubeconfig user.' : 'See the API server message above.',
    status: res.status,
    retryable: res.status === 409 || res.status === 429 || res.status >= 500,
  });
}

interface ResourceInfo {
  readonly plural: string;
  readonly namespaced: boolean;
}

/** Maps kinds to REST paths through API discovery (cached per instance). */
export class Discovery {
  readonly #cache = new Map<string, Map<string, ResourceInfo>>();
  constructor(private readonly kc: KubeConfig) {}

  /** Forgets what it learnt about a group version (after CRDs change). */
  reset(groupVersion?: string): void {
    if (groupVersion === undefined) this.#cache.clear();
    else this.#cache.delete(groupVersion);
  }

  /** Plural and scope of a kind, or undefined when the API server does not serve it. */
  async resource(apiVersion: string, kind: string, signal?: AbortSignal): Promise<ResourceInfo | undefined> {
    let kinds = this.#cache.get(apiVersion);
    if (!kinds) {
      const path = apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
      const res = await kubeRequest(this.kc, 'GET', path, undefined, undefined, signal);
      if (res.status === 404) return undefined;
      if (res.status !== 200) throw kubeFailure(`API discovery of ${apiVersion}`, res);
      kinds = new Map();
      const list = (res.json as { resources?: { name: string; kind: string; namespaced: boolean }[] }).resources ?? [];
      for (const r of list) if (!r.name.includes('/')) kinds.set(r.kind, { plural: r.name, namespaced: r.namespaced });
      this.#cache.set(apiVersion, kinds);
    }
    return kinds.get(kind);
  }

  /** The REST path of one object, or undefined when its kind is not served. */
  async path(obj: KubernetesObject, signal?: AbortSignal): Promise<string | undefined> {
    const apiVersion = obj.apiVersion ?? '';
    const info = await this.resource(apiVersion, obj.kind ?? '', signal);
    if (!info) return undefined;
    const base = apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
    const ns = info.namespaced ? `/namespaces/${encodeURIComponent(obj.metadata?.namespace ?? 'default')}` : '';
    return `${base}${ns}/${info.plural}/${encodeURIComponent(obj.metadata?.name ?? '')}`;
  }
}

function describe(obj: KubernetesObject): string {
  const ns = obj.metadata?.namespace ? `${obj.metadata.namespace}/` : '';
  return `${obj.kind ?? '?'} ${ns}${obj.metadata?.name ?? '?'}`;
}

/** Server-side applies one object (forced, with `fieldManager`); returns the stored object. */
export async function applyObject(kc: KubeConfig, discovery: Discovery, obj: KubernetesObject, fieldManager: string, signal?: AbortSignal): Promise<KubernetesObject> {
  let path = await discovery.path(obj, signal);
  if (!path) {
    discovery.reset(obj.apiVersion);
    path = await discovery.path(obj, signal);
  }
  if (!path) {
    throw new ClusterError('KUBE_KIND_NOT_SERVED', `the API server does not serve ${obj.kind} in ${obj.apiVersion} (${describe(obj)})`, {
      hint: 'Install the CRD that defines this kind first (activate the solution, or the platform add-on).',
    });
  }
  const res = await kubeRequest(kc, 'PATCH', `${path}?fieldManager=${encodeURIComponent(fieldManager)}&force=true`, obj, 'application/apply-patch+yaml', signal);
  if (res.status >= 300) throw kubeFailure(`apply ${describe(obj)}`, res);
  return res.json as KubernetesObject;
}

/** Deletes one object; returns false when it was already gone (or its kind is not served). */
export async function deleteObject(kc: KubeConfig, discovery: Discovery, obj: KubernetesObject, signal?: AbortSignal): Promise<boolean> {
  const path = await discovery.path(obj, signal);
  if (!path) return false;
  const res = await kubeRequest(kc, 'DELETE', `${path}?propagationPolicy=Background`, undefined, undefined, signal);
  if (res.status === 404) return false;
  if (res.status >= 300) throw kubeFailure(`delete ${describe(obj)}`, res);
  return true;
}

/**
 * GETs a path; undefined on 404. A 429 (API priority and fairness, or "storage is
 * (re)initializing" right after a CRD changed) is retried after its Retry-After, for up to 10 s.
 */
export async function kubeGet<T>(kc: KubeConfig, path: string, signal?: AbortSignal): Promise<T | undefined> {
  let res = await kubeRequest(kc, 'GET', path, undefined, undefined, signal);
  for (let waited = 0; res.status === 429 && waited < 10_000; ) {
    const delay = 500;
    await new Promise((r) => setTimeout(r, delay));
    waited += delay;
    res = await kubeRequest(kc, 'GET', path, undefined, undefined, signal);
  }
  if (res.status === 404) return undefined;
  if (res.status >= 300) throw kubeFailure(`GET ${path}`, res);
  return res.json as T;
}

/** Sends a patch (merge by default) to a path; undefined on 404. */
export async function kubePatch<T>(
  kc: KubeConfig,
  path: string,
  body: unknown,
  signal?: AbortSignal,
  contentType = 'application/merge-patch+json',
): Promise<T | undefined> {
  const res = await kubeRequest(kc, 'PATCH', path, body, contentType, signal);
  if (res.status === 404) return undefined;
  if (res.status >= 300) throw kubeFailure(`PATCH ${path}`, res);
  return res.json as T;
}
