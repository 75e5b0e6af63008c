import WebSocket from 'ws';
import { ConfigChangedDocument, ConfigChangesDocument } from '../../src/client/generated/operations.js';
import { median, step, times, type BenchContext } from './context.js';

const CHANGES = Number(process.env.BENCH_REPLAY_CHANGES ?? 10_000);
const KEYS = 100;
const SEED_WRITERS = 16;

/** Resolves after `count` `next` messages of one `configChanged(sinceRevision: 0)` over a raw graphql-ws socket; ms taken. */
async function replayOverWs(wsUrl: string, token: string, namespace: string, count: number): Promise<number> {
  const started = performance.now();
  const socket = new WebSocket(wsUrl, 'graphql-transport-ws');
  try {
    return await new Promise<number>((resolve, reject) => {
      let received = 0;
      socket.on('error', reject);
      socket.on('open', () => socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${token}` } })));
      socket.on('message', (raw) => {
        const data = raw.toString();
        if (data.startsWith('{"type":"connection_ack"')) {
          socket.send(
            JSON.stringify({ id: '1', type: 'subscribe', payload: { query: ConfigChangedDocument.toString(), variables: { namespace, sinceRevision: 0 } } }),
          );
        } else if (data.includes('"type":"next"')) {
          if (++received === count) resolve(performance.now() - started);
        } else if (!data.includes('"type":"pong"')) {
          reject(new Error(`replay: ${data.slice(0, 300)}`));
        }
      });
    });
  } finally {
    socket.terminate();
  }
}

/** Reads every change of `namespace` through `configChanges` pages of `limit`; ms taken. */
async function pageThrough(url: string, token: string, namespace: string, count: number, limit = 1_000): Promise<number> {
  const started = performance.now();
  let since = 0;
  let seen = 0;
  for (;;) {
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query: ConfigChangesDocument.toString(), variables: { namespace, sinceRevision: since, limit } }),
    });
    const body = (await response.json()) as { data?: { configChanges: { hasMore: boolean; changes: Array<{ revision: number }> } }; errors?: unknown };
    if (!body.data) throw new Error(`configChanges: ${JSON.stringify(body.errors)}`);
    const page = body.data.configChanges;
    seen += page.changes.length;
    if (!page.hasMore || page.changes.length === 0) break;
    since = page.changes.at(-1)!.revision;
  }
  if (seen !== count) throw new Error(`configChanges paged ${seen} changes, expected ${count}`);
  return performance.now() - started;
}

/**
 * `configChanged(sinceRevision: 0)` replay of 10,000 changes over graphql-ws against etcd's watch
 * replay of 10,000 puts from revision 1; then `configChanges` paging of the same history.
 */
export async function replay(context: BenchContext): Promise<void> {
  const [a, b] = await context.gateways();
  const token = await context.token();
  const etcd = await context.etcd();
  const run = Date.now().toString(36);
  const namespace = `bench-replay-${run}`;
  const prefix = `bench-replay-${run}/`;

  step('replay', `seeding ${CHANGES} changes (one per revision, ${KEYS} keys) in hotconf and in etcd`);
  let next = 0;
  await Promise.all(
    Array.from({ length: SEED_WRITERS }, async () => {
      for (let i = next++; i < CHANGES; i = next++) {
        await context.setConfig(a.url, namespace, `key-${i % KEYS}`, { i, note: 'replayed change' });
        await etcd.put(`${prefix}key-${i % KEYS}`, JSON.stringify({ i, note: 'replayed change' }));
      }
    }),
  );

  const etcdReplay = async (): Promise<number> => {
    const started = performance.now();
    let received = 0;
    let done!: () => void;
    const finished = new Promise<void>((resolve) => (done = resolve));
    const watch = await etcd.watch(prefix, 1, (count) => {
      received += count;
      if (received >= CHANGES) done();
    });
    await finished;
    const ms = performance.now() - started;
    watch.close();
    return ms;
  };

  // One unmeasured pass of each, so round 1 is not a cold start.
  step('replay', 'warming up (one unmeasured replay and paging of each)');
  await replayOverWs(b.wsUrl, token, namespace, CHANGES);
  await etcdReplay();
  await pageThrough(b.url, token, namespace, CHANGES);

  const hot: number[] = [];
  const peer: number[] = [];
  const paging: number[] = [];
  for (let round = 1; round <= context.rounds; round++) {
    // Replayed by B, the gateway that did not take the writes (no warm state from writing).
    hot.push(CHANGES / ((await replayOverWs(b.wsUrl, token, namespace, CHANGES)) / 1_000));
    peer.push(CHANGES / ((await etcdReplay()) / 1_000));
    paging.push(CHANGES / ((await pageThrough(b.url, token, namespace, CHANGES)) / 1_000));
    step('replay', `round ${round}/${context.rounds}: hotconf replay ${hot.at(-1)!.toFixed(0)} changes/s, etcd ${peer.at(-1)!.toFixed(0)}/s, paging ${paging.at(-1)!.toFixed(0)}/s`);
  }
  const rate = (value: number) => `${Math.round(value).toLocaleString('en')} changes/s`;
  context.results.push(
    {
      measure: `\`configChanged(sinceRevision: 0)\` replay of ${CHANGES.toLocaleString('en')} changes over graphql-ws`,
      hotconf: rate(median(hot)),
      baseline: `etcd watch replay from revision 1: ${rate(median(peer))}`,
      ratio: times(median(hot.map((h, i) => h / peer[i]!))),
      goal: '≥ 1.0× etcd watch replay',
    },
    {
      measure: '`configChanges` paging (limit 1000)',
      hotconf: rate(median(paging)),
      baseline: '(absolute)',
      ratio: '',
      goal: '≥ 100k changes/s',
    },
  );
}
