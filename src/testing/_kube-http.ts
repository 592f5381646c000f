/**
 * Raw server-side apply for the harness. `KubernetesObjectApi.patch` from
 * @kubernetes/client-node 1.4 runs bodies through its typed model serializer, which drops
 * every key it does not know in camelCase, such as `x-kubernetes-int-or-string` and
 * `x-kubernetes-preserve-unknown-fields` in a CRD schema. The API server then rejects the CRD
 * or silently prunes the fields. So objects are sent as-is, with the connection settings that
 * `KubeConfig.applyToHTTPSOptions` gives (CA, client certificate or token).
 */
import https from 'node:https';
import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';

interface ResourceInfo {
  readonly plural: string;
  readonly namespaced: boolean;
}

/** Sends one request to the API server and parses the JSON answer. */
export async function kubeRequest(
  kc: KubeConfig,
  method: string,
  path: string,
  body?: unknown,
  contentType = 'application/json',
): Promise<{ status: number; json: unknown; text: string }> {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error('the kubeconfig has no current cluster');
  const url = new URL(path, cluster.server);
  const opts: https.RequestOptions = { method, headers: { accept: 'application/json' } };
  await kc.applyToHTTPSOptions(opts);
  const payload = body === undefined ? undefined : JSON.stringify(body);
  if (payload !== undefined) opts.headers = { ...opts.headers, 'content-type': contentType };
  return new Promise((resolve, reject) => {
    const req = https.request(url, opts, (res) => {
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
    req.on('error', reject);
    if (payload !== undefined) req.write(payload);
    req.end();
  });
}

/** Maps kinds to REST paths through API discovery (cached per instance). */
export class Discovery {
  readonly #cache = new Map<string, Map<string, ResourceInfo>>();
  constructor(private readonly kc: KubeConfig) {}

  /** Forgets what it learnt (after a CRD is added). */
  reset(groupVersion: string): void {
    this.#cache.delete(groupVersion);
  }

  async resource(apiVersion: string, kind: string): Promise<ResourceInfo> {
    let kinds = this.#cache.get(apiVersion);
    if (!kinds) {
      const path = apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
      const res = await kubeRequest(this.kc, 'GET', path);
      if (res.status !== 200) throw new Error(`API discovery of ${apiVersion} failed: HTTP ${res.status} ${res.text.slice(0, 200)}`);
      kinds = new Map();
      const list = (res.json as { resources?: { name: string; kind: string; namespaced: boolean }[] }).resources ?? [];
      for (const r of list) if (!r.name.includes('/')) kinds.set(r.kind, { plural: r.name, namespaced: r.namespaced });
      this.#cache.set(apiVersion, kinds);
    }
    const info = kinds.get(kind);
    if (!info) throw new Error(`the API server does not serve ${kind} in ${apiVersion}`);
    return info;
  }

  /** The REST path of one object. */
  async path(obj: KubernetesObject, defaultNamespace = 'default'): Promise<string> {
    const apiVersion = obj.apiVersion ?? '';
    const info = await this.resource(apiVersion, obj.kind ?? '');
    const base = apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
    const ns = info.namespaced ? `/namespaces/${encodeURIComponent(obj.metadata?.namespace ?? defaultNamespace)}` : '';
    return `${base}${ns}/${info.plural}/${encodeURIComponent(obj.metadata?.name ?? '')}`;
  }
}
