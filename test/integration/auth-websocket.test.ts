/**
 * Authentication and authorization over graphql-ws: `connection_init` is verified once per
 * socket (4401 without a valid token, 4403 for a token that grants nothing) and every
 * subscription is checked against the namespaces claim.
 */
import { SignJWT } from 'jose';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from '../helpers/app.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';

const OWN = 'ws-own';
const OTHER = 'ws-other';
let database: TestDatabase;
let gw: TestGateway;
let wsUrl: string;

interface Session {
  close: { code: number; reason: string } | null;
  messages: Array<Record<string, unknown>>;
  socket: WebSocket;
}

/** Opens a socket, sends connection_init with `payload`, and collects what comes back for `waitMs`. */
async function connect(payload: Record<string, unknown> | undefined, then?: (socket: WebSocket) => void, waitMs = 1_500): Promise<Session> {
  const socket = new WebSocket(wsUrl, 'graphql-transport-ws');
  const session: Session = { close: null, messages: [], socket };
  const closed = new Promise<void>((resolve) => {
    socket.on('close', (code, reason) => {
      session.close = { code, reason: reason.toString() };
      resolve();
    });
  });
  socket.on('message', (data) => {
    const message = JSON.parse(data.toString()) as Record<string, unknown>;
    session.messages.push(message);
    if (message.type === 'connection_ack') then?.(socket);
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
  });
  socket.send(JSON.stringify({ type: 'connection_init', ...(payload ? { payload } : {}) }));
  await Promise.race([closed, new Promise((resolve) => setTimeout(resolve, waitMs))]);
  if (socket.readyState === WebSocket.OPEN) {
    socket.close(1000);
    await closed;
  }
  return session;
}

const subscribe = (ns: string) => (socket: WebSocket) =>
  socket.send(
    JSON.stringify({
      id: '1',
      type: 'subscribe',
      payload: { query: `subscription($ns: String!) { configChanged(namespace: $ns, sinceRevision: 0) { key revision } }`, variables: { ns } },
    }),
  );

beforeAll(async () => {
  database = await createTestDatabase('auth_ws');
  gw = await startTestGateway({ DATABASE_URL: database.url });
  wsUrl = gw.url.replace(/^http/, 'ws');
  for (const ns of [OWN, OTHER]) {
    const response = await gw.gql(`mutation($ns: String!) { setConfig(input: { namespace: $ns, key: "k", value: 1 }) { version } }`, { ns });
    expect(response.body.errors).toBeUndefined();
  }
});

afterAll(async () => {
  await gw?.stop();
  await database?.drop();
});

describe('graphql-ws connection_init', () => {
  const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const cases: Array<[string, () => Promise<Record<string, unknown> | undefined>, number]> = [
    ['no payload', async () => undefined, 4401],
    ['no token', async () => ({}), 4401],
    ['an expired token', async () => ({ authorization: `Bearer ${await gw.token({ sub: 'x', role: 'admin', namespaces: '*' }, -60)}` }), 4401],
    [
      'a token signed with another key',
      async () => ({
        authorization: `Bearer ${await new SignJWT({ role: 'admin', namespaces: '*' }).setProtectedHeader({ alg: 'HS256' }).setSubject('m').setExpirationTime('1h').sign(new TextEncoder().encode('x'.repeat(40)))}`,
      }),
      4401,
    ],
    ['an alg:none token', async () => ({ authorization: `Bearer ${b64({ alg: 'none' })}.${b64({ sub: 'm', role: 'admin', namespaces: '*', exp: 9e9 })}.` }), 4401],
    ['a token granting no namespace', async () => ({ authorization: `Bearer ${await gw.token({ sub: 'x', role: 'reader', namespaces: [] })}` }), 4403],
  ];
  it.each(cases)('%s: the socket is closed with %i', async (_name, payload, code) => {
    const session = await connect(await payload(), subscribe(OWN));
    expect(session.close?.code).toBe(code);
    expect(session.messages.filter((m) => m.type === 'next')).toEqual([]);
    expect(session.messages.some((m) => m.type === 'connection_ack')).toBe(false);
  });

  it('a reader subscribing in its own namespace gets the replay; in another, a FORBIDDEN error and the socket stays open', async () => {
    const token = await gw.token({ sub: 'r', role: 'reader', namespaces: [OWN] });
    const own = await connect({ authorization: `Bearer ${token}` }, subscribe(OWN), 1_000);
    expect(own.messages.find((m) => m.type === 'next')).toMatchObject({ payload: { data: { configChanged: { key: 'k', revision: 1 } } } });

    const other = await connect({ token }, subscribe(OTHER), 1_000);
    const error = other.messages.find((m) => m.type === 'error' || (m.type === 'next' && (m.payload as { errors?: unknown }).errors));
    expect(JSON.stringify(error)).toContain('FORBIDDEN');
    expect(other.messages.filter((m) => m.type === 'next' && (m.payload as { data?: unknown }).data)).toEqual([]);
    expect(other.close?.code).toBe(1000); // closed by the test, not by the gateway
  });

  it('an over-limit subscription document is refused without dropping the socket', async () => {
    const token = await gw.token({ sub: 'r', role: 'reader', namespaces: [OWN] });
    const session = await connect({ authorization: `Bearer ${token}` }, (socket) =>
      socket.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: `subscription { ${'a { '.repeat(1_000)}b${' }'.repeat(1_000)} }` } })),
    1_000);
    expect(JSON.stringify(session.messages)).toContain('BAD_USER_INPUT');
    expect(session.close?.code).toBe(1000);
  });
});
