/**
 * Minimal HTTP(S) client on node:http/https: needed instead of `fetch` because registries need
 * a custom CA or no TLS verification per request, which Node 20's built-in fetch cannot take
 * without importing undici.
 */
import http from 'node:http';
import https from 'node:https';
import { rootCertificates } from 'node:tls';

/** Sockets that already have a no-op error listener (errors reach the request or response). */
const guarded = new WeakSet<object>();

export interface HttpClientOptions {
  readonly ca?: string | Buffer | undefined;
  readonly insecureTls?: boolean | undefined;
  readonly maxSockets?: number | undefined;
}

export interface HttpResponse {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly url: string;
  readonly body: http.IncomingMessage;
}

export class HttpClient {
  readonly #http: http.Agent;
  readonly #https: https.Agent;
  constructor(options: HttpClientOptions) {
    const maxSockets = options.maxSockets ?? 8;
    this.#http = new http.Agent({ keepAlive: true, maxSockets });
    this.#https = new https.Agent({
      keepAlive: true,
      maxSockets,
      // Node's `ca` replaces the built-in roots; keep them, as Docker's certs.d does, so a
      // registry with a private CA can still redirect blob downloads to public storage.
      ...(options.ca !== undefined ? { ca: [...rootCertificates, options.ca.toString()] } : {}),
      rejectUnauthorized: !options.insecureTls,
    });
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
    const mod = url.protocol === 'https:' ? https : http;
    const agent = url.protocol === 'https:' ? this.#https : this.#http;
    return new Promise((resolve, reject) => {
      // The signal is wired by hand (not passed to http.request) so that an abort destroys
      // the request and its response with errors that always have a listener: readers of the
      // body still see the error, and nothing surfaces as an uncaught exception.
      let response: http.IncomingMessage | undefined;
      const req = mod.request(url, { method, headers, agent }, (res) => {
        response = res;
        res.on('error', () => undefined);
        res.on('close', () => signal?.removeEventListener('abort', onAbort));
        resolve(res);
      });
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
    this.#http.destroy();
    this.#https.destroy();
  }
}

export async function readBody(res: HttpResponse, limit = 16 * 1024 * 1024): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of res.body) {
    n += (c as Buffer).byteLength;
    if (n > limit) {
      res.body.destroy();
      throw new Error(`response from ${res.url} exceeds ${limit} bytes`);
    }
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks);
}
