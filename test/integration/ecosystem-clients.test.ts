import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { generate } from '@graphql-codegen/cli';
import { buildClientSchema, buildSchema, findBreakingChanges, findDangerousChanges, getIntrospectionQuery, type IntrospectionQuery } from 'graphql';
import { ApolloClient, ApolloLink, HttpLink, InMemoryCache, gql as apolloGql } from '@apollo/client';
import { PersistedQueryLink } from '@apollo/client/link/persisted-queries';
import { GraphQLWsLink } from '@apollo/client/link/subscriptions';
import { cacheExchange } from '@urql/exchange-graphcache';
import { Client as UrqlClient, fetchExchange, subscriptionExchange, gql as urqlGql } from '@urql/core';
import { createClient as createWsClient, type Client as WsClient } from 'graphql-ws';
import { pipe, subscribe } from 'wonka';
import WebSocket from 'ws';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { gql, setConfig, startGateway, testToken, uniqueNamespace, type Gateway } from '../helpers/gateway.js';
import { waitFor } from '../helpers/net.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';
import { SHARED_REDIS_URL, uniquePrefix } from '../helpers/redis.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const run = promisify(execFile);

const CONFIG = /* GraphQL */ `
  query Config($ns: String!, $key: String!) { config(namespace: $ns, key: $key) { id key value version } }
`;
const SET = /* GraphQL */ `
  mutation Set($input: SetConfigInput!) { setConfig(input: $input) { id key value version } }
`;
const WATCH = /* GraphQL */ `
  subscription Watch($ns: String!) {
    configChanged(namespace: $ns) { id key version op entry { id key value version } }
  }
`;

