/**
 * The SaltAPI of the MetalK8s emulator: speaks salt-api's rest_cherrypy protocol (`/login`,
 * `/`, `/jobs/<jid>`, `/events`) as MetalK8s' bootstrap node serves it, with the
 * `kubernetes_rbac` external auth checked by a real TokenReview against the cluster.
 *
 * Its answers are kept identical to the real salt-api's by one conformance suite run against
 * both (test/integration/salt/_conformance.ts). Written by hand: nothing on npm plays a Salt
 * master.
 *
 * @module
 */
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { AuthenticationV1Api, AuthorizationV1Api, KubeConfig } from '@kubernetes/client-node';
import { runSls, type StateResult } from './_sls.js';
import { isRecord } from '../_record.js';
import { sleep } from '../_wait.js';

/** What a step of an emulated orchestrate reports. */
export interface StepOutcome {
  readonly result: boolean;
  readonly comment: string;
  readonly changes?: Readonly<Record<string, unknown>> | undefined;
}

/** Options of {@link OrchestrateContext.step}. */
export interface StepOptions {
  /** IDs of earlier steps this one requires: if one failed, this one fails as Salt's requisites do. */
  readonly require?: readonly string[] | undefined;
  /**
   * The state's `name` argument.
   * @default the step id
   */
  readonly name?: string | undefined;
}

/** What an emulated orchestrate gets: its call and a way to record Salt-shaped steps. */
export interface OrchestrateContext {
  /** The SLS name, e.g. `metalk8s.orchestrate.solutions.prepare-environment`. */
  readonly mods: string;
  readonly saltenv: string;
  readonly pillar: Readonly<Record<string, unknown>>;
  /** Admin access to the cluster. */
  readonly kubeConfig: KubeConfig;
  /** Ids of the accepted minions. */
  readonly minions: readonly string[];
  /** Accepts a minion's key, as deploying a node does; it then answers minion calls. */
  acceptMinion(id: string): void;
  /**
   * Starts a minion job for a step (as `salt.state` / `salt.function` steps publish one): fires
   * its `salt/job/<jid>/new` event; the function returned fires `salt/job/<jid>/ret/<minion>`.
   */
  minionJob(job: { readonly fun: string; readonly arg: readonly unknown[]; readonly tgt: string; readonly minions: readonly string[] }): (success: boolean) => void;
  /**
   * Runs one step and records it as Salt would (`<module>_|-<id>_|-<name>_|-<function>`, with
   * `__run_num__`). A thrown error becomes a failed step with the error's message. Returns
   * whether the step succeeded.
   */
  step(id: string, fun: string, run: () => Promise<StepOutcome>, options?: StepOptions): Promise<boolean>;
}

/** A minion execution function played by the emulator: its return value, or a thrown error. */
export type EmulatedMinionFunction = (call: {
  readonly minion: string;
  readonly arg: readonly unknown[];
  readonly kwarg: Readonly<Record<string, unknown>>;
}) => Promise<unknown>;

/**
 * What an {@link EmulatedMinionFunction} returns when the job's `retcode` is not 0 without an
 * error, as `state.sls` answers 2 when a state failed.
 */
export class MinionReturn {
  constructor(
    readonly value: unknown,
    readonly retcode: number,
  ) {}
}
/** A wheel function played by the emulator: its return, given the live list of accepted minion ids. */
export type EmulatedWheelFunction = (call: {
  readonly arg: readonly unknown[];
  readonly kwarg: Readonly<Record<string, unknown>>;
  /** Accepted minion ids, first the bootstrap; changes are kept. */
  readonly minions: string[];
}) => unknown;

/** An orchestrate played by the emulator instead of read from an SLS file. */
export type OrchestrateHandler = (context: OrchestrateContext) => Promise<void>;

