/**
 * `SOURCE_DATE_EPOCH` (reproducible-builds.org), read in one place: `resolveBuildTime` (pack,
 * `solution render`), `writeIso` and `buildImage` take it from here and refuse a bad value the
 * same way.
 */
import { PackagingError } from '../errors.js';

/**
 * The `SOURCE_DATE_EPOCH` of `env` in seconds, or `undefined` when it is unset or empty.
 * Throws a `PackagingError` (`SOURCE_DATE_EPOCH_INVALID`) when it is not a whole number of seconds.
 */
export function sourceDateEpoch(env: Readonly<Record<string, string | undefined>> = process.env): number | undefined {
  const value = env.SOURCE_DATE_EPOCH;
  if (value === undefined || value === '') return undefined;
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(Number(value)) || Number.isNaN(new Date(Number(value) * 1000).getTime())) {
    throw new PackagingError('SOURCE_DATE_EPOCH_INVALID', `SOURCE_DATE_EPOCH=${JSON.stringify(value)} is not a number of seconds since 1970`, {
      hint: 'Set SOURCE_DATE_EPOCH to a Unix time in seconds, e.g. SOURCE_DATE_EPOCH="$(git log -1 --format=%ct)", or unset it.',
    });
  }
  return Number(value);
}

/** `SOURCE_DATE_EPOCH` as a date, or `undefined` when it is unset (see {@link sourceDateEpoch}). */
export function sourceDate(env: Readonly<Record<string, string | undefined>> = process.env): Date | undefined {
  const epoch = sourceDateEpoch(env);
  return epoch === undefined ? undefined : new Date(epoch * 1000);
}
