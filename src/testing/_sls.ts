/**
 * A small Salt state engine for the emulator: runs SLS files made of `test.*` states (the
 * ones Salt's own test suites use) and the orchestrate steps `salt.runner state.orchestrate`
 * and `salt.state`, with `require` requisites, and returns results shaped
 * exactly like Salt's (`<module>_|-<id>_|-<name>_|-<function>` keys, `__run_num__`, and
 * "One or more requisite failed" for states whose requirement failed). Jinja is not rendered.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parse } from 'yaml';

/** One state's result, as Salt returns it. */
export interface StateResult {
  readonly name: string;
  readonly changes: Record<string, unknown>;
  readonly result: boolean;
  readonly comment: string;
  readonly __sls__: string;
  readonly __run_num__: number;
  readonly __id__: string;
  readonly start_time: string;
  readonly duration: number;
}

/** What rendering or running an SLS gives: the state map, or Salt-style error strings. */
export type SlsOutcome =
  | { readonly ok: true; readonly states: Record<string, StateResult> }
  | { readonly ok: false; readonly errors: string[] };

/** Finds `<root>/<a>/<b>.sls` or `<root>/<a>/<b>/init.sls` for `a.b`. */
export function findSls(fileRoots: readonly string[], mods: string): string | undefined {
  const rel = mods.split('.').join(path.sep);
  for (const root of fileRoots) {
    for (const candidate of [path.join(root, `${rel}.sls`), path.join(root, rel, 'init.sls')]) {
      if (existsSync(candidate)) return candidate;
    }
  }
  return undefined;
}

