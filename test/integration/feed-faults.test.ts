import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createChangeFeed } from '../../src/bus/change-feed.js';
import { createMemoryBus } from '../../src/bus/memory-bus.js';
import { toChangeMessage } from '../../src/core/change-message.js';
import type { ChangeBus, ChangeFeed, ConfigStore, DeliveredChange } from '../../src/core/types.js';
import { createConfigStore } from '../../src/db/config-store.js';
import { connectDatabase, type Database } from '../../src/db/connect.js';
import { uniqueNamespace } from '../helpers/gateway.js';
import { waitFor } from '../helpers/net.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';

const meta = { actor: 'feed-faults', reason: null, traceId: null, canReadSecrets: true };

/** Redis as the feed sees it while it is down: subscriptions "succeed", no message ever comes. */
function silentBus(): ChangeBus {
  return {
    publish: () => {},
    subscribe: async () => async () => {},
    onReconnect: () => () => {},
    status: () => ({ kind: 'redis', connected: false, publishFailures: 0, lastMessageAt: null }),
    close: async () => {},
  };
}

/** The real store with database steps that can be made to hang or fail, per namespace. */
function faultyStore(store: ConfigStore) {
  const faults = {
    /** The next N revision checks never answer. */
    hangRevisions: 0,
    /** History reads of these namespaces never answer (until removed; the hung ones stay hung). */
    hangChanges: new Set<string>(),
    /** History reads of these namespaces fail at once. */
    failChanges: new Set<string>(),
    changeCalls: new Map<string, number>(),
    revisionCalls: 0,
  };
  const wrapped: ConfigStore = {
    ...store,
    revisions: (names) => {
      faults.revisionCalls++;
      if (faults.hangRevisions > 0) {
        faults.hangRevisions--;
        return new Promise(() => {});
      }
      return store.revisions(names);
    },
    changes: (namespace, since, options) => {
      faults.changeCalls.set(namespace, (faults.changeCalls.get(namespace) ?? 0) + 1);
      if (faults.hangChanges.has(namespace)) return new Promise(() => {});
      if (faults.failChanges.has(namespace)) return Promise.reject(Object.assign(new Error('connection reset'), { code: 'ECONNRESET' }));
      return store.changes(namespace, since, options);
    },
  };
  return { store: wrapped, faults };
}

async function collect(feed: ChangeFeed, namespace: string) {
  const changes: DeliveredChange[] = [];
  const iterator = await feed.watch(namespace, {});
  void (async () => {
    for await (const change of iterator) changes.push(change);
  })().catch(() => {});
  return { changes, stop: () => iterator.return?.() };
}

describe('change feed: every database step is bounded and backs off', () => {
  let testDb: TestDatabase;
  let database: Database;
  let store: ConfigStore;
  const feeds: ChangeFeed[] = [];

  beforeAll(async () => {
    testDb = await createTestDatabase('feed_faults');
    database = await connectDatabase({ databaseUrl: testDb.url });
    await database.migrate();
    store = createConfigStore({ database });
  });

  afterAll(async () => {
    await Promise.allSettled(feeds.map((feed) => feed.close()));
    await database?.close();
    await testDb?.drop();
  });

  it('a periodic check that never answers does not stop the next one: a change committed while Redis is down still arrives', async () => {
    const { store: faulty, faults } = faultyStore(store);
    const feed = createChangeFeed({ store: faulty, bus: silentBus(), repairIntervalMs: 200 });
    feeds.push(feed);
    const namespace = uniqueNamespace('hungcheck');
    await store.write(namespace, [{ kind: 'set', key: 'seed', value: 0 }], meta);
    const watch = await collect(feed, namespace);
    faults.hangRevisions = 2;
    const written = await store.write(namespace, [{ kind: 'set', key: 'k', value: 1 }], meta);
    await waitFor(() => watch.changes.length === 1, 15_000, 'the change through a later periodic check');
    expect(watch.changes.map((change) => change.revision)).toEqual([written.revision]);
    expect(faults.revisionCalls).toBeGreaterThan(2);
    await watch.stop();
  });

  it('history reads that hang for one namespace hold up neither another namespace nor that namespace once reads answer again', async () => {
    const { store: faulty, faults } = faultyStore(store);
    const feed = createChangeFeed({ store: faulty, bus: silentBus(), repairIntervalMs: 200 });
    feeds.push(feed);
    const stuck = uniqueNamespace('stuck');
    const other = uniqueNamespace('other');
    for (const namespace of [stuck, other]) await store.write(namespace, [{ kind: 'set', key: 'seed', value: 0 }], meta);
    const onStuck = await collect(feed, stuck);
    const onOther = await collect(feed, other);
    faults.hangChanges.add(stuck);
    const a = await store.write(stuck, [{ kind: 'set', key: 'k', value: 1 }], meta);
    const b = await store.write(other, [{ kind: 'set', key: 'k', value: 1 }], meta);
    await waitFor(() => onOther.changes.length === 1 && (faults.changeCalls.get(stuck) ?? 0) >= 1, 15_000, 'the other namespace');
    expect(onStuck.changes).toEqual([]);
    // The read that hung never answers; the feed gives up on it and asks again.
    faults.hangChanges.delete(stuck);
    await waitFor(() => onStuck.changes.length === 1, 15_000, 'the stuck namespace after reads answer again');
    expect(onStuck.changes.map((change) => change.revision)).toEqual([a.revision]);
    expect(onOther.changes.map((change) => change.revision)).toEqual([b.revision]);
    await Promise.all([onStuck.stop(), onOther.stop()]);
  });

  it('a failing read of omitted (secret) values is retried with backoff, not at once, and the change is delivered once reads work', async () => {
    const { store: faulty, faults } = faultyStore(store);
    const bus = createMemoryBus();
    const feed = createChangeFeed({ store: faulty, bus, repairIntervalMs: 500 });
    feeds.push(feed);
    const namespace = uniqueNamespace('omitted');
    await store.write(namespace, [{ kind: 'set', key: 'seed', value: 0 }], meta);
    const watch = await collect(feed, namespace);
    faults.failChanges.add(namespace);
    // Another gateway's write: its message carries no secret value, so this feed reads it.
    const written = await store.write(namespace, [{ kind: 'set', key: 'token', value: 's3cr3t', secret: true }], meta);
    bus.publish(toChangeMessage(written, 65_536));
    const failingFrom = Date.now();
    await waitFor(() => Date.now() - failingFrom > 1_500, 5_000, 'a while of failing reads');
    const attempts = faults.changeCalls.get(namespace) ?? 0;
    faults.failChanges.delete(namespace);
    await waitFor(() => watch.changes.length === 1, 15_000, 'the secret change');
    expect(watch.changes[0]).toMatchObject({ revision: written.revision, key: 'token', value: 's3cr3t' });
    // 1.5 s of failures: a backoff (100 ms doubling, capped at the 500 ms interval) makes a
    // handful of attempts; retrying at once made hundreds.
    expect(attempts).toBeGreaterThan(0);
    expect(attempts).toBeLessThan(15);
    await watch.stop();
    await bus.close();
  });
});
