/**
 * `cluster.metrics`: Prometheus' HTTP API as MetalK8s serves it (Thanos query behind
 * `/api/prometheus`, platform-reference.md §C.2): instant and range queries, series, labels,
 * rules, alerts and targets, with typed results. Every expression is checked with the SDK's
 * PromQL parser before it is sent, and URL-encoded (MetalK8s' UI does not encode it).
 *
 * Written on `fetch`-style requests rather than a client library: the API is a handful of GET
 * endpoints, and the one maintained npm client (`prometheus-query`) brings axios for it.
 *
 * @module
 */
import type { KubeConfig } from '@kubernetes/client-node';
import { ClusterError, PromqlError } from '../errors.js';
import { checkPromql } from '../solution/_promql.js';
import { prometheusData } from './_prometheus-answer.js';
import type { ServiceClient, ServiceEndpoint } from './_service-http.js';
import { environmentNamespaces } from './_platform.js';

/** Label names to values. */
export type Labels = Readonly<Record<string, string>>;

/** One value at one time: `time` in Unix seconds (fractional), `value` parsed (`+Inf`, `NaN` kept). */
export interface SamplePoint {
  readonly time: number;
  readonly value: number;
}

/** A series of an instant vector. */
export interface VectorSample extends SamplePoint {
  readonly metric: Labels;
}

/** A series of a range vector. */
export interface MatrixSeries {
  readonly metric: Labels;
  readonly values: readonly SamplePoint[];
}

/** The result of a query, by `resultType`. */
export type QueryResult =
  | { readonly resultType: 'vector'; readonly result: readonly VectorSample[]; readonly warnings: readonly string[] }
  | { readonly resultType: 'matrix'; readonly result: readonly MatrixSeries[]; readonly warnings: readonly string[] }
  | { readonly resultType: 'scalar'; readonly result: SamplePoint; readonly warnings: readonly string[] }
  | { readonly resultType: 'string'; readonly result: { readonly time: number; readonly value: string }; readonly warnings: readonly string[] };

/** A time for the API: a `Date`, Unix seconds, or an RFC 3339 string. */
export type PromTime = Date | number | string;

/** Options every metrics call takes. */
export interface MetricsCallOptions {
  readonly signal?: AbortSignal | undefined;
}

/** Options of {@link MetricsApi.query}. */
export interface QueryOptions extends MetricsCallOptions {
  /** Evaluation time. @default now (the server's clock) */
  readonly time?: PromTime | undefined;
  /** Server-side evaluation timeout, a Prometheus duration (`30s`). @default the server's */
  readonly timeout?: string | undefined;
}

/** Options of {@link MetricsApi.queryRange}. */
export interface QueryRangeOptions extends MetricsCallOptions {
  readonly start: PromTime;
  readonly end: PromTime;
  /** Resolution: seconds, or a Prometheus duration (`15s`, `1m`). */
  readonly step: number | string;
  /** @default the server's */
  readonly timeout?: string | undefined;
}

/** Options of {@link MetricsApi.series} and {@link MetricsApi.labels}. */
export interface SeriesOptions extends MetricsCallOptions {
  readonly start?: PromTime | undefined;
  readonly end?: PromTime | undefined;
}

/** Options of {@link MetricsApi.labels}. */
export interface LabelsOptions extends SeriesOptions {
  /** The label whose values are listed. @default none: the label names are listed */
  readonly name?: string | undefined;
  /** Series selectors (`match[]`) the answer is limited to. @default all series */
  readonly match?: readonly string[] | undefined;
}

/** An alert as Prometheus holds it (`/api/v1/alerts`, or inside a rule). */
export interface PrometheusAlert {
  readonly labels: Labels;
  readonly annotations: Labels;
  readonly state: 'firing' | 'pending' | 'inactive';
  readonly activeAt: string | undefined;
  readonly value: string;
}

/** A rule as Prometheus evaluates it. */
export type PrometheusRule =
  | {
      readonly type: 'alerting';
      readonly name: string;
      readonly query: string;
      /** `for`, in seconds. */
      readonly duration: number;
      readonly labels: Labels;
      readonly annotations: Labels;
      readonly alerts: readonly PrometheusAlert[];
      readonly state: 'firing' | 'pending' | 'inactive';
      readonly health: 'ok' | 'err' | 'unknown';
      readonly lastError: string | undefined;
      readonly lastEvaluation: string | undefined;
    }
  | {
      readonly type: 'recording';
      readonly name: string;
      readonly query: string;
      readonly labels: Labels;
      readonly health: 'ok' | 'err' | 'unknown';
      readonly lastError: string | undefined;
      readonly lastEvaluation: string | undefined;
    };

