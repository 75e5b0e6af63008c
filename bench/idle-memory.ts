/**
 * `npx tsx bench/idle-memory.ts`: what one idle graphql-ws connection carrying one SDK-style
 * `configChanged` subscription costs a freshly started gateway. Opens BENCH_IDLE_CONNECTIONS
 * (default 2,000) such connections, and prints resident memory before and after (plain, and after
 * the full GC a heap snapshot forces), heap totals, and the heap snapshot diff by constructor
 * (objects and bytes per connection). Not a test: it prints.
 * Options: BENCH_IDLE_CONNECTIONS, BENCH_IDLE_SNAPSHOTS=1 (the heap snapshot diff), BENCH_IDLE_TOP
 * (rows of the diff, default 40), BENCH_IDLE_PROBE=bench/lib/memory-probe.mjs (the process's own
 * figures after a full GC, from a module preloaded into the gateway).
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ConfigChangedDocument } from '../src/client/generated/operations.js';
import { SET_CONFIG, gql, testToken } from '../test/helpers/gateway.js';
import { createTestDatabase } from '../test/helpers/postgres.js';
import { SHARED_REDIS_URL, uniquePrefix } from '../test/helpers/redis.js';
import { startBenchGateway } from './lib/gateway-process.js';
import { rssKiB } from './lib/proc.js';
import { openSubscriberPool } from './lib/ws-subscribers.js';

const CONNECTIONS = Number(process.env.BENCH_IDLE_CONNECTIONS ?? 2_000);
const TOP = Number(process.env.BENCH_IDLE_TOP ?? 40);
const SNAPSHOTS = process.env.BENCH_IDLE_SNAPSHOTS === '1';

interface Snapshot {
  byName: Map<string, { count: number; bytes: number }>;
  total: number;
}

/** Self sizes of a V8 heap snapshot summed by `type:name` (constructor for objects). */
async function readSnapshot(file: string): Promise<Snapshot> {
  const json = JSON.parse(await readFile(file, 'utf8')) as {
    snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
    nodes: number[];
    strings: string[];
  };
  const fields = json.snapshot.meta.node_fields;
  const types = json.snapshot.meta.node_types[0];
  const width = fields.length;
  const [typeAt, nameAt, sizeAt] = [fields.indexOf('type'), fields.indexOf('name'), fields.indexOf('self_size')];
  const byName = new Map<string, { count: number; bytes: number }>();
  let total = 0;
  for (let i = 0; i < json.nodes.length; i += width) {
    const type = types[json.nodes[i + typeAt]!]!;
    let name = type === 'object' || type === 'native' || type === 'closure' || type === 'hidden' ? json.strings[json.nodes[i + nameAt]!]! : '';
    if (type === 'closure') name = `fn ${name.slice(0, 40)}`;
    if (type === 'hidden' || type === 'native') name = name.slice(0, 50);
    const key = `${type}:${name}`;
    const size = json.nodes[i + sizeAt]!;
    total += size;
    const entry = byName.get(key) ?? { count: 0, bytes: 0 };
    entry.count++;
    entry.bytes += size;
    byName.set(key, entry);
  }
  return { byName, total };
}

async function snapshot(pid: number, dir: string): Promise<{ file: string; rss: number }> {
  const before = new Set(await readdir(dir));
  process.kill(pid, 'SIGUSR2');
  for (;;) {
    await sleep(500);
    const added = (await readdir(dir)).filter((file) => !before.has(file) && file.endsWith('.heapsnapshot'));
    if (added.length > 0) {
      const file = join(dir, added[0]!);
      // The file is written in one go by the signal handler; wait until its size settles.
      let size = -1;
      for (;;) {
        const text = await readFile(file, 'utf8').catch(() => '');
        if (text.length === size && text.endsWith('}')) break;
        size = text.length;
        await sleep(500);
      }
      return { file, rss: rssKiB(pid) };
    }
  }
}

