import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, subscribeWs, testToken, uniqueNamespace, wsClient, type Gateway } from '../helpers/gateway.js';
import { waitFor } from '../helpers/net.js';
import { startPrivatePostgres, type PrivatePostgres } from '../helpers/private-postgres.js';
import { startPrivateRedis, uniquePrefix, type PrivateRedis } from '../helpers/redis.js';
import { attemptSet, startWriterLoop } from '../helpers/writer.js';

/**
 * The Redis-down promise right after a Postgres crash: with Redis still down, a change
 * committed on A reaches a subscriber on B by B's periodic check, which must be running again
 * as soon as Postgres is back (issue 10 item 3).
 */
describe('Redis down, Postgres crashed and back', () => {
  let pg: PrivatePostgres;
  let redis: PrivateRedis;
  let a: Gateway;
  let b: Gateway;

  beforeAll(async () => {
    pg = await startPrivatePostgres();
    redis = await startPrivateRedis();
    const env = { DATABASE_URL: pg.url, REDIS_URL: redis.url, HOTCONF_CHANNEL_PREFIX: uniquePrefix('rdpr'), HOTCONF_REPAIR_INTERVAL_MS: '1000' };
    a = await startGateway({ env });
    b = await startGateway({ env });
  }, 120_000);

  afterAll(async () => {
    for (const gateway of [a, b]) if (gateway && !gateway.running) console.error(`gateway on ${gateway.port} exited:\n${gateway.logs()}`);
    await Promise.allSettled([a, b].filter(Boolean).map((gateway) => gateway.stop('SIGKILL')));
    await redis?.stop();
    await pg?.[Symbol.asyncDispose]();
  });

  it('a change committed on A after the restart reaches the subscriber on B through the periodic check, Redis still down', async () => {
    const token = await testToken({ sub: 'rdpr' });
    const namespace = uniqueNamespace('rdpr');
    const seed = await attemptSet(a.url, token, namespace, 'seed', 0);
    expect(seed.code).toBe('OK');
    const client = wsClient(b.wsUrl, token);
    // From the seed's revision: whatever comes after it is this subscriber's, however early.
    const onB = await subscribeWs(client, { namespace, sinceRevision: (seed.data?.setConfig as { revision: number }).revision });
    try {
      expect((await attemptSet(a.url, token, namespace, 'live', 1)).code).toBe('OK');
      await onB.waitForCount(1);

      await redis.stop();
      // Writes in flight on both gateways (another namespace) when Postgres crashes, as in production.
      const busy = uniqueNamespace('busy');
      const loops = [a, b].map((gateway, g) => startWriterLoop(gateway.url, token, busy, `g${g}`));
      try {
        await waitFor(() => loops.every((loop) => loop.attempts.some((x) => x.code === 'OK')), 20_000, 'writes in flight');
        await pg.stop('immediate');
        // Both gateways notice: B's periodic checks fail meanwhile.
        await waitFor(async () => (await attemptSet(a.url, token, namespace, 'probe', 0, 10_000)).code === 'SERVICE_UNAVAILABLE', 20_000, 'A refusing');
        await pg.start();
      } finally {
        await Promise.all(loops.map((loop) => loop.stop()));
      }
      let revision = 0;
      await waitFor(
        async () => {
          const result = await attemptSet(a.url, token, namespace, 'after', 2, 10_000);
          if (result.code === 'OK') revision = (result.data?.setConfig as { revision: number }).revision;
          return result.code === 'OK';
        },
        30_000,
        'a write on A after the restart',
      );
      // A handful of check intervals (1 s) at most, with no Redis to carry it.
      await waitFor(() => onB.changes.some((change) => change.revision === revision), 10_000, 'the change on B');
      expect(onB.changes.find((change) => change.revision === revision)).toMatchObject({ key: 'after', replayed: true });
      const revisions = onB.changes.map((change) => change.revision);
      expect(revisions).toEqual([...new Set(revisions)].sort((x, y) => x - y));
      expect(onB.errors).toEqual([]);
      expect([a.running, b.running]).toEqual([true, true]);
    } finally {
      await redis.start();
      await onB.close();
      await client.dispose();
    }
  }, 120_000);
});
