/**
 * Terminal output for the CLI: the only place in the SDK that prints.
 *
 * Errors are printed as one readable block (what, where, what to do) and never as a stack
 * trace, unless `SOLUTION_DEBUG=1` is set. With `--json`, every line on stdout is one JSON
 * event, so CI can parse the output.
 */
import { AbortError, type Issue, SdkError, ValidationError } from '../errors.js';

/** Output settings shared by every command. */
export interface OutputOptions {
  /** One JSON object per line on stdout instead of human text. */
  readonly json?: boolean | undefined;
  /** Only errors. */
  readonly quiet?: boolean | undefined;
}

/** Formats a list of issues, one per line, errors first. */
export function formatIssues(issues: readonly Issue[]): string {
  const sorted = [...issues].sort((a, b) => (a.severity === b.severity ? 0 : a.severity === 'error' ? -1 : 1));
  return sorted
    .map((i) => {
      const where = i.path ? `${i.path}: ` : '';
      const hint = i.hint ? `\n      hint: ${i.hint}` : '';
      return `  ${i.severity === 'error' ? 'error  ' : 'warning'} ${where}${i.message} [${i.code}]${hint}`;
    })
    .join('\n');
}

/** Turns any thrown value into the text a user should see. */
export function formatError(err: unknown): string {
  if (err instanceof ValidationError) {
    const errors = err.issues.filter((i) => i.severity === 'error').length;
    const warnings = err.issues.length - errors;
    return `${err.message.split(':')[0]}: ${errors} error(s), ${warnings} warning(s)\n${formatIssues(err.issues)}`;
  }
  if (err instanceof SdkError) {
    const hint = err.hint ? `\n  hint: ${err.hint}` : '';
    const cause =
      err.cause instanceof Error && !(err.cause instanceof SdkError) ? `\n  cause: ${err.cause.message}` : '';
    return `error: ${err.message} [${err.code}]${hint}${cause}`;
  }
  if (err instanceof Error) {
    const code = (err as NodeJS.ErrnoException).code;
    return `error: ${err.message}${code ? ` [${code}]` : ''}\n  hint: this looks like a bug in the SDK or an environment problem; rerun with SOLUTION_DEBUG=1 for details.`;
  }
  return `error: ${String(err)}`;
}

/** Serialises an error as a JSON event. */
export function errorEvent(err: unknown): Record<string, unknown> {
  if (err instanceof ValidationError) {
    return { type: 'error', code: err.code, message: err.message, issues: err.issues };
  }
  if (err instanceof SdkError) {
    return { type: 'error', code: err.code, message: err.message, hint: err.hint };
  }
  return { type: 'error', code: 'INTERNAL', message: err instanceof Error ? err.message : String(err) };
}

/** Prints human lines or JSON events according to the output options. */
export class Output {
  constructor(private readonly options: OutputOptions = {}) {}

  get json(): boolean {
    return this.options.json === true;
  }

  /** A line of normal output (suppressed by --quiet and --json). */
  info(line: string): void {
    if (!this.options.quiet && !this.options.json) process.stdout.write(`${line}\n`);
  }

  /** Whether only errors are printed. */
  get quiet(): boolean {
    return this.options.quiet === true;
  }

  /** A result: text for humans (not with --quiet), the object for --json (always). */
  result(text: string, data: unknown): void {
    if (this.options.json) process.stdout.write(`${JSON.stringify({ type: 'result', data })}\n`);
    else if (!this.options.quiet) process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
  }

  /** Problems found by a command that did not throw (e.g. `verify`): stderr, printed even with --quiet. */
  problems(text: string): void {
    if (!this.options.json) process.stderr.write(text.endsWith('\n') ? text : `${text}\n`);
  }

  /** A warning on stderr (a JSON event with --json). */
  warn(line: string): void {
    if (this.options.json) process.stdout.write(`${JSON.stringify({ type: 'warning', message: line })}\n`);
    else if (!this.options.quiet) process.stderr.write(`warning: ${line}\n`);
  }

  /** A progress event: a JSON line with --json; the caller draws bars on a TTY. */
  event(event: Record<string, unknown>): void {
    if (this.options.json) process.stdout.write(`${JSON.stringify(event)}\n`);
  }

  /** Prints an error and sets a failing exit code. */
  error(err: unknown): void {
    if (this.options.json) process.stdout.write(`${JSON.stringify(errorEvent(err))}\n`);
    else process.stderr.write(`${formatError(err)}\n`);
    if (process.env.SOLUTION_DEBUG === '1' && err instanceof Error && err.stack) process.stderr.write(`${err.stack}\n`);
    // 130 is what shells report for a command stopped by Ctrl-C.
    process.exitCode = err instanceof AbortError ? 130 : 1;
  }
}

/**
 * Wraps a command action: errors become a readable message and exit code 1, never a stack trace.
 */
export function action<A extends unknown[]>(
  fn: (...args: A) => Promise<void>,
  outputOf: (...args: A) => Output = () => new Output(),
): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await fn(...args);
    } catch (err) {
      outputOf(...args).error(err);
    }
  };
}
