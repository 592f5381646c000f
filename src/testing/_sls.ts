/**
 * A small Salt state engine for the emulator: runs SLS files made of `test.*` states (the
 * ones Salt's own test suites use) with `require` requisites, and returns results shaped
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

/** Runs the SLS `mods` found in `fileRoots`. */
export async function runSls(fileRoots: readonly string[], mods: string, saltenv = 'base'): Promise<SlsOutcome> {
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
