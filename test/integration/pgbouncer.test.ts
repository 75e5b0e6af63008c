import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import postgres from 'postgres';
import { afterAll, describe, expect, it } from 'vitest';
import { gql, startGateway, testToken, uniqueNamespace, type Gateway } from '../helpers/gateway.js';
import { waitFor } from '../helpers/net.js';
import { startPgBouncer } from '../helpers/pgbouncer.js';
import { createTestDatabase } from '../helpers/postgres.js';
import { startPrivatePostgres } from '../helpers/private-postgres.js';
import { attempt, startWriterLoop, type Attempt } from '../helpers/writer.js';

const BIN = fileURLToPath(new URL('../../bin/hotconf.js', import.meta.url));

const CAS = /* GraphQL */ `
  mutation Cas($input: SetConfigInput!) { setConfig(input: $input) { version } }
`;
const VERSION = /* GraphQL */ `
  query Version($namespace: String!, $key: String!) { config(namespace: $namespace, key: $key) { version } }
`;

/** Runs the CLI (`hotconf <args>`) with only `env`; resolves with its exit code and output. */
function cli(args: string[], env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

describe('behind PgBouncer in transaction mode', () => {
  const started: Gateway[] = [];
  afterAll(async () => {
    for (const gateway of started) if (!gateway.running) console.error(`gateway on ${gateway.port} exited:\n${gateway.logs()}`);
    await Promise.allSettled(started.map((gateway) => gateway.stop('SIGKILL')));
  });
  const launch = async (env: Record<string, string>) => {
    const gateway = await startGateway({ env });
    started.push(gateway);
    return gateway;
  };

  it('three gateways cold-starting at once on an empty database all come up; 20 concurrent compare-and-set writers get no internal error and leave no aborted transaction', async () => {
    await using database = await createTestDatabase('bouncer');
    await using bouncer = await startPgBouncer({ target: database.url, poolMode: 'transaction', poolSize: 10 });
    // `?prepare=false` in the URL alone turns named statements off (postgres.js ignored it).
    const env = { DATABASE_URL: `${bouncer.url}?prepare=false` };
    const gateways = await Promise.all([launch(env), launch(env), launch(env)]);
    const token = await testToken({ sub: 'cas-writer' });

    const admin = postgres(database.url, { max: 1, onnotice: () => {} });
    try {
      const applied = await admin<Array<{ n: number }>>`select count(*)::int as n from drizzle.__drizzle_migrations`;
      expect(applied[0]!.n).toBeGreaterThanOrEqual(1);
      const names = await admin<Array<{ name: string }>>`
        select distinct application_name as name from pg_stat_activity
        where datname = ${database.name} and pid <> pg_backend_pid() and application_name <> ''`;
      // PgBouncer passes the client's application_name on to its server connections.
      expect(names.map((row) => row.name)).toEqual(['hotconf']);

      const namespace = uniqueNamespace('cas');
      const outcomes: string[] = [];
      await Promise.all(
        Array.from({ length: 20 }, async (_, writer) => {
          const gateway = gateways[writer % 3]!;
          for (let round = 0; round < 8; round++) {
            const read = await attempt(gateway.url, token, VERSION, { namespace, key: 'counter' });
            const version = (read.data?.config as { version: number } | null)?.version ?? 0;
            const written = await attempt(gateway.url, token, CAS, { input: { namespace, key: 'counter', value: writer, expectedVersion: version } });
            outcomes.push(read.code, written.code);
          }
        }),
      );
      expect([...new Set(outcomes)].filter((code) => code !== 'OK' && code !== 'VERSION_CONFLICT')).toEqual([]);
      expect(outcomes.filter((code) => code === 'OK').length).toBeGreaterThan(160);
      const aborted = await admin<Array<{ n: number }>>`
        select count(*)::int as n from pg_stat_activity where datname = ${database.name} and state = 'idle in transaction (aborted)'`;
      expect(aborted[0]!.n).toBe(0);
    } finally {
      await admin.end();
    }
    expect(gateways.map((gateway) => gateway.running)).toEqual([true, true, true]);
  }, 180_000);

  it('HOTCONF_MIGRATE=0 gateways leave the schema alone; `hotconf migrate` over HOTCONF_MIGRATION_DATABASE_URL applies it', async () => {
    await using database = await createTestDatabase('bouncer_migrate');
    await using bouncer = await startPgBouncer({ target: database.url, poolMode: 'transaction' });
    const gateway = await launch({ DATABASE_URL: bouncer.url, HOTCONF_DB_PREPARE: '0', HOTCONF_MIGRATE: '0' });
    const admin = postgres(database.url, { max: 1, onnotice: () => {} });
    try {
      const tables = () => admin<Array<{ n: number }>>`select count(*)::int as n from information_schema.tables where table_schema = 'public'`;
      expect((await tables())[0]!.n).toBe(0);
      const migrated = await cli(['migrate'], { DATABASE_URL: bouncer.url, HOTCONF_DB_PREPARE: '0', HOTCONF_MIGRATION_DATABASE_URL: database.url });
      expect(migrated, migrated.output).toMatchObject({ code: 0 });
      expect((await tables())[0]!.n).toBeGreaterThanOrEqual(4);
      const token = await testToken({ sub: 'after-migrate' });
      const namespace = uniqueNamespace('migrated');
      await waitFor(async () => (await attempt(gateway.url, token, CAS, { input: { namespace, key: 'k', value: 1 } })).code === 'OK', 15_000, 'a write');
      // Nothing held the lock after the CLI ended: a second run takes it and finds nothing to do.
      expect(await cli(['migrate'], { DATABASE_URL: bouncer.url, HOTCONF_DB_PREPARE: '0' })).toMatchObject({ code: 0 });
    } finally {
      await admin.end();
    }
  }, 180_000);

  it('Postgres gone behind the pooler for longer than query_wait_timeout: no gateway ends, writes answer SERVICE_UNAVAILABLE and work again', async () => {
    await using pg = await startPrivatePostgres();
    await using bouncer = await startPgBouncer({ target: pg.url, poolMode: 'transaction', poolSize: 4, queryWaitTimeoutS: 1 });
    const env = { DATABASE_URL: bouncer.url, HOTCONF_DB_PREPARE: '0', HOTCONF_DB_TIMEOUT_MS: '4000' };
    const gateways = [await launch(env)];
    gateways.push(await launch(env));
    const token = await testToken({ sub: 'bouncer-writer' });
    const namespace = uniqueNamespace('qwt');
    const loops = gateways.flatMap((gateway, g) => [0, 1, 2].map((w) => startWriterLoop(gateway.url, token, namespace, `g${g}w${w}`)));
    let all: Attempt[] = [];
    try {
      const since = (at: number) => loops.flatMap((loop) => loop.attempts).filter((a) => a.at >= at);
      await waitFor(() => since(0).some((a) => a.code === 'OK'), 30_000, 'writes through the pooler');
      const stoppedAt = Date.now();
      await pg.stop('immediate');
      // Clients now wait inside PgBouncer until it gives up on them with FATAL query_wait_timeout.
      await waitFor(() => since(stoppedAt).filter((a) => a.code !== 'OK').length >= 12 && Date.now() - stoppedAt > 4_000, 60_000, 'refused writes');
      await pg.start();
      const back = Date.now();
      await waitFor(() => gateways.every((gateway) => loops.some((loop) => loop.attempts.some((a) => a.at >= back && a.code === 'OK'))), 60_000, 'writes again');
    } finally {
      await Promise.all(loops.map((loop) => loop.stop()));
      all = loops.flatMap((loop) => loop.attempts);
    }
    expect(gateways.map((gateway) => gateway.running)).toEqual([true, true]);
    expect([...new Set(all.map((a) => a.code))].filter((code) => code !== 'OK' && code !== 'SERVICE_UNAVAILABLE')).toEqual([]);
    const ready = await gql<unknown>(gateways[0]!.url, token, '{ __typename }');
    expect(ready).toEqual({ __typename: 'Query' });
  }, 180_000);
});

describe('PgBouncer itself restarted', () => {
  const started: Gateway[] = [];
  afterAll(async () => {
    for (const gateway of started) if (!gateway.running) console.error(`gateway on ${gateway.port} exited:\n${gateway.logs()}`);
    await Promise.allSettled(started.map((gateway) => gateway.stop('SIGKILL')));
  });

  it('the pooler killed and started again: no gateway ends, writes answer SERVICE_UNAVAILABLE meanwhile and work again', async () => {
    await using database = await createTestDatabase('bouncer_restart');
    await using bouncer = await startPgBouncer({ target: database.url, poolMode: 'transaction' });
    const gateway = await startGateway({ env: { DATABASE_URL: bouncer.url, HOTCONF_DB_PREPARE: '0', HOTCONF_DB_TIMEOUT_MS: '3000' } });
    started.push(gateway);
    const token = await testToken({ sub: 'bouncer-restart' });
    const namespace = uniqueNamespace('bouncer-restart');
    const loops = [0, 1, 2].map((w) => startWriterLoop(gateway.url, token, namespace, `w${w}`));
    let all: Attempt[] = [];
    try {
      const okSince = (at: number) => loops.some((loop) => loop.attempts.some((a) => a.at >= at && a.code === 'OK'));
      await waitFor(() => okSince(0), 30_000, 'writes through the pooler');
      const stoppedAt = Date.now();
      await bouncer.stop();
      await waitFor(() => loops.flatMap((loop) => loop.attempts).filter((a) => a.at >= stoppedAt && a.code !== 'OK').length >= 6, 30_000, 'refused writes');
      await bouncer.start();
      const back = Date.now();
      await waitFor(() => okSince(back), 30_000, 'writes again');
    } finally {
      await Promise.all(loops.map((loop) => loop.stop()));
      all = loops.flatMap((loop) => loop.attempts);
    }
    expect(gateway.running).toBe(true);
    expect([...new Set(all.map((a) => a.code))].filter((code) => code !== 'OK' && code !== 'SERVICE_UNAVAILABLE')).toEqual([]);
  }, 120_000);
});

describe('behind PgBouncer in session mode', () => {
  const started: Gateway[] = [];
  afterAll(async () => {
    for (const gateway of started) if (!gateway.running) console.error(`gateway on ${gateway.port} exited:\n${gateway.logs()}`);
    await Promise.allSettled(started.map((gateway) => gateway.stop('SIGKILL')));
  });

  it('with the defaults (prepared statements on), two gateways migrate together, write, and survive Postgres crashing behind the pooler', async () => {
    await using pg = await startPrivatePostgres();
    // Session mode gives each client connection a server connection of its own: room for both pools.
    await using bouncer = await startPgBouncer({ target: pg.url, poolMode: 'session', poolSize: 40, queryWaitTimeoutS: 2 });
    const env = { DATABASE_URL: bouncer.url, HOTCONF_DB_TIMEOUT_MS: '3000' };
    const gateways = await Promise.all([startGateway({ env }), startGateway({ env })]);
    started.push(...gateways);
    const token = await testToken({ sub: 'session-writer' });
    const namespace = uniqueNamespace('session');
    const loops = gateways.flatMap((gateway, g) => [0, 1].map((w) => startWriterLoop(gateway.url, token, namespace, `g${g}w${w}`)));
    let all: Attempt[] = [];
    try {
      const okSince = (at: number) => gateways.every((gateway) => loops.some((loop) => loop.attempts.some((a) => a.at >= at && a.code === 'OK')));
      await waitFor(() => okSince(0), 30_000, 'writes through the pooler');
      const stoppedAt = Date.now();
      await pg.stop('immediate');
      await waitFor(() => loops.flatMap((loop) => loop.attempts).filter((a) => a.at >= stoppedAt && a.code !== 'OK').length >= 8, 60_000, 'refused writes');
      await pg.start();
      const back = Date.now();
      await waitFor(() => okSince(back), 60_000, 'writes again on both gateways');
    } finally {
      await Promise.all(loops.map((loop) => loop.stop()));
      all = loops.flatMap((loop) => loop.attempts);
    }
    expect(gateways.map((gateway) => gateway.running)).toEqual([true, true]);
    expect([...new Set(all.map((a) => a.code))].filter((code) => code !== 'OK' && code !== 'SERVICE_UNAVAILABLE')).toEqual([]);
    // Every acknowledged write is in the history once, with contiguous revisions.
    const page = await gql<{ configChanges: { changes: Array<{ revision: number }> } }>(
      gateways[1]!.url,
      token,
      'query($ns: String!) { configChanges(namespace: $ns, sinceRevision: 0, limit: 10000) { changes { revision } } }',
      { ns: namespace },
    );
    const revisions = page.configChanges.changes.map((change) => change.revision);
    expect(revisions).toEqual(revisions.map((_, i) => i + 1));
    expect(revisions.length).toBeGreaterThanOrEqual(all.filter((a) => a.code === 'OK').length);
  }, 180_000);
});