/** Options of {@link startSaltApiEmulator}. */
export interface StartSaltApiEmulatorOptions {
  /** Admin access to the cluster, used for TokenReviews and SubjectAccessReviews. */
  readonly kubeConfig: KubeConfig;
  /**
   * Minion id of the bootstrap node; the master's id is `<id>_master`.
   * @default 'bootstrap'
   */
  readonly bootstrapId?: string | undefined;
  /**
   * Directories searched for `state.orchestrate` SLS files (made of `test.*` states).
   * @default []
   */
  readonly fileRoots?: readonly string[] | undefined;
  /**
   * Orchestrates played in code, by SLS name; they take precedence over `fileRoots`. This is
   * where MetalK8s' own orchestrates are emulated.
   * @default {}
   */
  readonly orchestrates?: Readonly<Record<string, OrchestrateHandler>> | undefined;
  /**
   * Minion execution functions played in code, by name (e.g. `metalk8s_solutions.configure_archive`).
   * A thrown error is answered as Salt's `ERROR: <message>` with retcode 1.
   * @default {}
   */
  readonly minionFunctions?: Readonly<Record<string, EmulatedMinionFunction>> | undefined;
  /**
   * Ids of other accepted minions (emulated nodes), besides the bootstrap node.
   * @default []
   */
  readonly minions?: readonly string[] | undefined;
  /**
   * Wheel functions played in code, by name (e.g. `key.delete`); they take precedence over the
   * built-in `key.list_all` and `key.list`.
   * @default {}
   */
  readonly wheelFunctions?: Readonly<Record<string, EmulatedWheelFunction>> | undefined;
  /**
   * Port on 127.0.0.1.
   * @default a free port
   */
  readonly port?: number | undefined;
  /**
   * Serve HTTPS with this certificate and key (PEM), as MetalK8s does with a certificate
   * signed by the cluster CA.
   * @default undefined (plain HTTP)
   */
  readonly tls?: { readonly cert: string; readonly key: string } | undefined;
  /**
   * Lifetime of a SaltAPI token, seconds (Salt's `token_expire`).
   * @default 43200
   */
  readonly tokenExpireSeconds?: number | undefined;
}

/** A running SaltAPI emulator. */
export interface SaltApiEmulator {
  /** `http://127.0.0.1:<port>`, or `https://` with `tls`. */
  readonly url: string;
  /** Id of the master, the key of runner results (`<bootstrap id>_master`). */
  readonly masterId: string;
  /** Ids of the accepted minions, now (the bootstrap first). */
  acceptedMinions(): string[];
  /** Forgets every issued token, as a salt-api restart does after a Solution import. */
  revokeTokens(): Promise<void>;
  stop(): Promise<void>;
}

interface Session {
  readonly token: string;
  readonly user: string;
  readonly perms: readonly unknown[];
  readonly expire: number;
  readonly start: number;
}

interface Job {
  readonly jid: string;
  readonly fun: string;
  readonly args: readonly unknown[];
  readonly target: string;
  readonly targetType: string;
  readonly user: string;
  readonly start: Date;
  result: Record<string, unknown>;
}

type Lowstate = Record<string, unknown>;

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}


// --- kubernetes_rbac external auth and MetalK8s' ACL (metalk8s-reference.md §3.4, §8) ------

const LOGIN_REFUSED = 'Could not authenticate using provided credentials';
const STORAGE_OPERATOR = 'system:serviceaccount:kube-system:storage-operator-controller-manager';

/** MetalK8s' `external_auth: kubernetes_rbac` ACL: per user, or per group with a `%` suffix. */
const EXTERNAL_AUTH: Readonly<Record<string, readonly unknown[]>> = {
  'node-admins%': [{ '*': ['.*'] }, '@wheel', '@runner', '@jobs'],
  [STORAGE_OPERATOR]: [
    { '*': ['metalk8s_volumes.device_info', 'metalk8s_volumes.device_name', { 'state.sls': { kwargs: { mods: 'metalk8s\\.volumes.*' } } }] },
    '@jobs',
  ],
};

/**
 * What `kubernetes_rbac` grants `username` for `token`, or `undefined` when the login is
 * refused: a TokenReview (with the master's rights) must name exactly `username`; the user is in
 * `node-admins` when a SelfSubjectAccessReview made with its own token allows `*` on nodes.
 * Perms come sorted as Salt returns them (strings, then dicts), empty for a user of no entry.
 */
