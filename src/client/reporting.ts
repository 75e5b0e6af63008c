/**
 * `reportApplied`: tells the gateway which revision this client has applied, at most once per
 * `intervalMs`, and again every `heartbeatMs` so `convergence` keeps listing the client. Best
 * effort: a lost report is repaired by the next one.
 */
import { later } from './web-socket.js';

export interface ReporterOptions {
  /** Sends one report; a rejection is ignored. */
  send: (revision: number) => Promise<void>;
  /** The revision to report now. */
  applied: () => number;
  /** Whether reports are wanted now (the values come from the gateway). */
  enabled: () => boolean;
  intervalMs: number;
  heartbeatMs: number;
}

export interface Reporter {
  /** A report soon (within `intervalMs` of the last one). */
  schedule(): void;
  /** Whether a report was ever sent (a client that reported says goodbye on close). */
  readonly reported: boolean;
  stop(): void;
}

export function createReporter({ send, applied, enabled, intervalMs, heartbeatMs }: ReporterOptions): Reporter {
  let timer: ReturnType<typeof setTimeout> | null = null;
  let timerIsHeartbeat = false;
  let reporting = false;
  let again = false;
  let lastAt = 0;
  let lastRevision = -1;
  let stopped = false;

  function schedule(): void {
    if (stopped || !enabled()) return;
    if (reporting) {
      again = true;
      return;
    }
    if (timer && !timerIsHeartbeat) return;
    if (timer) clearTimeout(timer);
    timerIsHeartbeat = false;
    timer = later(() => void report(), Math.max(0, lastAt + intervalMs - Date.now()));
  }

  async function report(): Promise<void> {
    timer = null;
    if (stopped) return;
    reporting = true;
    again = false;
    lastAt = Date.now();
    const revision = applied();
    try {
      await send(revision);
      lastRevision = revision;
    } catch {
      // A lost report is repaired by the next one; convergence shows the lag meanwhile.
    } finally {
      reporting = false;
    }
    if (stopped) return;
    if (again || applied() !== lastRevision) {
      schedule();
    } else {
      timerIsHeartbeat = true;
      timer = later(() => void report(), heartbeatMs);
    }
  }

  return {
    schedule,
    get reported() {
      return lastAt > 0;
    },
    stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      timer = null;
    },
  };
}
