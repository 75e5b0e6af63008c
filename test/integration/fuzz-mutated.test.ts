/**
 * A bounded fuzz of 3,000 requests made by mutating real operations: their documents (a character
 * dropped, a token inserted, fields doubled, aliases, directives, fragments) and their variables
 * (types swapped, lone surrogates, U+0000, `__proto__` keys, deep nesting, huge and unsafe
 * numbers, missing and extra fields), sent over HTTP POST and GET. Whatever arrives, the gateway
 * answers with a clear error (each with a stable `extensions.code`): no INTERNAL_SERVER_ERROR, no
 * 5xx, no stack trace or SQL in an answer; it stays up, and every namespace's revisions stay
 * contiguous.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from '../helpers/app.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';

const REQUESTS = 3_000;
const PARALLEL = 6;
const NAMESPACES = ['mut-a', 'mut-b'];

/** Real operations, each with variables that work. */
const SEEDS: Array<{ query: string; variables: Record<string, unknown> }> = [
  {
    query: 'mutation Set($input: SetConfigInput!) { setConfig(input: $input) { id key value version revision secret redacted } }',
    variables: { input: { namespace: 'mut-a', key: 'ai.threshold', value: 0.85, reason: 'fuzz', description: 'd' } },
  },
  {
    query: 'mutation Many($ns: String!, $inputs: [BatchSetInput!]!, $reason: String) { setConfigs(namespace: $ns, inputs: $inputs, reason: $reason) { key version } }',
    variables: { ns: 'mut-b', inputs: [{ key: 'a', value: { x: [1, 2] } }, { key: 'b', value: 'text', expectedVersion: 0 }], reason: 'r' },
  },
  {
    query: 'mutation Del($ns: String!, $key: String!, $v: Int) { deleteConfig(namespace: $ns, key: $key, expectedVersion: $v) { op version } }',
    variables: { ns: 'mut-a', key: 'a', v: 1 },
  },
  {
    query: 'mutation Back($ns: String!, $key: String!, $to: Int!) { rollbackConfig(namespace: $ns, key: $key, toVersion: $to) { version value } }',
    variables: { ns: 'mut-a', key: 'ai.threshold', to: 1 },
  },
  {
    query: 'mutation Restore($ns: String!, $to: SafeInt!, $p: String) { restoreConfigs(namespace: $ns, toRevision: $to, prefix: $p) { revision } }',
    variables: { ns: 'mut-b', to: 1, p: 'a' },
  },
  {
    query: 'query One($ns: String!, $key: String!) { config(namespace: $ns, key: $key) { value version history(limit: 5) { version op } } }',
    variables: { ns: 'mut-a', key: 'ai.threshold' },
  },
  {
    query: 'query Page($ns: String!, $since: SafeInt!, $limit: Int) { configChanges(namespace: $ns, sinceRevision: $since, limit: $limit) { revision hasMore changes { key revision } } }',
    variables: { ns: 'mut-b', since: 0, limit: 10 },
  },
  {
    query: 'query Drift($ns: String!, $known: [KnownVersion!]!) { configDrift(namespace: $ns, known: $known) { changed { key } deleted } }',
    variables: { ns: 'mut-a', known: [{ key: 'ai.threshold', version: 1 }] },
  },
  {
    query: 'query Flag($ns: String!, $key: String!, $user: String!) { evaluateFlag(namespace: $ns, key: $key, userId: $user) { enabled bucket } }',
    variables: { ns: 'mut-a', key: 'flags.x', user: 'u-1' },
  },
  { query: 'query Plan($ns: String!, $to: SafeInt!) { restorePlan(namespace: $ns, toRevision: $to) { changes { key op } } }', variables: { ns: 'mut-b', to: 0 } },
];

const SPECIAL_VALUES: unknown[] = [
  null,
  '',
  'a'.repeat(10_000),
  '\ud800',
  'x\udc00y',
  'nul\u0000nul',
  -1,
  0,
  2 ** 31,
  2 ** 53,
  -(2 ** 60),
  1.5,
  1e308,
  true,
  [],
  {},
  { __proto__: 'proto' },
  JSON.parse('{"__proto__": {"polluted": true}}'),
  { constructor: { prototype: { x: 1 } } },
  JSON.parse('['.repeat(2_000) + ']'.repeat(2_000)),
  { enabled: true, rolloutPercentage: 500 },
  'mut-a',
  'Upper-Case',
  '../../etc/passwd',
  "x'; drop table entries; --",
];

