/**
 * `npm run bench:propagation`: the floor (raw postgres.js transaction + raw Redis publish →
 * subscribe), hotconf's mutation on instance A → graphql-ws subscriber on instance B, and the
 * fan-out of one change to 1,000 and 10,000 subscribers on one instance. Not a test: it prints.
 *
 * Uses the machine's PostgreSQL and Redis (the test helpers' URLs; HOTCONF_TEST_PG_URL and
 * HOTCONF_TEST_REDIS_URL override them). Options: BENCH_CHANGES (default 1000), BENCH_FANOUT
 * (default "1000,10000"), BENCH_FANOUT_CHANGES (default 20), BENCH_FANOUT_CASES (default
 * "shared,unshared,sdk"; BENCH_SHARED_ONLY=1 drops "unshared").
 *
 * Fan-out cases: `shared` = identical live subscriptions; `unshared` = each with distinct
 * variables; `sdk` = what the service SDK sends: its own document, resuming with `sinceRevision`
 * = the revision it listed (here the namespace's current revision when the pool opens).
 */
import { Redis } from 'ioredis';
import postgres from 'postgres';
import { createTestDatabase } from '../test/helpers/postgres.js';
import { SHARED_REDIS_URL, uniquePrefix } from '../test/helpers/redis.js';
import { setConfig, startGateway, testToken, type Gateway } from '../test/helpers/gateway.js';
import { ConfigChangedDocument } from '../src/client/generated/operations.js';
import { format, progress, summarize, type Summary } from './lib/stats.js';
import { openSubscriberPool } from './lib/ws-subscribers.js';

const CHANGES = Number(process.env.BENCH_CHANGES ?? 1_000);
const FANOUT_SIZES = (process.env.BENCH_FANOUT ?? '1000,10000').split(',').map(Number);
const FANOUT_CHANGES = Number(process.env.BENCH_FANOUT_CHANGES ?? 20);
const WARMUP = 50;
type FanoutCase = 'shared' | 'unshared' | 'sdk';
const FANOUT_CASES = (process.env.BENCH_FANOUT_CASES ?? 'shared,unshared,sdk')
  .split(',')
  .filter((name): name is FanoutCase => name === 'shared' || name === 'sdk' || (name === 'unshared' && !process.env.BENCH_SHARED_ONLY));
const CASE_LABELS: Record<FanoutCase, string> = {
  shared: 'shared',
  unshared: 'unshared',
  sdk: 'SDK-style subscribers (sinceRevision = current)',
};

const SUBSCRIPTION = /* GraphQL */ `
  subscription Bench($namespace: String!, $keys: [String!]) {
    configChanged(namespace: $namespace, keys: $keys) { key version revision value replayed }
  }
`;

/** The SDK's own subscription (`createConfigClient` sends exactly this). */
const SDK_SUBSCRIPTION = ConfigChangedDocument.toString();

const log = (line: string) => process.stdout.write(`${line}\n`);

