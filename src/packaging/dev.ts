/**
 * `devSolution()`: the inner loop of `solution dev`. Watches the solution file, its folder and
 * every local input it names (build files and folders, OCI layouts, docker archives); on each
 * change it reloads and validates the solution and, when it is valid, packs it again. Packing is
 * incremental: unchanged images come from the blob store and unchanged built layers from the
 * build cache, so a round costs about the ISO write. An `afterPack` hook lets the caller go on
 * (the CLI imports the ISO into the emulator and upgrades an environment there).
 *
 * Changes that arrive during a round are gathered into the next one: one save gives one round.
 * Watching uses one `fs.watch` per folder (Node's recursive mode misses files replaced by a
 * rename on Linux, which is how many editors save).
 *
 * @module
 */
import { type FSWatcher, watch } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { numberOption } from '../_number-option.js';
import { type Issue, PackagingError, ValidationError } from '../errors.js';
import type { Solution } from '../solution/validate.js';
import { validateSolution } from '../solution/validate.js';
import { type PackResult, pack } from './pack.js';
import { loadSolutionFile } from './solution-file.js';

/** One validate + pack round of {@link devSolution}. */
export interface DevRound {
  /** 1 for the first round (at start), then one per batch of changes. */
  readonly index: number;
  /** Files whose change started the round, relative to the solution folder (empty for the first). */
  readonly changed: readonly string[];
  /** Whether the solution validated and packed (and `afterPack` succeeded). */
  readonly ok: boolean;
  /** Validation issues: the errors that stopped the round, or the warnings of a good one. */
  readonly issues: readonly Issue[];
  /** What stopped the round when it was not a validation error. */
  readonly error?: unknown;
  /** The pack, when the round got that far. */
  readonly pack?: PackResult | undefined;
  /** What `afterPack` returned (e.g. "upgraded acme-dev to 1.0.0-dev.3"). */
  readonly after?: string | undefined;
  /** Milliseconds: loading and validating, packing, the afterPack hook, the whole round. */
  readonly timings: { readonly validate: number; readonly pack: number; readonly after: number; readonly total: number };
}

/** Options of {@link devSolution}. */
export interface DevSolutionOptions {
  /** The solution file, or the folder holding `solution.config.ts`. */
  readonly configPath: string;
  /** Where each round writes its ISO. */
  readonly outDir: string;
  /** Blob store folder. @default the user's cache folder */
  readonly cacheDir?: string | undefined;
  /** Build time of every round. @default as {@link pack} */
  readonly sourceDateEpoch?: number | undefined;
  /**
   * The version each round packs, from the solution's version and the round number: the emulator
   * needs a new version per import. @default the solution's own version
   */
  readonly version?: ((version: string, round: number) => string) | undefined;
  /** Runs after a successful pack; its text goes into the round's `after`. A throw fails the round. */
  readonly afterPack?: ((result: PackResult, solution: Solution, signal: AbortSignal) => Promise<string | undefined>) | undefined;
  /** Called when a round starts (with the changed files) and when it ends. */
  readonly onRoundStart?: ((index: number, changed: readonly string[]) => void) | undefined;
  readonly onRound: (round: DevRound) => void;
  /** Quiet time after the last change before a round starts. @default 150 */
  readonly debounceMs?: number | undefined;
  /** Stops watching; the promise of {@link devSolution} then resolves. */
  readonly signal: AbortSignal;
}

const IGNORED_DIRS = ['node_modules', '.git'];

function inside(parent: string, child: string): boolean {
  const r = relative(parent, child);
  return r === '' || (!r.startsWith('..') && !isAbsolute(r));
}

/** Local inputs a definition names, absolute. */
function inputsOf(solution: Solution, baseDir: string): string[] {
  const at = (p: string) => (isAbsolute(p) ? p : resolve(baseDir, p));
  const out: string[] = [];
  for (const img of solution.definition.images) {
    const src = img.source;
    if (src.kind === 'oci-layout' || src.kind === 'docker-archive') out.push(at(src.path));
    if (src.kind === 'build') {
      for (const l of src.layers) {
        if ('directory' in l) out.push(at(l.directory));
        else for (const f of l.files) if (f.from !== undefined) out.push(at(f.from));
      }
    }
  }
  return out;
}

/**
 * Watches a solution and validates and packs it on every change, until `signal` aborts. Rounds
 * never throw: each one is reported to `onRound`, with the issues or the error that stopped it.
 *
 * @example
 * ```ts
 * const ctl = new AbortController();
 * await devSolution({
 *   configPath: '.',
 *   outDir: 'out',
 *   signal: ctl.signal,
 *   onRound: (r) => console.log(`round ${r.index}: ${r.ok ? 'packed' : 'failed'} in ${r.timings.total} ms`),
 * });
 * ```
 */
