import type { Tracer } from '@opentelemetry/api';
import { fromChangeMessage } from '../core/change-message.js';
import { busOrigin, localOrigin, startDelivery, traceRepair, type DeliveryOrigin } from '../core/tracing.js';
import type {
  Change,
  ChangeBus,
  ChangeFeed,
  ChangeMessage,
  ConfigStore,
  DeliveredChange,
  FeedStats,
  WatchOptions,
  WriteResult,
} from '../core/types.js';
import { GatewayError, badInput, isGatewayError, toGatewayError } from '../errors.js';
import type { Logger } from '../logger.js';

/** Why a namespace was read from history instead of the live stream. */
export type RepairReason = 'gap' | 'reconnect' | 'periodic';

/** Options of the change feed. */
export interface ChangeFeedOptions {
  store: ConfigStore;
  bus: ChangeBus;
  /** How often watched namespaces' revisions are compared with Postgres. @default 2_000 (2 s) */
  repairIntervalMs?: number;
  /**
   * How long the periodic check waits for a change it found missing to arrive over the bus
   * before it reads history. @default 100 (100 ms)
   */
  periodicGraceMs?: number;
  /** Revisions read from history per query (repair and resume replay). @default 500 */
  pageSize?: number;
  /**
   * Longest one database step of the feed may take (the periodic revision check, a history page
   * of a repair, a read of omitted values) before it counts as failed; the step is then retried
   * with backoff, so a slow or hung query never holds up a namespace or the next check.
   * @default Math.max(500, repairIntervalMs)
   */
  stepTimeoutMs?: number;
  /**
   * Changes one subscriber may have queued but not consumed. A subscriber beyond it is ended with
   * `SERVICE_UNAVAILABLE` (it resumes with `sinceRevision`) so it cannot hold up anyone else.
   * @default 10_000
   */
  maxQueuedChanges?: number;
  /** Out-of-order revisions held per namespace while a gap is repaired. @default 10_000 */
  maxPendingRevisions?: number;
  /** How long a namespace nobody watches keeps its bus subscription. @default 10_000 (10 s) */
  idleUnsubscribeMs?: number;
  logger?: Pick<Logger, 'warn' | 'info' | 'debug' | 'error'>;
  /** Called after each repair that delivered history, with the number of revisions it delivered. */
  onRepair?: (reason: RepairReason, revisions: number) => void;
  /**
   * Called once per change delivered to a watched namespace (not per subscription), e.g. to
   * observe propagation delay from `changedAt`.
   */
  onDeliver?: (change: DeliveredChange) => void;
  /**
   * Traces each revision handed to this feed's watchers, as a child of its writer's publish (bus)
   * or request (local), or of a repair (history): docs/TRACING.md. @default undefined (off)
   */
  tracer?: Tracer;
}

/** A revision received live whose values may still have to be read from the store. */
interface PendingRevision {
  revision: number;
  changes: Array<Change & { valueOmitted?: boolean }>;
  needsValues: boolean;
  /** Set only when tracing: the parent of its delivery span. */
  origin?: DeliveryOrigin;
}

/** One revision's changes as delivered; the objects are shared by every subscription. */
interface Batch {
  revision: number;
  /** The last is marked `lastInRevision`, the others are not: what a watcher without a filter gets. */
  changes: readonly DeliveredChange[];
  /**
   * Marked copies of earlier changes, by index, for filters whose match ends the revision there.
   * Made on first need and shared like the changes, so a filter costs one copy per batch, not one
   * per watcher, and equal watchers still hand out the same objects.
   */
  endsAt: Map<number, DeliveredChange> | null;
}

interface Watcher {
  /** Last revision handed to this subscription (changes at or below it are never offered again). */
  cursor: number;
  /** While replaying history, live batches wait here. */
  buffer: Batch[] | null;
  bufferedChanges: number;
  offer(batch: Batch): void;
  fail(error: GatewayError): void;
  finish(): void;
}

interface WatchHandle {
  watcher: Watcher;
  iterator: AsyncIterableIterator<DeliveredChange>;
  /** Resolves once the consumer has room for another page of history (or the watch ended). */
  space(): Promise<void>;
  /** Queues history changes (revision > cursor) as replayed. */
  replay(changes: readonly Change[]): void;
  /** Ends the replay: queues buffered live batches newer than the last replayed revision. */
  goLive(): void;
  end(): void;
}

