/**
 * setConfig throughput and gateway CPU per write (issue 14, row 3), each gateway paired with a
 * raw postgres.js transaction doing the same work in the same run (bump the namespace revision,
 * read the key's row, upsert the entry, insert the history row, commit), interleaved A/B/A/B,
 * median of rounds. 16 writers, each on its own key, in one namespace and in 16 namespaces.
 * Gateway CPU is the gateway process' user+system time (/proc/<pid>/stat) over the writes it
 * served. Prints a table; asserts nothing.
 *
 *   npm run build && npx tsx bench/write-path.ts [--rounds 3] [--writes 150] [--gateway label=path/to/main.js ...]
 *
 * `--gateway` may be given more than once to compare builds in one run (copy dist/ aside first:
 * `cp -r dist /tmp/dist-before`); the default is `dist/main.js`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import postgres from 'postgres';
import { freePort } from '../test/helpers/net.js';
import { createTestDatabase } from '../test/helpers/postgres.js';
import { TEST_JWT_SECRET, testToken } from '../test/helpers/gateway.js';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    writes: { type: 'string', default: '150' },
    writers: { type: 'string', default: '16' },
    gateway: { type: 'string', multiple: true },
  },
});
const ROUNDS = Number(values.rounds);
const WRITES = Number(values.writes); // per writer per round
const WRITERS = Number(values.writers);
const GATEWAYS = (values.gateway?.length ? values.gateway : ['gateway=dist/main.js']).map((spec) => {
  const at = spec.indexOf('=');
  return at < 0 ? { label: spec, main: spec } : { label: spec.slice(0, at), main: spec.slice(at + 1) };
});
const ROOT = resolve(import.meta.dirname, '..');
const TICK_MS = 10; // /proc clock ticks (USER_HZ = 100)

const SET = `mutation($input: SetConfigInput!) { setConfig(input: $input) { version revision } }`;

interface Spawned {
  url: string;
  child: ChildProcess;
  cpuMs(): number;
  stop(): Promise<void>;
}

async function spawnGateway(main: string, databaseUrl: string): Promise<Spawned> {
  const port = await freePort();
  const child = spawn(process.execPath, [main], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      LOG_LEVEL: 'warn',
      NODE_ENV: 'production',
      HOTCONF_JWT_SECRET: TEST_JWT_SECRET,
      HOTCONF_RATE_LIMIT_PER_MIN: '0',
      DATABASE_URL: databaseUrl,
      REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
      HOTCONF_CHANNEL_PREFIX: `bench-${randomBytes(4).toString('hex')}:`,
      PORT: String(port),
      HOST: '127.0.0.1',
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`gateway ${main} exited during start`);
    try {
      if ((await fetch(`http://127.0.0.1:${port}/ready`)).ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`gateway ${main} not ready after 120 s`);
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    url: `http://127.0.0.1:${port}/graphql`,
    child,
    cpuMs: () => {
      const fields = readFileSync(`/proc/${child.pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      return (Number(fields[11]) + Number(fields[12])) * TICK_MS; // utime + stime
    },
    stop: () =>
      new Promise<void>((done) => {
        child.once('exit', () => done());
        child.kill('SIGTERM');
      }),
  };
}

const namespaceOf = (scenario: Scenario, writer: number, tag: string) => (scenario === '1ns' ? `${tag}` : `${tag}-${writer}`);
type Scenario = '1ns' | '16ns';

/** 16 writers, WRITES sequential setConfig each; returns writes/s and gateway CPU ms per write. */
async function runGateway(gateway: Spawned, token: string, scenario: Scenario, tag: string): Promise<{ rate: number; cpu: number }> {
  const cpu0 = gateway.cpuMs();
  const started = performance.now();
  await Promise.all(
    Array.from({ length: WRITERS }, async (_, writer) => {
      const namespace = namespaceOf(scenario, writer, tag);
      for (let i = 0; i < WRITES; i++) {
        const response = await fetch(gateway.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
          body: JSON.stringify({ query: SET, variables: { input: { namespace, key: `w${writer}`, value: { n: i, threshold: 0.5 } } } }),
        });
        const body = (await response.json()) as { errors?: unknown[] };
        if (body.errors) throw new Error(JSON.stringify(body.errors));
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const writes = WRITERS * WRITES;
  return { rate: writes / seconds, cpu: (gateway.cpuMs() - cpu0) / writes };
}

/** The same work as one setConfig, as a raw postgres.js transaction (the floor). */
async function runRaw(sql: postgres.Sql, scenario: Scenario, tag: string): Promise<{ rate: number }> {
  const started = performance.now();
  await Promise.all(
    Array.from({ length: WRITERS }, async (_, writer) => {
      const namespace = namespaceOf(scenario, writer, tag);
      const key = `w${writer}`;
      for (let i = 0; i < WRITES; i++) {
        await sql.begin(async (tx) => {
          const [, [bumped], current] = await Promise.all([
            tx.unsafe(`select set_config('hotconf.write_path', 'api', true)`),
            tx.unsafe(
              `insert into namespaces (name, revision) values ($1, 1) on conflict (name) do update set revision = namespaces.revision + 1 returning revision, require_reason`,
              [namespace],
            ),
            tx.unsafe(`select version, deleted from entries where namespace = $1 and key = $2`, [namespace, key]),
          ]);
          const version = ((current[0]?.version as number | undefined) ?? 0) + 1;
          const revision = String(bumped!.revision);
          const value = JSON.stringify({ n: i, threshold: 0.5 });
          await Promise.all([
            tx.unsafe(
              `insert into entries (namespace, key, value, version, revision, deleted, updated_at, updated_by) values ($1, $2, $3::jsonb, $4, $5, false, clock_timestamp(), 'bench')
               on conflict (namespace, key) do update set value = excluded.value, version = excluded.version, revision = excluded.revision, updated_at = excluded.updated_at`,
              [namespace, key, value, version, revision],
            ),
            tx.unsafe(
              `insert into history (namespace, revision, key, op, version, value, actor, changed_at) values ($1, $2, $3, 'SET', $4, $5::jsonb, 'bench', clock_timestamp())`,
              [namespace, revision, key, version, value],
            ),
          ]);
        });
      }
    }),
  );
  return { rate: (WRITERS * WRITES) / ((performance.now() - started) / 1000) };
}

const median = (xs: number[]) => {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

const database = await createTestDatabase('bench_write_path');
const gateways: Array<{ label: string; spawned: Spawned }> = [];
try {
  for (const { label, main } of GATEWAYS) gateways.push({ label, spawned: await spawnGateway(main, database.url) });
  const raw = postgres(database.url, { max: 10, onnotice: () => {} });
  const token = await testToken({ sub: 'bench', role: 'admin', namespaces: '*' });
  const results = new Map<string, { rate: number[]; cpu: number[]; ratio: number[] }>();
  const record = (name: string, rate: number, cpu: number, ratio: number) => {
    const entry = results.get(name) ?? { rate: [], cpu: [], ratio: [] };
    entry.rate.push(rate);
    entry.cpu.push(cpu);
    entry.ratio.push(ratio);
    results.set(name, entry);
  };
  // Warm up every path once (JIT, prepared statements, namespaces created).
  for (const scenario of ['1ns', '16ns'] as const) {
    for (const { label, spawned } of gateways) await runGateway(spawned, token, scenario, `${label}-warm`);
    await runRaw(raw, scenario, 'raw-warm');
  }
  for (let round = 0; round < ROUNDS; round++) {
    for (const scenario of ['1ns', '16ns'] as const) {
      for (const { label, spawned } of gateways) {
        // A/B: the raw floor right before each gateway run, on fresh namespaces of its own.
        const floor = await runRaw(raw, scenario, `raw-${label}-${round}`);
        const measured = await runGateway(spawned, token, scenario, `${label}-${round}`);
        record(`${label} ${scenario}`, measured.rate, measured.cpu, measured.rate / floor.rate);
        record(`raw(${label}) ${scenario}`, floor.rate, 0, 1);
        console.error(`round ${round + 1}/${ROUNDS} ${scenario} ${label}: ${measured.rate.toFixed(0)}/s vs raw ${floor.rate.toFixed(0)}/s, ${measured.cpu.toFixed(2)} ms CPU/write`);
      }
    }
  }
  await raw.end();
  console.log(`\nsetConfig, ${WRITERS} writers x ${WRITES} writes, median of ${ROUNDS} rounds`);
  console.log(`${'run'.padEnd(28)}${'writes/s'.padStart(10)}${'x raw tx'.padStart(10)}${'CPU ms/write'.padStart(14)}`);
  for (const [name, { rate, cpu, ratio }] of results) {
    if (name.startsWith('raw(')) continue;
    console.log(`${name.padEnd(28)}${median(rate).toFixed(0).padStart(10)}${median(ratio).toFixed(2).padStart(10)}${median(cpu).toFixed(2).padStart(14)}`);
  }
  for (const [name, { rate }] of results) if (name.startsWith('raw(')) console.log(`${name.padEnd(28)}${median(rate).toFixed(0).padStart(10)}`);
} finally {
  for (const { spawned } of gateways) await spawned.stop().catch(() => {});
  await database.drop();
}
