/**
 * SaltAPI client (salt-api `rest_cherrypy`), as MetalK8s exposes it on the bootstrap node.
 *
 * It logs in with `eauth: kubernetes_rbac` (a username and a Kubernetes bearer token), sends
 * `X-Auth-Token` on every call, logs in again when the server answers 401 (the token expired, or
 * salt-api restarted after a Solution import; a fresh token refused too is tried once more after
 * 300 ms, because the restart can land between the new login and the call), and speaks the
 * `local`, `local_async`, `runner`, `runner_async` and `wheel` clients, job polling
 * (`/jobs/<jid>` and `jobs.print_job`), the `/events` stream, and orchestrate runs read down to
 * the first failed step.
 *
 * Written by hand: the npm SaltAPI clients are unmaintained, know nothing of `kubernetes_rbac`
 * and cannot take the cluster CA. Tokens never appear in errors (see {@link redact}).
 *
 * @module
 */
import { AbortError, ClusterError, redact, throwIfAborted } from '../errors.js';
import { type FetchLike, type HttpAnswer, requestWithFetch, requestWithNode } from './_salt-http.js';
import { parseSse } from './_salt-sse.js';
import { MILLISECONDS, numberOption, TIMER_MS } from '../_number-option.js';
import { sleep } from '../_wait.js';
import { describeFailure, firstFailedStep, type SaltStepFailure, stateRuns, type SaltStateRun } from './salt-results.js';
import { isRecord } from '../_record.js';

export type { FetchLike } from './_salt-http.js';

/** How to reach and authenticate to a salt-api. */
export interface SaltApiOptions {
  /** Base URL, e.g. `https://10.0.0.1:4507`. */
  readonly url: string;
  /** User name the token belongs to, e.g. `system:serviceaccount:kube-system:sdk` or `oidc:me@example.com`. */
  readonly username: string;
  /** Bearer token checked by the eauth module (for `kubernetes_rbac`: a Kubernetes token). */
  readonly token: string;
  /**
   * External auth backend.
   * @default 'kubernetes_rbac'
   */
  readonly eauth?: string | undefined;
  /** PEM CA bundle trusted for `https` URLs (MetalK8s signs salt-api with the cluster CA). */
  readonly ca?: string | Buffer | undefined;
  /**
   * Whether to check the server certificate.
   * @default true
   */
  readonly rejectUnauthorized?: boolean | undefined;
  /** A `fetch` to use instead of the built-in `node:https` transport (then `ca` is ignored). */
  readonly fetch?: FetchLike | undefined;
  /**
   * Time allowed for one request (not for a job, see {@link WaitOptions.timeoutMs}): a whole
   * number from 1 to 2147483647.
   * @default 60000
   */
  readonly requestTimeoutMs?: number | undefined;
}

/** The token a login returns (`return[0]` of `POST /login`). */
export interface SaltToken {
  readonly token: string;
  /** Expiry, seconds since the epoch. */
  readonly expire: number;
  readonly start: number;
  readonly user: string;
  readonly eauth: string;
  /** Permissions granted by `external_auth`. */
  readonly perms: readonly unknown[];
}

/** Options every call accepts. */
export interface CallOptions {
  readonly signal?: AbortSignal | undefined;
}

/** A call through the `local` / `local_async` clients (run on minions). */
export interface LocalCall {
  /** Target expression. */
  readonly tgt: string;
  /**
   * How `tgt` is read.
   * @default 'glob'
   */
  readonly tgtType?: 'glob' | 'list' | 'grain' | 'pcre' | 'compound' | undefined;
  /** Execution function, e.g. `test.ping`. */
  readonly fun: string;
  readonly arg?: readonly unknown[] | undefined;
  readonly kwarg?: Readonly<Record<string, unknown>> | undefined;
  /** Salt's own timeout for gathering minion returns, seconds (0 or more). */
  readonly timeout?: number | undefined;
}

/** A call through the `runner` / `runner_async` / `wheel` clients (run on the master). */
export interface MasterCall {
  /** Function, e.g. `state.orchestrate`, `jobs.print_job`, `key.list_all`. */
  readonly fun: string;
  readonly arg?: readonly unknown[] | undefined;
  readonly kwarg?: Readonly<Record<string, unknown>> | undefined;
}

