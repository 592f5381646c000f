/**
 * The build time of a pack: what goes into the manifest's build-timestamp, the ISO's dates and
 * built images' `created`. Reproducible by default: an explicit value, else `SOURCE_DATE_EPOCH`
 * (the reproducible-builds convention), else the time of the last commit when the solution lives
 * in a git work tree (so two clones of one commit pack the same bytes and the date means
 * something), else the epoch.
 *
 * @module
 */
import { execFile } from 'node:child_process';
import { numberOption } from '../_number-option.js';
import { sourceDateEpoch } from './_source-date-epoch.js';

/** Where a build time came from. */
export type BuildTimeSource = 'option' | 'SOURCE_DATE_EPOCH' | 'git' | 'default';

/** A resolved build time. */
export interface BuildTime {
  /** Seconds since the epoch. */
  readonly epoch: number;
  readonly from: BuildTimeSource;
}

/** Options of {@link resolveBuildTime}. */
export interface ResolveBuildTimeOptions {
  /** An explicit time, in seconds since the epoch; wins over everything. */
  readonly sourceDateEpoch?: number | undefined;
  /** Folder whose git work tree gives the commit time (the solution file's folder). */
  readonly dir?: string | undefined;
  /** Environment to read `SOURCE_DATE_EPOCH` from. @default process.env */
  readonly env?: Readonly<Record<string, string | undefined>> | undefined;
}

/**
 * Committer time of HEAD of the work tree holding `dir`, or undefined when there is none (or no git).
 *
 * @example
 * ```ts
 * const seconds = await gitCommitTime('.'); // undefined outside a git work tree
 * ```
 */
export function gitCommitTime(dir: string): Promise<number | undefined> {
  return new Promise((resolve) => {
    execFile('git', ['-C', dir, 'log', '-1', '--format=%ct'], { timeout: 10_000, env: { ...process.env, GIT_OPTIONAL_LOCKS: '0' } }, (err, stdout) => {
      const text = String(stdout).trim();
      resolve(err || !/^\d+$/.test(text) ? undefined : Number(text));
    });
  });
}

/**
 * Resolves the build time: `sourceDateEpoch`, else `SOURCE_DATE_EPOCH`, else the last commit
 * time of the git work tree holding `dir`, else 0. A `SOURCE_DATE_EPOCH` that is not a number of
 * seconds is refused (`SOURCE_DATE_EPOCH_INVALID`), as `writeIso` and `buildImage` refuse it.
 *
 * @example
 * ```ts
 * const { epoch, from } = await resolveBuildTime({ dir: 'examples/zenko-like' });
 * console.log(new Date(epoch * 1000).toISOString(), from); // e.g. "2026-11-30T17:02:11.000Z git"
 * ```
 */
export async function resolveBuildTime(options: ResolveBuildTimeOptions = {}): Promise<BuildTime> {
  // The last second an ISO 9660 directory record can date (2155-12-31T23:59:59Z): refused here,
  // before a pack fetches its images, rather than by the ISO writer at the end.
  if (options.sourceDateEpoch !== undefined) return { epoch: numberOption('sourceDateEpoch', options.sourceDateEpoch, { integer: true, min: 0, max: 5_869_583_999, unit: 'seconds since 1970' }), from: 'option' };
  const env = sourceDateEpoch(options.env);
  if (env !== undefined) return { epoch: env, from: 'SOURCE_DATE_EPOCH' };
  if (options.dir !== undefined) {
    const t = await gitCommitTime(options.dir);
    if (t !== undefined) return { epoch: t, from: 'git' };
  }
  return { epoch: 0, from: 'default' };
}
