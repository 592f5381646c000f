/**
 * `cluster.alerts`: Alertmanager's API v2 (the `/api/alertmanager` path of MetalK8s'
 * control-plane ingress, platform-reference.md §C.3): alerts with their silenced and inhibited
 * state, alert groups, silences, and `maintenance()`, which silences an environment for the
 * time of a job and expires its silences afterwards, also when the job fails or is aborted.
 *
 * Written by hand from Alertmanager's OpenAPI document (`api/v2/openapi.yaml`): no maintained
 * npm client exists, and the API is seven small operations.
 *
 * @module
 */
import type { KubeConfig } from '@kubernetes/client-node';
import { AbortError, ClusterError } from '../errors.js';
import { kubeGet } from '../_kube.js';
import { ENV_CONFIGMAP } from './_lifecycle.js';
import { environmentNamespaces, ownedAlertRules } from './_platform.js';
import type { ServiceClient, ServiceEndpoint, ServiceResponse } from './_service-http.js';

/** `labelSet` of the OpenAPI document. */
export type LabelSet = Readonly<Record<string, string>>;

/** A label matcher (`matcher`): `isEqual: false` negates it. */
export interface AlertMatcher {
  readonly name: string;
  readonly value: string;
  readonly isRegex: boolean;
  /** @default true */
  readonly isEqual?: boolean | undefined;
}

/**
 * A matcher, as an object or as text: `name=value`, `name!=value`, `name=~regex`,
 * `name!~regex` (the value may be double-quoted).
 */
export type MatcherInput = AlertMatcher | string;

/** `alertStatus`. */
export interface AlertStatus {
  readonly state: 'unprocessed' | 'active' | 'suppressed';
  readonly silencedBy: readonly string[];
  readonly inhibitedBy: readonly string[];
}

/** `gettableAlert`. */
export interface Alert {
  readonly labels: LabelSet;
  readonly annotations: LabelSet;
  readonly receivers: readonly { readonly name: string }[];
  readonly fingerprint: string;
  readonly startsAt: string;
  readonly updatedAt: string;
  readonly endsAt: string;
  readonly generatorURL?: string | undefined;
  readonly status: AlertStatus;
}

/** `alertGroup`. */
export interface AlertGroup {
  readonly labels: LabelSet;
  readonly receiver: { readonly name: string };
  readonly alerts: readonly Alert[];
}

/** `gettableSilence`. */
export interface Silence {
  readonly id: string;
  readonly status: { readonly state: 'expired' | 'active' | 'pending' };
  readonly updatedAt: string;
  readonly matchers: readonly AlertMatcher[];
  readonly startsAt: string;
  readonly endsAt: string;
  readonly createdBy: string;
  readonly comment: string;
}

/** `postableAlert`. */
export interface PostableAlert {
  readonly labels: LabelSet;
  readonly annotations?: LabelSet | undefined;
  readonly startsAt?: string | undefined;
  readonly endsAt?: string | undefined;
  readonly generatorURL?: string | undefined;
}

/** `alertmanagerStatus` (the parts a client uses). */
export interface AlertmanagerStatus {
  readonly cluster: { readonly status: 'ready' | 'settling' | 'disabled'; readonly name?: string | undefined; readonly peers?: readonly { readonly name: string; readonly address: string }[] | undefined };
  readonly versionInfo: { readonly version: string; readonly revision: string; readonly branch: string; readonly buildUser: string; readonly buildDate: string; readonly goVersion: string };
  readonly config: { readonly original: string };
  readonly uptime: string;
}

/** Options every alerts call takes. */
export interface AlertsCallOptions {
  readonly signal?: AbortSignal | undefined;
}

/** Filters of {@link AlertsApi.list} and {@link AlertsApi.groups} (Alertmanager's defaults: all `true`). */
export interface ListAlertsOptions extends AlertsCallOptions {
  /** @default true */
  readonly active?: boolean | undefined;
  /** @default true */
  readonly silenced?: boolean | undefined;
  /** @default true */
  readonly inhibited?: boolean | undefined;
  /** @default true */
  readonly unprocessed?: boolean | undefined;
  /** Matchers an alert must all satisfy. @default none */
  readonly filter?: readonly MatcherInput[] | undefined;
  /** Regex on receiver names. @default none */
  readonly receiver?: string | undefined;
}

/** Options of {@link AlertsApi.groups}: those of `list`, but `unprocessed`. */
export type AlertGroupsOptions = Omit<ListAlertsOptions, 'unprocessed'>;

/** A duration: milliseconds, or text such as `90s`, `2h`, `1h30m`. */
export type DurationInput = number | string;

