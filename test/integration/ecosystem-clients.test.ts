import { createHash } from 'node:crypto';
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
    await waitFor(async () => {
      await setConfig(b.url, token, ns, 'poke', events.length);
      return events.length > 0;
    }, 15_000, 'subscription live');
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
    await waitFor(async () => {
      await setConfig(b.url, token, ns, 'poke', events.length);
      return events.length > 0;
    }, 15_000, 'subscription live');
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
});
