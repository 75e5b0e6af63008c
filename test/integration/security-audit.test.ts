/**
 * Audit: every history row records the token's `sub`, the reason and the request's trace id;
 * a namespace can require a reason (BAD_USER_INPUT, rule REASON_REQUIRED).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { codeOf, startTestGateway, type TestGateway } from '../helpers/app.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';

const NS = 'audit-ns';
let database: TestDatabase;
let gw: TestGateway;

async function post(query: string, variables: Record<string, unknown>, token: string, headers: Record<string, string> = {}) {
  const response = await fetch(gw.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json', authorization: `Bearer ${token}`, ...headers },
    body: JSON.stringify({ query, variables }),
  });
  return { traceHeader: response.headers.get('x-trace-id'), body: (await response.json()) as { data?: unknown; errors?: Array<{ extensions?: Record<string, unknown> }> } };
}

beforeAll(async () => {
  database = await createTestDatabase('audit');
  gw = await startTestGateway({ DATABASE_URL: database.url });
});

afterAll(async () => {
  await gw?.stop();
  await database?.drop();
});

describe('audit trail', () => {
  it('records who (the token sub), why (reason) and which request (trace id) on every change', async () => {
    const alice = await gw.token({ sub: 'alice@example.com', role: 'writer', namespaces: [NS] });
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const set = await post(`mutation { setConfig(input: { namespace: "${NS}", key: "a", value: 1, reason: "INC-42 raise limit" }) { version } }`, {}, alice, {
      traceparent: `00-${traceId}-00f067aa0ba902b7-01`,
    });
    expect(set.body.errors).toBeUndefined();
    expect(set.traceHeader).toBe(traceId);
    const batch = await post(`mutation { setConfigs(namespace: "${NS}", inputs: [{ key: "b", value: 2 }], reason: "batch") { version } }`, {}, alice, { 'x-trace-id': 'trace-batch-1' });
    expect(batch.body.errors).toBeUndefined();
    const deleted = await post(`mutation { deleteConfig(namespace: "${NS}", key: "b", reason: "cleanup") { version } }`, {}, alice);
    expect(deleted.body.errors).toBeUndefined();

    const history = await gw.gql<{ configChanges: { changes: Array<{ key: string; op: string; changedBy: string; reason: string; traceId: string }> } }>(
      `query { configChanges(namespace: "${NS}", sinceRevision: 0) { changes { key op changedBy reason traceId } } }`,
    );
    const changes = history.body.data!.configChanges.changes;
    expect(changes.map(({ key, op, changedBy, reason }) => ({ key, op, changedBy, reason }))).toEqual([
      { key: 'a', op: 'SET', changedBy: 'alice@example.com', reason: 'INC-42 raise limit' },
      { key: 'b', op: 'SET', changedBy: 'alice@example.com', reason: 'batch' },
      { key: 'b', op: 'DELETE', changedBy: 'alice@example.com', reason: 'cleanup' },
    ]);
    expect(changes[0]!.traceId).toBe(traceId);
    expect(changes[1]!.traceId).toBe('trace-batch-1');
    expect(changes[2]!.traceId).toMatch(/^[0-9a-f]{16,}$/);
  });

  it('a namespace that requires a reason refuses changes without one, and nothing is written', async () => {
    const configured = await gw.gql(`mutation { configureNamespace(namespace: "${NS}", requireReason: true) { name } }`);
    expect(configured.body.errors).toBeUndefined();
    const writer = await gw.token({ sub: 'bob', role: 'writer', namespaces: [NS] });
    for (const query of [
      `mutation { setConfig(input: { namespace: "${NS}", key: "c", value: 1 }) { version } }`,
      `mutation { setConfig(input: { namespace: "${NS}", key: "c", value: 1, reason: "   " }) { version } }`,
      `mutation { setConfigs(namespace: "${NS}", inputs: [{ key: "c", value: 1 }]) { version } }`,
      `mutation { deleteConfig(namespace: "${NS}", key: "a") { version } }`,
      `mutation { rollbackConfig(namespace: "${NS}", key: "a", toVersion: 1) { version } }`,
    ]) {
      const response = await post(query, {}, writer);
      expect(response.body.errors?.[0]?.extensions, query).toMatchObject({ code: 'BAD_USER_INPUT', rule: 'REASON_REQUIRED' });
    }
    const state = await gw.gql<{ configs: { revision: number } }>(`query { configs(namespace: "${NS}") { revision } }`);
    expect(state.body.data!.configs.revision).toBe(3);
    const withReason = await post(`mutation { setConfig(input: { namespace: "${NS}", key: "c", value: 1, reason: "ticket" }) { version } }`, {}, writer);
    expect(withReason.body.errors).toBeUndefined();
  });

  it('only admins change namespace settings', async () => {
    const writer = await gw.token({ sub: 'bob', role: 'writer', namespaces: [NS] });
    const response = await gw.gql(`mutation { configureNamespace(namespace: "${NS}", requireReason: false) { name } }`, {}, { token: writer });
    expect(codeOf(response)).toBe('FORBIDDEN');
  });
});
