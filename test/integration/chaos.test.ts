import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createConfigClient, type ConfigClient } from '../../src/client/index.js';
import { startGateway, testToken, wsClient, type Gateway } from '../helpers/gateway.js';
import { waitFor } from '../helpers/net.js';
import { startPrivatePostgres, type PrivatePostgres } from '../helpers/private-postgres.js';
import { startPrivateRedis, uniquePrefix, type PrivateRedis } from '../helpers/redis.js';
import { attempt, type Attempt } from '../helpers/writer.js';

/**
 * Issue 10's chaos run, bounded (a few minutes): three gateway processes on a private Postgres
 * cluster and a private Redis; writers of single keys and batches on every gateway; subscribers
 * that resume from the last revision they completed; SDK clients. Redis is killed, a gateway is
 * SIGKILLed, Postgres is crashed (`pg_ctl stop -m immediate`) three times, once while Redis is
 * down. Every subscriber must end with exactly the database's history after its start, in order,
 * once; every SDK with the database's entries; no gateway may end by itself.
 */

const NAMESPACE = 'chaos';
const KEYS = 24;

const WATCH = /* GraphQL */ `
  subscription Watch($namespace: String!, $sinceRevision: SafeInt) {
    configChanged(namespace: $namespace, sinceRevision: $sinceRevision) { key revision version lastInRevision }
  }
`;
const SET = /* GraphQL */ `mutation($input: SetConfigInput!) { setConfig(input: $input) { revision } }`;
const SET_MANY = /* GraphQL */ `mutation($namespace: String!, $inputs: [BatchSetInput!]!) { setConfigs(namespace: $namespace, inputs: $inputs) { revision } }`;
const REVISION = /* GraphQL */ `query($namespace: String!) { configs(namespace: $namespace) { revision } }`;

interface Received {
  key: string;
  revision: number;
  version: number;
  lastInRevision: boolean;
}

/**
 * A subscriber as a service runs one: applies a revision when its last change arrives, and after
 * any error, close or gateway death resumes on the next gateway with `sinceRevision` = the last
 * revision it completed (a partly received revision is dropped and received again whole).
 */
function resumingSubscriber(gateways: readonly Gateway[], token: string, first: number, since: number) {
  const applied: Received[] = [];
  let partial: Received[] = [];
  let revision = since;
  let resumes = 0;
  let stopped = false;
  let dispose: (() => void) | null = null;
  let index = first;

  const connect = () => {
    if (stopped) return;
    const gateway = gateways[index % gateways.length]!;
    index++;
    partial = [];
    const client = wsClient(gateway.wsUrl, token);
    let over = false;
    const again = () => {
      if (over) return;
      over = true;
      void client.dispose();
      if (stopped) return;
      resumes++;
      setTimeout(connect, 100);
    };
    const unsubscribe = client.subscribe<{ configChanged: Received }>(
      { query: WATCH, variables: { namespace: NAMESPACE, sinceRevision: revision } },
      {
        next: (result) => {
          const change = result.data?.configChanged;
          if (!change) return again();
          partial.push(change);
          if (change.lastInRevision) {
            applied.push(...partial);
            revision = change.revision;
            partial = [];
          }
        },
        error: again,
        complete: again,
      },
    );
    dispose = () => {
      over = true;
      unsubscribe();
      void client.dispose();
    };
  };
  connect();
  return {
    applied,
    get revision() {
      return revision;
    },
    get resumes() {
      return resumes;
    },
    stop() {
      stopped = true;
      dispose?.();
    },
  };
}

