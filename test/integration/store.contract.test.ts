import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConfigStore, WriteMeta } from '../../src/core/types.js';
import { createConfigStore } from '../../src/db/config-store.js';
import { connectDatabase, type ConnectOptions, type Database } from '../../src/db/connect.js';
import { isGatewayError } from '../../src/errors.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';

const meta: WriteMeta = { actor: 'alice', reason: 'test', traceId: 'trace-1', canReadSecrets: true };

/** The error a promise rejects with, asserting it is a GatewayError with `code`. */
async function failure(promise: Promise<unknown>, code: string) {
  const error = await promise.then(
    () => {
      throw new Error(`expected ${code}, but the call succeeded`);
    },
    (e: unknown) => e,
  );
  if (!isGatewayError(error)) throw error;
  expect(error.code).toBe(code);
  return error;
}

interface Harness {
  open(): Promise<ConnectOptions>;
  dispose(): Promise<void>;
}

const drivers: Array<[string, 'postgres' | 'pglite', () => Harness]> = [
  [
    'postgres',
    'postgres',
    () => {
      let database: TestDatabase | null = null;
      return {
        async open() {
          database ??= await createTestDatabase('store_contract');
          return { databaseUrl: database.url, poolMax: 5 };
        },
        async dispose() {
          await database?.drop();
        },
      };
    },
  ],
  [
    // As behind PgBouncer or Supavisor in transaction mode: no named prepared statements.
    'postgres (prepare: false)',
    'postgres',
    () => {
      let database: TestDatabase | null = null;
      return {
        async open() {
          database ??= await createTestDatabase('store_contract_unprepared');
          return { databaseUrl: database.url, poolMax: 3, prepare: false };
        },
        async dispose() {
          await database?.drop();
        },
      };
    },
  ],
  [
    'pglite',
    'pglite',
    () => {
      let dir: string | null = null;
      return {
        async open() {
          dir ??= await mkdtemp(join(tmpdir(), 'hotconf-store-'));
          return { dataDir: dir };
        },
        async dispose() {
          if (dir) await rm(dir, { recursive: true, force: true });
        },
      };
    },
  ],
];

