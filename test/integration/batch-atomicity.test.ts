import type { Client } from 'graphql-ws';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createConfigClient, type ConfigClient } from '../../src/client/index.js';
import { gql, startGateway, testToken, uniqueNamespace, wsClient, type Gateway } from '../helpers/gateway.js';
import { waitFor } from '../helpers/net.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';
import { SHARED_REDIS_URL, uniquePrefix } from '../helpers/redis.js';

// "No reader ever sees half a batch" (DESIGN.md): every change carries lastInRevision, true on the
// last one of its revision that the subscription carries after its filter, and the SDK applies a
// revision exactly when that change arrives.
//
// Writes go through A. B shares A's Redis channels, so it delivers from the live stream; C has
// channels of its own, so it hears of A's writes only through its periodic check and delivers
// them as repairs from history. Replays with sinceRevision are read from A.

const SET_MANY = /* GraphQL */ `
  mutation SetMany($namespace: String!, $inputs: [BatchSetInput!]!) {
    setConfigs(namespace: $namespace, inputs: $inputs) { key revision }
  }
`;

const WATCH = /* GraphQL */ `
  subscription Watch($namespace: String!, $keys: [String!], $prefix: String, $sinceRevision: SafeInt) {
    configChanged(namespace: $namespace, keys: $keys, prefix: $prefix, sinceRevision: $sinceRevision) {
      key revision replayed lastInRevision
    }
  }
`;

const PAGE = /* GraphQL */ `
  query Page($namespace: String!, $since: SafeInt!, $prefix: String, $limit: Int) {
    configChanges(namespace: $namespace, sinceRevision: $since, prefix: $prefix, limit: $limit) {
      hasMore
      changes { key revision lastInRevision }
    }
  }
`;

interface Marked {
  key: string;
  revision: number;
  replayed?: boolean;
  lastInRevision: boolean;
}

interface Watch {
  label: string;
  match: (key: string) => boolean;
  changes: Marked[];
  /** When each change arrived (performance.now()), parallel to `changes`. */
  arrivals: number[];
  errors: unknown[];
}

/** What was committed: each revision's keys. */
type Written = Map<number, string[]>;

let database: TestDatabase;
let a: Gateway;
let b: Gateway;
let c: Gateway;
let token: string;
const sockets: Client[] = [];
const disposers: Array<() => void> = [];
const sdkClients: ConfigClient[] = [];

beforeAll(async () => {
  database = await createTestDatabase('batch_atomicity');
  const shared = { DATABASE_URL: database.url, REDIS_URL: SHARED_REDIS_URL, HOTCONF_REPAIR_INTERVAL_MS: '200' };
  const channels = uniquePrefix('batch');
  // One at a time: the first runs the migrations.
  a = await startGateway({ env: { ...shared, HOTCONF_CHANNEL_PREFIX: channels } });
  b = await startGateway({ env: { ...shared, HOTCONF_CHANNEL_PREFIX: channels } });
  c = await startGateway({ env: { ...shared, HOTCONF_CHANNEL_PREFIX: uniquePrefix('batch-deaf') } });
  token = await testToken({ sub: 'batch-admin' });
});

afterEach(async () => {
  for (const dispose of disposers.splice(0)) dispose();
  await Promise.allSettled(sdkClients.splice(0).map((client) => client.close()));
});

afterAll(async () => {
  for (const dispose of disposers.splice(0)) dispose();
  await Promise.allSettled(sdkClients.splice(0).map((client) => client.close()));
  await Promise.allSettled(sockets.map((socket) => socket.dispose()));
  await Promise.allSettled([a, b, c].filter(Boolean).map((gateway) => gateway.stop()));
  await database?.drop();
});

function socket(gateway: Gateway): Client {
  const created = wsClient(gateway.wsUrl, token);
  sockets.push(created);
  return created;
}

