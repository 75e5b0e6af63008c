import { describe, expect, it } from 'vitest';
import { newTraceId, traceIdFrom } from '../../src/server/trace.js';

const headers = (values: Record<string, string>) => ({ get: (name: string) => values[name] ?? null });

describe('trace ids', () => {
  it('a new trace id is 32 lowercase hex characters, not all zeros, and none repeats across many (the random pool refills)', () => {
    const ids = Array.from({ length: 2_000 }, () => newTraceId());
    for (const id of ids) expect(id).toMatch(/^(?!0{32})[0-9a-f]{32}$/);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it("a request's trace id is its traceparent's, else its x-trace-id, else a new one", () => {
    const parent = '4bf92f3577b34da6a3ce929d0e0e4736';
    expect(traceIdFrom(headers({ traceparent: `00-${parent}-00f067aa0ba902b7-01`, 'x-trace-id': 'mine' }))).toBe(parent);
    expect(traceIdFrom(headers({ 'x-trace-id': 'mine' }))).toBe('mine');
    expect(traceIdFrom(headers({ 'x-trace-id': 'not a valid id!' }))).toMatch(/^[0-9a-f]{32}$/);
    expect(traceIdFrom(headers({}))).toMatch(/^[0-9a-f]{32}$/);
  });
});
