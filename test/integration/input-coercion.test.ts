/**
 * Variable and input coercion errors carry `extensions.code: BAD_USER_INPUT` (DESIGN.md "Errors"),
 * over HTTP (400 with application/graphql-response+json, 200 with application/json, as GraphQL
 * over HTTP says for a request error) and over graphql-ws; nothing is written.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from '../helpers/app.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';
import { errorCodesOf, openRawSocket } from '../helpers/raw-ws.js';

const NS = 'coercion';
let database: TestDatabase;
let gw: TestGateway;

const SET = /* GraphQL */ `
  mutation Set($input: SetConfigInput!) { setConfig(input: $input) { version } }
`;
const CHANGES = /* GraphQL */ `
  query Changes($ns: String!, $since: SafeInt!) { configChanges(namespace: $ns, sinceRevision: $since) { revision } }
`;
const WATCH = /* GraphQL */ `
  subscription Watch($ns: String!, $since: SafeInt) { configChanged(namespace: $ns, sinceRevision: $since) { key } }
`;

/** A JSON value nested `depth` arrays deep, as request text (JSON.stringify itself would overflow). */
const deepArray = (depth: number) => `${'['.repeat(depth)}${']'.repeat(depth)}`;

interface Case {
  name: string;
  /** The request body, as sent. */
  body: string;
}

const request = (query: string, variables: string) => `{"query":${JSON.stringify(query)},"variables":${variables}}`;

const cases: Case[] = [
  { name: 'a variable of the wrong type', body: request(SET, JSON.stringify({ input: { namespace: 7, key: 'k', value: 1 } })) },
  { name: 'a field of the wrong type inside an input object', body: request(SET, JSON.stringify({ input: { namespace: NS, key: 'k', value: 1, expectedVersion: 'two' } })) },
  { name: 'a missing required variable', body: request(SET, '{}') },
  { name: 'a null for a non-null variable', body: request(SET, '{"input":null}') },
  { name: 'a missing required field in an input object', body: request(SET, JSON.stringify({ input: { namespace: NS, value: 1 } })) },
  { name: 'an extra field in an input object', body: request(SET, JSON.stringify({ input: { namespace: NS, key: 'k', value: 1, bogus: true } })) },
  { name: 'a scalar that refuses the value (SafeInt)', body: request(CHANGES, JSON.stringify({ ns: NS, since: 'soon' })) },
  { name: 'a scalar that throws (JSON nested past the stack)', body: request(SET, `{"input":{"namespace":"${NS}","key":"k","value":${deepArray(200_000)}}}`) },
];

beforeAll(async () => {
  database = await createTestDatabase('input_coercion');
  gw = await startTestGateway({ DATABASE_URL: database.url });
});

afterAll(async () => {
  await gw?.stop();
  await database?.drop();
});

async function send(body: string, accept: string) {
  const response = await fetch(gw.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept, authorization: `Bearer ${gw.adminToken}` },
    body,
  });
  return { status: response.status, body: (await response.json()) as { data?: unknown; errors?: Array<{ message: string; extensions?: Record<string, unknown> }> } };
}

describe('over HTTP', () => {
  for (const { name, body } of cases) {
    it(`${name}: BAD_USER_INPUT, 400 (graphql-response+json) / 200 (json), nothing written`, async () => {
      const strict = await send(body, 'application/graphql-response+json');
      expect(strict.status).toBe(400);
      expect(strict.body.data).toBeUndefined();
      expect(strict.body.errors?.length).toBeGreaterThan(0);
      for (const error of strict.body.errors ?? []) {
        expect(error.extensions?.code, error.message).toBe('BAD_USER_INPUT');
        expect(error.extensions).not.toHaveProperty('http');
        expect(error.message).not.toMatch(/\n\s+at /); // no stack trace
      }
      const legacy = await send(body, 'application/json');
      expect(legacy.status).toBe(200);
      expect(legacy.body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
      expect((await gw.gql(`{ config(namespace: "${NS}", key: "k") { version } }`)).body.data).toEqual({ config: null });
    });
  }

  it('an operation name that matches nothing keeps its own code, and is still a 400', async () => {
    const response = await send(JSON.stringify({ query: '{ __typename }', operationName: 'Nope' }), 'application/graphql-response+json');
    expect(response.status).toBe(400);
    expect(response.body.errors?.[0]?.extensions?.code).toBe('OPERATION_RESOLUTION_FAILURE');
  });

  it('a resolver refusal keeps its own code (field errors are not coercion errors)', async () => {
    const response = await send(request(CHANGES, JSON.stringify({ ns: NS, since: 5 })), 'application/graphql-response+json');
    expect(response.body.errors?.[0]?.extensions?.code).toBe('REVISION_AHEAD');
  });
});

describe('over graphql-ws', () => {
  it('a subscription with a badly typed variable gets BAD_USER_INPUT and the socket stays open', async () => {
    await using ws = await openRawSocket(gw.url.replace(/^http/, 'ws'));
    await ws.init(gw.adminToken);
    ws.subscribe('bad', WATCH, { ns: NS, since: 'yesterday' });
    ws.subscribe('missing', WATCH, {});
    ws.subscribe('mutation', SET, { input: { namespace: NS, key: 'k', value: 1, bogus: 1 } });
    await ws.until(() => ['bad', 'missing', 'mutation'].every((id) => errorCodesOf(ws.messages, id).length > 0), 'three refusals');
    expect(['bad', 'missing', 'mutation'].map((id) => errorCodesOf(ws.messages, id))).toEqual([['BAD_USER_INPUT'], ['BAD_USER_INPUT'], ['BAD_USER_INPUT']]);
    // The HTTP status hint yoga carries in `extensions.http` stays on the server.
    expect(JSON.stringify(ws.messages)).not.toContain('"http"');
    expect(ws.closed).toBeNull();
  });

  it('a syntax error and an operation that cannot be chosen keep their standard codes over graphql-ws, and a document first seen there is still a 400 over HTTP and coded over SSE', async () => {
    await using ws = await openRawSocket(gw.url.replace(/^http/, 'ws'));
    await ws.init(gw.adminToken);
    // Each document is new to this gateway, so graphql-ws is the first transport to parse it.
    const broken = 'subscription FirstSeenOverWs { configChanged(namespace: "x") {';
    ws.subscribe('syntax', broken, {});
    ws.subscribe('which', 'subscription A { configChanged(namespace: "x") { key } } subscription B { configChanged(namespace: "x") { key } }', {});
    await ws.until(() => ['syntax', 'which'].every((id) => errorCodesOf(ws.messages, id).length > 0), 'two refusals');
    expect(errorCodesOf(ws.messages, 'syntax')).toEqual(['GRAPHQL_PARSE_FAILED']);
    expect(errorCodesOf(ws.messages, 'which')).toEqual(['OPERATION_RESOLUTION_FAILURE']);
    expect(JSON.stringify(ws.messages)).not.toContain('"http"');

    const http = await send(JSON.stringify({ query: broken }), 'application/graphql-response+json');
    expect(http.status).toBe(400);
    expect(http.body.errors?.[0]?.extensions?.code).toBe('GRAPHQL_PARSE_FAILED');
    const sse = await fetch(gw.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${gw.adminToken}` },
      body: JSON.stringify({ query: broken }),
    });
    expect(await sse.text()).toContain('"code":"GRAPHQL_PARSE_FAILED"');
  });
});
