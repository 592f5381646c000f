/**
 * `cluster.logs`: a Solution's container logs through the Kubernetes API (`pods/log`, as
 * `kubectl logs` reads them: follow, since, tail, previous, every container, with pod and
 * container prefixes), and Loki's query API behind `/api/loki` (platform-reference.md §C.4):
 * `query_range` with LogQL built from fluent-bit's labels, paged as MetalK8s' UI pages, and
 * `/ready`. Loki has no maintained npm query client (§D.3): plain requests.
 *
 * @module
 */
import https from 'node:https';
import http from 'node:http';
import { createInterface } from 'node:readline';
import type { KubeConfig } from '@kubernetes/client-node';
import { AbortError, ClusterError } from '../errors.js';
import { kubeGet } from '../_kube.js';
import { numberOption } from '../_number-option.js';
import { environmentNamespaces } from './_platform.js';
import type { ServiceClient } from './_service-http.js';
import { type DurationInput, parseDuration } from './alerts.js';
import { quoteLabelValue, selector } from './metrics.js';

/** One line of a container's log. */
export interface ContainerLogLine {
  readonly namespace: string;
  readonly pod: string;
  readonly container: string;
  /** The line, without its trailing newline (and without the timestamp). */
  readonly line: string;
  /** RFC 3339 time the runtime recorded, with `timestamps: true`. */
  readonly time?: string | undefined;
}

/** Options of {@link LogsApi.containers}. */
export interface ContainerLogsOptions {
  /** `operator`, or a component name (`app.kubernetes.io/name`). @default every pod of the Solution */
  readonly component?: string | undefined;
  /** Only this container. @default every container of each pod */
  readonly container?: string | undefined;
  /** Keep reading as lines come (until `signal` aborts or the pods stop). @default false */
  readonly follow?: boolean | undefined;
  /** Only lines newer than this duration (`10m`) or time. @default all */
  readonly since?: DurationInput | Date | undefined;
  /** Only the last lines of each container: a whole number, 0 or more. @default all */
  readonly tail?: number | undefined;
  /** The previous (crashed) instance of each container. @default false */
  readonly previous?: boolean | undefined;
  /** Ask the runtime's timestamps (`time` of each line). @default false */
  readonly timestamps?: boolean | undefined;
  readonly signal?: AbortSignal | undefined;
}

/** A Loki log entry. */
export interface LokiEntry {
  /** Labels of its stream. */
  readonly labels: Readonly<Record<string, string>>;
  /** Nanoseconds since the epoch, as Loki sends it. */
  readonly timestamp: string;
  readonly time: Date;
  /** The line as stored (fluent-bit writes JSON). */
  readonly line: string;
  /** The `log` or `message` field of a JSON line, else the line. */
  readonly message: string;
}

/** Labels a Loki query can select on (fluent-bit's, platform-reference.md §C.4). */
export interface LokiLabels {
  readonly namespace?: string | readonly string[] | undefined;
  /** `app.kubernetes.io/name` of the pod, else its `app` label. */
  readonly app?: string | undefined;
  readonly pod?: string | undefined;
  readonly container?: string | undefined;
  readonly node?: string | undefined;
  readonly stream?: 'stdout' | 'stderr' | undefined;
}

/** Options of {@link LokiApi.queryRange}. */
export interface LokiQueryOptions {
  /** LogQL; or build it from `labels` and `contains`. */
  readonly query?: string | undefined;
  readonly labels?: LokiLabels | undefined;
  /** Line filters: every one must appear (`|= "…"`). @default none */
  readonly contains?: readonly string[] | undefined;
  /** @default one hour before `end` */
  readonly start?: Date | undefined;
  /** @default now */
  readonly end?: Date | undefined;
  /** Entries per request, a whole number, 1 or more; MetalK8s' UI asks 4999. @default 4999 */
  readonly pageSize?: number | undefined;
  /** Stop after this many entries: a whole number, 1 or more. @default no limit */
  readonly maxEntries?: number | undefined;
  readonly signal?: AbortSignal | undefined;
}

/** Options every {@link LokiApi} call takes. */
export interface LokiCallOptions {
  readonly signal?: AbortSignal | undefined;
}

