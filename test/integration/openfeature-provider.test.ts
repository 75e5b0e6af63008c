/**
 * The SDK's OpenFeature server provider (`@hotconf/client/openfeature`) under the real
 * OpenFeature server SDK, against real gateway processes: the same answers as the gateway's
 * `evaluateFlag` (and its OFREP endpoint), configuration-changed events from pushed changes, and a
 * provider status that follows the gateway going away and coming back.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { OFREPProvider } from '@openfeature/ofrep-provider';
import { OpenFeature, ProviderEvents, ProviderStatus, type Client, type EventDetails } from '@openfeature/server-sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createConfigClient, type ConfigClient } from '../../src/client/index.js';
import { createOpenFeatureProvider } from '../../src/client/openfeature.js';
import { gql, startGateway, testToken, uniqueNamespace, type Gateway } from '../helpers/gateway.js';
import { freePort, waitFor } from '../helpers/net.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';

const SET_MANY = /* GraphQL */ `
  mutation Set($ns: String!, $inputs: [BatchSetInput!]!) { setConfigs(namespace: $ns, inputs: $inputs) { key version revision } }
`;
const EVALUATE = /* GraphQL */ `
  query Evaluate($ns: String!, $key: String!, $user: String!) {
    evaluateFlag(namespace: $ns, key: $key, userId: $user) { enabled bucket version reason }
  }
`;

const FLAGS = [
  { key: 'flags.checkout', value: { enabled: true, rolloutPercentage: 30 } },
  { key: 'flags.half', value: { enabled: true, rolloutPercentage: 50, rules: [{ userIds: ['user-3', 'user-4'], enabled: false }] } },
  { key: 'flags.killed', value: { enabled: false, rolloutPercentage: 100 } },
  { key: 'flags.everyone', value: { enabled: true, rolloutPercentage: 100 } },
  { key: 'flags.vip', value: { enabled: true, rolloutPercentage: 0, rules: [{ userIds: ['vip-1'], enabled: true }] } },
];

/** Events one OpenFeature client received, for assertions. */
function record(client: Client) {
  const seen: Array<{ type: ProviderEvents; details: EventDetails | undefined }> = [];
  for (const type of [ProviderEvents.Ready, ProviderEvents.Stale, ProviderEvents.Error, ProviderEvents.ConfigurationChanged]) {
    client.addHandler(type, (details) => void seen.push({ type, details }));
  }
  // A handler for the status the provider is in runs at once when added (OpenFeature's rule): keep only what comes next.
  seen.length = 0;
  return {
    seen,
    changes: () => seen.filter((event) => event.type === ProviderEvents.ConfigurationChanged).map((event) => (event.details?.flagsChanged as string[] | undefined) ?? []),
  };
}

