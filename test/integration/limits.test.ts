/**
 * Operation limits, body limit, introspection and the mutation rate limit, against a real
 * gateway over HTTP: hostile requests are refused quickly and the next request is served.
 */
import { getIntrospectionQuery } from 'graphql';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { codeOf, startTestGateway, type TestGateway } from '../helpers/app.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';
import { SHARED_REDIS_URL, uniquePrefix } from '../helpers/redis.js';
import { openRawSocket } from '../helpers/raw-ws.js';
import { createRateLimiter, rateWindows } from '../../src/server/use-rate-limit.js';

let database: TestDatabase;
let gw: TestGateway;
const RATE = 5;

async function post(body: string, headers: Record<string, string> = {}) {
  const started = performance.now();
  const response = await fetch(gw.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json', authorization: `Bearer ${gw.adminToken}`, ...headers },
    body,
  });
  const text = await response.text();
  return { status: response.status, text, ms: performance.now() - started, headers: response.headers };
}

async function stillServes(): Promise<void> {
  const response = await gw.gql<{ __typename: string }>(`{ __typename }`);
  expect(response.status).toBe(200);
  expect(response.body.data?.__typename).toBe('Query');
}

function refusedAsBadInput(result: { status: number; text: string; ms: number }, limit?: string) {
  expect(result.status, result.text).toBeGreaterThanOrEqual(400);
  expect(result.status, result.text).toBeLessThan(500);
  const body = JSON.parse(result.text) as { errors: Array<{ message: string; extensions: Record<string, unknown> }> };
  expect(body.errors[0]?.extensions.code).toBe('BAD_USER_INPUT');
  if (limit) expect(body.errors[0]?.extensions.limit).toBe(limit);
}

beforeAll(async () => {
  database = await createTestDatabase('limits');
  gw = await startTestGateway({ DATABASE_URL: database.url, HOTCONF_RATE_LIMIT_PER_MIN: String(RATE), HOTCONF_PUBLIC_INTROSPECTION: '0' });
});

afterAll(async () => {
  await gw?.stop();
  await database?.drop();
});