const database = await createTestDatabase('idle');
const dir = await mkdtemp(join(tmpdir(), 'hotconf-idle-'));
const env = {
  DATABASE_URL: database.url,
  REDIS_URL: SHARED_REDIS_URL,
  HOTCONF_CHANNEL_PREFIX: uniquePrefix('idle'),
  HOTCONF_MAX_SUBSCRIPTIONS_PER_SUBJECT: '100000',
  BENCH_PROBE_DIR: dir,
};
const probe = process.env.BENCH_IDLE_PROBE; // a module answering SIGHUP with memory figures (optional)
const gateway = await startBenchGateway(env, ['--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${dir}`, ...(probe ? ['--expose-gc', `--import=${probe}`] : [])]);
interface ProbeFigures {
  rss: number;
  heapTotal: number;
  heapUsed: number;
  external: number;
}
const probed: ProbeFigures[] = [];
const probeMemory = async () => {
  if (!probe) return;
  const before = new Set(await readdir(dir));
  process.kill(gateway.pid, 'SIGHUP');
  for (;;) {
    await sleep(500);
    const added = (await readdir(dir)).find((file) => !before.has(file) && file.startsWith('mem.'));
    if (added) {
      await sleep(200);
      probed.push((JSON.parse(await readFile(join(dir, added), 'utf8')) as { gced: ProbeFigures }).gced);
      return;
    }
  }
};
try {
  const token = await testToken({ sub: 'bench' });
  const namespace = `idle-${Date.now().toString(36)}`;
  await gql(gateway.url, token, SET_CONFIG, { input: { namespace, key: 'seed', value: 0 } });
  // Warm every path once (a subscription opened and closed) so the baseline holds the code.
  const warm = await openSubscriberPool({ wsUrl: gateway.wsUrl, token, sockets: 4, subscriptions: 4, query: ConfigChangedDocument.toString(), variables: () => ({ namespace, prefix: null, sinceRevision: null }) });
  await sleep(1_000);
  await warm.close();
  await sleep(2_000);
  const rss0 = rssKiB(gateway.pid);
  await probeMemory();
  // A heap snapshot costs the process far more native memory than the connections do: taken
  // only on request, and after the resident-memory figures.
  const snap0 = SNAPSHOTS ? await snapshot(gateway.pid, dir) : null;
  const pool = await openSubscriberPool({
    wsUrl: gateway.wsUrl,
    token,
    sockets: CONNECTIONS,
    subscriptions: CONNECTIONS,
    query: ConfigChangedDocument.toString(),
    variables: () => ({ namespace, prefix: null, sinceRevision: null }),
  });
  let received = 0;
  pool.onNext = () => received++;
  // Every subscription live: one change reaches all of them (refused ones subscribe again).
  for (let attempt = 0; attempt < 20; attempt++) {
    const { indexes } = pool.takeFailed();
    for (const index of indexes) pool.resubscribe(index);
    if (indexes.length) process.stderr.write(`${indexes.length} refused, subscribing again\n`);
    received = 0;
    await gql(gateway.url, token, SET_CONFIG, { input: { namespace, key: 'probe', value: attempt } });
    await sleep(3_000);
    if (received >= CONNECTIONS) break;
  }
  process.stderr.write(`${received}/${CONNECTIONS} received the probe\n`);
  await sleep(2_000);
  const rss1 = rssKiB(gateway.pid);
  await probeMemory();
  const per = (kib: number) => (kib / CONNECTIONS).toFixed(2);
  process.stdout.write(`connections: ${CONNECTIONS}\n`);
  process.stdout.write(`RSS: ${rss0} → ${rss1} KiB = ${per(rss1 - rss0)} KiB per connection\n`);
  if (probed.length === 2) {
    const [x, y] = probed as [ProbeFigures, ProbeFigures];
    for (const field of ['rss', 'heapTotal', 'heapUsed', 'external'] as const) {
      process.stdout.write(`after a full GC, ${field}: ${x[field] >> 10} → ${y[field] >> 10} KiB = ${per((y[field] - x[field]) / 1024)} KiB per connection\n`);
    }
  }
  if (snap0) {
    const snap1 = await snapshot(gateway.pid, dir);
    const [a, b] = [await readSnapshot(snap0.file), await readSnapshot(snap1.file)];
    process.stdout.write(`heap (live, snapshot): ${(a.total / 1024).toFixed(0)} → ${(b.total / 1024).toFixed(0)} KiB = ${per((b.total - a.total) / 1024)} KiB per connection\n`);
    const rows = [...b.byName].map(([key, after]) => {
      const before = a.byName.get(key) ?? { count: 0, bytes: 0 };
      return { key, count: after.count - before.count, bytes: after.bytes - before.bytes };
    });
    rows.sort((x, y) => y.bytes - x.bytes);
    process.stdout.write(`top ${TOP} by bytes (per connection: objects, bytes):\n`);
    for (const row of rows.slice(0, TOP)) {
      process.stdout.write(`  ${(row.count / CONNECTIONS).toFixed(2).padStart(7)} ${(row.bytes / CONNECTIONS).toFixed(0).padStart(6)} B  ${row.key}\n`);
    }
  }
  await pool.close();
} finally {
  await gateway.stop();
  await database.drop();
  if (process.env.BENCH_IDLE_KEEP === '1') process.stderr.write(`snapshots kept in ${dir}\n`);
  else await rm(dir, { recursive: true, force: true });
}
