/**
 * A token's `exp` bounds everything done with it (DESIGN.md "Security", token lifetime): a
 * graphql-ws connection closes with 4401 at exp, an operation sent on it after exp never runs,
 * an SSE stream ends with UNAUTHENTICATED, and a subscriber sharing an execution with an expiring
 * one is not taken down with it. Real gateway process, real sockets; the tokens' exp is the clock.
 */
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gql, setConfig, startGateway, subscribeSse, testToken, TEST_JWT_SECRET, uniqueNamespace, type Gateway } from '../helpers/gateway.js';
import { waitFor } from '../helpers/net.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';
import { errorCodesOf, openRawSocket } from '../helpers/raw-ws.js';

let database: TestDatabase;
let gw: Gateway;
let admin: string;

/** A token signed with the gateways' test secret that expires `seconds` from now (whole seconds, as JWT exp is). */
async function expiringToken(seconds: number, claims: { sub: string; role: 'writer' | 'reader'; namespaces: string[] }) {
  const exp = Math.floor(Date.now() / 1000) + seconds;
  const token = await new SignJWT({ role: claims.role, namespaces: claims.namespaces })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(claims.sub)
    .setIssuedAt()
    .setExpirationTime(exp)
    .sign(new TextEncoder().encode(TEST_JWT_SECRET));
  return { token, expiresAt: exp * 1_000 };
}

const WATCH = /* GraphQL */ `
  subscription Watch($namespace: String!) { configChanged(namespace: $namespace) { key revision } }
`;
const SET = /* GraphQL */ `
  mutation Set($input: SetConfigInput!) { setConfig(input: $input) { version revision } }
`;

async function entry(namespace: string, key: string): Promise<unknown> {
  const data = await gql<{ config: unknown }>(gw.url, admin, `query($ns: String!, $key: String!) { config(namespace: $ns, key: $key) { version } }`, { ns: namespace, key });
  return data.config;
}

beforeAll(async () => {
  database = await createTestDatabase('token_lifetime');
  gw = await startGateway({ env: { DATABASE_URL: database.url } });
  admin = await testToken();
});

afterAll(async () => {
  await gw?.stop();
  await database?.drop();
});

describe('graphql-ws', () => {
  it('closes the connection with 4401 at the token exp, after streaming until then', async () => {
    const ns = uniqueNamespace('life-ws');
    const { token, expiresAt } = await expiringToken(4, { sub: 'short-writer', role: 'writer', namespaces: [ns] });
    await using ws = await openRawSocket(gw.wsUrl);
    await ws.init(token);
    ws.subscribe('w', WATCH, { namespace: ns });
    // The subscription is live: a change reaches it (retried until the watch is registered).
    await waitFor(
      async () => {
        await setConfig(gw.url, admin, ns, 'before-exp', Date.now());
        return ws.of('w').some((message) => message.type === 'next');
      },
      15_000,
      'a change on the live subscription',
    );
    expect(await ws.closedWithin(Math.max(0, expiresAt - Date.now()) + 20_000)).toMatchObject({ code: 4401, reason: 'Token expired' });
    // Closed at exp, not before it (the close reaches us at or after the instant it stands for).
    expect(Date.now()).toBeGreaterThanOrEqual(expiresAt);
  });

  it('never runs an operation that reaches the gateway after the token expired', async () => {
    const ns = uniqueNamespace('life-op');
    const { token, expiresAt } = await expiringToken(4, { sub: 'late-writer', role: 'writer', namespaces: [ns] });
    await using ws = await openRawSocket(gw.wsUrl);
    await ws.init(token);
    // The gateway is frozen while the mutation is sent and until exp has passed: when it resumes,
    // the mutation and the expiry are both due, as for a message in flight at exp.
    gw.freeze();
    try {
      ws.subscribe('m', SET, { input: { namespace: ns, key: 'after-exp', value: 1 } });
      await waitFor(() => Date.now() > expiresAt + 250, 20_000, 'the token exp');
    } finally {
      gw.thaw();
    }
    expect(await ws.closedWithin(20_000)).toMatchObject({ code: 4401 });
    expect(ws.of('m').filter((message) => message.type === 'next' && !(message.payload as { errors?: unknown }).errors)).toEqual([]);
    expect(await entry(ns, 'after-exp')).toBeNull();
    // The gateway itself is fine.
    await setConfig(gw.url, admin, ns, 'alive', 1);
  });

  it('refuses connection_init with an expired token (4401), whatever the clock tolerance', async () => {
    const { token } = await expiringToken(-1, { sub: 'gone', role: 'reader', namespaces: ['x'] });
    await using ws = await openRawSocket(gw.wsUrl);
    ws.send({ type: 'connection_init', payload: { authorization: `Bearer ${token}` } });
    expect(await ws.closedWithin(20_000)).toMatchObject({ code: 4401, reason: 'Token expired' });
  });

  it('a subscriber sharing an execution with one whose token expires keeps receiving changes', async () => {
    const ns = uniqueNamespace('life-shared');
    const short = await expiringToken(4, { sub: 'short-reader', role: 'reader', namespaces: [ns] });
    const long = await testToken({ sub: 'long-reader', role: 'reader', namespaces: [ns] });
    // Same document, variables and visibility: one execution, started by the expiring subscriber.
    await using first = await openRawSocket(gw.wsUrl);
    await first.init(short.token);
    first.subscribe('s', WATCH, { namespace: ns });
    await using second = await openRawSocket(gw.wsUrl);
    await second.init(long);
    await waitFor(
      async () => {
        if (second.of('s').length === 0) second.subscribe('s', WATCH, { namespace: ns });
        await setConfig(gw.url, admin, ns, 'warm', Date.now());
        return first.of('s').some((m) => m.type === 'next') && second.of('s').some((m) => m.type === 'next');
      },
      15_000,
      'both subscribers live',
    );
    expect(await first.closedWithin(Math.max(0, short.expiresAt - Date.now()) + 20_000)).toMatchObject({ code: 4401 });
    const seen = second.of('s').length;
    const revision = await setConfig(gw.url, admin, ns, 'after-first-left', 1);
    await second.until(
      () => second.of('s').slice(seen).some((m) => m.type === 'next' && JSON.stringify(m.payload).includes(`"revision":${revision}`)),
      'the change after the expiring subscriber left',
    );
    expect(errorCodesOf(second.messages, 's')).toEqual([]);
    expect(second.closed).toBeNull();
  });
});

