/**
 * HTTP transport to MetalK8s' platform services (Prometheus through Thanos, Alertmanager, Loki):
 * through the control-plane ingress (`https://<ip>:8443/api/<service>`, TLS checked against the
 * cluster CA, platform-reference.md §C.1), or through the Kubernetes API server's service proxy
 * (`/api/v1/namespaces/<ns>/services/<scheme>:<name>:<port>/proxy/…`), so a kubeconfig alone is
 * enough. Plain `node:http(s)`: four small JSON APIs need no client library.
 */
import http from 'node:http';
import https from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';
import { AbortError, ClusterError } from '../errors.js';
import { kubeGet } from '../_kube.js';
import { numberOption, TIMER_MS } from '../_number-option.js';

/** A platform service the SDK talks to. */
export type PlatformService = 'prometheus' | 'alertmanager' | 'loki';

/** How the SDK reaches the platform services. */
export type ServiceRoute = 'ingress' | 'proxy';

/** Where the requests of a platform service go. */
export interface ServiceEndpoint {
  /** Base URL, without a trailing slash. */
  readonly url: string;
  /** Through the control-plane ingress, the API server's service proxy, or the URL given. */
  readonly via: ServiceRoute | 'url';
}

/** Where each service lives in the cluster (platform-reference.md §C.1, metalk8s-reference.md §5.4). */
export const IN_CLUSTER_SERVICES: Readonly<Record<PlatformService, { readonly namespace: string; readonly name: string; readonly port: number; readonly ingressPath: string }>> = {
  prometheus: { namespace: 'metalk8s-monitoring', name: 'thanos-query-http', port: 10902, ingressPath: '/api/prometheus' },
  alertmanager: { namespace: 'metalk8s-monitoring', name: 'prometheus-operator-alertmanager', port: 9093, ingressPath: '/api/alertmanager' },
  loki: { namespace: 'metalk8s-logging', name: 'loki', port: 3100, ingressPath: '/api/loki' },
};

/** Options of the platform services, given to `connect({ services })`. */
export interface ServicesOptions {
  /**
   * `ingress`: the control-plane ingress; `proxy`: the API server's service proxy.
   * @default `ingress` when an ingress URL is given or found in the ClusterConfig, else `proxy`
   */
  readonly via?: ServiceRoute | undefined;
  /**
   * Base URL of the control-plane ingress, e.g. `https://10.0.0.1:8443`.
   * @default `status.controlPlane.ingress.endpoint` of ClusterConfig `main`
   */
  readonly ingressUrl?: string | undefined;
  /** Base URL of Prometheus (or Thanos query), overriding the route. @default from `via` */
  readonly prometheusUrl?: string | undefined;
  /** Base URL of Alertmanager, overriding the route. @default from `via` */
  readonly alertmanagerUrl?: string | undefined;
  /** Base URL of Loki, overriding the route. @default from `via` */
  readonly lokiUrl?: string | undefined;
  /** PEM CA for `https` URLs. @default the kubeconfig's cluster CA */
  readonly ca?: string | undefined;
  /** Per-request timeout; 0 sets none. At most 2147483647. @default 30000 */
  readonly timeoutMs?: number | undefined;
}

/**
 * Checks the numbers of `options` (`OPTION_INVALID`, named `services.…`). Node's `http` threw a
 * RangeError on every request for a NaN or negative timeout, and cut one above the longest
 * timer to it with a warning.
 */
export function checkServicesOptions(options: ServicesOptions | undefined): void {
  numberOption('services.timeoutMs', options?.timeoutMs, TIMER_MS);
}

/** One answer of a platform service. */
export interface ServiceResponse {
  readonly status: number;
  readonly text: string;
  readonly json: unknown;
  readonly contentType: string;
}

/** One request to a platform service. */
export interface ServiceRequest {
  readonly method?: string | undefined;
  /** Path below the service root, starting with `/`. */
  readonly path: string;
  /** Query parameters, in order; repeated names are kept (Alertmanager `filter`). */
  readonly query?: readonly (readonly [string, string | number | boolean | undefined])[] | undefined;
  readonly body?: unknown;
  readonly signal?: AbortSignal | undefined;
}

