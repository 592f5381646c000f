/**
 * `pool`: runs a task over each item, a few at a time, with the failure rule every parallel fetch
 * of the SDK shares (the blobs of one image in `fetchImage`, the images of `pack`, of
 * `solution images pull` and `images layout`). On the first failure the other tasks are
 * cancelled through the signal they were given, and awaited, so that no download is still
 * writing when the error reaches the caller. Written here (a dozen lines) rather than taken from
 * a concurrency library: none of the common ones (p-limit, p-map) cancels the tasks already
 * running when one fails, which is the point.
 */
import { AbortError } from '../../errors.js';

/**
 * Runs `fn(item, signal, index)` over `items`, `limit` at a time (at least one), in order of
 * start. Throws the first task's error (an `AbortError` about `what` when `outer` aborted first).
 */
export async function pool<T>(
  items: readonly T[],
  limit: number,
  outer: AbortSignal | undefined,
  what: string,
  fn: (item: T, signal: AbortSignal, index: number) => Promise<void>,
): Promise<void> {
  const ctl = new AbortController();
  const onAbort = () => ctl.abort(outer?.reason);
  if (outer?.aborted) onAbort();
  else outer?.addEventListener('abort', onAbort, { once: true });
  let next = 0;
  let first: { error: unknown } | undefined;
  const worker = async () => {
    while (!ctl.signal.aborted && next < items.length) {
      const index = next++;
      try {
        await fn(items[index]!, ctl.signal, index);
      } catch (error) {
        if (!first) first = { error };
        ctl.abort(error);
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  } finally {
    outer?.removeEventListener('abort', onAbort);
  }
  if (outer?.aborted) throw new AbortError(what, { cause: outer.reason });
  if (first) throw first.error;
}