async function floor(databaseUrl: string): Promise<{ pg: Summary; redis: Summary; total: Summary }> {
  const sql = postgres(databaseUrl, { max: 1, onnotice: () => {} });
  const publisher = new Redis(SHARED_REDIS_URL);
  const subscriber = new Redis(SHARED_REDIS_URL);
  const channel = `${uniquePrefix('bench-floor')}floor`;
  try {
    await sql`create table floor_entry (namespace text, key text, value jsonb, version int, primary key (namespace, key))`;
    await sql`create table floor_ns (namespace text primary key, revision bigint not null)`;
    await sql`create table floor_history (namespace text, revision bigint, key text, value jsonb, version int, changed_at timestamptz default now())`;
    await sql`insert into floor_ns values ('bench', 0)`;
    await sql`insert into floor_entry values ('bench', 'k', '0', 1)`;
    await subscriber.subscribe(channel);
    let arrived: (() => void) | null = null;
    subscriber.on('message', () => arrived?.());

    const pg: number[] = [];
    const redis: number[] = [];
    const total: number[] = [];
    for (let i = 0; i < CHANGES + WARMUP; i++) {
      const started = performance.now();
      // The same statements a write needs: bump the revision, update the entry, append history.
      const revision = await sql.begin(async (tx) => {
        const [row] = await tx`update floor_ns set revision = revision + 1 where namespace = 'bench' returning revision`;
        const [entry] = await tx`update floor_entry set value = ${i}, version = version + 1 where namespace = 'bench' and key = 'k' returning version`;
        await tx`insert into floor_history (namespace, revision, key, value, version) values ('bench', ${row!.revision}, 'k', ${i}, ${entry!.version})`;
        return row!.revision as string;
      });
      const committed = performance.now();
      const received = new Promise<void>((resolve) => {
        arrived = resolve;
      });
      await publisher.publish(channel, JSON.stringify({ namespace: 'bench', revision: Number(revision), value: i }));
      await received;
      const done = performance.now();
      if (i >= WARMUP) {
        pg.push(committed - started);
        redis.push(done - committed);
        total.push(done - started);
      }
      progress('floor', i + 1, CHANGES + WARMUP);
    }
    return { pg: summarize(pg), redis: summarize(redis), total: summarize(total) };
  } finally {
    await sql.end();
    publisher.disconnect();
    subscriber.disconnect();
  }
}

async function endToEnd(a: Gateway, b: Gateway, token: string): Promise<{ latency: Summary; response: Summary; afterResponse: Summary }> {
  const namespace = `bench-e2e-${Date.now().toString(36)}`;
  await setConfig(a.url, token, namespace, 'seed', 0);
  const pool = await openSubscriberPool({ wsUrl: b.wsUrl, token, sockets: 1, subscriptions: 1, query: SUBSCRIPTION, variables: () => ({ namespace }) });
  try {
    let arrived: ((data: string) => void) | null = null;
    pool.onNext = (_index, data) => arrived?.(data);
    // The subscription is live once a probe write arrives.
    for (let attempt = 0; ; attempt++) {
      const got = new Promise<boolean>((resolve) => {
        arrived = () => resolve(true);
        setTimeout(() => resolve(false), 500);
      });
      await setConfig(a.url, token, namespace, 'probe', attempt);
      if (await got) break;
      if (attempt > 40) throw new Error('the subscriber on B never received a change');
    }
    const latency: number[] = [];
    const response: number[] = [];
    const afterResponse: number[] = [];
    for (let i = 0; i < CHANGES + WARMUP; i++) {
      const marker = `"value":${i}`;
      const received = new Promise<number>((resolve) => {
        arrived = (data) => {
          if (data.includes(marker)) resolve(performance.now());
        };
      });
      const started = performance.now();
      await setConfig(a.url, token, namespace, 'ai.threshold', i);
      const answered = performance.now();
      const at = await received;
      if (i >= WARMUP) {
        latency.push(at - started);
        response.push(answered - started);
        afterResponse.push(at - answered);
      }
      progress('mutation on A → subscriber on B', i + 1, CHANGES + WARMUP);
    }
    return { latency: summarize(latency), response: summarize(response), afterResponse: summarize(afterResponse) };
  } finally {
    await pool.close();
  }
}

