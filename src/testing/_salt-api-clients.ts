/**
 * The clients of salt-api's `/` endpoint as the SaltAPI emulator plays them: `runner` and
 * `runner_async` (`test.arg`, `test.sleep`, `jobs.*`, `state.orchestrate`), `wheel` (`key.list_all`,
 * `key.list`, and wheel functions played in code), `local` and `local_async` (`test.ping`,
 * `test.arg`, `grains.item`, and minion functions played in code). Each call is checked against
 * the session's ACL, recorded in the master's job cache, and fires the events Salt fires.
 */
import { aclAllowsLocal, assertAllowed, type Session } from './_salt-api-auth.js';
import { HttpError, type Lowstate } from './_salt-api-http.js';
import type { SaltMaster } from './_salt-api-master.js';
import { orchestrate, type OrchestrateSetup } from './_salt-api-orchestrate.js';
import { isRecord } from '../_record.js';

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

/** The functions the emulator plays in code (the fields of `StartSaltApiEmulatorOptions`). */
export interface ClientSetup extends OrchestrateSetup {
  readonly minionFunctions?: Readonly<Record<string, EmulatedMinionFunction>> | undefined;
  readonly wheelFunctions?: Readonly<Record<string, EmulatedWheelFunction>> | undefined;
}

/** Runs one lowstate chunk of a `POST /` with the client it names; salt-api's 400 for any other client. */
export async function runClient(master: SaltMaster, setup: ClientSetup, low: Lowstate, session: Session): Promise<unknown> {
  const client = String(low.client ?? '');
  if (client === 'runner') return runRunner(master, setup, low, session, false);
  if (client === 'runner_async') return runRunner(master, setup, low, session, true);
  if (client === 'wheel') return runWheel(master, setup, low, session);
  if (client === 'local') return runLocal(master, setup, low, session, false);
  if (client === 'local_async') return runLocal(master, setup, low, session, true);
  throw new HttpError(400, `Client disabled: '${client}'.`);
}

/** A runner function's return and success. */
async function runnerFunction(master: SaltMaster, setup: ClientSetup, fun: string, arg: readonly unknown[], kwarg: Record<string, unknown>): Promise<{ ret: unknown; success: boolean }> {
  switch (fun) {
    case 'test.arg':
      return { ret: { args: [...arg], kwargs: kwarg }, success: true };
    case 'test.sleep': {
      const seconds = Number(kwarg.s_time ?? arg[0] ?? 10);
      await new Promise((r) => setTimeout(r, seconds * 1000));
      return { ret: true, success: true };
    }
    case 'jobs.print_job':
      return { ret: master.printJob(String(arg[0] ?? kwarg.jid ?? '')), success: true };
    case 'jobs.lookup_jid':
      return { ret: master.returns(master.job(String(arg[0] ?? kwarg.jid ?? ''))), success: true };
    case 'jobs.list_jobs':
      return { ret: master.listJobs(), success: true };
    case 'state.orchestrate':
      return orchestrate(
        master,
        setup,
        String(arg[0] ?? kwarg.mods ?? ''),
        typeof kwarg.saltenv === 'string' ? kwarg.saltenv : 'base',
        isRecord(kwarg.pillar) ? kwarg.pillar : {},
      );
    default:
      throw new HttpError(500, 'An unexpected error occurred');
  }
}

