/**
 * The hash rings of the packaging layer: whatever the order of waits between the threads, a
 * digest is the sha256 of the bytes handed over, in order; buffers asked ahead are the ones
 * handed next; a handed-over buffer is not given out again before the ring has turned; rings
 * share a thread unless dedicated, threads stop once idle, and a closed ring leaves nothing
 * running.
 */
import { createHash, randomFillSync } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { IsoError, PackagingError } from '../../../src/errors.js';
import { type HashRing, hashThreadsRunning, IDLE_STOP_MS, openHashRing } from '../../../src/packaging/_hash-thread.js';
import { createSinkHasher } from '../../../src/packaging/iso/_sink.js';

const SIZE = 4096;
const lengthOf = (i: number) => (i * 1237) % (SIZE + 1);

/** Fills `count` buffers of varied lengths, reading `ahead` buffers ahead as verify does. */
async function feed(ring: HashRing, count: number, ahead: number, wait: 'sync' | 'async' = 'sync'): Promise<{ ours: string | undefined; expected: string }> {
  const expected = createHash('sha256');
  const get = async (k: number) => (wait === 'sync' ? ring.buffer(k) : await ring.nextBuffer(k));
  // Buffers filled ahead of the one handed over next: filled in turn, handed in turn.
  const queue: Buffer[] = [];
  for (let k = 0; k < ahead && k < count; k++) queue.push(randomFillSync(await get(k), 0, lengthOf(k)));
  for (let i = 0; i < count; i++) {
    if (i + ahead < count) queue.push(randomFillSync(await get(ahead), 0, lengthOf(i + ahead)));
    const buf = queue.shift()!;
    expect(buf).toBe(await get(0));
    expected.update(buf.subarray(0, lengthOf(i)));
    ring.update(buf, lengthOf(i));
  }
  return { ours: await ring.digest(), expected: expected.digest('hex') };
}