interface NamespaceState {
  name: string;
  ready: Promise<void>;
  initialized: boolean;
  /** Last revision delivered to subscriptions. */
  delivered: number;
  pending: Map<number, PendingRevision>;
  /** An async step (value read or repair) is running; it pumps again when done. */
  busy: boolean;
  repairWanted: RepairReason | null;
  /** The database went back in time (restore): no repair until the next periodic check. */
  repairBlocked: boolean;
  /** Consecutive failed database steps of this namespace; drives its backoff. */
  failures: number;
  /** No database step of this namespace before this time (ms since epoch). */
  retryAt: number;
  retryTimer: NodeJS.Timeout | null;
  watchers: Set<Watcher>;
  unsubscribe: (() => Promise<void>) | null;
  idleTimer: NodeJS.Timeout | null;
}

/**
 * Per-process fan-out of namespace changes, gap-free and in revision order. One bus subscription
 * per watched namespace; each message is decoded once and its change objects are shared by every
 * matching subscription. Gaps, bus reconnects and a periodic revision check are repaired from the
 * store's history.
 *
 * @example
 * const feed = createChangeFeed({ store, bus, repairIntervalMs: config.repairIntervalMs });
 * for await (const change of await feed.watch('demo', { prefix: 'ai.' })) apply(change);
 */
