import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { codeOf, startTestGateway, type TestGateway } from '../helpers/app.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';

const SET_MANY = /* GraphQL */ `
  mutation Set($ns: String!, $inputs: [BatchSetInput!]!, $reason: String) {
    setConfigs(namespace: $ns, inputs: $inputs, reason: $reason) { key version revision }
  }
`;
const DELETE = /* GraphQL */ `
  mutation Delete($ns: String!, $key: String!) { deleteConfig(namespace: $ns, key: $key) { revision } }
`;
const KILL = /* GraphQL */ `
  mutation Kill($ns: String!) { disableAllFlags(namespace: $ns, reason: "incident") { key } }
`;
const RESTORE = /* GraphQL */ `
  mutation Restore($ns: String!, $to: SafeInt!, $prefix: String, $expected: SafeInt, $reason: String) {
    restoreConfigs(namespace: $ns, toRevision: $to, prefix: $prefix, expectedRevision: $expected, reason: $reason) {
      namespace revision entries { key value version description secret schema redacted }
    }
  }
`;
const CONFIGS = /* GraphQL */ `
  query Configs($ns: String!) {
    configs(namespace: $ns) { revision entries { key value version description secret schema } }
  }
`;
const HISTORY = /* GraphQL */ `
  query History($ns: String!, $key: String!) { config(namespace: $ns, key: $key) { history(limit: 1) { reason changedBy version } } }
`;

type Entry = { key: string; value: unknown; version: number; description: string | null; secret: boolean; schema: unknown };
type Snapshot = { revision: number; entries: Entry[] };

describe('restoreConfigs: one revision back to how a namespace was', () => {
  let database: TestDatabase;
  let gw: TestGateway;

  beforeAll(async () => {
    database = await createTestDatabase('restore');
    gw = await startTestGateway({ DATABASE_URL: database.url });
  });
  afterAll(async () => {
    await gw?.stop();
    await database?.drop();
  });

  const configs = async (ns: string) => (await gw.gql<{ configs: Snapshot }>(CONFIGS, { ns })).body.data!.configs;
  const settings = (snapshot: Snapshot) => snapshot.entries.map(({ key, value, description, secret, schema }) => ({ key, value, description, secret, schema }));
  const setMany = async (ns: string, inputs: unknown[]) => {
    const response = await gw.gql<{ setConfigs: Array<{ revision: number }> }>(SET_MANY, { ns, inputs, reason: 'import' });
    expect(response.body.errors, JSON.stringify(response.body.errors)).toBeUndefined();
    return response.body.data!.setConfigs[0]!.revision;
  };

  it('undoes a bad import: changed keys come back with their settings, created keys go, deleted keys return, in one revision', async () => {
    const ns = 'restore-import';
    const good = await setMany(ns, [
      { key: 'ai.threshold', value: 0.75, description: 'model cut-off', schema: { type: 'number', maximum: 1 } },
      { key: 'ai.model', value: 'small' },
      { key: 'db.password', value: 'hunter2', secret: true },
      { key: 'legacy', value: true },
    ]);
    const before = await configs(ns);
    // The bad import: values and settings changed, a key added, one deleted.
    await setMany(ns, [
      { key: 'ai.threshold', value: 0.99, description: 'oops', schema: { type: 'number' } },
      { key: 'ai.model', value: 'huge' },
      { key: 'new.key', value: 1 },
    ]);
    await gw.gql(DELETE, { ns, key: 'legacy' });
    const bad = await configs(ns);

    const restored = await gw.gql<{ restoreConfigs: Snapshot }>(RESTORE, { ns, to: good, expected: bad.revision, reason: 'undo import' });
    expect(restored.body.errors).toBeUndefined();
    expect(restored.body.data!.restoreConfigs.revision).toBe(bad.revision + 1);
    const after = await configs(ns);
    expect(after.revision).toBe(bad.revision + 1);
    expect(settings(after)).toEqual(settings(before));
    // Versions move forward: a restore is a new change of each key, never a rewrite of history.
    for (const key of ['ai.threshold', 'ai.model', 'legacy']) {
      expect(after.entries.find((e) => e.key === key)!.version).toBeGreaterThan(before.entries.find((e) => e.key === key)!.version);
    }
    // An untouched key is left alone.
    expect(after.entries.find((e) => e.key === 'db.password')!.version).toBe(1);
    const history = await gw.gql<{ config: { history: Array<{ reason: string; changedBy: string }> } }>(HISTORY, { ns, key: 'ai.model' });
    expect(history.body.data!.config.history[0]).toMatchObject({ reason: 'undo import', changedBy: 'test-admin' });

    // Nothing differs any more: no new revision.
    const again = await gw.gql<{ restoreConfigs: Snapshot }>(RESTORE, { ns, to: good });
    expect(again.body.data!.restoreConfigs.revision).toBe(after.revision);
  });

  it('undoes a kill switch under a prefix only', async () => {
    const ns = 'restore-kill';
    const before = await setMany(ns, [
      { key: 'flags.a', value: { enabled: true, rolloutPercentage: 50 } },
      { key: 'flags.b', value: { enabled: true, rolloutPercentage: 100 } },
      { key: 'other', value: 1 },
    ]);
    await gw.gql(KILL, { ns });
    await setMany(ns, [{ key: 'other', value: 2 }]);
    const restored = await gw.gql<{ restoreConfigs: Snapshot }>(RESTORE, { ns, to: before, prefix: 'flags.' });
    expect(restored.body.data!.restoreConfigs.entries.map((e) => [e.key, e.value])).toEqual([
      ['flags.a', { enabled: true, rolloutPercentage: 50 }],
      ['flags.b', { enabled: true, rolloutPercentage: 100 }],
    ]);
    // Outside the prefix nothing moved.
    expect((await configs(ns)).entries.find((e) => e.key === 'other')?.value).toBe(2);
  });

  it('refuses a stale review (expectedRevision), a future revision and bad input, writing nothing', async () => {
    const ns = 'restore-refusals';
    const first = await setMany(ns, [{ key: 'k', value: 1 }]);
    await setMany(ns, [{ key: 'k', value: 2 }]);
    const current = (await configs(ns)).revision;
    const stale = await gw.gql(RESTORE, { ns, to: first, expected: first });
    expect(codeOf(stale)).toBe('VERSION_CONFLICT');
    expect(stale.body.errors![0]!.extensions).toMatchObject({ currentRevision: current, expectedRevision: first });
    expect(codeOf(await gw.gql(RESTORE, { ns, to: current + 5 }))).toBe('REVISION_AHEAD');
    expect(codeOf(await gw.gql(RESTORE, { ns, to: -1 }))).toBe('BAD_USER_INPUT');
    expect((await configs(ns)).revision).toBe(current);
  });

  it('keeps secrets secret: restoring needs the secrets claim wherever a secret is involved, and a restored secret stays secret', async () => {
    const ns = 'restore-secrets';
    const writer = await gw.token({ sub: 'w', role: 'writer', namespaces: [ns] });
    const publicRevision = await setMany(ns, [{ key: 'token', value: 'public-value' }]);
    const secretRevision = await setMany(ns, [{ key: 'token', value: 'very-secret', secret: true }]);
    await setMany(ns, [{ key: 'token', value: 'another-secret' }]);
    // Back to the public version would clear `secret` on a secret key; back to a version written
    // as secret is a rollback to a secret: both need the claim, as rollbackConfig does.
    expect(codeOf(await gw.gql(RESTORE, { ns, to: publicRevision }, { token: writer }))).toBe('FORBIDDEN');
    expect(codeOf(await gw.gql(RESTORE, { ns, to: secretRevision }, { token: writer }))).toBe('FORBIDDEN');
    // Previewing shows the writer neither the secret it has now (omitted `secret` kept it secret)
    // nor the one it would get back.
    const plan = await gw.gql<{ restorePlan: { changes: Array<{ current: unknown; restored: unknown }> } }>(
      `query ($ns: String!, $to: SafeInt!) { restorePlan(namespace: $ns, toRevision: $to) { changes { current { value secret redacted } restored { value version secret redacted } } } }`,
      { ns, to: secretRevision },
      { token: writer },
    );
    expect(plan.body.data!.restorePlan.changes).toEqual([
      { current: { value: null, secret: true, redacted: true }, restored: { value: null, version: 2, secret: true, redacted: true } },
    ]);
    // An admin restores it, and it stays secret: the writer reads it redacted.
    expect((await gw.gql(RESTORE, { ns, to: secretRevision })).body.errors).toBeUndefined();
    const read = await gw.gql<{ configs: { entries: Array<{ value: unknown; secret: boolean; redacted: boolean }> } }>(
      `query ($ns: String!) { configs(namespace: $ns) { entries { value secret redacted } } }`,
      { ns },
      { token: writer },
    );
    expect(read.body.data!.configs.entries).toEqual([{ value: null, secret: true, redacted: true }]);
    expect((await configs(ns)).entries[0]).toMatchObject({ value: 'very-secret', secret: true, version: 4 });
  });
});

