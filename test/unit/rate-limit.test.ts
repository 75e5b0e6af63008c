/**
 * The mutation rate limit's algorithm, in one process with a clock the test sets: any 60 s holds
 * at most the allowance plus a small burst, whatever the timing, and a steady caller at the
 * allowance is never refused. The same windows are counted in Redis (see
 * test/integration/rate-limit-shared.test.ts).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createMemoryRateLimiter, rateLimitBound, rateWindows } from '../../src/server/use-rate-limit.js';

const MINUTE = 60_000;

/** The largest sum of admitted costs in any half-open 60 s interval. */
function busiestMinute(admitted: Array<{ at: number; cost: number }>): number {
  let most = 0;
  for (const first of admitted) {
    // The busiest interval can always be taken to start at an admitted request.
    const sum = admitted.filter(({ at }) => at >= first.at && at < first.at + MINUTE).reduce((total, { cost }) => total + cost, 0);
    most = Math.max(most, sum);
  }
  return most;
}

describe('mutation rate limit (in memory, clock set by the test)', () => {
  it('states its bound: the allowance plus a sixth of it', () => {
    expect(rateLimitBound(600)).toBe(700);
    expect(rateLimitBound(60)).toBe(70);
    expect(rateLimitBound(5)).toBe(6);
    // One calendar-minute window and seven overlapping 70 s ones.
    expect(rateWindows(60).map((w) => [w.lengthMs, w.offsetMs, w.points])).toEqual([
      [60_000, 0, 60],
      ...Array.from({ length: 7 }, (_, j) => [70_000, j * 10_000, 70]),
    ]);
  });

  it('a subject may spend its allowance at once; the next mutation waits for the minute to roll over', async () => {
    let now = 5 * MINUTE + 5_000;
    const limiter = createMemoryRateLimiter({ perMinute: 60, now: () => now });
    expect((await limiter.take('a', 60)).allowed).toBe(true);
    expect(await limiter.take('a', 1)).toEqual({ allowed: false, retryAfterS: 55 });
    expect((await limiter.take('b', 1)).allowed).toBe(true);
    now += 55_000;
    expect((await limiter.take('a', 1)).allowed).toBe(true);
  });

  it('the allowance used at the start of a minute is not given again before 60 s have passed', async () => {
    // A token bucket refilled continuously admitted 60 + 59 here, within 60 s.
    let now = 7 * MINUTE;
    const limiter = createMemoryRateLimiter({ perMinute: 60, now: () => now });
    const admitted: Array<{ at: number; cost: number }> = [];
    for (const at of [now, now + 59_900]) {
      now = at;
      for (let i = 0; i < 60; i += 1) if ((await limiter.take('a', 1)).allowed) admitted.push({ at, cost: 1 });
    }
    expect(admitted.length).toBe(60);
  });

  it('50 just before and 50 just after a minute edge (limit 60): at most 70 pass, not 100', async () => {
    const edge = 9 * MINUTE;
    let now = edge - 100;
    const limiter = createMemoryRateLimiter({ perMinute: 60, now: () => now });
    let before = 0;
    let after = 0;
    for (let i = 0; i < 50; i += 1) if ((await limiter.take('a', 1)).allowed) before += 1;
    now = edge + 100;
    for (let i = 0; i < 50; i += 1) if ((await limiter.take('a', 1)).allowed) after += 1;
    expect(before).toBe(50);
    expect(before + after).toBeLessThanOrEqual(rateLimitBound(60));
  });

  it('straddling the edge of any window family, the total stays within the bound', async () => {
    // Every place a window of some family ends, over two overlap cycles.
    const edges = [...new Set(rateWindows(60).flatMap((w) => [1, 2, 3].map((k) => w.offsetMs + k * w.lengthMs)))];
    for (const edge of edges) {
      let now = edge - 1;
      const limiter = createMemoryRateLimiter({ perMinute: 60, now: () => now });
      let passed = 0;
      for (let i = 0; i < 120; i += 1) if ((await limiter.take('s', 1)).allowed) passed += 1;
      now = edge;
      for (let i = 0; i < 120; i += 1) if ((await limiter.take('s', 1)).allowed) passed += 1;
      expect(passed, `around ${edge} ms`).toBeLessThanOrEqual(rateLimitBound(60));
    }
  });

  it('a refused request costs nothing: a smaller one still fits', async () => {
    const limiter = createMemoryRateLimiter({ perMinute: 10, now: () => 1_000 });
    expect((await limiter.take('a', 8)).allowed).toBe(true);
    expect((await limiter.take('a', 5)).allowed).toBe(false);
    expect((await limiter.take('a', 2)).allowed).toBe(true);
    expect((await limiter.take('a', 1)).allowed).toBe(false);
  });

  it('a caller at a steady allowance a minute is never refused', async () => {
    let now = 0;
    const limiter = createMemoryRateLimiter({ perMinute: 60, now: () => now });
    // One a second for ten minutes, starting off the window grid.
    for (let i = 0; i < 600; i += 1) {
      now = 3_333 + i * 1_000;
      expect((await limiter.take('steady', 1)).allowed, `request ${i}`).toBe(true);
    }
  });

  it('for any timing and costs, no 60 s interval admits more than the bound', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 0, max: 10 * MINUTE }),
        fc.array(fc.record({ gap: fc.integer({ min: 0, max: 8_000 }), cost: fc.integer({ min: 1, max: 6 }) }), { minLength: 1, maxLength: 250 }),
        async (perMinute, start, requests) => {
          let now = start;
          const limiter = createMemoryRateLimiter({ perMinute, now: () => now });
          const admitted: Array<{ at: number; cost: number }> = [];
          for (const { gap, cost } of requests) {
            now += gap;
            const decision = await limiter.take('p', cost);
            if (decision.allowed) admitted.push({ at: now, cost });
            else expect(decision.retryAfterS).toBeGreaterThanOrEqual(1);
          }
          expect(busiestMinute(admitted)).toBeLessThanOrEqual(rateLimitBound(perMinute));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('is off at 0 per minute', async () => {
    const limiter = createMemoryRateLimiter({ perMinute: 0 });
    for (let i = 0; i < 100; i += 1) expect((await limiter.take('a', 1_000)).allowed).toBe(true);
  });
});