describe.each(drivers)('ConfigStore on %s', (_label, driver, makeHarness) => {
  const harness = makeHarness();
  let database: Database;
  let store: ConfigStore;
  let counter = 0;
  /** A namespace of the test's own. */
  const ns = () => `ns-${++counter}`;

  const reopen = async () => {
    database = await connectDatabase(await harness.open());
    await database.migrate();
    store = createConfigStore({ database, maxValueBytes: 1024, maxBatchSize: 50 });
  };

  beforeAll(reopen);
  afterAll(async () => {
    await database?.close();
    await harness.dispose();
  });

  it('reports its driver and answers ping', async () => {
    expect(database.driver).toBe(driver);
    expect(store.stats().driver).toBe(driver);
    await store.ping();
  });

  it('creates a key at version 1 and bumps version and revision on every update', async () => {
    const n = ns();
    const created = await store.write(n, [{ kind: 'set', key: 'ai.threshold', value: 0.75, description: 'cut-off' }], meta);
    expect(created.revision).toBe(1);
    expect(created.entries[0]).toMatchObject({ key: 'ai.threshold', value: 0.75, version: 1, revision: 1, updatedBy: 'alice', description: 'cut-off' });
    const updated = await store.write(n, [{ kind: 'set', key: 'ai.threshold', value: 0.85 }], meta);
    expect(updated.revision).toBe(2);
    expect(updated.entries[0]).toMatchObject({ value: 0.85, version: 2, revision: 2, description: 'cut-off' });
    const entry = await store.get(n, 'ai.threshold');
    expect(entry).toMatchObject({ value: 0.85, version: 2, revision: 2, description: 'cut-off', secret: false });
    expect(await store.get(n, 'missing')).toBeNull();
  });

  it('round-trips every JSON type unchanged, including strings that look like numbers', async () => {
    const n = ns();
    const values = ['123', 'true', 'null', '"quoted"', 42, 0, false, [1, 'a', { b: null }], { nested: { deep: [true] } }, ''];
    await store.write(n, values.map((value, i) => ({ kind: 'set' as const, key: `k${i}`, value })), meta);
    const snapshot = await store.snapshot(n);
    expect(snapshot.entries.map((e) => e.value)).toEqual(values);
    const page = await store.changes(n, 0, { limit: 100 });
    expect(page.changes.map((c) => c.value)).toEqual(values);
  });

  it('keeps description and schema when omitted, clears them with null', async () => {
    const n = ns();
    await store.write(n, [{ kind: 'set', key: 'k', value: 1, description: 'd', secret: true, schema: { type: 'number' } }], meta);
    const kept = await store.write(n, [{ kind: 'set', key: 'k', value: 2 }], meta);
    expect(kept.entries[0]).toMatchObject({ description: 'd', secret: true, schema: { type: 'number' } });
    const cleared = await store.write(n, [{ kind: 'set', key: 'k', value: 'now a string', description: null, schema: null }], meta);
    expect(cleared.entries[0]).toMatchObject({ description: null, secret: true, schema: null, value: 'now a string' });
  });

  it('compare-and-set: a stale expectedVersion fails with the current version and writes nothing', async () => {
    const n = ns();
    await store.write(n, [{ kind: 'set', key: 'k', value: 1 }], meta);
    await store.write(n, [{ kind: 'set', key: 'k', value: 2, expectedVersion: 1 }], meta);
    const error = await failure(store.write(n, [{ kind: 'set', key: 'k', value: 3, expectedVersion: 1 }], meta), 'VERSION_CONFLICT');
    expect(error.details).toMatchObject({ currentVersion: 2, key: 'k' });
    expect(await store.get(n, 'k')).toMatchObject({ value: 2, version: 2 });
    expect((await store.revisions([n])).get(n)).toBe(2);
  });

  it('expectedVersion 0 creates only when the key does not exist', async () => {
    const n = ns();
    await store.write(n, [{ kind: 'set', key: 'k', value: 'a', expectedVersion: 0 }], meta);
    const error = await failure(store.write(n, [{ kind: 'set', key: 'k', value: 'b', expectedVersion: 0 }], meta), 'VERSION_CONFLICT');
    expect(error.details.currentVersion).toBe(1);
  });

  it('a namespace that requires a reason refuses a write without one and consumes no revision', async () => {
    const n = ns();
    expect(await store.configureNamespace(n, { requireReason: true })).toEqual({ name: n, revision: 0, entryCount: 0, requireReason: true });
    const error = await failure(store.write(n, [{ kind: 'set', key: 'k', value: 1 }], { ...meta, reason: null }), 'BAD_USER_INPUT');
    expect(error.details.rule).toBe('REASON_REQUIRED');
    expect((await store.write(n, [{ kind: 'set', key: 'k', value: 1 }], meta)).revision).toBe(1);
    expect(await store.configureNamespace(n, {})).toMatchObject({ revision: 1, requireReason: true });
    await store.configureNamespace(n, { requireReason: false });
    expect((await store.write(n, [{ kind: 'set', key: 'k', value: 2 }], { ...meta, reason: null })).revision).toBe(2);
  });

  it('delete writes a change with its own version; the key is gone and a re-create continues the versions', async () => {
    const n = ns();
    await store.write(n, [{ kind: 'set', key: 'k', value: 1, description: 'old' }], meta);
    const deleted = await store.write(n, [{ kind: 'delete', key: 'k', expectedVersion: 1 }], meta);
    expect(deleted.changes[0]).toMatchObject({ op: 'DELETE', version: 2, revision: 2, value: null });
    expect(deleted.entries).toEqual([]);
    expect(await store.get(n, 'k')).toBeNull();
    expect((await store.snapshot(n)).entries).toEqual([]);
    expect(await store.namespaces()).toContainEqual({ name: n, revision: 2, entryCount: 0, requireReason: false });

    await failure(store.write(n, [{ kind: 'delete', key: 'k' }], meta), 'NOT_FOUND');
    const conflict = await failure(store.write(n, [{ kind: 'set', key: 'k', value: 2, expectedVersion: 2 }], meta), 'VERSION_CONFLICT');
    expect(conflict.details.currentVersion).toBe(0);

    const recreated = await store.write(n, [{ kind: 'set', key: 'k', value: 3, expectedVersion: 0 }], meta);
    expect(recreated.entries[0]).toMatchObject({ version: 3, revision: 3, value: 3, description: null });
  });

  it('delete of a key that never existed is NOT_FOUND and does not create the namespace revision', async () => {
    const n = ns();
    await failure(store.write(n, [{ kind: 'delete', key: 'nope' }], meta), 'NOT_FOUND');
    expect((await store.revisions([n])).has(n)).toBe(false);
  });

  it('rollback writes a new version with an old value and keeps the settings', async () => {
    const n = ns();
    await store.write(n, [{ kind: 'set', key: 'k', value: { t: 0.75 }, description: 'd', secret: true }], meta);
    await store.write(n, [{ kind: 'set', key: 'k', value: { t: 0.85 } }], meta);
    const rolled = await store.write(n, [{ kind: 'rollback', key: 'k', toVersion: 1, expectedVersion: 2 }], meta);
    expect(rolled.entries[0]).toMatchObject({ value: { t: 0.75 }, version: 3, revision: 3, description: 'd', secret: true });
    expect(rolled.changes[0]).toMatchObject({ op: 'SET', version: 3, secret: true });
    await failure(store.write(n, [{ kind: 'rollback', key: 'k', toVersion: 9 }], meta), 'NOT_FOUND');
    await store.write(n, [{ kind: 'delete', key: 'k' }], meta);
    // A delete row is not a value to roll back to.
    await failure(store.write(n, [{ kind: 'rollback', key: 'k', toVersion: 4 }], meta), 'NOT_FOUND');
    // Rolling back a deleted key brings it back.
    const revived = await store.write(n, [{ kind: 'rollback', key: 'k', toVersion: 2 }], meta);
    expect(revived.entries[0]).toMatchObject({ value: { t: 0.85 }, version: 5 });
  });

  it('rollback refuses a value the current schema rejects', async () => {
    const n = ns();
    await store.write(n, [{ kind: 'set', key: 'k', value: -1 }], meta);
    await store.write(n, [{ kind: 'set', key: 'k', value: 0.5, schema: { type: 'number', minimum: 0 } }], meta);
    await failure(store.write(n, [{ kind: 'rollback', key: 'k', toVersion: 1 }], meta), 'VALIDATION_FAILED');
    expect(await store.get(n, 'k')).toMatchObject({ value: 0.5, version: 2 });
  });

  it('a batch is one revision shared by all its changes', async () => {
    const n = ns();
    await store.write(n, [{ kind: 'set', key: 'x', value: 0 }], meta);
    const batch = await store.write(
      n,
      [
        { kind: 'set', key: 'a', value: 1 },
        { kind: 'set', key: 'b', value: 2 },
        { kind: 'delete', key: 'x' },
      ],
      meta,
    );
    expect(batch.revision).toBe(2);
    expect(batch.changes.map((c) => [c.key, c.op, c.revision])).toEqual([
      ['a', 'SET', 2],
      ['b', 'SET', 2],
      ['x', 'DELETE', 2],
    ]);
    expect(batch.entries.map((e) => e.key)).toEqual(['a', 'b']);
    const changedAt = new Set(batch.changes.map((c) => c.changedAt.getTime()));
    expect(changedAt.size).toBe(1);
  });

  it('a batch is all or nothing: one conflict writes none of it and consumes no revision', async () => {
    const n = ns();
    await store.write(n, [{ kind: 'set', key: 'a', value: 1 }], meta);
    await failure(
      store.write(
        n,
        [
          { kind: 'set', key: 'b', value: 2 },
          { kind: 'set', key: 'a', value: 3, expectedVersion: 7 },
        ],
        meta,
      ),
      'VERSION_CONFLICT',
    );
    expect(await store.get(n, 'b')).toBeNull();
    expect((await store.revisions([n])).get(n)).toBe(1);
    const next = await store.write(n, [{ kind: 'set', key: 'b', value: 2 }], meta);
    expect(next.revision).toBe(2);
  });

  it('refuses duplicate keys in a batch, bad names, null and oversized values', async () => {
    const n = ns();
    const dup = await failure(
      store.write(
        n,
        [
          { kind: 'set', key: 'a', value: 1 },
          { kind: 'set', key: 'a', value: 2 },
        ],
        meta,
      ),
      'BAD_USER_INPUT',
    );
    expect(dup.details.field).toBe('inputs.1.key');
    await failure(store.write('Bad Namespace', [{ kind: 'set', key: 'a', value: 1 }], meta), 'BAD_USER_INPUT');
    await failure(store.write(n, [{ kind: 'set', key: '.a', value: 1 }], meta), 'BAD_USER_INPUT');
    await failure(store.write(n, [{ kind: 'set', key: 'a', value: null }], meta), 'BAD_USER_INPUT');
    const big = await failure(store.write(n, [{ kind: 'set', key: 'a', value: 'x'.repeat(2000) }], meta), 'BAD_USER_INPUT');
    expect(big.message).toContain('1024');
    const many = Array.from({ length: 51 }, (_, i) => ({ kind: 'set' as const, key: `k${i}`, value: i }));
    await failure(store.write(n, many, meta), 'BAD_USER_INPUT');
    await failure(store.write(n, [{ kind: 'set', key: 'a', value: 1, schema: { type: 'no-such-type' } }], meta), 'BAD_USER_INPUT');
    expect((await store.revisions([n])).has(n)).toBe(false);
  });

  it('refuses U+0000 in values and descriptions as bad input instead of failing in the database', async () => {
    const n = ns();
    await failure(store.write(n, [{ kind: 'set', key: 'a', value: { s: 'nul\u0000' } }], meta), 'BAD_USER_INPUT');
    await failure(store.write(n, [{ kind: 'set', key: 'a', value: 1, description: 'nul\u0000' }], meta), 'BAD_USER_INPUT');
    // A backslash followed by "u0000" is ordinary text.
    const ok = await store.write(n, [{ kind: 'set', key: 'a', value: 'back\\u0000slash' }], meta);
    expect((await store.get(n, 'a'))!.value).toBe(ok.entries[0]!.value);
  });

  it('a failure inside the database rolls the whole write back', async () => {
    const n = ns();
    await store.write(n, [{ kind: 'set', key: 'a', value: 1 }], meta);
    await database.db.execute(
      sql.raw(`create or replace function hotconf_test_boom() returns trigger language plpgsql as $$
        begin if new.key = 'boom' then raise exception 'boom refused'; end if; return new; end $$`),
    );
    await database.db.execute(sql.raw(`create or replace trigger hotconf_test_boom before insert on history for each row execute function hotconf_test_boom()`));
    try {
      const attempt = store.write(
        n,
        [
          { kind: 'set', key: 'a', value: 2 },
          { kind: 'set', key: 'boom', value: 3 },
        ],
        meta,
      );
      await expect(attempt).rejects.toThrow(/boom refused/);
    } finally {
      await database.db.execute(sql.raw('drop trigger hotconf_test_boom on history'));
    }
    expect(await store.get(n, 'a')).toMatchObject({ value: 1, version: 1 });
    expect(await store.get(n, 'boom')).toBeNull();
    expect((await store.revisions([n])).get(n)).toBe(1);
    // The connection is usable and the next write gets the next revision.
    expect((await store.write(n, [{ kind: 'set', key: 'a', value: 4 }], meta)).revision).toBe(2);
  });

  it('a value that breaks the JSON Schema is VALIDATION_FAILED and writes nothing', async () => {
    const n = ns();
    const schema = { type: 'object', properties: { threshold: { type: 'number', minimum: 0, maximum: 1 } }, required: ['threshold'] };
    await store.write(n, [{ kind: 'set', key: 'ai', value: { threshold: 0.75 }, schema }], meta);
    const error = await failure(store.write(n, [{ kind: 'set', key: 'ai', value: { threshold: -1 } }], meta), 'VALIDATION_FAILED');
    expect(error.message).toContain('/threshold');
    expect(error.details.errors).toEqual(['/threshold must be >= 0']);
    // A new schema in the same write applies to that write's value.
    await failure(store.write(n, [{ kind: 'set', key: 'other', value: 'x', schema: { type: 'number' } }], meta), 'VALIDATION_FAILED');
    expect(await store.get(n, 'other')).toBeNull();
    expect(await store.get(n, 'ai')).toMatchObject({ value: { threshold: 0.75 }, version: 1 });
    expect((await store.revisions([n])).get(n)).toBe(1);
  });

  it('runs the validateValue hook on every value written', async () => {
    const guarded = createConfigStore({
      database,
      validateValue: (value, key) => {
        if (key.startsWith('flags.') && typeof value !== 'object') throw new Error('flag must be an object');
      },
    });
    const n = ns();
    await expect(guarded.write(n, [{ kind: 'set', key: 'flags.x', value: 1 }], meta)).rejects.toThrow('flag must be an object');
    await guarded.write(n, [{ kind: 'set', key: 'flags.x', value: { enabled: true } }], meta);
  });

  it('snapshot lists live entries at one revision, optionally under a prefix', async () => {
    const n = ns();
    expect(await store.snapshot(n)).toEqual({ namespace: n, revision: 0, entries: [] });
    await store.write(
      n,
      [
        { kind: 'set', key: 'ai.threshold', value: 1 },
        { kind: 'set', key: 'ai.model', value: 'm' },
        { kind: 'set', key: 'aix', value: 2 },
        { kind: 'set', key: 'billing.rate', value: 3 },
      ],
      meta,
    );
    await store.write(n, [{ kind: 'delete', key: 'ai.model' }], meta);
    const all = await store.snapshot(n);
    expect(all.revision).toBe(2);
    expect(all.entries.map((e) => e.key)).toEqual(['ai.threshold', 'aix', 'billing.rate']);
    const ai = await store.snapshot(n, 'ai.');
    expect(ai).toMatchObject({ namespace: n, revision: 2 });
    expect(ai.entries.map((e) => e.key)).toEqual(['ai.threshold']);
    expect((await store.snapshot(n, 'zzz')).entries).toEqual([]);
  });

  it('changes ascend by (revision, key), filter by keys or prefix, and report the current revision', async () => {
    const n = ns();
    await store.write(n, [{ kind: 'set', key: 'b.one', value: 1 }], meta);
    await store.write(
      n,
      [
        { kind: 'set', key: 'z', value: 2 },
        { kind: 'set', key: 'a.one', value: 3 },
      ],
      meta,
    );
    await store.write(n, [{ kind: 'delete', key: 'b.one' }], meta);
    const page = await store.changes(n, 0, { limit: 100 });
    expect(page).toMatchObject({ namespace: n, revision: 3, hasMore: false });
    expect(page.changes.map((c) => `${c.revision}:${c.key}:${c.op}`)).toEqual(['1:b.one:SET', '2:a.one:SET', '2:z:SET', '3:b.one:DELETE']);
    expect(page.changes[0]).toMatchObject({ changedBy: 'alice', reason: 'test', traceId: 'trace-1', version: 1 });
    const since1 = await store.changes(n, 1, { limit: 100 });
    expect(since1.changes.map((c) => c.revision)).toEqual([2, 2, 3]);
    const filtered = await store.changes(n, 0, { limit: 100, keys: ['z'], prefix: 'b.' });
    expect(filtered.changes.map((c) => `${c.revision}:${c.key}`)).toEqual(['1:b.one', '2:z', '3:b.one']);
    expect(await store.changes(n, 3, { limit: 100 })).toEqual({ namespace: n, revision: 3, changes: [], hasMore: false });
  });

  it('a page carries every field of a change as the key\'s history has it; keys alone and a prefix alone filter', async () => {
    const n = ns();
    await store.write(n, [{ kind: 'set', key: 'a.x', value: { deep: [1, 'two', null] }, description: 'described', schema: { type: 'object' } }], meta);
    await store.write(n, [{ kind: 'set', key: 'b.y', value: 'plain', secret: true }], meta);
    await store.write(n, [{ kind: 'set', key: 'a.x', value: { deep: [] } }], meta);
    await store.write(n, [{ kind: 'delete', key: 'b.y' }], meta);
    const page = await store.changes(n, 0, { limit: 100 });
    const newestFirst = [...(await store.history(n, 'a.x', { limit: 10 })), ...(await store.history(n, 'b.y', { limit: 10 }))];
    const byRevision = newestFirst.sort((x, y) => x.revision - y.revision);
    expect(page.changes).toEqual(byRevision);
    expect(page.changes[0]).toMatchObject({ value: { deep: [1, 'two', null] }, description: 'described', schema: { type: 'object' }, secret: false });
    expect(page.changes[0]!.changedAt).toBeInstanceOf(Date);
    expect(page.changes[3]).toMatchObject({ op: 'DELETE', value: null, key: 'b.y' });
    expect((await store.changes(n, 0, { limit: 100, keys: ['b.y'] })).changes.map((c) => c.revision)).toEqual([2, 4]);
    expect((await store.changes(n, 1, { limit: 100, prefix: 'a.' })).changes.map((c) => c.revision)).toEqual([3]);
  });

  it('a change page never splits a revision, and following the cursor visits every change once', async () => {
    const n = ns();
    await store.write(n, [{ kind: 'set', key: 'solo', value: 0 }], meta);
    await store.write(n, Array.from({ length: 5 }, (_, i) => ({ kind: 'set' as const, key: `batch.${i}`, value: i })), meta);
    await store.write(n, [{ kind: 'set', key: 'after', value: 1 }], meta);
    await store.write(n, [{ kind: 'set', key: 'last', value: 1 }], meta);

    const first = await store.changes(n, 0, { limit: 2 });
    // Limit 2 would cut the 5-change batch of revision 2: the whole batch comes instead.
    expect(first.changes.map((c) => c.revision)).toEqual([1, 2, 2, 2, 2, 2]);
    expect(first.hasMore).toBe(true);

    const seen: string[] = [];
    let cursor = 0;
    for (let pages = 0; pages < 20; pages++) {
      const page = await store.changes(n, cursor, { limit: 1 });
      seen.push(...page.changes.map((c) => `${c.revision}:${c.key}`));
      const revisions = new Set(page.changes.map((c) => c.revision));
      expect(revisions.size).toBeLessThanOrEqual(1);
      if (!page.hasMore) break;
      cursor = page.changes.at(-1)!.revision;
    }
    expect(seen).toEqual(['1:solo', ...Array.from({ length: 5 }, (_, i) => `2:batch.${i}`), '3:after', '4:last']);

    // The batch cut inside with a filter still comes whole, and hasMore sees later matches.
    const filtered = await store.changes(n, 0, { limit: 1, prefix: 'batch.' });
    expect(filtered.changes).toHaveLength(5);
    expect(filtered.hasMore).toBe(false);
  });

  it('REVISION_AHEAD for a cursor past the current revision; a missing namespace is revision 0', async () => {
    const n = ns();
    expect(await store.changes(n, 0, { limit: 10 })).toEqual({ namespace: n, revision: 0, changes: [], hasMore: false });
    await failure(store.changes(n, 1, { limit: 10 }), 'REVISION_AHEAD');
    await store.write(n, [{ kind: 'set', key: 'k', value: 1 }], meta);
    const ahead = await failure(store.changes(n, 5, { limit: 10 }), 'REVISION_AHEAD');
    expect(ahead.details.currentRevision).toBe(1);
  });

  it('compaction drops old history (never a key\'s latest row) and older cursors get REVISION_COMPACTED', async () => {
    const n = ns();
    await store.write(n, [{ kind: 'set', key: 'a', value: 1 }], meta);
    await store.write(n, [{ kind: 'set', key: 'a', value: 2 }], meta);
    await store.write(n, [{ kind: 'set', key: 'b', value: 1 }], meta);
    await store.write(n, [{ kind: 'set', key: 'a', value: 3 }], meta);
    const removed = await store.compact(new Date(Date.now() + 60_000));
    expect(removed).toBeGreaterThanOrEqual(2);
    const error = await failure(store.changes(n, 1, { limit: 10 }), 'REVISION_COMPACTED');
    expect(error.details.compactedRevision).toBe(2);
    const page = await store.changes(n, 2, { limit: 10 });
    expect(page.changes.map((c) => `${c.revision}:${c.key}`)).toEqual(['3:b', '4:a']);
    expect((await store.history(n, 'a', { limit: 10 })).map((c) => c.version)).toEqual([3]);
    expect((await store.history(n, 'b', { limit: 10 })).map((c) => c.version)).toEqual([1]);
    // Nothing older than the cut-off: compaction is a no-op.
    expect(await store.compact(new Date(0))).toBe(0);
  });

  it('history lists a key newest first and pages with beforeVersion', async () => {
    const n = ns();
    for (let i = 1; i <= 4; i++) await store.write(n, [{ kind: 'set', key: 'k', value: i }], { actor: `u${i}`, reason: `r${i}`, traceId: null, canReadSecrets: true });
    await store.write(n, [{ kind: 'delete', key: 'k' }], meta);
    const all = await store.history(n, 'k', { limit: 10 });
    expect(all.map((c) => `${c.version}:${c.op}:${String(c.value)}`)).toEqual(['5:DELETE:null', '4:SET:4', '3:SET:3', '2:SET:2', '1:SET:1']);
    expect(all[1]).toMatchObject({ changedBy: 'u4', reason: 'r4', namespace: n, key: 'k', revision: 4 });
    const older = await store.history(n, 'k', { limit: 2, beforeVersion: 4 });
    expect(older.map((c) => c.version)).toEqual([3, 2]);
    expect(await store.history(n, 'nothing', { limit: 10 })).toEqual([]);
  });

  it('lists namespaces with live entry counts and reports revisions of named namespaces', async () => {
    const n = ns();
    await store.write(
      n,
      [
        { kind: 'set', key: 'a', value: 1 },
        { kind: 'set', key: 'b', value: 2 },
      ],
      meta,
    );
    await store.write(n, [{ kind: 'delete', key: 'a' }], meta);
    const list = await store.namespaces();
    expect(list).toContainEqual({ name: n, revision: 2, entryCount: 1, requireReason: false });
    const names = list.map((x) => x.name);
    expect(names).toEqual([...names].sort());
    const revisions = await store.revisions([n, 'never-written']);
    expect([...revisions]).toEqual([[n, 2]]);
    expect((await store.revisions([])).size).toBe(0);
  });

  it('values and revisions survive closing and reopening the database', async () => {
    const n = ns();
    await store.write(n, [{ kind: 'set', key: 'persist', value: { kept: true } }], meta);
    await store.write(n, [{ kind: 'set', key: 'persist', value: { kept: 'yes' } }], meta);
    await database.close();
    await reopen();
    expect(await store.get(n, 'persist')).toMatchObject({ value: { kept: 'yes' }, version: 2, revision: 2 });
    const next = await store.write(n, [{ kind: 'set', key: 'persist', value: 3 }], meta);
    expect(next.revision).toBe(3);
    expect((await store.history(n, 'persist', { limit: 10 })).map((c) => c.version)).toEqual([3, 2, 1]);
  });
});
