/**
 * Expected refusals are logged below `warn`; only unexpected failures are errors (DESIGN.md
 * "Errors"). A real gateway in this process writes its JSON log into a buffer at `debug`; each
 * kind of refusal is provoked over HTTP and graphql-ws and the log is read back.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp, type App } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import { waitFor } from '../helpers/net.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';
import { errorCodesOf, openRawSocket } from '../helpers/raw-ws.js';

interface LogLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

const NS = 'logging';
const lines: LogLine[] = [];
let database: TestDatabase;
let dataDir: string;
let app: App;
let url: string;
let admin: string;
let reader: string;

const capture = new Writable({
  write(chunk: Buffer, _encoding, done) {
    for (const line of chunk.toString().split('\n')) if (line.trim()) lines.push(JSON.parse(line) as LogLine);
    done();
  },
});

async function post(token: string | null, query: string, variables: Record<string, unknown> = {}) {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  return (await response.json()) as { data?: unknown; errors?: Array<{ message: string; extensions?: { code?: string; correlationId?: string } }> };
}

const SET = /* GraphQL */ `
  mutation Set($input: SetConfigInput!) { setConfig(input: $input) { version } }
`;

beforeAll(async () => {
  database = await createTestDatabase('refusal_logging');
  dataDir = mkdtempSync(join(tmpdir(), 'hotconf-logging-'));
  const config = loadConfig({
    PORT: '0',
    HOST: '127.0.0.1',
    NODE_ENV: 'production',
    DATABASE_URL: database.url,
    HOTCONF_DATA_DIR: dataDir,
    HOTCONF_RATE_LIMIT_PER_MIN: '10',
  });
  app = await createApp(config, { logger: createLogger({ level: 'debug', destination: capture }) });
  ({ url } = await app.start());
  admin = await app.auth.mint({ sub: 'log-admin', role: 'admin', namespaces: '*' });
  reader = await app.auth.mint({ sub: 'log-reader', role: 'reader', namespaces: [NS] });
  expect((await post(admin, SET, { input: { namespace: NS, key: 'k', value: 1 } })).errors).toBeUndefined();
});

