import { describe, expect, it } from 'vitest';
import type { Batch, PendingRevision } from '../../src/bus/feed/batch.js';
import { createRepairer, type RepairTarget } from '../../src/bus/feed/repairer.js';
import { createSequencer, type RepairReason } from '../../src/bus/feed/sequencer.js';
import type { Change, ChangePage, ConfigStore } from '../../src/core/types.js';
import { GatewayError } from '../../src/errors.js';
import { setChange } from '../helpers/changes.js';

const change = (revision: number, key = 'k'): Change => setChange(revision, key);

/** A store whose history holds `head` revisions (two changes in even ones), paged like the real one. */
const fakeStore = (head: number, fail?: (since: number) => Error | null) => {
  const reads: number[] = [];
  const store: Pick<ConfigStore, 'changes' | 'revisions'> = {
    async changes(_namespace, since, { limit }): Promise<ChangePage> {
      reads.push(since);
      const failure = fail?.(since);
      if (failure) throw failure;
      const changes: Change[] = [];
      for (let revision = since + 1; revision <= Math.min(head, since + limit); revision++) {
        changes.push(change(revision, 'a'));
        if (revision % 2 === 0) changes.push(change(revision, 'b'));
      }
      return { namespace: 'ns', revision: head, changes, hasMore: since + limit < head };
    },
    async revisions() {
      return new Map([['ns', head]]);
    },
  };
  return { store, reads };
};

const target = (start: number) => {
  const sequencer = createSequencer<PendingRevision>();
  sequencer.start(start);
  const batches: Batch[] = [];
  const events: string[] = [];
  const t: RepairTarget = {
    name: 'ns',
    sequencer,
    deliver(batch) {
      batches.push(batch);
      sequencer.advance(batch.revision);
    },
    failWatchers: (error) => events.push(`fail:${error.code}`),
    succeeded: () => events.push('succeeded'),
    failed: () => events.push('failed'),
  };
  return { t, sequencer, batches, events };
};

describe('repairer', () => {
  it('delivers every missing revision from history, page by page, each whole and once', async () => {
    const { store, reads } = fakeStore(7);
    const repaired: Array<[RepairReason, number]> = [];
    const repairer = createRepairer({ store, pageSize: 3, stepTimeoutMs: 1_000, isClosed: () => false, onRepaired: (reason, n) => repaired.push([reason, n]) });
    const { t, batches, events } = target(2);
    await repairer.repair(t, 'gap');
    expect(batches.map((batch) => [batch.revision, batch.changes.length, batch.changes.every((c) => c.replayed)])).toEqual([
      [3, 1, true],
      [4, 2, true],
      [5, 1, true],
      [6, 2, true],
      [7, 1, true],
    ]);
    expect(reads).toEqual([2, 5]);
    expect(events).toEqual(['succeeded']);
    expect(repaired).toEqual([['gap', 5]]);
  });

  it('a failing read backs the namespace off and keeps the repair wanted', async () => {
    const { store } = fakeStore(5, () => new Error('connection reset'));
    const repairer = createRepairer({ store, pageSize: 10, stepTimeoutMs: 1_000, isClosed: () => false });
    const { t, sequencer, events } = target(1);
    await repairer.repair(t, 'periodic');
    expect(events).toEqual(['failed']);
    expect(sequencer.repairWanted).toBe('periodic');
  });

  it('a read that hangs counts as failed after the step timeout', async () => {
    const store: Pick<ConfigStore, 'changes' | 'revisions'> = { changes: () => new Promise(() => {}), revisions: async () => new Map() };
    const repairer = createRepairer({ store, pageSize: 10, stepTimeoutMs: 20, isClosed: () => false });
    const { t, events } = target(0);
    await repairer.repair(t, 'gap');
    expect(events).toEqual(['failed']);
  });

  it('history compacted past what was delivered: watchers are ended and the namespace continues from now', async () => {
    const { store } = fakeStore(40, () => new GatewayError('REVISION_COMPACTED', 'compacted'));
    const repairer = createRepairer({ store, pageSize: 10, stepTimeoutMs: 1_000, isClosed: () => false });
    const { t, sequencer, events } = target(3);
    await repairer.repair(t, 'gap');
    expect(events).toEqual(['fail:REVISION_COMPACTED']);
    expect(sequencer.delivered).toBe(40);
  });

  it('the database went back in time: watchers are ended and repairs wait for the next check', async () => {
    const { store } = fakeStore(2, () => new GatewayError('REVISION_AHEAD', 'ahead'));
    const repairer = createRepairer({ store, pageSize: 10, stepTimeoutMs: 1_000, isClosed: () => false });
    const { t, sequencer, events } = target(9);
    await repairer.repair(t, 'periodic');
    expect(events).toEqual(['fail:REVISION_AHEAD']);
    expect(sequencer.blocked).toBe(true);
  });

  it('fills omitted values from the revision in history, keeping the carried ones', async () => {
    const { store } = fakeStore(4);
    const repairer = createRepairer({ store, pageSize: 10, stepTimeoutMs: 1_000, isClosed: () => false });
    const carried = { ...change(4, 'a'), value: 'carried' };
    const omitted = { ...change(4, 'b'), value: null, valueOmitted: true };
    const filled = await repairer.fillValues('ns', { revision: 4, needsValues: true, changes: [carried, omitted] });
    expect(filled?.map((c) => c.value)).toEqual(['carried', 4]);
    expect(await repairer.fillValues('ns', { revision: 9, needsValues: true, changes: [omitted] })).toBeNull();
  });
});
