import { describe, expect, it } from 'vitest';
import { createWatchQueue } from '../../src/bus/feed/watch-queue.js';

describe('bounded watch queue', () => {
  it('hands items in order to a consumer that waits or comes later', async () => {
    const queue = createWatchQueue<number>({ maxQueued: 10, lowWater: 2 });
    const waiting = queue.iterator.next();
    queue.push(1, true);
    queue.push(2, true);
    expect(await waiting).toEqual({ value: 1, done: false });
    expect(await queue.iterator.next()).toEqual({ value: 2, done: false });
  });

  it('reports an overflow of counted items, never of uncounted ones (replayed history)', () => {
    const queue = createWatchQueue<number>({ maxQueued: 2, lowWater: 1 });
    for (let i = 0; i < 5; i++) expect(queue.push(i, false)).toBe(true);
    const counted = createWatchQueue<number>({ maxQueued: 2, lowWater: 1 });
    expect([counted.push(1, true), counted.push(2, true), counted.push(3, true)]).toEqual([true, true, false]);
  });

  it('failing lets the consumer take what is queued, then raises the error once, then ends', async () => {
    let ended = 0;
    const queue = createWatchQueue<number>({ maxQueued: 10, lowWater: 2, onEnd: () => ended++ });
    queue.push(1, true);
    const error = new Error('too slow');
    queue.fail(error);
    queue.fail(new Error('again'));
    expect(ended).toBe(1);
    expect(await queue.iterator.next()).toEqual({ value: 1, done: false });
    await expect(queue.iterator.next()).rejects.toBe(error);
    expect(await queue.iterator.next()).toEqual({ value: undefined, done: true });
  });

  it('failing rejects a consumer already waiting', async () => {
    const queue = createWatchQueue<number>({ maxQueued: 10, lowWater: 2 });
    const waiting = queue.iterator.next();
    queue.fail(new Error('gone'));
    await expect(waiting).rejects.toThrow('gone');
  });

  it('return() ends the watch at once, drops what is queued and tells its owner', async () => {
    let ended = 0;
    const queue = createWatchQueue<number>({ maxQueued: 10, lowWater: 2, onEnd: () => ended++ });
    queue.push(1, true);
    await queue.iterator.return!();
    expect(ended).toBe(1);
    expect(queue.size).toBe(0);
    expect(await queue.iterator.next()).toEqual({ value: undefined, done: true });
  });

  it('space() waits until the consumer drained to the low-water mark', async () => {
    const queue = createWatchQueue<number>({ maxQueued: 100, lowWater: 1 });
    for (let i = 0; i < 4; i++) queue.push(i, false);
    let roomy = false;
    const space = queue.space().then(() => (roomy = true));
    await queue.iterator.next();
    await queue.iterator.next();
    await Promise.resolve();
    expect(roomy).toBe(false);
    await queue.iterator.next();
    await space;
    expect(roomy).toBe(true);
  });

  it('keeps memory bounded while a long stream passes through', async () => {
    const queue = createWatchQueue<number>({ maxQueued: 10_000, lowWater: 10 });
    for (let round = 0; round < 5; round++) {
      for (let i = 0; i < 3_000; i++) queue.push(i, true);
      let inOrder = true;
      for (let i = 0; i < 3_000; i++) if ((await queue.iterator.next()).value !== i) inOrder = false;
      expect(inOrder).toBe(true);
    }
    expect(queue.size).toBe(0);
  });
});
