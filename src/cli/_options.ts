/**
 * Options shared by the commands, so every command speaks one vocabulary: `-o, --out` for what
 * it writes, `-q, --quiet` for errors only, `--json` for CI. Former spellings stay accepted as
 * hidden aliases so existing scripts keep working.
 */
import { Option } from '@commander-js/extra-typings';
import { DOWNLOAD_CONCURRENCY, describeRule, meetsRule, type NumberRule, TCP_PORT } from '../_number-option.js';
import { ValidationError } from '../errors.js';

/** A hidden, former spelling of `--out` (`--out-dir`, `--output`). */
export function hiddenOutAlias<N extends string>(flag: N) {
  return new Option(`${flag} <path>` as `${N} <path>`).hideHelp();
}

/**
 * The output path of a command from `--out`, its hidden alias, a positional argument (older
 * spelling) or a default; two different values are refused.
 */
export function outPath(command: string, values: readonly (string | undefined)[], fallback?: string): string {
  const given = [...new Set(values.filter((v): v is string => v !== undefined))];
  if (given.length > 1)
    throw new ValidationError(
      [{ code: 'OPTION_CONFLICT', path: '--out', message: `two output paths given: ${given.join(', ')}`, severity: 'error', hint: `Give the output of ${command} once, with -o/--out.` }],
      'command line',
    );
  const out = given[0] ?? fallback;
  if (out === undefined)
    throw new ValidationError(
      [{ code: 'OPTION_MISSING', path: '--out', message: `${command} needs an output path`, severity: 'error', hint: `Add -o <path>.` }],
      'command line',
    );
  return out;
}

/** A numeric flag's rule, and an example value for the hint. */
export interface FlagRule extends NumberRule {
  readonly example: string;
}

/**
 * The number a flag was given (`undefined` when it was not), checked as the library checks its
 * options (`src/_number-option.ts`): `--concurrency abc`, `--older-than -1` or an empty value is
 * refused before the command does anything, with the flag named, where `Number()` alone gave
 * `NaN` or a negative number that silently changed what the command did.
 */
export function numberFlag(flag: string, value: string | undefined, rule: FlagRule): number | undefined {
  if (value === undefined) return undefined;
  const text = value.trim();
  const n = /^[+-]?(\d+(\.\d*)?|\.\d+)$/.test(text) ? Number(text) : Number.NaN;
  if (meetsRule(n, rule)) return n;
  throw new ValidationError(
    [{ code: 'OPTION_VALUE_INVALID', path: flag, message: `${JSON.stringify(value)} is not ${describeRule(rule)}`, severity: 'error', hint: `For example ${flag} ${rule.example}.` }],
    'command line',
  );
}

/**
 * A numeric option whose value commander parses with {@link numberFlag}: a bad value stops the
 * command before its body runs (before it connects or reads anything). A default given with
 * `.default(n)` is a number and is not parsed.
 */
export function numericOption<F extends string>(flags: F, description: string, rule: FlagRule) {
  const name = flags.split(/[\s,]+/).find((s) => s.startsWith('--')) ?? flags;
  return new Option(flags, description).argParser((value: string) => numberFlag(name, value, rule) as number);
}

/** The rules of the numeric flags, one per kind of value. */
export const FLAG_RULES = {
  port: { ...TCP_PORT, example: '22' },
  seconds: { min: 0, unit: 'seconds', example: '300' },
  wholeSeconds: { integer: true, min: 0, unit: 'seconds', example: '30' },
  timeoutSeconds: { min: 1, unit: 'seconds', example: '600' },
  downloads: { ...DOWNLOAD_CONCURRENCY, example: '4' },
  count: { integer: true, min: 1, unit: 'items', example: '10' },
  lines: { integer: true, min: 0, unit: 'lines', example: '100' },
  days: { min: 0, unit: 'days', example: '30' },
  mebibytes: { min: 1, unit: 'MiB', example: '256' },
  epoch: { integer: true, min: 0, max: 5_869_583_999, unit: 'seconds since 1970', example: '"$(git log -1 --format=%ct)"' },
} as const satisfies Record<string, FlagRule>;
