import type { Logger } from '../logger.js';
import { isGatewayError } from '../errors.js';
import { entryAfter, type ChangeFeed, type ConfigStore, type DeliveredChange, type Entry, type Snapshot } from './types.js';
import type { Validator } from './validation.js';

/** Where a read was answered from. */
export type ReadSource = 'cache' | 'store';

/** Options of the watch cache. */
export interface WatchCacheOptions {
  store: ConfigStore;
  feed: ChangeFeed;
  validate: Pick<Validator, 'namespace' | 'key' | 'prefix'>;
  /**
   * How long a read waits for the feed to bring the cache up to the committed revision it found
   * before it reads Postgres instead. @default 1_000 (1 s)
   */
  catchUpMs?: number;
  /** A namespace nobody read for this long is dropped from memory (and unfollowed). @default 300_000 (5 min) */
  idleMs?: number;
  logger?: Pick<Logger, 'warn' | 'debug'>;
  /** Called once per read with where it was answered from (metrics). */
  onRead?: (source: ReadSource) => void;
}

/** The reads the cache answers: the store's `get` and `snapshot`, same arguments, same results. */
export type CachedReads = Pick<ConfigStore, 'get' | 'snapshot'>;

/** The watch cache, and a way to stop it. */
export interface WatchCache extends CachedReads {
  /** Namespaces held in memory now, with the revision each is at. */
  stats(): { namespaces: Record<string, number> };
  close(): void;
}

/** One namespace in memory: every live entry at `revision`, kept by a watch on the feed. */
interface View {
  namespace: string;
  ready: Promise<void>;
  entries: Map<string, Entry>;
  /** Entries sorted by key (what `snapshot` returns), rebuilt on the first read after a change. */
  sorted: Entry[] | null;
  revision: number;
  /** Reads waiting for the view to reach a revision. */
  waiters: Set<{ revision: number; wake: (reached: boolean) => void }>;
  lastReadAt: number;
  dropped: boolean;
  source: AsyncIterableIterator<DeliveredChange> | null;
}

const byKey = (a: Entry, b: Entry) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);

/**
 * The watch cache (kube-apiserver's model, DESIGN.md "Propagation" 5): an in-memory view of each
 * namespace read here, built from one snapshot and kept by a watch on the gap-free change feed,
 * that answers `get` and `snapshot` exactly as the store would — the same `Entry` objects, secret
 * values included, so the callers' redaction (GraphQL `Entry.value`, OFREP) is the same path.
 *
 * A read is answered from memory only once the view is known to be at least at the namespace's
 * committed revision when the read arrived: a one-row revision read, issued after the read
 * arrived and shared by every read waiting for one (so a thousand reads cost one or two), then, if
 * the view is behind, a short wait for the feed to bring it up. Anything else — the view not built,
 * the revision read failing, the feed not catching up in time — reads Postgres, as before. So a
 * read never returns a value older than a write whose answer had arrived before it was sent, on
 * any gateway, and a writer reads its own writes.
 *
 * @example
 * const cache = createWatchCache({ store, feed, validate });
 * const reads = { ...store, get: cache.get, snapshot: cache.snapshot }; // give resolvers `reads`
 */
