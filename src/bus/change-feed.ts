/**
 * The change feed: follows each namespace a watcher asks for (one bus subscription, one revision
 * sequencer, one repairer per namespace, one periodic check for all of them) and hands whole
 * revisions to watchers in order, once. The jobs are in `feed/`: `sequencer.ts` (order, gaps),
 * `repairer.ts` (history reads), `follower.ts` (the periodic check), `watcher.ts` and
 * `watch-queue.ts` (one subscriber), `replay.ts` (resume paging). This file is just over
 * 400 lines because it is the wiring of those pieces around the per-namespace state they share;
 * cutting it further would spread one state object across files.
 */
import { fromChangeMessage } from '../core/change-message.js';
import { busOrigin, localOrigin, startDelivery, type DeliveryOrigin } from '../core/tracing.js';
import type { ChangeFeed, ChangeMessage, ConfigStore, FeedStats, WatchOptions, WriteResult } from '../core/types.js';
import { GatewayError, badInput, toGatewayError } from '../errors.js';
import { toBatch, type Batch, type PendingRevision } from './feed/batch.js';
import { createRevisionChecker, type FollowedNamespace } from './feed/follower.js';
import { createRepairer, type RepairTarget } from './feed/repairer.js';
import { createReplayReader, replayInto } from './feed/replay.js';
import { createSequencer, type RepairReason, type RevisionSequencer } from './feed/sequencer.js';
import { backoffMs, bounded } from './feed/step.js';
import { createWatcher, matcherOf, type Watcher } from './feed/watcher.js';
import type { ChangeFeedOptions } from './feed/options.js';

export type { RepairReason } from './feed/sequencer.js';
export type { ChangeFeedOptions } from './feed/options.js';

/** One followed namespace: its sequencer, its watchers, its bus subscription and its backoff. */
interface NamespaceState extends FollowedNamespace, RepairTarget {
  readonly name: string;
  ready: Promise<void>;
  sequencer: RevisionSequencer<PendingRevision>;
  /** An async step (value read or repair) is running; it pumps again when done. */
  busy: boolean;
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
 * This file follows namespaces and composes the pieces under `./feed/`: the revision sequencer
 * (ordering, gap signals), the repairer (history reads), the revision checker (periodic and
 * reconnect), the watcher and its bounded queue, and the resume replay.
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
  startTimeoutMs = Math.max(5_000, stepTimeoutMs), // 5 s
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

  const following = (ns: NamespaceState) => !closed && namespaces.get(ns.name) === ns;

  const replayStore = createReplayReader(store);

