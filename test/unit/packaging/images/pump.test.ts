/**
 * How a download's body is fed to the blob store (`pump` in _registry.ts): a chunk whose handling
 * is still pending when the body ends must be done before the download counts as complete.
 */
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { pump } from '../../../../src/packaging/images/_registry.js';

/** A body whose bytes and end have all arrived before it is read, as a fast registry's do. */
function arrived(...parts: string[]): Readable {
  const body = new Readable({ read() {} });
  for (const p of parts) body.push(Buffer.from(p));
  body.push(null);
  return body;
}

const later = (ms: number, then: () => void) =>
  new Promise<void>((r) =>
    setTimeout(() => {
      then();
      r();
    }, ms),
  );

describe('pump', () => {
  it('resolves only once the last chunk is handled, though the body ended while it was', async () => {
    const body = arrived('a', 'b', 'c');
    const seen: string[] = [];
    body.on('end', () => seen.push('end'));
    await pump(body, (c) => {
      seen.push(c.toString());
      return c.toString() === 'c' ? later(50, () => seen.push('c handled')) : undefined;
    });
    seen.push('resolved');
    expect(seen.indexOf('resolved')).toBeGreaterThan(seen.indexOf('c handled'));
    expect(seen.filter((s) => s !== 'end')).toEqual(['a', 'b', 'c', 'c handled', 'resolved']);
  });

  it('waits for each chunk before the next, and rejects when the last one fails after the end', async () => {
    const body = arrived('a', 'b', 'c');
    const seen: string[] = [];
    let busy = false;
    const err = await pump(body, (c) => {
      expect(busy).toBe(false);
      seen.push(c.toString());
      busy = true;
      return later(10, () => (busy = false)).then(() => {
        if (c.toString() === 'c') throw new Error('disk full');
      });
    }).catch((e: unknown) => e);
    expect(seen).toEqual(['a', 'b', 'c']);
    expect((err as Error).message).toBe('disk full');
  });
});
