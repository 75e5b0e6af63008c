/**
 * A change's time is when it committed, not when its transaction started: a write that waited
 * for the namespace lock must not look like propagation delay. The answer, the history row, the
 * entry and a subscriber all carry the same instant.
 */
import postgres from 'postgres';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from '../helpers/app.js';
import { waitFor } from '../helpers/net.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';

const NS = 'stamped';
let database: TestDatabase;
let gateway: TestGateway;
let sql: postgres.Sql;

beforeAll(async () => {
  database = await createTestDatabase('commit_stamp');
  gateway = await startTestGateway({ DATABASE_URL: database.url });
  sql = postgres(database.url, { max: 2, onnotice: () => {} });
}, 120_000);

afterAll(async () => {
  await sql?.end();
  await gateway?.stop();
  await database?.drop();
});

it('a write that waited for the namespace lock is stamped after the wait, the same everywhere', async () => {
  const SET = `mutation($input: SetConfigInput!) { setConfig(input: $input) { version updatedAt history(limit: 1) { changedAt } } }`;
  await gateway.gql(SET, { input: { namespace: NS, key: 'k', value: 0 } });

  // A live subscriber, to compare what it is told.
  const controller = new AbortController();
  const stream = await fetch(gateway.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${gateway.adminToken}` },
    body: JSON.stringify({ query: `subscription { configChanged(namespace: "${NS}", keys: ["k"]) { version changedAt } }` }),
    signal: controller.signal,
  });
  const reader = stream.body!.getReader();
  let events = '';
  void (async () => {
    const decoder = new TextDecoder();
    for (;;) {
      const { done, value } = await reader.read().catch(() => ({ done: true, value: undefined }));
      if (done) return;
      events += decoder.decode(value, { stream: true });
    }
  })();

  let released = 0;
  const { pending } = await sql.begin(async (tx) => {
    // Hold the namespace row, as a long write in the same namespace would.
    await tx`select revision from namespaces where name = ${NS} for update`;
    const pending = gateway.gql<{ setConfig: { version: number; updatedAt: string; history: Array<{ changedAt: string }> } }>(SET, {
      input: { namespace: NS, key: 'k', value: 1 },
    });
    // The mutation's transaction has started and waits for our lock.
    await waitFor(
      async () => (await sql`select count(*)::int as n from pg_locks where not granted and locktype = 'transactionid'`)[0]!.n > 0,
      30_000,
      'the write waiting for the namespace lock',
    );
    released = Date.now();
    // Wrapped: begin() would await a returned promise before COMMIT, and that one waits for us.
    return { pending };
  });

  const answer = (await pending).body.data!.setConfig;
  expect(answer.version).toBe(2);
  const stamped = Date.parse(answer.updatedAt);
  // Stamped when it committed, after the lock was released (1 ms of rounding allowed).
  expect(stamped).toBeGreaterThanOrEqual(released - 1);
  expect(answer.history[0]!.changedAt).toBe(answer.updatedAt);

  const [row] = await sql`select changed_at, (select updated_at from entries where namespace = ${NS} and key = 'k') as updated_at from history where namespace = ${NS} and key = 'k' and version = 2`;
  expect((row!.changed_at as Date).toISOString()).toBe(answer.updatedAt);
  expect((row!.updated_at as Date).toISOString()).toBe(answer.updatedAt);

  await waitFor(() => events.includes('"version":2'), 15_000, 'the change on the subscription');
  controller.abort();
  expect(events).toContain(`"changedAt":"${answer.updatedAt}"`);
});