describe('operation limits', () => {
  it('a 1,000-deep query is refused quickly, and the gateway answers the next request', async () => {
    const deep = `{ ${'a { '.repeat(1_000)}b${' }'.repeat(1_000)} }`;
    refusedAsBadInput(await post(JSON.stringify({ query: deep })));
    await stillServes();
  });

  it('a 16-deep query under the token limit is refused for its depth', async () => {
    const deep = `{ ${'a { '.repeat(15)}b${' }'.repeat(15)} }`;
    refusedAsBadInput(await post(JSON.stringify({ query: deep })), 'depth');
    await stillServes();
  });

  it('10,000 aliases are refused quickly; 31 aliases are refused for the alias count', async () => {
    const many = `{ ${Array.from({ length: 10_000 }, (_, i) => `a${i}: __typename`).join(' ')} }`;
    refusedAsBadInput(await post(JSON.stringify({ query: many })));
    const some = `{ ${Array.from({ length: 31 }, (_, i) => `a${i}: __typename`).join(' ')} }`;
    refusedAsBadInput(await post(JSON.stringify({ query: some })), 'aliases');
    const allowed = await post(JSON.stringify({ query: `{ ${Array.from({ length: 30 }, (_, i) => `a${i}: __typename`).join(' ')} }` }));
    expect(allowed.status).toBe(200);
    await stillServes();
  });

  it('a fragment bomb (10^10 fields once expanded) is refused for its cost without being expanded', async () => {
    const fragments = Array.from({ length: 10 }, (_, i) =>
      i === 9 ? `fragment F9 on Query { __typename }` : `fragment F${i} on Query { ${Array.from({ length: 10 }, () => `...F${i + 1}`).join(' ')} }`,
    ).join('\n');
    refusedAsBadInput(await post(JSON.stringify({ query: `{ ...F0 }\n${fragments}` })), 'cost');
    await stillServes();
  });

  it('a 3 MiB query is refused while lexing, long before it is parsed', async () => {
    const huge = `{ ${'__typename '.repeat(300_000)} }`;
    const result = await post(JSON.stringify({ query: huge }));
    refusedAsBadInput(result, 'tokens');
    await stillServes();
  });

  it('a 10 MiB body is refused from its length alone, and the gateway answers the next request', async () => {
    const body = ' '.repeat(10 * 1_048_576);
    const result = await post(body);
    expect(result.status).toBe(413);
    await stillServes();
  });

  describe('history lists cannot multiply database reads', () => {
    const NS = 'history-budget';
    const VERSIONS = 30;
    const SET = `mutation($v: JSON!) { setConfig(input: { namespace: "${NS}", key: "k", value: $v }) { version } }`;
    let reader: string;

    beforeAll(async () => {
      // One writer per change: this file's rate limit is 5 mutations a minute per subject.
      const writer = (n: number) => gw.token({ sub: `history-seed-${n}`, role: 'writer', namespaces: [NS] });
      for (let v = 1; v <= VERSIONS; v += 1) expect((await gw.gql(SET, { v }, { token: await writer(v) })).body.errors).toBeUndefined();
      await gw.gql(`mutation { setConfig(input: { namespace: "${NS}", key: "other", value: 1 }) { version } }`, {}, { token: await writer(0) });
      reader = await gw.token({ sub: 'history-reader', role: 'reader', namespaces: [NS] });
    });

    it('history nested in history (each change\'s entry has a history) is refused for its rows, not run to the end', async () => {
      // 1 + 30 + 900 reads of up to 1,000 rows each before the budget; 27,000 rows come back.
      const nested = `{ config(namespace: "${NS}", key: "k") { history(limit: 1000) { version entry { history(limit: 1000) { version entry { history(limit: 1000) { version } } } } } } }`;
      const response = await gw.gql(nested, {}, { token: reader });
      expect(response.status).toBe(200);
      expect(codeOf(response), JSON.stringify(response.body).slice(0, 300)).toBe('BAD_USER_INPUT');
      expect(response.body.errors?.[0]?.extensions).toMatchObject({ limit: 'historyRows', max: 10_000 });
      // The lists served before the budget ran out: 10,000 rows at 1,000 each (the rest are null).
      expect(JSON.stringify(response.body.data).match(/"history":/g)?.length).toBeLessThanOrEqual(10);
      await stillServes();
    });

    it('one key\'s whole history page, and a short history of every entry, are served', async () => {
      const page = await gw.gql<{ config: { history: unknown[] } }>(`{ config(namespace: "${NS}", key: "k") { history(limit: 1000) { version } } }`, {}, { token: reader });
      expect(page.body.errors).toBeUndefined();
      expect(page.body.data?.config.history).toHaveLength(VERSIONS);
      const each = await gw.gql<{ configs: { entries: Array<{ history: unknown[] }> } }>(
        `{ configs(namespace: "${NS}") { entries { key history(limit: 3) { version } } } }`,
        {},
        { token: reader },
      );
      expect(each.body.errors).toBeUndefined();
      expect(each.body.data?.configs.entries.map((entry) => entry.history.length)).toEqual([3, 1]);
    });

    it('a subscription\'s budget is per change: a long replay with each entry\'s history keeps being served', async () => {
      await using socket = await openRawSocket(gw.url.replace(/^http/, 'ws'));
      await socket.init(reader);
      socket.subscribe('h', `subscription { configChanged(namespace: "${NS}", keys: ["k"], sinceRevision: 0) { version entry { history(limit: 1000) { version } } } }`);
      await socket.until((messages) => messages.filter((message) => message.id === 'h').length >= VERSIONS, `${VERSIONS} changes`);
      const results = socket.of('h').map((message) => message.payload as { errors?: unknown[]; data?: { configChanged: { version: number; entry: { history: unknown[] } } } });
      expect(results.flatMap((result) => result.errors ?? [])).toEqual([]);
      expect(results.map((result) => result.data?.configChanged.entry.history.length)).toEqual(new Array(VERSIONS).fill(VERSIONS));
    });
  });

  it('the standard introspection query fits the limits, for a caller with a token', async () => {
    const result = await post(JSON.stringify({ query: getIntrospectionQuery() }));
    expect(result.status, result.text.slice(0, 300)).toBe(200);
    expect(result.text).toContain('"__schema"');
  });

  it('introspection without a token is UNAUTHENTICATED; __typename is not introspection', async () => {
    const anonymous = await gw.gql(`{ __schema { queryType { name } } }`, {}, { token: null });
    expect(codeOf(anonymous)).toBe('UNAUTHENTICATED');
    const type = await gw.gql(`{ __type(name: "Query") { name } }`, {}, { token: null });
    expect(codeOf(type)).toBe('UNAUTHENTICATED');
    expect(JSON.stringify(anonymous.body)).not.toContain('setConfig');
  });
});