describe('OpenFeature server provider: local evaluation from pushed state', () => {
  let database: TestDatabase;
  let gateway: Gateway;
  let admin: string;
  let reader: string;
  const ns = uniqueNamespace('ofprov');

  beforeAll(async () => {
    database = await createTestDatabase('ofprov');
    gateway = await startGateway({ env: { DATABASE_URL: database.url } });
    admin = await testToken({ sub: 'admin' });
    reader = await testToken({ sub: 'svc', role: 'reader', namespaces: [ns] });
    await gql(gateway.url, admin, SET_MANY, {
      ns,
      inputs: [...FLAGS, { key: 'ai.threshold', value: 0.85 }, { key: 'ai.model', value: 'large' }, { key: 'ai.limits', value: { rpm: 60, models: ['a', 'b'] } }],
    });
  });

  afterAll(async () => {
    await OpenFeature.close();
    await gateway?.stop('SIGKILL');
    await database?.drop();
  });

  it('answers every flag exactly as evaluateFlag (GraphQL) and the OFREP endpoint do, user by user', async () => {
    await OpenFeature.setProviderAndWait('answers', createOpenFeatureProvider({ url: gateway.url, namespace: ns, token: reader }));
    await OpenFeature.setProviderAndWait('answers-ofrep', new OFREPProvider({ baseUrl: `http://127.0.0.1:${gateway.port}`, headers: [['Authorization', `Bearer ${reader}`]] }));
    const local = OpenFeature.getClient('answers');
    const remote = OpenFeature.getClient('answers-ofrep');
    expect(local.providerStatus).toBe(ProviderStatus.READY);
    let on = 0;
    for (const { key } of FLAGS) {
      for (let index = 0; index < 120; index++) {
        const user = index % 40 === 0 ? 'vip-1' : `user-${index}`;
        const { evaluateFlag: expected } = await gql<{ evaluateFlag: { enabled: boolean; bucket: number; version: number } }>(gateway.url, reader, EVALUATE, {
          ns,
          key,
          user,
        });
        const details = await local.getBooleanDetails(key, !expected.enabled, { targetingKey: user });
        expect(details.errorCode, `${key} ${user}`).toBeUndefined();
        expect(details.value, `${key} ${user}`).toBe(expected.enabled);
        expect(details.variant).toBe(expected.enabled ? 'on' : 'off');
        expect(details.flagMetadata).toMatchObject({ bucket: expected.bucket, version: expected.version, source: 'gateway' });
        const viaOfrep = await remote.getBooleanDetails(key, !expected.enabled, { targetingKey: user });
        expect({ value: details.value, reason: details.reason, variant: details.variant }, `${key} ${user}`).toEqual({
          value: viaOfrep.value,
          reason: viaOfrep.reason,
          variant: viaOfrep.variant,
        });
        if (key === 'flags.checkout' && details.value) on++;
      }
    }
    // 30 %: neither nobody nor everybody, so the comparison above meant something.
    expect(on).toBeGreaterThan(10);
    expect(on).toBeLessThan(100);
  });

  it('maps reasons and errors as the OFREP endpoint does', async () => {
    const flags = OpenFeature.getClient('answers');
    expect(await flags.getBooleanDetails('flags.killed', true, { targetingKey: 'u' })).toMatchObject({ value: false, reason: 'DISABLED', variant: 'off' });
    expect(await flags.getBooleanDetails('flags.everyone', false, { targetingKey: 'u' })).toMatchObject({ value: true, reason: 'STATIC', variant: 'on' });
    expect(await flags.getBooleanDetails('flags.everyone', false)).toMatchObject({ value: true, reason: 'STATIC' });
    expect(await flags.getBooleanDetails('flags.vip', false, { targetingKey: 'vip-1' })).toMatchObject({ value: true, reason: 'TARGETING_MATCH' });
    expect(await flags.getBooleanDetails('flags.vip', true, { targetingKey: 'someone' })).toMatchObject({ value: false, reason: 'SPLIT' });
    expect(await flags.getBooleanDetails('flags.checkout', true)).toMatchObject({ value: true, reason: 'ERROR', errorCode: 'TARGETING_KEY_MISSING' });
    expect(await flags.getBooleanDetails('flags.nope', true, { targetingKey: 'u' })).toMatchObject({ value: true, reason: 'ERROR', errorCode: 'FLAG_NOT_FOUND' });
    // Plain config values are typed flags.
    const threshold = await flags.getNumberDetails('ai.threshold', 0);
    expect(threshold).toMatchObject({ value: 0.85, reason: 'STATIC' });
    expect(threshold.variant).toBeUndefined();
    expect(threshold.flagMetadata).toMatchObject({ version: 1, revision: 1, source: 'gateway' });
    expect(await flags.getStringValue('ai.model', 'small')).toBe('large');
    expect(await flags.getObjectValue('ai.limits', {})).toEqual({ rpm: 60, models: ['a', 'b'] });
    expect(await flags.getBooleanDetails('ai.model', true)).toMatchObject({ value: true, errorCode: 'TYPE_MISMATCH' });
    expect(await flags.getNumberDetails('flags.everyone', 7)).toMatchObject({ value: 7, errorCode: 'TYPE_MISMATCH' });
  });

  it('a change on the gateway fires PROVIDER_CONFIGURATION_CHANGED with the changed keys, and the next evaluation sees it', async () => {
    const flags = OpenFeature.getClient('answers');
    const events = record(flags);
    expect(await flags.getBooleanValue('flags.killed', true, { targetingKey: 'u' })).toBe(false);
    await gql(gateway.url, admin, SET_MANY, { ns, inputs: [{ key: 'flags.killed', value: { enabled: true, rolloutPercentage: 100 } }] });
    await waitFor(() => events.changes().length > 0, 15_000, 'a configuration-changed event');
    expect(events.changes()).toEqual([['flags.killed']]);
    // The event comes after the client applied the change: evaluating in the handler's wake sees it.
    expect(await flags.getBooleanDetails('flags.killed', false, { targetingKey: 'u' })).toMatchObject({ value: true, reason: 'STATIC', flagMetadata: { version: 2 } });

    // A batch is one revision and one event, with every key in it.
    const { setConfigs } = await gql<{ setConfigs: Array<{ revision: number }> }>(gateway.url, admin, SET_MANY, {
      ns,
      inputs: [
        { key: 'ai.threshold', value: 0.9 },
        { key: 'flags.vip', value: { enabled: false, rolloutPercentage: 0 } },
      ],
    });
    await waitFor(() => events.changes().length > 1, 15_000, 'a second configuration-changed event');
    expect(events.changes()[1]!.sort()).toEqual(['ai.threshold', 'flags.vip']);
    const batch = events.seen.filter((event) => event.type === ProviderEvents.ConfigurationChanged)[1]!;
    expect(batch.details?.metadata).toEqual({ revision: setConfigs[0]!.revision });
    expect(await flags.getNumberValue('ai.threshold', 0)).toBe(0.9);
    expect(await flags.getBooleanDetails('flags.vip', true, { targetingKey: 'vip-1' })).toMatchObject({ value: false, reason: 'DISABLED' });
    expect(events.changes()).toHaveLength(2);
  });

  it('a client the service passes in is read, not closed; a client the provider created is closed with it', async () => {
    const client: ConfigClient = createConfigClient({ url: gateway.url, namespace: ns, token: reader });
    try {
      const shared = createOpenFeatureProvider({ client });
      await OpenFeature.setProviderAndWait('shared', shared);
      expect(shared.client).toBe(client);
      expect(await OpenFeature.getClient('shared').getNumberValue('ai.threshold', 0)).toBe(client.get('ai.threshold'));
      const owned = createOpenFeatureProvider({ url: gateway.url, namespace: ns, token: reader });
      expect(owned.client).toBeNull();
      await OpenFeature.setProviderAndWait('owned', owned);
      const created = owned.client!;
      expect(created.snapshotSource).toBe('gateway');
      expect(await OpenFeature.getClient('owned').getStringValue('ai.model', 'small')).toBe('large');
      await OpenFeature.clearProviders();
      expect(client.state).not.toBe('closed');
      expect(created.state).toBe('closed');
      expect(owned.client).toBeNull();
    } finally {
      await client.close();
    }
  });

  it('a passed-in client the service closes leaves the provider FATAL', async () => {
    const client = createConfigClient({ url: gateway.url, namespace: ns, token: reader });
    await OpenFeature.setProviderAndWait('closing', createOpenFeatureProvider({ client }));
    const flags = OpenFeature.getClient('closing');
    expect(flags.providerStatus).toBe(ProviderStatus.READY);
    await client.close();
    await waitFor(() => flags.providerStatus === ProviderStatus.FATAL, 15_000, 'PROVIDER_FATAL');
    expect(await flags.getBooleanDetails('flags.everyone', false)).toMatchObject({ value: false, errorCode: 'PROVIDER_FATAL' });
  });

  it('started from the fallback file with no gateway: STALE, answering from the file', async () => {
    const fallbackFile = join(await mkdtemp(join(tmpdir(), 'hotconf-of-')), 'snapshot.json');
    const writer = createConfigClient({ url: gateway.url, namespace: ns, token: reader, fallbackFile });
    await writer.ready();
    await writer.close();
    const nobody = `http://127.0.0.1:${await freePort()}/graphql`;
    await OpenFeature.setProviderAndWait('fallback', createOpenFeatureProvider({ url: nobody, namespace: ns, token: reader, fallbackFile }));
    const flags = OpenFeature.getClient('fallback');
    await waitFor(() => flags.providerStatus === ProviderStatus.STALE, 15_000, 'PROVIDER_STALE');
    expect(await flags.getStringDetails('ai.model', 'small')).toMatchObject({ value: 'large', reason: 'STATIC', flagMetadata: { source: 'fallback' } });
    await rm(dirname(fallbackFile), { recursive: true, force: true });
  });

  it('initialize fails like ready(): ERROR while the client keeps trying, FATAL for a refused fixed token', async () => {
    const nobody = `http://127.0.0.1:${await freePort()}/graphql`;
    const unreachable = createOpenFeatureProvider({ url: nobody, namespace: ns, token: reader, readyTimeoutMs: 1_000 });
    await expect(OpenFeature.setProviderAndWait('unreachable', unreachable)).rejects.toThrow(/ECONNREFUSED|not ready/);
    expect(OpenFeature.getClient('unreachable').providerStatus).toBe(ProviderStatus.ERROR);
    // No snapshot at all: the default, with a code that says why.
    expect(await OpenFeature.getClient('unreachable').getBooleanDetails('flags.everyone', false)).toMatchObject({ value: false, errorCode: 'PROVIDER_NOT_READY' });

    const refused = createOpenFeatureProvider({ url: gateway.url, namespace: ns, token: 'not-a-token' });
    await expect(OpenFeature.setProviderAndWait('refused', refused)).rejects.toThrow(/UNAUTHENTICATED|token|401/i);
    expect(OpenFeature.getClient('refused').providerStatus).toBe(ProviderStatus.FATAL);
    await OpenFeature.clearProviders();
  });
});

