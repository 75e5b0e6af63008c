import { describe, expect, it } from 'vitest';
import { createWatchQueue, type WatchQueue } from '../../src/bus/feed/watch-queue.js';
import { createWatchCache } from '../../src/core/watch-cache.js';
import type { ChangeFeed, ConfigStore, DeliveredChange, Entry } from '../../src/core/types.js';
import { GatewayError } from '../../src/errors.js';

const entry = (key: string, value: number, revision: number): Entry => ({
  namespace: 'ns',
  key,
  value,
  version: revision,
  revision,
  updatedAt: new Date(0),
  updatedBy: null,
  description: null,
  secret: false,
  schema: null,
});
const change = (key: string, value: number | null, revision: number, lastInRevision = true): DeliveredChange => ({
  ...entry(key, value ?? 0, revision),
  op: value === null ? 'DELETE' : 'SET',
  value,
  changedAt: new Date(0),
  changedBy: null,
  reason: null,
  traceId: null,
  replayed: false,
  lastInRevision,
});

/** A store at `head` with entries `rows`, counting calls; a feed whose watch the test drives. */
const fixture = (options: { catchUpMs?: number } = {}) => {
  const state = { head: 2, rows: [entry('a', 1, 1), entry('b', 2, 2)] };
  const calls = { revisions: 0, snapshot: 0, get: 0, watch: 0 };
  let failRevisions: Error | null = null;
  const store = {
    async revisions(names: readonly string[]) {
      calls.revisions++;
      if (failRevisions) throw failRevisions;
      return new Map(names.map((name) => [name, state.head]));
    },
    async snapshot(namespace: string) {
      calls.snapshot++;
      return { namespace, revision: state.head, entries: [...state.rows] };
    },
    async get(_namespace: string, key: string) {
      calls.get++;
      return state.rows.find((row) => row.key === key) ?? null;
    },
  } as unknown as ConfigStore;
  const watches: Array<WatchQueue<DeliveredChange>> = [];
  const feed = {
    async watch() {
      calls.watch++;
      const queue = createWatchQueue<DeliveredChange>({ maxQueued: 1_000, lowWater: 1 });
      watches.push(queue);
      return queue.iterator;
    },
  } as unknown as ChangeFeed;
  const sources: string[] = [];
  const validate = { namespace() {}, key() {}, prefix() {} };
  const cache = createWatchCache({ store, feed, validate, catchUpMs: options.catchUpMs ?? 1_000, onRead: (source) => sources.push(source) });
  /** A write committed elsewhere: the database moves now, the feed brings it when told. */
  const commit = (key: string, value: number | null) => {
    state.head++;
    const revision = state.head;
    state.rows = state.rows.filter((row) => row.key !== key);
    if (value !== null) state.rows.push(entry(key, value, revision));
    return () => watches.at(-1)!.push(change(key, value, revision), true);
  };
  return {
    cache,
    calls,
    sources,
    watches,
    commit,
    failRevisions: (error: Error | null) => (failRevisions = error),
  };
};

describe('watch cache', () => {
  it('answers from memory once a revision check shows it current; the store is read once, for the snapshot', async () => {
    const { cache, calls, sources } = fixture();
    expect(await cache.get('ns', 'a')).toMatchObject({ value: 1 });
    expect(await cache.snapshot('ns')).toMatchObject({ revision: 2, entries: [{ key: 'a' }, { key: 'b' }] });
    expect(await cache.snapshot('ns', 'b')).toMatchObject({ revision: 2, entries: [{ key: 'b' }] });
    expect(calls).toMatchObject({ snapshot: 1, get: 0, watch: 1 });
    expect(sources).toEqual(['cache', 'cache', 'cache']);
  });

  it('never answers older than the database: a read after a commit waits for the feed to bring it', async () => {
    const { cache, commit } = fixture();
    await cache.get('ns', 'a');
    const deliver = commit('a', 10);
    const read = cache.get('ns', 'a');
    setTimeout(deliver, 20);
    expect(await read).toMatchObject({ value: 10, revision: 3 });
    const remove = commit('b', null);
    remove();
    expect(await cache.snapshot('ns')).toMatchObject({ revision: 4, entries: [{ key: 'a', value: 10 }] });
  });

  it('applies a revision only whole: nothing of it is visible before its last change', async () => {
    const { cache, commit, watches } = fixture();
    await cache.get('ns', 'a');
    commit('a', 5);
    watches[0]!.push(change('a', 5, 3, false), true);
    const read = cache.snapshot('ns');
    await new Promise((resolve) => setTimeout(resolve, 10));
    watches[0]!.push(change('b', 6, 3, true), true);
    expect((await read).entries.map((e) => [e.key, e.value])).toEqual([
      ['a', 5],
      ['b', 6],
    ]);
  });

  it('reads Postgres when the feed does not catch up in time', async () => {
    const { cache, commit, sources } = fixture({ catchUpMs: 20 });
    await cache.get('ns', 'a');
    commit('a', 7); // never delivered
    expect(await cache.get('ns', 'a')).toMatchObject({ value: 7 });
    expect(sources).toEqual(['cache', 'store']);
  });

  it('a burst of 1,000 reads costs one snapshot and at most two revision checks', async () => {
    const { cache, calls } = fixture();
    await Promise.all(Array.from({ length: 1_000 }, (_, i) => (i % 2 ? cache.get('ns', 'a') : cache.snapshot('ns'))));
    expect(calls.snapshot).toBe(1);
    expect(calls.revisions).toBeLessThanOrEqual(2);
    expect(calls.get).toBe(0);
  });

  it('a watch that ends (history compacted, feed closing) drops the namespace; the next read rebuilds it', async () => {
    const { cache, calls, watches } = fixture();
    await cache.get('ns', 'a');
    watches[0]!.fail(new GatewayError('REVISION_COMPACTED', 'compacted'));
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(cache.stats().namespaces).toEqual({});
    await cache.get('ns', 'a');
    expect(calls).toMatchObject({ snapshot: 2, watch: 2 });
  });

  it('a revision check that fails fails the read as the store would, and is not answered from memory', async () => {
    const { cache, failRevisions } = fixture();
    await cache.get('ns', 'a');
    failRevisions(new GatewayError('SERVICE_UNAVAILABLE', 'database down'));
    await expect(cache.get('ns', 'a')).rejects.toMatchObject({ code: 'SERVICE_UNAVAILABLE' });
    cache.close();
  });
});

describe('watch cache, database behind it', () => {
  it('reads Postgres when the cache is ahead of the database (a restored backup)', async () => {
    const entries = [entry('a', 1, 1)];
    let head = 5;
    const store = {
      revisions: async (names: readonly string[]) => new Map(names.map((name) => [name, head])),
      snapshot: async (namespace: string) => ({ namespace, revision: 5, entries }),
      get: async () => entry('a', 99, 3),
    } as unknown as ConfigStore;
    const feed = { watch: async () => createWatchQueue<DeliveredChange>({ maxQueued: 10, lowWater: 1 }).iterator } as unknown as ChangeFeed;
    const sources: string[] = [];
    const cache = createWatchCache({ store, feed, validate: { namespace() {}, key() {}, prefix() {} }, onRead: (source) => sources.push(source) });
    expect(await cache.get('ns', 'a')).toMatchObject({ value: 1 });
    head = 3;
    expect(await cache.get('ns', 'a')).toMatchObject({ value: 99 });
    expect(sources).toEqual(['cache', 'store']);
    cache.close();
  });
});
