import { afterEach, describe, expect, it, vi } from 'vitest';
import { isExpired, onExpiry } from '../../src/auth/lifetime.js';
import { GraphQLGatewayError } from '../../src/server/errors.js';
import { onStreamEnd } from '../../src/server/transport.js';
import { untilExpiry } from '../../src/server/use-token-lifetime.js';
import { createSubscriptionLimiter } from '../../src/server/use-subscription-limits.js';

async function* counting(limit = Infinity) {
  for (let i = 0; i < limit; i++) {
    yield i;
    await new Promise((resolve) => setTimeout(resolve, 1_000));
  }
}

afterEach(() => {
  vi.useRealTimers();
});

describe('subscription limiter', () => {
  it('refuses over either limit with RATE_LIMITED, and counts a slot released twice once', () => {
    const limiter = createSubscriptionLimiter({ perConnection: 2, perSubject: 3 });
    const socketA = {};
    const socketB = {};
    const a1 = limiter.acquire('alice', socketA);
    const a2 = limiter.acquire('alice', socketA);
    const refused = (run: () => unknown) => {
      try {
        run();
      } catch (error) {
        return error instanceof GraphQLGatewayError ? [error.code, error.extensions.limit] : error;
      }
      return 'acquired';
    };
    expect(refused(() => limiter.acquire('alice', socketA))).toEqual(['RATE_LIMITED', 'subscriptionsPerConnection']);
    limiter.acquire('alice', socketB);
    expect(refused(() => limiter.acquire('alice', socketB))).toEqual(['RATE_LIMITED', 'subscriptionsPerSubject']);
    expect(refused(() => limiter.acquire('alice'))).toEqual(['RATE_LIMITED', 'subscriptionsPerSubject']);
    expect(refused(() => limiter.acquire('bob', socketB))).toBe('acquired');
    expect(limiter.stats()).toEqual({ subscriptions: 4, subjects: 2 });
    a1.release();
    a1.release();
    a2.release();
    expect(limiter.stats()).toEqual({ subscriptions: 2, subjects: 2 });
    // Two slots freed on socketA, but alice holds one elsewhere: 2 more fit her subject limit.
    limiter.acquire('alice', socketA);
    limiter.acquire('alice', socketA);
    expect(refused(() => limiter.acquire('alice'))).toEqual(['RATE_LIMITED', 'subscriptionsPerSubject']);
  });
});

describe('stream ends', () => {
  it('onStreamEnd calls back once whether the stream finishes, fails or is returned', async () => {
    const ends: string[] = [];
    for await (const _ of onStreamEnd(counting(0), () => ends.push('finished')));
    const returned = onStreamEnd(counting(), () => ends.push('returned'));
    await returned.next();
    await returned.return();
    await returned.return();
    const failing = onStreamEnd(
      (async function* () {
        yield 1;
        throw new Error('boom');
      })(),
      () => ends.push('failed'),
    );
    await expect((async () => {
      for await (const _ of failing);
    })()).rejects.toThrow('boom');
    expect(ends).toEqual(['finished', 'returned', 'failed']);
  });

  it('untilExpiry ends a waiting stream at the expiry with one final result', async () => {
    vi.useFakeTimers({ now: 1_000_000 });
    const source = (async function* () {
      yield 'first';
      await new Promise(() => {}); // a change that never comes
    })();
    const stream = untilExpiry(source, { expiresAt: 1_005_000 }, () => 'expired');
    expect(await stream.next()).toEqual({ value: 'first', done: false });
    const pending = stream.next();
    await vi.advanceTimersByTimeAsync(4_999);
    expect(isExpired({ expiresAt: 1_005_000 })).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(await pending).toEqual({ value: 'expired', done: false });
    expect(await stream.next()).toEqual({ value: undefined, done: true });
  });

  it('onExpiry re-arms past the longest timer (30-day tokens) and fires only at the expiry', async () => {
    vi.useFakeTimers({ now: 0 });
    const day = 86_400_000;
    let fired = 0;
    const cancel = onExpiry({ expiresAt: 30 * day }, () => fired++);
    await vi.advanceTimersByTimeAsync(29 * day);
    expect(fired).toBe(0);
    await vi.advanceTimersByTimeAsync(day);
    expect(fired).toBe(1);
    cancel();
    const cancelled = onExpiry({ expiresAt: 31 * day }, () => fired++);
    cancelled();
    await vi.advanceTimersByTimeAsync(2 * day);
    expect(fired).toBe(1);
    expect(onExpiry({ expiresAt: null }, () => fired++)).toBeTypeOf('function');
  });
});
