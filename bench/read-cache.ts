/**
 * Read latency of the watch cache against PostgreSQL, on the read layer the resolvers call
 * (`get` and `snapshot`): the store itself vs the cache decorating it (which still makes one shared
 * one-row revision check per round of concurrent reads). Sequential reads (latency) and 64 at once
 * (what a busy gateway sees), interleaved A/B/A/B over rounds, median of rounds. Also counts the
 * store calls each side made. Local PostgreSQL, in-process bus; prints, asserts nothing.
 *
 *   npx tsx bench/read-cache.ts [reads per round] [rounds]
 */
import { createChangeFeed } from '../src/bus/change-feed.js';
import { createMemoryBus } from '../src/bus/memory-bus.js';
import { countStoreCalls } from '../src/core/counted-store.js';
import type { ConfigStore } from '../src/core/types.js';
import { createValidator } from '../src/core/validation.js';
import { createWatchCache } from '../src/core/watch-cache.js';
import { createConfigStore } from '../src/db/config-store.js';
import { connectDatabase } from '../src/db/connect.js';
import { createTestDatabase } from '../test/helpers/postgres.js';
import { format, summarize } from './lib/stats.js';

const READS = Number(process.argv[2] ?? 2_000);
const ROUNDS = Number(process.argv[3] ?? 5);
const NS = 'bench';

const testDatabase = await createTestDatabase('bench_read_cache');
const database = await connectDatabase({ databaseUrl: testDatabase.url });
try {
  await database.migrate();
  const validate = createValidator({ maxValueBytes: 1_048_576, maxBatchSize: 10_000 });
  const calls = { store: 0, cache: 0 };
  let counting: keyof typeof calls = 'store';
  const store = countStoreCalls(createConfigStore({ database, validator: validate, secretBox: null }), () => calls[counting]++);
  const meta = { actor: 'bench', reason: null, traceId: null, canReadSecrets: true };
  await store.write(NS, Array.from({ length: 100 }, (_, i) => ({ kind: 'set' as const, key: `key.${String(i).padStart(3, '0')}`, value: { n: i, text: 'x'.repeat(64) } })), meta);
  const bus = createMemoryBus();
  const feed = createChangeFeed({ store, bus });
  const cache = createWatchCache({ store, feed, validate });
  const sides: Record<'store' | 'cache', Pick<ConfigStore, 'get' | 'snapshot'>> = { store, cache };

  const sequential = async (reads: Pick<ConfigStore, 'get' | 'snapshot'>, kind: 'get' | 'snapshot') => {
    const samples: number[] = [];
    for (let i = 0; i < READS; i++) {
      const started = performance.now();
      if (kind === 'get') await reads.get(NS, `key.${String(i % 100).padStart(3, '0')}`);
      else await reads.snapshot(NS);
      samples.push(performance.now() - started);
    }
    return samples;
  };
  const concurrent = async (reads: Pick<ConfigStore, 'get' | 'snapshot'>) => {
    const started = performance.now();
    for (let done = 0; done < READS; done += 64) {
      await Promise.all(Array.from({ length: 64 }, (_, i) => reads.get(NS, `key.${String((done + i) % 100).padStart(3, '0')}`)));
    }
    return (READS / (performance.now() - started)) * 1_000;
  };

  await cache.get(NS, 'key.000'); // loads the namespace
  const results: Record<string, number[][]> = {};
  const rates: Record<string, number[]> = { store: [], cache: [] };
  for (let round = 0; round < ROUNDS; round++) {
    for (const side of ['store', 'cache'] as const) {
      counting = side;
      (results[`${side} get`] ??= []).push(await sequential(sides[side], 'get'));
      (results[`${side} snapshot(100)`] ??= []).push(await sequential(sides[side], 'snapshot'));
      rates[side]!.push(await concurrent(sides[side]));
    }
  }
  const median = (values: number[]) => [...values].sort((x, y) => x - y)[Math.floor(values.length / 2)]!;
  for (const [label, rounds] of Object.entries(results)) {
    const p50s = rounds.map((samples) => summarize(samples).p50);
    const best = rounds[p50s.indexOf(median(p50s))]!;
    console.log(`${label.padEnd(20)} ${format(summarize(best))}`);
  }
  console.log(`get, 64 at once: store ${Math.round(median(rates.store!))}/s, cache ${Math.round(median(rates.cache!))}/s`);
  const perSide = ROUNDS * READS * 3;
  console.log(`store calls per read: store ${(calls.store / perSide).toFixed(3)}, cache ${(calls.cache / perSide).toFixed(3)}`);
  cache.close();
  await feed.close();
  await bus.close();
} finally {
  await database.close();
  await testDatabase.drop();
}
