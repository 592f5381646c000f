/**
 * OCI distribution API client (pull side): authentication challenges (anonymous, basic,
 * bearer tokens with a cache), retries with backoff, resumable blob downloads, and registry
 * errors mapped to typed `RegistryError`s. Written here because the npm clients are
 * read-only wrappers that cannot stream into a verifying store or resume (dependencies.md §4).
 */
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { numberOption } from '../../_number-option.js';
import { PackagingError, RegistryError, redact, throwIfAborted } from '../../errors.js';
import { type BasicCredentials, credentialsFromFiles } from './_credentials.js';
import { HttpClient, type HttpResponse, readBody } from './_http.js';
import type { BlobInfo, BlobStore } from './blob-store.js';
import type { Descriptor } from './manifest.js';
import { MANIFEST_ACCEPT } from './media-types.js';

/** Credentials for a registry. */
export interface RegistryAuth {
  /** User name (basic auth, or for the token server). */
  readonly username?: string | undefined;
  /** Password or access token paired with `username`. */
  readonly password?: string | undefined;
  /** A ready bearer token, sent as is (no token server round trip). */
  readonly bearerToken?: string | undefined;
}

/** How to reach a registry. */
export interface RegistryConnection {
  /** Credentials; when absent, Docker's config.json / containers auth.json are read, else anonymous. */
  readonly auth?: RegistryAuth | undefined;
  /** Skip TLS certificate verification (lab registries only). @default false */
  readonly insecure?: boolean | undefined;
  /** Talk plain HTTP instead of HTTPS (lab registries only). @default false */
  readonly plainHttp?: boolean | undefined;
  /** PEM bundle of extra CA certificates to trust for this registry and its token server (the system CAs stay trusted). */
  readonly ca?: string | Buffer | undefined;
  /** Path of a Docker config.json to read credentials from, or `false` to never read one. */
  readonly authFile?: string | false | undefined;
  /**
   * HTTP proxy URL (`http://user:pass@proxy:3128`), or `false` for none. HTTPS goes through a
   * CONNECT tunnel. @default `HTTPS_PROXY` / `HTTP_PROXY` minus `NO_PROXY` (loopback never proxied)
   */
  readonly proxy?: string | false | undefined;
  /** Attempts per request on network errors, 429 and 5xx. @default 5 */
  readonly retries?: number | undefined;
}

interface Challenge {
  readonly scheme: 'basic' | 'bearer';
  readonly params: Readonly<Record<string, string>>;
}

export function parseChallenge(header: string | undefined): Challenge | undefined {
  if (!header) return undefined;
  const m = /^\s*(\w+)\s*(.*)$/s.exec(header);
  if (!m) return undefined;
  const scheme = m[1]!.toLowerCase();
  if (scheme !== 'basic' && scheme !== 'bearer') return undefined;
  const params: Record<string, string> = {};
  const re = /(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))/g;
  for (let p = re.exec(m[2] ?? ''); p; p = re.exec(m[2] ?? '')) {
    params[p[1]!.toLowerCase()] = (p[2] ?? p[3] ?? '').replace(/\\(.)/g, '$1');
  }
  return { scheme, params };
}

/** Bytes between two progress reports of a blob download. */
const PROGRESS_STEP = 256 * 1024;

const RETRY_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'EPIPE', 'EAI_AGAIN', 'ERR_STREAM_PREMATURE_CLOSE', 'UND_ERR_SOCKET']);

function isRetryable(err: unknown): boolean {
  if (err instanceof RegistryError) return err.retryable;
  const code = (err as { code?: string }).code;
  return code !== undefined ? RETRY_CODES.has(code) : err instanceof Error && /socket hang up|aborted/i.test(err.message);
}

/**
 * Feeds every chunk of `body` to `onChunk`, pausing the stream while the promise `onChunk`
 * returns is pending; resolves at the end of the body, once the last chunk's promise has
 * settled too (a stream emits 'end' after its last 'data' even while paused: resolving then
 * let a download be counted short, resumed with a Range request, and its last chunk appended
 * twice). A throw or rejection of `onChunk` destroys the body and rejects, and so does an error
 * or a premature close of the body. 'data' events, not `for await`: an async iterator costs a
 * few microseconds per chunk, and TLS delivers 16 KiB chunks (a tenth of the CPU time of a
 * download over TLS).
 */