async function kubernetesRbacPerms(master: KubeConfig, username: string, token: string): Promise<unknown[] | undefined> {
  const review = await master
    .makeApiClient(AuthenticationV1Api)
    .createTokenReview({ body: { spec: { token } } })
    .catch(() => undefined);
  if (!review?.status?.authenticated || review.status.user?.username !== username) return undefined;
  const cluster = master.getCurrentCluster();
  if (!cluster) return undefined;
  const asUser = new KubeConfig();
  asUser.loadFromOptions({
    clusters: [cluster],
    users: [{ name: 'user', token }],
    contexts: [{ name: 'user', cluster: cluster.name, user: 'user' }],
    currentContext: 'user',
  });
  // An API server that does not answer is not a "no": retry, then refuse the login as the real
  // module does when its Kubernetes call raises (an empty-perms login would hide the failure).
  const accessReview = () =>
    asUser
      .makeApiClient(AuthorizationV1Api)
      .createSelfSubjectAccessReview({ body: { spec: { resourceAttributes: { resource: 'nodes', verb: '*' } } } })
      .catch(() => undefined);
  let ssar = await accessReview();
  for (let retry = 1; ssar === undefined && retry <= 2; retry++) {
    await sleep(200 * retry);
    ssar = await accessReview();
  }
  if (ssar === undefined) return undefined;
  const groups = ssar.status?.allowed ? ['node-admins'] : [];
  const perms = [...(EXTERNAL_AUTH[username] ?? []), ...groups.flatMap((g) => EXTERNAL_AUTH[`${g}%`] ?? [])];
  const strings = [...new Set(perms.filter((p): p is string => typeof p === 'string'))].sort();
  return [...strings, ...perms.filter((p) => typeof p !== 'string')];
}

function fullMatch(pattern: string, value: string): boolean {
  try {
    return new RegExp(`^(?:${pattern})$`).test(value);
  } catch {
    return false;
  }
}

/** Whether one ACL function entry (`'fun.regex'` or `{'fun.regex': {args, kwargs}}`) allows a call. */
function aclFunctionAllows(entry: unknown, fun: string, arg: readonly unknown[], kwarg: Readonly<Record<string, unknown>>): boolean {
  if (typeof entry === 'string') return fullMatch(entry, fun);
  if (!isRecord(entry)) return false;
  return Object.entries(entry).some(([pattern, spec]) => {
    if (!fullMatch(pattern, fun)) return false;
    if (!isRecord(spec)) return true;
    const args = Array.isArray(spec.args) ? spec.args : [];
    if (!args.every((a, i) => i < arg.length && fullMatch(String(a), String(arg[i])))) return false;
    const kwargs = isRecord(spec.kwargs) ? spec.kwargs : {};
    return Object.entries(kwargs).every(([k, v]) => k in kwarg && fullMatch(String(v), String(kwarg[k])));
  });
}

/** The ACL check of a `local` call: an `{<target>: [functions]}` entry must allow it. */
function aclAllowsLocal(perms: readonly unknown[], fun: string, arg: readonly unknown[], kwarg: Readonly<Record<string, unknown>>): boolean {
  return perms.some(
    (p) => isRecord(p) && Object.entries(p).some(([tgt, funs]) => !tgt.startsWith('@') && Array.isArray(funs) && funs.some((f) => aclFunctionAllows(f, fun, arg, kwarg))),
  );
}

/** The ACL check of a runner, wheel or job call: `@runner`, or `{'@runner': [functions]}`. */
function aclAllowsGroup(perms: readonly unknown[], group: string, fun: string | undefined): boolean {
  return perms.some(
    (p) =>
      p === group ||
      (isRecord(p) && Array.isArray(p[group]) && (fun === undefined || (p[group] as unknown[]).some((f) => aclFunctionAllows(f, fun, [], {})))),
  );
}

