/**
 * Minimal HTTP(S) client on node:http/https: needed instead of `fetch` because registries need
 * a custom CA or no TLS verification per request, and proxies, which Node 20's built-in fetch
 * cannot take without importing undici. Proxies: plain HTTP through an absolute-URI request,
 * HTTPS through a CONNECT tunnel (TLS end to end with the registry).
 */
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import tls, { rootCertificates } from 'node:tls';
import { RegistryError } from '../../errors.js';

/** Sockets that already have a no-op error listener (errors reach the request or response). */
const guarded = new WeakSet<object>();

export interface HttpClientOptions {
  readonly ca?: string | Buffer | undefined;
  readonly insecureTls?: boolean | undefined;
  readonly maxSockets?: number | undefined;
  /** Proxy URL for every request, `false` for none; default: the HTTP(S)_PROXY / NO_PROXY environment. */
  readonly proxy?: string | false | undefined;
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host === '[::1]' || /^127\./.test(host);
}

/** The proxy to use for a URL: explicit option, else the environment (loopback never proxied). */
export function proxyFor(url: URL, explicit: string | false | undefined, env: NodeJS.ProcessEnv = process.env): URL | undefined {
  if (explicit === false) return undefined;
  if (explicit !== undefined) return new URL(explicit);
  const host = url.hostname.toLowerCase();
  if (isLoopback(host)) return undefined;
  const value = url.protocol === 'https:' ? (env.HTTPS_PROXY ?? env.https_proxy) : (env.HTTP_PROXY ?? env.http_proxy);
  if (!value) return undefined;
  const noProxy = (env.NO_PROXY ?? env.no_proxy ?? '')
    .split(',')
    .map((e) => e.trim().toLowerCase().replace(/:\d+$/, ''))
    .filter((e) => e !== '');
  for (const e of noProxy) {
    if (e === '*') return undefined;
    const bare = e.replace(/^\*?\./, '');
    if (host === bare || host.endsWith(`.${bare}`)) return undefined;
  }
  return new URL(value.includes('://') ? value : `http://${value}`);
}

function proxyAuthorization(proxy: URL): Record<string, string> {
  if (!proxy.username) return {};
  const user = decodeURIComponent(proxy.username);
  const pass = decodeURIComponent(proxy.password);
  return { 'Proxy-Authorization': `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}` };
}

/** An https.Agent whose connections are CONNECT tunnels through an HTTP proxy (pooled like any other). */
class TunnelAgent extends https.Agent {
  constructor(
    private readonly proxy: URL,
    options: https.AgentOptions,
  ) {
    super(options);
  }

  override createConnection(
    args: http.ClientRequestArgs,
    callback?: (err: Error | null, stream: Duplex) => void,
  ): Duplex | null | undefined {
    const options = args as tls.ConnectionOptions & { host?: string; port?: number };
    const done = callback ?? (() => undefined);
    // Node ignores the stream argument when there is an error.
    const fail = (err: Error) => done(err, undefined as unknown as Duplex);
    const target = `${options.host}:${options.port ?? 443}`;
    const req = http.request({
      host: this.proxy.hostname,
      port: Number(this.proxy.port || 80),
      method: 'CONNECT',
      path: target,
      headers: { Host: target, ...proxyAuthorization(this.proxy) },
      agent: false,
    });
    req.once('connect', (res, socket) => {
      if (res.statusCode !== 200) {
        socket.destroy();
        fail(Object.assign(new Error(`proxy ${this.proxy.host} refused the tunnel to ${target}: HTTP ${res.statusCode}`), { code: 'EPROXY' }));
        return;
      }
      const host = options.host ?? '';
      const secure = tls.connect({ ...options, socket, ...(net.isIP(host) ? {} : { servername: options.servername ?? host }) });
      done(null, secure);
    });
    req.once('error', (err) => fail(err));
    req.end();
    return undefined;
  }
}


export interface HttpResponse {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly url: string;
  readonly body: http.IncomingMessage;
}

export class HttpClient {
  readonly #agents = new Map<string, http.Agent>();
  readonly #options: HttpClientOptions;
  constructor(options: HttpClientOptions) {
    this.#options = options;
  }