/** A rule group (one group of a PrometheusRule object). */
export interface RuleGroup {
  readonly name: string;
  /** Rule file; prometheus-operator names it `<namespace>-<PrometheusRule name>-<uid>.yaml`. */
  readonly file: string;
  /** Evaluation interval, seconds. */
  readonly interval: number;
  readonly rules: readonly PrometheusRule[];
}

/** A scrape target. */
export interface ScrapeTarget {
  readonly labels: Labels;
  readonly discoveredLabels: Labels;
  readonly scrapePool: string;
  readonly scrapeUrl: string;
  readonly health: 'up' | 'down' | 'unknown';
  readonly lastError: string;
  readonly lastScrape: string;
}

/** Options of {@link MetricsApi.rules}. */
export interface RulesOptions extends MetricsCallOptions {
  /** Only alerting or recording rules. @default both */
  readonly type?: 'alert' | 'record' | undefined;
}

/** Options of {@link MetricsApi.targets}. */
export interface TargetsOptions extends MetricsCallOptions {
  /** @default 'active' */
  readonly state?: 'active' | 'dropped' | 'any' | undefined;
}

/** Options of {@link selector} and {@link MetricsApi.environmentSelector}. */
export interface SelectorOptions {
  /** Metric name before the braces. @default none */
  readonly metric?: string | undefined;
  /** `app` label (Loki) or any label to match exactly, by name. @default none */
  readonly labels?: Readonly<Record<string, string>> | undefined;
}

/** Options of {@link MetricsApi.environmentSelector}. */
export interface EnvironmentSelectorOptions extends SelectorOptions, MetricsCallOptions {}

/** Quotes a value as a PromQL / LogQL double-quoted string. */
export function quoteLabelValue(value: string): string {
  return JSON.stringify(value);
}

