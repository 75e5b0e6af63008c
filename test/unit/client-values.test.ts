/** The SDK's value layers (env > gateway/fallback > defaults) and the events applying causes. */
import { describe, expect, it } from 'vitest';
import { createValues } from '../../src/client/values.js';

const entry = (key: string, value: unknown, version = 1, revision = 1, more: { secret?: boolean; redacted?: boolean } = {}) => ({
  key,
  value,
  version,
  revision,
  secret: more.secret ?? false,
  redacted: more.redacted ?? false,
});

describe('values', () => {
  it('resolves env over the gateway over defaults, and hides redacted entries', () => {
    const values = createValues({ overrides: new Map([['a', 'env']]), defaults: new Map<string, unknown>([['a', 'd'], ['b', 'd'], ['c', 'd']]) });
    expect(values.resolve('b')).toEqual({ value: 'd', version: 0, revision: 0, source: 'default' });
    expect(values.applySnapshot({ revision: 3, entries: [entry('a', 1), entry('b', 2, 4, 3), entry('s', 'x', 1, 1, { redacted: true })] }, true)).toEqual([]);
    expect(values.resolve('a')?.source).toBe('env');
    expect(values.resolve('b')).toEqual({ value: 2, version: 4, revision: 3, source: 'gateway' });
    expect(values.resolve('s')).toBeUndefined();
    expect(values.keys()).toEqual(['a', 'b', 'c']);
    expect(values.versions()).toEqual({ a: 1, b: 4, s: 1 });
    expect(values.applied).toBe(3);
  });

  it('a revision emits one event per key the service sees change; env-hidden keys and old revisions emit nothing', () => {
    const values = createValues({ overrides: new Map([['hidden', 1]]), defaults: new Map([['gone', 'default']]) });
    values.applySnapshot({ revision: 1, entries: [entry('gone', 'live'), entry('hidden', 0)] }, true);
    const events = values.applyRevision(2, [
      { ...entry('gone', null, 2, 2), op: 'DELETE' },
      { ...entry('hidden', 5, 2, 2), op: 'SET' },
      { ...entry('new', true, 1, 2), op: 'SET' },
    ]);
    expect(events).toEqual([
      { key: 'gone', op: 'DELETE', value: 'default', previous: 'live', version: 2, revision: 2, source: 'default' },
      { key: 'new', op: 'SET', value: true, previous: undefined, version: 1, revision: 2, source: 'gateway' },
    ]);
    expect(values.applyRevision(2, [{ ...entry('new', false, 2, 2), op: 'SET' }])).toEqual([]);
    expect(values.resolve('new')?.value).toBe(true);
  });

  it('a relist (or the move from the fallback file) emits only real differences', () => {
    const values = createValues({ overrides: new Map(), defaults: new Map() });
    values.applyFallback(4, { a: { value: { x: 1, y: 2 }, version: 1, revision: 1 }, b: { value: 1, version: 1, revision: 1 } });
    expect(values.snapshotSource).toBe('fallback');
    const events = values.applySnapshot({ revision: 9, entries: [entry('a', { y: 2, x: 1 }, 2, 8), entry('c', 3, 1, 9)] }, false);
    expect(events.map((e) => [e.key, e.op, e.value, e.previous])).toEqual([
      ['b', 'DELETE', undefined, 1],
      ['c', 'SET', 3, undefined],
    ]);
    expect(values.snapshotSource).toBe('gateway');
  });
});
