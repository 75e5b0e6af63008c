import type { Sql } from 'postgres';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createLivenessProbe } from '../../src/db/liveness-probe.js';

/** A one-session postgres.js instance whose `select 1` answers as told. */
function fakeInstance(answer: () => Promise<unknown>) {
  const instance = { unsafe: vi.fn(answer), end: vi.fn(async () => {}) };
  return instance;
}

describe('createLivenessProbe', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('asks on a connection of its own, closes it, and shares one probe between concurrent callers', async () => {
    const instance = fakeInstance(async () => [{ '?column?': 1 }]);
    const open = vi.fn(() => instance as unknown as Sql);
    const probe = createLivenessProbe(open, 2_000);
    expect(await Promise.all([probe(), probe(), probe()])).toEqual([true, true, true]);
    expect(open).toHaveBeenCalledTimes(1);
    expect(instance.unsafe).toHaveBeenCalledWith('select 1');
    expect(instance.end).toHaveBeenCalledWith({ timeout: 0 });
  });

  it('reuses an answer for a second, then asks again', async () => {
    vi.useFakeTimers({ now: 1_000_000, toFake: ['Date', 'setTimeout', 'clearTimeout'] });
    let alive = true;
    const open = vi.fn(() => fakeInstance(async () => (alive ? [] : Promise.reject(new Error('ECONNREFUSED')))) as unknown as Sql);
    const probe = createLivenessProbe(open, 2_000);
    expect(await probe()).toBe(true);
    alive = false;
    vi.setSystemTime(1_000_999);
    expect(await probe()).toBe(true);
    expect(open).toHaveBeenCalledTimes(1);
    vi.setSystemTime(1_001_001);
    expect(await probe()).toBe(false);
    expect(open).toHaveBeenCalledTimes(2);
  });

  it('answers false when the database does not answer within the timeout', async () => {
    vi.useFakeTimers({ now: 1_000_000, toFake: ['Date', 'setTimeout', 'clearTimeout'] });
    const instance = fakeInstance(() => new Promise(() => {}));
    const probe = createLivenessProbe(() => instance as unknown as Sql, 2_000);
    const answer = probe();
    await vi.advanceTimersByTimeAsync(2_000);
    expect(await answer).toBe(false);
    expect(instance.end).toHaveBeenCalled();
  });
});
