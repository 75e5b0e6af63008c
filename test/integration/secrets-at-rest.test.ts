/**
 * Secret values encrypted at rest (HOTCONF_SECRET_KEYS): the tables hold no plaintext, callers
 * with the claim read plaintext on every path, `hotconf secrets rotate` (the CLI, against the
 * database) moves everything to a new key, and a gateway without the right key answers a clear
 * error for those values only.
 */
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type GraphQLResponse, type TestGateway } from '../helpers/app.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';

const BIN = fileURLToPath(new URL('../../bin/hotconf.js', import.meta.url));
const NS = 'at-rest';
const MARKER = `S3CRET-${randomBytes(6).toString('hex')}`;
const newKey = () => randomBytes(32).toString('base64');
const keyId = (key: string) => createHash('sha256').update(Buffer.from(key, 'base64')).digest('hex').slice(0, 16);
const [KEY_A, KEY_B, KEY_C] = [newKey(), newKey(), newKey()];

let database: TestDatabase;
let sql: postgres.Sql;
let cwd: string;

const SET = /* GraphQL */ `mutation($input: SetConfigInput!) { setConfig(input: $input) { version value } }`;
const READ_ALL = /* GraphQL */ `
  query($ns: String!) {
    configs(namespace: $ns) { entries { key version value secret redacted } }
    configChanges(namespace: $ns, sinceRevision: 0) { changes { key version value secret redacted } }
  }
`;
type Snapshot = {
  configs: { entries: Array<{ key: string; version: number; value: unknown; secret: boolean; redacted: boolean }> };
  configChanges: { changes: Array<{ key: string; version: number; value: unknown; secret: boolean; redacted: boolean }> };
};

/** Every row of both tables as text, exactly as the database holds it. */
async function rawTables(): Promise<string> {
  const rows = await sql.unsafe(`select t::text as row from entries t union all select t::text from history t`);
  return rows.map((row) => String(row.row)).join('\n');
}

function hotconf(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [BIN, ...args], { cwd, env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, stdout, stderr })));
}

async function withGateway<T>(keys: string | null, fn: (gateway: TestGateway) => Promise<T>): Promise<T> {
  const gateway = await startTestGateway({ DATABASE_URL: database.url, ...(keys ? { HOTCONF_SECRET_KEYS: keys } : {}) });
  try {
    return await fn(gateway);
  } finally {
    await gateway.stop();
  }
}

/** What a caller with the claim reads: key@version -> value, for entries and history. */
async function plaintextView(gateway: TestGateway): Promise<Record<string, unknown>> {
  const response = await gateway.gql<Snapshot>(READ_ALL, { ns: NS });
  expect(response.body.errors, JSON.stringify(response.body.errors)).toBeUndefined();
  const view: Record<string, unknown> = {};
  for (const entry of response.body.data!.configs.entries) view[`entry ${entry.key}@${entry.version}`] = entry.value;
  for (const change of response.body.data!.configChanges.changes) view[`change ${change.key}@${change.version}`] = change.value;
  return view;
}

let before: Record<string, unknown>;

beforeAll(async () => {
  cwd = mkdtempSync(join(tmpdir(), 'hotconf-at-rest-'));
  database = await createTestDatabase('at_rest');
  sql = postgres(database.url, { max: 1, onnotice: () => {} });
  // Written before encryption was turned on: stays plaintext until a rotation.
  await withGateway(null, async (gateway) => {
    await gateway.gql(SET, { input: { namespace: NS, key: 'legacy', value: { password: `${MARKER}-legacy` }, secret: true } });
  });
}, 120_000);

afterAll(async () => {
  await sql?.end();
  await database?.drop();
  if (cwd) rmSync(cwd, { recursive: true, force: true });
});

