/**
 * Terminal output for the CLI: the only place in the SDK that prints.
 *
 * Errors are printed as one readable block (what, where, what to do) and never as a stack
 * trace, unless `SOLUTION_DEBUG=1` is set. With `--json`, every line on stdout is one JSON
 * event, so CI can parse the output.
 */
import { AbortError, fromSystemError, type Issue, SdkError, ValidationError } from '../errors.js';

/** Output settings shared by every command. */
export interface OutputOptions {
  /** One JSON object per line on stdout instead of human text. */
  readonly json?: boolean | undefined;
  /** Only errors. */
  readonly quiet?: boolean | undefined;
}

/** Exit codes shells report for a command stopped by a signal. */
const SIGNAL_EXIT = { SIGINT: 130, SIGTERM: 143 } as const;

/** Set while {@link stopOnSignals} handlers are installed. */
let stopping: (() => void) | undefined;
/** The first stop signal this process received. */
let received: keyof typeof SIGNAL_EXIT | undefined;

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

/** Node's own abort errors (`ABORT_ERR`) are the SDK's {@link AbortError}; file-system errors get their codes. */
function normalise(thrown: unknown): unknown {
  if (thrown instanceof Error && !(thrown instanceof SdkError) && ((thrown as NodeJS.ErrnoException).code === 'ABORT_ERR' || thrown.name === 'AbortError')) {
    return new AbortError(received ? `the command (${received})` : 'the command', { cause: thrown });
  }
  // Ordinary file-system mistakes (a missing file, a full disk) get their own code and hint.
  return fromSystemError(thrown) ?? thrown;
}

/** Turns any thrown value into the text a user should see. */
export function formatError(thrown: unknown): string {
  const err = normalise(thrown);
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
export function errorEvent(thrown: unknown): Record<string, unknown> {
  const err = normalise(thrown);
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
    if (isClosedOutput(err)) return;
    if (this.options.json) process.stdout.write(`${JSON.stringify(errorEvent(err))}\n`);
    else process.stderr.write(`${formatError(err)}\n`);
    if (process.env.SOLUTION_DEBUG === '1' && err instanceof Error && err.stack) process.stderr.write(`${err.stack}\n`);
    // 130 / 143: what shells report for a command stopped by SIGINT / SIGTERM.
    process.exitCode = normalise(err) instanceof AbortError ? SIGNAL_EXIT[received ?? 'SIGINT'] : 1;
  }
}

/** How long a command has to stop by itself after SIGINT or SIGTERM before it is ended. */
export const STOP_GRACE_MS = 5000;

let outputClosed = false;

/**
 * A reader that stops early (`solution iso ls x.iso | head`) closes the pipe: the command stops
 * there, quietly and with success, as `ls | head` does, instead of reporting `write EPIPE`.
 * Only standard output's own error counts, so a registry or SSH connection that breaks is still
 * reported.
 */
export function stopOnClosedOutput(): void {
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err;
    outputClosed = true;
    process.exit(0);
  });
}

/** Whether `err` is standard output being closed by its reader (see {@link stopOnClosedOutput}). */
export function isClosedOutput(err: unknown): boolean {
  return outputClosed && (err as NodeJS.ErrnoException | undefined)?.code === 'EPIPE';
}

/**
 * Stops the process cleanly on SIGINT and SIGTERM, for every command: the first signal gives
 * the command {@link STOP_GRACE_MS} to finish its own clean-up (commands that take an
 * AbortSignal abort and remove their temporary files); then, or at a second signal, the process
 * exits with 130 (SIGINT) or 143 (SIGTERM). Returns a function that removes the handlers.
 */

export function stopOnSignals(): () => void {
  // Once per process: main() installs it before loading any command.
  if (stopping) return () => undefined;
  let first: NodeJS.Signals | undefined;
  const handler = (signal: NodeJS.Signals) => {
    const code = SIGNAL_EXIT[signal as keyof typeof SIGNAL_EXIT] ?? 1;
    if (first !== undefined) {
      process.stderr.write(`stopped (${signal})\n`);
      process.exit(code);
    }
    first = signal;
    if (signal === 'SIGINT' || signal === 'SIGTERM') received = signal;
    setTimeout(() => {
      process.stderr.write(`stopped (${signal})\n`);
      process.exit(code);
    }, STOP_GRACE_MS).unref();
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  stopping = () => {
    process.off('SIGINT', handler);
    process.off('SIGTERM', handler);
    stopping = undefined;
  };
  return stopping;
}

/**
 * Removes the {@link stopOnSignals} handlers, for a command that handles SIGINT and SIGTERM itself
 * and needs longer than the grace period to stop (the emulator's server stopping its processes).
 */
export function handleSignalsYourself(): void {
  stopping?.();
}

/**
 * Wraps a command action: errors become a readable message and exit code 1, never a stack
 * trace; SIGINT and SIGTERM stop it cleanly ({@link stopOnSignals}).
 */
export function action<A extends unknown[]>(
  fn: (...args: A) => Promise<void>,
  outputOf: (...args: A) => Output = () => new Output(),
): (...args: A) => Promise<void> {
  return async (...args: A) => {
    stopOnSignals();
    try {
      await fn(...args);
    } catch (err) {
      outputOf(...args).error(err);
    }
  };
}

/** Runs `fn` with an AbortSignal that Ctrl-C (SIGINT) and SIGTERM fire. */
export async function withInterrupt<T>(fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const ctl = new AbortController();
  const stop = () => ctl.abort(new Error('interrupted'));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    return await fn(ctl.signal);
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    if (ctl.signal.aborted) process.exitCode = 130;
  }
}
