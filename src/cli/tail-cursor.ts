/**
 * Where `hotconf watch` stands: the last revision it printed and the keys of that revision it
 * has printed. `watch` prints single changes, not whole revisions, so a disconnect in the middle
 * of a batch resumes inside it (`sinceRevision` one lower) without printing its first keys
 * twice. Pure (test/unit/cli-watch.test.ts).
 */
export interface TailCursor {
  /** The revision the tail has reached. */
  readonly since: number;
  /** `sinceRevision` for the next subscribe. */
  resumeFrom(): number;
  /** Whether `change` is new (then it counts as printed); false for one already printed. */
  accept(change: { revision: number; key: string }): boolean;
  /** Continue from `revision` (after a relist: the revision asked for cannot be resumed). */
  restart(revision: number): void;
}

export function createTailCursor(start: number): TailCursor {
  let since = start;
  let printedAtSince = new Set<string>();
  return {
    get since() {
      return since;
    },
    resumeFrom: () => (printedAtSince.size > 0 ? since - 1 : since),
    accept({ revision, key }) {
      if (revision < since || (revision === since && printedAtSince.has(key))) return false;
      if (revision > since) {
        since = revision;
        printedAtSince = new Set();
      }
      printedAtSince.add(key);
      return true;
    },
    restart(revision) {
      since = revision;
      printedAtSince = new Set();
    },
  };
}
