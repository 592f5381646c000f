/**
 * Options shared by the commands, so every command speaks one vocabulary: `-o, --out` for what
 * it writes, `-q, --quiet` for errors only, `--json` for CI. Former spellings stay accepted as
 * hidden aliases so existing scripts keep working.
 */
import { Option } from '@commander-js/extra-typings';
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
