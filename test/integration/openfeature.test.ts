import { OFREPProvider } from '@openfeature/ofrep-provider';
import { OFREPWebProvider } from '@openfeature/ofrep-web-provider';
import { OpenFeature, type Client } from '@openfeature/server-sdk';
import { OpenFeature as WebOpenFeature, ProviderEvents as WebProviderEvents, type EventDetails as WebEventDetails } from '@openfeature/web-sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gql, startGateway, testToken, uniqueNamespace, type Gateway } from '../helpers/gateway.js';
import { waitFor } from '../helpers/net.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';

const SET_MANY = /* GraphQL */ `
  mutation Set($ns: String!, $inputs: [BatchSetInput!]!) { setConfigs(namespace: $ns, inputs: $inputs) { key version } }
`;
const EVALUATE = /* GraphQL */ `
  query Evaluate($ns: String!, $key: String!, $user: String!) { evaluateFlag(namespace: $ns, key: $key, userId: $user) { enabled bucket } }
`;

describe('OpenFeature: an unmodified OFREP provider evaluates hotconf flags', () => {
  let database: TestDatabase;
  let gateway: Gateway;
  let admin: string;
  let reader: string;
  let client: Client;
  const ns = uniqueNamespace('ofrep');
  const origin = () => `http://127.0.0.1:${gateway.port}`;

  beforeAll(async () => {
    database = await createTestDatabase('ofrep');
    gateway = await startGateway({ env: { DATABASE_URL: database.url } });
    admin = await testToken({ sub: 'admin' });
    // A service's token names its one namespace: OFREP needs no namespace header then.
    reader = await testToken({ sub: 'svc', role: 'reader', namespaces: [ns] });
    await gql(gateway.url, admin, SET_MANY, {
      ns,
      inputs: [
        { key: 'flags.checkout', value: { enabled: true, rolloutPercentage: 30 } },
        { key: 'flags.killed', value: { enabled: false, rolloutPercentage: 100 } },
        { key: 'flags.everyone', value: { enabled: true, rolloutPercentage: 100 } },
        { key: 'flags.vip', value: { enabled: true, rolloutPercentage: 0, rules: [{ userIds: ['vip-1'], enabled: true }] } },
        { key: 'ai.threshold', value: 0.85 },
        { key: 'ai.model', value: 'large' },
        { key: 'db.password', value: 'hunter2', secret: true },
      ],
    });
    await OpenFeature.setProviderAndWait(new OFREPProvider({ baseUrl: origin(), headers: [['Authorization', `Bearer ${reader}`]] }));
    client = OpenFeature.getClient();
  });

  afterAll(async () => {
    await OpenFeature.close();
    await gateway?.stop('SIGKILL');
    await database?.drop();
  });

  it('answers a rollout flag exactly as evaluateFlag does, user by user', async () => {
    let enabled = 0;
    for (let index = 0; index < 200; index++) {
      const user = `user-${index}`;
      const expected = await gql<{ evaluateFlag: { enabled: boolean } }>(gateway.url, reader, EVALUATE, { ns, key: 'flags.checkout', user });
      const details = await client.getBooleanDetails('flags.checkout', !expected.evaluateFlag.enabled, { targetingKey: user });
      expect(details.value, user).toBe(expected.evaluateFlag.enabled);
      expect(details.reason).toBe('SPLIT');
      expect(details.variant).toBe(details.value ? 'on' : 'off');
      expect(details.errorCode).toBeUndefined();
      if (details.value) enabled++;
    }
    // 30 % rollout: neither nobody nor everybody.
    expect(enabled).toBeGreaterThan(20);
    expect(enabled).toBeLessThan(100);
  });

  it('reports the kill switch, targeting rules and full rollouts with their OpenFeature reasons', async () => {
    expect(await client.getBooleanDetails('flags.killed', true, { targetingKey: 'u' })).toMatchObject({ value: false, reason: 'DISABLED' });
    expect(await client.getBooleanDetails('flags.everyone', false, { targetingKey: 'u' })).toMatchObject({ value: true, reason: 'STATIC' });
    expect(await client.getBooleanDetails('flags.vip', false, { targetingKey: 'vip-1' })).toMatchObject({ value: true, reason: 'TARGETING_MATCH' });
    expect(await client.getBooleanDetails('flags.vip', true, { targetingKey: 'someone' })).toMatchObject({ value: false, reason: 'SPLIT' });
  });

  it('serves plain config values as typed flags, with version metadata', async () => {
    const threshold = await client.getNumberDetails('ai.threshold', 0);
    expect(threshold).toMatchObject({ value: 0.85, reason: 'STATIC' });
    expect(threshold.flagMetadata).toMatchObject({ version: 1 });
    expect(await client.getStringValue('ai.model', 'small')).toBe('large');
    // Asking for the wrong type falls back to the default, as OpenFeature specifies.
    expect(await client.getBooleanDetails('ai.model', true)).toMatchObject({ value: true, errorCode: 'TYPE_MISMATCH' });
  });

  it('falls back to the default with the right error code for a missing flag, a missing targeting key and a secret', async () => {
    expect(await client.getBooleanDetails('flags.nope', true, { targetingKey: 'u' })).toMatchObject({ value: true, errorCode: 'FLAG_NOT_FOUND' });
    expect(await client.getBooleanDetails('flags.checkout', true)).toMatchObject({ value: true, errorCode: 'TARGETING_KEY_MISSING' });
    const secret = await client.getStringDetails('db.password', 'default');
    expect(secret.value).toBe('default');
    expect(secret.errorCode).toBeDefined();
  });

  it('answers 401 with WWW-Authenticate to a bad token and 400 when the namespace cannot be known', async () => {
    const bad = await fetch(`${origin()}/ofrep/v1/evaluate/flags/flags.checkout`, {
      method: 'POST',
      headers: { authorization: 'Bearer bad.bad.bad', 'content-type': 'application/json' },
      body: '{}',
    });
    expect(bad.status).toBe(401);
    expect(bad.headers.get('www-authenticate')).toBe('Bearer');
    // No token at all: 401 too, before the gateway asks which namespace.
    const anonymous = await fetch(`${origin()}/ofrep/v1/evaluate/flags/flags.checkout`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('www-authenticate')).toBe('Bearer');
    // An admin token covers every namespace: it must say which one.
    const unnamed = await fetch(`${origin()}/ofrep/v1/evaluate/flags/flags.checkout`, {
      method: 'POST',
      headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
      body: JSON.stringify({ context: { targetingKey: 'u' } }),
    });
    expect(unnamed.status).toBe(400);
    expect(await unnamed.json()).toMatchObject({ key: 'flags.checkout', errorCode: 'INVALID_CONTEXT' });
    const named = await fetch(`${origin()}/ofrep/v1/evaluate/flags/flags.checkout`, {
      method: 'POST',
      headers: { authorization: `Bearer ${admin}`, 'x-hotconf-namespace': ns, 'content-type': 'application/json' },
      body: JSON.stringify({ context: { targetingKey: 'u' } }),
    });
    expect(named.status).toBe(200);
  });

  it('bulk evaluation lists every readable entry and answers 304 while nothing changed', async () => {
    const request = (etag?: string) =>
      fetch(`${origin()}/ofrep/v1/evaluate/flags`, {
        method: 'POST',
        headers: { authorization: `Bearer ${reader}`, 'content-type': 'application/json', ...(etag ? { 'if-none-match': etag } : {}) },
        body: JSON.stringify({ context: { targetingKey: 'user-1' } }),
      });
    const first = await request();
    expect(first.status).toBe(200);
    const etag = first.headers.get('etag')!;
    const { flags } = (await first.json()) as { flags: Array<{ key: string; value?: unknown; errorCode?: string }> };
    expect(flags.map((flag) => flag.key).sort()).toEqual(['ai.model', 'ai.threshold', 'flags.checkout', 'flags.everyone', 'flags.killed', 'flags.vip']);
    expect((await request(etag)).status).toBe(304);
    await gql(gateway.url, admin, SET_MANY, { ns, inputs: [{ key: 'ai.threshold', value: 0.9 }] });
    const changed = await request(etag);
    expect(changed.status).toBe(200);
    expect(changed.headers.get('etag')).not.toBe(etag);
  });

  it('the unmodified OFREP web provider: bulk evaluation at start, then polling with If-None-Match that picks up a change', async () => {
    const statuses: number[] = [];
    const recording: typeof fetch = async (input, init) => {
      const response = await fetch(input, init);
      statuses.push(response.status);
      return response;
    };
    const provider = new OFREPWebProvider({
      baseUrl: origin(),
      headers: [['Authorization', `Bearer ${reader}`]],
      pollInterval: 100,
      cacheMode: 'disabled',
      fetchImplementation: recording,
    });
    try {
      await WebOpenFeature.setContext({ targetingKey: 'user-7' });
      await WebOpenFeature.setProviderAndWait(provider);
      const web = WebOpenFeature.getClient();
      const expected = await gql<{ evaluateFlag: { enabled: boolean } }>(gateway.url, reader, EVALUATE, { ns, key: 'flags.checkout', user: 'user-7' });
      expect(web.getBooleanDetails('flags.checkout', !expected.evaluateFlag.enabled)).toMatchObject({ value: expected.evaluateFlag.enabled, reason: 'SPLIT' });
      expect(web.getBooleanDetails('flags.killed', true)).toMatchObject({ value: false, reason: 'DISABLED' });
      expect(web.getNumberDetails('ai.threshold', 0)).toMatchObject({ value: 0.9, reason: 'STATIC', flagMetadata: { version: 2 } });
      expect(web.getBooleanDetails('flags.nope', true)).toMatchObject({ value: true, errorCode: 'FLAG_NOT_FOUND' });
      // The bulk answer leaves out what the caller may not read.
      expect(web.getStringDetails('db.password', 'default')).toMatchObject({ value: 'default', errorCode: 'FLAG_NOT_FOUND' });

      // Polls that find nothing new are 304s; a change arrives as PROVIDER_CONFIGURATION_CHANGED.
      const changed = new Promise<WebEventDetails | undefined>((resolve) => web.addHandler(WebProviderEvents.ConfigurationChanged, resolve));
      await waitFor(() => statuses.includes(304), 15_000, 'a 304 poll');
      await gql(gateway.url, admin, SET_MANY, { ns, inputs: [{ key: 'ai.model', value: 'xl' }] });
      expect((await changed)?.flagsChanged).toEqual(['ai.model']);
      expect(web.getStringValue('ai.model', 'small')).toBe('xl');
      expect(statuses.filter((status) => status !== 200 && status !== 304)).toEqual([]);
    } finally {
      await WebOpenFeature.close();
    }
  });

  it('a web app on another origin can use OFREP (where the web provider runs): the preflight allows it and the ETag is readable', async () => {
    const app = 'http://app.example';
    const preflight = await fetch(`${origin()}/ofrep/v1/evaluate/flags`, {
      method: 'OPTIONS',
      headers: { origin: app, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type,if-none-match' },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe(app);
    expect(preflight.headers.get('access-control-allow-methods')).toMatch(/\bPOST\b/);
    expect(preflight.headers.get('access-control-allow-headers')?.toLowerCase().split(/,\s*/)).toEqual(expect.arrayContaining(['authorization', 'content-type', 'if-none-match']));
    // The same policy as /graphql, which a browser app on that origin already uses.
    const graphql = await fetch(gateway.url, { method: 'OPTIONS', headers: { origin: app, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type' } });
    expect(graphql.headers.get('access-control-allow-origin')).toBe(app);

    for (const path of ['/ofrep/v1/evaluate/flags', '/ofrep/v1/evaluate/flags/flags.checkout', '/ofrep/v1/evaluate/flags/flags.nope']) {
      const response = await fetch(`${origin()}${path}`, {
        method: 'POST',
        headers: { origin: app, authorization: `Bearer ${reader}`, 'content-type': 'application/json' },
        body: JSON.stringify({ context: { targetingKey: 'user-1' } }),
      });
      expect(response.headers.get('access-control-allow-origin'), path).toBe(app);
      expect(response.headers.get('vary'), path).toMatch(/\bOrigin\b/);
      if (path === '/ofrep/v1/evaluate/flags') expect(response.headers.get('access-control-expose-headers')?.toLowerCase()).toMatch(/\betag\b/);
    }
    // A refusal is readable too, so the provider sees the 401 and not a network error.
    const refused = await fetch(`${origin()}/ofrep/v1/evaluate/flags`, { method: 'POST', headers: { origin: app, authorization: 'Bearer bad', 'content-type': 'application/json' }, body: '{}' });
    expect(refused.status).toBe(401);
    expect(refused.headers.get('access-control-allow-origin')).toBe(app);
  });

  it('If-None-Match is compared as HTTP says: any tag of a list, weak tags, and * all answer 304', async () => {
    const request = (ifNoneMatch?: string) =>
      fetch(`${origin()}/ofrep/v1/evaluate/flags`, {
        method: 'POST',
        headers: { authorization: `Bearer ${reader}`, 'content-type': 'application/json', ...(ifNoneMatch ? { 'if-none-match': ifNoneMatch } : {}) },
        body: JSON.stringify({ context: { targetingKey: 'user-2' } }),
      });
    const etag = (await request()).headers.get('etag')!;
    expect(etag).toMatch(/^"[^"]+"$/);
    // A cache that kept several representations sends all of their tags (RFC 9110 13.1.2).
    expect((await request(`"stale-1", ${etag}`)).status).toBe(304);
    // If-None-Match uses the weak comparison: W/"x" matches "x".
    expect((await request(`W/${etag}`)).status).toBe(304);
    expect((await request('*')).status).toBe(304);
    const other = await request('"stale-1", W/"stale-2"');
    expect(other.status).toBe(200);
    expect(other.headers.get('etag')).toBe(etag);
  });

  it('a key whose percent-encoding is malformed is FLAG_NOT_FOUND in OFREP\'s own shape, never a 500', async () => {
    const response = await fetch(`${origin()}/ofrep/v1/evaluate/flags/flags.%E0%A4`, {
      method: 'POST',
      headers: { authorization: `Bearer ${reader}`, 'content-type': 'application/json' },
      body: JSON.stringify({ context: { targetingKey: 'u' } }),
    });
    expect(response.status).toBe(404);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await response.json()).toMatchObject({ key: 'flags.%E0%A4', errorCode: 'FLAG_NOT_FOUND' });
  });
});