export function createChangeFeed({
  store,
  bus,
  repairIntervalMs = 2_000, // 2 s
  periodicGraceMs = 100, // 100 ms
  pageSize = 500,
  stepTimeoutMs = Math.max(500, repairIntervalMs),
  maxQueuedChanges = 10_000,
  maxPendingRevisions = 10_000,
  idleUnsubscribeMs = 10_000, // 10 s
  logger,
  onRepair,
  onDeliver,
  tracer,
}: ChangeFeedOptions): ChangeFeed {
  // A resume replay is paced by its consumer and must never trip the overflow meant for live
  // changes: pages of at most half the queue, fetched when the queue is at most a quarter full.
  const replayPageSize = Math.max(1, Math.min(pageSize, Math.floor(maxQueuedChanges / 2)));
  const replayLowWater = Math.floor(replayPageSize / 2);
  const namespaces = new Map<string, NamespaceState>();
  const repairs: Record<RepairReason, number> = { gap: 0, reconnect: 0, periodic: 0 };
  let subscribers = 0;
  let lastMessageAt: number | null = null;
  let closed = false;
  let checking = false;
  /** Consecutive failed periodic checks: the next one comes sooner than the interval. */
  let checkFailures = 0;

  /** Retry delay after `failures` consecutive failures: 100 ms doubling, never past the check interval. */
  const backoffMs = (failures: number) => Math.min(repairIntervalMs, 100 * 2 ** Math.min(failures - 1, 16)) * (0.75 + Math.random() / 4);

  /**
   * A database step bounded by `stepTimeoutMs`: past it the step counts as failed (its late result
   * is ignored), so the namespace and the next check move on.
   */
  const bounded = <T>(step: Promise<T>, what: string): Promise<T> => {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new GatewayError('SERVICE_UNAVAILABLE', `${what} took longer than ${stepTimeoutMs} ms`)),
        stepTimeoutMs,
      );
      timer.unref();
    });
    step.catch(() => {}); // an abandoned step may still fail later: nobody is listening then
    return Promise.race([step, timeout]).finally(() => clearTimeout(timer));
  };

  const stepSucceeded = (ns: NamespaceState) => {
    ns.failures = 0;
    ns.retryAt = 0;
  };
  /** Backs the namespace off; a timer pumps it again when the pause is over. */
  const stepFailed = (ns: NamespaceState) => {
    ns.failures++;
    ns.retryAt = Date.now() + backoffMs(ns.failures);
    scheduleRetry(ns);
  };
  const scheduleRetry = (ns: NamespaceState) => {
    if (ns.retryTimer || closed) return;
    ns.retryTimer = setTimeout(() => {
      ns.retryTimer = null;
      if (namespaces.get(ns.name) === ns) pump(ns);
    }, Math.max(0, ns.retryAt - Date.now()));
    ns.retryTimer.unref();
  };

  // ---------------------------------------------------------------- namespace state

  const ensureNamespace = (name: string): NamespaceState => {
    const existing = namespaces.get(name);
    if (existing) {
      if (existing.idleTimer) {
        clearTimeout(existing.idleTimer);
        existing.idleTimer = null;
      }
      return existing;
    }
    const ns: NamespaceState = {
      name,
      ready: Promise.resolve(),
      initialized: false,
      delivered: 0,
      pending: new Map(),
      busy: false,
      repairWanted: null,
      repairBlocked: false,
      failures: 0,
      retryAt: 0,
      retryTimer: null,
      watchers: new Set(),
      unsubscribe: null,
      idleTimer: null,
    };
    namespaces.set(name, ns);
    ns.ready = (async () => {
      await subscribeBus(ns);
      // Read only after the bus acknowledged the subscription: anything committed after this read
      // arrives on the bus, anything before is in the revision; nothing falls in between.
      let revision: number;
      try {
        revision = (await bounded(store.revisions([name]), 'reading the namespace revision')).get(name) ?? 0;
      } catch (error) {
        if (namespaces.get(name) === ns) namespaces.delete(name);
        void ns.unsubscribe?.().catch(() => {});
        throw toGatewayError(error);
      }
      ns.delivered = revision;
      ns.initialized = true;
      pump(ns);
    })();
    // A failed start is answered to the watchers awaiting it; nobody else needs to hear of it.
    ns.ready.catch(() => {});
    return ns;
  };

  const subscribeBus = async (ns: NamespaceState) => {
    try {
      const unsubscribe = await bus.subscribe(ns.name, (message) => onBusMessage(ns, message));
      if (namespaces.get(ns.name) !== ns || closed) {
        await unsubscribe();
        return;
      }
      ns.unsubscribe = unsubscribe;
    } catch (error) {
      // Without the bus the namespace is still served, more slowly, by the periodic check, which
      // also retries the subscription.
      logger?.warn({ namespace: ns.name, err: (error as Error).message }, 'bus subscribe failed; relying on repair');
    }
  };

  const releaseIfIdle = (ns: NamespaceState) => {
    if (ns.watchers.size > 0 || ns.idleTimer || closed) return;
    ns.idleTimer = setTimeout(() => {
      ns.idleTimer = null;
      if (ns.watchers.size > 0 || namespaces.get(ns.name) !== ns) return;
      namespaces.delete(ns.name);
      void ns.unsubscribe?.().catch(() => {});
    }, idleUnsubscribeMs);
    ns.idleTimer.unref();
  };

  // ---------------------------------------------------------------- live input

  const accept = (ns: NamespaceState, incoming: PendingRevision) => {
    if (ns.initialized && incoming.revision <= ns.delivered) return; // seen already (own write echoed, repair)
    const held = ns.pending.get(incoming.revision);
    // The local commit carries every value; prefer it over a bus copy with values omitted.
    if (held && !held.needsValues) return;
    if (!held && ns.pending.size >= maxPendingRevisions) {
      ns.repairWanted ??= 'gap';
      return;
    }
    ns.pending.set(incoming.revision, incoming);
    pump(ns);
  };

  const onBusMessage = (ns: NamespaceState, message: ChangeMessage) => {
    if (closed || namespaces.get(ns.name) !== ns) return;
    if (ns.initialized && message.revision <= ns.delivered) return;
    const changes = fromChangeMessage(message);
    accept(ns, {
      revision: message.revision,
      changes,
      needsValues: changes.some((change) => change.valueOmitted),
      origin: tracer ? busOrigin(message.trace) : undefined,
    });
  };

  // ---------------------------------------------------------------- ordered delivery

  const toBatch = (revision: number, changes: ReadonlyArray<Change & { valueOmitted?: boolean }>, replayed: boolean): Batch => ({
    revision,
    changes: changes.map((change, index) => ({
      namespace: change.namespace,
      key: change.key,
      op: change.op,
      version: change.version,
      revision: change.revision,
      value: change.value,
      changedAt: change.changedAt,
      changedBy: change.changedBy,
      reason: change.reason,
      traceId: change.traceId,
      secret: change.secret,
      description: change.description,
      schema: change.schema,
      replayed,
      lastInRevision: index === changes.length - 1,
    })),
    endsAt: null,
  });

  /** The change at `index` marked as the last of its revision (for a watcher whose filter ends there). */
  const markedAt = (batch: Batch, index: number): DeliveredChange => {
    const change = batch.changes[index]!;
    if (change.lastInRevision) return change;
    batch.endsAt ??= new Map();
    let marked = batch.endsAt.get(index);
    if (!marked) {
      marked = { ...change, lastInRevision: true };
      batch.endsAt.set(index, marked);
    }
    return marked;
  };

  const deliver = (ns: NamespaceState, batch: Batch, origin: DeliveryOrigin | undefined) => {
    const span = tracer && origin ? startDelivery(tracer, batch.revision, batch.changes, ns.watchers.size, origin) : null;
    ns.delivered = batch.revision;
    lastMessageAt = Date.now();
    if (onDeliver) for (const change of batch.changes) onDeliver(change);
    for (const watcher of ns.watchers) watcher.offer(batch);
    span?.end();
  };

  /**
   * Delivers what can be delivered in order; starts one async step (value read or repair) when
   * needed and is called again when it ends. Synchronous on the hot path.
   */
  const pump = (ns: NamespaceState): void => {
    if (ns.busy || !ns.initialized || closed) return;
    /** Whether the namespace may start a database step now (else its retry timer pumps later). */
    const mayQuery = () => {
      if (Date.now() >= ns.retryAt) return true;
      scheduleRetry(ns);
      return false;
    };
    for (;;) {
      const next = ns.pending.get(ns.delivered + 1);
      if (next) {
        if (next.needsValues) {
          if (!mayQuery()) return;
          ns.pending.delete(next.revision);
          ns.busy = true;
          bounded(fillValues(ns, next), 'reading omitted values')
            .then(
              (filled) => {
                stepSucceeded(ns);
                if (filled && next.revision === ns.delivered + 1) deliver(ns, toBatch(next.revision, filled, false), next.origin);
                else ns.repairWanted ??= 'gap';
              },
              (error: unknown) => {
                logger?.warn({ namespace: ns.name, revision: next.revision, err: (error as Error).message }, 'reading omitted values failed; retrying with backoff');
                if (next.revision > ns.delivered && !ns.pending.has(next.revision)) ns.pending.set(next.revision, next);
                stepFailed(ns);
              },
            )
            .finally(() => {
              ns.busy = false;
              pump(ns);
            });
          return;
        }
        ns.pending.delete(next.revision);
        deliver(ns, toBatch(next.revision, next.changes, false), next.origin);
        continue;
      }
      for (const revision of ns.pending.keys()) if (revision <= ns.delivered) ns.pending.delete(revision);
      if (ns.pending.size > 0) ns.repairWanted ??= 'gap';
      if (!ns.repairWanted || ns.repairBlocked || !mayQuery()) return;
      const reason = ns.repairWanted;
      ns.repairWanted = null;
      ns.busy = true;
      repair(ns, reason).finally(() => {
        ns.busy = false;
        pump(ns);
      });
      return;
    }
  };

  const fillValues = async (ns: NamespaceState, pending: PendingRevision): Promise<Change[] | null> => {
    const page = await store.changes(ns.name, pending.revision - 1, { limit: 1 });
    const stored = page.changes.filter((change) => change.revision === pending.revision);
    if (stored.length === 0) return null;
    const byKey = new Map(stored.map((change) => [change.key, change]));
    return pending.changes.map((change) => (change.valueOmitted ? (byKey.get(change.key) ?? change) : change));
  };

  const repair = async (ns: NamespaceState, reason: RepairReason): Promise<void> => {
    const from = ns.delivered;
    const traced = tracer ? traceRepair(tracer, ns.name, reason, from) : null;
    let failure: unknown;
    try {
      // Bounded: a namespace far behind is caught up over several pumps, never in one endless loop.
      for (let pageCount = 0; pageCount < 1_000 && !closed; pageCount++) {
        const page = await bounded(store.changes(ns.name, ns.delivered, { limit: pageSize }), 'reading history');
        let index = 0;
        while (index < page.changes.length) {
          const revision = page.changes[index]!.revision;
          let end = index;
          while (end < page.changes.length && page.changes[end]!.revision === revision) end++;
          if (revision > ns.delivered) deliver(ns, toBatch(revision, page.changes.slice(index, end), true), traced?.originOf(ns.pending.get(revision)?.origin));
          index = end;
        }
        if (!page.hasMore) break;
      }
      stepSucceeded(ns);
    } catch (error) {
      failure = error;
      if (isGatewayError(error) && error.code === 'REVISION_COMPACTED') {
        // History no longer reaches back to what was delivered: subscribers must relist.
        logger?.error({ namespace: ns.name, revision: ns.delivered }, 'repair impossible: history compacted');
        for (const watcher of [...ns.watchers]) watcher.fail(error);
        try {
          ns.delivered = (await bounded(store.revisions([ns.name]), 'reading the namespace revision')).get(ns.name) ?? ns.delivered;
          ns.pending.clear();
        } catch {
          ns.repairWanted ??= reason;
          stepFailed(ns);
        }
      } else if (isGatewayError(error) && error.code === 'REVISION_AHEAD') {
        // The database went back in time (restore): nothing to repair from; subscribers relist.
        logger?.error({ namespace: ns.name, revision: ns.delivered }, 'delivered revision is ahead of the database');
        for (const watcher of [...ns.watchers]) watcher.fail(error);
        ns.pending.clear();
        ns.repairBlocked = true;
      } else {
        logger?.warn({ namespace: ns.name, reason, err: (error as Error).message }, 'repair failed; retrying with backoff');
        ns.repairWanted ??= reason;
        stepFailed(ns);
      }
    } finally {
      traced?.end(ns.delivered, failure);
      const revisions = ns.delivered - from;
      if (revisions > 0) {
        repairs[reason]++;
        logger?.info({ namespace: ns.name, reason, from, to: ns.delivered }, 'repaired from history');
        onRepair?.(reason, revisions);
      }
    }
  };

  // ---------------------------------------------------------------- periodic check, reconnect

  /** One periodic check; resolves false when the database did not answer (bounded by `stepTimeoutMs`). */
  const check = async (): Promise<boolean> => {
    if (checking || closed) return true;
    const watched = [...namespaces.values()].filter((ns) => ns.initialized);
    if (watched.length === 0) return true;
    checking = true;
    try {
      for (const ns of watched) if (!ns.unsubscribe) void subscribeBus(ns);
      const revisions = await bounded(store.revisions(watched.map((ns) => ns.name)), 'the periodic revision check');
      for (const ns of watched) {
        ns.repairBlocked = false;
        // The database answered: a namespace backing off from failed steps may try again now.
        ns.retryAt = 0;
        const revision = revisions.get(ns.name) ?? 0;
        if (revision <= ns.delivered) {
          pump(ns);
          continue;
        }
        // A change committed a moment ago is usually still on its way over the bus: give it a
        // short grace before reading history, so that it arrives live and the store is spared.
        setTimeout(() => {
          if (closed || namespaces.get(ns.name) !== ns) return;
          if (ns.delivered < revision) ns.repairWanted ??= 'periodic';
          pump(ns);
        }, periodicGraceMs).unref();
      }
      return true;
    } catch (error) {
      logger?.warn({ err: (error as Error).message }, 'periodic revision check failed; retrying with backoff');
      return false;
    } finally {
      checking = false;
    }
  };
  /*
   * Self-scheduling rather than setInterval: a check that failed is retried after a short backoff
   * (100 ms doubling, never past the interval), so the first check after the database returns
   * comes well within the interval; a successful one keeps the cadence from its start.
   */
  let checkTimer: NodeJS.Timeout | null = null;
  const scheduleCheck = (delayMs: number) => {
    if (closed) return;
    checkTimer = setTimeout(() => {
      checkTimer = null;
      const startedAt = Date.now();
      void check().then((ok) => {
        checkFailures = ok ? 0 : checkFailures + 1;
        scheduleCheck(ok ? Math.max(0, startedAt + repairIntervalMs - Date.now()) : backoffMs(checkFailures));
      });
    }, delayMs);
    checkTimer.unref();
  };
  scheduleCheck(repairIntervalMs);

  const stopReconnect = bus.onReconnect(() => {
    for (const ns of namespaces.values()) {
      if (!ns.unsubscribe) void subscribeBus(ns);
      ns.repairWanted = 'reconnect';
      ns.repairBlocked = false;
      pump(ns);
    }
  });

  // ---------------------------------------------------------------- subscriptions

  const createWatcher = (
    ns: NamespaceState,
    match: ((key: string) => boolean) | null,
    cursor: number,
    replaying: boolean,
  ): WatchHandle => {
    let queue: DeliveredChange[] = [];
    let head = 0;
    let waiting: ((result: IteratorResult<DeliveredChange>) => void) | null = null;
    let failWaiting: ((error: unknown) => void) | null = null;
    let spaceWaiter: (() => void) | null = null;
    let ended = false;
    let error: GatewayError | null = null;
    /** Revision whose changes are being replayed (one revision may hold several changes). */
    let replayingRevision = -1;

    const queued = () => queue.length - head;

    const release = () => {
      if (ns.watchers.delete(watcher)) {
        subscribers--;
        releaseIfIdle(ns);
      }
      spaceWaiter?.();
      spaceWaiter = null;
    };

    const push = (change: DeliveredChange, live = true) => {
      if (waiting) {
        const resolve = waiting;
        waiting = null;
        failWaiting = null;
        resolve({ value: change, done: false });
        return;
      }
      queue.push(change);
      if (live && queued() > maxQueuedChanges) {
        watcher.fail(
          new GatewayError('SERVICE_UNAVAILABLE', 'subscriber too slow: changes were not consumed in time; resume with sinceRevision', {
            namespace: ns.name,
          }),
        );
      }
    };

    const enqueue = (batch: Batch) => {
      if (batch.revision <= watcher.cursor) return;
      watcher.cursor = batch.revision;
      const { changes } = batch;
      if (match === null) {
        for (const change of changes) {
          if (ended) return;
          push(change);
        }
        return;
      }
      // The filter's last match ends the revision for this watcher; every key is matched once.
      let last = changes.length - 1;
      while (last >= 0 && !match(changes[last]!.key)) last--;
      for (let index = 0; index < last; index++) {
        if (ended) return;
        if (match(changes[index]!.key)) push(changes[index]!);
      }
      if (last >= 0 && !ended) push(markedAt(batch, last));
    };

    const watcher: Watcher = {
      cursor,
      buffer: replaying ? [] : null,
      bufferedChanges: 0,
      offer(batch) {
        if (ended) return;
        if (watcher.buffer) {
          watcher.buffer.push(batch);
          watcher.bufferedChanges += batch.changes.length;
          if (watcher.bufferedChanges > maxQueuedChanges) {
            watcher.fail(new GatewayError('SERVICE_UNAVAILABLE', 'too many live changes during replay; resume with sinceRevision', { namespace: ns.name }));
          }
          return;
        }
        enqueue(batch);
      },
      fail(failure) {
        if (ended) return;
        ended = true;
        error = failure;
        watcher.buffer = null;
        release();
        if (waiting && queued() === 0) {
          const reject = failWaiting!;
          waiting = null;
          failWaiting = null;
          error = null;
          reject(failure);
        }
      },
      finish() {
        if (ended) return;
        ended = true;
        watcher.buffer = null;
        release();
        queue = [];
        head = 0;
        if (waiting) {
          const resolve = waiting;
          waiting = null;
          failWaiting = null;
          resolve({ value: undefined, done: true });
        }
      },
    };

    const iterator: AsyncIterableIterator<DeliveredChange> = {
      next() {
        if (queued() > 0) {
          const value = queue[head]!;
          queue[head++] = undefined as unknown as DeliveredChange;
          if (head > 1_024 && head * 2 > queue.length) {
            queue = queue.slice(head);
            head = 0;
          }
          if (spaceWaiter && queued() <= replayLowWater) {
            const wake = spaceWaiter;
            spaceWaiter = null;
            wake();
          }
          return Promise.resolve({ value, done: false });
        }
        if (error) {
          const failure = error;
          error = null;
          return Promise.reject(failure);
        }
        if (ended) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve, reject) => {
          waiting = resolve;
          failWaiting = reject;
          if (spaceWaiter) {
            const wake = spaceWaiter;
            spaceWaiter = null;
            wake();
          }
        });
      },
      return() {
        watcher.finish();
        return Promise.resolve({ value: undefined, done: true });
      },
      throw(reason?: unknown) {
        watcher.finish();
        return Promise.reject(reason);
      },
      [Symbol.asyncIterator]() {
        return iterator;
      },
    };

    ns.watchers.add(watcher);
    subscribers++;

    return {
      watcher,
      iterator,
      space() {
        if (ended || queued() <= replayLowWater) return Promise.resolve();
        return new Promise<void>((resolve) => {
          spaceWaiter = resolve;
        });
      },
      replay(changes) {
        // History goes straight to the queue; live batches wait in the buffer until goLive. The
        // page is already filtered and never splits a revision, so it shows where each one ends.
        for (let index = 0; index < changes.length; index++) {
          if (ended) return;
          const change = changes[index]!;
          if (change.revision <= watcher.cursor && !(change.revision === watcher.cursor && replayingRevision === change.revision)) continue;
          replayingRevision = change.revision;
          watcher.cursor = change.revision;
          push({ ...change, replayed: true, lastInRevision: changes[index + 1]?.revision !== change.revision }, false);
        }
      },
      goLive() {
        const buffered = watcher.buffer ?? [];
        watcher.buffer = null;
        watcher.bufferedChanges = 0;
        for (const batch of buffered) enqueue(batch);
      },
      end: () => watcher.finish(),
    };
  };

  return {
    async watch(namespace, options: WatchOptions) {
      if (closed) throw new GatewayError('SERVICE_UNAVAILABLE', 'the gateway is shutting down');
      const { keys, prefix, sinceRevision } = options;
      if (sinceRevision !== undefined && sinceRevision !== null && (!Number.isSafeInteger(sinceRevision) || sinceRevision < 0)) {
        throw badInput('sinceRevision must be a non-negative integer', { field: 'sinceRevision' });
      }
      const keySet = keys && keys.length > 0 ? new Set(keys) : null;
      const keyPrefix = prefix ? prefix : null;
      const match =
        keySet === null && keyPrefix === null
          ? null
          : (key: string) => (keySet !== null && keySet.has(key)) || (keyPrefix !== null && key.startsWith(keyPrefix));
      const filter = { keys: keySet ? [...keySet] : null, prefix: keyPrefix };

      const ns = ensureNamespace(namespace);
      try {
        await ns.ready;
      } catch (error) {
        releaseIfIdle(ns);
        throw toGatewayError(error);
      }
      if (closed) throw new GatewayError('SERVICE_UNAVAILABLE', 'the gateway is shutting down');

      const since = sinceRevision ?? null;
      if (since === null || since === ns.delivered) {
        return createWatcher(ns, match, ns.delivered, false).iterator;
      }

      // Buffer live changes from now on, then read history: the buffer starts at or before the
      // revision the first page sees, so replay + buffer covers every revision after `since`.
      const handle = createWatcher(ns, match, since, true);
      const pushReplayed = (changes: readonly Change[]) => handle.replay(changes);
      let page;
      try {
        page = await store.changes(namespace, since, { ...filter, limit: replayPageSize });
      } catch (error) {
        handle.end();
        throw toGatewayError(error);
      }
      pushReplayed(page.changes);
      if (!page.hasMore) {
        handle.goLive();
        return handle.iterator;
      }
      void (async () => {
        try {
          for (let current = page; current.hasMore; ) {
            await handle.space();
            if (!ns.watchers.has(handle.watcher)) return;
            current = await store.changes(namespace, handle.watcher.cursor, { ...filter, limit: replayPageSize });
            pushReplayed(current.changes);
          }
          handle.goLive();
        } catch (error) {
          handle.watcher.fail(toGatewayError(error));
        }
      })();
      return handle.iterator;
    },

    committed(result: WriteResult) {
      const ns = namespaces.get(result.namespace);
      if (!ns || closed || result.changes.length === 0) return;
      accept(ns, { revision: result.revision, changes: result.changes, needsValues: false, origin: tracer ? localOrigin() : undefined });
    },

    position(namespace) {
      const ns = namespaces.get(namespace);
      return ns && ns.initialized && !closed ? ns.delivered : null;
    },

    async follow(namespace) {
      if (closed) return null;
      const ns = ensureNamespace(namespace);
      try {
        await ns.ready;
      } catch {
        return null;
      }
      // Followed but unwatched: released after idleUnsubscribeMs unless a watch arrives.
      releaseIfIdle(ns);
      return ns.initialized && !closed ? ns.delivered : null;
    },

    stats(): FeedStats {
      const revisions: Record<string, number> = {};
      for (const ns of namespaces.values()) if (ns.initialized) revisions[ns.name] = ns.delivered;
      return { revisions, subscribers, repairs: { ...repairs }, lastMessageAt };
    },

    async close() {
      if (closed) return;
      closed = true;
      if (checkTimer) clearTimeout(checkTimer);
      stopReconnect();
      const states = [...namespaces.values()];
      namespaces.clear();
      for (const ns of states) {
        if (ns.idleTimer) clearTimeout(ns.idleTimer);
        if (ns.retryTimer) clearTimeout(ns.retryTimer);
        for (const watcher of [...ns.watchers]) watcher.finish();
      }
      await Promise.allSettled(states.map((ns) => ns.unsubscribe?.()));
    },
  };

}