  #agent(url: URL, proxy: URL | undefined): http.Agent {
    const key = `${url.protocol}|${proxy?.href ?? ''}`;
    const existing = this.#agents.get(key);
    if (existing) return existing;
    let agent: http.Agent;
    const maxSockets = this.#options.maxSockets ?? 8;
    const tlsOptions: https.AgentOptions = {
      keepAlive: true,
      maxSockets,
      // Node's `ca` replaces the built-in roots; keep them, as Docker's certs.d does, so a
      // registry with a private CA can still redirect blob downloads to public storage.
      ...(this.#options.ca !== undefined ? { ca: [...rootCertificates, this.#options.ca.toString()] } : {}),
      rejectUnauthorized: !this.#options.insecureTls,
    };
    if (url.protocol === 'https:') agent = proxy ? new TunnelAgent(proxy, tlsOptions) : new https.Agent(tlsOptions);
    else agent = new http.Agent({ keepAlive: true, maxSockets });
    this.#agents.set(key, agent);
    return agent;
  }

  /** One request, following up to 5 redirects; drops Authorization when the host changes. */
  async request(
    url: string,
    init: { method?: string; headers?: Record<string, string>; signal?: AbortSignal | undefined; timeoutMs?: number },
  ): Promise<HttpResponse> {
    let current = new URL(url);
    let headers = { ...(init.headers ?? {}) };
    for (let hop = 0; hop < 6; hop++) {
      const res = await this.#once(current, init.method ?? 'GET', headers, init.signal, init.timeoutMs ?? 60_000);
      const loc = res.headers.location;
      if (res.statusCode && [301, 302, 303, 307, 308].includes(res.statusCode) && loc) {
        res.resume();
        const next = new URL(loc, current);
        if (next.host !== current.host) {
          const { Authorization: _a, authorization: _b, ...rest } = headers;
          headers = rest;
        }
        current = next;
        continue;
      }
      return { status: res.statusCode ?? 0, headers: res.headers, url: current.toString(), body: res };
    }
    throw new Error(`too many redirects from ${url}`);
  }

  #once(
    url: URL,
    method: string,
    headers: Record<string, string>,
    signal: AbortSignal | undefined,
    timeoutMs: number,
  ): Promise<http.IncomingMessage> {
    const proxy = proxyFor(url, this.#options.proxy);
    const agent = this.#agent(url, proxy);
    return new Promise((resolve, reject) => {
      // The signal is wired by hand (not passed to http.request) so that an abort destroys
      // the request and its response with errors that always have a listener: readers of the
      // body still see the error, and nothing surfaces as an uncaught exception.
      let response: http.IncomingMessage | undefined;
      const onResponse = (res: http.IncomingMessage) => {
        response = res;
        res.on('error', () => undefined);
        res.on('close', () => signal?.removeEventListener('abort', onAbort));
        resolve(res);
      };
      // Plain HTTP through a proxy: the absolute URL goes to the proxy. HTTPS: the agent tunnels.
      const req =
        proxy && url.protocol === 'http:'
          ? http.request(
              { host: proxy.hostname, port: Number(proxy.port || 80), method, path: url.href, headers: { ...headers, Host: url.host, ...proxyAuthorization(proxy) }, agent },
              onResponse,
            )
          : (url.protocol === 'https:' ? https : http).request(url, { method, headers, agent }, onResponse);
      const onAbort = () => {
        const err = Object.assign(new Error(`request to ${url.host} was cancelled`), { code: 'ABORT_ERR' });
        if (response) response.destroy(err);
        else req.destroy(err);
      };
      req.on('socket', (socket) => {
        if (!guarded.has(socket)) {
          guarded.add(socket);
          socket.on('error', () => undefined);
        }
      });
      if (signal?.aborted) onAbort();
      signal?.addEventListener('abort', onAbort, { once: true });
      req.setTimeout(timeoutMs, () => req.destroy(Object.assign(new Error(`no answer from ${url.host} in ${timeoutMs} ms`), { code: 'ETIMEDOUT' })));
      req.on('error', (err) => {
        signal?.removeEventListener('abort', onAbort);
        reject(err);
      });
      req.end();
    });
  }

  close(): void {
    for (const agent of this.#agents.values()) agent.destroy();
    this.#agents.clear();
  }
}

export async function readBody(res: HttpResponse, limit = 16 * 1024 * 1024): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of res.body) {
    n += (c as Buffer).byteLength;
    if (n > limit) {
      res.body.destroy();
      throw new RegistryError('REGISTRY_RESPONSE_TOO_LARGE', `the answer of ${res.url} exceeds ${limit} bytes`, {
        hint: 'The URL does not point to a container registry API, or the registry misbehaves: check the image reference.',
      });
    }
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks);
}
