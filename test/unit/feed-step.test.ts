import { describe, expect, it } from 'vitest';
import { backoffMs, bounded } from '../../src/bus/feed/step.js';

const blockFor = (ms: number) => {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    // a busy event loop: a burst of work on a loaded machine
  }
};

describe('feed steps', () => {
  it('a step that does not answer in time fails with SERVICE_UNAVAILABLE', async () => {
    await expect(bounded(new Promise(() => {}), 20, 'a hung read')).rejects.toMatchObject({ code: 'SERVICE_UNAVAILABLE' });
  });

  it('an answer that arrived while the event loop was blocked past the bound still wins', async () => {
    // The answer comes as I/O (a timer here stands for the socket): ready at 5 ms, the bound at
    // 10 ms, the loop blocked for 50 ms, so both are due when the loop comes back.
    const answer = new Promise<string>((resolve) => setTimeout(() => setImmediate(() => resolve('answered')), 5));
    const step = bounded(answer, 10, 'a read');
    blockFor(50);
    await expect(step).resolves.toBe('answered');
  });

  it('backs off from 100 ms doubling, with jitter, never past the cap', () => {
    for (let i = 0; i < 50; i++) {
      expect(backoffMs(1, 2_000)).toBeGreaterThanOrEqual(75);
      expect(backoffMs(1, 2_000)).toBeLessThanOrEqual(100);
      expect(backoffMs(3, 2_000)).toBeGreaterThanOrEqual(300);
      expect(backoffMs(30, 2_000)).toBeLessThanOrEqual(2_000);
    }
  });
});
