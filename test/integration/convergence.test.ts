import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createConfigClient } from '../../src/client/index.js';
import { gql, setConfig, startGateway, testToken, uniqueNamespace, type Gateway } from '../helpers/gateway.js';
import { waitFor } from '../helpers/net.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';

const REPORT = /* GraphQL */ `
  mutation Report($ns: String!, $id: String!, $rev: SafeInt!) { reportApplied(namespace: $ns, clientId: $id, revision: $rev) }
`;
const LEAVE = /* GraphQL */ `
  mutation Leave($ns: String!, $id: String!) { reportLeaving(namespace: $ns, clientId: $id) }
`;
const CONVERGENCE = /* GraphQL */ `
  query Convergence($ns: String!) {
    convergence(namespace: $ns) { revision converged clients { clientId appliedRevision lag state } }
  }
`;

interface View {
  revision: number;
  converged: boolean;
  clients: Array<{ clientId: string; appliedRevision: number; lag: number; state: 'CURRENT' | 'LAGGING' | 'STALE' }>;
}

describe('convergence never forgets the pods it exists to find', () => {
  let database: TestDatabase;
  let gateway: Gateway;
  let token: string;

  beforeAll(async () => {
    database = await createTestDatabase('convergence');
    // A client silent for 1 s is STALE: the test does not have to wait a minute.
    gateway = await startGateway({ env: { DATABASE_URL: database.url, HOTCONF_CONVERGENCE_TIMEOUT_S: '1' } });
    token = await testToken({ sub: 'sre' });
  });

  afterAll(async () => {
    await gateway?.stop('SIGKILL');
    await database?.drop();
  });

  const view = async (ns: string) => (await gql<{ convergence: View }>(gateway.url, token, CONVERGENCE, { ns })).convergence;
  const report = (ns: string, id: string, rev: number) => gql(gateway.url, token, REPORT, { ns, id, rev });

  it('"8 of 10 pods updated" reads as 8 of 10: the two silent pods are STALE, listed, and keep converged false', async () => {
    const ns = uniqueNamespace('pods');
    const first = await setConfig(gateway.url, token, ns, 'ai.threshold', 0.75);
    const pods = Array.from({ length: 10 }, (_, index) => `pod-${index}`);
    for (const pod of pods) await report(ns, pod, first);
    expect((await view(ns)).converged).toBe(true);

    const second = await setConfig(gateway.url, token, ns, 'ai.threshold', 0.85);
    const frozen = new Set(['pod-8', 'pod-9']);
    // The eight healthy pods apply the change and keep reporting (as the SDK's heartbeat does);
    // the two frozen ones never report again.
    let seen: View | null = null;
    await waitFor(
      async () => {
        for (const pod of pods) if (!frozen.has(pod)) await report(ns, pod, second);
        seen = await view(ns);
        return seen.clients.filter((client) => client.state === 'STALE').length === 2;
      },
      30_000,
      'two STALE pods',
    );
    const stalled = seen!;
    const staleAt = Date.now();
    expect(stalled.converged).toBe(false);
    expect(stalled.clients).toHaveLength(10);
    expect(stalled.clients.filter((client) => client.state === 'CURRENT').map((client) => client.clientId).sort()).toEqual(
      pods.filter((pod) => !frozen.has(pod)),
    );
    expect(stalled.clients.filter((client) => client.state === 'STALE')).toEqual([
      { clientId: 'pod-8', appliedRevision: first, lag: second - first, state: 'STALE' },
      { clientId: 'pod-9', appliedRevision: first, lag: second - first, state: 'STALE' },
    ]);

    // Many timeouts later they are still there: only a goodbye or the retention forgets them.
    await waitFor(async () => {
      for (const pod of pods) if (!frozen.has(pod)) await report(ns, pod, second);
      const again = await view(ns);
      expect(again.clients).toHaveLength(10);
      expect(again.converged).toBe(false);
      return Date.now() - staleAt > 3_000;
    }, 30_000, 'three more timeouts');
  });

  it('a pod that says goodbye (SDK close, rolling restart) leaves at once and the namespace converges cleanly', async () => {
    const ns = uniqueNamespace('rolling');
    const revision = await setConfig(gateway.url, token, ns, 'k', 1);
    await report(ns, 'old-pod', revision);
    await report(ns, 'new-pod', revision);
    expect(await view(ns)).toMatchObject({ converged: true, clients: [{ state: 'CURRENT' }, { state: 'CURRENT' }] });

    const left = await gql<{ reportLeaving: boolean }>(gateway.url, token, LEAVE, { ns, id: 'old-pod' });
    expect(left.reportLeaving).toBe(true);
    const after = await view(ns);
    expect(after.clients.map((client) => client.clientId)).toEqual(['new-pod']);
    expect(after.converged).toBe(true);
  });

  it('a pod that reported an older revision recently is LAGGING, not STALE', async () => {
    const ns = uniqueNamespace('lagging');
    const first = await setConfig(gateway.url, token, ns, 'k', 1);
    await setConfig(gateway.url, token, ns, 'k', 2);
    await report(ns, 'slow-pod', first);
    const current = await view(ns);
    expect(current.converged).toBe(false);
    expect(current.clients).toEqual([{ clientId: 'slow-pod', appliedRevision: first, lag: 1, state: 'LAGGING' }]);
  });

  it("the SDK's close() says goodbye: the pod leaves convergence at once instead of turning STALE", async () => {
    const ns = uniqueNamespace('sdk-goodbye');
    await setConfig(gateway.url, token, ns, 'k', 1);
    const config = createConfigClient({ url: gateway.url, namespace: ns, token, clientId: 'pod-rolling-1', reportIntervalMs: 50 });
    await config.ready();
    await waitFor(async () => (await view(ns)).clients.some((client) => client.clientId === 'pod-rolling-1' && client.state === 'CURRENT'), 15_000, 'first report');
    await config.close();
    expect((await view(ns)).clients).toEqual([]);
    expect((await view(ns)).converged).toBe(true);
  });
});
