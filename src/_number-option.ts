/**
 * Numeric options, checked in one place. A number given to an SDK call (a timeout, a
 * concurrency, a size, an age) or typed on the command line must be a finite number in its
 * range: `NaN` compares false with everything, so an unchecked one silently turned a limit off
 * (`prune({ olderThanMs: NaN })` removed every blob, `NaN` as a timeout waited forever, `NaN`
 * as a concurrency started no download at all). The library throws an {@link SdkError}
 * `OPTION_INVALID` naming the option; the CLI parses its flags with the same rules and reports
 * them as a `ValidationError` of the command line (`src/cli/_options.ts`).
 */
import { SdkError } from './errors.js';

/** What a numeric option accepts. */
export interface NumberRule {
  /** A whole number. @default false */
  readonly integer?: boolean | undefined;
  /** Smallest value accepted. @default no bound */
  readonly min?: number | undefined;
  /** Largest value accepted. @default no bound */
  readonly max?: number | undefined;
  /** What the number counts, for the message: `milliseconds`, `downloads at once`. */
  readonly unit: string;
  /** The whole phrase, range included, instead of `a whole number of <unit>, …`: `a TCP port (1 to 65535)`. */
  readonly noun?: string | undefined;
}

/** Parallel downloads (`fetchImage`, `pack`, `solution images pull --concurrency`): 1 to 64. */
export const DOWNLOAD_CONCURRENCY: NumberRule = { integer: true, min: 1, max: 64, unit: 'downloads at once' };

/**
 * The longest delay a Node.js timer keeps (2^31 - 1 ms, about 24.8 days): a longer one fires
 * after 1 ms instead, so a poll interval above it would poll without pause.
 */
export const MAX_TIMER_MS = 2_147_483_647;

/** A size in bytes, 0 or more: a limit, a size to compare with. */
export const BYTES: NumberRule = { min: 0, unit: 'bytes' };

/** A duration in milliseconds, 0 or more: how long to wait, how old. */
export const MILLISECONDS: NumberRule = { min: 0, unit: 'milliseconds' };

/** A delay handed to a timer (a poll interval, a retry delay): 0 to {@link MAX_TIMER_MS}. */
export const TIMER_MS: NumberRule = { min: 0, max: MAX_TIMER_MS, unit: 'milliseconds' };

/** A TCP port: SSH of the bootstrap node and of a new node, `--port`, `--ssh-port`. */
export const TCP_PORT: NumberRule = { integer: true, min: 1, max: 65_535, unit: 'ports', noun: 'a TCP port (1 to 65535)' };

/** Whether `value` satisfies `rule`. */
export function meetsRule(value: unknown, rule: NumberRule): value is number {
  return (
    typeof value === 'number' &&
    Number.isFinite(value) &&
    (!rule.integer || Number.isInteger(value)) &&
    value >= (rule.min ?? Number.NEGATIVE_INFINITY) &&
    value <= (rule.max ?? Number.POSITIVE_INFINITY)
  );
}

/** The rule in words: `a whole number of milliseconds, 0 or more`. */
export function describeRule(rule: NumberRule): string {
  if (rule.noun !== undefined) return rule.noun;
  const what = `${rule.integer ? 'a whole number' : 'a number'} of ${rule.unit}`;
  const { min, max } = rule;
  if (min !== undefined && max !== undefined) return `${what}, from ${min} to ${max}`;
  if (min !== undefined) return `${what}, ${min} or more`;
  if (max !== undefined) return `${what}, ${max} or less`;
  return what;
}

/**
 * `value` when it is `undefined` or meets `rule`; otherwise throws `OPTION_INVALID` naming
 * `name` (the option as the caller spells it: `olderThanMs`, `drain.timeoutMs`).
 */
export function numberOption<T extends number | undefined>(name: string, value: T, rule: NumberRule): T {
  if (value === undefined || meetsRule(value, rule)) return value;
  const shown = typeof value === 'number' ? String(value) : JSON.stringify(value);
  throw new SdkError('OPTION_INVALID', `${name} is ${shown}: it must be ${describeRule(rule)}`, {
    hint: `Pass ${name} as ${describeRule(rule)}, or leave it out for the default.`,
  });
}
