import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createChangeFeed } from '../../src/bus/change-feed.js';
import { createMemoryBus } from '../../src/bus/memory-bus.js';
import { toChangeMessage } from '../../src/core/change-message.js';
import type { ChangeBus, ChangeFeed, ConfigStore, DeliveredChange, WriteResult } from '../../src/core/types.js';
import { createConfigStore } from '../../src/db/config-store.js';
import { connectDatabase, type Database } from '../../src/db/connect.js';
import { waitFor } from '../helpers/net.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';
import { uniqueNamespace } from '../helpers/gateway.js';

const meta = { actor: 'feed-test', reason: null, traceId: null, canReadSecrets: true };

/** Reads a watch in the background into an array. */
function drain(iterator: AsyncIterableIterator<DeliveredChange>) {
  const changes: DeliveredChange[] = [];
  const state = { error: null as unknown, done: false };
  void (async () => {
    try {
      for await (const change of iterator) changes.push(change);
    } catch (error) {
      state.error = error;
    } finally {
      state.done = true;
    }
  })();
  return { changes, state, stop: () => iterator.return?.() };
}

describe('change feed on the real store', () => {
  let testDb: TestDatabase;
  let database: Database;
  let store: ConfigStore;
  let bus: ChangeBus;
  let feed: ChangeFeed;
  const repairs: string[] = [];

  beforeAll(async () => {
    testDb = await createTestDatabase('feed');
    database = await connectDatabase({ databaseUrl: testDb.url });
    await database.migrate();
    store = createConfigStore({ database });
    bus = createMemoryBus();
    feed = createChangeFeed({ store, bus, repairIntervalMs: 200, maxQueuedChanges: 50, onRepair: (reason) => repairs.push(reason) });
  });

  afterAll(async () => {
    await feed?.close();
    await bus?.close();
    await database?.close();
    await testDb?.drop();
  });

  /** A write as the config service does it: local delivery, then the bus. */
  const write = async (namespace: string, key: string, value: number | string, options: { publish?: boolean; local?: boolean; secret?: boolean } = {}) => {
    const result = await store.write(namespace, [{ kind: 'set', key, value, secret: options.secret }], meta);
    if (options.local !== false) feed.committed(result);
    if (options.publish !== false) bus.publish(toChangeMessage(result, 65_536));
    return result;
  };

  it('delivers each change once although it arrives locally and again over the bus', async () => {
    const namespace = uniqueNamespace('once');
    const watch = drain(await feed.watch(namespace, {}));
    const written = [];
    for (let i = 0; i < 10; i++) written.push((await write(namespace, `k${i}`, i)).revision);
    await waitFor(() => watch.changes.length >= 10, 5_000);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(watch.changes.map((change) => change.revision)).toEqual(written);
    expect(watch.changes.every((change) => !change.replayed)).toBe(true);
    await watch.stop();
  });

  it('repairs a gap from history, in order, marking the repaired change replayed', async () => {
    const namespace = uniqueNamespace('gap');
    const watch = drain(await feed.watch(namespace, {}));
    const lost = await write(namespace, 'lost', 1, { publish: false, local: false });
    const next = await write(namespace, 'next', 2);
    await waitFor(() => watch.changes.length >= 2, 5_000);
    expect(watch.changes.map((change) => [change.revision, change.replayed])).toEqual([
      [lost.revision, true],
      [next.revision, true],
    ]);
    await watch.stop();
  });

  it('a change that never reaches the bus arrives through the periodic check', async () => {
    const namespace = uniqueNamespace('periodic');
    const watch = drain(await feed.watch(namespace, {}));
    const before = repairs.filter((reason) => reason === 'periodic').length;
    const lost = await write(namespace, 'lost', 1, { publish: false, local: false });
    await waitFor(() => watch.changes.length === 1, 5_000);
    expect(watch.changes[0]).toMatchObject({ revision: lost.revision, key: 'lost', value: 1, replayed: true });
    expect(repairs.filter((reason) => reason === 'periodic').length).toBeGreaterThan(before);
    await watch.stop();
  });

  it('reads secret values, which never travel on the bus, from the store', async () => {
    const namespace = uniqueNamespace('secret');
    const watch = drain(await feed.watch(namespace, {}));
    await write(namespace, 'db.password', 'hunter2', { secret: true, local: false });
    await waitFor(() => watch.changes.length === 1, 5_000);
    expect(watch.changes[0]).toMatchObject({ key: 'db.password', value: 'hunter2', secret: true, replayed: false });
    await watch.stop();
  });

  it('sinceRevision replays history, then continues live with no gap and no duplicate', async () => {
    const namespace = uniqueNamespace('since');
    const written: WriteResult[] = [];
    for (let i = 0; i < 120; i++) written.push(await write(namespace, `k${i % 4}`, i));
    const watch = drain(await feed.watch(namespace, { sinceRevision: written[9]!.revision, prefix: 'k' }));
    // Live writes race the replay.
    for (let i = 0; i < 20; i++) written.push(await write(namespace, `k${i % 4}`, 1_000 + i));
    await waitFor(() => watch.changes.length >= 130, 10_000);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(watch.changes.map((change) => change.revision)).toEqual(written.slice(10).map((result) => result.revision));
    expect(watch.changes.slice(0, 110).every((change) => change.replayed)).toBe(true);
    await watch.stop();
  });

  it('keys and prefix select a union of keys', async () => {
    const namespace = uniqueNamespace('filter');
    const watch = drain(await feed.watch(namespace, { keys: ['a'], prefix: 'p.' }));
    for (const key of ['a', 'b', 'p.x', 'px', 'ab', 'p.y']) await write(namespace, key, 1);
    await waitFor(() => watch.changes.length >= 3, 5_000);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(watch.changes.map((change) => change.key)).toEqual(['a', 'p.x', 'p.y']);
    await watch.stop();
  });

  it('sinceRevision beyond the namespace rejects with REVISION_AHEAD before any change', async () => {
    const namespace = uniqueNamespace('ahead');
    const { revision } = await write(namespace, 'k', 1);
    await expect(feed.watch(namespace, { sinceRevision: revision + 5 })).rejects.toMatchObject({ code: 'REVISION_AHEAD' });
  });

  it('a subscriber that stops reading is ended with SERVICE_UNAVAILABLE; the others carry on', async () => {
    const namespace = uniqueNamespace('slow');
    const slow = await feed.watch(namespace, {});
    const fast = drain(await feed.watch(namespace, {}));
    for (let i = 0; i < 60; i++) await write(namespace, 'k', i);
    await waitFor(() => fast.changes.length === 60, 5_000);
    // The slow one gets what was queued before it overflowed, then the error.
    const received: number[] = [];
    await expect(
      (async () => {
        for await (const change of slow) received.push(change.revision);
      })(),
    ).rejects.toMatchObject({ code: 'SERVICE_UNAVAILABLE' });
    expect(received.length).toBeGreaterThan(0);
    expect(received).toEqual(fast.changes.slice(0, received.length).map((change) => change.revision));
    expect(feed.stats().subscribers).toBeGreaterThanOrEqual(1);
    await fast.stop();
  });

  it('close ends every watch', async () => {
    const namespace = uniqueNamespace('close');
    const otherFeed = createChangeFeed({ store, bus });
    const watch = drain(await otherFeed.watch(namespace, {}));
    expect(otherFeed.stats().subscribers).toBe(1);
    await otherFeed.close();
    await waitFor(() => watch.state.done, 2_000);
    expect(watch.state.error).toBeNull();
  });
});
