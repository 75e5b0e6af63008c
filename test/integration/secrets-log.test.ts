/**
 * A secret value never reaches a log: a gateway process at LOG_LEVEL=trace is sent secret
 * values through every way a write can fail (bad strings, schema, conflicts, size, refusals,
 * database errors whose PostgreSQL text quotes the row), and its whole output is searched.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import postgres from 'postgres';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { TEST_JWT_SECRET, testToken } from '../helpers/gateway.js';
import { freePort, waitFor } from '../helpers/net.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const NS = 'log-ns';
const MARKER = `S3CRET-${randomBytes(8).toString('hex')}`;

let database: TestDatabase;
let child: ChildProcess;
let url: string;
let output = '';
const answers: string[] = [];

async function post(token: string, query: string, variables: Record<string, unknown> = {}, rawBody?: string): Promise<string> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: rawBody ?? JSON.stringify({ query, variables }),
  });
  const text = await response.text();
  answers.push(text);
  return text;
}

const SET = /* GraphQL */ `mutation($input: SetConfigInput!) { setConfig(input: $input) { version } }`;

beforeAll(async () => {
  database = await createTestDatabase('secret_log');
  const port = await freePort();
  url = `http://127.0.0.1:${port}/graphql`;
  child = spawn(process.execPath, ['dist/main.js'], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      NODE_ENV: 'development',
      LOG_LEVEL: 'trace',
      PORT: String(port),
      HOST: '127.0.0.1',
      DATABASE_URL: database.url,
      HOTCONF_JWT_SECRET: TEST_JWT_SECRET,
      HOTCONF_RATE_LIMIT_PER_MIN: '0',
      HOTCONF_MAX_VALUE_BYTES: '4096',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  await waitFor(
    async () => {
      if (child.exitCode !== null) throw new Error(`gateway exited:\n${output}`);
      return fetch(`http://127.0.0.1:${port}/health`).then((r) => r.ok, () => false);
    },
    60_000,
    'gateway',
  );
}, 90_000);

afterAll(async () => {
  if (child && child.exitCode === null) {
    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('exit', resolve));
  }
  await database?.drop();
});

it('a secret value written through every failing path is in no log line, even at trace level', async () => {
  const admin = await testToken({ sub: 'root', role: 'admin' });
  const writer = await testToken({ sub: 'writer', role: 'writer', namespaces: [NS] });
  const set = (input: Record<string, unknown>, token = admin) => post(token, SET, { input: { namespace: NS, ...input } });

  // The database itself refuses some rows, quoting them in its message, detail and hint.
  const sql = postgres(database.url, { max: 1, onnotice: () => {} });
  try {
    await sql.unsafe(`
      create function refuse_marked() returns trigger language plpgsql as $$
      begin
        if new.value::text like '%FAILME%' then
          raise exception 'refused %', new.value using detail = new.value::text, hint = new.value::text;
        end if;
        return new;
      end $$;
      create trigger refuse_marked before insert or update on entries for each row execute function refuse_marked();
      alter table history add constraint no_checkme check (value is null or value::text not like '%CHECKME%');
    `);
  } finally {
    await sql.end();
  }

  await set({ key: 'db.password', value: `${MARKER}-ok`, secret: true, schema: { type: 'string', maxLength: 40 } });
  await set({ key: 'tokens', value: { a: 'x' }, secret: true, schema: { type: 'object', additionalProperties: { type: 'string' } } });

  const failing: Array<() => Promise<string>> = [
    () => set({ key: 'db.password', value: `${MARKER}-surrogate-\ud800`, secret: true }),
    () => set({ key: 'db.password', value: { deep: [`${MARKER}-surrogate-key`, { [`${MARKER}\udc00`]: 1 }] } }),
    () => set({ key: 'db.password', value: `${MARKER}-nul-\u0000` }),
    () => set({ key: 'db.password', value: `${MARKER}-too-long-for-the-schema-${'x'.repeat(40)}` }),
    () => set({ key: 'tokens', value: { [`${MARKER}-as-a-key`]: 1 } }),
    () => set({ key: 'db.password', value: `${MARKER}-conflict`, expectedVersion: 99 }),
    () => set({ key: 'db.password', value: `${MARKER}-big-${'x'.repeat(5000)}` }),
    () => set({ key: 'db.password', value: `${MARKER}-deep`, schema: JSON.parse('['.repeat(100) + ']'.repeat(100)) as unknown }),
    () => set({ key: 'db.password', value: `${MARKER}-forbidden`, secret: false }, writer),
    () => post(writer, `mutation { rollbackConfig(namespace: "${NS}", key: "db.password", toVersion: 1) { version } }`),
    () => set({ key: 'db.password', value: `FAILME ${MARKER}-trigger` }),
    () => set({ key: 'other.secret', value: `CHECKME ${MARKER}-check`, secret: true }),
    () => post(admin, `mutation { setConfig(input: { namespace: "${NS}", key: "db.password", value: "${MARKER}-inline-\\ud800" }) { version } }`),
    () => post(admin, SET, { input: { namespace: NS, key: 'db.password', value: 1, expectedVersion: `${MARKER}-not-an-int` } }),
    () => post(admin, `mutation($ns: String!, $v: JSON!) { setConfigs(namespace: $ns, inputs: [{ key: "a", value: 1 }, { key: "db.password", value: $v, secret: true }]) { key } }`, { ns: NS, v: `${MARKER}-batch-\ud800` }),
    () => post(admin, '', {}, `{"query":${JSON.stringify(SET)},"variables":{"input":{"namespace":"${NS}","key":"db.password","value":${'['.repeat(5000)}"${MARKER}-nested"${']'.repeat(5000)}}}}`),
    () => post(admin, '', {}, `{"query":${JSON.stringify(SET)},"variables":{"input":{"namespace":"${NS}","key":"db.password","value":"${MARKER}-broken-json`),
  ];
  const refused: string[] = [];
  for (const attempt of failing) refused.push(await attempt());
  // Writes that did go through show up in the log, so it is the right log.
  await set({ key: 'db.password', value: `${MARKER}-final` });

  // Every database refusal reaches the log (as an unexpected error) before the process ends.
  await waitFor(() => output.includes('P0001') && output.includes('23514'), 15_000, 'database errors in the log').catch(() => {});
  child.kill('SIGTERM');
  await new Promise((resolve) => child.once('exit', resolve));

  expect(output).toContain('config changed');
  expect(output).toContain('"level":20'); // the most talkative lines (debug; nothing logs at trace) are there
  const leaks = output.split('\n').filter((line) => line.includes(MARKER) || line.includes('FAILME') || line.includes('CHECKME'));
  expect(leaks).toEqual([]);
  // The database errors were logged, by SQLSTATE, with their data left out.
  expect(output).toContain('"code":"P0001"');
  expect(output).toContain('"code":"23514"');
  expect(output).toContain('"constraint":"no_checkme"');
  for (const answer of refused) expect(answer).toContain('"errors"');
  // Answers go to the caller who sent the value; database text never does.
  for (const answer of answers) {
    expect(answer).not.toMatch(/FAILME|CHECKME|Failing row|violates check/);
  }
}, 180_000);
