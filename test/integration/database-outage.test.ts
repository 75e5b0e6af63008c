import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_URL, createTestDatabase, type TestDatabase } from '../helpers/postgres.js';
import { codeOf, startTestGateway, type TestGateway } from '../helpers/app.js';
import { waitFor } from '../helpers/net.js';
import { startGateway, testToken, uniqueNamespace, type Gateway } from '../helpers/gateway.js';
import { attemptSet } from '../helpers/writer.js';

const SET = /* GraphQL */ `mutation($v: JSON!) { setConfig(input: { namespace: "outage", key: "k", value: $v }) { version revision } }`;
const GET = /* GraphQL */ `{ config(namespace: "outage", key: "k") { value version } }`;

describe('PostgreSQL going away', () => {
  let database: TestDatabase;
  let gw: TestGateway;
  const admin = postgres(ADMIN_URL, { max: 1, onnotice: () => {} });

  const cutOff = async () => {
    await admin.unsafe(`ALTER DATABASE "${database.name}" ALLOW_CONNECTIONS false`);
    await admin.unsafe(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '${database.name}' AND pid <> pg_backend_pid()`);
  };
  const restore = () => admin.unsafe(`ALTER DATABASE "${database.name}" ALLOW_CONNECTIONS true`);

  beforeAll(async () => {
    database = await createTestDatabase('outage');
    gw = await startTestGateway({ DATABASE_URL: database.url });
  });

  afterAll(async () => {
    await restore().catch(() => {});
    await gw?.stop();
    await database?.drop();
    await admin.end();
  });

  it('answers SERVICE_UNAVAILABLE (not an internal error) while the database is away, and recovers when it returns', async () => {
    expect((await gw.gql<{ setConfig: { version: number } }>(SET, { v: 1 })).body.data?.setConfig.version).toBe(1);
    await cutOff();
    try {
      for (const response of [await gw.gql(SET, { v: 2 }), await gw.gql(GET)]) {
        expect(response.status).toBe(200);
        expect(codeOf(response)).toBe('SERVICE_UNAVAILABLE');
        expect(JSON.stringify(response.body)).not.toMatch(/ALLOW_CONNECTIONS|terminat|57P|ECONN|postgres/i);
        expect(response.body.errors?.[0]?.extensions?.correlationId).toEqual(expect.any(String));
      }
    } finally {
      await restore();
    }
    await waitFor(async () => codeOf(await gw.gql(GET)) === undefined, 15_000, 'the gateway answering again');
    const after = await gw.gql<{ setConfig: { version: number; revision: number } }>(SET, { v: 3 });
    // The write attempted during the outage left nothing behind: version and revision continue.
    expect(after.body.data?.setConfig).toEqual({ version: 2, revision: 2 });
  });
});

describe('PostgreSQL closing idle sessions (idle_session_timeout, a pooler or NAT idle timeout)', () => {
  let database: TestDatabase;
  let gateway: Gateway;
  const admin = postgres(ADMIN_URL, { max: 1, onnotice: () => {} });

  beforeAll(async () => {
    database = await createTestDatabase('idle_close');
    await admin.unsafe(`ALTER DATABASE "${database.name}" SET idle_session_timeout = '1200ms'`);
    // The periodic check would keep sessions busy; here only the writes below use them.
    gateway = await startGateway({ env: { DATABASE_URL: database.url, HOTCONF_REPAIR_INTERVAL_MS: '600000' } });
  });

  afterAll(async () => {
    await gateway?.stop();
    await database?.drop();
    await admin.end();
  });

  it('a write that comes as the server closes the idle session it would have used succeeds on another one', async () => {
    const token = await testToken({ sub: 'idle-writer' });
    const namespace = uniqueNamespace('idle');
    const codes: string[] = [];
    // Pauses around the server's timeout: some writes arrive just as it closes their session.
    for (let i = 0; i < 16; i++) {
      codes.push((await attemptSet(gateway.url, token, namespace, 'k', i)).code);
      await new Promise((resolve) => setTimeout(resolve, 1_150 + (i % 5) * 25));
    }
    expect(codes).toEqual(Array(16).fill('OK'));
  }, 120_000);
});
