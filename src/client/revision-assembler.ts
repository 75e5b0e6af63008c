/**
 * Whole revisions only: collects a revision's changes and hands them over together when the
 * gateway marks the last one (`lastInRevision`), so `get()` never shows half a batch. Pure and
 * synchronous (test/unit/client-stream.test.ts).
 */
import { ConfigClientError } from './errors.js';

/** What the assembler needs of a change message. */
export interface RevisionPart {
  revision: number;
  lastInRevision: boolean;
}

export type Assembled<T> =
  /** Nothing to apply yet (or the change was already applied). */
  | { kind: 'wait' }
  /** A whole revision, in the order its changes arrived. */
  | { kind: 'revision'; revision: number; changes: T[] }
  /** The stream broke the promise: end it and resume from the applied revision. */
  | { kind: 'broken'; error: ConfigClientError };

export interface RevisionAssembler<T extends RevisionPart> {
  /** One change; `applied` is the revision the caller has applied whole. */
  push(change: T, applied: number): Assembled<T>;
  /** Drops a revision cut off by a disconnect: the resume replays it whole. */
  reset(): void;
}

export function createRevisionAssembler<T extends RevisionPart>(): RevisionAssembler<T> {
  let pending: { revision: number; changes: T[] } | null = null;
  return {
    push(change, applied) {
      if (change.revision <= applied) return { kind: 'wait' }; // already applied
      if (pending && change.revision !== pending.revision) {
        // A revision began before the previous one ended: applying either could show half a batch.
        // Resuming from the applied revision replays the unfinished one whole.
        return {
          kind: 'broken',
          error: new ConfigClientError(`revision ${change.revision} arrived before the end of revision ${pending.revision}`, 'INCOMPLETE_REVISION'),
        };
      }
      if (!change.lastInRevision) {
        pending ??= { revision: change.revision, changes: [] };
        pending.changes.push(change);
        return { kind: 'wait' };
      }
      const changes = pending ? [...pending.changes, change] : [change];
      pending = null;
      return { kind: 'revision', revision: change.revision, changes };
    },
    reset() {
      pending = null;
    },
  };
}