/** Options of {@link LokiApi.labels}. */
export interface LokiLabelsOptions extends LokiCallOptions {
  /** The label whose values are listed. @default none: the label names are listed */
  readonly name?: string | undefined;
}

/** Options of {@link LogsApi.pods}: the `component` and `signal` of `containers`. */
export type SolutionPodsOptions = Pick<ContainerLogsOptions, 'component' | 'signal'>;

/** Options of {@link logql}. */
export interface LogqlOptions {
  /** Line filters (`|= "…"`), each a plain substring. @default none */
  readonly contains?: readonly string[] | undefined;
}

/**
 * A LogQL stream selector with line filters, values quoted. Pure.
 *
 * @example
 * ```ts
 * logql({ namespace: 'zenko-prod', app: 'zenko-operator' }, { contains: ['error'] });
 * // {namespace="zenko-prod",app="zenko-operator"} |= "error"
 * ```
 */
export function logql(labels: LokiLabels, options: LogqlOptions = {}): string {
  const contains = options.contains ?? [];
  const ns = labels.namespace === undefined ? [] : typeof labels.namespace === 'string' ? [labels.namespace] : labels.namespace;
  const exact: Record<string, string> = {};
  for (const k of ['app', 'pod', 'container', 'node', 'stream'] as const) {
    const v = labels[k];
    if (v !== undefined) exact[k] = v;
  }
  if (ns.length === 0 && Object.keys(exact).length === 0) {
    throw new ClusterError('LOGQL_NO_MATCHER', 'a Loki query needs at least one label (namespace, app, pod, container…)', { hint: 'Give an environment or labels.' });
  }
  return `${selector(ns, { labels: exact })}${contains.map((c) => ` |= ${quoteLabelValue(c)}`).join('')}`;
}

/**
 * The paging numbers of a Loki query. A NaN `maxEntries` turned the limit off and 0 still gave
 * one entry; Loki refuses a `limit` below 1.
 */
function checkPaging(options: Pick<LokiQueryOptions, 'pageSize' | 'maxEntries'>): void {
  numberOption('pageSize', options.pageSize, { integer: true, min: 1, unit: 'entries' });
  numberOption('maxEntries', options.maxEntries, { integer: true, min: 1, unit: 'entries' });
}

function messageOf(line: string): string {
  if (!line.startsWith('{')) return line;
  try {
    const o = JSON.parse(line) as Record<string, unknown>;
    for (const k of ['log', 'message', 'msg']) if (typeof o[k] === 'string') return (o[k] as string).replace(/\n$/, '');
  } catch {}
  return line;
}

/** Loki of a cluster: `cluster.logs.loki`. */
export class LokiApi {
  readonly #client: ServiceClient;

  /** @internal */
  constructor(client: ServiceClient) {
    this.#client = client;
  }

  /** Whether Loki answers `/ready` with `ready` (Loki is optional in MetalK8s). */
  async ready(options: LokiCallOptions = {}): Promise<boolean> {
    try {
      const res = await this.#client.request({ path: '/ready', signal: options.signal });
      return res.status === 200 && res.text.trim() === 'ready';
    } catch (err) {
      if (err instanceof ClusterError && (err.code === 'SERVICE_UNAVAILABLE' || err.code === 'SERVICE_UNREACHABLE')) return false;
      throw err;
    }
  }

  /** Label names, or the values of label `name`. */
  async labels(options: LokiLabelsOptions = {}): Promise<readonly string[]> {
    const path = options.name === undefined ? '/loki/api/v1/labels' : `/loki/api/v1/label/${encodeURIComponent(options.name)}/values`;
    const res = await this.#client.request({ path, signal: options.signal });
    if (res.status >= 300) throw lokiError(res.status, res.text, path);
    return ((res.json as { data?: string[] } | undefined)?.data ?? []).slice();
  }