function clock(): string {
  const d = new Date();
  return `${d.toISOString().slice(11, 23)}000`;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** What an orchestrate SLS may reach beyond `test.*` states: the master's other runners and minions. */
export interface SlsContext {
  /** Runs `state.orchestrate <mods>` for a `salt.runner` step: the runner's `{data, outputter, retcode}` return. */
  readonly orchestrate?:
    | ((mods: string, saltenv: string, pillar: Record<string, unknown>) => Promise<{ readonly ret: Record<string, unknown>; readonly success: boolean }>)
    | undefined;
  /** Minions a `salt.state` step's `tgt` matches. */
  readonly matchMinions?: ((tgt: string, tgtType: string) => readonly string[]) | undefined;
}

/**
 * The outcome of an orchestrate step (`salt.runner`, `salt.state`), shaped as Salt 3007's
 * `saltmod` states return it (checked by the conformance suite against the real salt-master).
 */
async function orchestrateStep(
  fn: string,
  args: Record<string, unknown>,
  saltenv: string,
  context: SlsContext,
): Promise<{ changes: Record<string, unknown>; result: boolean; comment: string; extra?: Record<string, unknown> }> {
  if (fn === 'runner') {
    const fun = String(args.name ?? '');
    if (fun !== 'state.orchestrate' || !context.orchestrate) {
      return { changes: {}, result: false, comment: `the emulator runs no runner ${fun} from an SLS file` };
    }
    const { ret, success } = await context.orchestrate(
      String(args.mods ?? args.arg ?? ''),
      typeof args.saltenv === 'string' ? args.saltenv : saltenv,
      isRecord(args.pillar) ? args.pillar : {},
    );
    return {
      changes: { return: ret },
      result: success,
      comment: `Runner function '${fun}' ${success ? 'executed' : 'failed'}.`,
      extra: { __jid__: newStepJid() },
    };
  }
  // salt.state
  const targets = context.matchMinions?.(String(args.tgt ?? ''), String(args.tgt_type ?? 'glob')) ?? [];
  if (targets.length === 0) return { changes: {}, result: false, comment: 'No minions returned' };
  return { changes: {}, result: false, comment: 'the emulator runs no salt.state on minions from an SLS file' };
}

let lastStepJid = 0n;
function newStepJid(): string {
  const d = new Date();
  const stamp = d.toISOString().replace(/\D/g, '').slice(0, 17);
  let n = BigInt(`${stamp}000`);
  if (n <= lastStepJid) n = lastStepJid + 1n;
  lastStepJid = n;
  return n.toString();
}

/** Runs the SLS `mods` found in `fileRoots`. */
export async function runSls(fileRoots: readonly string[], mods: string, saltenv = 'base', context: SlsContext = {}): Promise<SlsOutcome> {
  const file = findSls(fileRoots, mods);
  if (!file) return { ok: false, errors: [`No matching sls found for '${mods}' in env '${saltenv}'`] };
  const text = await readFile(file, 'utf8');
  if (/\{\{|\{%/.test(text)) {
    return { ok: false, errors: [`Rendering SLS '${saltenv}:${mods}' failed: the emulator does not render Jinja`] };
  }
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (err) {
    return { ok: false, errors: [`Rendering SLS '${saltenv}:${mods}' failed: ${(err as Error).message}`] };
  }
  if (!isRecord(doc)) return { ok: false, errors: [`SLS ${mods} does not render to a dictionary`] };

  const states: Record<string, StateResult> = {};
  const outcomeById = new Map<string, boolean>();
  let runNum = 0;
  for (const [id, body] of Object.entries(doc)) {
    let fun: string;
    let args: Record<string, unknown> = {};
    if (typeof body === 'string') fun = body;
    else if (isRecord(body) && Object.keys(body).length === 1) {
      const [key] = Object.keys(body) as [string];
      fun = key;
      const list = body[key];
      if (Array.isArray(list)) for (const item of list) if (isRecord(item)) args = { ...args, ...item };
    } else return { ok: false, errors: [`ID ${id} in SLS ${mods} is not a single state declaration`] };
    const [module = '', fn = ''] = fun.split('.');
    const name = typeof args.name === 'string' ? args.name : id;
    const key = `${module}_|-${id}_|-${name}_|-${fn}`;
    const requires = Array.isArray(args.require) ? args.require : [];
    const failedReqs: string[] = [];
    for (const req of requires) {
      const reqId = isRecord(req) ? String(Object.values(req)[0]) : String(req);
      const ok = outcomeById.get(reqId);
      if (ok === undefined) return { ok: false, errors: [`Requisite ${reqId} of ${id} in SLS ${mods} is not declared before it`] };
      if (!ok) failedReqs.push(`${mods}.${reqId}`);
    }
    const base = { name, __sls__: mods, __run_num__: runNum++, __id__: id, start_time: clock(), duration: 0.1 };
    let result: StateResult;
    if (failedReqs.length > 0) {
      result = { ...base, changes: {}, result: false, comment: `One or more requisite failed: ${failedReqs.join(', ')}` };
    } else if (module === 'salt' && (fn === 'runner' || fn === 'state')) {
      const out = await orchestrateStep(fn, args, saltenv, context);
      result = { ...base, changes: out.changes, result: out.result, comment: out.comment, ...(out.extra ?? {}) };
    } else if (module !== 'test') {
      result = { ...base, changes: {}, result: false, comment: `State '${fun}' was not found in SLS '${mods}'` };
    } else {
      const comment = (fallback: string): string => (typeof args.comment === 'string' ? args.comment : fallback);
      const pretend = { testing: { old: 'Unchanged', new: 'Something pretended to change' } };
      switch (fn) {
        case 'succeed_without_changes':
        case 'nop':
          result = { ...base, changes: {}, result: true, comment: comment('Success!') };
          break;
        case 'succeed_with_changes':
          result = { ...base, changes: pretend, result: true, comment: comment('Success!') };
          break;
        case 'fail_without_changes':
          result = { ...base, changes: {}, result: false, comment: comment('Failure!') };
          break;
        case 'fail_with_changes':
          result = { ...base, changes: pretend, result: false, comment: comment('Failure!') };
          break;
        case 'show_notification':
          result = { ...base, changes: {}, result: true, comment: String(args.text ?? '') };
          break;
        default:
          result = { ...base, changes: {}, result: false, comment: `State '${fun}' was not found in SLS '${mods}'` };
      }
    }
    states[key] = result;
    outcomeById.set(id, result.result);
  }
  return { ok: true, states };
}
