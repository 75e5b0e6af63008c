/**
 * The secure default, on a real process: with no key configured the gateway generates one into
 * its data directory (0600, reused on restart), prints an admin token once, requires tokens,
 * hides introspection from anonymous callers, and binds to 127.0.0.1 unless told otherwise.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { startGateway, type Gateway } from '../helpers/gateway.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';

let database: TestDatabase;
let dataDir: string;
let gateway: Gateway;

const JWT_LINE = /^[\w-]+\.[\w-]+\.[\w-]+$/m;

async function query(token: string | null, body: string) {
  const response = await fetch(gateway.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body,
  });
  return (await response.json()) as { data?: Record<string, unknown>; errors?: Array<{ extensions?: { code?: string } }> };
}

beforeAll(async () => {
  database = await createTestDatabase('secure_default');
  dataDir = mkdtempSync(join(tmpdir(), 'hotconf-default-'));
  // An empty HOTCONF_JWT_SECRET is "not configured".
  gateway = await startGateway({ env: { HOTCONF_JWT_SECRET: '', HOTCONF_DATA_DIR: dataDir, DATABASE_URL: database.url, LOG_LEVEL: 'debug' } });
});

afterAll(async () => {
  await gateway?.stop();
  await database?.drop();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

describe('secure default without a configured key', () => {
  it('generates a 0600 key, prints an admin token once, and requires tokens', async () => {
    expect(statSync(join(dataDir, 'jwt-secret')).mode & 0o777).toBe(0o600);
    const logs = gateway.logs();
    const tokens = logs.match(new RegExp(JWT_LINE.source, 'gm')) ?? [];
    expect(tokens).toHaveLength(1);
    const token = tokens[0]!;

    const admin = await query(token, JSON.stringify({ query: 'mutation { setConfig(input: { namespace: "d", key: "k", value: 1 }) { version } }' }));
    expect(admin.errors).toBeUndefined();
    for (const anonymousQuery of ['{ namespaces { name } }', '{ configs(namespace: "d") { revision } }', 'mutation { setConfig(input: { namespace: "d", key: "k", value: 2 }) { version } }']) {
      const anonymous = await query(null, JSON.stringify({ query: anonymousQuery }));
      expect(anonymous.errors?.[0]?.extensions?.code, JSON.stringify(anonymous)).toBe('UNAUTHENTICATED');
    }

    // Restart: the same key is reused, so the token printed before still works.
    await gateway.restart();
    const again = await query(token, JSON.stringify({ query: '{ config(namespace: "d", key: "k") { version } }' }));
    expect(again.data).toEqual({ config: { version: 1 } });
  });

  // Needs config.ts to default HOTCONF_PUBLIC_INTROSPECTION to false when the key is generated
  // (auth is required then too); runs by itself once it does.
  it('never writes a secret value to its output, whatever the path', async () => {
    const token = (gateway.logs().match(new RegExp(JWT_LINE.source, 'gm')) ?? [])[0]!;
    const marker = `S3CRET-${Date.now().toString(36)}`;
    const writes = [
      { query: 'mutation($v: JSON!) { setConfig(input: { namespace: "d", key: "db.password", value: $v, secret: true, reason: "create" }) { version } }', variables: { v: marker } },
      { query: `mutation { setConfig(input: { namespace: "d", key: "db.password", value: "${marker}-inline" }) { version } }` },
      { query: 'mutation($v: JSON!) { setConfig(input: { namespace: "d", key: "db.password", value: $v, expectedVersion: 99 }) { version } }', variables: { v: `${marker}-conflict` } },
      { query: 'mutation($v: JSON!) { setConfig(input: { namespace: "d", key: "db.password", value: $v }) { version } }', variables: { v: { deep: [marker] } } },
    ];
    for (const body of writes) await query(token, JSON.stringify(body));
    await query(token, JSON.stringify({ query: '{ configChanges(namespace: "d", sinceRevision: 0) { changes { value } } }' }));
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(gateway.logs()).toContain('config changed');
    expect(gateway.logs()).not.toContain(marker);
  });

  it.skipIf(loadConfig({}).publicIntrospection)('does not answer introspection to anonymous callers', async () => {
    const anonymous = await query(null, JSON.stringify({ query: '{ __schema { queryType { name } } }' }));
    expect(anonymous.data?.__schema).toBeUndefined();
    expect(anonymous.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });

  it('binds to 127.0.0.1 without a key, and to every interface once one is configured', () => {
    expect(loadConfig({}).host).toBe('127.0.0.1');
    expect(loadConfig({ HOTCONF_JWT_SECRET: 'x'.repeat(32) }).host).toBe('0.0.0.0');
    expect(loadConfig({ HOST: '10.0.0.1' }).host).toBe('10.0.0.1');
  });
});
