/**
 * Property-based fuzzing of the GraphQL API: random keys, values, batches, compare-and-set
 * versions, rollbacks and raw documents. Whatever is thrown at it, the gateway answers every
 * request (no 5xx without a GraphQL error, no masked internal error), stays up, and the store's
 * invariants hold: contiguous revisions, contiguous versions, entries equal to replayed history.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from '../helpers/app.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';

const NAMESPACES = ['fuzz-a', 'fuzz-b'];
let database: TestDatabase;
let gw: TestGateway;
const internalErrors: string[] = [];
let acceptedWrites = 0;
/** Writes the store must have accepted before the time bound may cut the runs short. */
const MIN_ACCEPTED_WRITES = 20;

interface Sent {
  status: number;
  text: string;
}

async function send(body: string, contentType = 'application/json'): Promise<Sent> {
  const response = await fetch(gw.url, {
    method: 'POST',
    headers: { 'content-type': contentType, accept: 'application/graphql-response+json', authorization: `Bearer ${gw.adminToken}` },
    body,
  });
  return { status: response.status, text: await response.text() };
}

function checkAnswer(sent: Sent, what: string): void {
  if (sent.status >= 500) {
    let hasErrors = false;
    try {
      hasErrors = Array.isArray((JSON.parse(sent.text) as { errors?: unknown }).errors);
    } catch {
      hasErrors = false;
    }
    expect(hasErrors, `${sent.status} without a GraphQL error for ${what}: ${sent.text.slice(0, 300)}`).toBe(true);
  }
  if (sent.text.includes('INTERNAL_SERVER_ERROR')) internalErrors.push(`${what.slice(0, 300)} -> ${sent.text.slice(0, 300)}`);
}

const keyArb = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom('a', 'b', 'feature.x', 'flag.y', 'deep/path:z', 'n-1') },
  { weight: 2, arbitrary: fc.string({ minLength: 0, maxLength: 20 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 10 }) },
  { weight: 1, arbitrary: fc.constantFrom('', '.a', '/x', 'a'.repeat(257), 'a'.repeat(256), 'a b', 'a*', 'é', '\u0000') },
);
const namespaceArb = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom(...NAMESPACES) },
  { weight: 1, arbitrary: fc.string({ maxLength: 70 }) },
);
const valueArb = fc.oneof(
  { weight: 8, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  { weight: 1, arbitrary: fc.constantFrom(null, { enabled: true, rolloutPercentage: 150 }, { enabled: false, rolloutPercentage: 10 }, 'x'.repeat(5_000)) },
);
// Half the writes carry no expected version: a random one mostly conflicts, and the runs must
// reach the store often, not only its compare-and-set refusal.
const versionArb = fc.option(fc.integer({ min: -2, max: 6 }), { nil: undefined, freq: 2 });

type Action =
  | { kind: 'set'; namespace: string; key: string; value: unknown; expectedVersion?: number; secret?: boolean }
  | { kind: 'batch'; namespace: string; inputs: Array<{ key: string; value: unknown; expectedVersion?: number }> }
  | { kind: 'delete'; namespace: string; key: string; expectedVersion?: number }
  | { kind: 'rollback'; namespace: string; key: string; toVersion: number }
  | { kind: 'kill'; namespace: string }
  | { kind: 'document'; body: string; contentType: string };

const TOKENS = ['{', '}', '(', ')', '[', ']', ':', '...', '$v', '"x"', '1', '-1', '1e999', 'null', 'query', 'mutation', 'subscription', 'fragment', 'on', 'setConfig', 'setConfigs', 'config', 'configs', 'input', 'namespace', 'key', 'value', '@skip(if: true)', '__schema', '__typename', 'configChanges', 'sinceRevision'];

const actionArb: fc.Arbitrary<Action> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('set' as const), namespace: namespaceArb, key: keyArb, value: valueArb, expectedVersion: versionArb, secret: fc.option(fc.boolean(), { nil: undefined }) }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('batch' as const),
      namespace: namespaceArb,
      inputs: fc.array(fc.record({ key: keyArb, value: valueArb, expectedVersion: versionArb }), { maxLength: 6 }),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('delete' as const), namespace: namespaceArb, key: keyArb, expectedVersion: versionArb }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('rollback' as const), namespace: namespaceArb, key: keyArb, toVersion: fc.integer({ min: -1, max: 8 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('kill' as const), namespace: namespaceArb }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('document' as const),
      body: fc.oneof(
        fc.array(fc.constantFrom(...TOKENS), { maxLength: 40 }).map((tokens) => JSON.stringify({ query: tokens.join(' '), variables: { v: 1 } })),
        fc.string({ maxLength: 200 }).map((query) => JSON.stringify({ query })),
        fc.jsonValue({ maxDepth: 2 }).map((value) => JSON.stringify(value)),
        fc.string({ maxLength: 100 }),
        fc.record({ query: fc.constant('query($v: JSON!) { __typename }'), variables: fc.jsonValue({ maxDepth: 2 }), operationName: fc.option(fc.string(), { nil: undefined }) }).map((p) => JSON.stringify(p)),
      ),
      contentType: fc.constantFrom('application/json', 'application/graphql', 'text/plain', 'application/x-www-form-urlencoded'),
    }),
  },
);

