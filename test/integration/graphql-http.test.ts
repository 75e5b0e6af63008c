import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';
import { codeOf, startTestGateway, type TestGateway } from '../helpers/app.js';

const NS = 'demo-platform';

const ENTRY = /* GraphQL */ `
  fragment E on ConfigEntry { namespace key value version revision updatedBy description secret redacted }
`;
const SET = /* GraphQL */ `
  mutation Set($input: SetConfigInput!) { setConfig(input: $input) { ...E } } ${ENTRY}
`;
const GET = /* GraphQL */ `
  query Get($ns: String!, $key: String!) { config(namespace: $ns, key: $key) { ...E history { op version revision value changedBy reason } } } ${ENTRY}
`;
const CHANGES = /* GraphQL */ `
  query Changes($ns: String!, $since: SafeInt!, $prefix: String, $limit: Int) {
    configChanges(namespace: $ns, sinceRevision: $since, prefix: $prefix, limit: $limit) {
      namespace revision hasMore changes { key op version revision value replayed changedBy reason }
    }
  }
`;

let database: TestDatabase;
let gw: TestGateway;

type Change = { key: string; op: string; version: number; revision: number; value: unknown; replayed: boolean };
type Page = { configChanges: { revision: number; hasMore: boolean; changes: Change[] } };

async function state(ns = NS) {
  const page = await gw.gql<Page>(CHANGES, { ns, since: 0, limit: 10_000 });
  const snapshot = await gw.gql<{ configs: { revision: number; entries: Array<{ key: string; version: number; value: unknown }> } }>(
    `query($ns: String!) { configs(namespace: $ns) { revision entries { key version value } } }`,
    { ns },
  );
  return { changes: page.body.data?.configChanges, snapshot: snapshot.body.data?.configs };
}

/** Sends `text` as it is over a fresh TCP connection and resolves with all the server wrote back. */
function rawRequest(url: URL, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(Number(url.port), url.hostname, () => socket.end(text));
    let answer = '';
    socket.on('data', (chunk: Buffer) => (answer += chunk.toString('utf8')));
    socket.on('close', () => resolve(answer));
    socket.on('error', reject);
  });
}

beforeAll(async () => {
  database = await createTestDatabase('graphql_http');
  gw = await startTestGateway({ DATABASE_URL: database.url, HOTCONF_MAX_VALUE_BYTES: String(1024 * 1024) });
});

afterAll(async () => {
  await gw?.stop();
  await database?.drop();
});