export function pump(body: Readable, onChunk: (chunk: Buffer) => Promise<void> | undefined): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let failed = false;
    /** The promise of the chunk being handled, while there is one. */
    let pending: Promise<void> | undefined;
    const fail = (err: unknown) => {
      if (failed) return;
      failed = true;
      body.off('data', onData);
      body.destroy();
      reject(err);
    };
    const onData = (chunk: Buffer) => {
      let wait: Promise<void> | undefined;
      try {
        wait = onChunk(chunk);
      } catch (err) {
        fail(err);
        return;
      }
      if (wait) {
        body.pause();
        pending = wait.then(() => {
          if (!failed) body.resume();
        }, fail);
      }
    };
    body.on('data', onData);
    finished(body).then(async () => {
      await pending;
      if (!failed) resolve();
    }, fail);
  });
}

/**
 * What the pulls from one registry with one set of connection options share: the HTTP agents
 * (kept-alive connections, so TLS handshakes happen once, not once per image), the last
 * authentication challenge (no 401 round trip per image) and the tokens per scope.
 */
interface SharedConnection {
  readonly http: HttpClient;
  readonly tokens: Map<string, { token: string; expires: number }>;
  challenge: Challenge | undefined;
  /** `null`: not read yet. */
  creds: BasicCredentials | undefined | null;
  /** Sessions using it; when none, it is closed after {@link IDLE_CLOSE_MS}. */
  users: number;
  idle: NodeJS.Timeout | undefined;
}

/**
 * How long a connection no session uses stays open for the next pull (the next image of a
 * loop of fetchImage calls). Its sockets never keep the process alive (idle keep-alive sockets
 * are unreferenced, and so is this timer).
 */
const IDLE_CLOSE_MS = 5_000;

const shared = new Map<string, SharedConnection>();

/** One key per registry and set of connection options (credentials and CA hashed, not kept). */
function connectionKey(registry: string, c: RegistryConnection): string {
  const h = createHash('sha256').update(
    JSON.stringify([registry, c.plainHttp ?? false, c.insecure ?? false, c.proxy ?? null, c.authFile ?? null, c.retries ?? null, c.auth?.username ?? null, c.auth?.password ?? null, c.auth?.bearerToken ?? null]),
  );
  if (c.ca !== undefined) h.update('\0').update(c.ca);
  return h.digest('hex');
}

function acquire(key: string, connection: RegistryConnection): SharedConnection {
  let conn = shared.get(key);
  if (!conn) {
    // No socket limit here: each fetch bounds its own parallel downloads, and fetches running
    // at once (pack's images) share the connections.
    const http = new HttpClient({ ca: connection.ca, insecureTls: connection.insecure, maxSockets: Number.POSITIVE_INFINITY, proxy: connection.proxy });
    conn = { http, tokens: new Map(), challenge: undefined, creds: null, users: 0, idle: undefined };
    shared.set(key, conn);
  }
  if (conn.idle) clearTimeout(conn.idle);
  conn.idle = undefined;
  conn.users++;
  return conn;
}

function release(key: string, conn: SharedConnection): void {
  conn.users--;
  if (conn.users > 0) return;
  conn.idle = setTimeout(() => {
    if (conn.users > 0 || shared.get(key) !== conn) return;
    shared.delete(key);
    conn.http.close();
  }, IDLE_CLOSE_MS);
  conn.idle.unref();
}

/** A pull-side session with one registry host: one image's fetch. Sessions with the same connection options share connections, challenge and tokens. */
export class RegistrySession {
  readonly #key: string;
  readonly #conn: SharedConnection;
  readonly #http: HttpClient;
  readonly #base: string;
  readonly #tokens: Map<string, { token: string; expires: number }>;
  readonly #retries: number;
  #closed = false;
  /** Bytes received from the registry by this session, bodies only. */
  bytesDownloaded = 0;

