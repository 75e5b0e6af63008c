import { setTimeout as sleep } from 'node:timers/promises';
import { createConfigClient } from '../../src/client/index.js';
import { ConfigChangedDocument } from '../../src/client/generated/operations.js';
import type { BenchGateway } from '../lib/gateway-process.js';
import { rssKiB } from '../lib/proc.js';
import { summarize } from '../lib/stats.js';
import { openSubscriberPool, type SubscriberPool } from '../lib/ws-subscribers.js';
import { median, step, times, type BenchContext } from './context.js';

const SUBSCRIBERS = Number(process.env.BENCH_FANOUT ?? 10_000);
const CHANGES_PER_ROUND = Number(process.env.BENCH_FANOUT_CHANGES ?? 10);
const IDLE_CONNECTIONS = Number(process.env.BENCH_IDLE_CONNECTIONS ?? 2_000);
const GETS = 2_000_000;
const SUBSCRIPTION = ConfigChangedDocument.toString();

/** SDK-style subscriptions on `gateway`, `perSocket` to a socket, and a way to time one change's arrival at all of them. */
async function openSubscribers(
  context: BenchContext,
  gateway: BenchGateway,
  { namespace, revision, count, perSocket }: { namespace: string; revision: number | null; count: number; perSocket: number },
): Promise<{ pool: SubscriberPool; change(key: string, value: number): Promise<number> }> {
  const [a] = await context.gateways();
  const pool = await openSubscriberPool({
    wsUrl: gateway.wsUrl,
    token: await context.token(),
    sockets: Math.max(1, Math.ceil(count / perSocket)),
    subscriptions: count,
    query: SUBSCRIPTION,
    variables: () => ({ namespace, prefix: null, sinceRevision: revision }),
  });
  let counts = new Int32Array(count);
  let remaining = count;
  let lastArrival: (() => void) | null = null;
  pool.onNext = (index) => {
    if (index >= count) return;
    const seen = counts[index]!;
    counts[index] = seen + 1;
    if (seen === 0 && --remaining === 0) lastArrival?.();
  };
  /** Writes through A; ms until the last subscriber received it. */
  const change = async (key: string, value: number, timeoutMs = 30_000) => {
    counts = new Int32Array(count);
    remaining = count;
    const done = new Promise<number>((resolve, reject) => {
      lastArrival = () => resolve(performance.now());
      setTimeout(() => reject(new Error(`only ${count - remaining}/${count} subscribers received the change`)), timeoutMs).unref();
    });
    const started = performance.now();
    await context.setConfig(a.url, namespace, key, value);
    return (await done) - started;
  };
  // Until every subscription is live (a subscribe has no acknowledgement). A subscribe the gateway
  // refuses (SERVICE_UNAVAILABLE when thousands arrive at once) is sent again, as the SDK would.
  let refused = 0;
  for (let attempt = 0; ; attempt++) {
    const { indexes, example } = pool.takeFailed();
    if (indexes.length > 0) {
      refused += indexes.length;
      step('fanout', `${indexes.length} subscriptions refused, subscribing them again (${example})`);
      for (const index of indexes) pool.resubscribe(index);
    }
    try {
      await change('probe', attempt, 10_000);
      break;
    } catch (error) {
      if (attempt >= 10) {
        await pool.close();
        throw error;
      }
    }
  }
  if (refused > 0) step('fanout', `${refused} subscribes in all were refused before every subscription was live`);
  return { pool, change };
}

/** Resident memory `gateway` gains per subscription once `count` of them are open and live, from a fresh process. */
async function rssPerSubscription(context: BenchContext, namespace: string, count: number, perSocket: number): Promise<number> {
  const gateway = await context.freshGateway();
  try {
    await sleep(2_000);
    const before = rssKiB(gateway.pid);
    const { pool } = await openSubscribers(context, gateway, { namespace, revision: null, count, perSocket });
    await sleep(2_000);
    const after = rssKiB(gateway.pid);
    await pool.close();
    return (after - before) / count;
  } finally {
    await gateway.stop();
  }
}

