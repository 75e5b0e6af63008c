import { randomFillSync } from 'node:crypto';

const TRACEPARENT = /^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$/;
const TRACE_ID = /^[A-Za-z0-9_-]{1,64}$/;

/** Random bytes for 256 trace ids, drawn from the CSPRNG at once rather than once per request. */
const pool = Buffer.allocUnsafe(16 * 256);
let offset = pool.length;

/** A new random 128-bit trace id as 32 hex characters (never all zeros, as W3C requires). */
export function newTraceId(): string {
  if (offset === pool.length) {
    randomFillSync(pool);
    offset = 0;
  }
  const id = pool.toString('hex', offset, (offset += 16));
  return id === '00000000000000000000000000000000' ? newTraceId() : id;
}

/**
 * The request's trace id: from a W3C `traceparent`, else `x-trace-id`, else a new one.
 * Untrusted values that do not fit the syntax are replaced rather than logged verbatim.
 */
export function traceIdFrom(headers: { get(name: string): string | null }): string {
  const parent = headers.get('traceparent')?.trim().match(TRACEPARENT)?.[1];
  if (parent && !/^0+$/.test(parent)) return parent;
  return clientTraceId(headers) ?? newTraceId();
}

/** The caller's `x-trace-id`, when it fits the syntax (else null: it is never logged verbatim). */
export function clientTraceId(headers: { get(name: string): string | null }): string | null {
  const given = headers.get('x-trace-id')?.trim();
  return given && TRACE_ID.test(given) ? given : null;
}
