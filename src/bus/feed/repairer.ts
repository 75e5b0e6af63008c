import type { Tracer } from '@opentelemetry/api';
import { traceRepair, type DeliveryOrigin } from '../../core/tracing.js';
import type { Change, ConfigStore } from '../../core/types.js';
import { isGatewayError, type GatewayError } from '../../errors.js';
import type { Logger } from '../../logger.js';
import { revisionsOf, toBatch, type Batch, type PendingRevision } from './batch.js';
import type { RepairReason, RevisionSequencer } from './sequencer.js';
import { bounded } from './step.js';

/** The namespace a repair works on, as the repairer sees it. */
export interface RepairTarget {
  readonly name: string;
  readonly sequencer: RevisionSequencer<PendingRevision>;
  /** Hands one whole revision to the namespace's watchers (and advances the sequencer). */
  deliver(batch: Batch, origin: DeliveryOrigin | undefined): void;
  /** Ends every watcher of the namespace with `error` (they must relist). */
  failWatchers(error: GatewayError): void;
  /** A database step of the namespace succeeded: its backoff resets. */
  succeeded(): void;
  /** A database step of the namespace failed: it backs off, then pumps again. */
  failed(): void;
}

/** Options of the repairer. */
export interface RepairerOptions {
  store: Pick<ConfigStore, 'changes' | 'revisions'>;
  /** Revisions read from history per query. */
  pageSize: number;
  /** Longest one database step may take before it counts as failed. */
  stepTimeoutMs: number;
  /** The feed closed: stop between pages. */
  isClosed: () => boolean;
  logger?: Pick<Logger, 'warn' | 'info' | 'error'>;
  tracer?: Tracer;
  /** After a repair that delivered something, with the number of revisions delivered. */
  onRepaired?: (reason: RepairReason, revisions: number) => void;
}

/** Reads what the live stream did not bring from the store's history. */
export interface Repairer {
  /** The changes of `pending` with omitted values read from history; null when history lacks it. */
  fillValues(namespace: string, pending: PendingRevision): Promise<Change[] | null>;
  /**
   * Delivers every revision after the target's last delivered one from history, page by page
   * (each page bounded by the step timeout). Never rejects: failures back the target off, and a
   * compacted or rewound history ends its watchers.
   */
  repair(target: RepairTarget, reason: RepairReason): Promise<void>;
}

/**
 * @example
 * const repairer = createRepairer({ store, pageSize: 500, stepTimeoutMs: 2_000, isClosed: () => closed });
 * await repairer.repair(namespaceState, 'gap');
 */
export function createRepairer({ store, pageSize, stepTimeoutMs, isClosed, logger, tracer, onRepaired }: RepairerOptions): Repairer {
  const fillValues = async (namespace: string, pending: PendingRevision): Promise<Change[] | null> => {
    const page = await bounded(store.changes(namespace, pending.revision - 1, { limit: 1 }), stepTimeoutMs, 'reading omitted values');
    const stored = page.changes.filter((change) => change.revision === pending.revision);
    if (stored.length === 0) return null;
    const byKey = new Map(stored.map((change) => [change.key, change]));
    return pending.changes.map((change) => (change.valueOmitted ? (byKey.get(change.key) ?? change) : change));
  };

  const repair = async (target: RepairTarget, reason: RepairReason): Promise<void> => {
    const { sequencer } = target;
    const from = sequencer.delivered;
    const traced = tracer ? traceRepair(tracer, target.name, reason, from) : null;
    let failure: unknown;
    try {
      // Bounded: a namespace far behind is caught up over several pumps, never in one endless loop.
      for (let pageCount = 0; pageCount < 1_000 && !isClosed(); pageCount++) {
        const page = await bounded(store.changes(target.name, sequencer.delivered, { limit: pageSize }), stepTimeoutMs, 'reading history');
        for (const { revision, changes } of revisionsOf(page.changes)) {
          if (revision > sequencer.delivered) target.deliver(toBatch(revision, changes, true), traced?.originOf(sequencer.heldAt(revision)?.origin));
        }
        if (!page.hasMore) break;
      }
      target.succeeded();
    } catch (error) {
      failure = error;
      if (isGatewayError(error) && error.code === 'REVISION_COMPACTED') {
        // History no longer reaches back to what was delivered: subscribers must relist.
        logger?.error({ namespace: target.name, revision: sequencer.delivered }, 'repair impossible: history compacted');
        target.failWatchers(error);
        try {
          const revisions = await bounded(store.revisions([target.name]), stepTimeoutMs, 'reading the namespace revision');
          sequencer.reset(revisions.get(target.name) ?? sequencer.delivered);
        } catch {
          sequencer.want(reason);
          target.failed();
        }
      } else if (isGatewayError(error) && error.code === 'REVISION_AHEAD') {
        // The database went back in time (restore): nothing to repair from; subscribers relist.
        logger?.error({ namespace: target.name, revision: sequencer.delivered }, 'delivered revision is ahead of the database');
        target.failWatchers(error);
        sequencer.block();
      } else {
        logger?.warn({ namespace: target.name, reason, err: (error as Error).message }, 'repair failed; retrying with backoff');
        sequencer.want(reason);
        target.failed();
      }
    } finally {
      traced?.end(sequencer.delivered, failure);
      const revisions = sequencer.delivered - from;
      if (revisions > 0) {
        logger?.info({ namespace: target.name, reason, from, to: sequencer.delivered }, 'repaired from history');
        onRepaired?.(reason, revisions);
      }
    }
  };

  return { fillValues, repair };
}