function escapeRegex(value: string): string {
  return value.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * A PromQL (or LogQL) selector for some namespaces and labels: `{namespace="a"}`, or
 * `{namespace=~"a|b"}` for several, values quoted and regex-escaped. Pure.
 *
 * @example
 * ```ts
 * selector(['zenko-prod'], { metric: 'up', labels: { job: 'zenko-cloudserver' } });
 * // up{namespace="zenko-prod",job="zenko-cloudserver"}
 * ```
 */
export function selector(namespaces: readonly string[], options: SelectorOptions = {}): string {
  const matchers: string[] = [];
  if (namespaces.length === 1) matchers.push(`namespace=${quoteLabelValue(namespaces[0] ?? '')}`);
  else if (namespaces.length > 1) matchers.push(`namespace=~${quoteLabelValue([...namespaces].sort().map(escapeRegex).join('|'))}`);
  for (const [k, v] of Object.entries(options.labels ?? {})) {
    if (!/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(k)) throw new ClusterError('LABEL_NAME_INVALID', `"${k}" is not a Prometheus label name`, { hint: 'Label names match [a-zA-Z_][a-zA-Z0-9_]*.' });
    matchers.push(`${k}=${quoteLabelValue(v)}`);
  }
  return `${options.metric ?? ''}{${matchers.join(',')}}`;
}

function promTime(t: PromTime): string {
  if (t instanceof Date) return (t.getTime() / 1000).toString();
  return String(t);
}

function parseValue(v: string): number {
  if (v === '+Inf' || v === 'Inf') return Number.POSITIVE_INFINITY;
  if (v === '-Inf') return Number.NEGATIVE_INFINITY;
  return Number(v);
}

function point(p: unknown): SamplePoint {
  const [t, v] = p as [number, string];
  return { time: t, value: parseValue(v) };
}

/** Checks an expression with the SDK's parser; throws `PROMQL_SYNTAX`. */
export function assertPromql(expr: string): void {
  const issue = checkPromql(expr);
  if (issue) {
    throw new PromqlError('PROMQL_SYNTAX', `PromQL ${JSON.stringify(expr.length > 120 ? `${expr.slice(0, 117)}...` : expr)}: line ${issue.line}, column ${issue.column}: ${issue.message}`, {
      hint: 'Fix the expression; it was not sent to Prometheus.',
      expr,
      errorType: 'syntax',
      line: issue.line,
      column: issue.column,
    });
  }
}

/** Prometheus of a cluster. Get it from `connect()` as `cluster.metrics`. */
export class MetricsApi {
  readonly #client: ServiceClient;
  readonly #kc: KubeConfig;

  /** @internal */
  constructor(client: ServiceClient, kc: KubeConfig) {
    this.#client = client;
    this.#kc = kc;
  }

  /** Where the requests go. */
  endpoint(options: MetricsCallOptions = {}): Promise<ServiceEndpoint> {
    return this.#client.endpoint(options.signal);
  }

  async #get(path: string, query: [string, string | undefined][], expr: string | undefined, signal: AbortSignal | undefined): Promise<{ data: unknown; warnings: string[] }> {
    const res = await this.#client.request({ path, query, signal });
    return prometheusData(res, path, expr);
  }

  /**
   * Evaluates an instant query.
   *
   * @throws `PromqlError` `PROMQL_SYNTAX` (not sent) or `PROMQL_REJECTED` (Prometheus' message);
   *   `ClusterError` `SERVICE_UNREACHABLE` / `SERVICE_UNAVAILABLE` (retryable).
   * @example
   * ```ts
   * const r = await cluster.metrics.query('sum(up{job="zenko-cloudserver"})');
   * if (r.resultType === 'vector') console.log(r.result[0]?.value);
   * ```
   */
  async query(promql: string, options: QueryOptions = {}): Promise<QueryResult> {
    assertPromql(promql);
    const { data, warnings } = await this.#get(
      '/api/v1/query',
      [
        ['query', promql],
        ['time', options.time === undefined ? undefined : promTime(options.time)],
        ['timeout', options.timeout],
      ],
      promql,
      options.signal,
    );
    return toQueryResult(data, warnings);
  }

  /**
   * Evaluates a range query; the result is a matrix.
   *
   * @example
   * ```ts
   * const end = new Date();
   * const r = await cluster.metrics.queryRange('up', { start: new Date(end.getTime() - 3600_000), end, step: 60 });
   * ```
   */
  async queryRange(promql: string, options: QueryRangeOptions): Promise<readonly MatrixSeries[]> {
    assertPromql(promql);
    const { data, warnings } = await this.#get(
      '/api/v1/query_range',
      [
        ['query', promql],
        ['start', promTime(options.start)],
        ['end', promTime(options.end)],
        ['step', String(options.step)],
        ['timeout', options.timeout],
      ],
      promql,
      options.signal,
    );
    const r = toQueryResult(data, warnings);
    return r.resultType === 'matrix' ? r.result : [];
  }

  /**
   * The series matching selectors.
   *
   * @example
   * ```ts
   * const series = await cluster.metrics.series(['up{namespace="zenko-prod"}']);
   * ```
   */
  async series(match: readonly string[], options: SeriesOptions = {}): Promise<readonly Labels[]> {
    for (const m of match) assertPromql(m);
    const { data } = await this.#get('/api/v1/series', [...match.map((m): [string, string] => ['match[]', m]), ...range(options)], match.join(', '), options.signal);
    return (data as Labels[] | null) ?? [];
  }

  /**
   * Label names, or the values of one label (`name`).
   *
   * @example
   * ```ts
   * const jobs = await cluster.metrics.labels({ name: 'job' });
   * ```
   */
  async labels(options: LabelsOptions = {}): Promise<readonly string[]> {
    for (const m of options.match ?? []) assertPromql(m);
    const path = options.name === undefined ? '/api/v1/labels' : `/api/v1/label/${encodeURIComponent(options.name)}/values`;
    const { data } = await this.#get(path, [...(options.match ?? []).map((m): [string, string] => ['match[]', m]), ...range(options)], undefined, options.signal);
    return (data as string[] | null) ?? [];
  }

  /**
   * The rule groups Prometheus evaluates, with each rule's health and last error.
   *
   * @example
   * ```ts
   * const groups = await cluster.metrics.rules({ type: 'alert' });
   * ```
   */
  async rules(options: RulesOptions = {}): Promise<readonly RuleGroup[]> {
    const { data } = await this.#get('/api/v1/rules', [['type', options.type]], undefined, options.signal);
    const groups = (data as { groups?: RawGroup[] } | undefined)?.groups ?? [];
    return groups.map((g) => ({
      name: g.name,
      file: g.file,
      interval: g.interval,
      rules: (g.rules ?? []).map((r) =>
        r.type === 'alerting'
          ? {
              type: 'alerting' as const,
              name: r.name,
              query: r.query,
              duration: r.duration ?? 0,
              labels: r.labels ?? {},
              annotations: r.annotations ?? {},
              alerts: (r.alerts ?? []).map(toAlert),
              state: r.state ?? 'inactive',
              health: r.health ?? 'unknown',
              lastError: r.lastError || undefined,
              lastEvaluation: r.lastEvaluation,
            }
          : {
              type: 'recording' as const,
              name: r.name,
              query: r.query,
              labels: r.labels ?? {},
              health: r.health ?? 'unknown',
              lastError: r.lastError || undefined,
              lastEvaluation: r.lastEvaluation,
            },
      ),
    }));
  }

  /**
   * Pending and firing alerts as Prometheus holds them (before Alertmanager's silences and
   * inhibitions; see `cluster.alerts` for those).
   *
   * @example
   * ```ts
   * const firing = (await cluster.metrics.alerts()).filter((a) => a.state === 'firing');
   * ```
   */
  async alerts(options: MetricsCallOptions = {}): Promise<readonly PrometheusAlert[]> {
    const { data } = await this.#get('/api/v1/alerts', [], undefined, options.signal);
    return ((data as { alerts?: RawAlert[] } | undefined)?.alerts ?? []).map(toAlert);
  }

  /**
   * Scrape targets and their health.
   *
   * @example
   * ```ts
   * const down = (await cluster.metrics.targets()).filter((t) => t.health === 'down');
   * ```
   */
  async targets(options: TargetsOptions = {}): Promise<readonly ScrapeTarget[]> {
    const { data } = await this.#get('/api/v1/targets', [['state', options.state ?? 'active']], undefined, options.signal);
    const d = data as { activeTargets?: RawTarget[]; droppedTargets?: RawTarget[] } | undefined;
    return [...(d?.activeTargets ?? []), ...(d?.droppedTargets ?? [])].map((t) => ({
      labels: t.labels ?? {},
      discoveredLabels: t.discoveredLabels ?? {},
      scrapePool: t.scrapePool ?? '',
      scrapeUrl: t.scrapeUrl ?? '',
      health: t.health ?? 'unknown',
      lastError: t.lastError ?? '',
      lastScrape: t.lastScrape ?? '',
    }));
  }

  /**
   * A selector for the namespaces of a Solution environment (the namespaces labelled
   * `solutions.metalk8s.scality.com/environment=<env>`).
   *
   * @throws `ClusterError` `ENVIRONMENT_NOT_FOUND`.
   * @example
   * ```ts
   * const sel = await cluster.metrics.environmentSelector('zenko-prod', { metric: 'kube_pod_status_ready' });
   * await cluster.metrics.query(`sum by (pod) (${sel})`);
   * ```
   */
  async environmentSelector(environment: string, options: EnvironmentSelectorOptions = {}): Promise<string> {
    return selector(await environmentNamespaces(this.#kc, environment, options.signal), options);
  }
}

function range(o: SeriesOptions): [string, string | undefined][] {
  return [
    ['start', o.start === undefined ? undefined : promTime(o.start)],
    ['end', o.end === undefined ? undefined : promTime(o.end)],
  ];
}

interface RawAlert {
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  state?: 'firing' | 'pending' | 'inactive';
  activeAt?: string;
  value?: string;
}
interface RawRule {
  type: 'alerting' | 'recording';
  name: string;
  query: string;
  duration?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  alerts?: RawAlert[];
  state?: 'firing' | 'pending' | 'inactive';
  health?: 'ok' | 'err' | 'unknown';
  lastError?: string;
  lastEvaluation?: string;
}
interface RawGroup {
  name: string;
  file: string;
  interval: number;
  rules?: RawRule[];
}
interface RawTarget {
  labels?: Record<string, string>;
  discoveredLabels?: Record<string, string>;
  scrapePool?: string;
  scrapeUrl?: string;
  health?: 'up' | 'down' | 'unknown';
  lastError?: string;
  lastScrape?: string;
}

function toAlert(a: RawAlert): PrometheusAlert {
  return { labels: a.labels ?? {}, annotations: a.annotations ?? {}, state: a.state ?? 'firing', activeAt: a.activeAt, value: a.value ?? '' };
}

function toQueryResult(data: unknown, warnings: readonly string[]): QueryResult {
  const d = data as { resultType?: string; result?: unknown } | undefined;
  switch (d?.resultType) {
    case 'vector':
      return {
        resultType: 'vector',
        result: ((d.result as { metric: Labels; value: unknown }[] | null) ?? []).map((s) => ({ metric: s.metric ?? {}, ...point(s.value) })),
        warnings,
      };
    case 'matrix':
      return {
        resultType: 'matrix',
        result: ((d.result as { metric: Labels; values: unknown[] }[] | null) ?? []).map((s) => ({ metric: s.metric ?? {}, values: (s.values ?? []).map(point) })),
        warnings,
      };
    case 'scalar':
      return { resultType: 'scalar', result: point(d.result), warnings };
    case 'string': {
      const [t, v] = d.result as [number, string];
      return { resultType: 'string', result: { time: t, value: v }, warnings };
    }
    default:
      throw new ClusterError('PROMETHEUS_ANSWER_INVALID', `Prometheus answered a query with resultType ${JSON.stringify(d?.resultType)}`, {
        hint: 'Check that the URL points at the Prometheus (or Thanos query) HTTP API.',
      });
  }
}
