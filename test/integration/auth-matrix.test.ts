/**
 * Table-driven authorization: every query, mutation and subscription × every role ×
 * own/other namespace, and every operation × no/expired/forged/alg:none token.
 */
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { codeOf, startTestGateway, type GraphQLResponse, type TestGateway } from '../helpers/app.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';
import type { Role } from '../../src/core/types.js';

const OWN = 'own-ns';
const OTHER = 'other-ns';
const GHOST = 'ghost-ns'; // never created

let database: TestDatabase;
let gw: TestGateway;
let counter = 0;

interface Operation {
  name: string;
  kind: 'query' | 'mutation' | 'subscription';
  /** Runs as admin before the call (fresh keys for deletes and rollbacks); returns the variables. */
  prepare?: (ns: string) => Promise<Record<string, unknown>>;
  query: string;
  variables?: (ns: string) => Record<string, unknown>;
}

const admin = (query: string, variables: Record<string, unknown>) => gw.gql(query, variables);
const SET = `mutation($input: SetConfigInput!) { setConfig(input: $input) { version } }`;

async function freshKey(ns: string, versions = 1): Promise<string> {
  const key = `k.${++counter}`;
  for (let v = 1; v <= versions; v += 1) {
    const response = await admin(SET, { input: { namespace: ns, key, value: v } });
    expect(response.body.errors).toBeUndefined();
  }
  return key;
}

const OPERATIONS: Operation[] = [
  { name: 'namespaces', kind: 'query', query: `{ namespaces { name revision } }` },
  { name: 'config', kind: 'query', query: `query($ns: String!) { config(namespace: $ns, key: "plain") { key value } }` },
  { name: 'configs', kind: 'query', query: `query($ns: String!) { configs(namespace: $ns) { revision entries { key } } }` },
  { name: 'configChanges', kind: 'query', query: `query($ns: String!) { configChanges(namespace: $ns, sinceRevision: 0) { revision changes { key } } }` },
  { name: 'configDrift', kind: 'query', query: `query($ns: String!) { configDrift(namespace: $ns, known: [{ key: "plain", version: 0 }]) { revision deleted } }` },
  { name: 'evaluateFlag', kind: 'query', query: `query($ns: String!) { evaluateFlag(namespace: $ns, key: "flag.new-ui", userId: "u1") { enabled } }` },
  { name: 'convergence', kind: 'query', query: `query($ns: String!) { convergence(namespace: $ns) { revision converged } }` },
  { name: 'config.history', kind: 'query', query: `query($ns: String!) { config(namespace: $ns, key: "plain") { history { version } } }` },
  { name: 'restorePlan', kind: 'query', query: `query($ns: String!) { restorePlan(namespace: $ns, toRevision: 1, prefix: "restore-probe.") { revision changes { key } } }` },
  {
    name: 'setConfig',
    kind: 'mutation',
    query: `mutation($ns: String!, $key: String!) { setConfig(input: { namespace: $ns, key: $key, value: 1 }) { version } }`,
    variables: () => ({ key: `new.${++counter}` }),
  },
  {
    name: 'setConfigs',
    kind: 'mutation',
    query: `mutation($ns: String!, $key: String!) { setConfigs(namespace: $ns, inputs: [{ key: $key, value: 1 }]) { version } }`,
    variables: () => ({ key: `new.${++counter}` }),
  },
  {
    name: 'deleteConfig',
    kind: 'mutation',
    prepare: async (ns) => ({ key: await freshKey(ns) }),
    query: `mutation($ns: String!, $key: String!) { deleteConfig(namespace: $ns, key: $key) { version } }`,
  },
  {
    name: 'rollbackConfig',
    kind: 'mutation',
    prepare: async (ns) => ({ key: await freshKey(ns, 2) }),
    query: `mutation($ns: String!, $key: String!) { rollbackConfig(namespace: $ns, key: $key, toVersion: 1) { version } }`,
  },
  { name: 'disableAllFlags', kind: 'mutation', query: `mutation($ns: String!) { disableAllFlags(namespace: $ns, reason: "drill") { key } }` },
  { name: 'configureNamespace', kind: 'mutation', query: `mutation($ns: String!) { configureNamespace(namespace: $ns, requireReason: false) { name } }` },
  { name: 'reportApplied', kind: 'mutation', query: `mutation($ns: String!) { reportApplied(namespace: $ns, clientId: "pod-1", revision: 1) }` },
  { name: 'reportLeaving', kind: 'mutation', query: `mutation($ns: String!) { reportLeaving(namespace: $ns, clientId: "pod-gone") }` },
  {
    name: 'restoreConfigs',
    kind: 'mutation',
    // A prefix nothing lives under: allowed callers write nothing, the others are refused.
    query: `mutation($ns: String!) { restoreConfigs(namespace: $ns, toRevision: 1, prefix: "restore-probe.", reason: "drill") { revision } }`,
  },
  { name: 'configChanged', kind: 'subscription', query: `subscription($ns: String!) { configChanged(namespace: $ns, sinceRevision: 0) { key revision replayed } }` },
];

