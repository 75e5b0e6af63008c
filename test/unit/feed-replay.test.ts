import { describe, expect, it } from 'vitest';
import { replayInto } from '../../src/bus/feed/replay.js';
import { createWatcher } from '../../src/bus/feed/watcher.js';
import type { Change, ChangePage, ConfigStore } from '../../src/core/types.js';
import { GatewayError } from '../../src/errors.js';
import { setChange } from '../helpers/changes.js';

const change = (revision: number): Change => setChange(revision);

const storeOf = (head: number, reads: number[] = []): Pick<ConfigStore, 'changes'> => ({
  async changes(_namespace, since, { limit }): Promise<ChangePage> {
    reads.push(since);
    if (since > head) throw new GatewayError('REVISION_AHEAD', 'ahead');
    const changes: Change[] = [];
    for (let revision = since + 1; revision <= Math.min(head, since + limit); revision++) changes.push(change(revision));
    return { namespace: 'ns', revision: head, changes, hasMore: since + limit < head };
  },
});

const watcher = () =>
  createWatcher({ namespace: 'ns', match: null, cursor: 0, replaying: true, maxQueuedChanges: 8, replayLowWater: 2, onEnd: () => {} });

describe('resume replay', () => {
  it('pages through history as the consumer makes room, then goes live', async () => {
    const reads: number[] = [];
    const w = watcher();
    await replayInto(w, { store: storeOf(20, reads), namespace: 'ns', since: 0, filter: { keys: null, prefix: null }, pageSize: 4 });
    expect(reads).toEqual([0]);
    const revisions: number[] = [];
    for (let i = 0; i < 20; i++) revisions.push((await w.iterator.next()).value!.revision);
    expect(revisions).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(reads).toEqual([0, 4, 8, 12, 16]);
  });

  it('rejects before the first change when the resume point is outside history', async () => {
    const w = watcher();
    await expect(replayInto(w, { store: storeOf(3), namespace: 'ns', since: 9, filter: { keys: null, prefix: null }, pageSize: 4 })).rejects.toMatchObject({
      code: 'REVISION_AHEAD',
    });
    expect(w.ended).toBe(true);
  });
});
