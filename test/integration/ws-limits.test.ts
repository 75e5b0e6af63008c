/**
 * Bounded work per connection (DESIGN.md "Security"): WebSocket messages are capped like HTTP
 * bodies from the first frame, and subscriptions are limited per connection and per subject
 * (graphql-ws and SSE together) with RATE_LIMITED; a refused subscription leaves the connection
 * and its other subscriptions alone, and a slot freed by completing, unsubscribing or closing is
 * usable again. Real gateway process, real sockets.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway } from '../helpers/app.js';
import { CONFIG_CHANGED, setConfig, startGateway, subscribeSse, testToken, uniqueNamespace, type Gateway } from '../helpers/gateway.js';
import { waitFor } from '../helpers/net.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';
import { errorCodesOf, openRawSocket, type RawSocket } from '../helpers/raw-ws.js';

const PER_CONNECTION = 3;
const PER_SUBJECT = 5;
const MAX_BODY_BYTES = 1_048_576; // 1 MiB

let database: TestDatabase;
let gw: Gateway;
let admin: string;

beforeAll(async () => {
  database = await createTestDatabase('ws_limits');
  gw = await startGateway({
    env: {
      DATABASE_URL: database.url,
      HOTCONF_MAX_BODY_BYTES: String(MAX_BODY_BYTES),
      HOTCONF_MAX_SUBSCRIPTIONS_PER_CONNECTION: String(PER_CONNECTION),
      HOTCONF_MAX_SUBSCRIPTIONS_PER_SUBJECT: String(PER_SUBJECT),
    },
  });
  admin = await testToken();
});

afterAll(async () => {
  await gw?.stop();
  await database?.drop();
});

const nexts = (ws: RawSocket, id: string) => ws.of(id).filter((message) => message.type === 'next' && !(message.payload as { errors?: unknown }).errors);

/** Writes to `ns` until every subscription in `live` (socket, id) has received a change. */
async function expectLive(ns: string, live: Array<[RawSocket, string]>): Promise<void> {
  const before = live.map(([ws, id]) => nexts(ws, id).length);
  await waitFor(
    async () => {
      await setConfig(gw.url, admin, ns, 'ping', Date.now());
      return live.every(([ws, id], index) => nexts(ws, id).length > before[index]!);
    },
    15_000,
    `changes on ${live.map(([, id]) => id).join(', ')}`,
  );
}

/** An SSE subscription request; resolves with its status and, when refused, its body. */
async function sse(token: string, namespace: string): Promise<{ status: number; body: string; abort: () => void }> {
  const abort = new AbortController();
  const response = await fetch(gw.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query: CONFIG_CHANGED, variables: { namespace } }),
    signal: abort.signal,
  });
  if (response.ok) return { status: response.status, body: '', abort: () => abort.abort() };
  return { status: response.status, body: await response.text(), abort: () => abort.abort() };
}

describe('WebSocket message size', () => {
  it('closes a socket whose first frame is over HOTCONF_MAX_BODY_BYTES with 1009, and keeps answering', async () => {
    const frame = Buffer.alloc(50 * 1_048_576, 'x');
    await using ws = await openRawSocket(gw.wsUrl, { zeroMask: true });
    // 50 MiB before connection_init: refused from its frame header, not buffered.
    ws.socket.send(frame, { binary: false });
    expect((await ws.closedWithin(30_000)).code).toBe(1009);

    expect((await fetch(`http://127.0.0.1:${gw.port}/health`)).ok).toBe(true);
    await using next = await openRawSocket(gw.wsUrl);
    await next.init(admin);
    const ns = uniqueNamespace('frame');
    next.subscribe('after', CONFIG_CHANGED, { namespace: ns });
    await expectLive(ns, [[next, 'after']]);
  });

  it('accepts messages up to the limit', async () => {
    await using ws = await openRawSocket(gw.wsUrl);
    // A connection_init padded to just under the limit is an ordinary connection.
    const padding = 'p'.repeat(MAX_BODY_BYTES - 4_096);
    ws.send({ type: 'connection_init', payload: { authorization: `Bearer ${admin}`, padding } });
    await ws.until((messages) => messages.some((message) => message.type === 'connection_ack'), 'connection_ack');
  });
});

