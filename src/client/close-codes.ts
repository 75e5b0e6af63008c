/**
 * The one policy for how a watch ended: which endings stop the client, which make it list
 * again, which it retries (and whether that is worth an `error` event). The SDK and the CLI's
 * `watch` both follow it; nothing else in the code base decides this.
 *
 * | ending                                              | verdict                                   |
 * |-----------------------------------------------------|-------------------------------------------|
 * | `UNAUTHENTICATED` (4401, HTTP 401)                  | stop; with a token function: retry on the same URL with a fresh token (at once, unreported, when an accepted connection's token expired) |
 * | `FORBIDDEN` (4403, HTTP 403), `BAD_USER_INPUT`      | stop: the same request can never succeed  |
 * | `REVISION_COMPACTED`, `REVISION_AHEAD`              | list again, same URL, unreported          |
 * | 1000/1001 after `connection_ack`                    | retry on the next URL, unreported (the gateway is going away) |
 * | `TOKEN_UNAVAILABLE` (the token function failed)     | retry on the same URL (not its fault)     |
 * | anything else: network codes, `HTTP_5xx`, `TIMEOUT`, `PONG_TIMEOUT`, other close codes (1006, 1013, 4400, 4406, 4409, 4429, 4500, …), GraphQL validation errors | retry on the next URL, reported |
 *
 * graphql-ws's own default retries 4403 and gives up on 4400/4406/4409/4429/4500. Here 4403 is
 * final (a token that grants nothing will not start granting: docs/AUTH.md) and the protocol
 * codes are retried with backoff and reported every time: in a fleet mid-upgrade another
 * gateway (or the same one, a minute later) may speak the protocol the client expects, and a
 * service must not stop following its config for good because of one gateway's bug.
 */
import { ConfigClientError } from './errors.js';
import { describeNetworkError, toClientError } from './transport.js';

/** Codes after which retrying the same request cannot help. */
export const FATAL_CODES: ReadonlySet<string> = new Set(['UNAUTHENTICATED', 'FORBIDDEN', 'HTTP_401', 'HTTP_403', 'BAD_USER_INPUT']);

/** Refusals of the token itself: a token function may hand out a better one next time. */
export const AUTH_CODES: ReadonlySet<string> = new Set(['UNAUTHENTICATED', 'HTTP_401']);

/** Codes that mean the client's revision is not servable and it must list again. */
export const RELIST_CODES: ReadonlySet<string> = new Set(['REVISION_COMPACTED', 'REVISION_AHEAD']);

/** graphql-ws close codes that carry a GraphQL-level refusal, as the error code they stand for. */
export const CLOSE_CODE_ERRORS: ReadonlyMap<number, string> = new Map([
  [4401, 'UNAUTHENTICATED'],
  [4403, 'FORBIDDEN'],
]);

/** Closes that mean "this gateway is going away", not that something failed. */
export const CLEAN_CLOSES: ReadonlySet<number> = new Set([1000, 1001]);

/** The WebSocket close code behind an error code (`CLOSE_1006` → 1006, `UNAUTHENTICATED` → null). */
export function closeCodeOf(code: string): number | null {
  const match = /^CLOSE_(\d+)$/.exec(code);
  return match ? Number(match[1]) : null;
}

/** What to do after a watch ended. */
export type Verdict =
  /** Give up: the client closes with this error (`ready()` rejects, `error` is emitted). */
  | { action: 'stop' }
  /** List the namespace again, then watch from the listed revision. */
  | { action: 'relist'; report: false; rotate: false }
  /** Connect again after the backoff; `rotate` moves to the next URL, `report` emits `error`. */
  | { action: 'retry'; report: boolean; rotate: boolean };

export interface Ending {
  /** Why the watch ended; null when the gateway completed it or the client stopped it. */
  error: ConfigClientError | null;
  /** Whether the gateway had accepted the connection (`connection_ack`) before it ended. */
  acknowledged: boolean;
}

/**
 * The verdict on one ending.
 * @param refreshableToken the token is a function (it may hand out a better one next time)
 */
export function judge({ error, acknowledged }: Ending, { refreshableToken }: { refreshableToken: boolean }): Verdict {
  if (error === null) return { action: 'retry', report: false, rotate: true };
  const { code } = error;
  if (AUTH_CODES.has(code)) {
    if (!refreshableToken) return { action: 'stop' };
    // The gateway closes an accepted connection with 4401 when its token expires: expected.
    // A refused token moves on to the next URL as any failure does.
    return { action: 'retry', report: !acknowledged, rotate: !acknowledged };
  }
  if (FATAL_CODES.has(code)) return { action: 'stop' };
  if (RELIST_CODES.has(code)) return { action: 'relist', report: false, rotate: false };
  if (code === 'TOKEN_UNAVAILABLE') return { action: 'retry', report: true, rotate: false };
  const close = closeCodeOf(code);
  if (acknowledged && close !== null && CLEAN_CLOSES.has(close)) return { action: 'retry', report: false, rotate: true };
  return { action: 'retry', report: true, rotate: true };
}

/**
 * A `ConfigClientError` for what graphql-ws reported when a connection or subscription ended: a
 * close event (`{ code, reason }`), the socket's error event (whose `error` holds the system
 * error), GraphQL errors (an array), or an Error thrown on the client side.
 */
export function describeSocketFailure(reason: unknown, url: string): ConfigClientError {
  if (reason instanceof ConfigClientError || Array.isArray(reason)) return toClientError(reason);
  if (typeof reason === 'object' && reason !== null && typeof (reason as { code?: unknown }).code === 'number') {
    const { code, reason: text } = reason as { code: number; reason?: string };
    const detail = `${code}${text ? ` ${text}` : ''}`;
    const named = CLOSE_CODE_ERRORS.get(code);
    if (named) return new ConfigClientError(`${url} closed the connection: ${detail}`, named);
    if (code === 1006) return new ConfigClientError(`connection to ${url} lost (1006: closed without a close frame)`, 'CLOSE_1006');
    return new ConfigClientError(`${url} closed the connection: ${detail}`, `CLOSE_${code}`);
  }
  const inner = typeof reason === 'object' && reason !== null && 'error' in reason ? (reason as { error: unknown }).error : reason;
  const { code, message } = describeNetworkError(inner);
  const text = message || (typeof reason === 'object' && reason !== null ? String((reason as { message?: unknown }).message ?? '') : '');
  // `ws` refuses an upgrade answered with a plain HTTP status (a wrong path, or a proxy or
  // ingress that does not pass WebSocket upgrades) with only this message: give it the status.
  const status = /Unexpected server response: (\d{3})/.exec(text)?.[1];
  if (code === 'NETWORK' && status) {
    return new ConfigClientError(`WebSocket upgrade to ${url} answered HTTP ${status} (does a proxy in between pass WebSocket upgrades?)`, `HTTP_${status}`, [], {
      cause: inner,
    });
  }
  return new ConfigClientError(`WebSocket to ${url} failed: ${text || 'no reason given'}`, code, [], { cause: inner });
}
