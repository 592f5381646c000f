/**
 * HTTP transport of the SaltAPI client.
 *
 * Written by hand because Node 20's global `fetch` cannot take a CA bundle (undici's
 * `dispatcher` is not importable without adding undici as a dependency), while MetalK8s'
 * salt-api serves TLS signed by the cluster CA. The default transport therefore uses
 * `node:https` with `ca` / `rejectUnauthorized`; a caller may inject any `fetch` instead.
 */
import http from 'node:http';
import https from 'node:https';
import { Readable } from 'node:stream';

/** The subset of the WHATWG `fetch` signature the SaltAPI client uses (`globalThis.fetch` fits). */
export type FetchLike = (
  url: string,
  init: {
    method: string;
    headers: Record<string, string>;
    body?: string;
    signal?: AbortSignal;
  },
) => Promise<{
  readonly status: number;
  readonly headers: { get(name: string): string | null };
  readonly body: ReadableStream<Uint8Array> | null;
  text(): Promise<string>;
}>;

/** One HTTP answer, body still unread. */
export interface HttpAnswer {
  readonly status: number;
  readonly contentType: string;
  /** The body as a byte stream (read once). */
  readonly body: AsyncIterable<Uint8Array>;
  text(): Promise<string>;
}

/** TLS settings of the default transport. */
export interface TransportTls {
  readonly ca?: string | Buffer | undefined;
  readonly rejectUnauthorized?: boolean | undefined;
}

async function collect(body: AsyncIterable<Uint8Array>): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of body) chunks.push(Buffer.from(c));
  return Buffer.concat(chunks).toString('utf8');
}

/** Sends a request through the injected `fetch`. */
export async function requestWithFetch(
  fetchFn: FetchLike,
  url: string,
  method: string,
  headers: Record<string, string>,
  body: string | undefined,
  signal: AbortSignal | undefined,
): Promise<HttpAnswer> {
  const res = await fetchFn(url, {
    method,
    headers,
    ...(body !== undefined ? { body } : {}),
    ...(signal !== undefined ? { signal } : {}),
  });
  const stream = res.body;
  const iterable: AsyncIterable<Uint8Array> = stream
    ? (Readable.fromWeb(stream as Parameters<typeof Readable.fromWeb>[0]) as AsyncIterable<Uint8Array>)
    : (async function* () {})();
  return {
    status: res.status,
    contentType: res.headers.get('content-type') ?? '',
    body: iterable,
    text: () => collect(iterable),
  };
}

/** Sends a request with `node:http(s)`, honouring a custom CA. */
export function requestWithNode(
  url: string,
  method: string,
  headers: Record<string, string>,
  body: string | undefined,
  signal: AbortSignal | undefined,
  tls: TransportTls,
): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const target = new URL(url);
    const isHttps = target.protocol === 'https:';
    const options: https.RequestOptions = {
      method,
      headers: body === undefined ? headers : { ...headers, 'content-length': String(Buffer.byteLength(body)) },
      ...(signal ? { signal } : {}),
    };
    if (isHttps) {
      if (tls.ca !== undefined) options.ca = tls.ca;
      if (tls.rejectUnauthorized !== undefined) options.rejectUnauthorized = tls.rejectUnauthorized;
    }
    const req = (isHttps ? https : http).request(target, options, (res) => {
      resolve({
        status: res.statusCode ?? 0,
        contentType: String(res.headers['content-type'] ?? ''),
        body: res,
        text: () => collect(res),
      });
    });
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}
