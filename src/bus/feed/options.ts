import type { Tracer } from '@opentelemetry/api';
import type { ChangeBus, ConfigStore, DeliveredChange } from '../../core/types.js';
import type { Logger } from '../../logger.js';
import type { RepairReason } from './sequencer.js';

/** Options of the change feed. */
export interface ChangeFeedOptions {
  store: ConfigStore;
  bus: ChangeBus;
  /** How often watched namespaces' revisions are compared with Postgres. @default 2_000 (2 s) */
  repairIntervalMs?: number;
  /**
   * How long the periodic check waits for a change it found missing to arrive over the bus
   * before it reads history. @default 100 (100 ms)
   */
  periodicGraceMs?: number;
  /** Revisions read from history per query (repair and resume replay). @default 500 */
  pageSize?: number;
  /**
   * Longest one database step of the feed may take (the periodic revision check, a history page
   * of a repair, a read of omitted values) before it counts as failed; the step is then retried
   * with backoff, so a slow or hung query never holds up a namespace or the next check.
   * @default Math.max(500, repairIntervalMs)
   */
  stepTimeoutMs?: number;
  /**
   * Longest the first read of a namespace's revision may take when it starts being followed.
   * Every subscriber arriving meanwhile waits on this one read and fails with it, so it is not
   * bounded like a background step (which is simply retried): a burst of subscribes on a loaded
   * machine must not fail them all. @default Math.max(5_000, stepTimeoutMs) (5 s)
   */
  startTimeoutMs?: number;
  /**
   * Changes one subscriber may have queued but not consumed. A subscriber beyond it is ended with
   * `SERVICE_UNAVAILABLE` (it resumes with `sinceRevision`) so it cannot hold up anyone else.
   * @default 10_000
   */
  maxQueuedChanges?: number;
  /** Out-of-order revisions held per namespace while a gap is repaired. @default 10_000 */
  maxPendingRevisions?: number;
  /** How long a namespace nobody watches keeps its bus subscription. @default 10_000 (10 s) */
  idleUnsubscribeMs?: number;
  logger?: Pick<Logger, 'warn' | 'info' | 'debug' | 'error'>;
  /** Called after each repair that delivered history, with the number of revisions it delivered. */
  onRepair?: (reason: RepairReason, revisions: number) => void;
  /**
   * Called once per change delivered to a watched namespace (not per subscription), e.g. to
   * observe propagation delay from `changedAt`.
   */
  onDeliver?: (change: DeliveredChange) => void;
  /**
   * Traces each revision handed to this feed's watchers, as a child of its writer's publish (bus)
   * or request (local), or of a repair (history): docs/TRACING.md. @default undefined (off)
   */
  tracer?: Tracer;
}
