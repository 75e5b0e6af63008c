/**
 * The mutation rate limit shared through Redis: whichever gateways a subject uses and however its
 * requests straddle window edges, any 60 s holds at most the allowance plus a small burst
 * (`rateLimitBound`). Window edges are placed by the test (the clock is faked, so no test waits
 * for a wall-clock minute); a Redis that is stopped or hung never holds a write up.
 */
import fc from 'fast-check';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { startCluster, type Cluster } from '../helpers/cluster.js';
import { SET_CONFIG, startGateway, testToken, type Gateway } from '../helpers/gateway.js';
import { waitFor } from '../helpers/net.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';
import { SHARED_REDIS_URL, startPrivateRedis, uniquePrefix, type PrivateRedis } from '../helpers/redis.js';
import { createRateLimiter, rateLimitBound, rateWindows, type RateLimiter } from '../../src/server/use-rate-limit.js';

const MINUTE = 60_000;

describe('limiters of two gateways on one Redis, with the clock set by the test', () => {
  const redisA = new Redis(SHARED_REDIS_URL);
  const redisB = new Redis(SHARED_REDIS_URL);

  /** Two gateways' limiters sharing one allowance (a prefix of their own). */
  const pair = (perMinute: number): [RateLimiter, RateLimiter] => {
    const channelPrefix = uniquePrefix('rlshared');
    return [createRateLimiter({ perMinute, redis: redisA, channelPrefix }), createRateLimiter({ perMinute, redis: redisB, channelPrefix })];
  };

  beforeAll(async () => {
    await Promise.all([redisA.ping(), redisB.ping()]);
  });
  afterEach(() => {
    vi.useRealTimers();
  });
  afterAll(() => {
    redisA.disconnect();
    redisB.disconnect();
  });

  // Only Date is faked: Redis replies and the limiter's timeout still run on real timers.
  const setClock = (ms: number) => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(ms);
  };
  const nextMinuteEdge = () => (Math.floor(Date.now() / MINUTE) + 10) * MINUTE;

  it('50 through A just before a minute edge and 50 through B just after (limit 60): at most 70 pass, not 100', async () => {
    const edge = nextMinuteEdge();
    const [a, b] = pair(60);
    let before = 0;
    let after = 0;
    setClock(edge - 100);
    for (let i = 0; i < 50; i += 1) if ((await (i % 2 ? a : b).take('edge', 1)).allowed) before += 1;
    setClock(edge + 100);
    for (let i = 0; i < 50; i += 1) if ((await (i % 2 ? b : a).take('edge', 1)).allowed) after += 1;
    expect(before).toBe(50);
    expect(before + after).toBeLessThanOrEqual(rateLimitBound(60));
  });

  it('straddling the edge of every window family, the shared total stays within the bound', async () => {
    const base = nextMinuteEdge() + 70 * MINUTE; // a multiple of 60 s and of 70 s: every family starts there
    const edges = [...new Set(rateWindows(30).map((window) => base + window.offsetMs + window.lengthMs))];
    for (const edge of edges) {
      const [a, b] = pair(30);
      let passed = 0;
      setClock(edge - 1);
      for (let i = 0; i < 60; i += 1) if ((await (i % 2 ? a : b).take('s', 1)).allowed) passed += 1;
      setClock(edge);
      for (let i = 0; i < 60; i += 1) if ((await (i % 2 ? b : a).take('s', 1)).allowed) passed += 1;
      expect(passed, `around ${edge - base} ms`).toBeLessThanOrEqual(rateLimitBound(30));
    }
  });

  it('for random timings and costs over both gateways, no 60 s admits more than the bound', async () => {
    const origin = nextMinuteEdge();
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 20 }),
        fc.integer({ min: 0, max: 5 * MINUTE }),
        fc.array(fc.record({ gap: fc.integer({ min: 0, max: 9_000 }), cost: fc.integer({ min: 1, max: 4 }), viaB: fc.boolean() }), { minLength: 1, maxLength: 80 }),
        async (perMinute, start, requests) => {
          const [a, b] = pair(perMinute);
          let now = origin + start;
          const admitted: Array<{ at: number; cost: number }> = [];
          for (const { gap, cost, viaB } of requests) {
            now += gap;
            setClock(now);
            if ((await (viaB ? b : a).take('p', cost)).allowed) admitted.push({ at: now, cost });
          }
          for (const first of admitted) {
            const inMinute = admitted.filter(({ at }) => at >= first.at && at < first.at + MINUTE).reduce((sum, { cost }) => sum + cost, 0);
            expect(inMinute).toBeLessThanOrEqual(rateLimitBound(perMinute));
          }
        },
      ),
      { numRuns: 25 },
    );
  });
});