/** What an asynchronous call returns: the job to follow. */
export interface AsyncJob {
  readonly jid: string;
  /** Event tag of the job (`salt/run/<jid>` for runners), when Salt gives one. */
  readonly tag?: string | undefined;
  /** Minions targeted (`local_async` only). */
  readonly minions?: readonly string[] | undefined;
}

/** A `wheel` call's answer. */
export interface WheelResult {
  readonly success: boolean;
  readonly return: unknown;
  readonly jid: string | undefined;
}

/** A job as `jobs.print_job` or `/jobs/<jid>` describes it. */
export interface JobStatus {
  readonly jid: string;
  /** Function the job runs, e.g. `runner.state.orchestrate`. */
  readonly function: string | undefined;
  /** `true` once at least one return arrived. */
  readonly done: boolean;
  /** Returns by target (`<master-id>_master` for runner jobs); empty while running. */
  readonly result: Readonly<Record<string, unknown>>;
}

/** Polling settings for {@link SaltApiClient.waitForJob}. */
export interface WaitOptions extends CallOptions {
  /**
   * Delay between two polls, at most 2147483647.
   * @default 1000
   */
  readonly pollIntervalMs?: number | undefined;
  /**
   * Give up after this long.
   * @default 3600000
   */
  readonly timeoutMs?: number | undefined;
  /**
   * How to poll: `print_job` (the `jobs.print_job` runner, as MetalK8s' UI) or `jobs`
   * (`GET /jobs/<jid>`, as storage-operator).
   * @default 'print_job'
   */
  readonly via?: 'print_job' | 'jobs' | undefined;
  /** Called after every poll. */
  readonly onProgress?: ((event: SaltProgressEvent) => void) | undefined;
}

/** Progress of a job being followed. */
export type SaltProgressEvent =
  | { readonly type: 'job-started'; readonly jid: string; readonly fun: string }
  | { readonly type: 'job-polled'; readonly jid: string; readonly done: boolean; readonly elapsedMs: number };

/** Options of {@link SaltApiClient.orchestrate}. */
export interface OrchestrateOptions extends Omit<WaitOptions, 'via'> {
  /** Salt environment, e.g. `metalk8s-129.0.0`. */
  readonly saltenv?: string | undefined;
  /** Pillar passed to the orchestrate. */
  readonly pillar?: Readonly<Record<string, unknown>> | undefined;
  /**
   * Throw a `SALT_ORCHESTRATE_FAILED` {@link ClusterError} when a step fails.
   * @default true
   */
  readonly throwOnFailure?: boolean | undefined;
}

/** The outcome of an orchestrate run. */
export interface OrchestrateResult {
  readonly jid: string;
  readonly success: boolean;
  /** Steps by target, in execution order. */
  readonly runs: readonly SaltStateRun[];
  /** The root cause when it failed. */
  readonly failure: SaltStepFailure | undefined;
  /** Errors Salt reported instead of steps (SLS not found, render errors). */
  readonly errors: readonly string[];
  /** The raw job return. */
  readonly raw: unknown;
}

/**
 * How long the client waits before it logs in again when a token it has just been given is
 * refused: salt-api restarts after a Solution import (MetalK8s regenerates the salt-master static
 * pod) and forgets its tokens, and the restart can fall between a new login and the call.
 */
const RELOGIN_PAUSE_MS = 300;

/** One event from `/events`. */
export interface SaltEvent {
  readonly tag: string;
  readonly data: Readonly<Record<string, unknown>>;
}

type Lowstate = Record<string, unknown>;


/**
 * A SaltAPI session. Construction does no I/O; the first call logs in.
 *
 * @example
 * ```ts
 * import { SaltApiClient } from 'metalk8s-solution-sdk/cluster';
 *
 * const salt = new SaltApiClient({ url: 'https://10.0.0.1:4507', username, token, ca });
 * const result = await salt.orchestrate('metalk8s.orchestrate.solutions.prepare-environment', {
 *   saltenv: 'metalk8s-129.0.0',
 *   pillar: { orchestrate: { env_name: 'prod' } },
 * });
 * console.log(result.success);
 * ```
 */
export class SaltApiClient {
  readonly #options: SaltApiOptions;
  readonly #base: string;
  #session: SaltToken | undefined;