const TOKENS = ['{', '}', '(', ')', '$x', ':', '!', '...', '@include(if: true)', '@skip', 'fragment F on Query { __typename }', '__schema', 'alias: ', '"str"', '12', '[', ']', 'null', ',', '#'];

/** A seeded generator (mulberry32), so a failing run can be replayed with FUZZ_SEED. */
interface Random {
  nextInt(min: number, max: number): number;
}
function seeded(seed: number): Random {
  let state = seed >>> 0;
  return {
    nextInt(min, max) {
      state = (state + 0x6d2b79f5) >>> 0;
      let t = state;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      const unit = ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
      return min + Math.floor(unit * (max - min + 1));
    },
  };
}

type Mutation = (seed: (typeof SEEDS)[number], random: Random) => { query: string; variables: unknown };

const pick = <T>(random: Random, items: readonly T[]): T => items[random.nextInt(0, items.length - 1)]!;

/** Replaces one value somewhere inside `value` (a path chosen at random). */
function mutateValue(value: unknown, random: Random, depth = 0): unknown {
  if (depth > 4 || value === null || typeof value !== 'object' || random.nextInt(0, 3) === 0) return pick(random, SPECIAL_VALUES);
  if (Array.isArray(value)) {
    const copy = [...value];
    if (copy.length === 0 || random.nextInt(0, 4) === 0) copy.push(pick(random, SPECIAL_VALUES));
    else {
      const index = random.nextInt(0, copy.length - 1);
      copy[index] = mutateValue(copy[index], random, depth + 1);
    }
    return copy;
  }
  const copy: Record<string, unknown> = { ...(value as Record<string, unknown>) };
  const keys = Object.keys(copy);
  switch (random.nextInt(0, 3)) {
    case 0:
      if (keys.length) delete copy[pick(random, keys)];
      break;
    case 1:
      Object.defineProperty(copy, pick(random, ['extra', '__proto__', 'constructor', 'value', 'key']), {
        value: pick(random, SPECIAL_VALUES),
        enumerable: true,
        configurable: true,
        writable: true,
      });
      break;
    default:
      if (keys.length) {
        const key = pick(random, keys);
        copy[key] = mutateValue(copy[key], random, depth + 1);
      }
  }
  return copy;
}

const MUTATIONS: Mutation[] = [
  (seed, random) => ({ query: seed.query, variables: mutateValue(seed.variables, random) }),
  (seed, random) => ({ query: seed.query, variables: mutateValue(mutateValue(seed.variables, random), random) }),
  (seed, random) => {
    const at = random.nextInt(0, seed.query.length - 1);
    return { query: seed.query.slice(0, at) + seed.query.slice(at + 1), variables: seed.variables };
  },
  (seed, random) => {
    const at = random.nextInt(0, seed.query.length);
    return { query: `${seed.query.slice(0, at)} ${pick(random, TOKENS)} ${seed.query.slice(at)}`, variables: seed.variables };
  },
  // Every field twice, aliased: more work per request, same answer shape rules.
  (seed) => ({ query: seed.query.replace(/\{ (\w+)\(/, '{ first: $1(').replace(/\) \{ ([^{}]+) \} \}$/, ') { $1 } second: __typename }'), variables: seed.variables }),
  // Two operations in one document and no operationName.
  (seed) => ({ query: `${seed.query} query Extra { __typename }`, variables: seed.variables }),
  (seed, random) => ({ query: seed.query, variables: pick(random, [null, [], 'vars', 42, { ...seed.variables, unexpected: true }]) }),
];

let database: TestDatabase;
let gw: TestGateway;

beforeAll(async () => {
  database = await createTestDatabase('fuzz_mutated');
  gw = await startTestGateway({ DATABASE_URL: database.url, HOTCONF_MAX_VALUE_BYTES: '65536' });
});

afterAll(async () => {
  await gw?.stop();
  await database?.drop();
});

