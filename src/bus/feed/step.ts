import { GatewayError } from '../../errors.js';

/**
 * Retry delay after `failures` consecutive failures: 100 ms doubling, never past `capMs`, with
 * jitter (75–100 %) so gateways that failed together do not retry together.
 */
export function backoffMs(failures: number, capMs: number): number {
  return Math.min(capMs, 100 * 2 ** Math.min(Math.max(failures, 1) - 1, 16)) * (0.75 + Math.random() / 4);
}

/**
 * Bounds `step` by `timeoutMs`: past it the returned promise rejects with `SERVICE_UNAVAILABLE`
 * (the step's late result, or late failure, is ignored).
 *
 * The timeout is decided one turn of the event loop after its timer fired: on a loop blocked for
 * longer than the bound (a burst of a thousand subscribes on a loaded machine), the timer and the
 * answer are both ready when the loop comes back, and timers run before I/O. Deferring the verdict
 * past the I/O phase lets an answer that did arrive in time win, instead of failing a step whose
 * database did its part.
 */
export function bounded<T>(step: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  let immediate: NodeJS.Immediate | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      immediate = setImmediate(() => reject(new GatewayError('SERVICE_UNAVAILABLE', `${what} took longer than ${timeoutMs} ms`)));
    }, timeoutMs);
    timer.unref();
  });
  step.catch(() => {}); // an abandoned step may still fail later: nobody is listening then
  return Promise.race([step, timeout]).finally(() => {
    clearTimeout(timer);
    if (immediate) clearImmediate(immediate);
  });
}