describe('subscriptions per connection', () => {
  it(`refuses subscription ${PER_CONNECTION + 1} on one socket with RATE_LIMITED, keeps the others, and reuses freed slots`, async () => {
    const ns = uniqueNamespace('per-conn');
    const token = await testToken({ sub: 'per-connection', role: 'reader', namespaces: [ns] });
    await using ws = await openRawSocket(gw.wsUrl);
    await ws.init(token);
    // a and b share one execution (same document and variables); c runs on its own.
    ws.subscribe('a', CONFIG_CHANGED, { namespace: ns });
    ws.subscribe('b', CONFIG_CHANGED, { namespace: ns });
    ws.subscribe('c', CONFIG_CHANGED, { namespace: ns, keys: ['ping'] });
    await expectLive(ns, [[ws, 'a'], [ws, 'b'], [ws, 'c']]);

    ws.subscribe('d', CONFIG_CHANGED, { namespace: ns });
    await ws.until(() => errorCodesOf(ws.messages, 'd').length > 0, 'the refusal of d');
    expect(errorCodesOf(ws.messages, 'd')).toEqual(['RATE_LIMITED']);
    await expectLive(ns, [[ws, 'a'], [ws, 'b'], [ws, 'c']]);
    expect(ws.closed).toBeNull();

    // The client unsubscribes from b (a shared member) and from c: their slots are free again
    // (graphql-ws handles a socket's messages in order, so e and f come after the releases).
    ws.send({ id: 'b', type: 'complete' });
    ws.send({ id: 'c', type: 'complete' });
    ws.subscribe('e', CONFIG_CHANGED, { namespace: ns });
    ws.subscribe('f', CONFIG_CHANGED, { namespace: ns, prefix: 'p' });
    await expectLive(ns, [[ws, 'a'], [ws, 'e'], [ws, 'f']]);
    expect([...errorCodesOf(ws.messages, 'e'), ...errorCodesOf(ws.messages, 'f')]).toEqual([]);
    // Full again: one more is refused.
    ws.subscribe('z', CONFIG_CHANGED, { namespace: ns });
    await ws.until(() => errorCodesOf(ws.messages, 'z').length > 0, 'the refusal of z');
    expect(errorCodesOf(ws.messages, 'z')).toEqual(['RATE_LIMITED']);
  });

  it('gives the slot of a subscription refused by its resolver back at once', async () => {
    const ns = uniqueNamespace('per-conn-refused');
    const token = await testToken({ sub: 'per-connection-refused', role: 'reader', namespaces: [ns] });
    await using ws = await openRawSocket(gw.wsUrl);
    await ws.init(token);
    // Outside the token's namespaces: FORBIDDEN, one after the other, many times over; each
    // refusal gives its slot back, so the connection never fills up.
    for (let i = 0; i < PER_CONNECTION * 3; i++) {
      ws.subscribe(`f${i}`, CONFIG_CHANGED, { namespace: 'not-mine' });
      await ws.until(() => ws.of(`f${i}`).some((message) => message.type === 'complete' || message.type === 'error'), `the end of f${i}`);
      expect(errorCodesOf(ws.messages, `f${i}`)).toEqual(['FORBIDDEN']);
    }
    for (let i = 0; i < PER_CONNECTION; i++) ws.subscribe(`ok${i}`, CONFIG_CHANGED, { namespace: ns, keys: [`k${i}`, 'ping'] });
    await expectLive(ns, Array.from({ length: PER_CONNECTION }, (_, i) => [ws, `ok${i}`] as [RawSocket, string]));
  });
});