/** What must never be in an answer: a masked bug, a stack trace, SQL or a driver message. */
const LEAKS = [
  /INTERNAL_SERVER_ERROR/,
  /\n\s+at [\w.<>]+ \(/,
  /\.(?:ts|js):\d+:\d+/,
  /\b(?:select|insert into|update \w+ set|delete from)\b.*\b(?:from|values|where)\b/i,
  /syntax error at or near|violates (?:check|unique|foreign key) constraint|invalid input syntax for type/i,
];

async function send(request: { method: 'POST' | 'GET'; query: string; variables: unknown }): Promise<{ status: number; text: string }> {
  const headers = { accept: 'application/graphql-response+json', authorization: `Bearer ${gw.adminToken}` };
  const response =
    request.method === 'GET'
      ? await fetch(`${gw.url}?${new URLSearchParams({ query: request.query, variables: JSON.stringify(request.variables) })}`, { headers })
      : await fetch(gw.url, {
          method: 'POST',
          headers: { ...headers, 'content-type': 'application/json' },
          body: JSON.stringify({ query: request.query, variables: request.variables }),
        });
  return { status: response.status, text: await response.text() };
}

describe('3,000 mutated operations', () => {
  it('each gets a clear answer: no INTERNAL_SERVER_ERROR, no 5xx, no stack or SQL; the gateway stays up and revisions stay contiguous', async () => {
    const seed = Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31);
    const random = seeded(seed);
    const requests = Array.from({ length: REQUESTS }, () => {
      const base = pick(random, SEEDS);
      const mutated = pick(random, MUTATIONS)(base, random);
      // GET only carries queries; a mutation over GET must be refused (405), never run.
      return { method: random.nextInt(0, 9) === 0 ? ('GET' as const) : ('POST' as const), ...mutated };
    });
    const problems: string[] = [];
    const statuses = new Map<number, number>();
    let next = 0;
    const worker = async () => {
      while (next < requests.length) {
        const request = requests[next++]!;
        const { status, text } = await send(request);
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
        const what = `${request.method} ${request.query.slice(0, 160)} ${JSON.stringify(request.variables)?.slice(0, 160)}`;
        if (status >= 500) problems.push(`${status} for ${what}: ${text.slice(0, 300)}`);
        for (const leak of LEAKS) if (leak.test(text)) problems.push(`${leak} in the answer to ${what}: ${text.slice(0, 300)}`);
        if (!text.startsWith('{')) {
          problems.push(`not JSON for ${what}: ${text.slice(0, 200)}`);
          continue;
        }
        const body = JSON.parse(text) as { errors?: Array<{ message?: string; extensions?: { code?: unknown } }> };
        if (status !== 200 && !Array.isArray(body.errors)) problems.push(`${status} without errors for ${what}`);
        // Every refusal says what it is with a stable code.
        for (const error of body.errors ?? []) {
          if (typeof error.extensions?.code !== 'string') problems.push(`an error without extensions.code for ${what}: ${JSON.stringify(error).slice(0, 200)}`);
        }
      }
    };
    await Promise.all(Array.from({ length: PARALLEL }, worker));
    console.info(`fuzz seed ${seed}: statuses ${JSON.stringify(Object.fromEntries(statuses))}`);
    expect(problems.slice(0, 20), `seed ${seed}`).toEqual([]);

    // Still up, and the writes that went through kept every namespace contiguous.
    expect((await gw.gql<{ __typename: string }>('{ __typename }')).body.data).toEqual({ __typename: 'Query' });
    for (const namespace of NAMESPACES) {
      const page = await gw.gql<{ configChanges: { revision: number; changes: Array<{ revision: number }> } }>(
        'query ($ns: String!) { configChanges(namespace: $ns, sinceRevision: 0, limit: 10000) { revision changes { revision } } }',
        { ns: namespace },
      );
      const { revision, changes } = page.body.data!.configChanges;
      expect([...new Set(changes.map((change) => change.revision))]).toEqual(Array.from({ length: revision }, (_, index) => index + 1));
    }
    // The mutations must reach the store, not only the parser.
    expect(statuses.get(200) ?? 0).toBeGreaterThan(300);
  }, 240_000);
});
