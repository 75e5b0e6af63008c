import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, testToken, uniqueNamespace, type Gateway } from '../helpers/gateway.js';
import { waitFor } from '../helpers/net.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';
import { attemptSet } from '../helpers/writer.js';

interface PoolReport {
  driver: string;
  max: number;
  size: number;
  inUse: number;
  idle: number;
  waiting: number;
  prepare: string;
}

describe('the database pool is sized by DATABASE_POOL_MAX and visible in /ready and /metrics', () => {
  let database: TestDatabase;
  let gateway: Gateway;
  let admin: postgres.Sql;

  beforeAll(async () => {
    database = await createTestDatabase('pool');
    // Writes below wait on a row lock on purpose: give them longer than the default deadline.
    gateway = await startGateway({ env: { DATABASE_URL: database.url, DATABASE_POOL_MAX: '3', HOTCONF_DB_TIMEOUT_MS: '60000' } });
    admin = postgres(database.url, { max: 2, onnotice: () => {} });
  });

  afterAll(async () => {
    await gateway?.stop('SIGKILL');
    await admin?.end();
    await database?.drop();
  });

  const pool = async (): Promise<PoolReport> => ((await (await fetch(`http://127.0.0.1:${gateway.port}/ready`)).json()) as { pool: PoolReport }).pool;
  const metrics = async () => (await fetch(`http://127.0.0.1:${gateway.port}/metrics`)).text();
  const sample = (text: string, series: string) => {
    const line = text.split('\n').find((row) => row.startsWith(`${series} `));
    return line === undefined ? undefined : Number(line.slice(series.length + 1));
  };

  it('counts connections in use, idle and callers waiting, truthfully, while writes queue behind a lock', async () => {
    const token = await testToken({ sub: 'pool-writer' });
    const namespace = uniqueNamespace('pool');
    expect((await attemptSet(gateway.url, token, namespace, 'seed', 0)).code).toBe('OK');
    expect(await pool()).toMatchObject({ driver: 'postgres', max: 3, inUse: 0, waiting: 0, prepare: 'on' });

    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let locked = false;
    // Another client holds the namespace's counter row: every write to it waits for the lock.
    const holder = admin.begin(async (tx) => {
      await tx`select revision from namespaces where name = ${namespace} for update`;
      locked = true;
      await held;
    });
    await waitFor(() => locked, 10_000, 'the row lock');
    const writes = Array.from({ length: 5 }, (_, i) => attemptSet(gateway.url, token, namespace, `k${i}`, i, 60_000));
    try {
      // Three writes hold the three connections (waiting on the lock), two wait for a connection.
      await waitFor(async () => {
        const now = await pool();
        return now.inUse === 3 && now.waiting >= 2;
      }, 20_000, 'a saturated pool');
      expect(await pool()).toMatchObject({ max: 3, size: 3, inUse: 3, idle: 0 });
      const text = await metrics();
      expect(sample(text, 'hotconf_db_pool_max')).toBe(3);
      expect(sample(text, 'hotconf_db_pool_connections{state="in_use"}')).toBe(3);
      expect(sample(text, 'hotconf_db_pool_connections{state="idle"}')).toBe(0);
      expect(sample(text, 'hotconf_db_pool_waiting')).toBeGreaterThanOrEqual(2);
      // Postgres sees this gateway by name, and never more connections than the pool's max.
      const seen = await admin<Array<{ app: string; n: number }>>`
        select application_name as app, count(*)::int as n from pg_stat_activity
        where datname = ${database.name} and pid <> pg_backend_pid() and application_name <> '' group by 1`;
      expect(seen.filter((row) => row.app !== 'postgres.js')).toEqual([{ app: 'hotconf', n: 3 }]);
    } finally {
      release();
      await holder;
    }
    expect((await Promise.all(writes)).map((write) => write.code)).toEqual(['OK', 'OK', 'OK', 'OK', 'OK']);
    await waitFor(async () => (await pool()).inUse === 0, 10_000, 'the pool at rest');
    const rest = await pool();
    expect(rest).toMatchObject({ inUse: 0, waiting: 0 });
    expect(rest.idle).toBe(rest.size);
  });
});