/**
 * One change → 10,000 SDK-style subscribers on B (100 per socket), last arrival; resident memory
 * per idle subscription (10,000, 100 per socket) and per idle SDK-like connection (2,000, one
 * subscription each), each on a freshly started gateway so earlier rows' heap does not blur it.
 */
export async function fanout(context: BenchContext): Promise<void> {
  const [a, b] = await context.gateways();
  const namespace = `bench-fan-${Date.now().toString(36)}`;
  const revision = await context.setConfig(a.url, namespace, 'seed', 0);

  step('fanout', `opening ${SUBSCRIBERS} subscriptions on B over ${Math.ceil(SUBSCRIBERS / 100)} sockets`);
  const { pool, change } = await openSubscribers(context, b, { namespace, revision, count: SUBSCRIBERS, perSocket: 100 });
  const p99s: number[] = [];
  try {
    for (let round = 1; round <= context.rounds; round++) {
      const samples: number[] = [];
      for (let i = 0; i < CHANGES_PER_ROUND; i++) {
        samples.push(await change('ai.threshold', round * 1_000 + i));
        await sleep(50);
      }
      p99s.push(summarize(samples).p99);
      step('fanout', `round ${round}/${context.rounds}: last of ${SUBSCRIBERS} arrivals, p99 ${p99s.at(-1)!.toFixed(1)} ms`);
    }
  } finally {
    await pool.close();
  }

  step('fanout', `memory: ${SUBSCRIBERS} idle subscriptions (100 per socket) on a fresh gateway`);
  const perSubscription = await rssPerSubscription(context, namespace, SUBSCRIBERS, 100);
  step('fanout', `memory: ${IDLE_CONNECTIONS} idle connections with one subscription each on a fresh gateway`);
  const perConnection = await rssPerSubscription(context, namespace, IDLE_CONNECTIONS, 1);

  context.results.push(
    {
      measure: `${SUBSCRIBERS.toLocaleString('en')}-subscriber fan-out (SDK subscription, 100 per socket), last arrival p99`,
      hotconf: `${median(p99s).toFixed(1)} ms`,
      baseline: '(absolute)',
      ratio: '',
      goal: '< 100 ms',
    },
    {
      measure: 'gateway RSS per idle subscriber',
      hotconf: `${perSubscription.toFixed(1)} KiB per subscription (100 per socket); ${perConnection.toFixed(1)} KiB per connection with one`,
      baseline: '(absolute)',
      ratio: '',
      goal: '≤ 20 KiB',
    },
  );
}

/** The SDK's `get`, from memory, against a bare `Map.get` of the same key. */
export async function sdk(context: BenchContext): Promise<void> {
  const [a] = await context.gateways();
  const token = await context.token();
  const namespace = `bench-sdk-${Date.now().toString(36)}`;
  await context.setConfig(a.url, namespace, 'ai.threshold', 0.75);
  const client = createConfigClient({ url: a.url, namespace, token });
  await client.ready();
  const map = new Map<string, unknown>([['ai.threshold', 0.75]]);
  let sink = 0;
  const time = (get: (key: string) => unknown): number => {
    const started = process.hrtime.bigint();
    for (let i = 0; i < GETS; i++) if (get('ai.threshold') !== undefined) sink++;
    return Number(process.hrtime.bigint() - started) / GETS;
  };
  const sdkGet = (key: string) => client.get(key);
  const mapGet = (key: string) => map.get(key);
  try {
    time(sdkGet);
    time(mapGet);
    const hot: number[] = [];
    const base: number[] = [];
    for (let round = 1; round <= Math.max(3, context.rounds); round++) {
      hot.push(time(sdkGet));
      base.push(time(mapGet));
    }
    step('sdk', `SDK get ${median(hot).toFixed(1)} ns, Map.get ${median(base).toFixed(1)} ns (${sink} reads)`);
    context.results.push({
      measure: 'SDK `get`',
      hotconf: `${median(hot).toFixed(1)} ns`,
      baseline: `Map.get ${median(base).toFixed(1)} ns`,
      ratio: times(median(hot.map((h, i) => h / base[i]!))),
      goal: '< 100 ns',
    });
  } finally {
    await client.close();
  }
}