  constructor(options: SaltApiOptions) {
    // AbortSignal.timeout threw a RangeError on every request for NaN, a negative or a
    // fractional value, aborted each at once for 0, and after 1 ms above the longest timer.
    numberOption('requestTimeoutMs', options.requestTimeoutMs, { ...TIMER_MS, integer: true, min: 1 });
    this.#options = options;
    this.#base = options.url.replace(/\/+$/, '');
  }

  /** The base URL of the salt-api. */
  get url(): string {
    return this.#base;
  }

  /**
   * Logs in (`POST /login`) and keeps the token for the next calls.
   *
   * @example
   * ```ts
   * const { expire, perms } = await salt.login();
   * ```
   */
  async login(options: CallOptions = {}): Promise<SaltToken> {
    const body = {
      eauth: this.#options.eauth ?? 'kubernetes_rbac',
      username: this.#options.username,
      token: this.#options.token,
    };
    const res = await this.#send('POST', '/login', body, undefined, options.signal);
    const text = await res.text();
    if (res.status === 401 || res.status === 403) {
      throw new ClusterError(
        'SALT_AUTH_FAILED',
        `SaltAPI at ${this.#base} refused the login of "${this.#options.username}" (HTTP ${res.status})`,
        {
          status: res.status,
          hint: 'Check that the token is valid for this user (for kubernetes_rbac the TokenReview user name must equal `username` exactly, e.g. "system:serviceaccount:<ns>:<name>").',
        },
      );
    }
    const first = this.#firstReturn(res, text, '/login');
    if (!isRecord(first) || typeof first.token !== 'string') {
      throw this.#badAnswer('/login', 'no token in the answer');
    }
    const session: SaltToken = {
      token: first.token,
      expire: Number(first.expire ?? 0),
      start: Number(first.start ?? 0),
      user: String(first.user ?? this.#options.username),
      eauth: String(first.eauth ?? body.eauth),
      perms: Array.isArray(first.perms) ? first.perms : [],
    };
    this.#session = session;
    return session;
  }

  /**
   * Runs an execution function on minions and waits for their returns (`client: local`).
   * Returns the answer by minion id.
   *
   * @example
   * ```ts
   * const grains = await salt.local({ tgt: 'bootstrap', fun: 'grains.item', arg: ['id'] });
   * ```
   */
  async local(call: LocalCall, options: CallOptions = {}): Promise<Record<string, unknown>> {
    const ret = await this.#run({ client: 'local', ...localLowstate(call) }, options.signal);
    return isRecord(ret) ? ret : {};
  }

  /**
   * Starts an execution function on minions without waiting (`client: local_async`).
   *
   * @example
   * ```ts
   * const { jid } = await salt.localAsync({ tgt: 'node-1', fun: 'state.sls', kwarg: { mods: 'metalk8s.volumes' } });
   * ```
   */
  async localAsync(call: LocalCall, options: CallOptions = {}): Promise<AsyncJob> {
    const ret = await this.#run({ client: 'local_async', ...localLowstate(call) }, options.signal);
    if (!isRecord(ret) || typeof ret.jid !== 'string') {
      throw new ClusterError('SALT_NO_MINIONS', `no minion matched "${call.tgt}" for ${call.fun}`, {
        hint: 'Check the target: the minion must be accepted and connected to the salt-master.',
      });
    }
    return {
      jid: ret.jid,
      minions: Array.isArray(ret.minions) ? ret.minions.map(String) : [],
    };
  }

  /**
   * Runs a runner function on the master and returns its result (`client: runner`).
   *
   * @example
   * ```ts
   * const job = await salt.runner({ fun: 'jobs.print_job', arg: [jid] });
   * ```
   */
  async runner(call: MasterCall, options: CallOptions = {}): Promise<unknown> {
    return this.#run({ client: 'runner', ...masterLowstate(call) }, options.signal);
  }

  /**
   * Starts a runner function without waiting (`client: runner_async`).
   *
   * @example
   * ```ts
   * const { jid } = await salt.runnerAsync({ fun: 'state.orchestrate', arg: ['my.orch'] });
   * ```
   */
  async runnerAsync(call: MasterCall, options: CallOptions = {}): Promise<AsyncJob> {
    const ret = await this.#run({ client: 'runner_async', ...masterLowstate(call) }, options.signal);
    if (!isRecord(ret) || typeof ret.jid !== 'string') throw this.#badAnswer('/', `no jid for ${call.fun}`);
    return { jid: ret.jid, tag: typeof ret.tag === 'string' ? ret.tag : `salt/run/${ret.jid}` };
  }

  /**
   * Runs a wheel function on the master (`client: wheel`), e.g. `key.list_all`. salt-api's
   * wheel client takes keyword arguments as top-level lowstate keys and ignores `arg` and
   * `kwarg` (checked against salt-api 3007), so `kwarg` is sent that way.
   *
   * @example
   * ```ts
   * const keys = await salt.wheel({ fun: 'key.list_all' });
   * await salt.wheel({ fun: 'key.delete', kwarg: { match: 'node-2' } });
   * ```
   */
  async wheel(call: MasterCall, options: CallOptions = {}): Promise<WheelResult> {
    const ret = await this.#run({ ...(call.kwarg ?? {}), client: 'wheel', fun: call.fun, ...(call.arg !== undefined ? { arg: call.arg } : {}) }, options.signal);
    const data = isRecord(ret) && isRecord(ret.data) ? ret.data : undefined;
    if (!data) throw this.#badAnswer('/', `no data for wheel ${call.fun}`);
    return { success: data.success === true, return: data.return, jid: typeof data.jid === 'string' ? data.jid : undefined };
  }

  /**
   * Reads a job through `jobs.print_job` (MetalK8s' UI way). Throws `SALT_JOB_UNKNOWN` when the
   * master has no such job.
   *
   * @example
   * ```ts
   * const status = await salt.printJob(jid);
   * if (status.done) console.log(status.result);
   * ```
   */
  async printJob(jid: string, options: CallOptions = {}): Promise<JobStatus> {
    const ret = await this.runner({ fun: 'jobs.print_job', arg: [jid] }, options);
    const entry = isRecord(ret) ? ret[jid] : undefined;
    if (!isRecord(entry) || 'Error' in entry) throw unknownJob(jid);
    return toJobStatus(jid, entry);
  }

  /**
   * Reads a job through `GET /jobs/<jid>` (storage-operator's way). Throws `SALT_JOB_UNKNOWN`
   * when the master has no such job.
   *
   * @example
   * ```ts
   * const status = await salt.lookupJob(jid);
   * ```
   */
  async lookupJob(jid: string, options: CallOptions = {}): Promise<JobStatus> {
    const answer = await this.#authorized('GET', `/jobs/${encodeURIComponent(jid)}?timeout=1`, undefined, options.signal);
    const info = isRecord(answer) && Array.isArray(answer.info) ? answer.info[0] : undefined;
    if (!isRecord(info) || 'Error' in info) throw unknownJob(jid);
    return toJobStatus(jid, info);
  }

  /**
   * Polls a job until it has returned, then gives its status.
   *
   * @example
   * ```ts
   * const { jid } = await salt.runnerAsync({ fun: 'test.sleep', arg: [1] });
   * const status = await salt.waitForJob(jid, { pollIntervalMs: 200 });
   * ```
   */
  async waitForJob(jid: string, options: WaitOptions = {}): Promise<JobStatus> {
    checkWaitOptions(options);
    const interval = options.pollIntervalMs ?? 1000;
    const timeout = options.timeoutMs ?? 3_600_000;
    const started = Date.now();
    for (;;) {
      throwIfAborted(options.signal, `waiting for Salt job ${jid}`);
      let status: JobStatus | undefined;
      try {
        status =
          options.via === 'jobs'
            ? await this.lookupJob(jid, { signal: options.signal })
            : await this.printJob(jid, { signal: options.signal });
      } catch (err) {
        // A job that just started may not be in the job cache yet.
        if (!(err instanceof ClusterError && err.code === 'SALT_JOB_UNKNOWN') || Date.now() - started > 30_000) throw err;
      }
      const elapsedMs = Date.now() - started;
      options.onProgress?.({ type: 'job-polled', jid, done: status?.done ?? false, elapsedMs });
      if (status?.done) return status;
      if (elapsedMs > timeout) {
        throw new ClusterError('SALT_JOB_TIMEOUT', `Salt job ${jid} did not finish within ${Math.round(timeout / 1000)} s`, {
          retryable: true,
          hint: `The job may still be running: follow it with \`salt-run jobs.print_job ${jid}\` on the salt-master.`,
        });
      }
      await sleep(interval, options.signal, 'waiting for a Salt job');
    }
  }

  /**
   * Runs `state.orchestrate` through `runner_async`, waits for it and reads the result down to
   * the first failed step (nested `salt.state` / `salt.runner` steps included).
   *
   * @example
   * ```ts
   * const result = await salt.orchestrate('metalk8s.orchestrate.solutions.deploy-components', {
   *   saltenv: 'metalk8s-129.0.0',
   *   pillar: { bootstrap_id: 'bootstrap' },
   * });
   * ```
   */
  async orchestrate(mods: string, options: OrchestrateOptions = {}): Promise<OrchestrateResult> {
    // Before the job starts, not when waitForJob gets them.
    checkWaitOptions(options);
    const kwarg: Record<string, unknown> = {};
    if (options.saltenv !== undefined) kwarg.saltenv = options.saltenv;
    if (options.pillar !== undefined) kwarg.pillar = options.pillar;
    const job = await this.runnerAsync({ fun: 'state.orchestrate', arg: [mods], kwarg }, { signal: options.signal });
    options.onProgress?.({ type: 'job-started', jid: job.jid, fun: 'state.orchestrate' });
    const status = await this.waitForJob(job.jid, { ...options, via: 'print_job' });
    const result = orchestrateResult(job.jid, status.result);
    if (!result.success && options.throwOnFailure !== false) {
      const why = result.failure
        ? describeFailure(result.failure)
        : result.errors.length > 0
          ? result.errors.join('; ')
          : 'the orchestrate returned a failure';
      throw new ClusterError('SALT_ORCHESTRATE_FAILED', `orchestrate ${mods} failed: ${why}`, {
        hint: `Fix the cause above, then run the operation again. Full result: \`salt-run jobs.print_job ${job.jid}\` on the salt-master.`,
      });
    }
    return result;
  }

  /**
   * Follows the master's event bus (`GET /events`, Server-Sent Events) until `signal` aborts.
   *
   * @example
   * ```ts
   * for await (const ev of salt.events({ signal })) {
   *   if (ev.tag === `salt/run/${jid}/ret`) break;
   * }
   * ```
   */
  async *events(options: CallOptions = {}): AsyncGenerator<SaltEvent> {
    const res = await this.#withToken((token) => this.#send('GET', `/events?token=${encodeURIComponent(token)}`, undefined, token, options.signal, true), options.signal);
    if (res.status !== 200) throw this.#httpError(res.status, await res.text(), '/events');
    try {
      for await (const raw of parseSse(res.body)) {
        let parsed: unknown;
        try {
          parsed = JSON.parse(raw.data);
        } catch {
          continue;
        }
        if (!isRecord(parsed)) continue;
        const tag = typeof parsed.tag === 'string' ? parsed.tag : (raw.fields.tag ?? '');
        yield { tag, data: isRecord(parsed.data) ? parsed.data : {} };
      }
    } catch (err) {
      if (options.signal?.aborted) return;
      throw new ClusterError('SALT_EVENTS_BROKEN', `the SaltAPI event stream at ${this.#base} broke`, {
        cause: err,
        retryable: true,
        hint: 'Reconnect: salt-api restarts when MetalK8s imports a Solution.',
      });
    }
  }

  // --- internals -------------------------------------------------------------------------

  /**
   * Sends with the kept token (a new one when there is none or it expires within 5 s). A 401 to
   * the kept token means the server forgot it: log in and send again. A 401 to a fresh token
   * gets one more login after `RELOGIN_PAUSE_MS`. A 401 left after that is the server's answer
   * (a call the user's ACL does not allow), for the caller to report.
   */
  async #withToken(send: (token: string) => Promise<HttpAnswer>, signal: AbortSignal | undefined): Promise<HttpAnswer> {
    const s = this.#session;
    const kept = s && !(s.expire > 0 && s.expire * 1000 < Date.now() + 5000) ? s : undefined;
    let res = await send(kept ? kept.token : (await this.login({ signal })).token);
    if (res.status === 401 && kept) {
      await res.text();
      res = await send((await this.login({ signal })).token);
    }
    if (res.status === 401) {
      await res.text();
      await sleep(RELOGIN_PAUSE_MS, signal, 'SaltAPI login');
      res = await send((await this.login({ signal })).token);
    }
    return res;
  }

