/**
 * Settings of the Configuration table whose effect is seen only from outside the gateway:
 * what travels in the Redis message (HOTCONF_INLINE_VALUE_BYTES, HOTCONF_CHANNEL_PREFIX).
 */
import { Redis } from 'ioredis';
import type { Client } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';
import { SHARED_REDIS_URL, uniquePrefix } from '../helpers/redis.js';
import { waitFor } from '../helpers/net.js';
import { setConfig, startGateway, subscribeWs, testToken, uniqueNamespace, wsClient, type Gateway } from '../helpers/gateway.js';

describe('HOTCONF_INLINE_VALUE_BYTES and HOTCONF_CHANNEL_PREFIX', () => {
  let database: TestDatabase;
  let a: Gateway;
  let b: Gateway;
  let token: string;
  let prefix: string;
  const clients: Client[] = [];
  const listener = new Redis(SHARED_REDIS_URL, { lazyConnect: true });

  beforeAll(async () => {
    database = await createTestDatabase('inline');
    prefix = uniquePrefix('inline');
    // The periodic check is off: B can only learn of a change from the Redis message.
    const env = { DATABASE_URL: database.url, REDIS_URL: SHARED_REDIS_URL, HOTCONF_CHANNEL_PREFIX: prefix, HOTCONF_INLINE_VALUE_BYTES: '32', HOTCONF_REPAIR_INTERVAL_MS: '600000' };
    a = await startGateway({ env });
    b = await startGateway({ env });
    token = await testToken({ sub: 'inline-writer' });
    await listener.connect();
  });

  afterAll(async () => {
    listener.disconnect();
    await Promise.allSettled(clients.map((client) => client.dispose()));
    await Promise.allSettled([a, b].filter(Boolean).map((gateway) => gateway.stop()));
    await database?.drop();
  });

  it('a value up to the limit travels in the message on <prefix><namespace>; a larger one does not, and B reads it from Postgres', async () => {
    const namespace = uniqueNamespace('inline');
    const messages: string[] = [];
    listener.on('message', (channel: string, message: string) => {
      if (channel === `${prefix}${namespace}`) messages.push(message);
    });
    await listener.subscribe(`${prefix}${namespace}`);
    const client = wsClient(b.wsUrl, token);
    clients.push(client);
    const subscriber = await subscribeWs(client, { namespace });
    await waitFor(
      async () => {
        const ready = (await (await fetch(`http://127.0.0.1:${b.port}/ready`)).json()) as { namespaces: Record<string, unknown> };
        return ready.namespaces[namespace] !== undefined;
      },
      15_000,
      'B watching the namespace',
    );
    const small = 'inline-me';
    const large = `carried-by-postgres-${'x'.repeat(40)}`;
    await setConfig(a.url, token, namespace, 'small', small);
    await setConfig(a.url, token, namespace, 'large', large);
    await waitFor(() => messages.length >= 2, 15_000, 'two messages on the namespace channel');
    expect(messages[0]).toContain(small);
    expect(messages[1]).not.toContain(large);
    await subscriber.waitForCount(2);
    // Both live (not replayed from history): the large one was read from Postgres on B.
    expect(subscriber.changes.map((change) => [change.key, change.value, change.replayed])).toEqual([
      ['small', small, false],
      ['large', large, false],
    ]);
  });
});
