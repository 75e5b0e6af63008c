import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { ADMIN_URL, createTestDatabase, type TestDatabase } from '../helpers/postgres.js';
import { freePort, waitFor } from '../helpers/net.js';
import { startPrivatePostgres } from '../helpers/private-postgres.js';
import { gql, setConfig, startGateway, testToken, TEST_JWT_SECRET, type Gateway } from '../helpers/gateway.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const READ = /* GraphQL */ `
  query($ns: String!) { configs(namespace: $ns) { revision entries { key value version } } }
`;

const cleanup: Array<() => Promise<void> | void> = [];
afterAll(async () => {
  for (const step of cleanup.reverse()) await step();
});

describe('on PostgreSQL', () => {
  it('three gateways started at once on an empty database all come up and share one store', async () => {
    const database: TestDatabase = await createTestDatabase('startup');
    cleanup.push(() => database.drop());
    const gateways: Gateway[] = await Promise.all(
      [1, 2, 3].map(() => startGateway({ env: { DATABASE_URL: database.url } })),
    );
    cleanup.push(() => Promise.all(gateways.map((gateway) => gateway.stop())).then(() => undefined));
    const token = await testToken();
    const revisions = [];
    for (const gateway of gateways) revisions.push(await setConfig(gateway.url, token, 'startup', 'k', revisions.length));
    expect(revisions).toEqual([1, 2, 3]);

    // Values and revisions survive a restart: the database is the state.
    await gateways[0]!.stop();
    await gateways[0]!.restart();
    const data = await gql<{ configs: { revision: number; entries: unknown[] } }>(gateways[0]!.url, token, READ, { ns: 'startup' });
    expect(data.configs).toEqual({ revision: 3, entries: [{ key: 'k', value: 2, version: 3 }] });
  });
});

describe('embedded (PGlite, no DATABASE_URL)', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'hotconf-embedded-'));
  cleanup.push(() => rmSync(dataDir, { recursive: true, force: true }));

  it('keeps values and revisions across a restart', async () => {
    const gateway = await startGateway({ env: { HOTCONF_DATA_DIR: dataDir } });
    cleanup.push(() => gateway.stop());
    const token = await testToken();
    await setConfig(gateway.url, token, 'embedded', 'ai.threshold', 0.75);
    await setConfig(gateway.url, token, 'embedded', 'ai.threshold', 0.85);
    await gateway.stop();
    await gateway.restart();
    const data = await gql<{ configs: { revision: number; entries: unknown[] } }>(gateway.url, token, READ, { ns: 'embedded' });
    expect(data.configs).toEqual({ revision: 2, entries: [{ key: 'ai.threshold', value: 0.85, version: 2 }] });
  });

  it('a second process on the same data directory refuses to start, with a clear message', async () => {
    const second = spawn(process.execPath, ['dist/main.js'], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', HOTCONF_DATA_DIR: dataDir, HOTCONF_JWT_SECRET: TEST_JWT_SECRET, PORT: '0', LOG_LEVEL: 'silent' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    second.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => second.once('exit', resolve));
    expect(code).toBe(1);
    expect(stderr).toMatch(/already open by process \d+/);
    expect(stderr).toContain(dataDir);
  });
});

describe('an invalid setting', () => {
  // Each refused before anything starts: exit 1, one line that names the variable, no stack trace.
  it.each([
    ['LOG_LEVEL', 'verbose'],
    ['PORT', '70000'],
    ['PORT', 'http'],
    ['DATABASE_POOL_MAX', '0'],
    ['HOTCONF_DB_PREPARE', 'maybe'],
    ['HOTCONF_REPAIR_INTERVAL_MS', '-1'],
    ['REDIS_URL', 'http://127.0.0.1:6379'],
    ['REDIS_URL', 'redis://:hunter2@127.0.0.1:6379/zero'],
    ['REDIS_URL', 'redis://127.0.0.1:6379/0?tls=true'],
  ])('%s=%s ends the process with one clear line', async (name, value) => {
    const child = spawn(process.execPath, ['dist/main.js'], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', HOTCONF_JWT_SECRET: TEST_JWT_SECRET, HOTCONF_DATA_DIR: join(tmpdir(), 'hotconf-never-created'), [name]: value },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(code).toBe(1);
    expect(output.trim().split('\n')).toEqual([expect.stringMatching(new RegExp(`^hotconf: ${name}\\b`))]);
    expect(output).not.toMatch(/\bat .*\.js:\d+/);
    expect(output).not.toContain('hunter2');
  });
});

describe('a database that cannot be used at start', () => {
  const adminUrl = new URL(ADMIN_URL);
  // A refusal for good ends the process with exit 1 and a line that says why (postgres.js alone
  // said "write CONNECTION_DESTROYED"); a database that is only down is waited for (below).
  it.each([
    ['a database that does not exist', `postgres://${adminUrl.username || 'postgres'}@${adminUrl.host}/hotconf_missing_db`, /^hotconf: cannot connect to the database: database "hotconf_missing_db" does not exist$/m],
    ['a role that does not exist', `postgres://hotconf_missing_role@${adminUrl.host}/postgres`, /^hotconf: cannot connect to the database: role "hotconf_missing_role" does not exist$/m],
  ])('%s', async (_, databaseUrl, reason) => {
    const child = spawn(process.execPath, ['dist/main.js'], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', HOTCONF_JWT_SECRET: TEST_JWT_SECRET, DATABASE_URL: databaseUrl, PORT: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(code).toBe(1);
    expect(stderr).toMatch(reason);
  });
});

describe('a database that is down when the gateway starts', () => {
  it('is waited for, the reason logged, and the gateway comes up once Postgres does', async () => {
    await using pg = await startPrivatePostgres();
    await pg.stop('immediate');
    const child = spawn(process.execPath, ['dist/main.js'], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', HOTCONF_JWT_SECRET: TEST_JWT_SECRET, DATABASE_URL: pg.url, PORT: String(await freePort()) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    let exited: number | null | undefined;
    child.once('exit', (code) => (exited = code));
    try {
      await waitFor(() => exited !== undefined || /database not reachable; migrations wait for it/.test(output), 30_000, 'the wait logged');
      expect(exited, output).toBeUndefined();
      expect(output).toContain('ECONNREFUSED');
      await pg.start();
      await waitFor(() => exited !== undefined || /"msg":"listening"/.test(output), 60_000, 'the gateway listening');
      expect(exited, output).toBeUndefined();
    } finally {
      child.kill('SIGTERM');
      if (exited === undefined) await new Promise((resolve) => child.once('exit', resolve));
    }
  }, 120_000);
});