function watch(
  client: Client,
  label: string,
  variables: { namespace: string; keys?: string[]; prefix?: string; sinceRevision?: number },
): Watch {
  const keys = variables.keys ? new Set(variables.keys) : null;
  const prefix = variables.prefix ?? null;
  const match = (key: string) => (keys === null && prefix === null) || (keys?.has(key) ?? false) || (prefix !== null && key.startsWith(prefix));
  const state: Watch = { label, match, changes: [], arrivals: [], errors: [] };
  disposers.push(
    client.subscribe<{ configChanged: Marked }>(
      { query: WATCH, variables: { ...variables } },
      {
        next: (result) => {
          if (result.errors) state.errors.push(...result.errors);
          else if (result.data) {
            state.changes.push(result.data.configChanged);
            state.arrivals.push(performance.now());
          }
        },
        error: (error) => state.errors.push(error),
        complete: () => {},
      },
    ),
  );
  return state;
}

async function setMany(namespace: string, entries: Array<[string, unknown]>): Promise<number> {
  const data = await gql<{ setConfigs: Array<{ revision: number }> }>(a.url, token, SET_MANY, {
    namespace,
    inputs: entries.map(([key, value]) => ({ key, value })),
  });
  return data.setConfigs[0]!.revision;
}

/** Writes `key` until every live watcher has received something: their subscriptions are then active. */
async function warmUp(namespace: string, key: string, watches: Watch[], written: Written): Promise<void> {
  for (let attempt = 0; attempt < 10; attempt++) {
    const revision = await setMany(namespace, [[key, attempt]]);
    written.set(revision, [key]);
    try {
      await waitFor(() => watches.every((w) => w.changes.length > 0), 1_500, 'warm-up');
      return;
    } catch {
      // not subscribed yet: write again
    }
  }
  throw new Error(`subscriptions never became active: ${watches.map((w) => `${w.label}=${w.changes.length}`).join(', ')}`);
}

/**
 * Asserts the marker contract on what one watch received: grouped by revision (each revision's
 * changes contiguous), exactly one change per revision is marked, it is the last, and the
 * revision brings exactly the written keys that match the filter; revisions with no matching key
 * bring nothing.
 */
function assertMarked(w: Watch, written: Written, from: number): void {
  expect(w.errors, w.label).toEqual([]);
  const groups: Array<{ revision: number; changes: Marked[] }> = [];
  for (const change of w.changes) {
    const group = groups.at(-1);
    if (group && group.revision === change.revision) group.changes.push(change);
    else groups.push({ revision: change.revision, changes: [change] });
  }
  const expected = [...written.entries()]
    .filter(([revision, keys]) => revision >= from && keys.some(w.match))
    .sort(([x], [y]) => x - y)
    .map(([revision, keys]) => ({ revision, keys: keys.filter(w.match).sort() }));
  expect(
    groups.map((group) => ({ revision: group.revision, keys: group.changes.map((change) => change.key).sort() })),
    `${w.label}: whole revisions, in order, each once`,
  ).toEqual(expected);
  for (const group of groups) {
    expect(
      group.changes.map((change) => change.lastInRevision),
      `${w.label}: revision ${group.revision} marked on its last change only`,
    ).toEqual(group.changes.map((_, index) => index === group.changes.length - 1));
  }
}

/** Waits until `w` has received the marked end of every written revision it should see. */
async function settled(w: Watch, written: Written, from: number): Promise<void> {
  const wanted = [...written.entries()].filter(([revision, keys]) => revision >= from && keys.some(w.match)).length;
  await waitFor(
    () => {
      if (w.errors.length > 0) throw new Error(`${w.label} failed: ${JSON.stringify(w.errors)}`);
      return w.changes.filter((change) => change.lastInRevision).length >= wanted;
    },
    15_000,
    `${w.label}: ${wanted} marked revisions (have ${w.changes.filter((change) => change.lastInRevision).length})`,
  );
}

// Operation order matters: the live stream keeps it, so the prefix filter's last match ("app.d")
// is not the batch's last ("other.e") and must be marked on a copy, while unfiltered watchers of
// the same gateway see the shared original unmarked.
const BATCHES: Array<Array<[string, unknown]>> = [
  [
    ['app.a', 1],
    ['app.b', 2],
    ['other.c', 3],
    ['app.d', 4],
    ['other.e', 5],
  ],
  [
    ['other.x', 1],
    ['other.y', 2],
  ],
  [['app.z', 1]],
  Array.from({ length: 20 }, (_, index): [string, unknown] => [`${index % 2 === 0 ? 'app' : 'other'}.n${String(index).padStart(2, '0')}`, index]),
];