async function idle(): Promise<void> {
  const deadline = Date.now() + 5000;
  while (hashThreadsRunning() > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
}

describe('hash ring', () => {
  afterEach(idle);

  for (const threaded of [true, false]) {
    const how = threaded ? 'on a hashing thread' : 'inline';
    it(`${how}: the digest of every byte handed over, in order`, async () => {
      const { ours, expected } = await feed(openHashRing({ size: SIZE, slots: 4, threaded }), 500, 0);
      expect(ours).toBe(expected);
    });
    it(`${how}: buffers asked ahead are the next ones handed over`, async () => {
      const { ours, expected } = await feed(openHashRing({ size: SIZE, slots: 4, threaded }), 300, 1);
      expect(ours).toBe(expected);
      const again = await feed(openHashRing({ size: SIZE, slots: 4, threaded }), 300, 3);
      expect(again.ours).toBe(again.expected);
    });
    it(`${how}: a buffer handed over is not given out again before the ring has turned`, async () => {
      const ring = openHashRing({ size: SIZE, slots: 4, threaded });
      const seen: Buffer[] = [];
      for (let i = 0; i < 4; i++) {
        const buf = await ring.nextBuffer();
        expect(seen).not.toContain(buf);
        seen.push(buf);
        ring.update(buf, 1);
      }
      expect(seen).toContain(await ring.nextBuffer());
      await ring.digest();
    });
  }

  it('a writer far ahead of the hash waits for room and loses nothing (a ring of 4, thousands of buffers)', async () => {
    const { ours, expected } = await feed(openHashRing({ size: SIZE, slots: 4, threaded: true }), 5000, 2);
    expect(ours).toBe(expected);
  });

  it('waits for room without blocking the event loop, and hands out a free buffer with no promise', async () => {
    const ring = openHashRing({ size: 1 << 20, slots: 2, threaded: true });
    const expected = createHash('sha256');
    let ticks = 0;
    let waits = 0;
    const timer = setInterval(() => ticks++, 0);
    try {
      // 200 MiB handed over faster than it can be hashed, through a ring of two.
      for (let i = 0; i < 200; i++) {
        const next = ring.nextBuffer();
        if (next instanceof Promise) waits++;
        const buf = await next;
        buf[0] = i;
        expected.update(buf);
        ring.update(buf, buf.length);
      }
      expect(waits).toBeGreaterThan(10);
      // Timers ran while the caller waited (a blocked thread runs none).
      expect(ticks).toBeGreaterThan(0);
    } finally {
      clearInterval(timer);
    }
    expect(await ring.digest()).toBe(expected.digest('hex'));
  });

  it('a wait that outlives its need does not leave a later wait unwoken (the hang of a pull with two ingest buffers)', async () => {
    // 32 MiB buffers: each takes the thread ~15 ms to hash, far longer than the steps below.
    const ring = openHashRing({ size: 32 << 20, slots: 1, threaded: true });
    const expected = createHash('sha256');
    const hand = (buf: Buffer, i: number) => {
      buf.fill(i);
      expected.update(buf);
      ring.update(buf, buf.length);
    };
    hand(ring.buffer(), 1);
    // Asked for, then found free another way before that wait has run again: it is left behind.
    const leftBehind = ring.nextBuffer();
    expect(leftBehind).toBeInstanceOf(Promise);
    hand(ring.buffer(), 2);
    // The next wait starts while the one left behind has yet to finish.
    const later = ring.nextBuffer();
    expect(later).toBeInstanceOf(Promise);
    await leftBehind;
    const woken = await Promise.race([later, new Promise<'never woken'>((r) => setTimeout(() => r('never woken'), 5000))]);
    expect(woken).toBeInstanceOf(Buffer);
    hand(woken as Buffer, 3);
    expect(await ring.digest()).toBe(expected.digest('hex'));
  });

  it('rings hashed at the same time share one thread, each with its own digest; a dedicated ring gets its own', async () => {
    const rings = [0, 1, 2].map(() => openHashRing({ size: SIZE, slots: 4, threaded: true }));
    expect(hashThreadsRunning()).toBe(1);
    const dedicated = openHashRing({ size: SIZE, slots: 4, threaded: true, dedicated: true });
    expect(hashThreadsRunning()).toBe(2);
    const results = await Promise.all([...rings, dedicated].map((r, k) => feed(r, 200 + k * 50, 1, 'async')));
    for (const { ours, expected } of results) expect(ours).toBe(expected);
    // The dedicated ring's thread stopped with it; the shared one waits for more work.
    expect(hashThreadsRunning()).toBe(1);
  });

  it('a dedicated ring takes an idle thread, and stops it once its digest is in', async () => {
    const shared = await feed(openHashRing({ size: SIZE, threaded: true }), 10, 0);
    expect(shared.ours).toBe(shared.expected);
    expect(hashThreadsRunning()).toBe(1);
    const whole = await feed(openHashRing({ size: SIZE, threaded: true, dedicated: true }), 10, 0);
    expect(whole.ours).toBe(whole.expected);
    expect(hashThreadsRunning()).toBe(0);
  });

  it('stops its threads once idle, and a later ring starts one that hashes correctly', async () => {
    const first = await feed(openHashRing({ size: SIZE, threaded: true }), 50, 0);
    expect(first.ours).toBe(first.expected);
    expect(hashThreadsRunning()).toBe(1);
    await new Promise((r) => setTimeout(r, IDLE_STOP_MS * 3));
    expect(hashThreadsRunning()).toBe(0);
    const second = await feed(openHashRing({ size: SIZE, threaded: true }), 50, 0);
    expect(second.ours).toBe(second.expected);
  });

  it('a ring closed half-way leaves its thread free for the next ring, whose digest is right', async () => {
    const dropped = openHashRing({ size: SIZE, slots: 4, threaded: true });
    for (let i = 0; i < 3; i++) dropped.update(randomFillSync(dropped.buffer()), SIZE);
    await dropped.close();
    await dropped.close();
    const next = await feed(openHashRing({ size: SIZE, slots: 4, threaded: true }), 100, 1);
    expect(next.ours).toBe(next.expected);
    expect(hashThreadsRunning()).toBe(1);
  });

  it('starts no thread for small work: inline, or not hashing', async () => {
    const plain = openHashRing({ size: SIZE, slots: 2, hash: false });
    plain.update(plain.buffer(), 10);
    expect(await plain.digest()).toBeUndefined();
    expect(hashThreadsRunning()).toBe(0);
    // The ISO writer: an image under 64 MiB of file data is hashed inline, a larger one on a thread.
    const small = createSinkHasher(true, 10 * 1024 * 1024);
    expect(hashThreadsRunning()).toBe(0);
    small.update(small.buffer(), 0);
    expect(await small.digest()).toBe(createHash('sha256').digest('hex'));
    const large = createSinkHasher(true, 1024 * 1024 * 1024);
    expect(hashThreadsRunning()).toBe(1);
    await large.close();
  });

  it('refuses, with a typed error, a buffer asked further ahead than the ring holds, or one handed out of turn', async () => {
    const ring = openHashRing({ size: 16, slots: 4, threaded: true });
    expect(() => ring.buffer(4)).toThrow(PackagingError);
    expect(() => ring.nextBuffer(4)).toThrow(/4 places ahead/);
    expect(() => ring.update(ring.buffer(1), 16)).toThrow(/out of turn/);
    await ring.close();
    const inline = createSinkHasher(true, 0);
    expect(() => inline.buffer(2)).toThrow(IsoError);
    expect(() => inline.update(Buffer.alloc(16), 1)).toThrow(IsoError);
  });
});