describe('a burst over two gateway processes sharing Redis', () => {
  const RATE = 20;
  let cluster: Cluster;

  beforeAll(async () => {
    cluster = await startCluster('rlburst', 2, { HOTCONF_RATE_LIMIT_PER_MIN: String(RATE) });
  });
  afterAll(() => cluster?.close());

  it(`passes at most ${rateLimitBound(RATE)} of ${RATE * 4} concurrent mutations; the rest are RATE_LIMITED with 429 and Retry-After`, async () => {
    const [a, b] = cluster.gateways as [Gateway, Gateway];
    const writer = await testToken({ sub: 'burst-writer', role: 'writer', namespaces: ['burst'] });
    const results = await Promise.all(
      Array.from({ length: RATE * 4 }, async (_, i) => {
        const response = await fetch((i % 2 ? a : b).url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${writer}` },
          body: JSON.stringify({ query: SET_CONFIG, variables: { input: { namespace: 'burst', key: `k${i}`, value: i } } }),
        });
        const body = (await response.json()) as { errors?: Array<{ extensions?: { code?: string; retryAfter?: number } }> };
        return { status: response.status, retryAfterHeader: response.headers.get('retry-after'), body };
      }),
    );
    const passed = results.filter((result) => result.status === 200 && !result.body.errors);
    const limited = results.filter((result) => result.body.errors?.[0]?.extensions?.code === 'RATE_LIMITED');
    console.info(`burst over two gateways: ${passed.length} of ${results.length} passed (limit ${RATE}, bound ${rateLimitBound(RATE)})`);
    expect(passed.length).toBeGreaterThan(0);
    // Each gateway counting alone would pass 2 × RATE.
    expect(passed.length).toBeLessThanOrEqual(rateLimitBound(RATE));
    expect(passed.length + limited.length).toBe(results.length);
    for (const refusal of limited) {
      expect(refusal.status).toBe(429);
      expect(Number(refusal.retryAfterHeader)).toBeGreaterThanOrEqual(1);
      expect(refusal.body.errors?.[0]?.extensions?.retryAfter).toBe(Number(refusal.retryAfterHeader));
    }
  });
});

describe('Redis stopped or hung: the insurance limiter answers', () => {
  const RATE = 5;
  let database: TestDatabase;
  let redis: PrivateRedis;
  let gateway: Gateway;

  beforeAll(async () => {
    [database, redis] = await Promise.all([createTestDatabase('rlinsure'), startPrivateRedis()]);
    gateway = await startGateway({
      env: { DATABASE_URL: database.url, REDIS_URL: redis.url, HOTCONF_CHANNEL_PREFIX: uniquePrefix('rlinsure'), HOTCONF_RATE_LIMIT_PER_MIN: String(RATE) },
    });
  });
  afterAll(async () => {
    if (gateway && !gateway.running) console.error(`gateway exited:\n${gateway.logs()}`);
    await gateway?.stop('SIGKILL');
    await redis?.stop();
    await database?.drop();
  });

  /** RATE + 2 mutations of one subject, one after the other; a generous ceiling on each answer. */
  const burst = async (subject: string) => {
    const token = await testToken({ sub: subject, role: 'writer', namespaces: ['insured'] });
    const outcomes: Array<{ status: number; code: string | undefined; ms: number }> = [];
    for (let i = 0; i < RATE + 2; i += 1) {
      const started = performance.now();
      const response = await fetch(gateway.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ query: SET_CONFIG, variables: { input: { namespace: 'insured', key: `${subject}.${i}`, value: i } } }),
        signal: AbortSignal.timeout(20_000),
      });
      const body = (await response.json()) as { errors?: Array<{ extensions?: { code?: string } }> };
      outcomes.push({ status: response.status, code: body.errors?.[0]?.extensions?.code, ms: Math.round(performance.now() - started) });
    }
    return outcomes;
  };

  // The bound is the documented one: at most RATE in a calendar minute and RATE + ⌈RATE/6⌉ in any
  // 60 s. A burst that straddles a minute edge (likelier on a loaded machine, where each answer
  // can wait for the Redis timeout) may pass one more than RATE; it never passes more than that,
  // and everything past it is RATE_LIMITED.
  const expectCountedLocally = (outcomes: Awaited<ReturnType<typeof burst>>) => {
    expect(outcomes.slice(0, RATE).map((o) => [o.status, o.code])).toEqual(Array.from({ length: RATE }, () => [200, undefined]));
    const rest = outcomes.slice(RATE).map((o) => [o.status, o.code]);
    const passed = rest.filter(([status]) => status === 200).length;
    expect(passed).toBeLessThanOrEqual(Math.ceil(RATE / 6));
    expect(rest.filter(([status]) => status !== 200)).toEqual(Array.from({ length: rest.length - passed }, () => [429, 'RATE_LIMITED']));
    expect(rest.at(-1)).toEqual([429, 'RATE_LIMITED']);
  };

  it('with Redis hung (connections open, no replies) writes are answered and counted by the gateway alone', async () => {
    await waitFor(async () => (await fetch(`http://127.0.0.1:${gateway.port}/ready`)).status === 200, 20_000, '/ready 200');
    redis.freeze();
    try {
      const outcomes = await burst('hung');
      expectCountedLocally(outcomes);
      console.info(`rate limit with Redis hung: answer times ${outcomes.map((o) => o.ms).join(', ')} ms`);
    } finally {
      redis.thaw();
    }
  });

  it('with Redis stopped writes are answered and counted by the gateway alone', async () => {
    await redis.stop();
    try {
      await waitFor(async () => (await fetch(`http://127.0.0.1:${gateway.port}/ready`)).status === 503, 20_000, '/ready 503');
      const outcomes = await burst('stopped');
      expectCountedLocally(outcomes);
      console.info(`rate limit with Redis stopped: answer times ${outcomes.map((o) => o.ms).join(', ')} ms`);
    } finally {
      await redis.start();
    }
  });
});