/** Options of {@link AlertsApi.silence}. */
export interface SilenceOptions extends AlertsCallOptions {
  /** At least one matcher. */
  readonly matchers: readonly MatcherInput[];
  /** How long from `startsAt`; give this or `endsAt`. */
  readonly duration?: DurationInput | undefined;
  readonly endsAt?: Date | undefined;
  /** @default now */
  readonly startsAt?: Date | undefined;
  readonly comment: string;
  /** @default 'metalk8s-solution-sdk' */
  readonly createdBy?: string | undefined;
  /** Update this silence instead of creating one. @default none */
  readonly id?: string | undefined;
}

/** Options of {@link AlertsApi.silences}. */
export interface ListSilencesOptions extends AlertsCallOptions {
  /** Matchers a silence must carry. @default none */
  readonly filter?: readonly MatcherInput[] | undefined;
  /** Only silences in these states. @default all */
  readonly state?: readonly ('active' | 'pending' | 'expired')[] | undefined;
}

/** Options of {@link AlertsApi.maintenance}. */
export interface MaintenanceOptions extends AlertsCallOptions {
  /** Why; goes into each silence's comment. @default 'maintenance' */
  readonly comment?: string | undefined;
  /** @default 'metalk8s-solution-sdk' */
  readonly createdBy?: string | undefined;
  /**
   * Also silence the alerts of the environment's Solutions that carry no `namespace` label
   * (rules such as `sum(up{job="x"}) == 0` lose it; they cannot say which environment they are
   * about, so this silences them for every environment of those Solutions).
   * @default true
   */
  readonly solutionWide?: boolean | undefined;
}

/** The silences {@link AlertsApi.maintenance} made, handed to the job and returned without one. */
export interface MaintenanceWindow {
  readonly environment: string;
  readonly silenceIds: readonly string[];
  readonly matchers: readonly (readonly AlertMatcher[])[];
  readonly endsAt: string;
  /** Expires the silences now (idempotent). */
  end(options?: AlertsCallOptions): Promise<void>;
}

const DEFAULT_CREATOR = 'metalk8s-solution-sdk';
const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** Parses `90s`, `2h`, `1h30m` (Prometheus duration units) or milliseconds. */
export function parseDuration(input: DurationInput): number {
  if (typeof input === 'number') {
    if (Number.isFinite(input) && input > 0) return input;
  } else {
    const parts = [...input.trim().matchAll(/(\d+)(ms|s|m|h|d|w)/g)];
    if (parts.length > 0 && parts.map((p) => p[0]).join('') === input.trim()) {
      return parts.reduce((sum, p) => sum + Number(p[1]) * (UNITS[p[2] ?? 's'] ?? 0), 0);
    }
  }
  throw new ClusterError('DURATION_INVALID', `duration ${JSON.stringify(input)} is not valid`, { hint: 'Use milliseconds or a duration such as 30m, 2h or 1h30m.' });
}

/** Parses a text matcher; objects are returned as they are. */
export function parseMatcher(input: MatcherInput): AlertMatcher {
  if (typeof input !== 'string') return input;
  const m = /^\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*(.*?)\s*$/.exec(input);
  if (!m) {
    throw new ClusterError('MATCHER_INVALID', `matcher ${JSON.stringify(input)} is not name=value, name!=value, name=~regex or name!~regex`, {
      hint: 'Write matchers such as alertname=ZenkoS3Down or severity=~"critical|warning".',
    });
  }
  const [, name = '', op = '=', raw = ''] = m;
  let value = raw;
  if (raw.startsWith('"') && raw.endsWith('"') && raw.length >= 2) {
    try {
      value = JSON.parse(raw) as string;
    } catch {
      value = raw.slice(1, -1);
    }
  }
  return { name, value, isRegex: op === '=~' || op === '!~', isEqual: op === '=' || op === '=~' };
}

/** A matcher as Alertmanager's `filter` parameter reads it: `name="value"`, `name!~"re"`. */
export function formatMatcher(m: MatcherInput): string {
  const p = parseMatcher(m);
  const op = p.isRegex ? (p.isEqual === false ? '!~' : '=~') : p.isEqual === false ? '!=' : '=';
  return `${p.name}${op}${JSON.stringify(p.value)}`;
}

