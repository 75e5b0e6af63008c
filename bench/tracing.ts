/**
 * Cost of tracing per mutation: sequential `setConfig` over HTTP to an in-process gateway (local
 * PostgreSQL and Redis, one graphql-ws subscriber on the namespace so each change is also
 * delivered), with tracing off and on (the real SDK from `OTEL_EXPORTER_OTLP_ENDPOINT`: batch
 * processor, OTLP/HTTP protobuf exporter, to a local receiver that discards what it gets).
 *
 * Each mode runs in processes of its own (tracing on enables AsyncLocalStorage process-wide, which
 * would tax a tracing-off gateway in the same process), in alternating rounds so that load on the
 * machine hits both alike. Prints wall time per mutation (p50, mean) and process CPU time per
 * mutation (client and gateway together); asserts nothing.
 *
 *   npm run bench:tracing        # BENCH_MODES=off,on BENCH_ROUNDS=4 BENCH_WARMUP=500 BENCH_WRITES=1000
 */
import { execFile } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { createApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { createLogger } from '../src/logger.js';
import { TEST_JWT_SECRET, testToken } from '../test/helpers/gateway.js';
import { createTestDatabase } from '../test/helpers/postgres.js';
import { SHARED_REDIS_URL, uniquePrefix } from '../test/helpers/redis.js';
import { summarize } from './lib/stats.js';

type Mode = 'off' | 'on';
interface Sample {
  wall: number[];
  cpuUs: number;
  exports: number;
}

const MODES = (process.env.BENCH_MODES ?? 'off,on').split(',') as Mode[];
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 4);
const WRITES = Number(process.env.BENCH_WRITES ?? 1_000);
const WARMUP = Number(process.env.BENCH_WARMUP ?? 500);
const SET = /* GraphQL */ `mutation Set($input: SetConfigInput!) { setConfig(input: $input) { version } }`;
const WATCH = /* GraphQL */ `subscription Watch($namespace: String!) { configChanged(namespace: $namespace) { key revision } }`;

/** One process: a gateway in `mode` on `databaseUrl`, WARMUP then WRITES timed mutations. */
async function measure(mode: Mode, databaseUrl: string): Promise<Sample> {
  // A collector stand-in: reads each export and answers 200 (an empty ExportTraceServiceResponse).
  let exports = 0;
  const receiver = createServer((req, res) => {
    req.on('data', () => {});
    req.on('end', () => {
      exports++;
      res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const config = loadConfig({
    PORT: '0',
    HOST: '127.0.0.1',
    NODE_ENV: 'production',
    DATABASE_URL: databaseUrl,
    REDIS_URL: SHARED_REDIS_URL,
    HOTCONF_CHANNEL_PREFIX: uniquePrefix('bench-tracing'),
    HOTCONF_JWT_SECRET: TEST_JWT_SECRET,
    HOTCONF_RATE_LIMIT_PER_MIN: '0',
    ...(mode === 'on' ? { OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}` } : {}),
  });
  const app = await createApp(config, { logger: createLogger({ level: 'silent' }) });
  const { url } = await app.start();
  const token = await testToken({ sub: 'bench', role: 'admin', namespaces: '*' });
  const namespace = `bench-${mode}`;
  const client = createClient({ url: url.replace(/^http/, 'ws'), webSocketImpl: WebSocket, connectionParams: { authorization: `Bearer ${token}` } });
  try {
    client.subscribe({ query: WATCH, variables: { namespace } }, { next: () => {}, error: () => {}, complete: () => {} });
    // The subscriber is live once the gateway follows the namespace.
    while (app.feed.stats().revisions[namespace] === undefined) await new Promise((resolve) => setTimeout(resolve, 20));
    const mutate = (i: number) =>
      fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ query: SET, variables: { input: { namespace, key: `k${i % 20}`, value: { i, note: 'x'.repeat(64) } } } }),
      }).then((response) => response.arrayBuffer());
    for (let i = 0; i < WARMUP; i++) await mutate(i);
    const wall: number[] = [];
    const cpu = process.cpuUsage();
    for (let i = 0; i < WRITES; i++) {
      const started = performance.now();
      await mutate(i);
      wall.push(performance.now() - started);
    }
    const used = process.cpuUsage(cpu);
    return { wall, cpuUs: used.user + used.system, exports };
  } finally {
    await client.dispose();
    await app.stop();
    receiver.close();
  }
}

if (process.env.BENCH_CHILD_MODE) {
  const sample = await measure(process.env.BENCH_CHILD_MODE as Mode, process.env.BENCH_DATABASE_URL!);
  process.stdout.write(JSON.stringify(sample));
} else {
  const run = promisify(execFile);
  const self = fileURLToPath(import.meta.url);
  const database = await createTestDatabase('bench_tracing');
  const results = new Map<Mode, Sample>(MODES.map((mode) => [mode, { wall: [], cpuUs: 0, exports: 0 }]));
  try {
    for (let round = 0; round < ROUNDS; round++) {
      for (const mode of round % 2 ? [...MODES].reverse() : MODES) {
        const { stdout } = await run(process.execPath, [...process.execArgv, self], {
          env: { ...process.env, BENCH_CHILD_MODE: mode, BENCH_DATABASE_URL: database.url },
          maxBuffer: 64 * 1024 * 1024,
        });
        const sample = JSON.parse(stdout) as Sample;
        const total = results.get(mode)!;
        total.wall.push(...sample.wall);
        total.cpuUs += sample.cpuUs;
        total.exports += sample.exports;
        process.stderr.write(`  round ${round + 1}/${ROUNDS} ${mode} done\n`);
      }
    }
  } finally {
    await database.drop();
  }
  for (const [mode, { wall, cpuUs, exports }] of results) {
    const summary = summarize(wall);
    const mean = wall.reduce((sum, ms) => sum + ms, 0) / wall.length;
    console.log(
      `tracing ${mode.padEnd(3)}  setConfig p50 ${summary.p50.toFixed(3)} ms  mean ${mean.toFixed(3)} ms  p99 ${summary.p99.toFixed(2)} ms  ` +
        `CPU ${(cpuUs / wall.length).toFixed(0)} µs/mutation  (n=${wall.length}${mode === 'on' ? `, ${exports} OTLP exports` : ''})`,
    );
  }
}
