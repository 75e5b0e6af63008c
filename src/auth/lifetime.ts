import type { Principal } from '../core/types.js';
import { GatewayError } from '../errors.js';

/** The message every refusal for an expired token carries (HTTP, graphql-ws close reason, SSE). */
export const TOKEN_EXPIRED_MESSAGE = 'Token expired';

/** Longest delay `setTimeout` honours (2^31 - 1 ms, ~24.8 days); longer ones fire at once. */
const MAX_TIMER_MS = 2_147_483_647;

/** Whether `principal`'s credential has expired at `now`. Null (anonymous) and tokens without `exp` never do. */
export function isExpired(principal: Pick<Principal, 'expiresAt'> | null | undefined, now: number = Date.now()): boolean {
  return principal?.expiresAt != null && principal.expiresAt <= now;
}

/** UNAUTHENTICATED for a credential used past its `exp`, as the core raises it. */
export function tokenExpired(): GatewayError {
  return new GatewayError('UNAUTHENTICATED', TOKEN_EXPIRED_MESSAGE);
}

/**
 * Calls `onExpired` once when `principal`'s credential expires (at once, on the next tick, when
 * it already has); never for a principal that does not expire. Returns the canceller, which is
 * safe to call more than once. Delays beyond what one timer can hold (tokens valid for 30 days)
 * are re-armed in steps. The timer does not keep the process alive.
 *
 * @example
 * const cancel = onExpiry(principal, () => socket.close(4401, TOKEN_EXPIRED_MESSAGE));
 * socket.once('close', cancel);
 */
export function onExpiry(principal: Pick<Principal, 'expiresAt'> | null | undefined, onExpired: () => void): () => void {
  const expiresAt = principal?.expiresAt;
  if (expiresAt == null) return () => {};
  let timer: NodeJS.Timeout | null = null;
  const schedule = (delay: number) => {
    timer = setTimeout(arm, Math.min(Math.max(delay, 0), MAX_TIMER_MS));
    timer.unref();
  };
  // Re-checked when the timer fires: a timer may fire early (ms rounding) or be one step of many.
  const arm = () => {
    const delay = expiresAt - Date.now();
    if (delay > 0) return schedule(delay);
    timer = null;
    onExpired();
  };
  schedule(expiresAt - Date.now());
  return () => {
    if (timer) clearTimeout(timer);
    timer = null;
  };
}
