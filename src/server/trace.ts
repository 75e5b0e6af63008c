import { randomBytes } from 'node:crypto';

const TRACEPARENT = /^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$/;
const TRACE_ID = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * The request's trace id: from a W3C `traceparent`, else `x-trace-id`, else a new one.
 * Untrusted values that do not fit the syntax are replaced rather than logged verbatim.
 */
export function traceIdFrom(headers: { get(name: string): string | null }): string {
  const parent = headers.get('traceparent')?.trim().match(TRACEPARENT)?.[1];
  if (parent && !/^0+$/.test(parent)) return parent;
  const given = headers.get('x-trace-id')?.trim();
  if (given && TRACE_ID.test(given)) return given;
  return randomBytes(16).toString('hex');
}