const SERVICE_TITLES: Record<PlatformService, string> = { prometheus: 'Prometheus', alertmanager: 'Alertmanager', loki: 'Loki' };

/** Resolves where a service is and sends requests to it. */
export class ServiceClient {
  readonly service: PlatformService;
  readonly #kc: KubeConfig;
  readonly #options: ServicesOptions;
  #base: Promise<{ url: URL; kube: boolean; describe: string }> | undefined;

  constructor(service: PlatformService, kc: KubeConfig, options: ServicesOptions = {}) {
    this.service = service;
    this.#kc = kc;
    this.#options = options;
  }

  /** Where requests go: a URL and whether it is the API server (kubeconfig credentials). */
  async endpoint(signal?: AbortSignal): Promise<ServiceEndpoint> {
    const b = await this.#resolve(signal);
    return { url: b.url.toString().replace(/\/$/, ''), via: b.kube ? 'proxy' : this.#explicitUrl() ? 'url' : 'ingress' };
  }

  #explicitUrl(): string | undefined {
    const o = this.#options;
    return this.service === 'prometheus' ? o.prometheusUrl : this.service === 'alertmanager' ? o.alertmanagerUrl : o.lokiUrl;
  }

  #resolve(signal?: AbortSignal): Promise<{ url: URL; kube: boolean; describe: string }> {
    this.#base ??= (async () => {
      const svc = IN_CLUSTER_SERVICES[this.service];
      const explicit = this.#explicitUrl();
      if (explicit) return { url: new URL(explicit.replace(/\/*$/, '/')), kube: false, describe: explicit };
      let ingress = this.#options.ingressUrl;
      if (ingress === undefined && this.#options.via !== 'proxy') {
        const cfg = await kubeGet<{ status?: { controlPlane?: { ingress?: { endpoint?: string } } } }>(
          this.#kc,
          '/apis/metalk8s.scality.com/v1alpha1/clusterconfigs/main',
          signal,
        ).catch(() => undefined);
        ingress = cfg?.status?.controlPlane?.ingress?.endpoint;
      }
      if (this.#options.via === 'ingress' && !ingress) {
        throw new ClusterError('INGRESS_NOT_FOUND', `cannot reach ${SERVICE_TITLES[this.service]} through the control-plane ingress: no ingress URL given and ClusterConfig main has no status.controlPlane.ingress.endpoint`, {
          hint: 'Pass services.ingressUrl (https://<control-plane ingress IP>:8443), or use via: "proxy".',
        });
      }
      if (ingress && this.#options.via !== 'proxy') {
        const url = `${ingress.replace(/\/+$/, '')}${svc.ingressPath}/`;
        return { url: new URL(url), kube: false, describe: url };
      }
      const server = this.#kc.getCurrentCluster()?.server;
      if (!server) throw new ClusterError('KUBECONFIG_NO_CLUSTER', 'the kubeconfig has no current cluster', { hint: 'Pass a kubeconfig whose current context names a cluster.' });
      const path = `/api/v1/namespaces/${svc.namespace}/services/http:${svc.name}:${svc.port}/proxy/`;
      return { url: new URL(path, server), kube: true, describe: `service ${svc.namespace}/${svc.name}:${svc.port} through the API server proxy` };
    })();
    this.#base.catch(() => {
      this.#base = undefined;
    });
    return this.#base;
  }

  /** Sends a request; throws a retryable `SERVICE_UNREACHABLE` when the service cannot be reached. */
  async request(req: ServiceRequest): Promise<ServiceResponse> {
    const res = await this.#send(req, false);
    if (res.kind !== 'done') throw new Error('unreachable');
    return res.response;
  }

  /**
   * Sends a request and hands back the body as a stream (for `follow`); the status is checked
   * by the caller. The stream ends when the server closes it or the signal aborts.
   */
  async stream(req: ServiceRequest): Promise<{ status: number; body: http.IncomingMessage }> {
    const res = await this.#send(req, true);
    if (res.kind !== 'stream') throw new Error('unreachable');
    return { status: res.status, body: res.body };
  }

  async #send(
    req: ServiceRequest,
    streaming: boolean,
  ): Promise<{ kind: 'done'; response: ServiceResponse } | { kind: 'stream'; status: number; body: http.IncomingMessage }> {
    const base = await this.#resolve(req.signal);
    const url = new URL(req.path.replace(/^\//, ''), base.url);
    for (const [k, v] of req.query ?? []) if (v !== undefined) url.searchParams.append(k, String(v));
    const timeoutMs = this.#options.timeoutMs ?? 30_000;
    const opts: https.RequestOptions = { method: req.method ?? 'GET', headers: { accept: 'application/json' }, timeout: streaming ? 0 : timeoutMs };
    if (base.kube) await this.#kc.applyToHTTPSOptions(opts);
    else if (url.protocol === 'https:') {
      const caData = this.#kc.getCurrentCluster()?.caData;
      const ca = this.#options.ca ?? (caData ? Buffer.from(caData, 'base64').toString('utf8') : undefined);
      if (ca) opts.ca = ca;
    }
    if (req.signal) opts.signal = req.signal;
    const payload = req.body === undefined ? undefined : JSON.stringify(req.body);
    if (payload !== undefined) opts.headers = { ...opts.headers, 'content-type': 'application/json' };
    const transport = url.protocol === 'http:' ? http : https;
    const title = SERVICE_TITLES[this.service];
    return new Promise((resolve, reject) => {
      const r = transport.request(url, opts, (res) => {
        const status = res.statusCode ?? 0;
        if (streaming && status < 300) {
          resolve({ kind: 'stream', status, body: res });
          return;
        }
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json: unknown;
          try {
            json = text === '' ? undefined : JSON.parse(text);
          } catch {
            json = undefined;
          }
          // The API server's own answer (a Status object) rather than the service's.
          const kubeStatus = base.kube ? (json as { kind?: string; message?: string; details?: { kind?: string } } | undefined) : undefined;
          const fromApiServer = kubeStatus?.kind === 'Status';
          const detail = fromApiServer ? (kubeStatus?.message ?? '') : text.trim().slice(0, 200);
          // A gateway (nginx, the API server proxy) answering for a backend that is down or missing.
          if (status === 502 || status === 503 || status === 504 || (fromApiServer && status === 404 && kubeStatus?.details?.kind === 'services')) {
            reject(
              new ClusterError('SERVICE_UNAVAILABLE', `${title} is not available at ${base.describe}: HTTP ${status}${detail ? `: ${detail}` : ''}`, {
                hint: `Check that ${title} runs (kubectl -n ${IN_CLUSTER_SERVICES[this.service].namespace} get pods), then retry.`,
                status,
                retryable: true,
              }),
            );
            return;
          }
          const response: ServiceResponse = { status, text, json, contentType: String(res.headers['content-type'] ?? '') };
          resolve({ kind: 'done', response });
        });
      });
      r.on('timeout', () => r.destroy(new Error(`no answer within ${timeoutMs} ms`)));
      r.on('error', (err) => {
        if (req.signal?.aborted) {
          reject(new AbortError(`request to ${title}`, { cause: err }));
          return;
        }
        reject(
          new ClusterError('SERVICE_UNREACHABLE', `cannot reach ${title} at ${base.describe}: ${err.message}`, {
            hint: `Check that ${title} runs and that this machine reaches ${url.host}; the call can be retried.`,
            retryable: true,
            cause: err,
          }),
        );
      });
      if (payload !== undefined) r.write(payload);
      r.end();
    });
  }
}

/** The clients of the three services, sharing one options object. */
export function serviceClients(kc: KubeConfig, options: ServicesOptions = {}): Record<PlatformService, ServiceClient> {
  checkServicesOptions(options);
  return {
    prometheus: new ServiceClient('prometheus', kc, options),
    alertmanager: new ServiceClient('alertmanager', kc, options),
    loki: new ServiceClient('loki', kc, options),
  };
}