type Outcome = 'ok' | string;

/** A subscription over SSE: the first event's outcome (history replay makes an allowed one answer at once). */
async function subscribeSse(query: string, variables: Record<string, unknown>, token: string | null): Promise<{ outcome: Outcome; body: unknown }> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), 10_000);
  try {
    const response = await fetch(gw.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify({ query, variables }),
      signal: controller.signal,
    });
    expect(response.status).toBeLessThan(500);
    if (!response.headers.get('content-type')?.includes('text/event-stream')) {
      const body = (await response.json()) as GraphQLResponse['body'];
      return { outcome: String(body.errors?.[0]?.extensions?.code ?? 'no-error'), body };
    }
    const reader = response.body!.getReader();
    const decoder = new TextDecoder();
    let buffer = '';
    for (;;) {
      const { done, value } = await reader.read();
      if (done) throw new Error(`stream ended without an event: ${buffer}`);
      buffer += decoder.decode(value, { stream: true });
      const match = /event: next\ndata: (.*)\n\n/.exec(buffer);
      if (match) {
        const body = JSON.parse(match[1]!) as GraphQLResponse['body'];
        await reader.cancel();
        const code = body.errors?.[0]?.extensions?.code;
        return { outcome: code === undefined ? 'ok' : String(code), body: { ...body, data: code === undefined ? 'some' : body.data } };
      }
    }
  } finally {
    clearTimeout(timer);
    controller.abort();
  }
}

async function run(operation: Operation, ns: string, token: string | null): Promise<{ outcome: Outcome; status: number; body: unknown }> {
  const variables = { ...(operation.query.includes('$ns') ? { ns } : {}), ...(operation.prepare ? await operation.prepare(ns) : {}), ...(operation.variables?.(ns) ?? {}) };
  if (operation.kind === 'subscription') return { ...(await subscribeSse(operation.query, variables, token)), status: 200 };
  const response = await gw.gql(operation.query, variables, { token });
  expect(response.status, JSON.stringify(response.body)).toBeLessThan(500);
  const code = codeOf(response);
  if (code === undefined) expect(response.body.data).toBeTruthy();
  return { outcome: code === undefined ? 'ok' : String(code), status: response.status, body: response.body };
}

const tokens: Record<string, string> = {};
const ROLES: Array<{ label: string; role: Role; namespaces: string[] | '*' }> = [
  { label: 'admin of *', role: 'admin', namespaces: '*' },
  // An admin is an admin of its namespaces only.
  { label: 'admin of own', role: 'admin', namespaces: [OWN] },
  { label: 'writer of own', role: 'writer', namespaces: [OWN] },
  { label: 'reader of own', role: 'reader', namespaces: [OWN] },
];

function expected(role: Role, operation: Operation, ns: string, scope: string[] | '*'): Outcome {
  if (operation.name === 'namespaces') return 'ok'; // filtered, see below
  if (scope !== '*' && !scope.includes(ns)) return 'FORBIDDEN';
  if (role === 'admin') return 'ok';
  // Every SDK reports what it applied and that it leaves, whatever its role.
  if (operation.kind !== 'mutation' || operation.name === 'reportApplied' || operation.name === 'reportLeaving') return 'ok';
  if (operation.name === 'configureNamespace') return 'FORBIDDEN'; // namespace settings: admins only
  return role === 'writer' ? 'ok' : 'FORBIDDEN';
}

beforeAll(async () => {
  database = await createTestDatabase('auth_matrix');
  gw = await startTestGateway({ DATABASE_URL: database.url });
  for (const ns of [OWN, OTHER]) {
    await admin(SET, { input: { namespace: ns, key: 'plain', value: 'v' } });
    await admin(SET, { input: { namespace: ns, key: 'flag.new-ui', value: { enabled: true, rolloutPercentage: 50 } } });
  }
  for (const { label, role, namespaces } of ROLES) tokens[label] = await gw.token({ sub: label.replace(/\W+/g, '-'), role, namespaces });
});