  /**
   * Log entries, newest first, paged the way MetalK8s' UI pages: `query_range` backwards with
   * `limit` = `pageSize`; while a page is full, the next one ends at the oldest timestamp seen
   * (entries sharing that nanosecond are not lost, nor repeated).
   *
   * @throws `ClusterError` `LOKI_QUERY_REJECTED` with Loki's message; `SERVICE_UNAVAILABLE`.
   * @example
   * ```ts
   * for await (const e of cluster.logs.loki.queryRange({ labels: { namespace: 'zenko-prod' }, contains: ['error'] })) {
   *   console.log(e.time.toISOString(), e.message);
   * }
   * ```
   */
  async *queryRange(options: LokiQueryOptions): AsyncGenerator<LokiEntry> {
    checkPaging(options);
    const query = options.query ?? logql(options.labels ?? {}, { contains: options.contains });
    const endDate = options.end ?? new Date();
    const startNs = BigInt((options.start ?? new Date(endDate.getTime() - 3_600_000)).getTime()) * 1_000_000n;
    let endNs = BigInt(endDate.getTime()) * 1_000_000n;
    const pageSize = options.pageSize ?? 4999;
    const seenAtEdge = new Set<string>();
    let yielded = 0;
    for (;;) {
      if (options.signal?.aborted) throw new AbortError('Loki query', { cause: options.signal.reason });
      const res = await this.#client.request({
        path: '/loki/api/v1/query_range',
        query: [
          ['query', query],
          ['start', startNs.toString()],
          ['end', endNs.toString()],
          ['limit', pageSize],
          ['direction', 'backward'],
        ],
        signal: options.signal,
      });
      if (res.status >= 300) throw lokiError(res.status, res.text, query);
      const streams = ((res.json as { data?: { result?: { stream: Record<string, string>; values: [string, string][] }[] } } | undefined)?.data?.result ?? []);
      const page = streams
        .flatMap((s) => s.values.map(([ts, line]) => ({ labels: s.stream, ts, line })))
        .sort((a, b) => {
          const d = BigInt(b.ts) - BigInt(a.ts);
          return d > 0n ? 1 : d < 0n ? -1 : 0;
        });
      let fresh = 0;
      for (const e of page) {
        const key = `${e.ts}\u0000${JSON.stringify(e.labels)}\u0000${e.line}`;
        if (seenAtEdge.has(key)) continue;
        fresh++;
        yield { labels: e.labels, timestamp: e.ts, time: new Date(Number(BigInt(e.ts) / 1_000_000n)), line: e.line, message: messageOf(e.line) };
        if (options.maxEntries !== undefined && ++yielded >= options.maxEntries) return;
      }
      const oldest = page[page.length - 1];
      if (page.length < pageSize || !oldest || fresh === 0) return;
      // `end` is exclusive: end one nanosecond after the oldest entry to get the rest of its
      // nanosecond, and skip what was already given.
      const oldestNs = BigInt(oldest.ts);
      seenAtEdge.clear();
      for (const e of page) if (BigInt(e.ts) === oldestNs) seenAtEdge.add(`${e.ts}\u0000${JSON.stringify(e.labels)}\u0000${e.line}`);
      endNs = oldestNs + 1n;
      if (endNs <= startNs) return;
    }
  }
}

function lokiError(status: number, text: string, what: string): ClusterError {
  return new ClusterError(status === 400 ? 'LOKI_QUERY_REJECTED' : 'LOKI_REQUEST_FAILED', `Loki refused ${JSON.stringify(what)}: HTTP ${status}: ${text.trim().slice(0, 300)}`, {
    hint: status === 400 ? 'Fix the LogQL as Loki says.' : 'Retry later; check that Loki runs (it is optional in MetalK8s).',
    status,
    retryable: status >= 500 || status === 429,
  });
}

/** A pod as {@link LogsApi.pods} returns it (the fields it reads). */
export interface SolutionPod {
  readonly metadata: { readonly name: string; readonly namespace: string; readonly labels?: Readonly<Record<string, string>> | undefined };
  readonly spec?: { readonly containers?: readonly { readonly name: string }[] | undefined } | undefined;
}
type Pod = SolutionPod;

/** Logs of a cluster. Get it from `connect()` as `cluster.logs`. */
export class LogsApi {
  readonly #kc: KubeConfig;
  /** Loki's query API. */
  readonly loki: LokiApi;

  /** @internal */
  constructor(kc: KubeConfig, loki: ServiceClient) {
    this.#kc = kc;
    this.loki = new LokiApi(loki);
  }

