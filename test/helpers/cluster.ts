import type { Client } from 'graphql-ws';
import { createTestDatabase, type TestDatabase } from './postgres.js';
import { SHARED_REDIS_URL, uniquePrefix } from './redis.js';
import { gql, startGateway, testToken, wsClient, type Gateway, type Subscriber } from './gateway.js';

/** Gateway processes on one fresh database and one Redis channel prefix of their own. */
export interface Cluster extends AsyncDisposable {
  database: TestDatabase;
  gateways: Gateway[];
  /** An admin token every gateway accepts. */
  token: string;
  /** A graphql-ws client to `gateway`, disposed with the cluster. */
  client(gateway: Gateway): Client;
  /** Subscribers to close with the cluster; returns the first. */
  keep<T extends Subscriber>(first: T, ...more: Subscriber[]): T;
  /** The namespace's revision in the store (asked through the first gateway). */
  revisionOf(namespace: string): Promise<number>;
  close(): Promise<void>;
}

/**
 * `size` gateways on the machine's Postgres and Redis. The first starts alone (it migrates),
 * the others in parallel on the migrated database.
 */
export async function startCluster(label: string, size: number, env: Record<string, string> = {}): Promise<Cluster> {
  const database = await createTestDatabase(label);
  const clients: Client[] = [];
  const subscribers: Subscriber[] = [];
  const gateways: Gateway[] = [];
  const close = async () => {
    await Promise.allSettled(subscribers.map((subscriber) => subscriber.close()));
    await Promise.allSettled(clients.map((client) => client.dispose()));
    await Promise.allSettled(gateways.map((gateway) => gateway.stop()));
    await database.drop();
  };
  try {
    const shared = { DATABASE_URL: database.url, REDIS_URL: SHARED_REDIS_URL, HOTCONF_CHANNEL_PREFIX: uniquePrefix(label), ...env };
    gateways.push(await startGateway({ env: shared }));
    gateways.push(...(await Promise.all(Array.from({ length: size - 1 }, () => startGateway({ env: shared })))));
  } catch (error) {
    await close();
    throw error;
  }
  const token = await testToken({ sub: `${label}-admin` });
  return {
    database,
    gateways,
    token,
    client(gateway) {
      const created = wsClient(gateway.wsUrl, token);
      clients.push(created);
      return created;
    },
    keep(first, ...more) {
      subscribers.push(first, ...more);
      return first;
    },
    async revisionOf(namespace) {
      const data = await gql<{ configs: { revision: number } }>(gateways[0]!.url, token, 'query($ns: String!) { configs(namespace: $ns) { revision } }', { ns: namespace });
      return data.configs.revision;
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}
