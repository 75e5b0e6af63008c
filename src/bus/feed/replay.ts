import type { ConfigStore, KeyFilter } from '../../core/types.js';
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