describe('OpenFeature provider status follows the gateway', () => {
  let database: TestDatabase;
  let a: Gateway;
  let b: Gateway;
  let admin: string;
  const ns = uniqueNamespace('ofstatus');

  beforeAll(async () => {
    database = await createTestDatabase('ofstatus');
    // Two gateways on one database: the service talks to `a`; `b` takes writes while `a` is down.
    [a, b] = await Promise.all([startGateway({ env: { DATABASE_URL: database.url } }), startGateway({ env: { DATABASE_URL: database.url } })]);
    admin = await testToken({ sub: 'admin' });
    await gql(a.url, admin, SET_MANY, { ns, inputs: [{ key: 'flags.checkout', value: { enabled: true, rolloutPercentage: 100 } }, { key: 'ai.threshold', value: 0.5 }] });
  });

  afterAll(async () => {
    await OpenFeature.close();
    await Promise.all([a?.stop('SIGKILL'), b?.stop('SIGKILL')]);
    await database?.drop();
  });

  it('STALE while the gateway is away (values still served), READY when it is back, and nothing changed meanwhile is lost', async () => {
    const provider = createOpenFeatureProvider({ url: a.url, namespace: ns, token: admin, backoffMaxMs: 500 });
    await OpenFeature.setProviderAndWait('outage', provider);
    const flags = OpenFeature.getClient('outage');
    const events = record(flags);
    expect(flags.providerStatus).toBe(ProviderStatus.READY);

    await a.stop('SIGKILL');
    await waitFor(() => flags.providerStatus === ProviderStatus.STALE, 30_000, 'PROVIDER_STALE');
    expect(events.seen.map((event) => event.type)).toEqual([ProviderEvents.Stale]);
    // Stale, not gone: the last pushed values keep answering.
    expect(await flags.getBooleanDetails('flags.checkout', false, { targetingKey: 'u' })).toMatchObject({ value: true, reason: 'STATIC' });
    expect(await flags.getNumberValue('ai.threshold', 0)).toBe(0.5);

    // Written through the other gateway while `a` is down.
    await gql(b.url, admin, SET_MANY, { ns, inputs: [{ key: 'flags.checkout', value: { enabled: false, rolloutPercentage: 100 } }] });
    await a.start();
    await waitFor(() => flags.providerStatus === ProviderStatus.READY, 30_000, 'PROVIDER_READY');
    await waitFor(() => events.changes().length > 0, 15_000, 'the missed change');
    expect(events.changes()).toEqual([['flags.checkout']]);
    expect(await flags.getBooleanDetails('flags.checkout', true, { targetingKey: 'u' })).toMatchObject({ value: false, reason: 'DISABLED' });
    expect(events.seen.map((event) => event.type)).toContain(ProviderEvents.Ready);

    // Live again: a change now arrives as an event too.
    await gql(a.url, admin, SET_MANY, { ns, inputs: [{ key: 'ai.threshold', value: 0.6 }] });
    await waitFor(() => events.changes().length > 1, 15_000, 'a live change after the outage');
    expect(events.changes()[1]).toEqual(['ai.threshold']);
    expect(await flags.getNumberValue('ai.threshold', 0)).toBe(0.6);
    expect(provider.client?.state).toBe('connected');
  });

  it('ERROR when the gateway is down at start, READY once it answers', async () => {
    await a.stop('SIGKILL');
    const provider = createOpenFeatureProvider({ url: a.url, namespace: ns, token: admin, readyTimeoutMs: 1_000, backoffMaxMs: 500 });
    await expect(OpenFeature.setProviderAndWait('late', provider)).rejects.toThrow(/ECONNREFUSED/);
    const flags = OpenFeature.getClient('late');
    expect(flags.providerStatus).toBe(ProviderStatus.ERROR);
    await a.start();
    await waitFor(() => flags.providerStatus === ProviderStatus.READY, 30_000, 'PROVIDER_READY after a late start');
    expect(await flags.getNumberValue('ai.threshold', 0)).toBe(0.6);
  });
});