afterAll(async () => {
  await gw?.stop();
  await database?.drop();
});

describe('every operation × every role × own/other namespace', () => {
  for (const { label, role, namespaces } of ROLES) {
    for (const ns of [OWN, OTHER]) {
      it.each(OPERATIONS.map((op) => [op.name, op] as const))(`${label} in ${ns === OWN ? 'its own' : 'another'} namespace: %s`, async (_name, operation) => {
        const { outcome, body } = await run(operation, ns, tokens[label]!);
        expect(outcome, JSON.stringify(body)).toBe(expected(role, operation, ns, namespaces));
      });
    }
  }
});

describe('a caller outside a namespace learns nothing about it', () => {
  for (const label of ['admin of own', 'writer of own', 'reader of own']) {
    it.each(OPERATIONS.filter((op) => !op.prepare && op.query.includes('$ns')).map((op) => [op.name, op] as const))(`${label}: %s answers an existing and a missing namespace identically`, async (_name, operation) => {
      const existing = await run(operation, OTHER, tokens[label]!);
      const missing = await run(operation, GHOST, tokens[label]!);
      expect(existing.outcome).toBe('FORBIDDEN');
      expect(JSON.stringify(missing.body).replaceAll(GHOST, OTHER)).toBe(JSON.stringify(existing.body));
      expect(missing.status).toBe(existing.status);
    });
  }

  it('namespaces lists only the namespaces in the claim', async () => {
    const list = async (token: string) =>
      ((await gw.gql<{ namespaces: Array<{ name: string }> }>(`{ namespaces { name } }`, {}, { token })).body.data?.namespaces ?? []).map((n) => n.name).sort();
    expect(await list(tokens['reader of own']!)).toEqual([OWN]);
    expect(await list(tokens['admin of *']!)).toEqual(expect.arrayContaining([OTHER, OWN]));
  });
});

describe('bad tokens are refused on every operation', () => {
  const badTokens: Record<string, () => Promise<string | null>> = {
    'no token': async () => null,
    'an expired token': () => gw.token({ sub: 'late', role: 'admin', namespaces: '*' }, -60),
    'a token signed with another key': () =>
      new SignJWT({ role: 'admin', namespaces: '*', secrets: true })
        .setProtectedHeader({ alg: 'HS256' })
        .setSubject('mallory')
        .setExpirationTime('1h')
        .sign(new TextEncoder().encode('not-the-gateway-key-not-the-gateway-key')),
    'an alg:none token': async () => {
      const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
      return `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ sub: 'mallory', role: 'admin', namespaces: '*', exp: Math.floor(Date.now() / 1000) + 600 })}.`;
    },
    'a token with a tampered role': async () => {
      const real = await gw.token({ sub: 'eve', role: 'reader', namespaces: [OWN] });
      const [header, , signature] = real.split('.');
      const payload = Buffer.from(JSON.stringify({ sub: 'eve', role: 'admin', namespaces: '*', exp: Math.floor(Date.now() / 1000) + 600 })).toString('base64url');
      return `${header}.${payload}.${signature}`;
    },
  };
  for (const [label, make] of Object.entries(badTokens)) {
    it.each(OPERATIONS.map((op) => [op.name, op] as const))(`${label}: %s is UNAUTHENTICATED`, async (_name, operation) => {
      const token = await make();
      const { outcome, body } = await run(operation, OWN, token);
      expect(outcome, JSON.stringify(body)).toBe('UNAUTHENTICATED');
      if (token) expect(JSON.stringify(body)).not.toContain(token.slice(0, 30));
    });
  }

  it('nothing was written by refused callers: every history row has a known actor', async () => {
    const page = await gw.gql<{ configChanges: { changes: Array<{ changedBy: string }> } }>(
      `query($ns: String!) { configChanges(namespace: $ns, sinceRevision: 0, limit: 10000) { changes { changedBy } } }`,
      { ns: OWN },
    );
    const actors = new Set(page.body.data!.configChanges.changes.map((c) => c.changedBy));
    expect([...actors].sort()).toEqual(['admin-of-', 'admin-of-own', 'test-admin', 'writer-of-own'].sort());
  });
});