async function fanout(a: Gateway, b: Gateway, token: string, subscribers: number, mode: FanoutCase): Promise<Summary> {
  const namespace = `bench-fan-${subscribers}-${mode}-${Date.now().toString(36)}`;
  const revision = await setConfig(a.url, token, namespace, 'seed', 0);
  const sockets = Math.max(1, Math.min(200, Math.ceil(subscribers / 100)));
  const pool = await openSubscriberPool({
    wsUrl: b.wsUrl,
    token,
    sockets,
    subscriptions: subscribers,
    query: mode === 'sdk' ? SDK_SUBSCRIPTION : SUBSCRIPTION,
    // Identical variables can share one execution; distinct ones (same matching keys) cannot.
    variables: (index) =>
      mode === 'sdk'
        ? { namespace, prefix: null, sinceRevision: revision }
        : mode === 'shared'
          ? { namespace, keys: ['ai.threshold', 'probe'] }
          : { namespace, keys: ['ai.threshold', 'probe', `unshared-${index}`] },
  });
  try {
    let counts = new Int32Array(subscribers);
    let remaining = subscribers;
    let lastArrival: (() => void) | null = null;
    pool.onNext = (index) => {
      if (index >= subscribers) return;
      const seen = counts[index]!;
      counts[index] = seen + 1;
      if (seen === 0 && --remaining === 0) lastArrival?.();
    };
    const round = async (key: string, value: number) => {
      counts = new Int32Array(subscribers);
      remaining = subscribers;
      const done = new Promise<number>((resolve, reject) => {
        lastArrival = () => resolve(performance.now());
        setTimeout(() => reject(new Error(`only ${subscribers - remaining}/${subscribers} subscribers received the change`)), 30_000).unref();
      });
      const started = performance.now();
      await setConfig(a.url, token, namespace, key, value);
      return (await done) - started;
    };
    // Warm-up until every subscription is live (subscribes have no acknowledgement).
    for (let attempt = 0; ; attempt++) {
      try {
        await round('probe', attempt);
        break;
      } catch (error) {
        if (attempt >= 5) throw error;
      }
    }
    const samples: number[] = [];
    for (let i = 0; i < FANOUT_CHANGES; i++) {
      samples.push(await round('ai.threshold', i));
      progress(`fan-out ${subscribers} (${mode})`, i + 1, FANOUT_CHANGES);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    return summarize(samples);
  } finally {
    await pool.close();
  }
}

async function main(): Promise<void> {
  const database = await createTestDatabase('bench');
  const gateways: Gateway[] = [];
  try {
    log(`hotconf propagation bench: ${CHANGES} changes, fan-out ${FANOUT_SIZES.join(' / ')} subscribers, Node ${process.version}`);
    const base = await floor(database.url);
    log(`floor: postgres tx (revision + entry + history)      ${format(base.pg)}`);
    log(`floor: redis publish → subscriber                    ${format(base.redis)}`);
    log(`floor: tx + publish → subscriber                     ${format(base.total)}`);

    const env: Record<string, string> = { DATABASE_URL: database.url, REDIS_URL: SHARED_REDIS_URL, HOTCONF_CHANNEL_PREFIX: uniquePrefix('bench'), LOG_LEVEL: 'error' };
    // e.g. BENCH_GATEWAY_NODE_OPTIONS='--cpu-prof --cpu-prof-dir=/tmp/prof' to profile the gateways.
    if (process.env.BENCH_GATEWAY_NODE_OPTIONS) env.NODE_OPTIONS = process.env.BENCH_GATEWAY_NODE_OPTIONS;
    process.stderr.write('  starting gateways A and B\n');
    gateways.push(await startGateway({ env }));
    gateways.push(await startGateway({ env }));
    const [a, b] = gateways as [Gateway, Gateway];
    const token = await testToken({ sub: 'bench' });

    const e2e = await endToEnd(a, b, token);
    log(`hotconf: mutation answered on A                      ${format(e2e.response)}`);
    log(`hotconf: mutation on A → graphql-ws subscriber on B  ${format(e2e.latency)}`);
    // Negative when the change reached B before A's answer reached the client.
    log(`hotconf: B's delivery after A's answer               ${format(e2e.afterResponse)}`);
    log(
      `ratio to floor: p50 ${(e2e.latency.p50 / base.total.p50).toFixed(2)}×, p99 ${(e2e.latency.p99 / base.total.p99).toFixed(2)}×` +
        `  (targets: p50 within 2× floor, p99 < 15 ms)`,
    );

    for (const size of FANOUT_SIZES) {
      for (const mode of FANOUT_CASES) {
        const summary = await fanout(a, b, token, size, mode);
        log(`fan-out: one change → all ${String(size).padStart(5)} subscribers on B, ${CASE_LABELS[mode]}: last arrival ${format(summary)}`);
      }
    }
    log('targets: 10,000-subscriber fan-out p99 < 100 ms');
  } finally {
    await Promise.allSettled(gateways.map((gateway) => gateway.stop()));
    await database.drop();
  }
}

await main();
