/**
 * The image hasher's ring: whatever the order of waits between the two threads, the digest is
 * the sha256 of the bytes handed over, in order; buffers asked ahead are the ones handed next.
 */
import { createHash, randomFillSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { IsoError } from '../../../../src/errors.js';
import { createImageHasher } from '../../../../src/packaging/iso/_hasher.js';

/** Fills `count` buffers of varied lengths, reading `ahead` buffers ahead as verify does. */
async function feed(threaded: boolean, count: number, ahead: number): Promise<{ ours: string | undefined; expected: string }> {
  const size = 4096;
  const hasher = createImageHasher(true, { size, slots: 4, threaded });
  const expected = createHash('sha256');
  const lengthOf = (i: number) => (i * 1237) % (size + 1);
  // Buffers filled ahead of the one handed over next: filled in turn, handed in turn.
  const queue: Buffer[] = [];
  for (let k = 0; k < ahead && k < count; k++) queue.push(randomFillSync(hasher.buffer(k), 0, lengthOf(k)));
  for (let i = 0; i < count; i++) {
    if (i + ahead < count) queue.push(randomFillSync(hasher.buffer(ahead), 0, lengthOf(i + ahead)));
    const buf = queue.shift()!;
    expect(buf).toBe(hasher.buffer());
    expected.update(buf.subarray(0, lengthOf(i)));
    hasher.update(buf, lengthOf(i));
  }
  return { ours: await hasher.digest(), expected: expected.digest('hex') };
}

describe('image hasher', () => {
  for (const threaded of [true, false]) {
    it(`${threaded ? 'on a worker thread' : 'inline'}: the digest of every byte handed over, in order`, async () => {
      const { ours, expected } = await feed(threaded, 500, 0);
      expect(ours).toBe(expected);
    });
    it(`${threaded ? 'on a worker thread' : 'inline'}: buffers asked one place ahead are the next ones handed over`, async () => {
      const { ours, expected } = await feed(threaded, 300, 1);
      expect(ours).toBe(expected);
    });
  }

  it('a writer far ahead of the hash waits for room and loses nothing (a ring of 4, thousands of buffers)', async () => {
    const { ours, expected } = await feed(true, 5000, 2);
    expect(ours).toBe(expected);
  });

  it('refuses a buffer asked further ahead than the ring holds', async () => {
    const hasher = createImageHasher(true, { size: 16, slots: 4, threaded: true });
    expect(() => hasher.buffer(4)).toThrow(IsoError);
    await hasher.close();
    const inline = createImageHasher(true, { size: 16, threaded: false });
    expect(() => inline.buffer(2)).toThrow(IsoError);
  });
});