  constructor(
    readonly registry: string,
    readonly connection: RegistryConnection,
  ) {
    // First: a session that throws after acquire() would hold its connection pool.
    this.#retries = numberOption('retries', connection.retries, { integer: true, min: 1, max: 100, unit: 'attempts' }) ?? 5;
    const host = registry === 'docker.io' ? 'registry-1.docker.io' : registry;
    this.#base = `${connection.plainHttp ? 'http' : 'https'}://${host}`;
    this.#key = connectionKey(registry, connection);
    this.#conn = acquire(this.#key, connection);
    this.#http = this.#conn.http;
    this.#tokens = this.#conn.tokens;
  }

  /** Ends this session; the connections stay open a few seconds for the next one. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    release(this.#key, this.#conn);
  }

  async #credentials(): Promise<BasicCredentials | undefined> {
    if (this.#conn.creds !== null) return this.#conn.creds;
    const a = this.connection.auth;
    if (a?.username !== undefined && a.password !== undefined) this.#conn.creds = { username: a.username, password: a.password };
    else if (this.connection.authFile === false) this.#conn.creds = undefined;
    else this.#conn.creds = await credentialsFromFiles(this.registry, this.connection.authFile);
    return this.#conn.creds;
  }

  async #authorization(scope: string, signal: AbortSignal | undefined): Promise<string | undefined> {
    if (this.connection.auth?.bearerToken) return `Bearer ${this.connection.auth.bearerToken}`;
    const ch = this.#conn.challenge;
    if (!ch) return undefined;
    const creds = await this.#credentials();
    if (ch.scheme === 'basic') {
      if (!creds) {
        throw new RegistryError('REGISTRY_AUTH_REQUIRED', `${this.registry} requires a user name and password`, {
          status: 401,
          hint: 'Pass auth: { username, password }, or log in with `docker login` / `skopeo login` so config.json has the credentials.',
        });
      }
      return `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString('base64')}`;
    }
    const realm = ch.params.realm;
    if (!realm) throw new RegistryError('REGISTRY_AUTH_FAILED', `${this.registry} sent a bearer challenge without realm`);
    const key = `${realm}|${ch.params.service ?? ''}|${scope}`;
    const cached = this.#tokens.get(key);
    if (cached && cached.expires > Date.now()) return `Bearer ${cached.token}`;
    const url = new URL(realm);
    if (ch.params.service) url.searchParams.set('service', ch.params.service);
    url.searchParams.set('scope', scope);
    const headers: Record<string, string> = { 'User-Agent': 'metalk8s-solution-sdk' };
    if (creds) headers.Authorization = `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString('base64')}`;
    let res: HttpResponse;
    try {
      res = await this.#http.request(url.toString(), { headers, signal });
    } catch (cause) {
      throw new RegistryError('REGISTRY_UNREACHABLE', `cannot reach the token server ${url.origin} of ${this.registry}`, {
        cause,
        retryable: true,
        hint: 'Check the network path to the token server named in the registry WWW-Authenticate header.',
      });
    }
    const body = await readBody(res, 1 << 20);
    if (res.status === 401 || res.status === 403) {
      throw new RegistryError('REGISTRY_AUTH_FAILED', `the token server of ${this.registry} refused ${creds ? `user ${creds.username}` : 'anonymous access'} for ${scope}`, {
        status: res.status,
        hint: creds ? 'Check the user name and password (or config.json credentials).' : 'This repository needs credentials: pass auth or log in with docker/skopeo login.',
      });
    }
    if (res.status !== 200) {
      throw new RegistryError('REGISTRY_AUTH_FAILED', `the token server of ${this.registry} answered HTTP ${res.status}`, {
        status: res.status,
        retryable: res.status >= 500,
      });
    }
    let doc: { token?: string; access_token?: string; expires_in?: number };
    try {
      doc = JSON.parse(body.toString('utf8')) as typeof doc;
    } catch (cause) {
      throw new RegistryError('REGISTRY_AUTH_FAILED', `the token server of ${this.registry} sent no JSON`, { cause });
    }
    const token = doc.token ?? doc.access_token;
    if (!token) throw new RegistryError('REGISTRY_AUTH_FAILED', `the token server of ${this.registry} sent no token`);
    const ttl = Math.max(10, (doc.expires_in ?? 60) - 5) * 1000;
    this.#tokens.set(key, { token, expires: Date.now() + ttl });
    return `Bearer ${token}`;
  }

  #error(res: HttpResponse, body: Buffer, what: string): RegistryError {
    let code = '';
    let message = '';
    try {
      const doc = JSON.parse(body.toString('utf8')) as { errors?: { code?: string; message?: string }[] };
      code = doc.errors?.[0]?.code ?? '';
      message = doc.errors?.[0]?.message ?? '';
    } catch {
      message = body.toString('utf8').slice(0, 200);
    }
    const detail = redact(`${code ? `${code}: ` : ''}${message}`.trim());
    const suffix = detail ? ` (${detail})` : '';
    if (res.status === 401 || res.status === 403) {
      return new RegistryError('REGISTRY_AUTH_FAILED', `${this.registry} refused access to ${what}: HTTP ${res.status}${suffix}`, {
        status: res.status,
        hint: 'Check the credentials (auth, or docker/skopeo login) and that the account may pull this repository.',
      });
    }
    if (res.status === 404) {
      return new RegistryError('REGISTRY_NOT_FOUND', `${what} was not found on ${this.registry}${suffix}`, {
        status: 404,
        hint: 'Check the repository name and the tag or digest (docker.io names need the library/ prefix for official images; it is added for one-word names).',
      });
    }
    if (res.status === 429) {
      return new RegistryError('REGISTRY_RATE_LIMITED', `${this.registry} rate-limited the request for ${what}${suffix}`, {
        status: 429,
        retryable: true,
        hint: 'Wait and retry, authenticate to get a higher limit, or mirror the images into your own registry.',
      });
    }
    return new RegistryError('REGISTRY_HTTP_ERROR', `${this.registry} answered HTTP ${res.status} for ${what}${suffix}`, {
      status: res.status,
      retryable: res.status >= 500,
      hint: res.status >= 500 ? 'The registry failed; try again later.' : 'Check the reference and the registry.',
    });
  }

  async #backoff(attempt: number, signal: AbortSignal | undefined, retryAfter?: string): Promise<void> {
    const ra = retryAfter ? Number(retryAfter) : Number.NaN;
    const ms = Number.isFinite(ra) ? Math.min(30_000, ra * 1000) : Math.min(10_000, 200 * 2 ** attempt + Math.random() * 100);
    await sleep(ms, undefined, signal ? { signal } : {}).catch(() => throwIfAborted(signal));
  }

  /** GET with authentication and retries; returns a 2xx response with its body unread. */
  async get(path: string, scope: string, what: string, headers: Record<string, string>, signal: AbortSignal | undefined): Promise<HttpResponse> {
    let authRetried = false;
    for (let attempt = 0; ; attempt++) {
      throwIfAborted(signal, `fetching ${what}`);
      const h: Record<string, string> = { 'User-Agent': 'metalk8s-solution-sdk', ...headers };
      let res: HttpResponse;
      try {
        const authz = await this.#authorization(scope, signal);
        if (authz) h.Authorization = authz;
        res = await this.#http.request(`${this.#base}${path}`, { headers: h, signal });
      } catch (err) {
        throwIfAborted(signal, `fetching ${what}`);
        if (attempt + 1 < this.#retries && isRetryable(err)) {
          await this.#backoff(attempt, signal);
          continue;
        }
        if (err instanceof RegistryError) throw err;
        const code = (err as { code?: string }).code ?? '';
        const tls = /CERT|SELF_SIGNED|TLS|SSL/i.test(code) || /certificate|SSL|TLS/i.test((err as Error).message);
        throw new RegistryError(tls ? 'REGISTRY_TLS_ERROR' : 'REGISTRY_UNREACHABLE', `cannot fetch ${what} from ${this.#base}: ${(err as Error).message}`, {
          cause: err,
          retryable: !tls,
          hint: tls
            ? 'Pass the registry CA (ca: PEM), or for a lab registry insecure: true; use plainHttp: true if it speaks plain HTTP.'
            : 'Check that the registry is up and reachable from here (host, port, proxy, firewall).',
        });
      }
      if (res.status === 401 && !authRetried && !this.connection.auth?.bearerToken) {
        const body = await readBody(res, 1 << 20).catch(() => Buffer.alloc(0));
        const ch = parseChallenge(res.headers['www-authenticate']);
        if (ch) {
          this.#conn.challenge = ch;
          // A token the registry no longer accepts must not be served from the cache again.
          this.#tokens.clear();
          authRetried = true;
          attempt--;
          continue;
        }
        throw this.#error(res, body, what);
      }
      if (res.status >= 200 && res.status < 300) return res;
      const body = await readBody(res, 1 << 20).catch(() => Buffer.alloc(0));
      const err = this.#error(res, body, what);
      if (err.retryable && attempt + 1 < this.#retries) {
        await this.#backoff(attempt, signal, res.headers['retry-after'] as string | undefined);
        continue;
      }
      throw err;
    }
  }