function regexEscape(v: string): string {
  return v.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Alertmanager of a cluster. Get it from `connect()` as `cluster.alerts`. */
export class AlertsApi {
  readonly #client: ServiceClient;
  readonly #kc: KubeConfig;

  /** @internal */
  constructor(client: ServiceClient, kc: KubeConfig) {
    this.#client = client;
    this.#kc = kc;
  }

  async #call(method: string, path: string, query: [string, string | boolean | undefined][], body: unknown, signal: AbortSignal | undefined, what: string): Promise<ServiceResponse> {
    const res = await this.#client.request({ method, path: `/api/v2${path}`, query, body, signal });
    if (res.status < 300) return res;
    const kube = res.json as { kind?: string; message?: string } | undefined;
    const message = (typeof res.json === 'string' ? res.json : kube?.kind === 'Status' && kube.message ? kube.message : res.text).trim().slice(0, 300);
    if (res.status === 404 && path.startsWith('/silence')) {
      throw new ClusterError('SILENCE_NOT_FOUND', `${what}: Alertmanager has no such silence: ${message}`, { hint: 'List silences with `solution alerts silences`.', status: 404 });
    }
    throw new ClusterError(res.status === 400 || res.status === 422 ? 'ALERTMANAGER_BAD_REQUEST' : 'ALERTMANAGER_REQUEST_FAILED', `${what}: Alertmanager answered HTTP ${res.status}: ${message}`, {
      hint: res.status < 500 ? 'Fix the request as Alertmanager says.' : 'Alertmanager failed; retry later.',
      status: res.status,
      retryable: res.status >= 500 || res.status === 429,
    });
  }

  /** Where the requests go. */
  endpoint(options: AlertsCallOptions = {}): Promise<ServiceEndpoint> {
    return this.#client.endpoint(options.signal);
  }

  /**
   * Alerts, with their state (`active`, `suppressed` by a silence or an inhibition).
   *
   * @throws `ClusterError` `SERVICE_UNREACHABLE` / `SERVICE_UNAVAILABLE` (retryable) when
   *   Alertmanager is down.
   * @example
   * ```ts
   * const firing = await cluster.alerts.list({ silenced: false, inhibited: false, filter: ['alertname=ZenkoS3Down'] });
   * ```
   */
  async list(options: ListAlertsOptions = {}): Promise<readonly Alert[]> {
    const res = await this.#call('GET', '/alerts', filterQuery(options), undefined, options.signal, 'list alerts');
    return (res.json as Alert[] | undefined) ?? [];
  }

  /**
   * Alerts grouped as Alertmanager routes them (MetalK8s groups by `namespace`).
   *
   * @example
   * ```ts
   * for (const g of await cluster.alerts.groups()) console.log(g.labels, g.alerts.length);
   * ```
   */
  async groups(options: AlertGroupsOptions = {}): Promise<readonly AlertGroup[]> {
    const res = await this.#call('GET', '/alerts/groups', filterQuery(options), undefined, options.signal, 'list alert groups');
    return (res.json as AlertGroup[] | undefined) ?? [];
  }

  /**
   * Sends alerts to Alertmanager, as Prometheus does (MetalK8s' UI does this for a test alert).
   *
   * @example
   * ```ts
   * await cluster.alerts.post([{ labels: { alertname: 'dummy_alert', severity: 'critical' } }]);
   * ```
   */
  async post(alerts: readonly PostableAlert[], options: AlertsCallOptions = {}): Promise<void> {
    // 200 with an empty body (platform-reference.md §C.3): nothing to read back.
    await this.#call('POST', '/alerts', [], alerts, options.signal, 'post alerts');
  }

  /**
   * Creates (or, with `id`, updates) a silence; returns its id.
   *
   * @throws `ClusterError` `MATCHER_INVALID`, `DURATION_INVALID`, `ALERTMANAGER_BAD_REQUEST`.
   * @example
   * ```ts
   * const id = await cluster.alerts.silence({ matchers: ['alertname=ZenkoS3Down'], duration: '2h', comment: 'S3 upgrade' });
   * ```
   */
  async silence(options: SilenceOptions): Promise<string> {
    const matchers = options.matchers.map(parseMatcher);
    if (matchers.length === 0) {
      throw new ClusterError('SILENCE_NO_MATCHER', 'a silence needs at least one matcher', { hint: 'Pass matchers such as alertname=ZenkoS3Down.' });
    }
    const startsAt = options.startsAt ?? new Date();
    const endsAt = options.endsAt ?? (options.duration !== undefined ? new Date(startsAt.getTime() + parseDuration(options.duration)) : undefined);
    if (!endsAt) throw new ClusterError('SILENCE_NO_END', 'a silence needs a duration or an end time', { hint: 'Pass duration (e.g. "2h") or endsAt.' });
    if (endsAt.getTime() <= startsAt.getTime()) {
      throw new ClusterError('SILENCE_END_BEFORE_START', `the silence ends (${endsAt.toISOString()}) before it starts (${startsAt.toISOString()})`, { hint: 'Give a positive duration.' });
    }
    const body = {
      ...(options.id ? { id: options.id } : {}),
      matchers: matchers.map((m) => ({ name: m.name, value: m.value, isRegex: m.isRegex, isEqual: m.isEqual ?? true })),
      startsAt: startsAt.toISOString(),
      endsAt: endsAt.toISOString(),
      createdBy: options.createdBy ?? DEFAULT_CREATOR,
      comment: options.comment,
    };
    const res = await this.#call('POST', '/silences', [], body, options.signal, 'create a silence');
    const id = (res.json as { silenceID?: string } | undefined)?.silenceID;
    if (!id) throw new ClusterError('ALERTMANAGER_ANSWER_INVALID', `Alertmanager created a silence but sent no silenceID: ${res.text.slice(0, 200)}`);
    return id;
  }

  /**
   * Expires a silence (Alertmanager's `DELETE /silence/{id}`); an already expired one is left.
   *
   * @throws `ClusterError` `SILENCE_NOT_FOUND`.
   * @example
   * ```ts
   * await cluster.alerts.expire(id);
   * ```
   */
  async expire(id: string, options: AlertsCallOptions = {}): Promise<void> {
    const current = await this.getSilence(id, options);
    if (current.status.state === 'expired') return;
    await this.#call('DELETE', `/silence/${encodeURIComponent(id)}`, [], undefined, options.signal, `expire silence ${id}`);
  }

  /** One silence. @throws `ClusterError` `SILENCE_NOT_FOUND`. */
  async getSilence(id: string, options: AlertsCallOptions = {}): Promise<Silence> {
    const res = await this.#call('GET', `/silence/${encodeURIComponent(id)}`, [], undefined, options.signal, `get silence ${id}`);
    return res.json as Silence;
  }

  /**
   * Silences, newest first.
   *
   * @example
   * ```ts
   * const active = await cluster.alerts.silences({ state: ['active'] });
   * ```
   */
  async silences(options: ListSilencesOptions = {}): Promise<readonly Silence[]> {
    const res = await this.#call('GET', '/silences', (options.filter ?? []).map((m): [string, string] => ['filter', formatMatcher(m)]), undefined, options.signal, 'list silences');
    const all = (res.json as Silence[] | undefined) ?? [];
    const states = options.state;
    return all.filter((s) => !states || states.includes(s.status.state)).sort((a, b) => (a.updatedAt < b.updatedAt ? 1 : a.updatedAt > b.updatedAt ? -1 : 0));
  }

  /** Alertmanager's version, cluster state and configuration. */
  async status(options: AlertsCallOptions = {}): Promise<AlertmanagerStatus> {
    return (await this.#call('GET', '/status', [], undefined, options.signal, 'read the status')).json as AlertmanagerStatus;
  }

  /** Receiver names. */
  async receivers(options: AlertsCallOptions = {}): Promise<readonly string[]> {
    return (((await this.#call('GET', '/receivers', [], undefined, options.signal, 'list receivers')).json as { name: string }[] | undefined) ?? []).map((r) => r.name);
  }

  /**
   * Silences an environment's alerts for `duration`: every alert about its namespaces, and
   * (`solutionWide`) the alerts of its Solutions' rules that carry no namespace. With `fn`, runs
   * it and expires the silences when it ends, fails, or `signal` aborts; returns what `fn`
   * returns. Without `fn`, returns the {@link MaintenanceWindow} (its silences end by themselves
   * after `duration`).
   *
   * @throws `ClusterError` `ENVIRONMENT_NOT_FOUND`; `AbortError` when aborted (silences expired);
   *   `MAINTENANCE_SILENCES_LEFT` when the silences could not be expired afterwards.
   * @example
   * ```ts
   * await cluster.alerts.maintenance('zenko-prod', '30m', async ({ signal }) => {
   *   await cluster.environments.upgradeSolution('zenko-prod', { name: 'zenko', version: '2.7.0', signal });
   * });
   * ```
   */
  async maintenance(environment: string, duration: DurationInput, options?: MaintenanceOptions): Promise<MaintenanceWindow>;
  async maintenance<T>(
    environment: string,
    duration: DurationInput,
    fn: (window: MaintenanceWindow & { readonly signal: AbortSignal | undefined }) => Promise<T> | T,
    options?: MaintenanceOptions,
  ): Promise<T>;
  async maintenance<T>(
    environment: string,
    duration: DurationInput,
    fnOrOptions?: ((window: MaintenanceWindow & { readonly signal: AbortSignal | undefined }) => Promise<T> | T) | MaintenanceOptions,
    maybeOptions: MaintenanceOptions = {},
  ): Promise<T | MaintenanceWindow> {
    const fn = typeof fnOrOptions === 'function' ? fnOrOptions : undefined;
    const options = (typeof fnOrOptions === 'object' ? fnOrOptions : maybeOptions) ?? {};
    const { signal } = options;
    const ms = parseDuration(duration);
    const namespaces = await environmentNamespaces(this.#kc, environment, signal);
    const matcherSets: AlertMatcher[][] = [
      [namespaces.length === 1 ? { name: 'namespace', value: namespaces[0] ?? '', isRegex: false } : { name: 'namespace', value: namespaces.map(regexEscape).join('|'), isRegex: true }],
    ];
    if (options.solutionWide !== false) {
      const solutions = new Set<string>();
      for (const ns of namespaces) {
        const cm = await kubeGet<{ data?: Record<string, string> | null }>(this.#kc, `/api/v1/namespaces/${ns}/configmaps/${ENV_CONFIGMAP}`, signal);
        for (const s of Object.keys(cm?.data ?? {})) solutions.add(s);
      }
      const names = new Set<string>();
      for (const s of [...solutions].sort()) for (const r of await ownedAlertRules(this.#kc, s, signal)) names.add(r.alert);
      if (names.size > 0) {
        matcherSets.push([
          { name: 'alertname', value: [...names].sort().map(regexEscape).join('|'), isRegex: true },
          { name: 'namespace', value: '', isRegex: false },
        ]);
      }
    }
    const startsAt = new Date();
    const endsAt = new Date(startsAt.getTime() + ms);
    const comment = `${options.comment ?? 'maintenance'} (environment ${environment})`;
    const ids: string[] = [];
    const expireAll = async (opts: AlertsCallOptions = {}): Promise<void> => {
      const failed: string[] = [];
      let cause: unknown;
      for (const id of ids) {
        await this.expire(id, opts).catch((err: unknown) => {
          failed.push(id);
          cause = err;
        });
      }
      if (failed.length > 0) {
        throw new ClusterError('MAINTENANCE_SILENCES_LEFT', `could not expire the maintenance silences ${failed.join(', ')} of environment ${environment}; they end by themselves at ${endsAt.toISOString()}`, {
          hint: `Expire them with \`solution alerts expire ${failed.join(' ')}\` once Alertmanager answers.`,
          cause,
          retryable: true,
        });
      }
    };
    try {
      for (const matchers of matcherSets) {
        if (signal?.aborted) throw new AbortError(`maintenance of ${environment}`, { cause: signal.reason });
        ids.push(await this.silence({ matchers, startsAt, endsAt, comment, createdBy: options.createdBy, signal }));
      }
    } catch (err) {
      await expireAll().catch(() => {});
      throw err;
    }
    let ended = false;
    const window: MaintenanceWindow = {
      environment,
      silenceIds: ids,
      matchers: matcherSets,
      endsAt: endsAt.toISOString(),
      end: async (opts = {}) => {
        if (ended) return;
        await expireAll(opts);
        ended = true;
      },
    };
    if (!fn) return window;
    let outcome: { ok: true; value: T } | { ok: false; error: unknown };
    try {
      const value = await new Promise<T>((resolve, reject) => {
        const onAbort = (): void => reject(new AbortError(`maintenance of ${environment}`, { cause: signal?.reason }));
        if (signal?.aborted) {
          onAbort();
          return;
        }
        signal?.addEventListener('abort', onAbort, { once: true });
        Promise.resolve()
          .then(() => fn({ ...window, signal }))
          .then(resolve, reject)
          .finally(() => signal?.removeEventListener('abort', onAbort));
      });
      outcome = { ok: true, value };
    } catch (error) {
      outcome = { ok: false, error };
    }
    // Expire without the caller's signal: it may be the one that aborted.
    try {
      await window.end();
    } catch (cleanup) {
      if (!outcome.ok && cleanup instanceof ClusterError) {
        throw new ClusterError(cleanup.code, cleanup.message, { hint: cleanup.hint, cause: outcome.error, retryable: true });
      }
      throw cleanup;
    }
    if (!outcome.ok) throw outcome.error;
    return outcome.value;
  }
}

function filterQuery(o: ListAlertsOptions): [string, string | boolean | undefined][] {
  return [
    ['active', o.active],
    ['silenced', o.silenced],
    ['inhibited', o.inhibited],
    ['unprocessed', o.unprocessed],
    ['receiver', o.receiver],
    ...(o.filter ?? []).map((m): [string, string] => ['filter', formatMatcher(m)]),
  ];
}
