import { deliveredChange, type Change, type DeliveredChange } from '../../core/types.js';

/** One revision's changes as delivered; the objects are shared by every subscription. */
export interface Batch {
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

/** A revision's changes as one batch (fields picked one by one: inputs may carry more). */
export function toBatch(revision: number, changes: ReadonlyArray<Change & { valueOmitted?: boolean }>, replayed: boolean): Batch {
  return {
    revision,
    changes: changes.map((change, index) => deliveredChange(change, replayed, index === changes.length - 1)),
    endsAt: null,
  };
}

/** The change at `index` marked as the last of its revision (for a watcher whose filter ends there). */
export function markedAt(batch: Batch, index: number): DeliveredChange {
  const change = batch.changes[index]!;
  if (change.lastInRevision) return change;
  batch.endsAt ??= new Map();
  let marked = batch.endsAt.get(index);
  if (!marked) {
    marked = { ...change, lastInRevision: true };
    batch.endsAt.set(index, marked);
  }
  return marked;
}

/**
 * Splits a history page (ascending revision, never splitting one) into its revisions, in order.
 */
export function* revisionsOf<C extends { revision: number }>(changes: readonly C[]): Generator<{ revision: number; changes: C[] }> {
  let index = 0;
  while (index < changes.length) {
    const revision = changes[index]!.revision;
    let end = index;
    while (end < changes.length && changes[end]!.revision === revision) end++;
    yield { revision, changes: changes.slice(index, end) };
    index = end;
  }
}

/** A revision received live whose values may still have to be read from the store. */
export interface PendingRevision {
  revision: number;
  changes: Array<Change & { valueOmitted?: boolean }>;
  needsValues: boolean;
  /** Set only when tracing: the parent of its delivery span. */
  origin?: import('../../core/tracing.js').DeliveryOrigin;
}
