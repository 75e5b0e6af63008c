import { Redis } from 'ioredis';
import { uniquePrefix } from '../../test/helpers/redis.js';
import { createRawWriter } from '../lib/raw-write.js';
import { summarize, type Summary } from '../lib/stats.js';
import { openSubscriberPool } from '../lib/ws-subscribers.js';
import { median, step, times, type BenchContext } from './context.js';

const CHANGES = Number(process.env.BENCH_CHANGES ?? 300);
const WARMUP = 30;

const SUBSCRIPTION = /* GraphQL */ `
  subscription Bench($namespace: String!) {
    configChanged(namespace: $namespace) { key version revision value replayed }
  }
`;

/** Samples `count` latencies of `once(i)` after a warm-up. */
async function sample(count: number, once: (i: number) => Promise<number>): Promise<Summary> {
  const samples: number[] = [];
  for (let i = 0; i < count + WARMUP; i++) {
    const ms = await once(i);
    if (i >= WARMUP) samples.push(ms);
  }
  return summarize(samples);
}

/**
 * Mutation on A → graphql-ws subscriber on B, against the floor (a raw postgres.js transaction,
 * then a raw Redis publish → subscribe) and etcd put → watch, one after the other in each round.
 */
export async function propagation(context: BenchContext): Promise<void> {
  const [a, b] = await context.gateways();
  const token = await context.token();
  const etcd = await context.etcd();
  const database = await context.database();

  // hotconf: one subscriber on B, writes through A.
  const namespace = `bench-e2e-${Date.now().toString(36)}`;
  await context.setConfig(a.url, namespace, 'seed', 0);
  const pool = await openSubscriberPool({ wsUrl: b.wsUrl, token, sockets: 1, subscriptions: 1, query: SUBSCRIPTION, variables: () => ({ namespace }) });
  let arrived: ((data: string) => void) | null = null;
  pool.onNext = (_index, data) => arrived?.(data);
  for (let attempt = 0; ; attempt++) {
    const got = new Promise<boolean>((resolve) => {
      arrived = () => resolve(true);
      setTimeout(() => resolve(false), 500);
    });
    await context.setConfig(a.url, namespace, 'probe', attempt);
    if (await got) break;
    if (attempt > 40) throw new Error('the subscriber on B never received a change');
  }
  let sequence = 0;
  const hotconfOnce = async () => {
    const marker = `"value":${++sequence}`;
    const received = new Promise<number>((resolve) => {
      arrived = (data) => {
        if (data.includes(marker)) resolve(performance.now());
      };
    });
    const started = performance.now();
    await context.setConfig(a.url, namespace, 'ai.threshold', sequence);
    return (await received) - started;
  };

  // The floor: the same database work in a raw transaction, then a raw publish → subscribe.
  const raw = await createRawWriter(database.url);
  const publisher = new Redis(context.redisUrl);
  const subscriber = new Redis(context.redisUrl);
  const channel = `${uniquePrefix('bench-floor')}floor`;
  await subscriber.subscribe(channel);
  let floorArrived: (() => void) | null = null;
  subscriber.on('message', () => floorArrived?.());
  const floorOnce = async (i: number) => {
    const started = performance.now();
    const revision = await raw.write('floor', 'k', i);
    const received = new Promise<void>((resolve) => (floorArrived = resolve));
    await publisher.publish(channel, JSON.stringify({ namespace: 'floor', revision, value: i }));
    await received;
    return performance.now() - started;
  };

  // etcd: put through its JSON gateway, a watch on the prefix receives it.
  const prefix = `bench-e2e-${Date.now().toString(36)}/`;
  let etcdArrived: (() => void) | null = null;
  const watch = await etcd.watch(prefix, undefined, () => etcdArrived?.());
  const etcdOnce = async (i: number) => {
    const received = new Promise<void>((resolve) => (etcdArrived = resolve));
    const started = performance.now();
    await etcd.put(`${prefix}ai.threshold`, String(i));
    await received;
    return performance.now() - started;
  };

  const hot: Summary[] = [];
  const floor: Summary[] = [];
  const peer: Summary[] = [];
  try {
    for (let round = 1; round <= context.rounds; round++) {
      hot.push(await sample(CHANGES, hotconfOnce));
      floor.push(await sample(CHANGES, floorOnce));
      peer.push(await sample(CHANGES, etcdOnce));
      step('propagation', `round ${round}/${context.rounds}: hotconf p50 ${hot.at(-1)!.p50.toFixed(2)} ms, floor ${floor.at(-1)!.p50.toFixed(2)} ms, etcd ${peer.at(-1)!.p50.toFixed(2)} ms`);
    }
  } finally {
    watch.close();
    await pool.close();
    await raw.end();
    publisher.disconnect();
    subscriber.disconnect();
  }
  const p50 = (list: Summary[]) => median(list.map((s) => s.p50));
  const p99 = (list: Summary[]) => median(list.map((s) => s.p99));
  const ratios = (base: Summary[], pick: (s: Summary) => number) => median(hot.map((s, i) => pick(s) / pick(base[i]!)));
  const ms = (value: number) => `${value.toFixed(2)} ms`;
  context.results.push(
    {
      measure: 'mutation on A → graphql-ws subscriber on B, p50',
      hotconf: ms(p50(hot)),
      baseline: `floor (pg tx + Redis pub→sub) ${ms(p50(floor))}; etcd put→watch ${ms(p50(peer))}`,
      ratio: `${times(ratios(floor, (s) => s.p50))} floor, ${times(ratios(peer, (s) => s.p50))} etcd`,
      goal: '≤ 2.0× floor, ≤ 1.5× etcd',
    },
    {
      measure: 'mutation on A → graphql-ws subscriber on B, p99',
      hotconf: ms(p99(hot)),
      baseline: `floor ${ms(p99(floor))}; etcd ${ms(p99(peer))}`,
      ratio: `${times(ratios(floor, (s) => s.p99))} floor, ${times(ratios(peer, (s) => s.p99))} etcd`,
      goal: 'p99 < 15 ms',
    },
  );
}
