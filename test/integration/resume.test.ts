import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, type Cluster } from '../helpers/cluster.js';
import { waitFor } from '../helpers/net.js';
import { gql, setConfig, subscribeSse, subscribeWs, uniqueNamespace, type Gateway } from '../helpers/gateway.js';

describe('resume with sinceRevision', () => {
  let cluster: Cluster;
  let a: Gateway;
  let b: Gateway;
  let token: string;

  beforeAll(async () => {
    cluster = await startCluster('resume', 2);
    [a, b] = cluster.gateways as [Gateway, Gateway];
    token = cluster.token;
  });

  afterAll(() => cluster?.close());

  const client = () => cluster.client(b);

  it('after 1,000 changes made while disconnected, a resumed subscriber gets exactly those, in order, then live', async () => {
    const namespace = uniqueNamespace('resume');
    await setConfig(a.url, token, namespace, 'seed', 0);
    const first = client();
    const before = await subscribeWs(first, { namespace, sinceRevision: 1 });
    await setConfig(a.url, token, namespace, 'k0', 'before');
    await before.waitForCount(1);
    const lastSeen = before.changes.at(-1)!.revision;
    await before.close();
    await first.dispose();

    // 1,000 revisions, written 8 at a time, over keys a resumed client filters nothing out of.
    const written: number[] = [];
    for (let batch = 0; batch < 125; batch++) {
      const revisions = await Promise.all(
        Array.from({ length: 8 }, (_, i) => setConfig(a.url, token, namespace, `k${(batch * 8 + i) % 37}`, batch * 8 + i)),
      );
      written.push(...revisions);
    }
    written.sort((x, y) => x - y);
    expect(written).toHaveLength(1_000);

    const resumed = await subscribeWs(client(), { namespace, sinceRevision: lastSeen });
    cluster.keep(resumed);
    await resumed.waitForCount(1_000, 30_000);
    const live = await setConfig(a.url, token, namespace, 'after', true);
    await resumed.waitForCount(1_001, 10_000);
    await new Promise((resolve) => setTimeout(resolve, 200));

    expect(resumed.errors).toEqual([]);
    expect(resumed.changes.slice(0, 1_000).map((change) => change.revision)).toEqual(written);
    expect(resumed.changes.slice(0, 1_000).every((change) => change.replayed)).toBe(true);
    expect(resumed.changes.slice(1_000)).toEqual([expect.objectContaining({ revision: live, key: 'after', replayed: false })]);
  });

  it('changes committed during the replay are delivered once, after the replayed ones', async () => {
    const namespace = uniqueNamespace('overlap');
    const written: number[] = [];
    for (let i = 0; i < 300; i++) written.push(await setConfig(a.url, token, namespace, `k${i % 5}`, i));
    const resumed = await subscribeSse(b.url, token, { namespace, prefix: 'k', sinceRevision: 0 });
    cluster.keep(resumed);
    // Keep writing while the replay runs on B.
    for (let i = 0; i < 50; i++) written.push(await setConfig(a.url, token, namespace, `k${i % 5}`, `live${i}`));
    await resumed.waitForCount(350, 30_000);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(resumed.changes.map((change) => change.revision)).toEqual(written);
  });

  it('sinceRevision ahead of the namespace is REVISION_AHEAD, before any change', async () => {
    const namespace = uniqueNamespace('ahead');
    const revision = await setConfig(a.url, token, namespace, 'k', 1);
    const ahead = await subscribeWs(client(), { namespace, sinceRevision: revision + 10 });
    cluster.keep(ahead);
    await waitFor(() => ahead.errors.length > 0, 10_000, 'an error');
    expect(ahead.changes).toEqual([]);
    expect(ahead.errors[0]?.extensions?.code).toBe('REVISION_AHEAD');
  });

  it('a slow consumer does not hold up a fast one on the same gateway', async () => {
    const namespace = uniqueNamespace('slow');
    await setConfig(a.url, token, namespace, 'seed', 0);
    const { configs } = await gql<{ configs: { revision: number } }>(a.url, token, 'query($ns: String!) { configs(namespace: $ns) { revision } }', {
      ns: namespace,
    });
    // An SSE stream whose body nobody reads: its socket buffers fill, then its queue.
    const stalled = await fetch(b.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${token}` },
      body: JSON.stringify({
        query: 'subscription($ns: String!, $s: SafeInt) { configChanged(namespace: $ns, sinceRevision: $s) { key value } }',
        variables: { ns: namespace, s: configs.revision },
      }),
    });
    try {
      const fast = await subscribeWs(client(), { namespace, sinceRevision: configs.revision });
      cluster.keep(fast);
      const big = 'x'.repeat(16_000);
      const writes = Array.from({ length: 200 }, (_, i) => i);
      for (const i of writes) await setConfig(a.url, token, namespace, `big${i % 3}`, `${i}:${big}`);
      await fast.waitForCount(200, 30_000);
      expect(fast.errors).toEqual([]);
    } finally {
      await stalled.body?.cancel();
    }
  });
});