export function createWatchCache({
  store,
  feed,
  validate,
  catchUpMs = 1_000, // 1 s
  idleMs = 300_000, // 5 min
  logger,
  onRead,
}: WatchCacheOptions): WatchCache {
  const views = new Map<string, View>();
  let closed = false;
  /*
   * Committed revisions, read for every namespace with a waiting read in one query: one in
   * flight, and one gathering the reads that arrive meanwhile (it starts when the first ends, so
   * every read is served by a query issued after it arrived). However many reads arrive, the
   * database sees at most one such query per round trip.
   */
  interface Check {
    names: Set<string>;
    result: Promise<Map<string, number>>;
    run: () => void;
  }
  let checking = false;
  let gathering: Check | null = null;
  const launch = () => {
    const check = gathering;
    if (!check) return;
    gathering = null;
    checking = true;
    check.run();
    void check.result.then(
      () => {},
      () => {},
    ).finally(() => {
      checking = false;
      launch();
    });
  };
  const committed = async (namespace: string): Promise<number> => {
    if (!gathering) {
      const names = new Set<string>();
      let run!: () => void;
      const result = new Promise<Map<string, number>>((resolve, reject) => {
        run = () => store.revisions([...names]).then(resolve, reject);
      });
      gathering = { names, result, run };
    }
    const check = gathering;
    check.names.add(namespace);
    if (!checking) launch();
    return (await check.result).get(namespace) ?? 0;
  };

  const drop = (view: View) => {
    if (view.dropped) return;
    view.dropped = true;
    if (views.get(view.namespace) === view) views.delete(view.namespace);
    for (const waiter of view.waiters) waiter.wake(false);
    view.waiters.clear();
    void view.source?.return?.();
  };

  const apply = (view: View, staged: DeliveredChange[]) => {
    for (const change of staged) {
      if (change.op === 'DELETE') view.entries.delete(change.key);
      else view.entries.set(change.key, entryAfter(change));
    }
    view.sorted = null;
    view.revision = staged[staged.length - 1]!.revision;
    for (const waiter of view.waiters) {
      if (view.revision >= waiter.revision) {
        view.waiters.delete(waiter);
        waiter.wake(true);
      }
    }
  };

  /** Applies the feed's changes a whole revision at a time, until the watch ends. */
  const keep = async (view: View, source: AsyncIterableIterator<DeliveredChange>) => {
    let staged: DeliveredChange[] = [];
    try {
      for (;;) {
        const next = await source.next();
        if (next.done || view.dropped) break;
        const change = next.value;
        // Revisions the snapshot already holds (the feed may have been behind it).
        if (change.revision <= view.revision) continue;
        staged.push(change);
        if (change.lastInRevision === false) continue;
        apply(view, staged);
        staged = [];
      }
    } catch (error) {
      // History compacted or rewound under the feed, or the feed is closing: rebuild on next read.
      logger?.warn({ namespace: view.namespace, err: isGatewayError(error) ? error.code : (error as Error).message }, 'watch cache dropped a namespace');
    } finally {
      drop(view);
    }
  };

  const build = (namespace: string): View => {
    const view: View = {
      namespace,
      ready: Promise.resolve(),
      entries: new Map(),
      sorted: null,
      revision: -1,
      waiters: new Set(),
      lastReadAt: Date.now(),
      dropped: false,
      source: null,
    };
    views.set(namespace, view);
    view.ready = (async () => {
      try {
        // Watch first, then read: every revision after the snapshot comes through the watch.
        const source = await feed.watch(namespace, { internal: true });
        view.source = source;
        if (view.dropped) {
          void source.return?.();
          throw new Error('dropped');
        }
        const snapshot = await store.snapshot(namespace);
        for (const entry of snapshot.entries) view.entries.set(entry.key, entry);
        view.revision = snapshot.revision;
        void keep(view, source);
      } catch (error) {
        drop(view);
        throw error;
      }
    })();
    view.ready.catch(() => {});
    return view;
  };

  /** Waits until `view` is at `revision` (true), or gives up after `catchUpMs` (false). */
  const reach = (view: View, revision: number): Promise<boolean> => {
    if (view.revision >= revision) return Promise.resolve(true);
    if (view.dropped) return Promise.resolve(false);
    return new Promise((resolve) => {
      const waiter = {
        revision,
        wake: (reached: boolean) => {
          clearTimeout(timer);
          resolve(reached);
        },
      };
      const timer = setTimeout(() => {
        view.waiters.delete(waiter);
        resolve(false);
      }, catchUpMs);
      timer.unref();
      view.waiters.add(waiter);
    });
  };

  /**
   * The namespace's view once it is provably current for a read arriving now, or null (read the
   * store). Throws what the revision read threw: the store's read would meet the same database.
   */
  const current = async (namespace: string): Promise<View | null> => {
    if (closed) return null;
    const view = views.get(namespace) ?? build(namespace);
    view.lastReadAt = Date.now();
    const revision = committed(namespace);
    const built = view.ready.then(
      () => true,
      () => false,
    );
    const [ok, at] = await Promise.all([built, revision]);
    if (!ok) return null;
    // Ahead of the database: a write raced the check (fine, but unproven here) or the database
    // went back in time (a restored backup): either way only Postgres knows.
    if (view.revision > at) return null;
    return (await reach(view, at)) ? view : null;
  };

  const sweep = setInterval(() => {
    const now = Date.now();
    for (const view of views.values()) if (now - view.lastReadAt > idleMs) drop(view);
  }, Math.max(1_000, Math.floor(idleMs / 4)));
  sweep.unref();

  return {
    async get(namespace, key) {
      validate.namespace(namespace);
      validate.key(key);
      const view = await current(namespace);
      if (!view) {
        onRead?.('store');
        return store.get(namespace, key);
      }
      onRead?.('cache');
      return view.entries.get(key) ?? null;
    },

    async snapshot(namespace, prefix): Promise<Snapshot> {
      validate.namespace(namespace);
      if (prefix) validate.prefix(prefix);
      const view = await current(namespace);
      if (!view) {
        onRead?.('store');
        return store.snapshot(namespace, prefix);
      }
      onRead?.('cache');
      view.sorted ??= [...view.entries.values()].sort(byKey);
      const entries = prefix ? view.sorted.filter((entry) => entry.key.startsWith(prefix)) : view.sorted.slice();
      return { namespace, revision: view.revision, entries };
    },

    stats() {
      const namespaces: Record<string, number> = {};
      for (const view of views.values()) if (view.revision >= 0) namespaces[view.namespace] = view.revision;
      return { namespaces };
    },

    close() {
      closed = true;
      clearInterval(sweep);
      for (const view of [...views.values()]) drop(view);
    },
  };
}
