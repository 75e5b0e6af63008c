import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConfigStore, WriteMeta } from '../../src/core/types.js';
import { createConfigStore } from '../../src/db/config-store.js';
import { connectDatabase, type Database } from '../../src/db/connect.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';

/**
 * A gateway skips the read of a write when it wrote the keys last (src/db/write-path.ts, KnownRows).
 * Two stores on one database stand for two gateways: whatever one of them remembers, a write the
 * other made in between must decide the next write exactly as a fresh read would.
 */
describe('writes from rows a gateway wrote last, with another gateway writing in between', () => {
  let testDb: TestDatabase;
  let databases: Database[];
  let a: ConfigStore;
  let b: ConfigStore;
  const meta: WriteMeta = { actor: 'test', reason: null, traceId: null, canReadSecrets: false };

  beforeAll(async () => {
    testDb = await createTestDatabase('write_known_rows');
    databases = [await connectDatabase({ databaseUrl: testDb.url }), await connectDatabase({ databaseUrl: testDb.url })];
    await databases[0]!.migrate();
    a = createConfigStore({ database: databases[0]! });
    b = createConfigStore({ database: databases[1]! });
  });
  afterAll(async () => {
    for (const database of databases ?? []) await database.close();
    await testDb?.drop();
  });

  it('versions and revisions stay contiguous when writes of one key alternate between gateways', async () => {
    const ns = 'alternate';
    const versions: number[] = [];
    const revisions: number[] = [];
    for (let i = 0; i < 6; i++) {
      const result = await (i % 2 === 0 ? a : b).write(ns, [{ kind: 'set', key: 'k', value: i }], meta);
      versions.push(result.changes[0]!.version);
      revisions.push(result.revision);
    }
    expect(versions).toEqual([1, 2, 3, 4, 5, 6]);
    expect(revisions).toEqual([1, 2, 3, 4, 5, 6]);
    expect((await a.get(ns, 'k'))?.value).toBe(5);
  });

  it('a schema set on the other gateway refuses a value it does not allow', async () => {
    const ns = 'schema';
    await a.write(ns, [{ kind: 'set', key: 'limit', value: 1 }], meta);
    await a.write(ns, [{ kind: 'set', key: 'limit', value: 2 }], meta);
    await b.write(ns, [{ kind: 'set', key: 'limit', value: 3, schema: { type: 'integer' } }], meta);
    await expect(a.write(ns, [{ kind: 'set', key: 'limit', value: 'many' }], meta)).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });
    const ok = await a.write(ns, [{ kind: 'set', key: 'limit', value: 4 }], meta);
    expect(ok.changes[0]).toMatchObject({ version: 4, schema: { type: 'integer' } });
  });

  it('a delete on the other gateway: a compare-and-set from the old version conflicts, a delete finds nothing', async () => {
    const ns = 'deleted';
    await a.write(ns, [{ kind: 'set', key: 'k', value: 1 }], meta);
    await b.write(ns, [{ kind: 'delete', key: 'k' }], meta);
    await expect(a.write(ns, [{ kind: 'set', key: 'k', value: 2, expectedVersion: 1 }], meta)).rejects.toMatchObject({ code: 'VERSION_CONFLICT' });
    await expect(a.write(ns, [{ kind: 'delete', key: 'k' }], meta)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    // A re-create continues after the tombstone's version.
    expect((await a.write(ns, [{ kind: 'set', key: 'k', value: 3 }], meta)).changes[0]!.version).toBe(3);
  });

  it('a secret flag set on the other gateway keeps the next value encrypted-only and the flag on', async () => {
    const ns = 'secret';
    await a.write(ns, [{ kind: 'set', key: 'token', value: 'x' }], meta);
    await b.write(ns, [{ kind: 'set', key: 'token', value: 'y', secret: true }], { ...meta, canReadSecrets: true });
    const result = await a.write(ns, [{ kind: 'set', key: 'token', value: 'z' }], meta);
    expect(result.changes[0]).toMatchObject({ version: 3, secret: true });
  });

  it('a reason required since the last write is asked for', async () => {
    const ns = 'reasons';
    await a.write(ns, [{ kind: 'set', key: 'k', value: 1 }], meta);
    await b.configureNamespace(ns, { requireReason: true });
    await expect(a.write(ns, [{ kind: 'set', key: 'k', value: 2 }], meta)).rejects.toMatchObject({ code: 'BAD_USER_INPUT' });
    expect((await a.write(ns, [{ kind: 'set', key: 'k', value: 2 }], { ...meta, reason: 'because' })).changes[0]!.version).toBe(2);
  });

  it('a batch is all-or-nothing when one of its keys changed elsewhere', async () => {
    const ns = 'batch';
    await a.write(ns, [{ kind: 'set', key: 'x', value: 1 }, { kind: 'set', key: 'y', value: 1 }], meta);
    await b.write(ns, [{ kind: 'set', key: 'y', value: 2, schema: { type: 'integer', maximum: 5 } }], meta);
    await expect(
      a.write(ns, [{ kind: 'set', key: 'x', value: 10 }, { kind: 'set', key: 'y', value: 10 }], meta),
    ).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });
    expect((await a.get(ns, 'x'))?.version).toBe(1);
    const result = await a.write(ns, [{ kind: 'set', key: 'x', value: 10 }, { kind: 'set', key: 'y', value: 4 }], meta);
    expect(result.changes.map((change) => change.version)).toEqual([2, 3]);
    expect(result.revision).toBe(3);
  });

  it('a row brought back to the remembered version with other settings (a restored database, then a write) is read, not trusted', async () => {
    const ns = 'restored';
    await a.write(ns, [{ kind: 'set', key: 'token', value: 'v1' }], meta);
    await a.write(ns, [{ kind: 'set', key: 'token', value: 'v2' }], meta);
    // What a restore and a write elsewhere can leave: the same version, now secret, written later.
    const sql = postgres(testDb.url, { max: 1, onnotice: () => {} });
    try {
      await sql.begin(async (tx) => {
        await tx`SELECT set_config('hotconf.write_path', 'api', true)`;
        await tx`UPDATE entries SET secret = true, updated_at = updated_at + interval '1 second' WHERE namespace = ${ns} AND key = 'token'`;
      });
    } finally {
      await sql.end();
    }
    // A writer without the secrets claim neither clears the flag nor is told the plan was stale.
    const result = await a.write(ns, [{ kind: 'set', key: 'token', value: 'v3' }], meta);
    expect(result.changes[0]).toMatchObject({ version: 3, secret: true });
    expect(await a.get(ns, 'token')).toMatchObject({ version: 3, secret: true });
  });
});
