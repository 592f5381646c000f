/**
 * `state.orchestrate` in the SaltAPI emulator: an orchestrate played in code (an
 * {@link OrchestrateHandler} that records Salt-shaped steps, with requisites, `__run_num__` and
 * the minion jobs its steps start), or an SLS file of `fileRoots` run by the small state engine
 * of `_sls.ts`; either answered as Salt's runner answers (`data.<master id>`, the `highstate`
 * outputter, `retcode`).
 */
import type { KubeConfig } from '@kubernetes/client-node';
import type { SaltMaster } from './_salt-api-master.js';
import { runSls, type StateResult } from './_sls.js';

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

/** An orchestrate played by the emulator instead of read from an SLS file. */
export type OrchestrateHandler = (context: OrchestrateContext) => Promise<void>;

/** Where the emulator finds its orchestrates (the fields of `StartSaltApiEmulatorOptions`). */
export interface OrchestrateSetup {
  readonly kubeConfig: KubeConfig;
  readonly fileRoots?: readonly string[] | undefined;
  readonly orchestrates?: Readonly<Record<string, OrchestrateHandler>> | undefined;
}

/** `state.orchestrate`: an orchestrate played in code, or an SLS file of `fileRoots`. */
export async function orchestrate(master: SaltMaster, setup: OrchestrateSetup, mods: string, saltenv: string, pillar: Record<string, unknown>): Promise<{ ret: Record<string, unknown>; success: boolean }> {
  const handler = setup.orchestrates?.[mods];
  const outcome = handler
    ? await runHandler(master, setup, handler, mods, saltenv, pillar)
    : await runSls(setup.fileRoots ?? [], mods, saltenv, {
        orchestrate: (inner, env, innerPillar) => orchestrate(master, setup, inner, env, innerPillar),
        matchMinions: (tgt, tgtType) => master.matchMinions({ tgt, tgt_type: tgtType }),
      });
  const data = outcome.ok ? outcome.states : outcome.errors;
  const failed = !outcome.ok || Object.values(outcome.states).some((s) => !s.result);
  return { ret: { data: { [master.masterId]: data }, outputter: 'highstate', retcode: failed ? 1 : 0 }, success: !failed };
}

/** Plays an orchestrate handler, recording its steps as Salt would; a handler that throws ends with a failed step. */
async function runHandler(
  master: SaltMaster,
  setup: OrchestrateSetup,
  handler: OrchestrateHandler,
  mods: string,
  saltenv: string,
  pillar: Record<string, unknown>,
): Promise<{ ok: true; states: Record<string, StateResult> }> {
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
      kubeConfig: setup.kubeConfig,
      minions: [...master.minions],
      acceptMinion: (id) => {
        if (!master.minions.includes(id)) master.minions.push(id);
      },
      minionJob: (j) => {
        const job = master.record(j.fun, j.arg, 'root', j.tgt, 'glob');
        master.fire(`salt/job/${job.jid}/new`, { jid: job.jid, tgt: j.tgt, tgt_type: 'glob', user: 'root', fun: j.fun, arg: [...j.arg], minions: [...j.minions] });
        return (success) => {
          const retcode = success ? 0 : 2;
          for (const m of j.minions) {
            job.result[m] = { return: {}, retcode, success };
            master.fire(`salt/job/${job.jid}/ret/${m}`, { fun: j.fun, fun_args: [...j.arg], id: m, jid: job.jid, return: {}, retcode, success });
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
}