  const repairer = createRepairer({
    store,
    pageSize,
    stepTimeoutMs,
    isClosed: () => closed,
    logger,
    tracer,
    onRepaired: (reason, revisions) => {
      repairs[reason]++;
      onRepair?.(reason, revisions);
    },
  });

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
      sequencer: createSequencer<PendingRevision>({ maxPending: maxPendingRevisions }),
      get started() {
        return ns.sequencer.started;
      },
      get delivered() {
        return ns.sequencer.delivered;
      },
      get subscribed() {
        return ns.unsubscribe !== null;
      },
      busy: false,
      failures: 0,
      retryAt: 0,
      retryTimer: null,
      watchers: new Set(),
      unsubscribe: null,
      idleTimer: null,
      deliver: (batch, origin) => deliver(ns, batch, origin),
      failWatchers(error) {
        for (const watcher of [...ns.watchers]) watcher.fail(error);
      },
      succeeded() {
        ns.failures = 0;
        ns.retryAt = 0;
      },
      failed() {
        // Backs the namespace off; a timer pumps it again when the pause is over.
        ns.failures++;
        ns.retryAt = Date.now() + backoffMs(ns.failures, repairIntervalMs);
        scheduleRetry(ns);
      },
    };
    namespaces.set(name, ns);
    // One start per namespace, shared by every watcher and follower arriving while it runs.
    ns.ready = (async () => {
      await subscribeBus(ns);
      // Read only after the bus acknowledged the subscription: anything committed after this read
      // arrives on the bus, anything before is in the revision; nothing falls in between.
      let revision: number;
      try {
        revision = (await bounded(store.revisions([name]), startTimeoutMs, 'reading the namespace revision')).get(name) ?? 0;
      } catch (error) {
        if (namespaces.get(name) === ns) namespaces.delete(name);
        void ns.unsubscribe?.().catch(() => {});
        throw toGatewayError(error);
      }
      ns.sequencer.start(revision);
      pump(ns);
    })();
    // A failed start is answered to the watchers awaiting it; nobody else needs to hear of it.
    ns.ready.catch(() => {});
    return ns;
  };

  const subscribeBus = async (ns: NamespaceState) => {
    try {
      const unsubscribe = await bus.subscribe(ns.name, (message) => onBusMessage(ns, message));
      if (!following(ns)) {
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
    if (ns.sequencer.offer(incoming) === 'held') pump(ns);
  };

  const onBusMessage = (ns: NamespaceState, message: ChangeMessage) => {
    if (!following(ns)) return;
    if (ns.sequencer.started && message.revision <= ns.sequencer.delivered) return;
    const changes = fromChangeMessage(message);
    accept(ns, {
      revision: message.revision,
      changes,
      needsValues: changes.some((change) => change.valueOmitted),
      origin: tracer ? busOrigin(message.trace) : undefined,
    });
  };

  // ---------------------------------------------------------------- ordered delivery

  const deliver = (ns: NamespaceState, batch: Batch, origin: DeliveryOrigin | undefined) => {
    const span = tracer && origin ? startDelivery(tracer, batch.revision, batch.changes, ns.watchers.size, origin) : null;
    ns.sequencer.advance(batch.revision);
    lastMessageAt = Date.now();
    if (onDeliver) for (const change of batch.changes) onDeliver(change);
    for (const watcher of ns.watchers) watcher.offer(batch);
    span?.end();
  };

  /**
   * Runs the sequencer's steps: delivers what can be delivered in order; starts one async step
   * (value read or repair) when needed and is called again when it ends. Synchronous on the hot
   * path.
   */
  const pump = (ns: NamespaceState): void => {
    if (ns.busy || closed) return;
    const { sequencer } = ns;
    /** Whether the namespace may start a database step now (else its retry timer pumps later). */
    const mayQuery = () => {
      if (Date.now() >= ns.retryAt) return true;
      scheduleRetry(ns);
      return false;
    };
    for (;;) {
      const step = sequencer.next();
      if (step === null) return;
      if (step.kind === 'deliver') {
        sequencer.take(step.pending);
        deliver(ns, toBatch(step.pending.revision, step.pending.changes, false), step.pending.origin);
        continue;
      }
      if (!mayQuery()) return;
      ns.busy = true;
      const done = () => {
        ns.busy = false;
        pump(ns);
      };
      if (step.kind === 'fill') {
        const next = step.pending;
        sequencer.take(next);
        repairer
          .fillValues(ns.name, next)
          .then(
            (filled) => {
              ns.succeeded();
              if (filled && next.revision === sequencer.delivered + 1) deliver(ns, toBatch(next.revision, filled, false), next.origin);
              else sequencer.want('gap');
            },
            (error: unknown) => {
              logger?.warn({ namespace: ns.name, revision: next.revision, err: (error as Error).message }, 'reading omitted values failed; retrying with backoff');
              sequencer.putBack(next);
              ns.failed();
            },
          )
          .finally(done);
        return;
      }
      sequencer.repairing();
      void repairer.repair(ns, step.reason).finally(done);
      return;
    }
  };

  // ---------------------------------------------------------------- periodic check, reconnect

  const checker = createRevisionChecker<NamespaceState>({
    intervalMs: repairIntervalMs,
    stepTimeoutMs,
    graceMs: periodicGraceMs,
    followed: () => namespaces.values(),
    readRevisions: (names) => store.revisions(names),
    resubscribe: (ns) => void subscribeBus(ns),
    answered(ns) {
      ns.sequencer.unblock();
      // The database answered: a namespace backing off from failed steps may try again now.
      ns.retryAt = 0;
    },
    current: (ns) => pump(ns),
    behind(ns, revision) {
      if (!following(ns)) return;
      if (ns.sequencer.delivered < revision) ns.sequencer.want('periodic');
      pump(ns);
    },
    logger,
  });

  const stopReconnect = bus.onReconnect(() => {
    for (const ns of namespaces.values()) {
      if (!ns.unsubscribe) void subscribeBus(ns);
      ns.sequencer.wantNow('reconnect');
      ns.sequencer.unblock();
      pump(ns);
    }
  });

  // ---------------------------------------------------------------- subscriptions

  const addWatcher = (ns: NamespaceState, match: ((key: string) => boolean) | null, cursor: number, replaying: boolean, counted: boolean): Watcher => {
    const watcher: Watcher = createWatcher({
      namespace: ns.name,
      match,
      cursor,
      replaying,
      maxQueuedChanges,
      replayLowWater,
      onEnd: () => {
        if (ns.watchers.delete(watcher)) {
          if (counted) subscribers--;
          releaseIfIdle(ns);
        }
      },
    });
    ns.watchers.add(watcher);
    if (counted) subscribers++;
    return watcher;
  };

  return {
    async watch(namespace, options: WatchOptions) {
      if (closed) throw new GatewayError('SERVICE_UNAVAILABLE', 'the gateway is shutting down');
      const { keys, prefix, sinceRevision, internal = false } = options;
      if (sinceRevision !== undefined && sinceRevision !== null && (!Number.isSafeInteger(sinceRevision) || sinceRevision < 0)) {
        throw badInput('sinceRevision must be a non-negative integer', { field: 'sinceRevision' });
      }
      const { match, filter } = matcherOf(keys, prefix);

      const ns = ensureNamespace(namespace);
      try {
        await ns.ready;
      } catch (error) {
        releaseIfIdle(ns);
        throw toGatewayError(error);
      }
      if (closed) throw new GatewayError('SERVICE_UNAVAILABLE', 'the gateway is shutting down');

      const since = sinceRevision ?? null;
      const delivered = ns.sequencer.delivered;
      if (since === null || since === delivered) return addWatcher(ns, match, delivered, false, !internal).iterator;

      // Buffer live changes from now on, then read history: the buffer starts at or before the
      // revision the first page sees, so replay + buffer covers every revision after `since`.
      const watcher = addWatcher(ns, match, since, true, !internal);
      await replayInto(watcher, { store: replayStore, namespace, since, filter, pageSize: replayPageSize });
      return watcher.iterator;
    },

    committed(result: WriteResult) {
      const ns = namespaces.get(result.namespace);
      if (!ns || closed || result.changes.length === 0) return;
      accept(ns, { revision: result.revision, changes: result.changes, needsValues: false, origin: tracer ? localOrigin() : undefined });
    },

    position(namespace) {
      const ns = namespaces.get(namespace);
      return ns && ns.sequencer.started && !closed ? ns.sequencer.delivered : null;
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
      return ns.sequencer.started && !closed ? ns.sequencer.delivered : null;
    },

    stats(): FeedStats {
      const revisions: Record<string, number> = {};
      for (const ns of namespaces.values()) if (ns.sequencer.started) revisions[ns.name] = ns.sequencer.delivered;
      return { revisions, subscribers, repairs: { ...repairs }, lastMessageAt };
    },

    async close() {
      if (closed) return;
      closed = true;
      checker.stop();
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