  /**
   * A Solution's logs in an environment from Loki (fluent-bit's labels: the environment's
   * namespaces, `app` = the component or `<name>-operator`), newest first, paged.
   *
   * @example
   * ```ts
   * for await (const e of cluster.logs.fromLoki('zenko-prod', 'zenko', { component: 'operator', contains: ['error'], since: '2h' })) console.log(e.message);
   * ```
   */
  async *fromLoki(
    environment: string,
    name: string,
    options: Omit<LokiQueryOptions, 'query' | 'labels'> & { readonly component?: string | undefined; readonly container?: string | undefined; readonly since?: DurationInput | undefined } = {},
  ): AsyncGenerator<LokiEntry> {
    checkPaging(options);
    const namespace = await environmentNamespaces(this.#kc, environment, options.signal);
    const app = options.component === 'operator' ? `${name}-operator` : options.component;
    const end = options.end ?? new Date();
    const start = options.start ?? (options.since !== undefined ? new Date(end.getTime() - parseDuration(options.since)) : undefined);
    yield* this.loki.queryRange({ ...options, start, end, labels: { namespace, ...(app ? { app } : {}), ...(options.container ? { container: options.container } : {}) } });
  }

  /**
   * The pods of a Solution in an environment (label `app.kubernetes.io/part-of=<name>`),
   * optionally one component's.
   */
  async pods(environment: string, name: string, options: SolutionPodsOptions = {}): Promise<readonly Pod[]> {
    const namespaces = await environmentNamespaces(this.#kc, environment, options.signal);
    const sel = [`app.kubernetes.io/part-of=${name}`];
    if (options.component === 'operator') sel.push('app.kubernetes.io/component=operator');
    else if (options.component !== undefined) sel.push(`app.kubernetes.io/name in (${options.component},${name}-${options.component})`);
    const out: Pod[] = [];
    for (const ns of namespaces) {
      const list = await kubeGet<{ items: Pod[] }>(this.#kc, `/api/v1/namespaces/${ns}/pods?labelSelector=${encodeURIComponent(sel.join(','))}`, options.signal);
      out.push(...(list?.items ?? []));
    }
    return out.sort((a, b) => (a.metadata.namespace + a.metadata.name < b.metadata.namespace + b.metadata.name ? -1 : 1));
  }

  /**
   * Container logs of a Solution's pods in an environment, read through the API server. Without
   * `follow`, pod after pod, container after container; with `follow`, every container at once,
   * lines as they come.
   *
   * @throws `ClusterError` `ENVIRONMENT_NOT_FOUND`, `NO_PODS`, `LOGS_UNAVAILABLE` (the API
   *   server's message, e.g. no previous instance).
   * @example
   * ```ts
   * for await (const l of cluster.logs.containers('zenko-prod', 'zenko', { component: 'operator', tail: 50 })) {
   *   console.log(`[${l.pod}/${l.container}] ${l.line}`);
   * }
   * ```
   */
  async *containers(environment: string, name: string, options: ContainerLogsOptions = {}): AsyncGenerator<ContainerLogLine> {
    // tailLines is an int64 the API server wants 0 or more; NaN went out as `tailLines=NaN`.
    numberOption('tail', options.tail, { integer: true, min: 0, unit: 'lines' });
    const pods = await this.pods(environment, name, options);
    const sources = pods.flatMap((p) =>
      (p.spec?.containers ?? []).filter((c) => options.container === undefined || c.name === options.container).map((c) => ({ namespace: p.metadata.namespace, pod: p.metadata.name, container: c.name })),
    );
    if (sources.length === 0) {
      throw new ClusterError('NO_PODS', `no pod${options.container ? ` with container ${options.container}` : ''} of ${name}${options.component ? ` (${options.component})` : ''} in environment ${environment}`, {
        hint: `Check that ${name} runs there: solution status.`,
      });
    }
    if (!options.follow) {
      for (const s of sources) yield* this.#read(s, options);
      return;
    }
    // Stopping early (or the caller's abort) closes every open stream.
    const inner = new AbortController();
    const onAbort = (): void => inner.abort(options.signal?.reason);
    options.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      yield* merge(
        sources.map((s) => this.#read(s, { ...options, signal: inner.signal })),
        () => inner.abort(),
      );
    } finally {
      options.signal?.removeEventListener('abort', onAbort);
    }
  }

  async *#read(src: { namespace: string; pod: string; container: string }, o: ContainerLogsOptions): AsyncGenerator<ContainerLogLine> {
    const q = new URLSearchParams({ container: src.container });
    if (o.follow) q.set('follow', 'true');
    if (o.previous) q.set('previous', 'true');
    if (o.tail !== undefined) q.set('tailLines', String(o.tail));
    if (o.timestamps) q.set('timestamps', 'true');
    if (o.since instanceof Date) q.set('sinceTime', o.since.toISOString().replace(/\.\d+Z$/, 'Z'));
    else if (o.since !== undefined) q.set('sinceSeconds', String(Math.max(1, Math.ceil(parseDuration(o.since) / 1000))));
    const path = `/api/v1/namespaces/${encodeURIComponent(src.namespace)}/pods/${encodeURIComponent(src.pod)}/log?${q}`;
    const res = await this.#open(path, o.signal);
    const lines = createInterface({ input: res, crlfDelay: Number.POSITIVE_INFINITY });
    const onAbort = (): void => {
      res.destroy();
    };
    o.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      for await (const raw of lines) {
        if (o.timestamps) {
          const sp = raw.indexOf(' ');
          yield { ...src, time: raw.slice(0, sp), line: raw.slice(sp + 1) };
        } else yield { ...src, line: raw };
      }
    } catch (err) {
      if (!o.signal?.aborted) throw err;
    } finally {
      o.signal?.removeEventListener('abort', onAbort);
      res.destroy();
    }
  }

  async #open(path: string, signal: AbortSignal | undefined): Promise<http.IncomingMessage> {
    const cluster = this.#kc.getCurrentCluster();
    if (!cluster) throw new ClusterError('KUBECONFIG_NO_CLUSTER', 'the kubeconfig has no current cluster', { hint: 'Pass a kubeconfig whose current context names a cluster.' });
    const url = new URL(path, cluster.server);
    const opts: https.RequestOptions = { method: 'GET', headers: { accept: '*/*' } };
    await this.#kc.applyToHTTPSOptions(opts);
    if (signal) opts.signal = signal;
    const transport = url.protocol === 'http:' ? http : https;
    return new Promise((resolve, reject) => {
      const req = transport.request(url, opts, (res) => {
        if ((res.statusCode ?? 0) < 300) {
          resolve(res);
          return;
        }
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let message = text;
          try {
            message = (JSON.parse(text) as { message?: string }).message ?? text;
          } catch {}
          reject(
            new ClusterError('LOGS_UNAVAILABLE', `logs of ${decodeURIComponent(url.pathname.split('/')[6] ?? '')} (${url.searchParams.get('container')}): HTTP ${res.statusCode}: ${message.trim().slice(0, 300)}`, {
              hint: url.searchParams.get('previous') ? 'There may be no previous instance of that container.' : 'See the API server message above.',
              status: res.statusCode,
              retryable: (res.statusCode ?? 0) >= 500,
            }),
          );
        });
      });
      req.on('error', (err) => {
        if (signal?.aborted) reject(new AbortError('reading logs', { cause: err }));
        else reject(new ClusterError('KUBE_API_UNREACHABLE', `cannot reach the Kubernetes API server at ${url.origin}: ${err.message}`, { retryable: true, cause: err, hint: 'Check the kubeconfig and that the API server is up.' }));
      });
      req.end();
    });
  }
}

/** Yields from several generators at once, in arrival order. */
async function* merge<T>(gens: readonly AsyncGenerator<T>[], close: () => void): AsyncGenerator<T> {
  const pending = new Map<number, Promise<{ i: number; r: IteratorResult<T> }>>();
  const next = (i: number): void => {
    const g = gens[i];
    if (g) pending.set(i, g.next().then((r) => ({ i, r })));
  };
  for (let i = 0; i < gens.length; i++) next(i);
  try {
    while (pending.size > 0) {
      const { i, r } = await Promise.race(pending.values());
      if (r.done) pending.delete(i);
      else {
        yield r.value;
        next(i);
      }
    }
  } finally {
    close();
    await Promise.all([...pending.values()].map((p) => p.catch(() => {})));
    await Promise.all(gens.map((g) => g.return(undefined).catch(() => {})));
  }
}
