import { describe, expect, it } from 'vitest';
import { createSequencer } from '../../src/bus/feed/sequencer.js';

const rev = (revision: number, needsValues = false) => ({ revision, needsValues });

describe('revision sequencer', () => {
  it('delivers nothing before it knows where to start', () => {
    const sequencer = createSequencer();
    expect(sequencer.offer(rev(1))).toBe('held');
    expect(sequencer.next()).toBeNull();
    sequencer.start(0);
    expect(sequencer.next()).toEqual({ kind: 'deliver', pending: rev(1) });
  });

  it('hands out revisions in order whatever order they arrive in, and each once', () => {
    const sequencer = createSequencer();
    sequencer.start(10);
    const delivered: number[] = [];
    const drain = () => {
      for (let step = sequencer.next(); step?.kind === 'deliver'; step = sequencer.next()) {
        sequencer.take(step.pending);
        sequencer.advance(step.pending.revision);
        delivered.push(step.pending.revision);
      }
    };
    for (const revision of [13, 12, 11, 12, 14]) {
      sequencer.offer(rev(revision));
      drain();
    }
    expect(delivered).toEqual([11, 12, 13, 14]);
    expect(sequencer.offer(rev(12))).toBe('stale');
    expect(sequencer.held).toBe(0);
  });

  it('signals a gap as a repair once the next revision is missing', () => {
    const sequencer = createSequencer();
    sequencer.start(5);
    sequencer.offer(rev(7));
    expect(sequencer.next()).toEqual({ kind: 'repair', reason: 'gap' });
    sequencer.repairing();
    expect(sequencer.repairWanted).toBeNull();
  });

  it('asks for the values of a revision that omitted some before delivering it', () => {
    const sequencer = createSequencer();
    sequencer.start(0);
    sequencer.offer(rev(1, true));
    expect(sequencer.next()).toEqual({ kind: 'fill', pending: rev(1, true) });
  });

  it('prefers a copy with every value (the local commit) over a bus copy with values omitted', () => {
    const sequencer = createSequencer();
    sequencer.start(0);
    const local = rev(2);
    expect(sequencer.offer(rev(2, true))).toBe('held');
    expect(sequencer.offer(local)).toBe('held');
    expect(sequencer.offer(rev(2, true))).toBe('kept');
    expect(sequencer.heldAt(2)).toBe(local);
  });

  it('past its bound drops a revision and asks for a repair instead of growing', () => {
    const sequencer = createSequencer({ maxPending: 2 });
    sequencer.start(0);
    sequencer.offer(rev(3));
    sequencer.offer(rev(4));
    expect(sequencer.offer(rev(5))).toBe('overflow');
    expect(sequencer.held).toBe(2);
    expect(sequencer.repairWanted).toBe('gap');
  });

  it('a failed value read goes back unless the revision was delivered meanwhile', () => {
    const sequencer = createSequencer();
    sequencer.start(0);
    const pending = rev(1, true);
    sequencer.offer(pending);
    sequencer.take(pending);
    sequencer.putBack(pending);
    expect(sequencer.heldAt(1)).toBe(pending);
    sequencer.take(pending);
    sequencer.advance(1);
    sequencer.putBack(pending);
    expect(sequencer.held).toBe(0);
  });

  it('a reconnect replaces the wanted reason; a gap does not replace one already wanted', () => {
    const sequencer = createSequencer();
    sequencer.start(0);
    sequencer.want('periodic');
    sequencer.want('gap');
    expect(sequencer.repairWanted).toBe('periodic');
    sequencer.wantNow('reconnect');
    expect(sequencer.repairWanted).toBe('reconnect');
  });

  it('blocked (the database went back in time), it forgets what it holds and repairs nothing until unblocked', () => {
    const sequencer = createSequencer();
    sequencer.start(9);
    sequencer.offer(rev(11));
    sequencer.block();
    expect(sequencer.held).toBe(0);
    sequencer.want('periodic');
    expect(sequencer.next()).toBeNull();
    sequencer.unblock();
    expect(sequencer.next()).toEqual({ kind: 'repair', reason: 'periodic' });
  });

  it('reset continues after a new revision with nothing held', () => {
    const sequencer = createSequencer();
    sequencer.start(3);
    sequencer.offer(rev(6));
    sequencer.reset(8);
    expect(sequencer.delivered).toBe(8);
    expect(sequencer.held).toBe(0);
    expect(sequencer.offer(rev(8))).toBe('stale');
  });
});