export async function devSolution(options: DevSolutionOptions): Promise<void> {
  const { signal } = options;
  const debounceMs = numberOption('debounceMs', options.debounceMs, { min: 0, max: 60_000, unit: 'milliseconds' }) ?? 150;
  const outDir = resolve(options.outDir);
  const cacheDir = options.cacheDir !== undefined ? resolve(options.cacheDir) : undefined;
  const first = resolve(options.configPath);
  const root = (await stat(first).catch(() => undefined))?.isDirectory() ? first : dirname(first);
  const watchers = new Map<string, FSWatcher>();
  let pending = new Set<string>();
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let index = 0;
  let known = new Set<string>();

  const ignored = (abs: string) =>
    inside(outDir, abs) ||
    (cacheDir !== undefined && inside(cacheDir, abs)) ||
    IGNORED_DIRS.some((d) => relative(root, abs).split(sep).includes(d));

  const schedule = () => {
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = undefined;
      if (running) return; // the running round schedules the next one when it ends
      running = round().finally(() => {
        running = undefined;
        if (pending.size > 0 && !signal.aborted) schedule();
      });
    }, debounceMs);
  };

  const onEvent = (base: string) => (_event: string, name: string | Buffer | null) => {
    const abs = name ? resolve(base, name.toString()) : base;
    if (ignored(abs)) return;
    pending.add(abs);
    schedule();
  };

  // One non-recursive watcher per folder: editors that save by renaming a new file over the old
  // one are seen by the folder's watcher, where a watcher on the file itself would go stale.
  const watchDir = (dir: string) => {
    if (watchers.has(dir) || ignored(dir)) return;
    try {
      const w = watch(dir, { persistent: true }, (event, name) => {
        onEvent(dir)(event, name);
        if (name) void watchTree(resolve(dir, name.toString()));
      });
      w.on('error', () => {
        w.close();
        watchers.delete(dir);
      });
      watchers.set(dir, w);
    } catch {
      // A folder that does not exist (yet): the round that needs it reports the error.
    }
  };

  const watchTree = async (path: string): Promise<void> => {
    const st = await stat(path).catch(() => undefined);
    if (!st) return;
    if (!st.isDirectory()) {
      watchDir(dirname(path));
      return;
    }
    if (ignored(path)) return;
    watchDir(path);
    const entries = await readdir(path, { withFileTypes: true }).catch(() => []);
    for (const e of entries) if (e.isDirectory()) await watchTree(join(path, e.name));
  };

  const round = async (): Promise<void> => {
    const batch = [...pending];
    pending = new Set();
    // Editors' temporary files are gone by now; deleted inputs still count.
    const present = await Promise.all(batch.map(async (p) => ((await stat(p).catch(() => undefined)) || known.has(p) ? p : undefined)));
    const changed = present.filter((p): p is string => p !== undefined).map((p) => relative(root, p) || '.').sort();
    if (index > 0 && changed.length === 0) return;
    index++;
    const t0 = performance.now();
    let tValidated: number | undefined;
    let tPacked: number | undefined;
    options.onRoundStart?.(index, changed);
    // Milestones rounded first, so the phases add up to the total exactly.
    const timings = () => {
      const now = Math.round(performance.now());
      const start = Math.round(t0);
      const validated = tValidated === undefined ? now : Math.round(tValidated);
      const packed = tValidated === undefined ? validated : tPacked === undefined ? now : Math.round(tPacked);
      return { validate: validated - start, pack: packed - validated, after: now - packed, total: now - start };
    };
    let issues: readonly Issue[] = [];
    let packed: PackResult | undefined;
    try {
      const loaded = await loadSolutionFile(options.configPath);
      let solution = loaded.solution;
      if (options.version) {
        const version = options.version(solution.version, index);
        const report = validateSolution({ ...solution.definition, version });
        if (!report.solution) throw new ValidationError(report.issues, loaded.path);
        solution = report.solution;
      }
      issues = solution.warnings;
      known = new Set([loaded.path, ...inputsOf(solution, loaded.baseDir)]);
      for (const input of inputsOf(solution, loaded.baseDir)) {
        if (!inside(root, input)) await watchTree(input);
      }
      tValidated = performance.now();
      packed = await pack({ solution, baseDir: loaded.baseDir, outDir, cacheDir, sourceDateEpoch: options.sourceDateEpoch, signal });
      tPacked = performance.now();
      const after = options.afterPack ? await options.afterPack(packed, solution, signal) : undefined;
      options.onRound({ index, changed, ok: true, issues, pack: packed, after, timings: timings() });
    } catch (error) {
      // Stopped mid-round: nothing to report.
      if (signal.aborted) return;
      if (error instanceof ValidationError) options.onRound({ index, changed, ok: false, issues: error.issues, timings: timings() });
      else options.onRound({ index, changed, ok: false, issues, error, pack: packed, timings: timings() });
    }
  };

  await watchTree(root);
  if (watchers.size === 0)
    throw new PackagingError('DEV_WATCH_FAILED', `cannot watch ${root}`, { hint: 'Check that the folder exists and that the system allows more file watches (fs.inotify.max_user_watches).' });
  running = round().finally(() => {
    running = undefined;
    if (pending.size > 0 && !signal.aborted) schedule();
  });
  await new Promise<void>((res) => {
    if (signal.aborted) res();
    else signal.addEventListener('abort', () => res(), { once: true });
  });
  if (timer) clearTimeout(timer);
  for (const w of watchers.values()) w.close();
  await running?.catch(() => undefined);
}