/** An error page as CherryPy (salt-api's server) writes it: salt-api answers 401 this way. */
function sendHtmlError(res: http.ServerResponse, status: number, reason: string, message: string): void {
  const html = (t: string) => t.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  const body = [
    '<!DOCTYPE html PUBLIC',
    '"-//W3C//DTD XHTML 1.0 Transitional//EN"',
    '"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">',
    '<html>',
    '<head>',
    '    <meta http-equiv="Content-Type" content="text/html; charset=utf-8"></meta>',
    `    <title>${status} ${reason}</title>`,
    '</head>',
    '    <body>',
    `        <h2>${status} ${reason}</h2>`,
    `        <p>${html(message)}</p>`,
    '    </body>',
    '</html>',
    '',
  ].join('\n');
  res.writeHead(status, { 'content-type': 'text/html;charset=utf-8', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

function pad(n: number, width: number): string {
  return String(n).padStart(width, '0');
}

/** Salt's "2026, Nov 30 12:15:40.597606" time format. */
function saltStartTime(d: Date, micro: number): string {
  const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  return `${d.getUTCFullYear()}, ${months[d.getUTCMonth()]} ${pad(d.getUTCDate(), 2)} ${pad(d.getUTCHours(), 2)}:${pad(d.getUTCMinutes(), 2)}:${pad(d.getUTCSeconds(), 2)}.${pad(micro, 6)}`;
}

function globToRegExp(glob: string): RegExp {
  const escaped = glob.replace(/[.+^${}()|\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${escaped}$`);
}

/**
 * Starts the SaltAPI emulator on 127.0.0.1.
 *
 * @example
 * ```ts
 * const salt = await startSaltApiEmulator({ kubeConfig: cp.kubeConfig() });
 * console.log(salt.url);
 * await salt.stop();
 * ```
 */
export async function startSaltApiEmulator(options: StartSaltApiEmulatorOptions): Promise<SaltApiEmulator> {
  const bootstrapId = options.bootstrapId ?? 'bootstrap';
  const masterId = `${bootstrapId}_master`;
  const minions = [bootstrapId, ...(options.minions ?? []).filter((m) => m !== bootstrapId)];
  const fileRoots = options.fileRoots ?? [];
  const tokenExpire = options.tokenExpireSeconds ?? 43_200;
  const sessions = new Map<string, Session>();
  const jobs = new Map<string, Job>();
  const listeners = new Set<(tag: string, data: Record<string, unknown>) => void>();
  let lastJid = 0n;

  const newJid = (): { jid: string; date: Date; micro: number } => {
    const date = new Date();
    const micro = date.getUTCMilliseconds() * 1000 + Math.floor(Math.random() * 1000);
    const stamp = `${date.getUTCFullYear()}${pad(date.getUTCMonth() + 1, 2)}${pad(date.getUTCDate(), 2)}${pad(date.getUTCHours(), 2)}${pad(date.getUTCMinutes(), 2)}${pad(date.getUTCSeconds(), 2)}${pad(micro, 6)}`;
    let n = BigInt(stamp);
    if (n <= lastJid) n = lastJid + 1n;
    lastJid = n;
    return { jid: n.toString(), date, micro };
  };

  const fire = (tag: string, data: Record<string, unknown>): void => {
    const stamped = { ...data, _stamp: new Date().toISOString().replace('Z', '') };
    for (const l of listeners) l(tag, stamped);
  };

  // --- authentication ---------------------------------------------------------------------

  const login = async (creds: Lowstate): Promise<Session> => {
    const { eauth, username, token, password } = creds;
    if (eauth !== 'kubernetes_rbac' || typeof username !== 'string' || typeof token !== 'string' || password !== undefined) {
      throw new HttpError(401, LOGIN_REFUSED);
    }
    const perms = await kubernetesRbacPerms(options.kubeConfig, username, token);
    if (!perms) throw new HttpError(401, LOGIN_REFUSED);
    const start = Date.now() / 1000;
    const session: Session = { token: randomBytes(20).toString('hex'), user: username, perms, start, expire: start + tokenExpire };
    sessions.set(session.token, session);
    return session;
  };

  const sessionOf = (token: string | undefined): Session => {
    const session = token ? sessions.get(token) : undefined;
    if (!session || session.expire * 1000 < Date.now()) throw new HttpError(401, 'Please log in');
    return session;
  };

  const allowed = (session: Session, group: '@runner' | '@wheel' | '@jobs', fun?: string): void => {
    if (!aclAllowsGroup(session.perms, group, fun)) throw new HttpError(401, `Authentication failure of type "token" occurred for user ${session.user}.`);
  };

  // --- jobs ---------------------------------------------------------------------------------

  const record = (fun: string, args: readonly unknown[], user: string, target: string, targetType: string): Job => {
    const { jid, date } = newJid();
    const job: Job = { jid, fun, args, target, targetType, user, start: date, result: {} };
    jobs.set(jid, job);
    return job;
  };

  const runnerFunction = async (fun: string, arg: readonly unknown[], kwarg: Record<string, unknown>): Promise<{ ret: unknown; success: boolean }> => {
    switch (fun) {
      case 'test.arg':
        return { ret: { args: [...arg], kwargs: kwarg }, success: true };
      case 'test.sleep': {
        const seconds = Number(kwarg.s_time ?? arg[0] ?? 10);
        await new Promise((r) => setTimeout(r, seconds * 1000));
        return { ret: true, success: true };
      }
      case 'jobs.print_job':
        return { ret: printJob(String(arg[0] ?? kwarg.jid ?? '')), success: true };
      case 'jobs.lookup_jid': {
        const job = jobs.get(String(arg[0] ?? kwarg.jid ?? ''));
        const out: Record<string, unknown> = {};
        for (const [t, v] of Object.entries(job?.result ?? {})) out[t] = isRecord(v) ? v.return : v;
        return { ret: out, success: true };
      }
      case 'jobs.list_jobs':
        return { ret: listJobs(), success: true };
      case 'state.orchestrate':
        return orchestrate(
          String(arg[0] ?? kwarg.mods ?? ''),
          typeof kwarg.saltenv === 'string' ? kwarg.saltenv : 'base',
          isRecord(kwarg.pillar) ? kwarg.pillar : {},
        );
      default:
        throw new HttpError(500, 'An unexpected error occurred');
    }
  };

  /** `state.orchestrate`: an orchestrate played in code, or an SLS file of `fileRoots`. */
  const orchestrate = async (mods: string, saltenv: string, pillar: Record<string, unknown>): Promise<{ ret: Record<string, unknown>; success: boolean }> => {
    const handler = options.orchestrates?.[mods];
    const outcome = handler
      ? await runHandler(handler, mods, saltenv, pillar)
      : await runSls(fileRoots, mods, saltenv, {
          orchestrate: (inner, env, innerPillar) => orchestrate(inner, env, innerPillar),
          matchMinions: (tgt, tgtType) => matchMinions({ tgt, tgt_type: tgtType }),
        });
    const data = outcome.ok ? outcome.states : outcome.errors;
    const failed = !outcome.ok || Object.values(outcome.states).some((s) => !s.result);
    return { ret: { data: { [masterId]: data }, outputter: 'highstate', retcode: failed ? 1 : 0 }, success: !failed };
  };

  /** `jobs.list_jobs`: every job of the job cache, as `jobs.print_job` describes it without `Result`. */
  const listJobs = (): Record<string, unknown> => {
    const out: Record<string, unknown> = {};
    for (const job of jobs.values()) {
      const { Result: _result, ...info } = jobInfo(job);
      out[job.jid] = info;
    }
    return out;
  };

  const runHandler = async (
    handler: OrchestrateHandler,
    mods: string,
    saltenv: string,
    pillar: Record<string, unknown>,
  ): Promise<{ ok: true; states: Record<string, StateResult> }> => {
    const states: Record<string, StateResult> = {};
    const outcomes = new Map<string, boolean>();
    let runNum = 0;
    const step = async (id: string, fun: string, run: () => Promise<StepOutcome>, stepOptions: StepOptions = {}): Promise<boolean> => {
      const [module = '', fn = ''] = fun.split('.');
      const name = stepOptions.name ?? id;
      const started = Date.now();
      const failedReqs = (stepOptions.require ?? []).filter((r) => outcomes.get(r) !== true);
      let outcome: StepOutcome;
      if (failedReqs.length > 0) {
        outcome = { result: false, comment: `One or more requisite failed: ${failedReqs.map((r) => `${mods}.${r}`).join(', ')}` };
      } else {
        try {
          outcome = await run();
        } catch (err) {
          outcome = { result: false, comment: err instanceof Error ? err.message : String(err) };
        }
      }
      states[`${module}_|-${id}_|-${name}_|-${fn}`] = {
        name,
        changes: { ...(outcome.changes ?? {}) },
        result: outcome.result,
        comment: outcome.comment,
        __sls__: mods,
        __run_num__: runNum++,
        __id__: id,
        start_time: new Date(started).toISOString().slice(11, 23),
        duration: Date.now() - started,
      };
      outcomes.set(id, outcome.result);
      return outcome.result;
    };
    try {
      await handler({
        mods,
        saltenv,
        pillar,
        kubeConfig: options.kubeConfig,
        minions: [...minions],
        acceptMinion: (id) => {
          if (!minions.includes(id)) minions.push(id);
        },
        minionJob: (j) => {
          const job = record(j.fun, j.arg, 'root', j.tgt, 'glob');
          fire(`salt/job/${job.jid}/new`, { jid: job.jid, tgt: j.tgt, tgt_type: 'glob', user: 'root', fun: j.fun, arg: [...j.arg], minions: [...j.minions] });
          return (success) => {
            const retcode = success ? 0 : 2;
            for (const m of j.minions) {
              job.result[m] = { return: {}, retcode, success };
              fire(`salt/job/${job.jid}/ret/${m}`, { fun: j.fun, fun_args: [...j.arg], id: m, jid: job.jid, return: {}, retcode, success });
            }
          };
        },
        step,
      });
    } catch (err) {
      await step('Emulated orchestrate', 'test.fail_without_changes', async () => ({
        result: false,
        comment: `the emulated orchestrate ${mods} failed: ${err instanceof Error ? err.message : String(err)}`,
      }));
    }
    return { ok: true, states };
  };

  const runRunner = async (low: Lowstate, session: Session, background: boolean): Promise<unknown> => {
    const fun = String(low.fun ?? '');
    allowed(session, '@runner', fun);
    const arg = Array.isArray(low.arg) ? low.arg : low.arg === undefined ? [] : [low.arg];
    const kwarg = isRecord(low.kwarg) ? low.kwarg : {};
    const known = ['test.arg', 'test.sleep', 'jobs.print_job', 'jobs.lookup_jid', 'jobs.list_jobs', 'state.orchestrate'];
    if (!known.includes(fun)) throw new HttpError(500, 'An unexpected error occurred');
    const funArgs = [...arg, ...(Object.keys(kwarg).length > 0 ? [kwarg] : [])];
    const job = record(`runner.${fun}`, [], session.user, masterId, 'list');
    const tag = `salt/run/${job.jid}`;
    const body = { fun: `runner.${fun}`, jid: job.jid, user: session.user, fun_args: funArgs };
    const execute = async (): Promise<unknown> => {
      fire(`${tag}/new`, { ...body });
      let ret: unknown;
      let success: boolean;
      try {
        ({ ret, success } = await runnerFunction(fun, arg, kwarg));
      } catch (err) {
        ret = `Exception occurred in runner ${fun}: ${(err as Error).message}`;
        success = false;
      }
      const full = { ...body, _stamp: new Date().toISOString().replace('Z', ''), return: ret, success };
      job.result = { [masterId]: { return: full } };
      fire(`${tag}/ret`, { ...body, return: ret, success });
      return ret;
    };
    if (background) {
      void execute();
      return { tag, jid: job.jid };
    }
    return execute();
  };

  const runWheel = (low: Lowstate, session: Session): unknown => {
    const fun = String(low.fun ?? '');
    allowed(session, '@wheel', fun);
    let ret: unknown;
    const custom = options.wheelFunctions?.[fun];
    let success = true;
    if (custom) {
      // salt-api's wheel client passes the top-level keys as keyword arguments; `arg` and
      // `kwarg` are ignored.
      const kwarg = Object.fromEntries(Object.entries(low).filter(([k]) => !['client', 'fun', 'arg', 'kwarg'].includes(k)));
      try {
        ret = custom({ arg: [], kwarg, minions });
      } catch (err) {
        ret = `Exception occurred in wheel ${fun}: ${err instanceof Error ? err.message : String(err)}`;
        success = false;
      }
    } else if (fun === 'key.list_all') {
      ret = { minions: [...minions], minions_pre: [], minions_rejected: [], minions_denied: [], local: ['master.pem', 'master.pub'] };
    } else if (fun === 'key.list') {
      ret = { minions: [...minions] };
    } else throw new HttpError(500, 'An unexpected error occurred');
    const job = record(`wheel.${fun}`, [], session.user, masterId, 'list');
    const tag = `salt/wheel/${job.jid}`;
    const data = {
      fun: `wheel.${fun}`,
      jid: job.jid,
      tag,
      user: session.user,
      _stamp: new Date().toISOString().replace('Z', ''),
      return: ret,
      success,
    };
    job.result = { [masterId]: { return: data } };
    return { tag, data };
  };

  const matchMinions = (low: Lowstate): string[] => {
    const tgt = low.tgt;
    const type = String(low.tgt_type ?? low.expr_form ?? 'glob');
    if (type === 'list') {
      const wanted = Array.isArray(tgt) ? tgt.map(String) : String(tgt ?? '').split(',');
      return minions.filter((m) => wanted.includes(m));
    }
    if (type === 'glob') return minions.filter((m) => globToRegExp(String(tgt ?? '')).test(m));
    if (type === 'pcre') return minions.filter((m) => new RegExp(String(tgt ?? '')).test(m));
    return [];
  };

  const minionFunction = (fun: string, arg: readonly unknown[], minion: string): unknown => {
    switch (fun) {
      case 'test.ping':
        return true;
      case 'test.arg':
        return { args: [...arg], kwargs: {} };
      case 'grains.item': {
        // The grains MetalK8s' UI asks for (metalk8s-reference.md §3.5), `:` reaching into dicts.
        const grains: Record<string, unknown> = {
          id: minion,
          host: minion,
          os_family: 'RedHat',
          kernel: 'Linux',
          metalk8s: { control_plane_ip: '127.0.0.1', workload_plane_ip: '127.0.0.1' },
          ip_interfaces: { lo: ['127.0.0.1'] },
        };
        const out: Record<string, unknown> = {};
        for (const g of arg) {
          let value: unknown = grains;
          for (const part of String(g).split(':')) value = isRecord(value) ? value[part] : undefined;
          out[String(g)] = value ?? '';
        }
        return out;
      }
      default:
        return `'${fun}' is not available.`;
    }
  };

  const runLocal = async (low: Lowstate, session: Session, background: boolean): Promise<unknown> => {
    const fun = String(low.fun ?? '');
    const arg = Array.isArray(low.arg) ? low.arg : low.arg === undefined ? [] : [low.arg];
    const kwarg = isRecord(low.kwarg) ? low.kwarg : {};
    if (!aclAllowsLocal(session.perms, fun, arg, kwarg)) throw new HttpError(401, 'Authorization error occurred.');
    const targets = matchMinions(low);
    if (targets.length === 0) return {};
    const job = record(fun, arg, session.user, String(low.tgt ?? ''), String(low.tgt_type ?? 'glob'));
    fire(`salt/job/${job.jid}/new`, {
      jid: job.jid,
      tgt: low.tgt,
      tgt_type: String(low.tgt_type ?? 'glob'),
      user: session.user,
      fun,
      arg,
      minions: targets,
    });
    const result: Record<string, unknown> = {};
    const execute = async (m: string): Promise<void> => {
      const custom = options.minionFunctions?.[fun];
      let ret: unknown;
      let retcode: number;
      if (custom) {
        try {
          ret = await custom({ minion: m, arg, kwarg });
          retcode = 0;
          if (ret instanceof MinionReturn) ({ value: ret, retcode } = ret);
        } catch (err) {
          ret = `ERROR: ${err instanceof Error ? err.message : String(err)}`;
          retcode = 1;
        }
      } else {
        ret = minionFunction(fun, arg, m);
        retcode = typeof ret === 'string' && ret.endsWith('is not available.') ? 254 : 0;
      }
      result[m] = { return: ret, retcode, success: retcode === 0 };
      // The job shows each minion's return as it arrives, as salt-master's job cache does.
      job.result = { ...job.result, [m]: result[m] };
      fire(`salt/job/${job.jid}/ret/${m}`, { fun, fun_args: arg, id: m, jid: job.jid, return: ret, retcode, success: retcode === 0 });
    };
    if (background) {
      // local_async answers at once; the minions work in the background.
      void Promise.all(targets.map((m) => execute(m).catch(() => undefined)));
      return { jid: job.jid, minions: targets };
    }
    for (const m of targets) await execute(m);
    const out: Record<string, unknown> = {};
    for (const m of targets) out[m] = (result[m] as { return: unknown }).return;
    return out;
  };

  const printJob = (jid: string): Record<string, unknown> => {
    const job = jobs.get(jid);
    if (!job) {
      return { [jid]: { Error: 'Cannot contact returner or no job with this jid', StartTime: jidStartTime(jid), Result: {} } };
    }
    return { [jid]: jobInfo(job) };
  };

  const jobInfo = (job: Job): Record<string, unknown> => ({
    Function: job.fun,
    Arguments: job.args,
    Target: job.target,
    'Target-type': job.targetType,
    User: job.user,
    StartTime: saltStartTime(job.start, Number(job.jid.slice(14))),
    Result: job.result,
  });

  const jidStartTime = (jid: string): string => {
    const m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{6})$/.exec(jid);
    if (!m) return '';
    const [, y, mo, d, h, mi, s, us] = m;
    const date = new Date(Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s)));
    return saltStartTime(date, Number(us));
  };

  // --- HTTP ---------------------------------------------------------------------------------

  const readBody = async (req: http.IncomingMessage): Promise<unknown> => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    if (text === '') return {};
    const type = String(req.headers['content-type'] ?? '');
    if (type.includes('application/x-www-form-urlencoded')) {
      const out: Record<string, unknown> = {};
      for (const [k, v] of new URLSearchParams(text)) {
        if (k === 'arg') out.arg = [...(Array.isArray(out.arg) ? out.arg : []), v];
        else out[k] = v;
      }
      return out;
    }
    try {
      return JSON.parse(text);
    } catch {
      throw new HttpError(400, 'Could not parse the request body as JSON');
    }
  };

  const send = (res: http.ServerResponse, status: number, body: unknown): void => {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  };

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const token = (req.headers['x-auth-token'] as string | undefined) ?? url.searchParams.get('token') ?? undefined;
    if (req.method === 'POST' && url.pathname === '/login') {
      const body = await readBody(req);
      const creds = Array.isArray(body) ? body[0] : body;
      const s = await login(isRecord(creds) ? creds : {});
      send(res, 200, {
        // Salt answers an empty dict, not an empty list, for a user without any right.
        return: [{ token: s.token, expire: s.expire, start: s.start, user: s.user, eauth: 'kubernetes_rbac', perms: s.perms.length > 0 ? s.perms : {} }],
      });
      return;
    }
    if (req.method === 'POST' && (url.pathname === '/' || url.pathname === '/run')) {
      const session = sessionOf(token);
      const body = await readBody(req);
      const chunks = (Array.isArray(body) ? body : [body]).filter(isRecord);
      const out: unknown[] = [];
      for (const low of chunks) {
        const client = String(low.client ?? '');
        if (client === 'runner') out.push(await runRunner(low, session, false));
        else if (client === 'runner_async') out.push(await runRunner(low, session, true));
        else if (client === 'wheel') out.push(runWheel(low, session));
        else if (client === 'local') out.push(await runLocal(low, session, false));
        else if (client === 'local_async') out.push(await runLocal(low, session, true));
        else throw new HttpError(400, `Client disabled: '${client}'.`);
      }
      send(res, 200, { return: out });
      return;
    }
    if (req.method === 'GET' && url.pathname.startsWith('/jobs/')) {
      const session = sessionOf(token);
      allowed(session, '@jobs');
      const jid = decodeURIComponent(url.pathname.slice('/jobs/'.length));
      const job = jobs.get(jid);
      if (!job) {
        send(res, 200, {
          info: [{ jid, Error: 'Cannot contact returner or no job with this jid', StartTime: jidStartTime(jid), Result: {} }],
          return: [{}],
        });
        return;
      }
      const returns: Record<string, unknown> = {};
      for (const [t, v] of Object.entries(job.result)) returns[t] = isRecord(v) ? v.return : v;
      send(res, 200, { info: [{ jid, ...jobInfo(job) }], return: [returns] });
      return;
    }
    if (req.method === 'GET' && url.pathname === '/events') {
      sessionOf(token ?? undefined);
      res.writeHead(200, { 'content-type': 'text/event-stream;charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive' });
      res.write('retry: 400\n\n');
      const listener = (tag: string, data: Record<string, unknown>): void => {
        res.write(`tag: ${tag}\ndata: ${JSON.stringify({ tag, data })}\n\n`);
      };
      listeners.add(listener);
      req.on('close', () => listeners.delete(listener));
      return;
    }
    throw new HttpError(404, 'Not Found');
  };

  const onRequest = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    handle(req, res).catch((err: unknown) => {
      const status = err instanceof HttpError ? err.status : 500;
      const message = err instanceof HttpError ? err.message : 'An unexpected error occurred';
      if (res.headersSent) res.end();
      else if (status === 401) sendHtmlError(res, status, 'Unauthorized', message);
      else send(res, status, { status, return: message });
    });
  };
  const server = options.tls
    ? https.createServer({ cert: options.tls.cert, key: options.tls.key }, onRequest)
    : http.createServer(onRequest);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `${options.tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    masterId,
    acceptedMinions: () => [...minions],
    async revokeTokens() {
      sessions.clear();
    },
    stop: () =>
      new Promise<void>((resolve) => {
        listeners.clear();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
