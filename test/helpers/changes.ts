import type { Change } from '../../src/core/types.js';

/** A SET change of `key` in namespace `ns` at `revision` (value = revision), for fake-driven unit tests. */
export function setChange(revision: number, key = 'k', overrides: Partial<Change> = {}): Change {
  return {
    namespace: 'ns',
    key,
    op: 'SET',
    version: revision,
    revision,
    value: revision,
    changedAt: new Date(0),
    changedBy: null,
    reason: null,
    traceId: null,
    secret: false,
    description: null,
    schema: null,
    ...overrides,
  };
}