describe('with HOTCONF_SECRET_KEYS', () => {
  it('secret values are stored encrypted in entries and history, and read back as plaintext by callers with the claim', async () => {
    await withGateway(KEY_A, async (gateway) => {
      const set = (input: Record<string, unknown>) => gateway.gql(SET, { input: { namespace: NS, ...input } });
      expect((await set({ key: 'db.password', value: `${MARKER}-1`, secret: true })).body.errors).toBeUndefined();
      await set({ key: 'db.password', value: `${MARKER}-2` });
      await gateway.gql(`mutation($ns: String!, $v: JSON!) { setConfigs(namespace: $ns, inputs: [{ key: "api", value: $v, secret: true }, { key: "plain", value: "visible" }]) { key } }`, {
        ns: NS,
        v: { token: `${MARKER}-3`, nested: [`${MARKER}-4`] },
      });
      const rolledBack = await gateway.gql<{ rollbackConfig: { version: number; value: unknown } }>(
        `mutation($ns: String!) { rollbackConfig(namespace: $ns, key: "db.password", toVersion: 1) { version value } }`,
        { ns: NS },
      );
      expect(rolledBack.body.data?.rollbackConfig).toEqual({ version: 3, value: `${MARKER}-1` });
      // A schema check runs on the plaintext.
      await set({ key: 'checked', value: `${MARKER}-5`, secret: true, schema: { type: 'string', minLength: 5 } });
      const refused = await set({ key: 'checked', value: 'x' });
      expect(refused.body.errors?.[0]?.extensions?.code).toBe('VALIDATION_FAILED');

      before = await plaintextView(gateway);
      expect(before).toMatchObject({
        'entry db.password@3': `${MARKER}-1`,
        'change db.password@2': `${MARKER}-2`,
        'entry api@1': { token: `${MARKER}-3`, nested: [`${MARKER}-4`] },
        'entry plain@1': 'visible',
        'entry legacy@1': { password: `${MARKER}-legacy` },
      });
      // A reader without the claim: null, as always.
      const reader = await gateway.token({ sub: 'r', role: 'reader', namespaces: [NS] });
      const redacted = await gateway.gql(READ_ALL, { ns: NS }, { token: reader });
      expect(JSON.stringify(redacted.body)).not.toContain(MARKER);
    });

    const raw = await rawTables();
    expect(raw).toContain('visible'); // non-secret values stay plain JSON
    expect(raw.replaceAll(`${MARKER}-legacy`, '')).not.toContain(MARKER);
    const envelopes = await sql.unsafe(`select encrypted_value from entries where encrypted_value is not null union all select encrypted_value from history where encrypted_value is not null`);
    expect(envelopes.length).toBeGreaterThanOrEqual(8);
    for (const { encrypted_value } of envelopes) expect(String(encrypted_value)).toMatch(new RegExp(`^hcs1\\.${keyId(KEY_A)}\\.`));
  });

  it('a live subscriber with the claim receives the decrypted value', async () => {
    await withGateway(KEY_A, async (gateway) => {
      const controller = new AbortController();
      const response = await fetch(gateway.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${gateway.adminToken}` },
        body: JSON.stringify({ query: `subscription($ns: String!) { configChanged(namespace: $ns, keys: ["live"]) { key value } }`, variables: { ns: NS } }),
        signal: controller.signal,
      });
      const reader = response.body!.getReader();
      const decoder = new TextDecoder();
      let text = '';
      // The subscription is live once the stream is open; write until the change arrives.
      const writer = (async () => {
        for (let i = 0; i < 50 && !text.includes('event: next'); i++) {
          await gateway.gql(SET, { input: { namespace: NS, key: 'live', value: `${MARKER}-live`, secret: true } });
          await new Promise((resolve) => setTimeout(resolve, 200));
        }
      })();
      while (!text.includes('event: next')) {
        const { done, value } = await reader.read();
        if (done) break;
        text += decoder.decode(value, { stream: true });
      }
      controller.abort();
      await writer;
      expect(text).toContain(`${MARKER}-live`);
    });
    const raw = await rawTables();
    expect(raw).not.toContain(`${MARKER}-live`);
  });
});

describe('hotconf secrets rotate', () => {
  it('refuses to run with a key set that cannot read what is stored, and changes nothing', async () => {
    const tablesBefore = await rawTables();
    const run = await hotconf(['secrets', 'rotate'], { DATABASE_URL: database.url, HOTCONF_SECRET_KEYS: KEY_C });
    expect(run.code, run.stderr).toBe(1);
    expect(run.stderr).toContain('nothing was changed');
    expect(run.stderr).toContain(keyId(KEY_A));
    expect(await rawTables()).toBe(tablesBefore);
    const bad = await hotconf(['secrets', 'rotate'], { DATABASE_URL: database.url, HOTCONF_SECRET_KEYS: `${KEY_B},not-a-key` });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('key 2 is not');
    expect(bad.stderr).not.toContain(KEY_B);
  });

  it('re-encrypts every secret value (plaintext ones too) under the first key, with progress, in one go', async () => {
    const [counted] = await sql.unsafe(
      `select (select count(*) from entries where secret and (value is not null or encrypted_value is not null))
            + (select count(*) from history where secret and (value is not null or encrypted_value is not null)) as pending`,
    );
    const pending = Number(counted!.pending);
    const run = await hotconf(['secrets', 'rotate'], { DATABASE_URL: database.url, HOTCONF_SECRET_KEYS: `${KEY_B},${KEY_A}` });
    expect(run.code, run.stderr).toBe(0);
    const progress = [...run.stderr.matchAll(/: (\d+)\/(\d+)/g)].map((match) => [Number(match[1]), Number(match[2])]);
    expect(progress[0]).toEqual([0, Number(pending)]);
    expect(progress.at(-1)).toEqual([Number(pending), Number(pending)]);
    expect(run.stdout).toContain(`${pending} secret values re-encrypted under key ${keyId(KEY_B)}`);

    expect(await rawTables()).not.toContain(MARKER);
    const envelopes = await sql.unsafe(`select encrypted_value from entries where encrypted_value is not null union all select encrypted_value from history where encrypted_value is not null`);
    expect(envelopes.length).toBe(Number(pending));
    for (const { encrypted_value } of envelopes) expect(String(encrypted_value)).toMatch(new RegExp(`^hcs1\\.${keyId(KEY_B)}\\.`));

    // A second run has nothing to do.
    const again = await hotconf(['secrets', 'rotate', '--json'], { DATABASE_URL: database.url, HOTCONF_SECRET_KEYS: `${KEY_B},${KEY_A}` });
    expect(JSON.parse(again.stdout)).toMatchObject({ rotated: 0, alreadyCurrent: Number(pending), keyId: keyId(KEY_B) });
  });

  it('after the old key is removed, every value still reads back exactly', async () => {
    await withGateway(KEY_B, async (gateway) => {
      const after = await plaintextView(gateway);
      for (const [where, value] of Object.entries(before)) expect(after[where], where).toEqual(value);
    });
  });
});

describe('a gateway without the key of a value', () => {
  for (const [name, keys] of [
    ['with the wrong key', KEY_C],
    ['with no HOTCONF_SECRET_KEYS', null],
  ] as const) {
    it(`${name}: a clear SERVICE_UNAVAILABLE at that value for callers with the claim; null for others; everything else works`, async () => {
      await withGateway(keys, async (gateway) => {
        const read = await gateway.gql<{ config: { version: number; value: unknown; secret: boolean } | null }>(
          `query($ns: String!) { config(namespace: $ns, key: "db.password") { version secret value } }`,
          { ns: NS },
        );
        expect(read.body.data?.config).toEqual({ version: 3, secret: true, value: null });
        const error = read.body.errors?.[0];
        expect(error?.path).toEqual(['config', 'value']);
        expect(error?.extensions).toMatchObject({ code: 'SERVICE_UNAVAILABLE', reason: 'SECRET_UNREADABLE' });
        if (keys) expect(error?.extensions?.keyId).toBe(keyId(KEY_B));
        expect(error?.message).toContain('HOTCONF_SECRET_KEYS');
        expect(JSON.stringify(read.body)).not.toMatch(/hcs1\./);

        const reader = await gateway.token({ sub: 'r', role: 'reader', namespaces: [NS] });
        const asReader = await gateway.gql(`query($ns: String!) { configs(namespace: $ns) { entries { key value redacted } } }`, { ns: NS }, { token: reader });
        expect(asReader.body.errors).toBeUndefined();
        const plain = await gateway.gql<{ config: { value: unknown } }>(`query($ns: String!) { config(namespace: $ns, key: "plain") { value } }`, { ns: NS });
        expect(plain.body.data?.config.value).toBe('visible');

        const rollback = (await gateway.gql(`mutation($ns: String!) { rollbackConfig(namespace: $ns, key: "api", toVersion: 1) { version } }`, { ns: NS })) as GraphQLResponse;
        expect(rollback.body.errors?.[0]?.extensions?.code).toBe('SERVICE_UNAVAILABLE');
        expect((await fetch(gateway.url.replace(/\/graphql$/, '/health'))).ok).toBe(true);
      });
    });
  }
});