function request(action: Action): { body: string; contentType: string } {
  const json = (query: string, variables: Record<string, unknown>) => ({ body: JSON.stringify({ query, variables }), contentType: 'application/json' });
  switch (action.kind) {
    case 'set':
      return json(`mutation($input: SetConfigInput!) { setConfig(input: $input) { key version revision value } }`, {
        input: { namespace: action.namespace, key: action.key, value: action.value, expectedVersion: action.expectedVersion, secret: action.secret },
      });
    case 'batch':
      return json(`mutation($ns: String!, $inputs: [BatchSetInput!]!) { setConfigs(namespace: $ns, inputs: $inputs, reason: "fuzz") { key version revision } }`, {
        ns: action.namespace,
        inputs: action.inputs,
      });
    case 'delete':
      return json(`mutation($ns: String!, $key: String!, $v: Int) { deleteConfig(namespace: $ns, key: $key, expectedVersion: $v) { version revision } }`, {
        ns: action.namespace,
        key: action.key,
        v: action.expectedVersion,
      });
    case 'rollback':
      return json(`mutation($ns: String!, $key: String!, $to: Int!) { rollbackConfig(namespace: $ns, key: $key, toVersion: $to) { version revision } }`, {
        ns: action.namespace,
        key: action.key,
        to: action.toVersion,
      });
    case 'kill':
      return json(`mutation($ns: String!) { disableAllFlags(namespace: $ns, reason: "fuzz") { key } }`, { ns: action.namespace });
    case 'document':
      return { body: action.body, contentType: action.contentType };
  }
}

interface HistoryChange {
  key: string;
  op: 'SET' | 'DELETE';
  version: number;
  revision: number;
  value: unknown;
}

