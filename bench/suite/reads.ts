import { ConfigDocument } from '../../src/client/generated/operations.js';
import { cpuSeconds } from '../lib/proc.js';
import { runWrk, type WrkResult } from '../lib/wrk.js';
import { median, step, times, type BenchContext } from './context.js';

const CONNECTIONS = Number(process.env.BENCH_READ_CONNECTIONS ?? 32);
const SECONDS = Number(process.env.BENCH_READ_SECONDS ?? 5);

/** The SDK's own `config` query (what `hotconf get` and services send). */
const CONFIG_QUERY = ConfigDocument.toString();

/**
 * `config` over 32 keep-alive connections (wrk) against a plain graphql-yoga `{ __typename }`
 * and etcd's v3 HTTP range of one key, one after the other in each round; gateway CPU per query
 * from /proc.
 */
export async function reads(context: BenchContext): Promise<void> {
  const [a] = await context.gateways();
  const token = await context.token();
  const etcd = await context.etcd();
  const yoga = await context.plainYoga();

  const namespace = 'bench-reads';
  await context.setConfig(a.url, namespace, 'ai.threshold', { threshold: 0.75, model: 'small' });
  await etcd.put('bench-reads/ai.threshold', JSON.stringify({ threshold: 0.75, model: 'small' }));

  const hotconfBody = JSON.stringify({ query: CONFIG_QUERY, variables: { namespace, key: 'ai.threshold' } });
  const check = await fetch(a.url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: hotconfBody });
  const answer = (await check.json()) as { data?: { config?: { key?: string } } };
  if (answer.data?.config?.key !== 'ai.threshold') throw new Error(`the config query did not answer: ${JSON.stringify(answer)}`);

  const wrk = async (label: string, url: string, body: string, headers?: Record<string, string>): Promise<WrkResult> => {
    const result = await runWrk({ url, body, headers, connections: CONNECTIONS, durationSeconds: SECONDS });
    if (result.failures > 0) throw new Error(`${label}: ${result.failures} failed responses out of ${result.requests}`);
    return result;
  };

  // Unmeasured warm-up of each server (JIT, connection pools), so round 1 is not a cold start.
  step('reads', 'warming up hotconf, plain yoga and etcd (2 s each)');
  const hotconfHeaders = { authorization: `Bearer ${token}` };
  const plainBody = JSON.stringify({ query: '{ __typename }' });
  const rangeUrl = `${etcd.url}/v3/kv/range`;
  const rangeBody = JSON.stringify({ key: Buffer.from('bench-reads/ai.threshold').toString('base64') });
  for (const [url, body, headers] of [[a.url, hotconfBody, hotconfHeaders], [yoga.url, plainBody, undefined], [rangeUrl, rangeBody, undefined]] as const) {
    await runWrk({ url, body, headers, connections: CONNECTIONS, durationSeconds: 2 });
  }

  const hot: number[] = [];
  const plain: number[] = [];
  const peer: number[] = [];
  const cpuMs: number[] = [];
  for (let round = 1; round <= context.rounds; round++) {
    const before = cpuSeconds(a.pid);
    const result = await wrk('hotconf config', a.url, hotconfBody, hotconfHeaders);
    cpuMs.push(((cpuSeconds(a.pid) - before) * 1_000) / result.requests);
    hot.push(result.requestsPerSecond);
    plain.push((await wrk('plain yoga', yoga.url, plainBody)).requestsPerSecond);
    peer.push((await wrk('etcd range', rangeUrl, rangeBody)).requestsPerSecond);
    step(
      'reads',
      `round ${round}/${context.rounds}: hotconf ${hot.at(-1)!.toFixed(0)} req/s (${cpuMs.at(-1)!.toFixed(3)} ms CPU each), plain yoga ${plain.at(-1)!.toFixed(0)}, etcd ${peer.at(-1)!.toFixed(0)}`,
    );
  }
  const perSecond = (value: number) => `${Math.round(value).toLocaleString('en')} req/s`;
  context.results.push({
    measure: `\`config\` query, ${CONNECTIONS} keep-alive connections (wrk)`,
    hotconf: `${perSecond(median(hot))}; ${median(cpuMs).toFixed(3)} ms gateway CPU per query`,
    baseline: `plain yoga ${perSecond(median(plain))}; etcd range ${perSecond(median(peer))}`,
    ratio: `${times(median(hot.map((h, i) => h / plain[i]!)))} plain yoga, ${times(median(hot.map((h, i) => h / peer[i]!)))} etcd`,
    goal: '≥ 1.0× plain yoga, ≥ 0.6× etcd',
  });
}