describe('subscriptions per subject', () => {
  it(`counts one subject's graphql-ws and SSE subscriptions together, up to ${PER_SUBJECT} per gateway`, async () => {
    const ns = uniqueNamespace('per-subject');
    const token = await testToken({ sub: 'per-subject', role: 'reader', namespaces: [ns] });
    const other = await testToken({ sub: 'someone-else', role: 'reader', namespaces: [ns] });

    const first = await openRawSocket(gw.wsUrl);
    await first.init(token);
    for (const id of ['1', '2', '3']) first.subscribe(id, CONFIG_CHANGED, { namespace: ns, keys: [id, 'ping'] });
    await using second = await openRawSocket(gw.wsUrl);
    await second.init(token);
    second.subscribe('4', CONFIG_CHANGED, { namespace: ns });
    const stream = await subscribeSse(gw.url, token, { namespace: ns });
    try {
      await expectLive(ns, [[first, '1'], [first, '2'], [first, '3'], [second, '4']]);
      await waitFor(() => stream.changes.length > 0, 15_000, 'a change on the SSE stream');

      // Five held: a sixth is refused over graphql-ws and over SSE (429), for this subject only.
      second.subscribe('6', CONFIG_CHANGED, { namespace: ns });
      await second.until(() => errorCodesOf(second.messages, '6').length > 0, 'the refusal of 6');
      expect(errorCodesOf(second.messages, '6')).toEqual(['RATE_LIMITED']);
      const refused = await sse(token, ns);
      expect(refused.status).toBe(429);
      // The refusal is the stream's only event.
      const event = refused.body.split('\n').find((line) => line.startsWith('data: {'));
      expect(JSON.parse(event!.slice(6))).toMatchObject({ errors: [{ extensions: { code: 'RATE_LIMITED', limit: 'subscriptionsPerSubject', max: PER_SUBJECT } }] });
      const someoneElse = await sse(other, ns);
      expect(someoneElse.status).toBe(200);
      someoneElse.abort();
      expect(second.closed).toBeNull();
      await expectLive(ns, [[second, '4']]);

      // Closing a socket gives its three slots back; an ended SSE stream gives its slot back.
      await first.close();
      await stream.close();
      const taken: Array<() => void> = [];
      await waitFor(
        async () => {
          const attempt = await sse(token, ns);
          if (attempt.status === 200) taken.push(attempt.abort);
          return taken.length === 4;
        },
        20_000,
        'four slots free again',
      );
      // Full again; ending those SSE requests gives their slots back too.
      for (const abort of taken) abort();
      await waitFor(
        async () => {
          const id = `7-${second.messages.length}`;
          second.subscribe(id, CONFIG_CHANGED, { namespace: ns, prefix: 'p' });
          // Either refused at once, or live (a change reaches it).
          await waitFor(
            async () => {
              if (errorCodesOf(second.messages, id).length > 0) return true;
              await setConfig(gw.url, admin, ns, 'ping', Date.now());
              return nexts(second, id).length > 0;
            },
            15_000,
            `an answer to ${id}`,
          );
          return errorCodesOf(second.messages, id).length === 0;
        },
        20_000,
        'a slot freed by the ended SSE streams',
      );
    } finally {
      await stream.close();
      await first.close();
    }
  });
});