describe('the database is the log: writes around hotconf are refused', () => {
  let database: TestDatabase;
  let gw: TestGateway;
  let sql: postgres.Sql;

  beforeAll(async () => {
    database = await createTestDatabase('guard');
    gw = await startTestGateway({ DATABASE_URL: database.url });
    sql = postgres(database.url, { max: 1, onnotice: () => {} });
    await setManyOn(gw, 'guarded', [{ key: 'ai.threshold', value: 0.75 }]);
  });
  afterAll(async () => {
    await sql?.end();
    await gw?.stop();
    await database?.drop();
  });

  it.each([
    ['UPDATE', `update entries set value = '0.95' where namespace = 'guarded' and key = 'ai.threshold'`],
    ['INSERT', `insert into entries (namespace, key, value, version, revision, updated_at) values ('guarded', 'x', '1', 1, 1, now())`],
    ['DELETE', `delete from history where namespace = 'guarded'`],
    ['UPDATE', `update namespaces set revision = revision + 1 where name = 'guarded'`],
    ['TRUNCATE', `truncate history`],
  ])('a hand-written %s is refused with a message naming the supported ways', async (_, statement) => {
    const error = await sql.unsafe(statement).then(
      () => null,
      (caught: unknown) => caught as { message: string; hint?: string; code?: string },
    );
    expect(error?.code).toBe('42501');
    expect(error?.message).toMatch(/refused: configuration changes go through hotconf/);
    expect(error?.hint).toMatch(/setConfig.*hotconf set/);
  });

  it('leaves the table as it was, and the API still writes', async () => {
    const read = await gw.gql<{ config: { value: number; version: number } }>(
      `query { config(namespace: "guarded", key: "ai.threshold") { value version } }`,
    );
    expect(read.body.data!.config).toEqual({ value: 0.75, version: 1 });
    await setManyOn(gw, 'guarded', [{ key: 'ai.threshold', value: 0.8 }]);
    const [row] = await sql<Array<{ version: number }>>`select version from entries where namespace = 'guarded' and key = 'ai.threshold'`;
    expect(row!.version).toBe(2);
  });
});

async function setManyOn(gw: TestGateway, ns: string, inputs: unknown[]): Promise<void> {
  const response = await gw.gql(SET_MANY, { ns, inputs });
  expect(response.body.errors, JSON.stringify(response.body.errors)).toBeUndefined();
}
