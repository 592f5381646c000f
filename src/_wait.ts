/**
 * Waiting, in one place: a `sleep` that a signal can cut short (an `AbortError` naming what was
 * waited for) and `pollUntil`, the loop that asks until an answer comes or the time is up.
 */
import { AbortError, throwIfAborted } from './errors.js';
import { MILLISECONDS, numberOption } from './_number-option.js';

/** Resolves after `ms`, or rejects with an `AbortError` about `what` as soon as `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal | undefined, what = 'waiting'): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(new AbortError(what, { cause: signal.reason }));
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(new AbortError(what, { cause: signal?.reason }));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Options of {@link pollUntil}. */
export interface PollOptions {
  /** What is waited for, for the `AbortError` and the `onWait` calls. */
  readonly what: string;
  /** How long to keep asking: a number of milliseconds, 0 or more. */
  readonly timeoutMs: number;
  /** Pause between two probes. @default 500 */
  readonly intervalMs?: number | undefined;
  readonly signal?: AbortSignal | undefined;
  /** Called after each probe that gave nothing, with the time spent so far. */
  readonly onWait?: ((elapsedMs: number) => void) | undefined;
}

/**
 * Calls `probe` until it gives a value other than `undefined`, and returns it; `undefined` when
 * `timeoutMs` passed first. Throws an `AbortError` when `signal` aborts, and `OPTION_INVALID`
 * for a `timeoutMs` that is not a finite number, 0 or more.
 */
export async function pollUntil<T>(probe: () => Promise<T | undefined>, options: PollOptions): Promise<T | undefined> {
  // The last line of defence: `elapsedMs > NaN` is never true, so a NaN timeout polled forever.
  numberOption('timeoutMs', options.timeoutMs, MILLISECONDS);
  const start = Date.now();
  for (;;) {
    throwIfAborted(options.signal, options.what);
    const value = await probe();
    if (value !== undefined) return value;
    const elapsedMs = Date.now() - start;
    if (elapsedMs > options.timeoutMs) return undefined;
    options.onWait?.(elapsedMs);
    await sleep(options.intervalMs ?? 500, options.signal, options.what);
  }
}
