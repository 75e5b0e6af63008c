/**
 * Where a write's CPU goes, machine-wide (issue 14, write row): runs the suite's 16-writer
 * setConfig load and its raw postgres.js floor alternately and attributes CPU per write to the
 * gateway, this client, the Postgres backends and Redis from /proc, with the machine's idle share.
 *
 *   npm run build && npx tsx bench/write-probe.ts [--spread 16] [--seconds 3] [--rounds 2] [--raw 16]
 *
 * Environment: PROBE_CLIENT=http posts with node:http keep-alive sockets (as the suite does)
 * instead of fetch; PROBE_POOL_MAX sets the gateway's DATABASE_POOL_MAX; PROBE_MAIN runs another
 * build (e.g. `cp -r dist dist-before` first; the path must be inside the repository so that
 * node_modules resolve). Postgres CPU counts only the backends of the bench database.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { Agent, request } from 'node:http';
import postgres from 'postgres';
import { SET_CONFIG, testToken } from '../test/helpers/gateway.js';
import { createTestDatabase } from '../test/helpers/postgres.js';
import { startBenchGateway } from './lib/gateway-process.js';
import { cpuSeconds } from './lib/proc.js';
import { createRawWriter } from './lib/raw-write.js';

const { values } = parseArgs({
  options: {
    spread: { type: 'string', default: '16' },
    seconds: { type: 'string', default: '3' },
    rounds: { type: 'string', default: '2' },
    writers: { type: 'string', default: '16' },
    raw: { type: 'string', default: '16' },
  },
});
const SPREAD = Number(values.spread);
const SECONDS = Number(values.seconds);
const WRITERS = Number(values.writers);

let backends: number[] = [];
const pgBackends = () => backends.reduce((sum, pid) => {
  try {
    return sum + cpuSeconds(pid);
  } catch {
    return sum;
  }
}, 0);
const byComm = (name: string): number => {
  let total = 0;
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      if (comm.startsWith(name)) total += cpuSeconds(Number(pid));
    } catch {
      // gone
    }
  }
  return total;
};
const machine = () => {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  return { idle: fields[3]! + fields[4]!, total: fields.reduce((a, b) => a + b, 0) };
};
const self = () => {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1e6;
};

async function drive(write: (writer: number, i: number) => Promise<void>) {
  const deadline = performance.now() + SECONDS * 1_000;
  const started = performance.now();
  let count = 0;
  await Promise.all(
    Array.from({ length: WRITERS }, async (_, writer) => {
      for (let i = 0; performance.now() < deadline; i++) {
        await write(writer, i);
        count++;
      }
    }),
  );
  return { count, seconds: (performance.now() - started) / 1_000 };
}

const database = await createTestDatabase('write_probe');
// PROBE_MAIN=dist-before/main.js runs another build (node runs the first script argument).
const gateway = await startBenchGateway({
  DATABASE_URL: database.url,
  REDIS_URL: 'redis://127.0.0.1:6379',
  HOTCONF_CHANNEL_PREFIX: `probe-${Date.now().toString(36)}:`,
  ...(process.env.PROBE_POOL_MAX ? { DATABASE_POOL_MAX: process.env.PROBE_POOL_MAX } : {}),
}, process.env.PROBE_MAIN ? [process.env.PROBE_MAIN] : []);
const raw = await createRawWriter(database.url, { max: Number(values.raw) });
const token = await testToken({ sub: 'bench' });
const run = Date.now().toString(36);
const ns = (writer: number) => `probe-${run}-${writer % SPREAD}`;
const agent = new Agent({ keepAlive: true, maxSockets: WRITERS });
const target = new URL(gateway.url);
const post = (body: string) =>
  new Promise<string>((resolve, reject) => {
    const req = request(
      { agent, host: target.hostname, port: target.port, path: target.pathname, method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, 'content-length': Buffer.byteLength(body) } },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve(text));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
const hot = process.env.PROBE_CLIENT === 'http' ? async (writer: number, i: number) => {
  const text = await post(JSON.stringify({ query: SET_CONFIG, variables: { input: { namespace: ns(writer), key: `writer-${writer}`, value: i } } }));
  const body = JSON.parse(text) as { errors?: unknown[] };
  if (body.errors) throw new Error(JSON.stringify(body.errors));
} : async (writer: number, i: number) => {
  const response = await fetch(gateway.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query: SET_CONFIG, variables: { input: { namespace: ns(writer), key: `writer-${writer}`, value: i } } }),
  });
  const body = (await response.json()) as { errors?: unknown[] };
  if (body.errors) throw new Error(JSON.stringify(body.errors));
};
const rawWrite = async (writer: number, i: number) => {
  await raw.write(ns(writer), `writer-${writer}`, i);
};

let admin: postgres.Sql | null = null;
const xacts = async () => (admin ? Number((await admin`select xact_commit + xact_rollback as n from pg_stat_database where datname = current_database()`)[0]!.n) : 0);
async function measure(label: string, write: (writer: number, i: number) => Promise<void>) {
  const x0 = await xacts();
  const before = { gw: cpuSeconds(gateway.pid), me: self(), pg: pgBackends(), redis: byComm('redis-server'), m: machine() };
  const pool: string[] = [];
  const sampler = setInterval(() => {
    void fetch(`http://127.0.0.1:${gateway.port}/metrics`)
      .then((response) => response.text())
      .then((text) => pool.push(`${/hotconf_db_pool_waiting (\d+)/.exec(text)?.[1] ?? '?'}w/${/hotconf_db_pool_connections\{state="in_use"\} (\d+)/.exec(text)?.[1] ?? '?'}u`))
      .catch(() => {});
  }, 500);
  const { count, seconds } = await drive(write);
  clearInterval(sampler);
  if (label === 'hotconf') console.log(`  pool (waiting w / in use u) every 0.5 s: ${pool.join(' ')}`);
  const after = { gw: cpuSeconds(gateway.pid), me: self(), pg: pgBackends(), redis: byComm('redis-server'), m: machine() };
  await new Promise((r) => setTimeout(r, 600));
  const x1 = await xacts();
  console.log(`  ${label}: ${((x1 - x0 - 2) / count).toFixed(2)} transactions per write`);
  const per = (a: number, b: number) => (((b - a) * 1_000) / count).toFixed(3);
  const idle = ((after.m.idle - before.m.idle) / (after.m.total - before.m.total)) * 100;
  console.log(
    `${label.padEnd(8)} ${(count / seconds).toFixed(0).padStart(6)}/s  ms CPU per write: gateway ${per(before.gw, after.gw)} client ${per(before.me, after.me)} postgres ${per(before.pg, after.pg)} redis ${per(before.redis, after.redis)}; gateway busy ${(((after.gw - before.gw) / seconds) * 100).toFixed(0)}%, machine idle ${idle.toFixed(0)}%`,
  );
}

try {
  await drive(hot);
  await drive(rawWrite);
  admin = postgres(database.url, { max: 1 });
  backends = (await admin`select pid from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()`).map((row) => Number(row.pid));
  for (let round = 0; round < Number(values.rounds); round++) {
    await measure('hotconf', hot);
    await measure('raw', rawWrite);
  }
} finally {
  await raw.end();
  await admin?.end();
  await gateway.stop();
  await database.drop();
}
