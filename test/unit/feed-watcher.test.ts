import { describe, expect, it } from 'vitest';
import { toBatch } from '../../src/bus/feed/batch.js';
import { createWatcher, type WatcherOptions } from '../../src/bus/feed/watcher.js';
import type { Change, DeliveredChange } from '../../src/core/types.js';
import { setChange } from '../helpers/changes.js';

const change = (revision: number, key: string): Change => setChange(revision, key, { version: 1 });
const batch = (revision: number, ...keys: string[]) => toBatch(revision, keys.map((key) => change(revision, key)), false);

const watcherOf = (options: Partial<WatcherOptions> = {}) => {
  let ended = 0;
  const watcher = createWatcher({
    namespace: 'ns',
    match: null,
    cursor: 0,
    replaying: false,
    maxQueuedChanges: 100,
    replayLowWater: 10,
    onEnd: () => ended++,
    ...options,
  });
  return { watcher, ended: () => ended };
};

const take = async (iterator: AsyncIterableIterator<DeliveredChange>, count: number) => {
  const taken: Array<[number, string, boolean | undefined, boolean]> = [];
  for (let i = 0; i < count; i++) {
    const { value } = await iterator.next();
    taken.push([value!.revision, value!.key, value!.lastInRevision, value!.replayed]);
  }
  return taken;
};

describe('watcher', () => {
  it('gets each revision once, in order, from its cursor on', async () => {
    const { watcher } = watcherOf({ cursor: 1 });
    watcher.offer(batch(1, 'a'));
    watcher.offer(batch(2, 'a', 'b'));
    watcher.offer(batch(2, 'a', 'b'));
    expect(await take(watcher.iterator, 2)).toEqual([
      [2, 'a', false, false],
      [2, 'b', true, false],
    ]);
    expect(watcher.cursor).toBe(2);
  });

  it('with a filter, the last matching change of a revision ends it, and the batch objects are shared', async () => {
    const match = (key: string) => key.startsWith('x.');
    const one = watcherOf({ match }).watcher;
    const two = watcherOf({ match }).watcher;
    const shared = batch(1, 'x.a', 'x.b', 'y');
    one.offer(shared);
    two.offer(shared);
    expect(await take(one.iterator, 2)).toEqual([
      [1, 'x.a', false, false],
      [1, 'x.b', true, false],
    ]);
    const [, b1] = [await two.iterator.next(), await two.iterator.next()];
    expect(b1.value).toBe(shared.endsAt!.get(1));
  });

  it('ends a subscriber that does not consume with SERVICE_UNAVAILABLE after what it was handed', async () => {
    const { watcher, ended } = watcherOf({ maxQueuedChanges: 2 });
    for (let revision = 1; revision <= 4; revision++) watcher.offer(batch(revision, 'k'));
    expect(ended()).toBe(1);
    expect((await take(watcher.iterator, 3)).map(([revision]) => revision)).toEqual([1, 2, 3]);
    await expect(watcher.iterator.next()).rejects.toMatchObject({ code: 'SERVICE_UNAVAILABLE' });
  });

  it('while replaying, live batches wait; after goLive they follow the history without a duplicate', async () => {
    const { watcher } = watcherOf({ cursor: 3, replaying: true });
    watcher.offer(batch(5, 'k'));
    watcher.offer(batch(6, 'k'));
    watcher.replay([change(4, 'a'), change(4, 'b'), change(5, 'k')]);
    watcher.goLive();
    expect(await take(watcher.iterator, 4)).toEqual([
      [4, 'a', false, true],
      [4, 'b', true, true],
      [5, 'k', true, true],
      [6, 'k', true, false],
    ]);
  });

  it('too many live changes during a replay end it with SERVICE_UNAVAILABLE', async () => {
    const { watcher } = watcherOf({ replaying: true, maxQueuedChanges: 1 });
    watcher.offer(batch(1, 'a', 'b'));
    expect(watcher.ended).toBe(true);
    await expect(watcher.iterator.next()).rejects.toMatchObject({ code: 'SERVICE_UNAVAILABLE' });
  });
});