  async #run(lowstate: Lowstate, signal: AbortSignal | undefined): Promise<unknown> {
    const answer = await this.#authorized('POST', '/', [lowstate], signal);
    if (!isRecord(answer) || !Array.isArray(answer.return)) throw this.#badAnswer('/', 'no "return" list');
    return answer.return[0];
  }

  async #authorized(method: string, path: string, body: unknown, signal: AbortSignal | undefined): Promise<unknown> {
    const res = await this.#withToken((token) => this.#send(method, path, body, token, signal), signal);
    const text = await res.text();
    if (res.status < 200 || res.status >= 300) throw this.#httpError(res.status, text, path);
    try {
      return JSON.parse(text);
    } catch {
      throw this.#badAnswer(path, 'the answer is not JSON');
    }
  }

  async #send(
    method: string,
    path: string,
    body: unknown,
    token: string | undefined,
    signal: AbortSignal | undefined,
    stream = false,
  ): Promise<HttpAnswer> {
    throwIfAborted(signal, `SaltAPI ${method} ${path.split('?')[0]}`);
    const headers: Record<string, string> = { accept: stream ? 'text/event-stream' : 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (token !== undefined) headers['x-auth-token'] = token;
    const timeoutMs = this.#options.requestTimeoutMs ?? 60_000;
    const timeoutSignal = stream ? undefined : AbortSignal.timeout(timeoutMs);
    const signals = [signal, timeoutSignal].filter((s): s is AbortSignal => s !== undefined);
    const combined = signals.length > 1 ? AbortSignal.any(signals) : signals[0];
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const url = `${this.#base}${path}`;
    try {
      return this.#options.fetch
        ? await requestWithFetch(this.#options.fetch, url, method, headers, payload, combined)
        : await requestWithNode(url, method, headers, payload, combined, {
            ca: this.#options.ca,
            rejectUnauthorized: this.#options.rejectUnauthorized,
          });
    } catch (err) {
      if (signal?.aborted) throw new AbortError(`SaltAPI ${method} ${path.split('?')[0]}`, { cause: signal.reason });
      const timedOut = timeoutSignal?.aborted === true;
      const message = err instanceof Error ? err.message : String(err);
      throw new ClusterError(
        timedOut ? 'SALT_TIMEOUT' : 'SALT_UNREACHABLE',
        timedOut
          ? `SaltAPI at ${this.#base} did not answer ${method} ${path.split('?')[0]} within ${timeoutMs} ms`
          : `cannot reach SaltAPI at ${this.#base}: ${redact(message)}`,
        {
          retryable: true,
          hint: 'Check the URL and that salt-api runs (MetalK8s: port 4507 on the bootstrap node); for TLS errors pass the cluster CA as `ca`.',
        },
      );
    }
  }

  #firstReturn(res: HttpAnswer, text: string, path: string): unknown {
    if (res.status < 200 || res.status >= 300) throw this.#httpError(res.status, text, path);
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw this.#badAnswer(path, 'the answer is not JSON');
    }
    if (!isRecord(parsed) || !Array.isArray(parsed.return)) throw this.#badAnswer(path, 'no "return" list');
    return parsed.return[0];
  }

  #httpError(status: number, text: string, path: string): ClusterError {
    const detail = redact(text.replace(/<[^>]+>/g, ' ').replace(/\s+/g, ' ').trim()).slice(0, 300);
    const where = path.split('?')[0];
    if (status === 401 || status === 403) {
      return new ClusterError('SALT_FORBIDDEN', `SaltAPI refused ${where} for "${this.#options.username}" (HTTP ${status})`, {
        status,
        hint: 'The user lacks the permission in external_auth (MetalK8s: node-admins get everything; ServiceAccounts only what is listed).',
      });
    }
    return new ClusterError('SALT_HTTP_ERROR', `SaltAPI ${where} answered HTTP ${status}${detail ? `: ${detail}` : ''}`, {
      status,
      retryable: status >= 500,
      hint: status >= 500 ? 'Look at the salt-api and salt-master logs on the bootstrap node.' : 'Check the call arguments.',
    });
  }

  #badAnswer(path: string, why: string): ClusterError {
    return new ClusterError('SALT_BAD_ANSWER', `unexpected SaltAPI answer from ${path.split('?')[0]}: ${why}`, {
      hint: 'Check that the URL points at salt-api (rest_cherrypy), not at another service.',
    });
  }
}

