import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, type Cluster } from '../helpers/cluster.js';
import { waitFor } from '../helpers/net.js';
import { setConfig, subscribeWs, uniqueNamespace, type Gateway, type Subscriber } from '../helpers/gateway.js';

const SOCKETS = 50;
const SUBSCRIBERS = 1_000;
const BURST = 100;

describe('fan-out on one instance', () => {
  let cluster: Cluster;
  let writer: Gateway;
  let reader: Gateway;
  let token: string;

  beforeAll(async () => {
    cluster = await startCluster('fanout', 2);
    [writer, reader] = cluster.gateways as [Gateway, Gateway];
    token = cluster.token;
  });

  afterAll(() => cluster?.close());

  // Generous ceilings: 1,000 subscribers on a loaded 2-core machine; the assertions are about
  // order and completeness, never speed (bench/propagation.ts measures that).
  it('1,000 concurrent subscribers all receive a burst of 100 changes, in order, once', { timeout: 240_000 }, async () => {
    const namespace = uniqueNamespace('fan');
    await setConfig(writer.url, token, namespace, 'seed', 0);
    const configs = { revision: await cluster.revisionOf(namespace) };
    const clients = Array.from({ length: SOCKETS }, () => cluster.client(reader));
    const subscribers: Subscriber[] = [];
    // Half start live, half resume from the seed revision, which is what the reader has delivered
    // once it follows the namespace: all of these share one execution. A few have a prefix filter
    // that matches every key (a group of their own).
    for (let i = 0; i < SUBSCRIBERS; i++) {
      const variables =
        i % 2 === 0 ? { namespace } : i % 10 === 1 ? { namespace, prefix: 'burst.', keys: ['warm'], sinceRevision: configs.revision } : { namespace, sinceRevision: configs.revision };
      subscribers.push(cluster.keep(await subscribeWs(clients[i % SOCKETS]!, variables)));
    }
    // Live subscriptions have no acknowledgement: write until every subscriber saw a warm-up.
    await waitFor(
      async () => {
        await setConfig(writer.url, token, namespace, 'warm', Date.now());
        await new Promise((resolve) => setTimeout(resolve, 300));
        // A refused or failed subscription would never see the warm-up: say why at once.
        const failed = subscribers.find((subscriber) => subscriber.errors.length > 0);
        if (failed) throw new Error(`a subscriber failed: ${JSON.stringify(failed.errors)}`);
        return subscribers.every((subscriber) => subscriber.changes.length > 0);
      },
      90_000,
      'every subscriber receiving the warm-up',
    );

    const burst = await Promise.all(Array.from({ length: BURST }, (_, i) => setConfig(writer.url, token, namespace, `burst.${i % 10}`, i)));
    const last = Math.max(...burst);
    await waitFor(() => subscribers.every((subscriber) => subscriber.changes.at(-1)?.revision === last), 90_000, 'the burst on every subscriber');
    await new Promise((resolve) => setTimeout(resolve, 300));

    const expected = [...burst].sort((x, y) => x - y);
    for (const subscriber of subscribers) {
      expect(subscriber.errors).toEqual([]);
      const revisions = subscriber.changes.map((change) => change.revision);
      // Strictly increasing: in order and never twice.
      expect(revisions.every((revision, i) => i === 0 || revision > revisions[i - 1]!)).toBe(true);
      expect(revisions.slice(-BURST)).toEqual(expected);
    }
  });
});
