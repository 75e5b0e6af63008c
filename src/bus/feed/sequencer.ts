/** Why a namespace was read from history instead of the live stream. */
export type RepairReason = 'gap' | 'reconnect' | 'periodic';

/** What a sequencer holds of one revision received live. */
export interface Sequenced {
  revision: number;
  /** Some of its values were not carried (secret, too large): they must be read before delivery. */
  needsValues: boolean;
}

/** What `offer` did with a revision. */
export type OfferOutcome = 'stale' | 'held' | 'kept' | 'overflow';

/** The next thing a namespace should do, as the sequencer sees it. */
export type SequencerStep<P extends Sequenced> =
  | { kind: 'deliver'; pending: P }
  | { kind: 'fill'; pending: P }
  | { kind: 'repair'; reason: RepairReason }
  | null;

/**
 * Pure, synchronous ordering of one namespace's revisions: revisions received live go in, in any
 * order and possibly twice; whole revisions come out strictly in order, one after the last
 * delivered, and a gap becomes a repair signal. No I/O, no timers: the follower runs the steps it
 * asks for (deliver, read omitted values, repair from history) and reports back.
 */
export interface RevisionSequencer<P extends Sequenced> {
  /** Last revision delivered (0 until started). */
  readonly delivered: number;
  /** Whether the starting revision is known: before it, nothing is delivered. */
  readonly started: boolean;
  /** Revisions held, waiting for the ones before them. */
  readonly held: number;
  /** Repair asked for and not yet started, or null. */
  readonly repairWanted: RepairReason | null;
  /** The database went back in time (restore): no repair until `unblock()`. */
  readonly blocked: boolean;
  /** Starts delivering after `revision`. */
  start(revision: number): void;
  /** Offers a revision received live (bus or local commit). */
  offer(pending: P): OfferOutcome;
  /** The next step, without taking it. */
  next(): SequencerStep<P>;
  /** Takes a held revision out (it is being delivered or its values are being read). */
  take(pending: P): void;
  /** Puts back a revision whose value read failed (unless something newer took its place). */
  putBack(pending: P): void;
  /** The revision was delivered. */
  advance(revision: number): void;
  /** Asks for a repair unless one is asked for already. */
  want(reason: RepairReason): void;
  /** Asks for a repair of this reason, replacing any other. */
  wantNow(reason: RepairReason): void;
  /** A repair of the wanted reason is starting: the signal is consumed. */
  repairing(): void;
  /** The held revision `revision`, if any (tracing needs its origin). */
  heldAt(revision: number): P | undefined;
  /** Forget what is held and continue after `revision` (history compacted: subscribers relist). */
  reset(revision: number): void;
  /** Forget what is held and repair nothing until `unblock()`. */
  block(): void;
  unblock(): void;
}

/** Options of a revision sequencer. */
export interface SequencerOptions {
  /** Out-of-order revisions held; past it a revision is dropped and a repair asked for. @default 10_000 */
  maxPending?: number;
}

/**
 * @example
 * const sequencer = createSequencer<PendingRevision>({ maxPending: 10_000 });
 * sequencer.start(41);
 * sequencer.offer({ revision: 43, needsValues: false }); // 'held'
 * sequencer.next(); // { kind: 'repair', reason: 'gap' } — 42 is missing
 */
export function createSequencer<P extends Sequenced>({ maxPending = 10_000 }: SequencerOptions = {}): RevisionSequencer<P> {
  let delivered = 0;
  let started = false;
  let repairWanted: RepairReason | null = null;
  let blocked = false;
  const pending = new Map<number, P>();

  return {
    get delivered() {
      return delivered;
    },
    get started() {
      return started;
    },
    get held() {
      return pending.size;
    },
    get repairWanted() {
      return repairWanted;
    },
    get blocked() {
      return blocked;
    },
    start(revision) {
      delivered = revision;
      started = true;
    },
    offer(incoming) {
      if (started && incoming.revision <= delivered) return 'stale'; // seen already (own write echoed, repair)
      const held = pending.get(incoming.revision);
      // The local commit carries every value; prefer it over a bus copy with values omitted.
      if (held && !held.needsValues) return 'kept';
      if (!held && pending.size >= maxPending) {
        repairWanted ??= 'gap';
        return 'overflow';
      }
      pending.set(incoming.revision, incoming);
      return 'held';
    },
    next() {
      if (!started) return null;
      const following = pending.get(delivered + 1);
      if (following) return { kind: following.needsValues ? 'fill' : 'deliver', pending: following };
      for (const revision of pending.keys()) if (revision <= delivered) pending.delete(revision);
      if (pending.size > 0) repairWanted ??= 'gap';
      if (!repairWanted || blocked) return null;
      return { kind: 'repair', reason: repairWanted };
    },
    take(taken) {
      if (pending.get(taken.revision) === taken) pending.delete(taken.revision);
    },
    putBack(back) {
      if (back.revision > delivered && !pending.has(back.revision)) pending.set(back.revision, back);
    },
    advance(revision) {
      delivered = revision;
    },
    want(reason) {
      repairWanted ??= reason;
    },
    wantNow(reason) {
      repairWanted = reason;
    },
    repairing() {
      repairWanted = null;
    },
    heldAt(revision) {
      return pending.get(revision);
    },
    reset(revision) {
      delivered = revision;
      pending.clear();
    },
    block() {
      pending.clear();
      blocked = true;
    },
    unblock() {
      blocked = false;
    },
  };
}