/** The polling numbers of {@link WaitOptions}: a NaN timeout polled forever, a NaN interval without pause. */
function checkWaitOptions(options: Pick<WaitOptions, 'pollIntervalMs' | 'timeoutMs'>): void {
  numberOption('pollIntervalMs', options.pollIntervalMs, TIMER_MS);
  numberOption('timeoutMs', options.timeoutMs, MILLISECONDS);
}

function localLowstate(call: LocalCall): Lowstate {
  numberOption('timeout', call.timeout, { min: 0, unit: 'seconds' });
  const low: Lowstate = { tgt: call.tgt, fun: call.fun };
  if (call.tgtType !== undefined) low.tgt_type = call.tgtType;
  if (call.arg !== undefined) low.arg = call.arg;
  if (call.kwarg !== undefined) low.kwarg = call.kwarg;
  if (call.timeout !== undefined) low.timeout = call.timeout;
  return low;
}

function masterLowstate(call: MasterCall): Lowstate {
  const low: Lowstate = { fun: call.fun };
  if (call.arg !== undefined) low.arg = call.arg;
  if (call.kwarg !== undefined) low.kwarg = call.kwarg;
  return low;
}

function unknownJob(jid: string): ClusterError {
  return new ClusterError('SALT_JOB_UNKNOWN', `the salt-master knows no job ${jid}`, {
    hint: 'The job cache may have been cleared (salt-master restarted or keep_jobs expired); run the operation again.',
  });
}

