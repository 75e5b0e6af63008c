/**
 * `npx tsx bench/propagation-ab.ts base change`: the propagation row for two (or more) builds of
 * the gateway, interleaved sample by sample, with the floor in the same interleave.
 *
 * On a shared, loaded machine the whole-run rounds of `npm run bench -- propagation` swing by
 * 2× from one run to the next, far more than a change worth making; pairing each sample of one
 * build with the next sample of the other (order alternating) puts both under the same load.
 * Each build is a copy of `dist/` inside the repository (so its imports find node_modules):
 *
 *   git stash && npm run build && cp -r dist dist-base && git stash pop
 *   npm run build && cp -r dist dist-change
 *   npx tsx bench/propagation-ab.ts base change        # AB_SAMPLES (800) pairs after 50 warm-up
 *
 * Prints p50/p90/p99 per build, each build's p50 over the floor's (a raw postgres.js
 * transaction, then a raw Redis publish → subscribe, as in the row), and for two builds the
 * median of the paired differences. Not a test: it asserts nothing.
 */
import { Redis } from 'ioredis';
import { gql, SET_CONFIG, testToken } from '../test/helpers/gateway.js';
import { createTestDatabase } from '../test/helpers/postgres.js';
import { SHARED_REDIS_URL, uniquePrefix } from '../test/helpers/redis.js';
import { startBenchGateway } from './lib/gateway-process.js';
import { createRawWriter } from './lib/raw-write.js';
import { openSubscriberPool } from './lib/ws-subscribers.js';
import { median } from './suite/context.js';

const builds = process.argv.slice(2).filter((arg) => arg !== '--');
if (builds.length === 0) {
  process.stderr.write('usage: npx tsx bench/propagation-ab.ts <build> [<build>…]  (each a dist-<build>/ directory)\n');
  process.exit(2);
}
const SAMPLES = Number(process.env.AB_SAMPLES ?? 800);
const WARMUP = 50;
const SUBSCRIPTION = /* GraphQL */ `
  subscription Bench($namespace: String!) {
    configChanged(namespace: $namespace) { key version revision value replayed }
  }
`;

interface Run {
  name: string;
  once: () => Promise<number>;
  samples: number[];
  stop: () => Promise<void>;
}

const database = await createTestDatabase('bench_ab');
const token = await testToken({ sub: 'bench' });
const setConfig = (url: string, namespace: string, key: string, value: unknown) => gql(url, token, SET_CONFIG, { input: { namespace, key, value } });
const runs: Run[] = [];
try {
  for (const name of builds) {
    const env = {
      DATABASE_URL: database.url,
      REDIS_URL: SHARED_REDIS_URL,
      HOTCONF_CHANNEL_PREFIX: uniquePrefix('bench-ab'),
      HOTCONF_MAX_SUBSCRIPTIONS_PER_SUBJECT: '100000',
    };
    // `node dist-<name>/main.js dist/main.js`: the build's entry point runs; the extra argument is ignored.
    const a = await startBenchGateway(env, [`dist-${name}/main.js`]);
    const b = await startBenchGateway(env, [`dist-${name}/main.js`]);
    const namespace = `bench-ab-${name}-${Date.now().toString(36)}`;
    await setConfig(a.url, namespace, 'seed', 0);
    const pool = await openSubscriberPool({ wsUrl: b.wsUrl, token, sockets: 1, subscriptions: 1, query: SUBSCRIPTION, variables: () => ({ namespace }) });
    let arrived: ((data: string) => void) | null = null;
    pool.onNext = (_index, data) => arrived?.(data);
    for (let attempt = 0; ; attempt++) {
      const got = new Promise<boolean>((resolve) => {
        arrived = () => resolve(true);
        setTimeout(() => resolve(false), 500);
      });
      await setConfig(a.url, namespace, 'probe', attempt);
      if (await got) break;
      if (attempt > 40) throw new Error(`build ${name}: the subscriber on B never received a change`);
    }
    let sequence = 0;
    runs.push({
      name,
      samples: [],
      once: async () => {
        const marker = `"value":${++sequence}`;
        const received = new Promise<number>((resolve) => {
          arrived = (data) => {
            if (data.includes(marker)) resolve(performance.now());
          };
        });
        const started = performance.now();
        await setConfig(a.url, namespace, 'ai.threshold', sequence);
        return (await received) - started;
      },
      stop: async () => {
        await pool.close();
        await a.stop();
        await b.stop();
      },
    });
  }

  const raw = await createRawWriter(database.url);
  const publisher = new Redis(SHARED_REDIS_URL);
  const subscriber = new Redis(SHARED_REDIS_URL);
  const channel = `${uniquePrefix('bench-ab-floor')}floor`;
  await subscriber.subscribe(channel);
  let floorArrived: (() => void) | null = null;
  subscriber.on('message', () => floorArrived?.());
  let floorValue = 0;
  const floor: Run = {
    name: 'floor',
    samples: [],
    once: async () => {
      const started = performance.now();
      const revision = await raw.write('floor', 'k', ++floorValue);
      const received = new Promise<void>((resolve) => (floorArrived = resolve));
      await publisher.publish(channel, JSON.stringify({ namespace: 'floor', revision, value: floorValue }));
      await received;
      return performance.now() - started;
    },
    stop: async () => {
      await raw.end();
      publisher.disconnect();
      subscriber.disconnect();
    },
  };
  runs.push(floor);

  for (let i = 0; i < WARMUP; i++) for (const run of runs) await run.once();
  for (let i = 0; i < SAMPLES; i++) {
    for (const run of i % 2 ? [...runs].reverse() : runs) run.samples.push(await run.once());
  }

  const at = (samples: number[], p: number) => [...samples].sort((x, y) => x - y)[Math.floor(samples.length * p)]!;
  const ms = (value: number) => `${value.toFixed(2)} ms`;
  for (const run of runs) {
    const ratio = run === floor ? '' : `; ${(at(run.samples, 0.5) / at(floor.samples, 0.5)).toFixed(2)}× the floor's p50`;
    process.stdout.write(`${run.name}: p50 ${ms(at(run.samples, 0.5))}, p90 ${ms(at(run.samples, 0.9))}, p99 ${ms(at(run.samples, 0.99))}${ratio}\n`);
  }
  if (builds.length === 2) {
    const [first, second] = runs as [Run, Run];
    const differences = second.samples.map((value, index) => value - first.samples[index]!);
    process.stdout.write(`median of paired differences (${second.name} − ${first.name}): ${ms(median(differences))}\n`);
  }
} finally {
  for (const run of runs) await run.stop().catch(() => {});
  await database.drop();
}
process.exit(0);
