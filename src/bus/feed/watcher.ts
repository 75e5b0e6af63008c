import type { Change, DeliveredChange } from '../../core/types.js';
import { GatewayError } from '../../errors.js';
import { markedAt, type Batch } from './batch.js';
import { createWatchQueue } from './watch-queue.js';

/**
 * One subscription of a namespace: its filter, its cursor (the last revision handed to it), and
 * its bounded queue. While it replays history (a resume), live batches wait in a buffer and are
 * queued after the replay: etcd's unsynced watcher, joining the synced group at `goLive()`.
 */
export interface Watcher {
  /** Last revision handed to this subscription (changes at or below it are never offered again). */
  readonly cursor: number;
  readonly ended: boolean;
  readonly iterator: AsyncIterableIterator<DeliveredChange>;
  /** A live batch of the namespace, in order (buffered while replaying). */
  offer(batch: Batch): void;
  /** Ends the subscription with `error`, after what it has queued. */
  fail(error: GatewayError): void;
  /** Ends the subscription now. */
  finish(): void;
  /** Resolves once the consumer has room for another page of history (or the watch ended). */
  space(): Promise<void>;
  /** Queues history changes (revision > cursor) as replayed; a page never splits a revision. */
  replay(changes: readonly Change[]): void;
  /** Ends the replay: queues buffered live batches newer than the last replayed revision. */
  goLive(): void;
}

/** Options of one watcher. */
export interface WatcherOptions {
  namespace: string;
  /** Keys this subscription wants, or null for all. */
  match: ((key: string) => boolean) | null;
  /** Revision after which it starts. */
  cursor: number;
  /** Starts by replaying history: live batches are buffered until `goLive()`. */
  replaying: boolean;
  /** Live changes queued and not consumed before it is ended with SERVICE_UNAVAILABLE. */
  maxQueuedChanges: number;
  /** `space()` resolves at or below this many queued changes. */
  replayLowWater: number;
  /** Called once when the subscription ends, however it ends. */
  onEnd: () => void;
}

/**
 * @example
 * const watcher = createWatcher({ namespace: 'demo', match: null, cursor: 7, replaying: false,
 *   maxQueuedChanges: 10_000, replayLowWater: 250, onEnd: () => watchers.delete(watcher) });
 */
export function createWatcher({ namespace, match, cursor: start, replaying, maxQueuedChanges, replayLowWater, onEnd }: WatcherOptions): Watcher {
  let cursor = start;
  let buffer: Batch[] | null = replaying ? [] : null;
  let bufferedChanges = 0;
  /** Revision whose changes are being replayed (one revision may hold several changes). */
  let replayingRevision = -1;

  const queue = createWatchQueue<DeliveredChange>({
    maxQueued: maxQueuedChanges,
    lowWater: replayLowWater,
    onEnd: () => {
      buffer = null;
      onEnd();
    },
  });

  const tooSlow = () =>
    new GatewayError('SERVICE_UNAVAILABLE', 'subscriber too slow: changes were not consumed in time; resume with sinceRevision', { namespace });

  const push = (change: DeliveredChange) => {
    if (!queue.push(change, true)) queue.fail(tooSlow());
  };

  const enqueue = (batch: Batch) => {
    if (batch.revision <= cursor) return;
    cursor = batch.revision;
    const { changes } = batch;
    if (match === null) {
      for (const change of changes) {
        if (queue.ended) return;
        push(change);
      }
      return;
    }
    // The filter's last match ends the revision for this watcher; every key is matched once.
    let last = changes.length - 1;
    while (last >= 0 && !match(changes[last]!.key)) last--;
    for (let index = 0; index < last; index++) {
      if (queue.ended) return;
      if (match(changes[index]!.key)) push(changes[index]!);
    }
    if (last >= 0 && !queue.ended) push(markedAt(batch, last));
  };

  return {
    get cursor() {
      return cursor;
    },
    get ended() {
      return queue.ended;
    },
    iterator: queue.iterator,
    offer(batch) {
      if (queue.ended) return;
      if (buffer) {
        buffer.push(batch);
        bufferedChanges += batch.changes.length;
        if (bufferedChanges > maxQueuedChanges) {
          queue.fail(new GatewayError('SERVICE_UNAVAILABLE', 'too many live changes during replay; resume with sinceRevision', { namespace }));
        }
        return;
      }
      enqueue(batch);
    },
    fail: (error) => queue.fail(error),
    finish: () => queue.finish(),
    space: () => queue.space(),
    replay(changes) {
      // History goes straight to the queue, uncounted: its pace is set by `space()`.
      for (let index = 0; index < changes.length; index++) {
        if (queue.ended) return;
        const change = changes[index]!;
        if (change.revision <= cursor && !(change.revision === cursor && replayingRevision === change.revision)) continue;
        replayingRevision = change.revision;
        cursor = change.revision;
        queue.push({ ...change, replayed: true, lastInRevision: changes[index + 1]?.revision !== change.revision }, false);
      }
    },
    goLive() {
      const buffered = buffer ?? [];
      buffer = null;
      bufferedChanges = 0;
      for (const batch of buffered) enqueue(batch);
    },
  };
}

/**
 * A subscription's key filter: a key matches when in `keys` or under `prefix` (a union); null
 * when neither is given (every key). `filter` is the same for history queries.
 */
export function matcherOf(
  keys: readonly string[] | null | undefined,
  prefix: string | null | undefined,
): { match: ((key: string) => boolean) | null; filter: { keys: string[] | null; prefix: string | null } } {
  const keySet = keys && keys.length > 0 ? new Set(keys) : null;
  const keyPrefix = prefix ? prefix : null;
  const match =
    keySet === null && keyPrefix === null
      ? null
      : (key: string) => (keySet !== null && keySet.has(key)) || (keyPrefix !== null && key.startsWith(keyPrefix));
  return { match, filter: { keys: keySet ? [...keySet] : null, prefix: keyPrefix } };
}
