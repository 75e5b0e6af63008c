import { describe, expect, it } from 'vitest';
import { planRestore } from '../../src/core/restore.js';
import type { Change, Entry, JsonValue, NamespaceState } from '../../src/core/types.js';

const at = new Date(0);
const change = (key: string, version: number, op: 'SET' | 'DELETE', value: JsonValue | null, extra: Partial<Change> = {}): Change => ({
  namespace: 'ns', key, op, version, revision: version, value, changedAt: at, changedBy: null, reason: null, traceId: null,
  secret: false, description: null, schema: null, ...extra,
});
const entry = (key: string, version: number, value: JsonValue, extra: Partial<Entry> = {}): Entry => ({
  namespace: 'ns', key, value, version, revision: version, updatedAt: at, updatedBy: null, description: null, secret: false, schema: null, ...extra,
});
const state = (keys: Change[], current: Entry[]): NamespaceState => ({
  namespace: 'ns', revision: 10, at: 5,
  keys: new Map(keys.map((c) => [c.key, c])), current: new Map(current.map((e) => [e.key, e])),
});

describe('planRestore', () => {
  it('rolls changed and deleted keys back with their settings, deletes created ones, leaves untouched ones', () => {
    const ops = planRestore(
      state(
        [change('changed', 2, 'SET', 1), change('deleted-since', 3, 'SET', 'x'), change('same', 1, 'SET', true), change('gone-then', 4, 'DELETE', null)],
        [entry('changed', 5, 2), entry('same', 1, true), entry('created', 1, 'new'), entry('gone-then', 6, 'back')],
      ),
    );
    expect(ops).toEqual([
      { kind: 'rollback', key: 'changed', toVersion: 2, expectedVersion: 5, withSettings: true },
      { kind: 'delete', key: 'created', expectedVersion: 1 },
      { kind: 'rollback', key: 'deleted-since', toVersion: 3, expectedVersion: 0, withSettings: true },
      { kind: 'delete', key: 'gone-then', expectedVersion: 6 },
    ]);
  });

  it('is idempotent: a key already holding the old value and settings (under a newer version) is left alone', () => {
    const then = change('k', 2, 'SET', { b: 1, a: [1, { c: 2 }] }, { description: 'd', schema: { type: 'object' } });
    const now = entry('k', 7, { a: [1, { c: 2 }], b: 1 }, { description: 'd', schema: { type: 'object' } });
    expect(planRestore(state([then], [now]))).toEqual([]);
  });

  it('counts a setting as a difference: description, secret flag, schema', () => {
    const then = change('k', 2, 'SET', 1, { description: 'old' });
    for (const now of [entry('k', 3, 1, { description: 'new' }), entry('k', 3, 1, { description: 'old', secret: true }), entry('k', 3, 1, { description: 'old', schema: {} })]) {
      expect(planRestore(state([then], [now]))).toHaveLength(1);
    }
  });
});