describe('queries and mutations over HTTP', () => {
  it('setConfig creates version 1 at revision 1 and config reads it back with its history', async () => {
    const created = await gw.gql<{ setConfig: Record<string, unknown> }>(SET, {
      input: { namespace: NS, key: 'ai.threshold', value: 0.75, reason: 'initial', description: 'model cut-off' },
    });
    expect(created.status).toBe(200);
    expect(created.contentType).toContain('application/graphql-response+json');
    expect(created.body.errors).toBeUndefined();
    expect(created.body.data?.setConfig).toMatchObject({
      namespace: NS, key: 'ai.threshold', value: 0.75, version: 1, revision: 1, updatedBy: 'test-admin', description: 'model cut-off', secret: false, redacted: false,
    });

    const updated = await gw.gql<{ setConfig: { version: number; revision: number; description: string } }>(SET, {
      input: { namespace: NS, key: 'ai.threshold', value: 0.85, expectedVersion: 1, reason: 'tune' },
    });
    expect(updated.body.data?.setConfig).toMatchObject({ version: 2, revision: 2, description: 'model cut-off' });

    const read = await gw.gql<{ config: { value: number; history: Array<{ version: number; reason: string; changedBy: string }> } }>(GET, { ns: NS, key: 'ai.threshold' });
    expect(read.body.data?.config.value).toBe(0.85);
    expect(read.body.data?.config.history.map((h) => [h.version, h.reason, h.changedBy])).toEqual([
      [2, 'tune', 'test-admin'],
      [1, 'initial', 'test-admin'],
    ]);
  });

  it('a query also works with GET, and a mutation over GET is refused with 405', async () => {
    const query = encodeURIComponent('{ config(namespace: "demo-platform", key: "ai.threshold") { value version } }');
    const response = await fetch(`${gw.url}?query=${query}`, { headers: { authorization: `Bearer ${gw.adminToken}`, accept: 'application/graphql-response+json' } });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ data: { config: { value: 0.85, version: 2 } } });

    const mutation = encodeURIComponent('mutation { deleteConfig(namespace: "demo-platform", key: "ai.threshold") { version } }');
    const refused = await fetch(`${gw.url}?query=${mutation}`, { headers: { authorization: `Bearer ${gw.adminToken}` } });
    expect(refused.status).toBe(405);
    expect((await gw.gql<{ config: { version: number } }>(GET, { ns: NS, key: 'ai.threshold' })).body.data?.config.version).toBe(2);
  });

  it('a GET longer than the header limit gets a JSON error with a code (431), not node\'s bare status line', async () => {
    const variables = encodeURIComponent(JSON.stringify({ ns: 'x'.repeat(20_000) }));
    const response = await fetch(`${gw.url}?query=${encodeURIComponent('query($ns: String!) { namespaces { name } }')}&variables=${variables}`, {
      headers: { authorization: `Bearer ${gw.adminToken}`, accept: 'application/graphql-response+json' },
    });
    expect(response.status).toBe(431);
    expect(response.headers.get('content-type')).toBe('application/json');
    const body = (await response.json()) as { errors: Array<{ message: string; extensions: { code: string } }> };
    expect(body.errors[0]!.extensions.code).toBe('BAD_USER_INPUT');
    expect(body.errors[0]!.message).toMatch(/POST/);
    // A malformed request line is answered the same way.
    const garbled = await rawRequest(new URL(gw.url), 'GET /graphql HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n');
    expect(garbled).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    expect(garbled).toContain('"code":"BAD_REQUEST"');
  });

  it('a GET whose variables or extensions are not JSON is a 400 request error, not a masked internal error', async () => {
    // Apollo's PersistedQueryLink with useGETForHashedQueries sends `extensions` this way.
    for (const param of ['variables', 'extensions']) {
      for (const accept of ['application/graphql-response+json', 'application/json']) {
        const response = await fetch(`${gw.url}?query=${encodeURIComponent('{ __typename }')}&${param}=${encodeURIComponent('{"ns": ')}`, {
          headers: { authorization: `Bearer ${gw.adminToken}`, accept },
        });
        expect(response.status, `${param} ${accept}`).toBe(400);
        const body = (await response.json()) as { data?: unknown; errors: Array<{ message: string; extensions: { code: string } }> };
        expect(body.data).toBeUndefined();
        expect(body.errors[0]!.extensions.code).toBe('BAD_REQUEST');
        expect(body.errors[0]!.message).toMatch(new RegExp(param, 'i'));
        expect(body.errors[0]!.extensions).not.toHaveProperty('http');
      }
    }
  });

  it('setConfigs writes a batch in one revision, and configs lists a snapshot at that revision', async () => {
    const batch = await gw.gql<{ setConfigs: Array<{ key: string; version: number; revision: number }> }>(
      `mutation($ns: String!, $inputs: [BatchSetInput!]!) { setConfigs(namespace: $ns, inputs: $inputs, reason: "batch") { key version revision } }`,
      { ns: NS, inputs: [{ key: 'db.pool.max', value: 20 }, { key: 'db.pool.min', value: 2 }, { key: 'ai.model', value: { name: 'm1' } }] },
    );
    expect(batch.body.errors).toBeUndefined();
    expect(batch.body.data?.setConfigs).toEqual([
      { key: 'db.pool.max', version: 1, revision: 3 },
      { key: 'db.pool.min', version: 1, revision: 3 },
      { key: 'ai.model', version: 1, revision: 3 },
    ]);
    const prefixed = await gw.gql<{ configs: { revision: number; entries: Array<{ key: string }> } }>(
      `{ configs(namespace: "demo-platform", prefix: "db.") { revision entries { key } } }`,
    );
    expect(prefixed.body.data?.configs).toEqual({ revision: 3, entries: [{ key: 'db.pool.max' }, { key: 'db.pool.min' }] });
  });

  it('configChanges pages in revision order and never splits a batch', async () => {
    const first = await gw.gql<Page>(CHANGES, { ns: NS, since: 0, limit: 3 });
    const page = first.body.data!.configChanges;
    // limit 3 reaches into revision 3 (a batch of three), which comes whole.
    expect(page.changes.map((c) => c.revision)).toEqual([1, 2, 3, 3, 3]);
    expect(page.changes.every((c) => c.replayed)).toBe(true);
    expect(page.revision).toBe(3);
    const rest = await gw.gql<Page>(CHANGES, { ns: NS, since: 3 });
    expect(rest.body.data?.configChanges).toMatchObject({ changes: [], hasMore: false, revision: 3 });
    const prefixed = await gw.gql<Page>(CHANGES, { ns: NS, since: 0, prefix: 'ai.' });
    expect(prefixed.body.data?.configChanges.changes.map((c) => `${c.key}@${c.version}`)).toEqual(['ai.threshold@1', 'ai.threshold@2', 'ai.model@1']);
  });

  it('deleteConfig records a DELETE, and a re-create continues the version sequence', async () => {
    const deleted = await gw.gql<{ deleteConfig: { op: string; version: number; revision: number; value: unknown } }>(
      `mutation { deleteConfig(namespace: "demo-platform", key: "db.pool.min", reason: "unused") { op version revision value } }`,
    );
    expect(deleted.body.data?.deleteConfig).toEqual({ op: 'DELETE', version: 2, revision: 4, value: null });
    expect((await gw.gql(GET, { ns: NS, key: 'db.pool.min' })).body.data).toEqual({ config: null });

    const conflict = await gw.gql(SET, { input: { namespace: NS, key: 'db.pool.min', value: 5, expectedVersion: 2 } });
    expect(codeOf(conflict)).toBe('VERSION_CONFLICT');
    expect(conflict.body.errors?.[0]?.extensions?.currentVersion).toBe(0);

    const recreated = await gw.gql<{ setConfig: { version: number; revision: number } }>(SET, {
      input: { namespace: NS, key: 'db.pool.min', value: 3, expectedVersion: 0 },
    });
    expect(recreated.body.data?.setConfig).toMatchObject({ version: 3, revision: 5 });
  });

  it('rollbackConfig writes a new version carrying the old value', async () => {
    const rolled = await gw.gql<{ rollbackConfig: { value: number; version: number; revision: number } }>(
      `mutation { rollbackConfig(namespace: "demo-platform", key: "ai.threshold", toVersion: 1, reason: "bad tune") { value version revision } }`,
    );
    expect(rolled.body.data?.rollbackConfig).toEqual({ value: 0.75, version: 3, revision: 6 });
    const missing = await gw.gql(`mutation { rollbackConfig(namespace: "demo-platform", key: "ai.threshold", toVersion: 99) { version } }`);
    expect(codeOf(missing)).toBe('NOT_FOUND');
  });

  it('configDrift names what changed and what was deleted relative to known versions', async () => {
    const drift = await gw.gql<{ configDrift: { revision: number; changed: Array<{ key: string; version: number }>; deleted: string[] } }>(
      `query($known: [KnownVersion!]!) { configDrift(namespace: "demo-platform", known: $known) { revision changed { key version } deleted } }`,
      { known: [{ key: 'ai.threshold', version: 3 }, { key: 'db.pool.max', version: 0 }, { key: 'gone.key', version: 4 }] },
    );
    expect(drift.body.data?.configDrift).toEqual({
      revision: 6,
      changed: [{ key: 'ai.model', version: 1 }, { key: 'db.pool.max', version: 1 }, { key: 'db.pool.min', version: 3 }],
      deleted: ['gone.key'],
    });
  });

  it('namespaces lists each namespace with its revision and live entry count', async () => {
    await gw.gql(SET, { input: { namespace: 'tenant-acme', key: 'x', value: true } });
    const list = await gw.gql<{ namespaces: Array<{ name: string; revision: number; entryCount: number }> }>(`{ namespaces { name revision entryCount } }`);
    expect(list.body.data?.namespaces).toEqual([
      { name: 'demo-platform', revision: 6, entryCount: 4 },
      { name: 'tenant-acme', revision: 1, entryCount: 1 },
    ]);
  });
});