describe('lastInRevision on configChanged', () => {
  it('marks exactly the last change of each revision a subscription carries: live, repaired and replayed, with and without a filter', async () => {
    const namespace = uniqueNamespace('marks');
    const written: Written = new Map();
    const onB = socket(b);
    const onBToo = socket(b);
    const onC = socket(c);
    const live = [
      watch(onB, 'B live, all keys', { namespace }),
      watch(onB, 'B live, prefix app.', { namespace, prefix: 'app.' }),
      // Same document and variables on another socket: one shared execution for both.
      watch(onBToo, 'B live, prefix app. (shared)', { namespace, prefix: 'app.' }),
      watch(onB, 'B live, keys', { namespace, keys: ['app.seed', 'other.c', 'other.y'] }),
      watch(onC, 'C repaired, all keys', { namespace }),
      watch(onC, 'C repaired, prefix app.', { namespace, prefix: 'app.' }),
    ];
    await warmUp(namespace, 'app.seed', live, written);
    const from = new Map(live.map((w) => [w, w.changes[0]!.revision]));

    for (const batch of BATCHES) written.set(await setMany(namespace, batch), batch.map(([key]) => key));
    for (const w of live) await settled(w, written, from.get(w)!);
    // Anything late (a duplicate, a stray marker) would arrive within this.
    await new Promise((resolve) => setTimeout(resolve, 300));
    for (const w of live) assertMarked(w, written, from.get(w)!);

    const first = [...written.entries()].find(([, keys]) => keys.includes('app.d'))![0];
    const atB = (w: Watch, key: string) => w.changes.find((change) => change.revision === first && change.key === key);
    expect(atB(live[0]!, 'app.d')?.lastInRevision, 'unfiltered: app.d is not the end of its revision').toBe(false);
    expect(atB(live[1]!, 'app.d')?.lastInRevision, 'prefix app.: app.d ends the revision').toBe(true);
    expect(atB(live[2]!, 'app.d')?.lastInRevision).toBe(true);
    expect(atB(live[0]!, 'other.e')?.lastInRevision).toBe(true);
    expect(live.slice(0, 4).every((w) => w.changes.every((change) => change.replayed === false)), 'B delivered live').toBe(true);
    expect(live.slice(4).every((w) => w.changes.every((change) => change.replayed === true)), 'C delivered repairs').toBe(true);

    // Replays from history, then a batch that arrives live after the replay.
    const onA = socket(a);
    const replays = [
      watch(onA, 'A replay, all keys', { namespace, sinceRevision: 0 }),
      watch(onA, 'A replay, prefix app.', { namespace, prefix: 'app.', sinceRevision: 0 }),
      watch(onA, 'A replay, keys', { namespace, keys: ['other.c', 'other.y'], sinceRevision: 0 }),
    ];
    for (const w of replays) await settled(w, written, 1);
    written.set(await setMany(namespace, BATCHES[0]!), BATCHES[0]!.map(([key]) => key));
    for (const w of [...replays, ...live]) await settled(w, written, from.get(w) ?? 1);
    await new Promise((resolve) => setTimeout(resolve, 300));
    for (const w of replays) assertMarked(w, written, 1);
    for (const w of live) assertMarked(w, written, from.get(w)!);
    expect(replays[0]!.changes.filter((change) => change.replayed).length).toBeGreaterThan(BATCHES.flat().length);

    // How far apart the frames of one revision arrive: why a timing window cannot find its end.
    const spreads = [live[0]!, live[4]!, replays[0]!].map((w) => {
      const first = new Map<number, number>();
      let widest = 0;
      w.changes.forEach((change, index) => {
        if (w === replays[0] && change.replayed) return; // a replay is paced by history reads
        const at = w.arrivals[index]!;
        if (!first.has(change.revision)) first.set(change.revision, at);
        widest = Math.max(widest, at - first.get(change.revision)!);
      });
      return `${w.label}${w === replays[0] ? ' (its live batch, unshared)' : ''}: ${widest.toFixed(2)} ms`;
    });
    console.log(`widest first-to-last frame spread of one revision: ${spreads.join('; ')}`);
  });

  it('a page of configChanges marks the last change of each revision, with and without a prefix', async () => {
    const namespace = uniqueNamespace('page');
    const written: Written = new Map();
    for (const batch of BATCHES) written.set(await setMany(namespace, batch), batch.map(([key]) => key));
    for (const prefix of [null, 'app.']) {
      const { configChanges } = await gql<{ configChanges: { hasMore: boolean; changes: Marked[] } }>(a.url, token, PAGE, {
        namespace,
        since: 0,
        prefix,
        // Row-limited, revisions whole: the page ends inside a revision and extends to its end.
        limit: 6,
      });
      const w: Watch = {
        label: `page prefix=${prefix}`,
        match: (key) => prefix === null || key.startsWith(prefix),
        changes: configChanges.changes,
        arrivals: [],
        errors: [],
      };
      const shown = new Set(configChanges.changes.map((change) => change.revision));
      expect(shown.size, w.label).toBeGreaterThanOrEqual(2);
      assertMarked(w, new Map([...written].filter(([revision]) => shown.has(revision))), 1);
    }
  });
});