  /** Fetches a manifest; returns its bytes, content type and the server's digest header. */
  async manifest(repository: string, reference: string, signal: AbortSignal | undefined): Promise<{ bytes: Buffer; contentType: string | undefined; digest: string | undefined }> {
    const what = `${this.registry}/${repository}${reference.startsWith('sha256:') ? '@' : ':'}${reference}`;
    const res = await this.get(`/v2/${repository}/manifests/${reference}`, `repository:${repository}:pull`, what, { Accept: MANIFEST_ACCEPT }, signal);
    const bytes = await readBody(res, 4 * 1024 * 1024);
    this.bytesDownloaded += bytes.byteLength;
    const dcd = res.headers['docker-content-digest'];
    return { bytes, contentType: res.headers['content-type'], digest: typeof dcd === 'string' ? dcd : undefined };
  }

  /** Downloads a blob into the store, resuming with Range requests after interruptions, and verifying its digest. */
  async blob(
    repository: string,
    d: Descriptor,
    store: BlobStore,
    signal: AbortSignal | undefined,
    onBytes: (n: number) => void,
  ): Promise<BlobInfo> {
    const what = `blob ${d.digest} of ${this.registry}/${repository}`;
    let ingest = await store.ingest({ expectedDigest: d.digest, expectedSize: d.size, what, signal });
    try {
      for (let attempt = 0; ; attempt++) {
        const from = ingest.bytesWritten;
        const res = await this.get(`/v2/${repository}/blobs/${d.digest}`, `repository:${repository}:pull`, what, from > 0 ? { Range: `bytes=${from}-` } : {}, signal);
        if (from > 0 && res.status !== 206) {
          await ingest.abort();
          ingest = await store.ingest({ expectedDigest: d.digest, expectedSize: d.size, what, signal });
        }
        let unreported = 0;
        try {
          const current = ingest;
          await pump(res.body, (c) => {
            this.bytesDownloaded += c.byteLength;
            if (current.bytesWritten + c.byteLength > d.size) {
              throw new PackagingError('BLOB_SIZE_MISMATCH', `${what}: the registry sent more than the ${d.size} bytes the manifest declares`, {
                hint: 'The registry serves corrupted data; nothing was stored.',
              });
            }
            const wait = current.write(c);
            // Progress per 256 KiB, not per network chunk (16 KiB over TLS).
            unreported += c.byteLength;
            if (unreported >= PROGRESS_STEP) {
              onBytes(unreported);
              unreported = 0;
            }
            return wait;
          });
          if (unreported > 0) onBytes(unreported);
          unreported = 0;
          if (ingest.bytesWritten < d.size) throw Object.assign(new Error(`${what}: connection closed early`), { code: 'ERR_STREAM_PREMATURE_CLOSE' });
          return await ingest.commit();
        } catch (err) {
          if (unreported > 0) onBytes(unreported);
          throwIfAborted(signal, `fetching ${what}`);
          if (attempt + 1 < this.#retries && isRetryable(err)) {
            await this.#backoff(attempt, signal);
            continue;
          }
          throw err;
        }
      }
    } catch (err) {
      await ingest.abort();
      if ((err as { code?: string }).code === 'BLOB_DIGEST_MISMATCH' || (err as { code?: string }).code === 'BLOB_SIZE_MISMATCH') {
        const e = err as Error & { hint?: string };
        throw new RegistryError('REGISTRY_DIGEST_MISMATCH', e.message, { cause: err, hint: e.hint ?? 'The registry served corrupted bytes; nothing was stored.' });
      }
      throw err;
    }
  }
}