describe('mutation rate limit per subject', () => {
  const set = `mutation($key: String!) { setConfig(input: { namespace: "rl", key: $key, value: 1 }) { version } }`;

  it(`allows ${RATE} mutations a minute, then answers RATE_LIMITED with a Retry-After, per subject`, async () => {
    const alice = await gw.token({ sub: 'alice', role: 'writer', namespaces: ['rl'] });
    const bob = await gw.token({ sub: 'bob', role: 'writer', namespaces: ['rl'] });
    for (let i = 0; i < RATE; i += 1) {
      const ok = await gw.gql(set, { key: `a${i}` }, { token: alice });
      expect(ok.body.errors, JSON.stringify(ok.body)).toBeUndefined();
    }
    const response = await fetch(gw.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json', authorization: `Bearer ${alice}` },
      body: JSON.stringify({ query: set, variables: { key: 'over' } }),
    });
    const body = (await response.json()) as { errors: Array<{ extensions: { code: string; retryAfter: number } }> };
    expect(body.errors[0]?.extensions.code).toBe('RATE_LIMITED');
    expect(body.errors[0]?.extensions.retryAfter).toBeGreaterThanOrEqual(1);
    expect(response.status).toBe(429);
    expect(Number(response.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    // Nothing was written for the refused mutation.
    expect((await gw.gql(`{ config(namespace: "rl", key: "over") { version } }`)).body.data).toEqual({ config: null });
    // Queries and SDK reports are not mutations of config: still served.
    expect((await gw.gql(`{ configs(namespace: "rl") { revision } }`, {}, { token: alice })).body.errors).toBeUndefined();
    expect((await gw.gql(`mutation { reportApplied(namespace: "rl", clientId: "pod", revision: 1) }`, {}, { token: alice })).body.errors).toBeUndefined();
    // Another subject has its own allowance.
    expect((await gw.gql(set, { key: 'b0' }, { token: bob })).body.errors).toBeUndefined();
  });

  it('counts every aliased mutation of a request: over the allowance, none of them runs', async () => {
    const carol = await gw.token({ sub: 'carol', role: 'writer', namespaces: ['rl'] });
    const aliased = `mutation { ${Array.from({ length: RATE + 1 }, (_, i) => `m${i}: setConfig(input: { namespace: "rl", key: "c${i}", value: 1 }) { version }`).join(' ')} }`;
    const response = await gw.gql(aliased, {}, { token: carol });
    expect(codeOf(response)).toBe('RATE_LIMITED');
    expect((await gw.gql(`{ config(namespace: "rl", key: "c0") { version } }`)).body.data).toEqual({ config: null });
  });
});

describe('rate limit shared through Redis', () => {
  it('two gateways on one Redis share one allowance per subject', async () => {
    const redisA = new Redis(SHARED_REDIS_URL);
    const redisB = new Redis(SHARED_REDIS_URL);
    const channelPrefix = uniquePrefix('rl');
    try {
      const a = createRateLimiter({ perMinute: 10, redis: redisA, channelPrefix });
      const b = createRateLimiter({ perMinute: 10, redis: redisB, channelPrefix });
      const decisions = [];
      for (let i = 0; i < 8; i += 1) decisions.push(await (i % 2 ? a : b).take('dave', 2));
      expect(decisions.map((d) => d.allowed)).toEqual([true, true, true, true, true, false, false, false]);
      expect(decisions[5]!.retryAfterS).toBeGreaterThanOrEqual(1);
      expect(decisions[5]!.retryAfterS).toBeLessThanOrEqual(61);
      expect((await a.take('erin', 10)).allowed).toBe(true);
      // Shared counters (one per window of `rateWindows` per subject), each expiring with its window.
      const keys = await redisA.keys(`${channelPrefix}*`);
      for (const subject of ['dave', 'erin']) expect(keys.filter((key) => key.includes(`{${subject}}`)).length).toBeGreaterThanOrEqual(rateWindows(10).length);
      for (const key of keys) expect(await redisA.pttl(key)).toBeGreaterThan(0);
    } finally {
      redisA.disconnect();
      redisB.disconnect();
    }
  });

  it('falls back to counting in the instance when Redis does not answer', async () => {
    const dead = new Redis('redis://127.0.0.1:1', { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false });
    try {
      const limiter = createRateLimiter({ perMinute: 2, redis: dead, redisTimeoutMs: 200 });
      const decisions = [await limiter.take('x', 1), await limiter.take('x', 1), await limiter.take('x', 1)];
      expect(decisions.map((d) => d.allowed)).toEqual([true, true, false]);
    } finally {
      dead.disconnect();
    }
  });
});
