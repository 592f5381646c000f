import { isRecord } from '../_record.js';
/**
 * Reading Salt state results: the per-step map that `state.sls`, `state.orchestrate` and the
 * `salt.state` / `salt.runner` orchestrate steps return, down to the step that really failed.
 *
 * A state key is `<module>_|-<id>_|-<name>_|-<function>`; each value carries `result`,
 * `comment`, `changes` and `__run_num__`. The first failure is the failed step with the lowest
 * `__run_num__` whose comment is not "One or more requisite failed" (those are consequences),
 * the rule MetalK8s' UI and storage-operator both apply. When that step is itself an
 * orchestrate step (`salt.state`, `salt.runner`), its `changes` hold the nested results, and
 * the search goes down into them.
 *
 * @module
 */

/** One step of a Salt state run. */
export interface SaltStateStep {
  /** The full state key, `<module>_|-<id>_|-<name>_|-<function>`. */
  readonly key: string;
  /** State module, e.g. `salt` or `metalk8s_kubernetes`. */
  readonly module: string;
  /** State ID as written in the SLS. */
  readonly id: string;
  /** The `name` argument. */
  readonly name: string;
  /** State function, e.g. `state` or `object_present`. */
  readonly function: string;
  /** `true`, `false`, or `null` when run with `test=True`. */
  readonly result: boolean | null;
  readonly comment: string;
  /** Execution order within its run. */
  readonly runNum: number;
  /** The step's `changes`, as Salt reported them. */
  readonly changes: unknown;
}

/** A failed step, with where it ran and, for orchestrate steps, the failure nested inside. */
export interface SaltStepFailure {
  /** Minion (or `<master>_master`) whose run holds the step. */
  readonly target: string;
  readonly step: SaltStateStep;
  /** The failure inside a `salt.state` / `salt.runner` step, when Salt reported one. */
  readonly cause?: SaltStepFailure | undefined;
}

/** The steps of one target's state run, in `__run_num__` order. */
export interface SaltStateRun {
  readonly target: string;
  readonly steps: readonly SaltStateStep[];
}

const KEY_SEPARATOR = '_|-';
const REQUISITE_FAILED = 'One or more requisite failed';


function isStateMap(value: unknown): value is Record<string, Record<string, unknown>> {
  if (!isRecord(value)) return false;
  const keys = Object.keys(value);
  return keys.length > 0 && keys.every((k) => k.split(KEY_SEPARATOR).length === 4 && isRecord(value[k]));
}

function toStep(key: string, raw: Record<string, unknown>): SaltStateStep {
  const [module = '', id = '', name = '', fn = ''] = key.split(KEY_SEPARATOR);
  const result = raw.result === true ? true : raw.result === false ? false : null;
  const comment = Array.isArray(raw.comment) ? raw.comment.join('\n') : String(raw.comment ?? '');
  const runNum = typeof raw.__run_num__ === 'number' ? raw.__run_num__ : Number.MAX_SAFE_INTEGER;
  return { key, module, id: String(raw.__id__ ?? id), name: typeof raw.name === 'string' ? raw.name : name, function: fn, result, comment, runNum, changes: raw.changes };
}

/**
 * Finds every state run in a Salt answer, whatever wraps it: a `jobs.print_job` entry, a
 * `/jobs/<jid>` answer, a runner's `{data: {...}}`, an event's `return`, or a bare state map.
 *
 * @example
 * ```ts
 * const runs = stateRuns(printJobAnswer);
 * for (const run of runs) console.log(run.target, run.steps.length);
 * ```
 */
export function stateRuns(answer: unknown): SaltStateRun[] {
  const runs: SaltStateRun[] = [];
  const visit = (value: unknown, target: string, depth: number): void => {
    if (depth > 12 || !isRecord(value)) return;
    if (isStateMap(value)) {
      const steps = Object.entries(value)
        .map(([k, v]) => toStep(k, v))
        .sort((a, b) => a.runNum - b.runNum);
      runs.push({ target, steps });
      return;
    }
    for (const [k, v] of Object.entries(value)) {
      // Keys that name a target (minion id, `<id>_master`) become the target; wrapper keys do not.
      const wrapper = ['return', 'data', 'Result', 'ret', 'changes', 'info'].includes(k);
      visit(v, wrapper ? target : k, depth + 1);
    }
  };
  visit(answer, '', 0);
  return runs;
}

/**
 * The step that made a state run fail, searching nested orchestrate results, or `undefined`
 * when no step failed.
 *
 * @example
 * ```ts
 * const failure = firstFailedStep(result);
 * if (failure) console.log(`${failure.step.id}: ${failure.step.comment}`);
 * ```
 */
export function firstFailedStep(answer: unknown): SaltStepFailure | undefined {
  for (const run of stateRuns(answer)) {
    const failed = run.steps.filter((s) => s.result === false);
    const root = failed.find((s) => !s.comment.startsWith(REQUISITE_FAILED)) ?? failed[0];
    if (!root) continue;
    const cause = isRecord(root.changes) ? firstFailedStep(root.changes) : undefined;
    return { target: run.target, step: root, ...(cause ? { cause } : {}) };
  }
  return undefined;
}

/** Comments Salt's `test` states write whatever happened: the reason is then in the state's name. */
const GENERIC_COMMENTS = new Set(['', 'Failure!', 'Success!']);

/**
 * Why a step failed, in words: its comment, or, when the comment is one of Salt's fixed words
 * ("Failure!" of `test.fail_without_changes`, which MetalK8s' SLS files use to report an error),
 * the state's name, where MetalK8s writes the reason (reference §8).
 *
 * @example
 * ```ts
 * stepReason(step); // 'Version 9.9.9 is not available for Solution zenko'
 * ```
 */
export function stepReason(step: SaltStateStep): string {
  const comment = step.comment.split('\n')[0] ?? '';
  if (GENERIC_COMMENTS.has(comment.trim()) && step.name !== '' && step.name !== step.id) return step.name;
  return comment;
}

/**
 * Formats a failure chain as one line, `step-id: reason <- nested-step-id: reason`, with each
 * step's reason: its comment's first line, or the state's name when the comment is a generic one.
 *
 * @example
 * ```ts
 * const failure = firstFailedStep(answer);
 * if (failure) console.error(describeFailure(failure));
 * ```
 */
export function describeFailure(failure: SaltStepFailure): string {
  const parts: string[] = [];
  let current: SaltStepFailure | undefined = failure;
  while (current) {
    parts.push(`${current.step.id}: ${stepReason(current.step)}`);
    current = current.cause;
  }
  return parts.join(' <- ');
}
