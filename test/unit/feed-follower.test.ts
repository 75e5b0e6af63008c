import { afterEach, describe, expect, it, vi } from 'vitest';
import { createRevisionChecker, type FollowedNamespace } from '../../src/bus/feed/follower.js';

const ns = (name: string, delivered: number, subscribed = true): FollowedNamespace => ({ name, started: true, delivered, subscribed });

describe('periodic revision check', () => {
  afterEach(() => vi.useRealTimers());

  it('one query for every followed namespace; a namespace behind is handed over after the grace, the others are current', async () => {
    vi.useFakeTimers();
    const queries: string[][] = [];
    const seen: string[] = [];
    const followed = [ns('a', 5), ns('b', 3, false), { ...ns('c', 0), started: false }];
    const checker = createRevisionChecker({
      intervalMs: 1_000,
      stepTimeoutMs: 500,
      graceMs: 100,
      followed: () => followed,
      readRevisions: async (names) => {
        queries.push([...names]);
        return new Map([
          ['a', 5],
          ['b', 4],
        ]);
      },
      resubscribe: (n) => seen.push(`resubscribe:${n.name}`),
      answered: (n) => seen.push(`answered:${n.name}`),
      current: (n) => seen.push(`current:${n.name}`),
      behind: (n, revision) => seen.push(`behind:${n.name}@${revision}`),
    });
    expect(await checker.check()).toBe(true);
    expect(queries).toEqual([['a', 'b']]);
    expect(seen).toEqual(['resubscribe:b', 'answered:a', 'current:a', 'answered:b']);
    await vi.advanceTimersByTimeAsync(100);
    expect(seen.at(-1)).toBe('behind:b@4');
    checker.stop();
  });

  it('a check that never answers fails after its timeout, and the next one still runs, sooner than the interval', async () => {
    vi.useFakeTimers();
    let calls = 0;
    const checker = createRevisionChecker({
      intervalMs: 1_000,
      stepTimeoutMs: 200,
      graceMs: 100,
      followed: () => [ns('a', 1)],
      readRevisions: () => {
        calls++;
        return calls === 1 ? new Promise(() => {}) : Promise.resolve(new Map([['a', 1]]));
      },
      resubscribe: () => {},
      answered: () => {},
      current: () => {},
      behind: () => {},
    });
    await vi.advanceTimersByTimeAsync(1_000); // first check starts and hangs
    expect(calls).toBe(1);
    await vi.advanceTimersByTimeAsync(200 + 1); // its timeout
    await vi.advanceTimersByTimeAsync(100); // backoff: at most 100 ms after one failure
    expect(calls).toBe(2);
    checker.stop();
  });
});