/** Heap in use after a full collection (this process: a gateway started in it is measured too). */
function heapUsed(): number {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

describe('what one subscription may hold', () => {
  it('a subscription naming more than 1,000 keys is BAD_USER_INPUT (use a prefix); the socket stays open', async () => {
    const ns = uniqueNamespace('many-keys');
    await setConfig(gw.url, admin, ns, 'k1', 1);
    const reader = await testToken({ sub: 'many-keys', role: 'reader', namespaces: [ns] });
    await using ws = await openRawSocket(gw.url.replace(/^http/, 'ws'));
    await ws.init(reader);
    ws.subscribe('over', CONFIG_CHANGED, { namespace: ns, keys: Array.from({ length: 1_001 }, (_, i) => `k${i}`), sinceRevision: 0 });
    await ws.until(() => ws.of('over').some((message) => message.type === 'error' || message.type === 'complete'), 'the refusal');
    expect(errorCodesOf(ws.messages, 'over')).toEqual(['BAD_USER_INPUT']);
    ws.subscribe('at', CONFIG_CHANGED, { namespace: ns, keys: Array.from({ length: 1_000 }, (_, i) => `k${i}`), sinceRevision: 0 });
    await ws.until(() => nexts(ws, 'at').length > 0, 'the replayed change');
    expect(ws.closed).toBeNull();
  });

  it('keeps only what its operation uses of its message: undeclared variables, unknown members and extensions are dropped', async () => {
    const DATABASE_URL = database.url;
    await using local = await startTestGateway({ DATABASE_URL, HOTCONF_MAX_SUBSCRIPTIONS_PER_CONNECTION: '20' });
    const ns = uniqueNamespace('kept');
    expect((await local.gql(`mutation { setConfig(input: { namespace: "${ns}", key: "k", value: 1 }) { version } }`)).body.errors).toBeUndefined();
    await using ws = await openRawSocket(local.url.replace(/^http/, 'ws'));
    await ws.init(local.adminToken);
    const subscribe = (id: string, junk: string) =>
      ws.send({
        id,
        type: 'subscribe',
        payload: {
          query: CONFIG_CHANGED,
          variables: { namespace: ns, sinceRevision: 0, ...(junk ? { unused: junk } : {}) },
          ...(junk ? { extensions: { padding: junk }, padding: junk } : {}),
        },
      });
    // Warm up every path a subscription takes before measuring.
    subscribe('warm', '');
    await ws.until(() => nexts(ws, 'warm').length > 0, 'the warm-up change');
    const before = heapUsed();
    const COUNT = 10;
    for (let i = 0; i < COUNT; i++) subscribe(`s${i}`, `${i}`.repeat(600_000));
    await ws.until(() => Array.from({ length: COUNT }, (_, i) => nexts(ws, `s${i}`).length > 0).every(Boolean), 'a change on every subscription');
    const grown = heapUsed() - before;
    // 10 messages of 1.8 MB: kept whole, they were at least 18 MB.
    expect(grown, `${Math.round(grown / 1024)} KiB kept by ${COUNT} live subscriptions`).toBeLessThan(4 * 1_048_576);
  });

  it('an open connection keeps nothing of its connection_init but the token', async () => {
    await using local = await startTestGateway({ DATABASE_URL: database.url });
    const ns = uniqueNamespace('init');
    expect((await local.gql(`mutation { setConfig(input: { namespace: "${ns}", key: "k", value: 1 }) { version } }`)).body.errors).toBeUndefined();
    const open = async (padding: string) => {
      const ws = await openRawSocket(local.url.replace(/^http/, 'ws'));
      ws.send({ type: 'connection_init', payload: { authorization: `Bearer ${local.adminToken}`, ...(padding ? { padding } : {}) } });
      await ws.until((messages) => messages.some((message) => message.type === 'connection_ack'), 'connection_ack');
      return ws;
    };
    const sockets = [await open('')];
    try {
      const before = heapUsed();
      const COUNT = 10;
      for (let i = 0; i < COUNT; i++) sockets.push(await open(`${i}`.repeat(1_800_000)));
      const grown = heapUsed() - before;
      // 10 payloads of 1.8 MB: kept, they were at least 18 MB.
      expect(grown, `${Math.round(grown / 1024)} KiB kept by ${COUNT} open connections`).toBeLessThan(4 * 1_048_576);
      // Each still works with the token it sent.
      const last = sockets.at(-1)!;
      last.subscribe('w', CONFIG_CHANGED, { namespace: ns, sinceRevision: 0 });
      await last.until(() => nexts(last, 'w').length > 0, 'a change');
    } finally {
      for (const ws of sockets) await ws.close();
    }
  });
});
