import type { Client } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gql, startGateway, subscribeWs, testToken, uniqueNamespace, wsClient, type Gateway, type Subscriber } from '../helpers/gateway.js';
import { freePort, waitFor } from '../helpers/net.js';
import { startPrivatePostgres, type PrivatePostgres } from '../helpers/private-postgres.js';
import { SHARED_REDIS_URL, uniquePrefix } from '../helpers/redis.js';
import { attempt, startWriterLoop, type WriterLoop } from '../helpers/writer.js';

const PAGE = /* GraphQL */ `
  query($ns: String!) { configChanges(namespace: $ns, sinceRevision: 0, limit: 10000) { revision changes { key version revision } } }
`;
const READ = /* GraphQL */ `query($ns: String!, $key: String!) { config(namespace: $ns, key: $key) { version } }`;

/**
 * A failover as managed Postgres and Patroni do it, at the database URL: the primary crashes, the
 * same data comes back from a server that is still a read-only standby, and that server is then
 * promoted. Two gateways (a writer on A, a subscriber on B) ride it out.
 */
describe('PostgreSQL failover: the URL served by a read-only standby, then by the promoted server', () => {
  let pg: PrivatePostgres;
  let a: Gateway;
  let b: Gateway;
  let token: string;
  const clients: Client[] = [];

  beforeAll(async () => {
    pg = await startPrivatePostgres();
    const env = { DATABASE_URL: pg.url, REDIS_URL: SHARED_REDIS_URL, HOTCONF_CHANNEL_PREFIX: uniquePrefix('failover'), HOTCONF_REPAIR_INTERVAL_MS: '500' };
    a = await startGateway({ env });
    b = await startGateway({ env });
    token = await testToken({ sub: 'failover-writer' });
  });

  afterAll(async () => {
    for (const gateway of [a, b]) if (gateway && !gateway.running) console.error(`gateway on ${gateway.port} exited:\n${gateway.logs()}`);
    await Promise.allSettled(clients.map((client) => client.dispose()));
    await Promise.allSettled([a, b].filter(Boolean).map((gateway) => gateway.stop('SIGKILL')));
    await pg?.[Symbol.asyncDispose]();
  });

  it('writes answer SERVICE_UNAVAILABLE while the server is read-only, work again once it is promoted, and a subscriber gets every change once, in order', async () => {
    const namespace = uniqueNamespace('failover');
    const client = wsClient(b.wsUrl, token);
    clients.push(client);
    const subscriber: Subscriber = await subscribeWs(client, { namespace, sinceRevision: 0 });
    const loops: WriterLoop[] = [0, 1].map((w) => startWriterLoop(a.url, token, namespace, `w${w}`));
    let promotedAt = 0;
    let standbyAt = 0;
    try {
      const okSince = (since: number) => loops.some((loop) => loop.attempts.some((x) => x.at >= since && x.code === 'OK'));
      await waitFor(() => okSince(0), 30_000, 'writes on the primary');
      // The subscription is established (and caught up) before the failover starts.
      await subscriber.waitForCount(1);
      await pg.stop('immediate');
      await pg.startStandby();
      standbyAt = Date.now();
      // The standby serves the data: reads answer; writes are refused as unavailable, not as internal errors.
      await waitFor(() => loops.flatMap((loop) => loop.attempts).filter((x) => x.at >= standbyAt && x.code !== 'OK').length >= 6, 30_000, 'writes refused by the standby');
      const read = await attempt(a.url, token, READ, { ns: namespace, key: 'w0-0' });
      expect(read.code).toBe('OK');
      await pg.promote();
      promotedAt = Date.now();
      await waitFor(() => okSince(promotedAt), 30_000, 'writes after the promotion');
    } finally {
      await Promise.all(loops.map((loop) => loop.stop()));
    }
    const all = loops.flatMap((loop) => loop.attempts);
    const refused = all.filter((x) => x.at >= standbyAt && x.at < promotedAt).map((x) => x.code);
    expect([...new Set(refused)].filter((code) => code !== 'SERVICE_UNAVAILABLE' && code !== 'OK')).toEqual([]);
    const firstOk = Math.min(...all.filter((x) => x.at >= promotedAt && x.code === 'OK').map((x) => x.done));
    console.log(`[database-failover] ms from the promotion to the first successful write: ${firstOk - promotedAt}`);
    expect([a.running, b.running]).toEqual([true, true]);

    const page = await gql<{ configChanges: { revision: number; changes: Array<{ key: string; version: number; revision: number }> } }>(a.url, token, PAGE, { ns: namespace });
    const committed = page.configChanges.changes;
    expect(committed.map((change) => change.revision)).toEqual(committed.map((_, i) => i + 1));
    await waitFor(() => subscriber.errors.length > 0 || subscriber.changes.length >= committed.length, 30_000, `${committed.length} changes on B`);
    expect(subscriber.errors).toEqual([]);
    expect(subscriber.changes.map(({ key, version, revision }) => ({ key, version, revision }))).toEqual(committed);
  }, 180_000);
});

/**
 * A failover behind a multi-host URL (libpq's `postgres://h1:p1,h2:p2/db`): the old primary comes
 * back as a read-only standby while a copy of its data is promoted on the second host. The
 * gateway must leave the standby for the host that takes writes, not keep writing into a wall.
 */
describe('PostgreSQL failover behind a multi-host DATABASE_URL', () => {
  let first: PrivatePostgres;
  let second: PrivatePostgres | undefined;
  let gateway: Gateway;
  let token: string;
  let secondPort: number;

  beforeAll(async () => {
    first = await startPrivatePostgres();
    secondPort = await freePort();
    const env = { DATABASE_URL: `postgres://postgres@127.0.0.1:${first.port},127.0.0.1:${secondPort}/postgres`, HOTCONF_DB_TIMEOUT_MS: '3000' };
    gateway = await startGateway({ env });
    token = await testToken({ sub: 'multi-host-writer' });
  });

  afterAll(async () => {
    if (gateway && !gateway.running) console.error(`gateway on ${gateway.port} exited:\n${gateway.logs()}`);
    await gateway?.stop('SIGKILL');
    await second?.[Symbol.asyncDispose]();
    await first?.[Symbol.asyncDispose]();
  });

  it('writes move to the promoted host once the old primary answers read-only', async () => {
    const namespace = uniqueNamespace('multihost');
    const loops: WriterLoop[] = [0, 1, 2].map((w) => startWriterLoop(gateway.url, token, namespace, `w${w}`));
    try {
      const okSince = (since: number) => loops.some((loop) => loop.attempts.some((x) => x.at >= since && x.code === 'OK'));
      await waitFor(() => okSince(0), 30_000, 'writes on the first host');
      await first.stop('immediate');
      // The copy takes over on the URL's second host; the old primary returns as a standby.
      second = await startPrivatePostgres({ copyOf: first, port: secondPort });
      await first.startStandby();
      const failedOver = Date.now();
      await waitFor(() => okSince(failedOver), 30_000, 'writes on the promoted host').catch((error: unknown) => {
        console.error(`last attempts: ${JSON.stringify(loops.map((loop) => loop.attempts.slice(-3)))}\n${gateway.logs()}`);
        throw error;
      });
    } finally {
      await Promise.all(loops.map((loop) => loop.stop()));
    }
    const codes = new Set(loops.flatMap((loop) => loop.attempts).map((x) => x.code));
    expect([...codes].filter((code) => code !== 'OK' && code !== 'SERVICE_UNAVAILABLE')).toEqual([]);
    expect(gateway.running).toBe(true);
  }, 180_000);
});
