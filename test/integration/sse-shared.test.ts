import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from '../helpers/app.js';
import { setConfig, subscribeSse, uniqueNamespace, type Subscriber } from '../helpers/gateway.js';
import { waitFor } from '../helpers/net.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';

// SSE subscribers with the same subscription and visibility share one execution (one feed watch),
// each still getting every change once, in order, with its own redaction.

const SHARERS = 20;

describe('SSE subscriptions share executions', () => {
  let database: TestDatabase;
  let gateway: TestGateway;
  const subscribers: Subscriber[] = [];

  beforeAll(async () => {
    database = await createTestDatabase('sse_shared');
    gateway = await startTestGateway({ DATABASE_URL: database.url });
  });

  afterAll(async () => {
    await Promise.allSettled(subscribers.map((subscriber) => subscriber.close()));
    await gateway?.stop();
    await database?.drop();
  });

  it('one watch for many identical SSE subscribers, another for a caller who sees other values; every change once, redacted as before', async () => {
    const namespace = uniqueNamespace('sse');
    await setConfig(gateway.url, gateway.adminToken, namespace, 'seed', 0);
    const reader = await gateway.token({ sub: 'reader', role: 'reader', namespaces: '*' });
    const secretReader = await gateway.token({ sub: 'reader-s', role: 'reader', namespaces: '*', secrets: true });
    const watches = () => gateway.app.feed.stats().subscribers;
    const before = watches();
    const plain: Subscriber[] = [];
    for (let i = 0; i < SHARERS; i++) plain.push(await subscribeSse(gateway.url, reader, { namespace }));
    const withSecrets = await subscribeSse(gateway.url, secretReader, { namespace });
    subscribers.push(...plain, withSecrets);
    await waitFor(() => watches() === before + 2, 15_000, 'two watches (one per visibility)');

    // Live subscriptions have no acknowledgement: write until every subscriber saw a warm-up.
    await waitFor(
      async () => {
        await setConfig(gateway.url, gateway.adminToken, namespace, 'warm', Date.now());
        await new Promise((resolve) => setTimeout(resolve, 200));
        return subscribers.every((subscriber) => subscriber.changes.length > 0);
      },
      30_000,
      'every subscriber receiving the warm-up',
    );
    const secret = await gateway.gql<{ setConfig: { revision: number } }>(
      'mutation($input: SetConfigInput!) { setConfig(input: $input) { revision } }',
      { input: { namespace, key: 'token', value: 'hush', secret: true } },
    );
    const revision = secret.body.data!.setConfig.revision;
    await waitFor(() => subscribers.every((subscriber) => subscriber.changes.at(-1)?.revision === revision), 20_000, 'the secret change everywhere');
    expect(watches()).toBe(before + 2);
    for (const subscriber of plain) {
      expect(subscriber.errors).toEqual([]);
      expect(subscriber.changes.at(-1)).toMatchObject({ key: 'token', value: null });
      const revisions = subscriber.changes.map((change) => change.revision);
      expect(new Set(revisions).size).toBe(revisions.length);
      expect([...revisions].sort((a, b) => a - b)).toEqual(revisions);
    }
    expect(withSecrets.changes.at(-1)).toMatchObject({ key: 'token', value: 'hush' });

    // Closing them all ends the shared watches (as for private SSE streams, once the next change
    // finds the streams gone).
    await Promise.all(subscribers.map((subscriber) => subscriber.close()));
    await waitFor(
      async () => {
        await setConfig(gateway.url, gateway.adminToken, namespace, 'after', Date.now());
        await new Promise((resolve) => setTimeout(resolve, 200));
        return watches() === before;
      },
      20_000,
      'the watches ended',
    );
  });
});
