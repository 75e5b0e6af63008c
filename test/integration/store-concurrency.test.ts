import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConfigStore, WriteOp } from '../../src/core/types.js';
import { createConfigStore } from '../../src/db/config-store.js';
import { connectDatabase, type Database } from '../../src/db/connect.js';
import { isGatewayError } from '../../src/errors.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';

const KEYS = ['alpha', 'beta', 'gamma'] as const;
const WRITERS = 50;

interface Outcome {
  writer: number;
  kind: 'cas' | 'blind' | 'batch';
  keys: string[];
  ok: boolean;
  revision?: number;
  versions?: Record<string, number>;
  expectedVersion?: number;
  currentVersion?: number;
}

describe('ConfigStore under concurrent writers (PostgreSQL)', () => {
  let testDb: TestDatabase;
  let database: Database;
  let store: ConfigStore;

  beforeAll(async () => {
    testDb = await createTestDatabase('store_concurrency');
    database = await connectDatabase({ databaseUrl: testDb.url, poolMax: 10 });
    await database.migrate();
    store = createConfigStore({ database });
  });
  afterAll(async () => {
    await database?.close();
    await testDb?.drop();
  });

  it('50 writers on one namespace: contiguous revisions, no lost update, truthful conflicts, complete history', async () => {
    const ns = 'race';
    const meta = { actor: 'racer', reason: null, traceId: null, canReadSecrets: true };
    const conflicts: Outcome[] = [];
    const run = async (writer: number): Promise<Outcome> => {
      const key = KEYS[writer % KEYS.length]!;
      const value = { writer };
      if (writer % 5 === 0) {
        const ops: WriteOp[] = KEYS.map((k) => ({ kind: 'set', key: k, value }));
        const result = await store.write(ns, ops, meta);
        return {
          writer,
          kind: 'batch',
          keys: [...KEYS],
          ok: true,
          revision: result.revision,
          versions: Object.fromEntries(result.changes.map((c) => [c.key, c.version])),
        };
      }
      if (writer % 2 === 0) {
        const result = await store.write(ns, [{ kind: 'set', key, value }], meta);
        return { writer, kind: 'blind', keys: [key], ok: true, revision: result.revision, versions: { [key]: result.changes[0]!.version } };
      }
      // Read-modify-write with retries: a conflict is recorded, then the writer reads again.
      for (let attempt = 0; attempt < 100; attempt++) {
        const expectedVersion = (await store.get(ns, key))?.version ?? 0;
        try {
          const result = await store.write(ns, [{ kind: 'set', key, value, expectedVersion }], meta);
          return { writer, kind: 'cas', keys: [key], ok: true, revision: result.revision, expectedVersion, versions: { [key]: result.changes[0]!.version } };
        } catch (error) {
          if (!isGatewayError(error) || error.code !== 'VERSION_CONFLICT') throw error;
          conflicts.push({ writer, kind: 'cas', keys: [key], ok: false, expectedVersion, currentVersion: Number(error.details.currentVersion) });
        }
      }
      throw new Error(`writer ${writer} lost 100 compare-and-set races in a row`);
    };

    const succeeded = await Promise.all(Array.from({ length: WRITERS }, (_, i) => run(i)));
    const finalRevision = (await store.revisions([ns])).get(ns)!;

    // Revisions: one per successful write, contiguous from 1, none shared between writes.
    expect(finalRevision).toBe(succeeded.length);
    expect(succeeded.map((o) => o.revision).sort((a, b) => a! - b!)).toEqual(Array.from({ length: finalRevision }, (_, i) => i + 1));

    // History holds every successful write with its own value, and one revision per write.
    const page = await store.changes(ns, 0, { limit: 10_000 });
    expect(page.hasMore).toBe(false);
    expect(page.revision).toBe(finalRevision);
    for (const outcome of succeeded) {
      const rows = page.changes.filter((c) => c.revision === outcome.revision);
      expect(rows.map((c) => c.key).sort()).toEqual([...outcome.keys].sort());
      for (const row of rows) {
        expect(row.value).toEqual({ writer: outcome.writer });
        expect(row.version).toBe(outcome.versions![row.key]);
      }
    }

    for (const key of KEYS) {
      const writesToKey = succeeded.filter((o) => o.keys.includes(key));
      const entry = await store.get(ns, key);
      // No lost update: the final version counts every successful write to the key.
      expect(entry!.version).toBe(writesToKey.length);
      const history = await store.history(ns, key, { limit: 1000 });
      expect(history.map((c) => c.version)).toEqual(Array.from({ length: writesToKey.length }, (_, i) => writesToKey.length - i));
      // Versions of a key ascend with revisions: commit order is version order.
      const revisionsByVersion = [...history].reverse().map((c) => c.revision);
      expect(revisionsByVersion).toEqual([...revisionsByVersion].sort((a, b) => a - b));
      expect(entry!.value).toEqual(history[0]!.value);
    }

    // A conflict reports the version the key really had: newer than expected, and in history.
    for (const conflict of conflicts) {
      expect(conflict.currentVersion).toBeGreaterThan(conflict.expectedVersion!);
      const versions = (await store.history(ns, conflict.keys[0]!, { limit: 1000 })).map((c) => c.version);
      expect(versions).toContain(conflict.currentVersion);
    }
    // Every writer got through; 50 writers racing on 3 keys make some CAS attempts lose (if none
    // did, the test raced nothing).
    expect(succeeded).toHaveLength(WRITERS);
    expect(conflicts.length).toBeGreaterThan(0);
    console.info(`race: ${succeeded.length} writes committed, ${conflicts.length} CAS conflicts`);
  });

  it('concurrent first-time creates with expectedVersion 0: exactly one wins', async () => {
    const results = await Promise.allSettled(
      Array.from({ length: 10 }, (_, i) => store.write('create-race', [{ kind: 'set', key: 'once', value: i, expectedVersion: 0 }], { actor: null, reason: null, traceId: null, canReadSecrets: true })),
    );
    const won = results.filter((r) => r.status === 'fulfilled');
    expect(won).toHaveLength(1);
    for (const r of results) {
      if (r.status === 'rejected') {
        expect(isGatewayError(r.reason) && r.reason.code).toBe('VERSION_CONFLICT');
        expect((r.reason as { details: { currentVersion: number } }).details.currentVersion).toBe(1);
      }
    }
    expect(await store.get('create-race', 'once')).toMatchObject({ version: 1, revision: 1 });
  });
});