afterAll(async () => {
  await app?.stop();
  await database?.drop();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

/** Log lines written while `run` ran. */
async function logsOf(run: () => Promise<void>): Promise<LogLine[]> {
  const from = lines.length;
  await run();
  // pino writes synchronously to the stream; one turn lets any deferred log line land.
  await new Promise((resolve) => setImmediate(resolve));
  return lines.slice(from);
}

describe('expected refusals', () => {
  const refusals: Array<[string, string, () => Promise<{ errors?: Array<{ extensions?: { code?: string } }> }>]> = [
    ['FORBIDDEN (a reader writes)', 'FORBIDDEN', () => post(reader, SET, { input: { namespace: NS, key: 'k', value: 2 } })],
    ['FORBIDDEN (another namespace)', 'FORBIDDEN', () => post(reader, `{ config(namespace: "elsewhere", key: "k") { value } }`)],
    ['VERSION_CONFLICT', 'VERSION_CONFLICT', () => post(admin, SET, { input: { namespace: NS, key: 'k', value: 2, expectedVersion: 9 } })],
    ['UNAUTHENTICATED (no token)', 'UNAUTHENTICATED', () => post(null, `{ namespaces { name } }`)],
    ['UNAUTHENTICATED (bad token)', 'UNAUTHENTICATED', () => post('bad.bad.bad', `{ namespaces { name } }`)],
    ['UNAUTHENTICATED (introspection)', 'UNAUTHENTICATED', () => post(null, `{ __schema { queryType { name } } }`)],
    ['NOT_FOUND', 'NOT_FOUND', () => post(admin, `mutation { rollbackConfig(namespace: "${NS}", key: "k", toVersion: 99) { version } }`)],
    ['BAD_USER_INPUT (a value the validator refuses)', 'BAD_USER_INPUT', () => post(admin, SET, { input: { namespace: NS, key: '', value: 1 } })],
    ['BAD_USER_INPUT (variable coercion)', 'BAD_USER_INPUT', () => post(admin, SET, { input: { namespace: NS, key: 'k', value: 1, expectedVersion: 'one' } })],
    ['REVISION_AHEAD', 'REVISION_AHEAD', () => post(admin, `{ configChanges(namespace: "${NS}", sinceRevision: 999) { revision } }`)],
    ['GRAPHQL_VALIDATION_FAILED', 'GRAPHQL_VALIDATION_FAILED', () => post(admin, `{ nope }`)],
    ['GRAPHQL_PARSE_FAILED', 'GRAPHQL_PARSE_FAILED', () => post(admin, `{ config(`)],
  ];

  for (const [name, code, run] of refusals) {
    it(`${name} is logged below warn`, async () => {
      let answer: Awaited<ReturnType<typeof run>> = {};
      const logged = await logsOf(async () => {
        answer = await run();
      });
      expect(answer.errors?.[0]?.extensions?.code).toBe(code);
      expect(logged.filter((line) => line.level >= 40)).toEqual([]);
    });
  }

  it('RATE_LIMITED is logged below warn', async () => {
    const writer = await app.auth.mint({ sub: 'log-writer', role: 'writer', namespaces: [NS] });
    const codes: Array<string | undefined> = [];
    const logged = await logsOf(async () => {
      for (let i = 0; i < 12; i++) codes.push((await post(writer, SET, { input: { namespace: NS, key: `rl${i}`, value: i } })).errors?.[0]?.extensions?.code);
    });
    expect(codes).toContain('RATE_LIMITED');
    expect(logged.filter((line) => line.level >= 40)).toEqual([]);
  });

  it('a refused graphql-ws subscription is logged below warn', async () => {
    const logged = await logsOf(async () => {
      await using ws = await openRawSocket(url.replace(/^http/, 'ws'));
      await ws.init(reader);
      ws.subscribe('s', `subscription { configChanged(namespace: "elsewhere") { key } }`);
      await ws.until(() => errorCodesOf(ws.messages, 's').length > 0, 'the refusal');
      expect(errorCodesOf(ws.messages, 's')).toEqual(['FORBIDDEN']);
    });
    expect(logged.filter((line) => line.level >= 40)).toEqual([]);
  });

  it('refusals do reach the log, at debug', async () => {
    const logged = await logsOf(async () => {
      await post(reader, SET, { input: { namespace: NS, key: 'k', value: 3 } });
    });
    expect(logged.some((line) => line.level === 20 && JSON.stringify(line).includes('FORBIDDEN'))).toBe(true);
  });
});

describe('unexpected failures', () => {
  it('are logged once at error, with the correlation id the caller got', async () => {
    // A fault nobody expects: the table the namespace list reads is gone (renamed under the
    // running gateway, and put back afterwards).
    const sql = postgres(database.url, { max: 1, onnotice: () => {} });
    let correlationId: string | undefined;
    try {
      await sql`ALTER TABLE namespaces RENAME TO namespaces_moved_by_test`;
      const logged = await logsOf(async () => {
        const answer = await post(admin, `{ namespaces { name } }`);
        expect(answer.errors?.[0]?.extensions?.code).toBe('INTERNAL_SERVER_ERROR');
        correlationId = answer.errors?.[0]?.extensions?.correlationId;
      });
      await sql`ALTER TABLE namespaces_moved_by_test RENAME TO namespaces`;
      const errors = logged.filter((line) => line.level >= 50);
      expect(errors).toHaveLength(1);
      expect(errors[0]).toMatchObject({ correlationId, msg: 'unexpected error' });
      expect(JSON.stringify(errors[0])).not.toMatch(/namespaces_moved_by_test|select /i);
    } finally {
      await sql`ALTER TABLE IF EXISTS namespaces_moved_by_test RENAME TO namespaces`;
      await sql.end();
    }
    await waitFor(async () => (await post(admin, `{ namespaces { name } }`)).errors === undefined, 5_000, 'the store back');
  });
});
