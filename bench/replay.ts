/**
 * `npx tsx bench/replay.ts`: replay throughput of `configChanged(sinceRevision: 0)` over
 * graphql-ws — the SDK's subscription document, one socket, changes/s until the last change of a
 * namespace holding BENCH_CHANGES changes (default 20,000) arrived. Rounds alternate a caller that
 * may read secrets and one that may not (every 10th key is a secret), median of BENCH_ROUNDS
 * (default 5) rounds each. Not a test: it prints.
 *
 * BENCH_BASELINE=<dir> also runs the gateway built in <dir> (its dist/main.js; e.g. an unpacked
 * `git archive` of an older commit with node_modules linked), on the same database, and
 * interleaves the rounds A/B/A/B, printing each median and the ratio.
 *
 * Uses the machine's PostgreSQL (the test helpers' URL; HOTCONF_TEST_PG_URL overrides it).
 */
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import WebSocket from 'ws';
import { ConfigChangedDocument } from '../src/client/generated/operations.js';
import { createTestDatabase } from '../test/helpers/postgres.js';
import { TEST_JWT_SECRET, gql, startGateway, testToken } from '../test/helpers/gateway.js';
import { freePort, waitFor } from '../test/helpers/net.js';

const CHANGES = Number(process.env.BENCH_CHANGES ?? 20_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const BATCH = 1_000;

// The SDK's own subscription document, so the replay measured is the one services run.
const SUBSCRIPTION = ConfigChangedDocument.toString();

interface Replayed {
  changes: number;
  ms: number;
  redacted: number;
}

/** One replay: opens a socket, subscribes from revision 0, resolves when `expected` changes arrived. */
async function replay(wsUrl: string, token: string, namespace: string, expected: number): Promise<Replayed> {
  const socket = new WebSocket(wsUrl, 'graphql-transport-ws');
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
  });
  let started = 0;
  return new Promise<Replayed>((resolve, reject) => {
    let changes = 0;
    let redacted = 0;
    socket.on('message', (data) => {
      const message = JSON.parse(String(data)) as { type: string; payload?: { data?: { configChanged: { redacted: boolean } }; errors?: unknown } };
      if (message.type === 'connection_ack') {
        started = performance.now();
        socket.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: SUBSCRIPTION, variables: { namespace, sinceRevision: 0 } } }));
        return;
      }
      if (message.type === 'next') {
        if (message.payload?.errors) reject(new Error(JSON.stringify(message.payload.errors)));
        if (message.payload?.data?.configChanged.redacted) redacted++;
        if (++changes === expected) {
          const ms = performance.now() - started;
          socket.close();
          resolve({ changes, ms, redacted });
        }
        return;
      }
      if (message.type === 'error') reject(new Error(JSON.stringify(message.payload)));
    });
    socket.once('close', (code) => {
      if (changes < expected) reject(new Error(`closed with ${code} after ${changes} changes`));
    });
    socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${token}` } }));
  });
}

/** The pid listening on `port` (from `ss`). */
function pidOf(port: number): number {
  const out = execFileSync('ss', ['-ltnpH', `sport = :${port}`], { encoding: 'utf8' });
  const match = /pid=(\d+)/.exec(out);
  if (!match) throw new Error(`no process listens on ${port}: ${out}`);
  return Number(match[1]);
}

/** CPU time (user + system) `pid` has used, in ms: what a round cost the gateway, whatever the machine's load. */
function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1_000) / 100; // utime, stime in clock ticks (USER_HZ 100)
}

/** A gateway built in `dir` (the baseline), on `databaseUrl`. */
async function startBaseline(dir: string, databaseUrl: string) {
  const port = await freePort();
  const child = spawn(process.execPath, ['dist/main.js'], {
    cwd: dir,
    env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'warn', NODE_ENV: 'production', HOTCONF_JWT_SECRET: TEST_JWT_SECRET, HOTCONF_RATE_LIMIT_PER_MIN: '0', DATABASE_URL: databaseUrl, PORT: String(port), HOST: '127.0.0.1' },
    stdio: 'ignore',
  });
  await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/ready`).catch(() => null))?.ok ?? false, 120_000, 'the baseline gateway');
  return {
    port,
    wsUrl: `ws://127.0.0.1:${port}/graphql`,
    stop: () =>
      new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

const database = await createTestDatabase('bench_replay');
const gateway = await startGateway({ env: { DATABASE_URL: database.url } });
try {
  const admin = await testToken({ role: 'admin', secrets: true });
  const reader = await testToken({ sub: 'reader', role: 'reader', secrets: false });
  const namespace = 'bench-replay';
  for (let done = 0; done < CHANGES; done += BATCH) {
    const inputs = Array.from({ length: Math.min(BATCH, CHANGES - done) }, (_, i) => ({
      key: `k.${(done + i) % 2_000}`,
      value: { n: done + i, label: 'some value' },
      ...((done + i) % 10 === 0 ? { secret: true } : {}),
    }));
    await gql(gateway.url, admin, 'mutation($ns: String!, $in: [BatchSetInput!]!) { setConfigs(namespace: $ns, inputs: $in) { revision } }', { ns: namespace, in: inputs });
  }
  const baselineDir = process.env.BENCH_BASELINE;
  const baseline = baselineDir ? await startBaseline(baselineDir, database.url) : null;
  const targets = [gateway, ...(baseline ? [baseline] : [])].map((target, index) => ({ name: index === 0 ? 'this' : 'baseline', wsUrl: target.wsUrl, pid: pidOf(target.port) }));
  try {
    // Warm-up: follows the namespace, JIT.
    for (const target of targets) await replay(target.wsUrl, admin, namespace, CHANGES);
    const rates = new Map<string, number[]>();
    /** Gateway CPU µs per change. */
    const cpus = new Map<string, number[]>();
    for (let round = 0; round < ROUNDS; round++) {
      for (const target of targets) {
        for (const [label, token] of [['secrets', admin], ['redacted', reader]] as const) {
          const cpuBefore = cpuMs(target.pid);
          const result = await replay(target.wsUrl, token, namespace, CHANGES);
          const cpu = cpuMs(target.pid) - cpuBefore;
          cpus.set(`${target.name} ${label}`, [...(cpus.get(`${target.name} ${label}`) ?? []), (cpu * 1_000) / result.changes]);
          if (label === 'redacted' && result.redacted === 0) throw new Error('the reader saw no redacted change');
          if (label === 'secrets' && result.redacted !== 0) throw new Error('the admin saw redacted changes');
          const name = `${target.name} ${label}`;
          rates.set(name, [...(rates.get(name) ?? []), result.changes / (result.ms / 1_000)]);
        }
      }
    }
    for (const [name, values] of rates) {
      const cpu = cpus.get(name)!;
      console.log(
        `replay ${CHANGES} changes, ${name}: median ${Math.round(median(values))} changes/s [${values.map((v) => Math.round(v)).join(', ')}], ` +
          `gateway CPU median ${median(cpu).toFixed(1)} µs/change [${cpu.map((v) => v.toFixed(1)).join(', ')}] over ${ROUNDS} rounds`,
      );
    }
    if (baseline) {
      for (const label of ['secrets', 'redacted']) {
        const rate = median(rates.get(`this ${label}`)!) / median(rates.get(`baseline ${label}`)!);
        const cpu = median(cpus.get(`baseline ${label}`)!) / median(cpus.get(`this ${label}`)!);
        console.log(`this/baseline (${label}): throughput ×${rate.toFixed(2)}, CPU per change ÷${cpu.toFixed(2)}`);
      }
    }
  } finally {
    await baseline?.stop();
  }
} finally {
  await gateway.stop();
  await database.drop();
}
