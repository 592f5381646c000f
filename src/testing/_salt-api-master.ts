/**
 * The emulated salt-master's state: the accepted minions and how a call targets them (`glob`,
 * `pcre`, `list`), the job cache (jids in Salt's format, and the views of a job that
 * `jobs.print_job`, `jobs.list_jobs`, `jobs.lookup_jid` and `/jobs/<jid>` give), and the event
 * bus that `/events` streams.
 */
import type { Lowstate } from './_salt-api-http.js';
import { isRecord } from '../_record.js';

/** A job of the job cache. */
export interface Job {
  readonly jid: string;
  readonly fun: string;
  readonly args: readonly unknown[];
  readonly target: string;
  readonly targetType: string;
  readonly user: string;
  readonly start: Date;
  result: Record<string, unknown>;
}

/** Listens to the events the master fires: the tag, and the data with its `_stamp`. */
export type MasterEventListener = (tag: string, data: Record<string, unknown>) => void;

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

/** The start time Salt gives a jid of no job (from the jid itself), `''` for a jid not in Salt's format. */
function jidStartTime(jid: string): string {
  const m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{6})$/.exec(jid);
  if (!m) return '';
  const [, y, mo, d, h, mi, s, us] = m;
  const date = new Date(Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s)));
  return saltStartTime(date, Number(us));
}

/** The salt-master of the emulator: its minions, job cache and event bus. */
export class SaltMaster {
  /** Id of the master, the key of runner results (`<bootstrap id>_master`). */
  readonly masterId: string;
  /** Ids of the accepted minions, the bootstrap first; orchestrates and wheel functions change it in place. */
  readonly minions: string[];
  readonly #jobs = new Map<string, Job>();
  readonly #listeners = new Set<MasterEventListener>();
  #lastJid = 0n;

  constructor(bootstrapId: string, minions: readonly string[]) {
    this.masterId = `${bootstrapId}_master`;
    this.minions = [bootstrapId, ...minions.filter((m) => m !== bootstrapId)];
  }

  #newJid(): { jid: string; date: Date; micro: number } {
    const date = new Date();
    const micro = date.getUTCMilliseconds() * 1000 + Math.floor(Math.random() * 1000);
    const stamp = `${date.getUTCFullYear()}${pad(date.getUTCMonth() + 1, 2)}${pad(date.getUTCDate(), 2)}${pad(date.getUTCHours(), 2)}${pad(date.getUTCMinutes(), 2)}${pad(date.getUTCSeconds(), 2)}${pad(micro, 6)}`;
    let n = BigInt(stamp);
    if (n <= this.#lastJid) n = this.#lastJid + 1n;
    this.#lastJid = n;
    return { jid: n.toString(), date, micro };
  }

  /** Fires an event to every listener, stamped as Salt stamps it. */
  fire(tag: string, data: Record<string, unknown>): void {
    const stamped = { ...data, _stamp: new Date().toISOString().replace('Z', '') };
    for (const l of this.#listeners) l(tag, stamped);
  }

  /** Adds a listener of every event; returns how to remove it. */
  listen(listener: MasterEventListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Drops every listener (the server stops). */
  stopEvents(): void {
    this.#listeners.clear();
  }

  /** Records a new job in the job cache. */
  record(fun: string, args: readonly unknown[], user: string, target: string, targetType: string): Job {
    const { jid, date } = this.#newJid();
    const job: Job = { jid, fun, args, target, targetType, user, start: date, result: {} };
    this.#jobs.set(jid, job);
    return job;
  }

  /** The job `jid`, or undefined. */
  job(jid: string): Job | undefined {
    return this.#jobs.get(jid);
  }

  /** What each target of a job returned (`jobs.lookup_jid`, `/jobs/<jid>`): nothing for an unknown job. */
  returns(job: Job | undefined): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const [t, v] of Object.entries(job?.result ?? {})) out[t] = isRecord(v) ? v.return : v;
    return out;
  }

  /** `jobs.print_job`: the job, or Salt's error entry for a jid of no job. */
  printJob(jid: string): Record<string, unknown> {
    return { [jid]: this.describeJob(jid) };
  }

  /** The job `jid` as `jobs.print_job` and `/jobs/<jid>` describe it, or Salt's error entry for a jid of no job. */
  describeJob(jid: string): Record<string, unknown> {
    const job = this.#jobs.get(jid);
    return job ? this.jobInfo(job) : { Error: 'Cannot contact returner or no job with this jid', StartTime: jidStartTime(jid), Result: {} };
  }

  /** `jobs.list_jobs`: every job of the job cache, as `jobs.print_job` describes it without `Result`. */
  listJobs(): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const job of this.#jobs.values()) {
      const { Result: _result, ...info } = this.jobInfo(job);
      out[job.jid] = info;
    }
    return out;
  }

  /** A job as `jobs.print_job` describes it. */
  jobInfo(job: Job): Record<string, unknown> {
    return {
      Function: job.fun,
      Arguments: job.args,
      Target: job.target,
      'Target-type': job.targetType,
      User: job.user,
      StartTime: saltStartTime(job.start, Number(job.jid.slice(14))),
      Result: job.result,
    };
  }

  /** The accepted minions a call targets (`tgt`, `tgt_type`: `glob`, `pcre` or `list`). */
  matchMinions(low: Lowstate): string[] {
    const tgt = low.tgt;
    const type = String(low.tgt_type ?? low.expr_form ?? 'glob');
    if (type === 'list') {
      const wanted = Array.isArray(tgt) ? tgt.map(String) : String(tgt ?? '').split(',');
      return this.minions.filter((m) => wanted.includes(m));
    }
    if (type === 'glob') return this.minions.filter((m) => globToRegExp(String(tgt ?? '')).test(m));
    if (type === 'pcre') return this.minions.filter((m) => new RegExp(String(tgt ?? '')).test(m));
    return [];
  }
}