describe('clients people already use: normalised caches and persisted queries', () => {
  let database: TestDatabase;
  let a: Gateway;
  let b: Gateway;
  let token: string;
  const sockets: WsClient[] = [];
  let warnings: string[] = [];
  /** Writes through B until the subscription collecting `events` has one: it is then live. */
  const untilLive = (events: unknown[], ns: string) =>
    waitFor(async () => {
      await setConfig(b.url, token, ns, 'poke', events.length);
      return events.length > 0;
    }, 15_000, 'subscription live');

  beforeAll(async () => {
    database = await createTestDatabase('ecosystem');
    // Two gateways on one Redis: a persisted query registered on one is found by the other.
    const env = { DATABASE_URL: database.url, REDIS_URL: SHARED_REDIS_URL, HOTCONF_CHANNEL_PREFIX: uniquePrefix('eco') };
    [a, b] = await Promise.all([startGateway({ env }), startGateway({ env })]);
    token = await testToken({ sub: 'app' });
  });

  afterAll(async () => {
    await Promise.all(sockets.map((socket) => socket.dispose()));
    await Promise.all([a?.stop('SIGKILL'), b?.stop('SIGKILL')]);
    await database?.drop();
  });

  beforeEach(() => {
    warnings = [];
    const keep = (...args: unknown[]) => void warnings.push(args.map(String).join(' '));
    vi.spyOn(console, 'warn').mockImplementation(keep);
    vi.spyOn(console, 'error').mockImplementation(keep);
  });
  afterEach(() => vi.restoreAllMocks());

  const headers = () => ({ authorization: `Bearer ${token}` });
  const ws = (gateway: Gateway) => {
    const client = createWsClient({ url: gateway.wsUrl, webSocketImpl: WebSocket, connectionParams: headers(), lazy: false, retryAttempts: 0 });
    sockets.push(client);
    return client;
  };

  it('Apollo Client InMemoryCache: a mutation and a configChanged event update the cached config query, with no custom config', async () => {
    const ns = uniqueNamespace('apollo');
    await setConfig(a.url, token, ns, 'ai.threshold', 0.75);
    const http = new HttpLink({ uri: a.url, headers: headers() });
    const subscriptions = new GraphQLWsLink(ws(a));
    const link = ApolloLink.split(({ operationType }) => operationType === 'subscription', subscriptions, http);
    const client = new ApolloClient({ link, cache: new InMemoryCache() });

    const query = apolloGql(CONFIG);
    const first = await client.query({ query, variables: { ns, key: 'ai.threshold' } });
    expect(first.data).toMatchObject({ config: { id: `${ns}/ai.threshold`, value: 0.75, version: 1 } });

    await client.mutate({ mutation: apolloGql(SET), variables: { input: { namespace: ns, key: 'ai.threshold', value: 0.8 } } });
    expect(client.readQuery({ query, variables: { ns, key: 'ai.threshold' } })).toMatchObject({ config: { value: 0.8, version: 2 } });

    // Another writer changes the key; the subscription's `entry` lands in the cache.
    const events: unknown[] = [];
    const subscription = client.subscribe({ query: apolloGql(WATCH), variables: { ns } }).subscribe({ next: (event) => events.push(event) });
    // Subscribed once the server has the socket's subscription (nothing else to wait on).
    await untilLive(events, ns);
    await setConfig(b.url, token, ns, 'ai.threshold', 0.9);
    await waitFor(() => client.readQuery<{ config: { value: number } }>({ query, variables: { ns, key: 'ai.threshold' } })?.config.value === 0.9, 15_000, 'cache updated by the event');
    expect(client.readQuery({ query, variables: { ns, key: 'ai.threshold' } })).toMatchObject({ config: { id: `${ns}/ai.threshold`, value: 0.9, version: 3 } });
    subscription.unsubscribe();
    expect(warnings.filter((warning) => /cache data may be lost|missing field/i.test(warning))).toEqual([]);
    client.stop();
  });

  it('urql Graphcache: a mutation and a configChanged event update the cached config query, with no custom config', async () => {
    const ns = uniqueNamespace('urql');
    await setConfig(a.url, token, ns, 'ai.model', 'small');
    const socket = ws(a);
    const client = new UrqlClient({
      url: a.url,
      fetchOptions: { headers: headers() },
      exchanges: [
        cacheExchange({}),
        fetchExchange,
        subscriptionExchange({
          forwardSubscription: (request) => ({
            subscribe: (sink) => ({ unsubscribe: socket.subscribe({ ...request, query: request.query ?? '' }, sink) }),
          }),
        }),
      ],
    });
    const query = urqlGql(CONFIG);
    const variables = { ns, key: 'ai.model' };
    expect((await client.query(query, variables).toPromise()).data).toMatchObject({ config: { id: `${ns}/ai.model`, value: 'small' } });

    await client.mutation(urqlGql(SET), { input: { namespace: ns, key: 'ai.model', value: 'medium' } }).toPromise();
    // Read from the cache alone: the mutation's result updated the entity the query points at.
    expect(client.readQuery(query, variables)?.data).toMatchObject({ config: { value: 'medium', version: 2 } });

    const events: unknown[] = [];
    const { unsubscribe } = pipe(client.subscription(urqlGql(WATCH), { ns }), subscribe((result) => void events.push(result)));
    await untilLive(events, ns);
    await setConfig(b.url, token, ns, 'ai.model', 'large');
    await waitFor(
      () => (client.readQuery(query, variables)?.data as { config?: { value?: string } } | undefined)?.config?.value === 'large',
      15_000,
      'graphcache updated by the event',
    );
    unsubscribe();
    // Graphcache warns about entities it cannot key; there must be none.
    expect(warnings.filter((warning) => /key|Invalid/.test(warning))).toEqual([]);
  });

  it("Apollo's PersistedQueryLink: the hash is registered once and found by every gateway", async () => {
    const ns = uniqueNamespace('apq');
    await setConfig(a.url, token, ns, 'k', 1);
    const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
    const sent: Array<{ gateway: string; query: boolean }> = [];
    const recording = (gateway: Gateway): typeof fetch => async (input, init) => {
      const body = JSON.parse(String(init?.body ?? 'null')) as { query?: string } | null;
      sent.push({ gateway: gateway === a ? 'a' : 'b', query: typeof body?.query === 'string' });
      return fetch(input, init);
    };
    const through = (gateway: Gateway) =>
      new ApolloClient({
        link: new PersistedQueryLink({ sha256 }).concat(new HttpLink({ uri: gateway.url, headers: headers(), fetch: recording(gateway) })),
        cache: new InMemoryCache(),
      });

    const result = await through(a).query({ query: apolloGql(CONFIG), variables: { ns, key: 'k' } });
    expect(result.data).toMatchObject({ config: { value: 1 } });
    // Unknown hash first (PERSISTED_QUERY_NOT_FOUND), then hash + query.
    expect(sent).toEqual([{ gateway: 'a', query: false }, { gateway: 'a', query: true }]);

    sent.length = 0;
    const again = await through(b).query({ query: apolloGql(CONFIG), variables: { ns, key: 'k' } });
    expect(again.data).toMatchObject({ config: { value: 1 } });
    expect(sent).toEqual([{ gateway: 'b', query: false }]);
  });

  it('answers PERSISTED_QUERY_NOT_FOUND to an unknown hash, and refuses a hash that does not match its query', async () => {
    const post = (body: unknown) =>
      fetch(a.url, { method: 'POST', headers: { ...headers(), 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const unknown = await post({ extensions: { persistedQuery: { version: 1, sha256Hash: 'f'.repeat(64) } } });
    const unknownBody = (await unknown.json()) as { errors: Array<{ extensions: { code: string } }> };
    expect(unknownBody.errors[0]!.extensions.code).toBe('PERSISTED_QUERY_NOT_FOUND');
    const mismatch = await post({ query: '{ __typename }', extensions: { persistedQuery: { version: 1, sha256Hash: '0'.repeat(64) } } });
    const mismatchBody = (await mismatch.json()) as { errors: Array<{ extensions: { code: string } }> };
    expect(mismatchBody.errors[0]!.extensions.code).toBe('PERSISTED_QUERY_MISMATCH');
    // Direct use keeps working.
    expect(await gql(a.url, token, '{ __typename }')).toEqual({ __typename: 'Query' });
  });
  it('Apollo Client InMemoryCache: configs, config and configChanged (live and replayed) share one cache object per entry; a DELETE names the object to evict', async () => {
    const ns = uniqueNamespace('apollo-norm');
    await setConfig(a.url, token, ns, 'ai.threshold', 0.75);
    await setConfig(a.url, token, ns, 'ai.model', 'small');
    const http = new HttpLink({ uri: a.url, headers: headers() });
    const link = ApolloLink.split(({ operationType }) => operationType === 'subscription', new GraphQLWsLink(ws(a)), http);
    const client = new ApolloClient({ link, cache: new InMemoryCache() });
    const CONFIGS = apolloGql`query Configs($ns: String!) { configs(namespace: $ns) { revision entries { id key value version } } }`;
    const entryId = (key: string) => client.cache.identify({ __typename: 'ConfigEntry', id: `${ns}/${key}` })!;

    type Configs = { configs: { entries: Array<{ id: string; key: string; value: unknown; version: number }> } };
    const cachedEntries = () => Object.keys(client.cache.extract() as Record<string, unknown>).filter((id) => id.startsWith('ConfigEntry:')).sort();
    const listed = await client.query<Configs>({ query: CONFIGS, variables: { ns } });
    expect(listed.data?.configs.entries.map((entry) => entry.id)).toEqual([`${ns}/ai.model`, `${ns}/ai.threshold`]);
    // `config` lands on the object `configs` made: one cache entry per config entry.
    await client.query({ query: apolloGql(CONFIG), variables: { ns, key: 'ai.threshold' } });
    expect(cachedEntries()).toEqual([entryId('ai.model'), entryId('ai.threshold')]);

    // Resume from revision 0: replayed changes carry the entry as each change left it, so the
    // cached object walks through every version and ends at the current one.
    const WATCH_FROM = apolloGql`
      subscription WatchFrom($ns: String!, $since: SafeInt) {
        configChanged(namespace: $ns, sinceRevision: $since) { id namespace key op version replayed entry { id key value version } }
      }
    `;
    type Change = { id: string; namespace: string; key: string; op: string; version: number; replayed: boolean; entry: { id: string; value: unknown; version: number } | null };
    const changes: Change[] = [];
    const subscription = client
      .subscribe<{ configChanged: Change }>({ query: WATCH_FROM, variables: { ns, since: 0 } })
      .subscribe({ next: ({ data }) => void (data && changes.push(data.configChanged)) });
    await waitFor(() => changes.length === 2, 15_000, 'the replay');
    expect(changes.map((change) => [change.id, change.replayed, change.entry?.id, change.entry?.version])).toEqual([
      [`${ns}/ai.threshold@1`, true, `${ns}/ai.threshold`, 1],
      [`${ns}/ai.model@1`, true, `${ns}/ai.model`, 1],
    ]);

    await setConfig(b.url, token, ns, 'ai.threshold', 0.9);
    await gql(b.url, token, `mutation($ns: String!) { deleteConfig(namespace: $ns, key: "ai.model") { id } }`, { ns });
    await waitFor(() => changes.length === 4, 15_000, 'the live changes');
    const [set, deleted] = changes.slice(2);
    expect(set).toMatchObject({ id: `${ns}/ai.threshold@2`, replayed: false, entry: { id: `${ns}/ai.threshold`, value: 0.9, version: 2 } });
    expect(deleted).toMatchObject({ id: `${ns}/ai.model@2`, op: 'DELETE', version: 2, entry: null });
    subscription.unsubscribe();

    // Both queries read the entry the event wrote, from the cache alone.
    const cached = client.readQuery<Configs>({ query: CONFIGS, variables: { ns } });
    expect(cached?.configs.entries.find((entry) => entry.key === 'ai.threshold')).toMatchObject({ value: 0.9, version: 2 });
    expect(client.readQuery({ query: apolloGql(CONFIG), variables: { ns, key: 'ai.threshold' } })).toMatchObject({ config: { value: 0.9, version: 2 } });
    // A DELETE has no entry; its namespace and key name the object a client evicts.
    expect(client.cache.evict({ id: entryId(`${deleted!.key}`) })).toBe(true);
    client.cache.gc();
    expect(cachedEntries()).toEqual([entryId('ai.threshold')]);
    // Refetched, the list agrees with the cache.
    const relisted = await client.query<Configs>({ query: CONFIGS, variables: { ns }, fetchPolicy: 'network-only' });
    expect(relisted.data?.configs.entries.map((entry) => entry.key)).toEqual(['ai.threshold']);
    expect(warnings.filter((warning) => /cache data may be lost|missing field/i.test(warning))).toEqual([]);
    client.stop();
  });

  it('Apollo Client InMemoryCache: previewing a restore (restorePlan) leaves the cached current entry as it is', async () => {
    const ns = uniqueNamespace('apollo-plan');
    await setConfig(a.url, token, ns, 'ai.threshold', 0.75);
    await setConfig(a.url, token, ns, 'ai.threshold', 0.9);
    const client = new ApolloClient({ link: new HttpLink({ uri: a.url, headers: headers() }), cache: new InMemoryCache() });
    const query = apolloGql(CONFIG);
    await client.query({ query, variables: { ns, key: 'ai.threshold' } });
    // A client selects `id` in every ConfigEntry it reads (docs/CLIENTS.md): if the restored state
    // were a ConfigEntry, it would carry the key's id and land on the cached current entry.
    const fields = await gql<{ __type: { fields: Array<{ name: string; type: { name: string } }> } }>(a.url, token, '{ __type(name: "RestoreChange") { fields { name type { name } } } }');
    const restoredIsEntry = fields.__type.fields.find((field) => field.name === 'restored')?.type.name === 'ConfigEntry';
    const PLAN = apolloGql(`
      query Plan($ns: String!) {
        restorePlan(namespace: $ns, toRevision: 1) { revision changes { key op current { id value version } restored { ${restoredIsEntry ? 'id ' : ''}key value version } } }
      }
    `);
    const plan = await client.query<{ restorePlan: { changes: Array<{ current: { value: unknown }; restored: { value: unknown; version: number } }> } }>({ query: PLAN, variables: { ns } });
    expect(plan.data?.restorePlan.changes).toMatchObject([{ current: { value: 0.9 }, restored: { value: 0.75, version: 1 } }]);
    // The state a restore would bring back is not the entry: the cache still holds the current one.
    expect(client.readQuery({ query, variables: { ns, key: 'ai.threshold' } })).toMatchObject({ config: { id: `${ns}/ai.threshold`, value: 0.9, version: 2 } });
    client.stop();
  });

  it('urql Graphcache: configs lists entries by id and a configChanged event updates the listed entry; result types without an id embed, silenced by keys as docs/CLIENTS.md says', async () => {
    const ns = uniqueNamespace('urql-list');
    await setConfig(a.url, token, ns, 'ai.model', 'small');
    await setConfig(a.url, token, ns, 'ai.threshold', 0.75);
    const socket = ws(a);
    // The keys docs/CLIENTS.md gives for the result types the contract gives no id.
    const embedded = () => null;
    const keys = {
      ...{ ConfigSnapshot: embedded, ConfigChangePage: embedded, ConfigDrift: embedded, Namespace: embedded, FlagEvaluation: embedded },
      ...{ Convergence: embedded, ClientStatus: embedded, RestorePlan: embedded, RestoreChange: embedded, RestoredState: embedded },
    };
    const client = new UrqlClient({
      url: a.url,
      fetchOptions: { headers: headers() },
      exchanges: [
        cacheExchange({ keys }),
        fetchExchange,
        subscriptionExchange({
          forwardSubscription: (request) => ({
            subscribe: (sink) => ({ unsubscribe: socket.subscribe({ ...request, query: request.query ?? '' }, sink) }),
          }),
        }),
      ],
    });
    const LIST = urqlGql`query List($ns: String!) { configs(namespace: $ns) { revision entries { id key value version } } }`;
    type List = { configs: { revision: number; entries: Array<{ id: string; key: string; value: unknown; version: number }> } };
    const listed = await client.query<List>(LIST, { ns }).toPromise();
    expect(listed.data?.configs.entries.map((entry) => entry.id)).toEqual([`${ns}/ai.model`, `${ns}/ai.threshold`]);
    await client
      .query(
        urqlGql`query Others($ns: String!) {
          namespaces { name revision }
          convergence(namespace: $ns) { revision converged clients { clientId state } }
          restorePlan(namespace: $ns, toRevision: 1) { revision changes { key current { id value } restored { key value } } }
        }`,
        { ns },
      )
      .toPromise();
    // The preview of revision 1 did not touch the listed entry.
    expect(client.readQuery<List>(LIST, { ns })?.data?.configs.entries.find((entry) => entry.key === 'ai.model')).toMatchObject({ value: 'small', version: 1 });

    const events: unknown[] = [];
    const { unsubscribe } = pipe(client.subscription(urqlGql(WATCH), { ns }), subscribe((result) => void events.push(result)));
    await untilLive(events, ns);
    await setConfig(b.url, token, ns, 'ai.threshold', 0.8);
    const threshold = () => client.readQuery<List>(LIST, { ns })?.data?.configs.entries.find((entry) => entry.key === 'ai.threshold');
    await waitFor(() => threshold()?.version === 2, 15_000, 'the listed entry updated by the event');
    expect(threshold()).toMatchObject({ id: `${ns}/ai.threshold`, value: 0.8, version: 2 });
    unsubscribe();
    expect(warnings).toEqual([]);
  });

  it("Apollo's PersistedQueryLink with GET for hashed queries: hash-only GETs once registered, mutations stay POST, and one client keeps persisted queries on after a miss", async () => {
    const ns = uniqueNamespace('apq-get');
    await setConfig(a.url, token, ns, 'k', 1);
    const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
    const sent: Array<{ method: string; query: boolean; hash: boolean; status: number }> = [];
    const recording: typeof fetch = async (input, init) => {
      const method = init?.method ?? 'GET';
      let body: { query?: unknown; extensions?: { persistedQuery?: unknown } } | null;
      if (method === 'GET') {
        const params = new URL(String(input)).searchParams;
        body = { query: params.get('query') ?? undefined, extensions: JSON.parse(params.get('extensions') ?? '{}') as { persistedQuery?: unknown } };
      } else {
        body = JSON.parse(String(init?.body ?? 'null')) as typeof body;
      }
      const response = await fetch(input, init);
      sent.push({ method, query: typeof body?.query === 'string', hash: body?.extensions?.persistedQuery !== undefined, status: response.status });
      return response;
    };
    const client = new ApolloClient({
      link: new PersistedQueryLink({ sha256, useGETForHashedQueries: true }).concat(new HttpLink({ uri: a.url, headers: headers(), fetch: recording })),
      cache: new InMemoryCache(),
    });
    const READ = apolloGql`query ReadK($ns: String!) { config(namespace: $ns, key: "k") { id value version } }`;
    expect((await client.query({ query: READ, variables: { ns } })).data).toMatchObject({ config: { id: `${ns}/k`, value: 1 } });
    // Unknown hash over GET (404 PERSISTED_QUERY_NOT_FOUND), then the query once over POST.
    expect(sent).toEqual([
      { method: 'GET', query: false, hash: true, status: 404 },
      { method: 'POST', query: true, hash: true, status: 200 },
    ]);

    sent.length = 0;
    const written = await client.mutate({ mutation: apolloGql(SET), variables: { input: { namespace: ns, key: 'k', value: 2 } } });
    expect(written.data).toMatchObject({ setConfig: { id: `${ns}/k`, value: 2, version: 2 } });
    expect(sent.map((request) => request.method)).toEqual(['POST', 'POST']);

    // Still on after the misses: the registered query is one hash-only GET, served from any gateway.
    sent.length = 0;
    expect((await client.query({ query: READ, variables: { ns }, fetchPolicy: 'network-only' })).data).toMatchObject({ config: { value: 2, version: 2 } });
    expect(sent).toEqual([{ method: 'GET', query: false, hash: true, status: 200 }]);
    client.stop();
  });

  it('the introspected schema (what codegen and normalised caches read) keeps every name, type, argument and default of the contract', async () => {
    const contract = buildSchema(await readFile(join(ROOT, 'test/helpers/contract.graphql'), 'utf8'));
    const served = buildClientSchema(await gql<IntrospectionQuery>(a.url, token, getIntrospectionQuery()));
    // Going from the contract to what is served must break nothing and change no default.
    expect(findBreakingChanges(contract, served)).toEqual([]);
    expect(findDangerousChanges(contract, served)).toEqual([]);
  });

  it('GraphQL Code Generator client preset: generates from the running gateway and the output typechecks (nodenext, strict) and runs', async () => {
    const scratch = join(ROOT, 'node_modules/.cache', `ecosystem-codegen-${randomBytes(4).toString('hex')}`);
    await mkdir(scratch, { recursive: true });
    try {
      await writeFile(
        join(scratch, 'operations.ts'),
        `import { graphql } from './gql/index.js';

export const EntryFields = graphql(\`
  fragment EntryFields on ConfigEntry { id key value version revision updatedAt secret }
\`);

export const ReadConfig = graphql(\`
  query ReadConfig($ns: String!, $key: String!) { config(namespace: $ns, key: $key) { ...EntryFields } }
\`);

export const ListConfigs = graphql(\`
  query ListConfigs($ns: String!, $prefix: String) { configs(namespace: $ns, prefix: $prefix) { revision entries { ...EntryFields } } }
\`);

export const SetValue = graphql(\`
  mutation SetValue($input: SetConfigInput!) { setConfig(input: $input) { ...EntryFields } }
\`);

export const Watch = graphql(\`
  subscription Watch($ns: String!, $since: SafeInt) {
    configChanged(namespace: $ns, sinceRevision: $since) { id op revision lastInRevision entry { ...EntryFields } }
  }
\`);

export const Convergence = graphql(\`
  query Convergence($ns: String!) { convergence(namespace: $ns) { revision converged clients { clientId state lag } } }
\`);
`,
      );
      const outputs: Array<{ filename: string; content: string }> = await generate(
        {
          schema: [{ [a.url]: { headers: { Authorization: `Bearer ${token}` } } }],
          documents: [join(scratch, 'operations.ts')],
          silent: true,
          emitLegacyCommonJSImports: false,
          generates: {
            [`${join(scratch, 'gql')}/`]: {
              preset: 'client',
              config: {
                useTypeImports: true,
                enumsAsTypes: true,
                scalars: { JSON: 'unknown', DateTime: 'string', SafeInt: 'number' },
              },
            },
          },
        },
        false,
      );
      for (const output of outputs) {
        await mkdir(dirname(output.filename), { recursive: true });
        await writeFile(output.filename, output.content);
      }
      expect(outputs.map((output) => output.filename.slice(scratch.length + 1)).sort()).toEqual(['gql/fragment-masking.ts', 'gql/gql.ts', 'gql/graphql.ts', 'gql/index.ts']);
      await writeFile(
        join(scratch, 'consumer.ts'),
        `import { ApolloClient, HttpLink, InMemoryCache } from '@apollo/client';
import { useFragment, type FragmentType } from './gql/index.js';
import type { ChangeOp, ClientState } from './gql/graphql.js';
import { EntryFields, ListConfigs, ReadConfig, SetValue, Watch, Convergence } from './operations.js';

type Equals<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
export const exact: [Equals<ChangeOp, 'SET' | 'DELETE'>, Equals<ClientState, 'CURRENT' | 'LAGGING' | 'STALE'>] = [true, true];

export function describeEntry(masked: FragmentType<typeof EntryFields>): string {
  const entry = useFragment(EntryFields, masked);
  const id: string = entry.id;
  const next: number = entry.revision + 1;
  // @ts-expect-error JSON is unknown: narrow it before use.
  const threshold: number = entry.value;
  return \`\${id}@\${entry.version} \${next} \${new Date(entry.updatedAt).toISOString()} \${threshold}\`;
}

export async function use(client: ApolloClient) {
  const read = await client.query({ query: ReadConfig, variables: { ns: 'n', key: 'k' } });
  const entry = read.data?.config;
  if (entry) describeEntry(entry);
  const listed = await client.query({ query: ListConfigs, variables: { ns: 'n' } });
  const revision: number | undefined = listed.data?.configs.revision;
  await client.mutate({ mutation: SetValue, variables: { input: { namespace: 'n', key: 'k', value: { any: ['json'] }, expectedVersion: 0 } } });
  client.subscribe({ query: Watch, variables: { ns: 'n', since: revision ?? null } }).subscribe(({ data }) => {
    const op: ChangeOp | undefined = data?.configChanged.op;
    return op;
  });
  const converged = await client.query({ query: Convergence, variables: { ns: 'n' } });
  return converged.data?.convergence.clients.map((status) => status.state satisfies ClientState);
}

export const client = new ApolloClient({ link: new HttpLink({ uri: 'http://127.0.0.1:4000/graphql' }), cache: new InMemoryCache() });
`,
      );
      const tsc = [join(ROOT, 'node_modules/typescript/bin/tsc'), '--strict', '--noEmit', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022', '--types', 'node', '--skipLibCheck', 'consumer.ts'];
      const checked = await run(process.execPath, tsc, { cwd: scratch, maxBuffer: 16 << 20 }).then(
        () => '',
        (error: { stdout?: string; stderr?: string }) => `${error.stdout ?? ''}${error.stderr ?? ''}`,
      );
      expect(checked).toBe('');

      // The generated documents run as they are against the gateway, through a normalised cache.
      const operations = (await import(join(scratch, 'operations.ts'))) as Record<string, import('@graphql-typed-document-node/core').TypedDocumentNode>;
      const ns = uniqueNamespace('codegen');
      const client = new ApolloClient({ link: new HttpLink({ uri: a.url, headers: headers() }), cache: new InMemoryCache() });
      await client.mutate({ mutation: operations.SetValue!, variables: { input: { namespace: ns, key: 'k', value: { nested: [1] } } } });
      const read = await client.query({ query: operations.ReadConfig!, variables: { ns, key: 'k' } });
      expect(read.data).toMatchObject({ config: { id: `${ns}/k`, value: { nested: [1] }, version: 1, secret: false } });
      client.stop();
    } finally {
      await rm(scratch, { recursive: true, force: true });
    }
  });
});