describe('SSE', () => {
  it('ends a subscription stream with UNAUTHENTICATED at the token exp', async () => {
    const ns = uniqueNamespace('life-sse');
    const { token, expiresAt } = await expiringToken(4, { sub: 'sse-reader', role: 'reader', namespaces: [ns] });
    const subscriber = await subscribeSse(gw.url, token, { namespace: ns });
    try {
      await waitFor(
        async () => {
          await setConfig(gw.url, admin, ns, 'sse-live', Date.now());
          return subscriber.changes.length > 0;
        },
        15_000,
        'a change on the SSE stream',
      );
      await waitFor(() => subscriber.completed, Math.max(0, expiresAt - Date.now()) + 20_000, 'the SSE stream to end');
      expect(subscriber.errors.map((error) => error.extensions?.code)).toEqual(['UNAUTHENTICATED']);
      expect(subscriber.errors[0]?.message).toBe('Token expired');
      expect(Date.now()).toBeGreaterThanOrEqual(expiresAt);
    } finally {
      await subscriber.close();
    }
  });
});

describe('HTTP', () => {
  it('an expired token is refused with 401 and a WWW-Authenticate challenge', async () => {
    const { token } = await expiringToken(-1, { sub: 'gone', role: 'writer', namespaces: ['x'] });
    const response = await fetch(gw.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query: SET, variables: { input: { namespace: 'x', key: 'k', value: 1 } } }),
    });
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toMatch(/^Bearer\b/);
    const body = (await response.json()) as { data?: unknown; errors: Array<{ message: string; extensions: { code: string } }> };
    expect(body.data).toBeUndefined();
    expect(body.errors[0]).toMatchObject({ message: 'Token expired', extensions: { code: 'UNAUTHENTICATED' } });
    expect(await entry('x', 'k')).toBeNull();
  });
});

describe('a token issued in the future', () => {
  async function issuedAhead(seconds: number) {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({ role: 'reader', namespaces: ['x'] })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('ahead')
      .setIssuedAt(now + seconds)
      .setExpirationTime(now + seconds + 3600)
      .sign(new TextEncoder().encode(TEST_JWT_SECRET));
  }
  const read = (token: string) =>
    fetch(gw.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query: `{ config(namespace: "x", key: "k") { version } }` }),
    });

  it('is refused over HTTP (401) and graphql-ws (4401); a clock a second ahead is tolerated', async () => {
    const ahead = await issuedAhead(3600);
    const response = await read(ahead);
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toMatch(/^Bearer\b/);
    const body = (await response.json()) as { errors: Array<{ message: string; extensions: { code: string } }> };
    expect(body.errors[0]).toMatchObject({ message: 'Token issued in the future', extensions: { code: 'UNAUTHENTICATED' } });

    await using socket = await openRawSocket(gw.url.replace(/^http/, 'ws'));
    socket.send({ type: 'connection_init', payload: { authorization: `Bearer ${ahead}` } });
    expect(await socket.closedWithin(10_000)).toMatchObject({ code: 4401, reason: 'Token issued in the future' });

    expect((await read(await issuedAhead(1))).status).toBe(200);
  });
});