/** `runner` (the return) and `runner_async` (at once: the tag and jid; the job goes on). */
async function runRunner(master: SaltMaster, setup: ClientSetup, low: Lowstate, session: Session, background: boolean): Promise<unknown> {
  const fun = String(low.fun ?? '');
  assertAllowed(session, '@runner', fun);
  const arg = Array.isArray(low.arg) ? low.arg : low.arg === undefined ? [] : [low.arg];
  const kwarg = isRecord(low.kwarg) ? low.kwarg : {};
  const known = ['test.arg', 'test.sleep', 'jobs.print_job', 'jobs.lookup_jid', 'jobs.list_jobs', 'state.orchestrate'];
  if (!known.includes(fun)) throw new HttpError(500, 'An unexpected error occurred');
  const funArgs = [...arg, ...(Object.keys(kwarg).length > 0 ? [kwarg] : [])];
  const job = master.record(`runner.${fun}`, [], session.user, master.masterId, 'list');
  const tag = `salt/run/${job.jid}`;
  const body = { fun: `runner.${fun}`, jid: job.jid, user: session.user, fun_args: funArgs };
  const execute = async (): Promise<unknown> => {
    master.fire(`${tag}/new`, { ...body });
    let ret: unknown;
    let success: boolean;
    try {
      ({ ret, success } = await runnerFunction(master, setup, fun, arg, kwarg));
    } catch (err) {
      ret = `Exception occurred in runner ${fun}: ${(err as Error).message}`;
      success = false;
    }
    const full = { ...body, _stamp: new Date().toISOString().replace('Z', ''), return: ret, success };
    job.result = { [master.masterId]: { return: full } };
    master.fire(`${tag}/ret`, { ...body, return: ret, success });
    return ret;
  };
  if (background) {
    void execute();
    return { tag, jid: job.jid };
  }
  return execute();
}

/** `wheel`: the tag and the job's data, its return inside. */
function runWheel(master: SaltMaster, setup: ClientSetup, low: Lowstate, session: Session): unknown {
  const fun = String(low.fun ?? '');
  assertAllowed(session, '@wheel', fun);
  let ret: unknown;
  const custom = setup.wheelFunctions?.[fun];
  let success = true;
  if (custom) {
    // salt-api's wheel client passes the top-level keys as keyword arguments; `arg` and
    // `kwarg` are ignored.
    const kwarg = Object.fromEntries(Object.entries(low).filter(([k]) => !['client', 'fun', 'arg', 'kwarg'].includes(k)));
    try {
      ret = custom({ arg: [], kwarg, minions: master.minions });
    } catch (err) {
      ret = `Exception occurred in wheel ${fun}: ${err instanceof Error ? err.message : String(err)}`;
      success = false;
    }
  } else if (fun === 'key.list_all') {
    ret = { minions: [...master.minions], minions_pre: [], minions_rejected: [], minions_denied: [], local: ['master.pem', 'master.pub'] };
  } else if (fun === 'key.list') {
    ret = { minions: [...master.minions] };
  } else throw new HttpError(500, 'An unexpected error occurred');
  const job = master.record(`wheel.${fun}`, [], session.user, master.masterId, 'list');
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
  job.result = { [master.masterId]: { return: data } };
  return { tag, data };
}

/** A built-in minion function's return, or Salt's `'<fun>' is not available.` */
function minionFunction(fun: string, arg: readonly unknown[], minion: string): unknown {
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
}

/** `local` (each targeted minion's return) and `local_async` (at once: the jid and the minions). */
async function runLocal(master: SaltMaster, setup: ClientSetup, low: Lowstate, session: Session, background: boolean): Promise<unknown> {
  const fun = String(low.fun ?? '');
  const arg = Array.isArray(low.arg) ? low.arg : low.arg === undefined ? [] : [low.arg];
  const kwarg = isRecord(low.kwarg) ? low.kwarg : {};
  if (!aclAllowsLocal(session.perms, fun, arg, kwarg)) throw new HttpError(401, 'Authorization error occurred.');
  const targets = master.matchMinions(low);
  if (targets.length === 0) return {};
  const job = master.record(fun, arg, session.user, String(low.tgt ?? ''), String(low.tgt_type ?? 'glob'));
  master.fire(`salt/job/${job.jid}/new`, {
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
    const custom = setup.minionFunctions?.[fun];
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
    master.fire(`salt/job/${job.jid}/ret/${m}`, { fun, fun_args: arg, id: m, jid: job.jid, return: ret, retcode, success: retcode === 0 });
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
}