describe('the SDK applies a batch whole', () => {
  it('at the first change event of a 50-key batch, get() already returns the new value of all 50 keys', async () => {
    const namespace = uniqueNamespace('sdk-batch');
    const keys = Array.from({ length: 50 }, (_, index) => `batch.k${String(index).padStart(2, '0')}`);
    // A key outside the prefix, last in the batch: the prefix client's revision ends earlier.
    const batch = (round: number): Array<[string, unknown]> => [...keys.map((key): [string, unknown] => [key, round]), ['other.tail', round]];
    await setMany(namespace, batch(0));

    const clients = [
      { label: 'on B (live), all keys', client: createConfigClient({ urls: [b.url], namespace, token }) },
      { label: 'on C (repaired), prefix batch.', client: createConfigClient({ urls: [c.url], namespace, token, prefix: 'batch.' }) },
    ];
    sdkClients.push(...clients.map(({ client }) => client));
    const seen = clients.map(() => new Map<number, { events: number; valuesAtFirst: unknown[]; at: number }>());
    clients.forEach(({ client }, index) =>
      client.on('change', (event) => {
        const byRevision = seen[index]!;
        const entry = byRevision.get(event.revision);
        if (entry) entry.events += 1;
        else byRevision.set(event.revision, { events: 1, valuesAtFirst: keys.map((key) => client.get(key)), at: performance.now() });
      }),
    );
    await Promise.all(clients.map(({ client }) => client.ready()));
    await waitFor(() => clients.every(({ client }) => client.state === 'connected'), 10_000, 'connected');

    const revisions: number[] = [];
    const answeredAt: number[] = [];
    for (let round = 1; round <= 5; round++) {
      revisions.push(await setMany(namespace, batch(round)));
      answeredAt.push(performance.now());
      await waitFor(() => clients[0]!.client.revision === revisions.at(-1), 5_000, `round ${round} on B`);
    }
    await waitFor(() => clients.every(({ client }) => client.revision === revisions.at(-1)), 15_000, 'every batch applied');
    const delays = revisions.map((revision, index) => (seen[0]!.get(revision)?.at ?? Number.NaN) - answeredAt[index]!);
    console.log(`51-change batch applied whole by a client on B, first event relative to the mutation's answer: ${delays.map((ms) => ms.toFixed(1)).join(', ')} ms`);
    await new Promise((resolve) => setTimeout(resolve, 200));

    clients.forEach(({ label, client }, index) => {
      for (const [round, revision] of revisions.entries()) {
        const observed = seen[index]!.get(revision);
        expect(observed?.valuesAtFirst, `${label}: revision ${revision} at its first event`).toEqual(keys.map(() => round + 1));
        expect(observed?.events, `${label}: revision ${revision} events`).toBe(label.includes('prefix') ? 50 : 51);
      }
      expect(client.get('batch.k49')).toBe(5);
    });
    expect(clients[1]!.client.get('other.tail')).toBeUndefined();
  });
});