function toJobStatus(jid: string, entry: Record<string, unknown>): JobStatus {
  const result = isRecord(entry.Result) ? entry.Result : {};
  return {
    jid,
    function: typeof entry.Function === 'string' ? entry.Function : undefined,
    done: Object.keys(result).length > 0,
    result,
  };
}

/** Error strings a runner put where its state results would be (`data: {<master>: [..]}`). */
function renderErrors(raw: unknown): string[] {
  const out: string[] = [];
  const visit = (v: unknown, depth: number): void => {
    if (depth > 8 || !isRecord(v)) return;
    if (isRecord(v.data)) {
      for (const val of Object.values(v.data)) {
        if (Array.isArray(val)) for (const e of val) if (typeof e === 'string') out.push(e);
      }
    }
    for (const val of Object.values(v)) visit(val, depth + 1);
  };
  visit(raw, 0);
  return out;
}

/**
 * Reads a finished orchestrate job (`jobs.print_job` `Result`) into an {@link OrchestrateResult}.
 *
 * @example
 * ```ts
 * const status = await salt.printJob(jid);
 * const { success, failure } = orchestrateResult(jid, status.result);
 * ```
 */
export function orchestrateResult(jid: string, raw: unknown): OrchestrateResult {
  const runs = stateRuns(raw);
  const failure = firstFailedStep(raw);
  let success = failure === undefined && runs.length > 0;
  // Salt's own verdicts (`success`, a non-zero `retcode`) count too: a render error has no
  // steps, and an orchestrate with no step at all is a success only if Salt says so.
  const verdicts: unknown[] = [];
  const collect = (v: unknown, depth: number): void => {
    if (depth > 4 || !isRecord(v)) return;
    if ('success' in v) verdicts.push(v.success);
    if ('retcode' in v && typeof v.retcode === 'number' && v.retcode !== 0) verdicts.push(false);
    for (const k of ['return', 'Result']) if (k in v) collect(v[k], depth + 1);
    for (const val of Object.values(v)) if (depth === 0) collect(val, depth + 1);
  };
  collect(raw, 0);
  if (verdicts.includes(false)) success = false;
  else if (verdicts.includes(true) && failure === undefined) success = true;
  return { jid, success, runs, failure, errors: renderErrors(raw), raw };
}