describe('errors: a clear code, and the data as it was', () => {
  it('VALIDATION_FAILED when a value breaks the key\'s JSON Schema, and nothing is written', async () => {
    const schema = { type: 'number', minimum: 0, maximum: 1 };
    const ok = await gw.gql(SET, { input: { namespace: NS, key: 'ai.threshold', value: 0.8, schema } });
    expect(ok.body.errors).toBeUndefined();
    const before = await state();
    const bad = await gw.gql(SET, { input: { namespace: NS, key: 'ai.threshold', value: -1 } });
    expect(codeOf(bad)).toBe('VALIDATION_FAILED');
    expect(bad.body.errors?.[0]?.message).toMatch(/minimum|>= 0/);
    expect(await state()).toEqual(before);
  });

  it('VERSION_CONFLICT carries the current version', async () => {
    const current = (await gw.gql<{ config: { version: number } }>(GET, { ns: NS, key: 'ai.threshold' })).body.data!.config.version;
    const before = await state();
    const stale = await gw.gql(SET, { input: { namespace: NS, key: 'ai.threshold', value: 0.5, expectedVersion: current - 1 } });
    expect(codeOf(stale)).toBe('VERSION_CONFLICT');
    expect(stale.body.errors?.[0]?.extensions).toMatchObject({ currentVersion: current, key: 'ai.threshold' });
    const exists = await gw.gql(SET, { input: { namespace: NS, key: 'ai.threshold', value: 0.5, expectedVersion: 0 } });
    expect(codeOf(exists)).toBe('VERSION_CONFLICT');
    expect(await state()).toEqual(before);
  });

  it('a batch with one conflicting key writes none of its keys', async () => {
    const before = await state();
    const batch = await gw.gql(
      `mutation($inputs: [BatchSetInput!]!) { setConfigs(namespace: "demo-platform", inputs: $inputs) { key } }`,
      { inputs: [{ key: 'new.one', value: 1 }, { key: 'ai.model', value: 2, expectedVersion: 42 }] },
    );
    expect(codeOf(batch)).toBe('VERSION_CONFLICT');
    expect(await state()).toEqual(before);
  });

  it('a namespace that requires a reason refuses changes without one (REASON_REQUIRED)', async () => {
    const configured = await gw.gql<{ configureNamespace: { name: string; requireReason: boolean; revision: number } }>(
      `mutation { configureNamespace(namespace: "audited", requireReason: true) { name requireReason revision } }`,
    );
    expect(configured.body.data?.configureNamespace).toEqual({ name: 'audited', requireReason: true, revision: 0 });
    const without = await gw.gql(SET, { input: { namespace: 'audited', key: 'k', value: 1 } });
    expect(codeOf(without)).toBe('BAD_USER_INPUT');
    expect(without.body.errors?.[0]?.extensions).toMatchObject({ rule: 'REASON_REQUIRED', field: 'reason' });
    const blank = await gw.gql(SET, { input: { namespace: 'audited', key: 'k', value: 1, reason: '   ' } });
    expect(codeOf(blank)).toBe('BAD_USER_INPUT');
    const withReason = await gw.gql<{ setConfig: { revision: number } }>(SET, { input: { namespace: 'audited', key: 'k', value: 1, reason: 'JIRA-1' } });
    expect(withReason.body.data?.setConfig.revision).toBe(1);
    const writer = await gw.token({ sub: 'w', role: 'writer', namespaces: ['audited'] });
    const forbidden = await gw.gql(`mutation { configureNamespace(namespace: "audited", requireReason: false) { name } }`, {}, { token: writer });
    expect(codeOf(forbidden)).toBe('FORBIDDEN');
  });

  it('NOT_FOUND for deleting a key that does not exist', async () => {
    const missing = await gw.gql(`mutation { deleteConfig(namespace: "demo-platform", key: "no.such.key") { version } }`);
    expect(codeOf(missing)).toBe('NOT_FOUND');
  });

  it('REVISION_AHEAD when sinceRevision is past the namespace revision', async () => {
    const ahead = await gw.gql(CHANGES, { ns: NS, since: 10_000 });
    expect(codeOf(ahead)).toBe('REVISION_AHEAD');
  });

  it('REVISION_COMPACTED when sinceRevision is older than retained history', async () => {
    await gw.gql(SET, { input: { namespace: 'compacted', key: 'a', value: 1 } });
    await gw.gql(SET, { input: { namespace: 'compacted', key: 'a', value: 2 } });
    await gw.gql(SET, { input: { namespace: 'compacted', key: 'b', value: 1 } });
    // Retention is days; compact everything committed so far, as the hourly job would later.
    await gw.app.store.compact(new Date(Date.now() + 1_000));
    const old = await gw.gql(CHANGES, { ns: 'compacted', since: 0 });
    expect(codeOf(old)).toBe('REVISION_COMPACTED');
    const current = await gw.gql<Page>(CHANGES, { ns: 'compacted', since: 3 });
    expect(current.body.data?.configChanges.changes).toEqual([]);
    // The state itself survives compaction.
    expect((await state('compacted')).snapshot?.entries.map((e) => [e.key, e.value])).toEqual([['a', 2], ['b', 1]]);
  });

  const hostileKeys = ['has space', 'quote"d', "it's", "x'; DROP TABLE entries; --", 'ключ', '🔥', '', '.leading', 'a'.repeat(257), 'tab\tkey'];
  it.each(hostileKeys)('refuses key %j with BAD_USER_INPUT and writes nothing', async (key) => {
    const before = await state();
    const response = await gw.gql(SET, { input: { namespace: NS, key, value: 1 } });
    expect(response.status).toBe(200);
    expect(codeOf(response)).toBe('BAD_USER_INPUT');
    expect(response.body.errors?.[0]?.message).toMatch(/key/i);
    expect(await state()).toEqual(before);
  });

  it.each(['Upper', '-lead', 'a'.repeat(64), 'sp ace', "n'; DROP TABLE namespaces; --"])('refuses namespace %j with BAD_USER_INPUT', async (namespace) => {
    const response = await gw.gql(SET, { input: { namespace, key: 'k', value: 1 } });
    expect(codeOf(response)).toBe('BAD_USER_INPUT');
    const read = await gw.gql(GET, { ns: namespace, key: 'k' });
    expect(codeOf(read)).toBe('BAD_USER_INPUT');
  });

  it('refuses a 2 MiB value with BAD_USER_INPUT naming the limit', async () => {
    const before = await state();
    const response = await gw.gql(SET, { input: { namespace: NS, key: 'big.value', value: 'x'.repeat(2 * 1024 * 1024) } });
    expect(codeOf(response)).toBe('BAD_USER_INPUT');
    expect(response.body.errors?.[0]?.message).toContain('1048576');
    expect(await state()).toEqual(before);
  });

  it('refuses a null value (delete the key instead)', async () => {
    const response = await gw.gql(SET, { input: { namespace: NS, key: 'k', value: null } });
    expect(response.body.errors?.length).toBeGreaterThan(0);
    expect((await gw.gql(GET, { ns: NS, key: 'k' })).body.data).toEqual({ config: null });
  });

  it('wrong argument types are GraphQL validation errors, never partial writes', async () => {
    const before = await state();
    const wrong = await gw.gql(SET, { input: { namespace: NS, key: 'ai.threshold', value: 1, expectedVersion: 'two' } });
    expect(wrong.status).toBe(400);
    expect(wrong.body.errors?.[0]?.message).toMatch(/expectedVersion|Int/);
    const inline = await gw.gql(`mutation { setConfig(input: { namespace: "demo-platform", key: 7, value: 1 }) { version } }`);
    expect(codeOf(inline)).toBe('GRAPHQL_VALIDATION_FAILED');
    expect(await state()).toEqual(before);
  });

  it('an unknown field is GRAPHQL_VALIDATION_FAILED with status 400', async () => {
    const response = await gw.gql(`{ config(namespace: "demo-platform", key: "ai.threshold") { nope } }`);
    expect(response.status).toBe(400);
    expect(codeOf(response)).toBe('GRAPHQL_VALIDATION_FAILED');
  });

  it('a syntax error is GRAPHQL_PARSE_FAILED with status 400', async () => {
    const response = await gw.gql(`{ config(namespace: `);
    expect(response.status).toBe(400);
    expect(codeOf(response)).toBe('GRAPHQL_PARSE_FAILED');
  });

  it('malformed JSON and a non-JSON body get 4xx with a GraphQL error, not a crash', async () => {
    const headers = { authorization: `Bearer ${gw.adminToken}`, accept: 'application/graphql-response+json' };
    const malformed = await fetch(gw.url, { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: '{"query": "{ namespaces { name } }"' });
    expect(malformed.status).toBe(400);
    expect(((await malformed.json()) as { errors: unknown[] }).errors.length).toBeGreaterThan(0);
    const text = await fetch(gw.url, { method: 'POST', headers: { ...headers, 'content-type': 'text/plain' }, body: 'hello' });
    expect(text.status).toBeGreaterThanOrEqual(400);
    expect(text.status).toBeLessThan(500);
    const ok = await gw.gql(`{ namespaces { name } }`);
    expect(ok.status).toBe(200);
  });

  it('an inline JSON object literal is stored as plain JSON', async () => {
    const response = await gw.gql<{ setConfig: { value: unknown } }>(
      `mutation { setConfig(input: { namespace: "literals", key: "obj", value: { nested: { list: [1, "two", true, null] }, n: 1.5 } }) { value } }`,
    );
    expect(response.body.errors).toBeUndefined();
    expect(response.body.data?.setConfig.value).toEqual({ nested: { list: [1, 'two', true, null] }, n: 1.5 });
  });

  it('unexpected failures reach the client masked, with a correlation id and no internals', async () => {
    const response = await gw.gql(`{ configChanges(namespace: "demo-platform", sinceRevision: 0, limit: 0) { revision } }`);
    // A limit of 0 is our own BAD_USER_INPUT: not masked.
    expect(codeOf(response)).toBe('BAD_USER_INPUT');
    const text = JSON.stringify(response.body);
    expect(text).not.toMatch(/select|insert|stack|at \w+ \(/i);
  });

  it('serves GraphiQL to a browser in development', async () => {
    const page = await fetch(gw.url, { headers: { accept: 'text/html' } });
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toContain('text/html');
    expect(await page.text()).toMatch(/graphiql/i);
  });

  it('every response carries the trace id it was given', async () => {
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const response = await fetch(gw.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${gw.adminToken}`, traceparent: `00-${traceId}-00f067aa0ba902b7-01` },
      body: JSON.stringify({ query: '{ namespaces { name } }' }),
    });
    expect(response.headers.get('x-trace-id')).toBe(traceId);
  });
});
