import type { ConfigStore, KeyFilter } from '../../core/types.js';
import { createCoalescer } from '../../core/coalesce.js';
import { toGatewayError } from '../../errors.js';
import type { Watcher } from './watcher.js';

/** Options of one resume replay. */
export interface ReplayOptions {
  store: Pick<ConfigStore, 'changes'>;
  namespace: string;
  /** Replays changes after this revision. */
  since: number;
  filter: { keys: string[] | null; prefix: string | null } & KeyFilter;
  /** Revisions per page: at most half the watcher's queue, so a replay never trips its overflow. */
  pageSize: number;
}

/**
 * Replays history into a watcher that buffers live batches meanwhile. The first page is read
 * before this resolves, so a resume outside retained history (`REVISION_COMPACTED`,
 * `REVISION_AHEAD`) rejects before the first change; later pages are read when the consumer has
 * room (`space()`), then the watcher goes live. A failed later page ends the watcher with its error.
 *
 * @example
 * await replayInto(watcher, { store, namespace, since: 40, filter, pageSize: 500 });
 */
export async function replayInto(watcher: Watcher, { store, namespace, since, filter, pageSize }: ReplayOptions): Promise<void> {
  let page;
  try {
    page = await store.changes(namespace, since, { ...filter, limit: pageSize });
  } catch (error) {
    watcher.finish();
    throw toGatewayError(error);
  }
  watcher.replay(page.changes);
  if (!page.hasMore) {
    watcher.goLive();
    return;
  }
  void (async () => {
    try {
      for (let current = page; current.hasMore; ) {
        await watcher.space();
        if (watcher.ended) return;
        current = await store.changes(namespace, watcher.cursor, { ...filter, limit: pageSize });
        watcher.replay(current.changes);
      }
      watcher.goLive();
    } catch (error) {
      watcher.fail(toGatewayError(error));
    }
  })();
}

/**
 * The store's history reads for resume replays, shared by subscribers asking for the same page at
 * once: a burst of subscribers resuming from one revision (a fleet reconnecting) costs the
 * database one read or two, not one per subscriber (one each exhausted the session pool and
 * failed them with SERVICE_UNAVAILABLE). A read is shared only by requests that arrived before it
 * started, so each replay still starts no earlier than its watcher's buffer.
 */
export function createReplayReader(store: Pick<ConfigStore, 'changes'>): Pick<ConfigStore, 'changes'> {
  type PageRequest = { namespace: string; since: number; keys: string[] | null; prefix: string | null; limit: number };
  const pages = createCoalescer(
    ({ namespace, since, keys, prefix, limit }: PageRequest) => store.changes(namespace, since, { keys, prefix, limit }),
    ({ namespace, since, keys, prefix, limit }) => JSON.stringify([namespace, since, keys, prefix, limit]),
  );
  return {
    changes: (namespace, since, { keys, prefix, limit }) => pages.get({ namespace, since, keys: keys ? [...keys] : null, prefix: prefix ?? null, limit }),
  };
}
