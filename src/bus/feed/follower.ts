import type { Logger } from '../../logger.js';
import { backoffMs, bounded } from './step.js';

/** A followed namespace, as the periodic check sees it. */
export interface FollowedNamespace {
  readonly name: string;
  /** Its starting revision is known (namespaces still starting are left alone). */
  readonly started: boolean;
  /** Last revision delivered here. */
  readonly delivered: number;
  /** Whether its bus subscription is in place. */
  readonly subscribed: boolean;
}

/** Options of the revision checker. */
export interface RevisionCheckerOptions<N extends FollowedNamespace> {
  /** Cadence of the check. */
  intervalMs: number;
  /** Longest the revision read may take before the check counts as failed. */
  stepTimeoutMs: number;
  /** How long a change found missing may take to arrive over the bus before history is read. */
  graceMs: number;
  /** The namespaces followed now. */
  followed: () => Iterable<N>;
  /** The current revision of each named namespace that exists (one query for all). */
  readRevisions: (names: readonly string[]) => Promise<Map<string, number>>;
  /** Retries a missing bus subscription (never awaited: it must not hold up the check). */
  resubscribe: (ns: N) => void;
  /** The database answered for `ns` and it is not behind (it may retry failed steps now). */
  current: (ns: N) => void;
  /** The database answered: `ns` is behind `revision` (called after the grace). */
  behind: (ns: N, revision: number) => void;
  /** The database answered: `ns` may leave backoff and try again (before `current`/`behind`). */
  answered: (ns: N) => void;
  logger?: Pick<Logger, 'warn'>;
}

/** The periodic revision check; `stop()` clears its timer. */
export interface RevisionChecker {
  /** Runs one check now; resolves false when the database did not answer in time. */
  check(): Promise<boolean>;
  stop(): void;
}

/**
 * The periodic check of followed namespaces' revisions in Postgres: the repair of last resort,
 * which makes a change committed while the bus was down arrive within the interval. One query per
 * check for every namespace, bounded by the step timeout; a failed check is retried with backoff
 * (100 ms doubling, never past the interval), so the first check after the database returns comes
 * well within the interval; a successful one keeps the cadence from its start. A namespace behind
 * is handed to `behind` after a short grace, so a change already on its way arrives live.
 *
 * @example
 * const checker = createRevisionChecker({ intervalMs: 2_000, stepTimeoutMs: 2_000, graceMs: 100,
 *   followed: () => namespaces.values(), readRevisions: (names) => store.revisions(names), ... });
 */
export function createRevisionChecker<N extends FollowedNamespace>({
  intervalMs,
  stepTimeoutMs,
  graceMs,
  followed,
  readRevisions,
  resubscribe,
  current,
  behind,
  answered,
  logger,
}: RevisionCheckerOptions<N>): RevisionChecker {
  let checking = false;
  let stopped = false;
  /** Consecutive failed checks: the next one comes sooner than the interval. */
  let failures = 0;
  let timer: NodeJS.Timeout | null = null;
  const graceTimers = new Set<NodeJS.Timeout>();

  const check = async (): Promise<boolean> => {
    if (checking || stopped) return true;
    const watched = [...followed()].filter((ns) => ns.started);
    if (watched.length === 0) return true;
    checking = true;
    try {
      for (const ns of watched) if (!ns.subscribed) resubscribe(ns);
      const revisions = await bounded(
        readRevisions(watched.map((ns) => ns.name)),
        stepTimeoutMs,
        'the periodic revision check',
      );
      for (const ns of watched) {
        answered(ns);
        const revision = revisions.get(ns.name) ?? 0;
        if (revision <= ns.delivered) {
          current(ns);
          continue;
        }
        // A change committed a moment ago is usually still on its way over the bus: give it a
        // short grace before reading history, so that it arrives live and the store is spared.
        const grace = setTimeout(() => {
          graceTimers.delete(grace);
          if (!stopped) behind(ns, revision);
        }, graceMs);
        grace.unref();
        graceTimers.add(grace);
      }
      return true;
    } catch (error) {
      logger?.warn({ err: (error as Error).message }, 'periodic revision check failed; retrying with backoff');
      return false;
    } finally {
      checking = false;
    }
  };

  const schedule = (delayMs: number) => {
    if (stopped) return;
    timer = setTimeout(() => {
      timer = null;
      const startedAt = Date.now();
      void check().then((ok) => {
        failures = ok ? 0 : failures + 1;
        schedule(ok ? Math.max(0, startedAt + intervalMs - Date.now()) : backoffMs(failures, intervalMs));
      });
    }, delayMs);
    timer.unref();
  };
  schedule(intervalMs);

  return {
    check,
    stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      for (const grace of graceTimers) clearTimeout(grace);
      graceTimers.clear();
    },
  };
}
