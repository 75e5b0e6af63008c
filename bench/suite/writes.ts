import { Agent, request } from 'node:http';
import { SET_CONFIG } from '../../test/helpers/gateway.js';
import { cpuSeconds } from '../lib/proc.js';
import { createRawWriter } from '../lib/raw-write.js';
import { median, step, times, type BenchContext } from './context.js';

const WRITERS = Number(process.env.BENCH_WRITERS ?? 16);
const SECONDS = Number(process.env.BENCH_WRITE_SECONDS ?? 3);

/** Runs `writers` loops of `write(writer, i)` for `seconds`; writes per second. */
async function drive(writers: number, seconds: number, write: (writer: number, i: number) => Promise<void>): Promise<{ rate: number; count: number }> {
  const deadline = performance.now() + seconds * 1_000;
  const started = performance.now();
  let count = 0;
  await Promise.all(
    Array.from({ length: writers }, async (_, writer) => {
      for (let i = 0; performance.now() < deadline; i++) {
        await write(writer, i);
        count++;
      }
    }),
  );
  return { rate: count / ((performance.now() - started) / 1_000), count };
}

/**
 * setConfig throughput with 16 concurrent writers in 1 namespace and in 16 namespaces, against a
 * raw postgres.js transaction doing the same database work with the same concurrency; gateway
 * CPU per write from /proc.
 */
export async function writes(context: BenchContext): Promise<void> {
  const [a] = await context.gateways();
  const token = await context.token();
  const database = await context.database();
  const raw = await createRawWriter(database.url, { max: WRITERS });
  const run = `${Date.now().toString(36)}`;
  const namespaceOf = (spread: number, writer: number) => `bench-w-${run}-${spread === 1 ? 'one' : writer % spread}`;

  // The load generator shares the 2 cores with the gateway and Postgres, so its own cost lowers
  // hotconf's figure: node:http on keep-alive sockets (one per writer) costs the client ~0.1 ms a
  // request where fetch (undici) cost ~0.4 ms, about what postgres.js costs the raw floor's client.
  // (The reads row uses wrk for the same reason.)
  const agent = new Agent({ keepAlive: true, maxSockets: WRITERS });
  const target = new URL(a.url);
  const post = (body: string) =>
    new Promise<string>((resolve, reject) => {
      const req = request(
        {
          agent,
          host: target.hostname,
          port: target.port,
          path: target.pathname,
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, 'content-length': Buffer.byteLength(body) },
        },
        (response) => {
          let text = '';
          response.setEncoding('utf8');
          response.on('data', (chunk: string) => (text += chunk));
          response.on('end', () => resolve(text));
          response.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  const hotconfWrite = (spread: number) => async (writer: number, i: number) => {
    const text = await post(JSON.stringify({ query: SET_CONFIG, variables: { input: { namespace: namespaceOf(spread, writer), key: `writer-${writer}`, value: i } } }));
    const body = JSON.parse(text) as { errors?: unknown[] };
    if (body.errors) throw new Error(`setConfig failed: ${JSON.stringify(body.errors)}`);
  };
  const rawWrite = (spread: number) => async (writer: number, i: number) => {
    await raw.write(namespaceOf(spread, writer), `writer-${writer}`, i);
  };

  try {
    // Warm both paths (JIT, connections, namespaces created).
    await drive(WRITERS, 1, hotconfWrite(WRITERS));
    await drive(WRITERS, 1, rawWrite(WRITERS));
    for (const spread of [1, WRITERS]) {
      const hot: number[] = [];
      const base: number[] = [];
      const cpuMs: number[] = [];
      for (let round = 1; round <= context.rounds; round++) {
        const before = cpuSeconds(a.pid);
        const measured = await drive(WRITERS, SECONDS, hotconfWrite(spread));
        cpuMs.push(((cpuSeconds(a.pid) - before) * 1_000) / measured.count);
        hot.push(measured.rate);
        base.push((await drive(WRITERS, SECONDS, rawWrite(spread))).rate);
        step('writes', `${spread} namespace(s), round ${round}/${context.rounds}: hotconf ${hot.at(-1)!.toFixed(0)}/s (${cpuMs.at(-1)!.toFixed(2)} ms CPU each), raw tx ${base.at(-1)!.toFixed(0)}/s`);
      }
      context.results.push({
        measure: `setConfig throughput, ${WRITERS} writers, ${spread} namespace${spread === 1 ? '' : 's'}`,
        hotconf: `${Math.round(median(hot)).toLocaleString('en')} writes/s; ${median(cpuMs).toFixed(2)} ms gateway CPU per write`,
        baseline: `raw postgres.js tx ${Math.round(median(base)).toLocaleString('en')}/s`,
        ratio: times(median(hot.map((h, i) => h / base[i]!))),
        goal: '≥ 0.6×; ≤ 0.5 ms CPU per write',
      });
    }
  } finally {
    agent.destroy();
    await raw.end();
  }
}
