/**
 * `npm run bench:rate-limit`: what the mutation rate limit costs. Not a test: it prints.
 *
 * 1. One `take()` of the limiter: in memory, and shared through Redis (eight counters in one
 *    pipelined round trip).
 * 2. A `setConfig` through a gateway process on Postgres and Redis, with the limit off and on
 *    (an allowance too large to refuse anything), one mutation at a time.
 *
 * Uses the machine's PostgreSQL and Redis (HOTCONF_TEST_PG_URL / HOTCONF_TEST_REDIS_URL override
 * them). Options: BENCH_TAKES (default 5000), BENCH_MUTATIONS (default 500).
 */
import { Redis } from 'ioredis';
import { createTestDatabase } from '../test/helpers/postgres.js';
import { SHARED_REDIS_URL, uniquePrefix } from '../test/helpers/redis.js';
import { setConfig, startGateway, testToken } from '../test/helpers/gateway.js';
import { createMemoryRateLimiter, createRateLimiter, type RateLimiter } from '../src/server/use-rate-limit.js';
import { format, summarize } from './lib/stats.js';

const TAKES = Number(process.env.BENCH_TAKES ?? 5_000);
const MUTATIONS = Number(process.env.BENCH_MUTATIONS ?? 500);
const WARMUP = 100;

async function timeTakes(limiter: RateLimiter): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < WARMUP + TAKES; i += 1) {
    const started = performance.now();
    await limiter.take(`subject-${i % 100}`, 1);
    if (i >= WARMUP) samples.push(performance.now() - started);
  }
  return samples;
}

async function main(): Promise<void> {
  console.log(`rate limiter take(), ${TAKES} calls, 100 subjects`);
  console.log(`  memory                      ${format(summarize(await timeTakes(createMemoryRateLimiter({ perMinute: 1e9 }))))}`);
  const redis = new Redis(SHARED_REDIS_URL, { enableAutoPipelining: true });
  try {
    const shared = createRateLimiter({ perMinute: 1e9, redis, channelPrefix: uniquePrefix('bench-rl') });
    console.log(`  Redis (8 counters, 1 RTT)   ${format(summarize(await timeTakes(shared)))}`);
    const pings: number[] = [];
    for (let i = 0; i < TAKES; i += 1) {
      const started = performance.now();
      await redis.ping();
      pings.push(performance.now() - started);
    }
    console.log(`  Redis PING (floor)          ${format(summarize(pings))}`);
  } finally {
    redis.disconnect();
  }

  console.log(`setConfig through a gateway process, ${MUTATIONS} sequential mutations`);
  const database = await createTestDatabase('bench_rl');
  try {
    for (const [label, perMinute] of [
      ['limit off', '0'],
      ['limit on (shared)', '1000000000'],
      ['limit off', '0'],
      ['limit on (shared)', '1000000000'],
    ] as const) {
      const gateway = await startGateway({
        env: { DATABASE_URL: database.url, REDIS_URL: SHARED_REDIS_URL, HOTCONF_CHANNEL_PREFIX: uniquePrefix('bench-rl'), HOTCONF_RATE_LIMIT_PER_MIN: perMinute },
      });
      try {
        const token = await testToken({ sub: 'bench-writer' });
        const samples: number[] = [];
        for (let i = 0; i < WARMUP + MUTATIONS; i += 1) {
          const started = performance.now();
          await setConfig(gateway.url, token, 'bench', `k${i % 20}`, i);
          if (i >= WARMUP) samples.push(performance.now() - started);
        }
        console.log(`  ${label.padEnd(26)}  ${format(summarize(samples))}`);
      } finally {
        await gateway.stop();
      }
    }
  } finally {
    await database.drop();
  }
}

await main();
