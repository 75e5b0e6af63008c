import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type Gateway } from '../helpers/gateway.js';
import { waitFor } from '../helpers/net.js';
import { ADMIN_URL, createTestDatabase, type TestDatabase } from '../helpers/postgres.js';
import { startPrivateRedis, uniquePrefix, type PrivateRedis } from '../helpers/redis.js';

interface Ready {
  status: string;
  checks: { postgres: { ok: boolean; error?: string }; redis: { ok: boolean } };
  pool: { driver: string };
  version: string;
  uptimeSeconds: number;
  subscribers: { ws: number; sse: number };
  repairs: Record<string, number>;
}

async function ready(gateway: Gateway): Promise<{ status: number; body: Ready }> {
  const response = await fetch(`http://127.0.0.1:${gateway.port}/ready`);
  return { status: response.status, body: (await response.json()) as Ready };
}

async function metric(gateway: Gateway, name: string): Promise<number | null> {
  const text = await (await fetch(`http://127.0.0.1:${gateway.port}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line ? Number(line.split(' ')[1]) : null;
}

describe('/ready follows Postgres and Redis', () => {
  let database: TestDatabase;
  let redis: PrivateRedis;
  let gateway: Gateway;
  const admin = postgres(ADMIN_URL, { max: 1, onnotice: () => {} });

  beforeAll(async () => {
    database = await createTestDatabase('ready');
    redis = await startPrivateRedis();
    gateway = await startGateway({
      env: { DATABASE_URL: database.url, REDIS_URL: redis.url, HOTCONF_CHANNEL_PREFIX: uniquePrefix('ready') },
    });
  });

  afterAll(async () => {
    await gateway?.stop('SIGKILL');
    await redis?.stop();
    await admin.unsafe(`ALTER DATABASE "${database.name}" ALLOW_CONNECTIONS true`).catch(() => {});
    await admin.end();
    await database?.drop();
  });

  it('answers /health and a 200 /ready with pool, version and uptime while both answer', async () => {
    const health = await fetch(`http://127.0.0.1:${gateway.port}/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ status: 'ok' });
    const { status, body } = await ready(gateway);
    expect(status).toBe(200);
    expect(body).toMatchObject({ status: 'ready', checks: { postgres: { ok: true }, redis: { ok: true } }, pool: { driver: 'postgres' } });
    expect(body.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(body.repairs).toEqual({ gap: 0, reconnect: 0, periodic: 0 });
  });

  it('goes 503 while its Redis is stopped, and 200 again when Redis is back', async () => {
    await redis.stop();
    await waitFor(async () => (await ready(gateway)).status === 503, 15_000, '/ready 503 after Redis stopped');
    const { body } = await ready(gateway);
    expect(body.checks.redis.ok).toBe(false);
    expect(body.checks.postgres.ok).toBe(true);
    expect(await metric(gateway, 'hotconf_redis_up')).toBe(0);
    // Liveness is not readiness: the process is fine, a restart would not help.
    expect((await fetch(`http://127.0.0.1:${gateway.port}/health`)).status).toBe(200);

    await redis.start();
    await waitFor(async () => (await ready(gateway)).status === 200, 20_000, '/ready 200 after Redis returned');
    expect(await metric(gateway, 'hotconf_redis_up')).toBe(1);
  });

  it('goes 503 while its Postgres database refuses connections, and 200 again when it accepts them', async () => {
    // Refuse new connections to this test's database only, then cut the gateway's open ones:
    // to the gateway this is Postgres going away, and nobody else's database is touched.
    await admin.unsafe(`ALTER DATABASE "${database.name}" ALLOW_CONNECTIONS false`);
    await admin.unsafe(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '${database.name}' AND pid <> pg_backend_pid()`);
    await waitFor(async () => (await ready(gateway)).status === 503, 15_000, '/ready 503 with Postgres refusing');
    const { body } = await ready(gateway);
    expect(body.status).toBe('unavailable');
    expect(body.checks.postgres.ok).toBe(false);
    expect(body.checks.redis.ok).toBe(true);
    expect(await metric(gateway, 'hotconf_postgres_up')).toBe(0);

    await admin.unsafe(`ALTER DATABASE "${database.name}" ALLOW_CONNECTIONS true`);
    await waitFor(async () => (await ready(gateway)).status === 200, 20_000, '/ready 200 after Postgres returned');
    expect(await metric(gateway, 'hotconf_postgres_up')).toBe(1);
  });
});