describe('chaos: Redis killed, a gateway SIGKILLed, Postgres crashed repeatedly', () => {
  let pg: PrivatePostgres;
  let redis: PrivateRedis;
  let gateways: Gateway[] = [];
  let token: string;
  const sdks: ConfigClient[] = [];

  beforeAll(async () => {
    pg = await startPrivatePostgres();
    redis = await startPrivateRedis();
    const env = {
      DATABASE_URL: pg.url,
      REDIS_URL: redis.url,
      HOTCONF_CHANNEL_PREFIX: uniquePrefix('chaos'),
      HOTCONF_REPAIR_INTERVAL_MS: '1000',
    };
    gateways = [await startGateway({ env })];
    gateways.push(...(await Promise.all([startGateway({ env }), startGateway({ env })])));
    token = await testToken({ sub: 'chaos' });
  }, 180_000);

  afterAll(async () => {
    for (const gateway of gateways) if (!gateway.running) console.error(`gateway on ${gateway.port} is not running:\n${gateway.logs()}`);
    await Promise.allSettled(sdks.map((sdk) => sdk.close()));
    await Promise.allSettled(gateways.map((gateway) => gateway.stop('SIGKILL')));
    await redis?.stop();
    await pg?.[Symbol.asyncDispose]();
  });

  it('0 lost, 0 duplicated, 0 out of order for every subscriber; SDKs equal the database; no gateway ends by itself', async () => {
    const urls = gateways.map((gateway) => gateway.url);
    // Seed so that every subscriber and SDK starts from a known revision.
    const seeded = await attempt(urls[0]!, token, SET, { input: { namespace: NAMESPACE, key: 'k0', value: 0 } });
    expect(seeded.code).toBe('OK');
    const { data } = await attempt(urls[0]!, token, REVISION, { namespace: NAMESPACE });
    const startRevision = (data?.configs as { revision: number }).revision;

    const subscribers = Array.from({ length: 9 }, (_, i) => resumingSubscriber(gateways, token, i, startRevision));
    for (let i = 0; i < 3; i++) {
      const sdk = createConfigClient({ urls: [...urls.slice(i), ...urls.slice(0, i)], namespace: NAMESPACE, token, webSocketImpl: WebSocket });
      sdks.push(sdk);
    }
    await Promise.all(sdks.map((sdk) => sdk.ready()));

    // Writers: every gateway, single keys and batches of three, until told to stop.
    const attempts: Attempt[] = [];
    let writing = true;
    const writers = gateways.flatMap((gateway, g) =>
      [0, 1].map(async (w) => {
        for (let n = 0; writing; n++) {
          const base = (g * 7 + w * 3 + n) % KEYS;
          const result =
            n % 3 === 2
              ? await attempt(gateway.url, token, SET_MANY, {
                  namespace: NAMESPACE,
                  inputs: [0, 1, 2].map((j) => ({ key: `k${(base + j * 5) % KEYS}`, value: { g, w, n, j } })),
                }, 30_000)
              : await attempt(gateway.url, token, SET, { input: { namespace: NAMESPACE, key: `k${base}`, value: { g, w, n } } }, 30_000);
          attempts.push(result);
          if (result.code !== 'OK') await new Promise((resolve) => setTimeout(resolve, 50));
          else await new Promise((resolve) => setTimeout(resolve, 10));
        }
      }),
    );
    const ok = () => attempts.filter((a) => a.code === 'OK').length;
    const okAfter = (since: number) => attempts.some((a) => a.at >= since && a.code === 'OK');
    const moreWrites = async (count: number, what: string) => {
      const target = ok() + count;
      await waitFor(() => ok() >= target, 60_000, what);
    };
    const everyGatewayWrites = async (since: number, what: string) => {
      for (const gateway of gateways) {
        let last = '';
        await waitFor(
          async () => (last = (await attempt(gateway.url, token, SET, { input: { namespace: NAMESPACE, key: 'probe', value: since } })).code) === 'OK',
          60_000,
          `${what} on ${gateway.port}`,
        ).catch((error: Error) => {
          throw new Error(`${error.message}; its last answer: ${last}; its log ends:\n${gateway.logs()}`);
        });
      }
    };
    const expectAllRunning = () => expect(gateways.map((gateway) => gateway.running)).toEqual([true, true, true]);
    const recoveries: number[] = [];
    /** Crash Postgres, wait until the gateways have refused writes, start it, time the first success. */
    const crashPostgres = async () => {
      const stoppedAt = Date.now();
      await pg.stop('immediate');
      await waitFor(() => attempts.filter((a) => a.at > stoppedAt && a.code !== 'OK').length >= 6, 60_000, 'refusals during the outage');
      await pg.start();
      const back = Date.now();
      await waitFor(() => okAfter(back), 60_000, 'a write after Postgres returned');
      recoveries.push(Math.min(...attempts.filter((a) => a.at >= back && a.code === 'OK').map((a) => a.done)) - back);
    };

    try {
      await moreWrites(40, 'warm-up writes');

      // Redis killed: writes go on, changes travel by the periodic repair.
      await redis.stop();
      await moreWrites(20, 'writes while Redis is down');
      await redis.start();
      await moreWrites(20, 'writes after Redis returned');
      expectAllRunning();

      // Postgres crashed under load.
      await crashPostgres();
      await moreWrites(20, 'writes after the first crash');
      expectAllRunning();

      // A gateway SIGKILLed: its subscribers resume elsewhere; it comes back.
      await gateways[1]!.stop('SIGKILL');
      await moreWrites(20, 'writes with a gateway dead');
      await gateways[1]!.start();
      await moreWrites(20, 'writes after the gateway returned');
      expectAllRunning();

      // Postgres crashed while Redis is down: the periodic check must still carry every change.
      await redis.stop();
      await crashPostgres();
      await moreWrites(20, 'writes after the second crash, Redis still down');
      await redis.start();
      expectAllRunning();

      await crashPostgres();
      await moreWrites(30, 'writes after the third crash');
      expectAllRunning();
    } finally {
      writing = false;
      await Promise.all(writers);
    }
    await everyGatewayWrites(Date.now(), 'a final write');

    // The truth: history in Postgres.
    const sql = postgres(pg.url, { max: 1, onnotice: () => {} });
    let history: Array<{ revision: number; key: string; version: number }>;
    let entries: Array<{ key: string; version: number }>;
    try {
      history = await sql<Array<{ revision: number; key: string; version: number }>>`select revision::int as revision, key, version from history where namespace = ${NAMESPACE} and revision > ${startRevision} order by revision, key`;
      entries = await sql<Array<{ key: string; version: number }>>`select key, version from entries where namespace = ${NAMESPACE} and not deleted order by key`;
    } finally {
      await sql.end();
    }
    const finalRevision = history.at(-1)!.revision;
    await waitFor(() => subscribers.every((s) => s.revision >= finalRevision), 60_000, 'every subscriber at the final revision');
    await waitFor(() => sdks.every((sdk) => sdk.revision >= finalRevision), 60_000, 'every SDK at the final revision');
    for (const subscriber of subscribers) subscriber.stop();

    const expected = history.map((row) => `${row.revision}:${row.key}:${row.version}`);
    for (const [i, subscriber] of subscribers.entries()) {
      const revisions = subscriber.applied.map((change) => change.revision);
      // In order: revisions never go back (the changes of one revision come together).
      expect(revisions, `subscriber ${i} order`).toEqual([...revisions].sort((a, b) => a - b));
      // Nothing lost, nothing twice: the same changes as history (compared sorted by key within a revision).
      const got = [...subscriber.applied]
        .sort((a, b) => a.revision - b.revision || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
        .map((change) => `${change.revision}:${change.key}:${change.version}`);
      expect(got, `subscriber ${i}`).toEqual(expected);
    }
    const truth = Object.fromEntries(entries.map((row) => [row.key, row.version]));
    for (const sdk of sdks) expect(sdk.versions()).toEqual(truth);
    expectAllRunning();

    const codes = [...new Set(attempts.map((a) => a.code))].sort();
    console.log(
      `[chaos] ${attempts.length} writes (${ok()} ok, codes ${codes.join(',')}), ${history.length} changes in ${
        finalRevision - startRevision
      } revisions, subscriber resumes ${subscribers.map((s) => s.resumes).join(',')}; ` +
        `ms from Postgres' return to the first successful write: ${recoveries.join(', ')}`,
    );
    // Refusals are SERVICE_UNAVAILABLE; a write in flight to the killed gateway may lose its socket.
    expect(codes.filter((code) => !['OK', 'SERVICE_UNAVAILABLE', 'NETWORK'].includes(code))).toEqual([]);
  }, 420_000);
});