async function assertInvariants(namespace: string): Promise<void> {
  const changesResponse = await gw.gql<{ configChanges: { revision: number; hasMore: boolean; changes: HistoryChange[] } }>(
    `query($ns: String!) { configChanges(namespace: $ns, sinceRevision: 0, limit: 10000) { revision hasMore changes { key op version revision value } } }`,
    { ns: namespace },
  );
  const snapshotResponse = await gw.gql<{ configs: { revision: number; entries: Array<{ key: string; version: number; value: unknown }> } }>(
    `query($ns: String!) { configs(namespace: $ns) { revision entries { key version value } } }`,
    { ns: namespace },
  );
  expect(changesResponse.body.errors).toBeUndefined();
  expect(snapshotResponse.body.errors).toBeUndefined();
  const page = changesResponse.body.data!.configChanges;
  const snapshot = snapshotResponse.body.data!.configs;
  expect(page.hasMore).toBe(false);
  expect(snapshot.revision).toBe(page.revision);

  // Revisions: 1..N, each present, ascending; one key at most once per revision.
  const revisions = [...new Set(page.changes.map((c) => c.revision))];
  expect(revisions).toEqual(Array.from({ length: page.revision }, (_, i) => i + 1));
  for (let i = 1; i < page.changes.length; i += 1) expect(page.changes[i]!.revision).toBeGreaterThanOrEqual(page.changes[i - 1]!.revision);

  // Versions per key: 1, 2, 3... in revision order; replaying history gives the snapshot.
  const state = new Map<string, { version: number; value: unknown; live: boolean }>();
  for (const change of page.changes) {
    const previous = state.get(change.key);
    expect(change.version, `version of ${change.key} at revision ${change.revision}`).toBe((previous?.version ?? 0) + 1);
    if (change.op === 'DELETE') expect(previous?.live, `delete of a missing key ${change.key}`).toBe(true);
    state.set(change.key, { version: change.version, value: change.value, live: change.op === 'SET' });
  }
  const replayed = [...state.entries()]
    .filter(([, s]) => s.live)
    .map(([key, s]) => ({ key, version: s.version, value: s.value }))
    .sort((x, y) => (x.key < y.key ? -1 : 1));
  const entries = [...snapshot.entries].sort((x, y) => (x.key < y.key ? -1 : 1));
  expect(entries).toEqual(replayed);
}

beforeAll(async () => {
  database = await createTestDatabase('fuzz');
  gw = await startTestGateway({ DATABASE_URL: database.url, HOTCONF_MAX_VALUE_BYTES: '4096' });
});

afterAll(async () => {
  await gw?.stop();
  await database?.drop();
});

describe('fuzzing the API', () => {
  it('answers every random request without a crash, and the store invariants hold afterwards', async () => {
    // Bounded in time on a shared 2-core machine, but only once the runs have reached the store
    // often enough to mean something: a slow machine gets fewer runs, never a weaker test.
    const deadline = Date.now() + 40_000;
    const seed = Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31);
    await fc.assert(
      fc.asyncProperty(fc.array(actionArb, { minLength: 1, maxLength: 12 }), async (actions) => {
        if (Date.now() > deadline && acceptedWrites > MIN_ACCEPTED_WRITES) return;
        for (const action of actions) {
          const { body, contentType } = request(action);
          const sent = await send(body, contentType);
          checkAnswer(sent, body);
          if (action.kind !== 'document' && sent.status === 200 && !sent.text.includes('"errors"')) acceptedWrites += 1;
        }
        const alive = await gw.gql<{ __typename: string }>(`{ __typename }`);
        expect(alive.status).toBe(200);
        for (const namespace of NAMESPACES) await assertInvariants(namespace);
      }),
      { numRuns: 40, seed, verbose: 1 },
    );
    expect(internalErrors).toEqual([]);
    // The generators must reach the store, not only its input validation.
    expect(acceptedWrites, `writes the store accepted (FUZZ_SEED=${seed})`).toBeGreaterThan(MIN_ACCEPTED_WRITES);
  }, 300_000);

  it('concurrent batches and compare-and-set writes on one key keep revisions contiguous', async () => {
    const ns = NAMESPACES[0]!;
    const writes = Array.from({ length: 40 }, (_, i) =>
      i % 2
        ? send(JSON.stringify({ query: `mutation($ns: String!, $i: [BatchSetInput!]!) { setConfigs(namespace: $ns, inputs: $i) { version } }`, variables: { ns, i: [{ key: 'race', value: i }, { key: `race.${i % 5}`, value: i }] } }))
        : send(JSON.stringify({ query: `mutation($ns: String!, $v: JSON!) { setConfig(input: { namespace: $ns, key: "race", value: $v, expectedVersion: 1 }) { version } }`, variables: { ns, v: i } })),
    );
    for (const sent of await Promise.all(writes)) checkAnswer(sent, 'race');
    await assertInvariants(ns);
    expect(internalErrors).toEqual([]);
  });
});
