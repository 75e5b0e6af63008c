import { execFile, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer as createHttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { connect as tcpConnect } from 'node:net';
import { join } from 'node:path';
import { createServer as createTlsServer } from 'node:tls';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { SignJWT } from 'jose';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import {
  createConfigClient,
  type ClientState,
  type ConfigChangeEvent,
  type ConfigClient,
  type ConfigClientError,
  type ConfigClientOptions,
} from '../../src/client/index.js';
import { flagBucket } from '../../src/shared/flags.js';
import { connectDatabase } from '../../src/db/connect.js';
import { createConfigStore } from '../../src/db/config-store.js';
import { TEST_JWT_SECRET, gql, startGateway, testToken, type Gateway } from '../helpers/gateway.js';
import { freePort, waitFor } from '../helpers/net.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';
import { SHARED_REDIS_URL, uniquePrefix } from '../helpers/redis.js';

const SET = /* GraphQL */ `
  mutation Set($input: SetConfigInput!) { setConfig(input: $input) { key version revision } }
`;
const SET_MANY = /* GraphQL */ `
  mutation SetMany($ns: String!, $inputs: [BatchSetInput!]!) { setConfigs(namespace: $ns, inputs: $inputs) { key version revision } }
`;
const DELETE = /* GraphQL */ `
  mutation Delete($ns: String!, $key: String!) { deleteConfig(namespace: $ns, key: $key) { version revision } }
`;
const CHANGES = /* GraphQL */ `
  query Changes($ns: String!, $since: SafeInt!) {
    configChanges(namespace: $ns, sinceRevision: $since, limit: 10000) { revision hasMore changes { key op version revision } }
  }
`;
const CONVERGENCE = /* GraphQL */ `
  query Convergence($ns: String!) { convergence(namespace: $ns) { revision converged clients { clientId appliedRevision lag } } }
`;

let database: TestDatabase;
let a: Gateway;
let b: Gateway;
let token: string;
let workdir: string;
const clients: ConfigClient[] = [];
let nsCounter = 0;

function namespace(label: string): string {
  nsCounter += 1;
  return `client-${label}-${nsCounter}`;
}

function client(options: ConfigClientOptions): ConfigClient {
  const created = createConfigClient({ token, reportIntervalMs: 100, backoffInitialMs: 100, backoffMaxMs: 500, ...options });
  clients.push(created);
  return created;
}

async function set(url: string, ns: string, key: string, value: unknown): Promise<{ version: number; revision: number }> {
  const data = await gql<{ setConfig: { version: number; revision: number } }>(url, token, SET, { input: { namespace: ns, key, value } });
  return data.setConfig;
}

async function history(url: string, ns: string): Promise<Array<{ key: string; version: number; revision: number }>> {
  const data = await gql<{ configChanges: { changes: Array<{ key: string; version: number; revision: number }> } }>(url, token, CHANGES, {
    ns,
    since: 0,
  });
  return data.configChanges.changes;
}

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** Runs an ES module script with `node` (the compiled SDK, as a service would); resolves with its exit code and output. */
async function runNode(
  script: string,
  env: Record<string, string>,
  { ceilingMs = 30_000, onOutput }: { ceilingMs?: number; onOutput?: (out: string) => void } = {},
): Promise<{ code: number | null; out: string; err: string }> {
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (chunk: Buffer) => {
    out += chunk.toString();
    onOutput?.(out);
  });
  child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      resolve(null);
    }, ceilingMs);
    child.once('exit', (exitCode) => {
      clearTimeout(timer);
      resolve(exitCode);
    });
  });
  return { code, out, err };
}

/** A `ws` constructor that remembers every socket the client opens, so a test can close one as the gateway would. */
function recordingWebSocket(sockets: WebSocket[]): unknown {
  function create(url: string, protocols?: string | string[]): WebSocket {
    const socket = new WebSocket(url, protocols);
    sockets.push(socket);
    return socket;
  }
  return Object.assign(create, { CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3 });
}

/** An admin token that expires `seconds` from now. */
function shortLivedToken(seconds: number): Promise<string> {
  return new SignJWT({ role: 'admin', namespaces: '*' })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject('rotating-service')
    .setJti(randomUUID())
    .setIssuedAt()
    .setExpirationTime(Math.floor(Date.now() / 1000) + seconds)
    .sign(new TextEncoder().encode(TEST_JWT_SECRET));
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((x, y) => x - y);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

beforeAll(async () => {
  database = await createTestDatabase('client');
  const env = {
    DATABASE_URL: database.url,
    REDIS_URL: SHARED_REDIS_URL,
    HOTCONF_CHANNEL_PREFIX: uniquePrefix('client'),
    HOTCONF_REPAIR_INTERVAL_MS: '500',
    HOTCONF_RATE_LIMIT_PER_MIN: '0',
    LOG_LEVEL: process.env.HOTCONF_TEST_GATEWAY_LOG ?? 'warn',
  };
  // One at a time: the first runs the migrations.
  a = await startGateway({ env });
  b = await startGateway({ env });
  token = await testToken({ sub: 'client-test', role: 'admin' });
  workdir = await mkdtemp(join(tmpdir(), 'hotconf-client-'));
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  if (!a.running) await a.start();
  if (!b.running) await b.start();
});

afterAll(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await a?.stop('SIGKILL');
  await b?.stop('SIGKILL');
  await database?.drop();
  if (workdir) await rm(workdir, { recursive: true, force: true });
});

describe('service SDK against real gateways', () => {
  it('a client on gateway B sees a change made through gateway A; get returns it with no call', async () => {
    const ns = namespace('cross');
    await set(a.url, ns, 'ai.threshold', 0.75);
    const config = client({ urls: [b.url], namespace: ns });
    await config.ready();
    expect(config.get('ai.threshold')).toBe(0.75);
    expect(config.entry('ai.threshold')).toMatchObject({ version: 1, source: 'gateway' });
    await waitFor(() => config.state === 'connected', 5_000, 'connected');

    const latencies: number[] = [];
    const afterResponse: number[] = [];
    for (let i = 1; i <= 30; i++) {
      const value = 0.75 + i / 1000;
      const started = performance.now();
      const seen = new Promise<void>((resolve) => {
        const off = config.on('change', (event) => {
          if (event.key === 'ai.threshold' && event.value === value) {
            off();
            resolve();
          }
        });
      });
      await set(a.url, ns, 'ai.threshold', value);
      const responded = performance.now();
      await seen;
      latencies.push(performance.now() - started);
      afterResponse.push(performance.now() - responded);
      expect(config.get('ai.threshold')).toBe(value);
    }
    expect(config.entry('ai.threshold')).toMatchObject({ version: 31, source: 'gateway' });
    expect(config.revision).toBe(31);
    console.log(
      `mutation on A → get() on a client of B: p50 ${percentile(latencies, 50).toFixed(1)} ms, p95 ${percentile(latencies, 95).toFixed(1)} ms, max ${Math.max(...latencies).toFixed(1)} ms (n=30); ` +
        `after the mutation's response: p50 ${percentile(afterResponse, 50).toFixed(1)} ms, max ${Math.max(...afterResponse).toFixed(1)} ms`,
    );
    // Speed is measured by bench/propagation.ts; here only that every change arrived, in order.
  });

  // The gateway marks each revision's last change (lastInRevision) and the client applies the
  // revision when it arrives, so every key is visible at the first event however far apart the
  // frames come (test/integration/batch-atomicity.test.ts covers 50-key batches and filters).
  it('applies every change of a batch exactly once, at its one revision, all visible at the first event', async () => {
    const ns = namespace('batch');
    const config = client({ urls: [a.url], namespace: ns });
    await config.ready();
    await waitFor(() => config.state === 'connected', 5_000, 'connected');
    const observed: Array<{ key: string; snapshot: unknown[] }> = [];
    config.on('change', (event) => observed.push({ key: event.key, snapshot: ['x', 'y', 'z'].map((k) => config.get(k)) }));
    await gql(b.url, token, SET_MANY, {
      ns,
      inputs: [
        { key: 'x', value: 1 },
        { key: 'y', value: 2 },
        { key: 'z', value: 3 },
      ],
    });
    try {
      await waitFor(() => observed.length >= 3, 5_000, 'three change events');
    } catch (error) {
      const ready = await (await fetch(a.url.replace('/graphql', '/ready'))).text();
      throw new Error(`${(error as Error).message}: have ${observed.length}, client at revision ${config.revision} (${config.state}); gateway A /ready: ${ready}\n${a.logs()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(observed.map((event) => event.key).sort()).toEqual(['x', 'y', 'z']);
    expect(['x', 'y', 'z'].map((key) => config.entry(key))).toEqual(
      [1, 2, 3].map((value) => ({ value, version: 1, revision: 1, source: 'gateway' })),
    );
    expect(config.revision).toBe(1);
    expect(observed.map((event) => event.snapshot)).toEqual([
      [1, 2, 3],
      [1, 2, 3],
      [1, 2, 3],
    ]);
  });

  it.each([
    ['killed (SIGKILL)', 'kill'],
    ['shut down (SIGTERM, close 1001)', 'stop'],
  ] as const)('moves to another URL when its gateway is %s, resumes, and applies every change exactly once', async (_how, how) => {
    const ns = namespace(`failover-${how}`);
    await set(b.url, ns, 'seq', 0);
    const config = client({ urls: [a.url, b.url], namespace: ns });
    const seen: Array<[string, number]> = [];
    config.on('change', (event) => seen.push([event.key, event.version]));
    await config.ready();
    await waitFor(() => config.state === 'connected' && config.url === a.url, 5_000, 'connected to A');

    const states: string[] = [];
    config.on('state', (state) => states.push(state));
    let killed = false;
    const writes = 60;
    for (let i = 1; i <= writes; i++) {
      await set(b.url, ns, i % 3 === 0 ? 'other' : 'seq', i);
      if (i === 20) {
        await a.stop(how === 'kill' ? 'SIGKILL' : 'SIGTERM');
        killed = true;
      }
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect(killed).toBe(true);
    await waitFor(() => config.revision === writes + 1, 15_000, `client at revision ${writes + 1} (is ${config.revision})`);
    expect(config.url).toBe(b.url);
    expect(states).toContain('reconnecting');
    expect(config.state).toBe('connected');

    const expected = (await history(b.url, ns)).filter((change) => change.revision > 1).map((c) => [c.key, c.version]);
    expect(seen).toEqual(expected);
    expect(config.get('seq')).toBe(writes - 1);
    expect(config.get('other')).toBe(writes);
  });

  it('starts from the fallback file when the gateway is down, then converges and emits only differences', async () => {
    const ns = namespace('fallback');
    const file = join(workdir, `${ns}.json`);
    await set(a.url, ns, 'same', 'unchanged');
    await set(a.url, ns, 'changed', 1);
    await set(a.url, ns, 'removed', true);
    const first = client({ urls: [a.url], namespace: ns, fallbackFile: file, fallbackWriteDelayMs: 10 });
    await first.ready();
    await first.close();
    const saved = JSON.parse(await readFile(file, 'utf8')) as { revision: number; entries: Record<string, unknown> };
    expect(saved.revision).toBe(3);
    expect(Object.keys(saved.entries).sort()).toEqual(['changed', 'removed', 'same']);

    await a.stop('SIGKILL');
    await set(b.url, ns, 'changed', 2);
    await gql(b.url, token, DELETE, { ns, key: 'removed' });
    await set(b.url, ns, 'added', 'new');

    const config = client({ urls: [a.url], namespace: ns, fallbackFile: file, defaults: { added: 'default' } });
    const events: ConfigChangeEvent[] = [];
    config.on('change', (event) => events.push(event));
    await config.ready();
    expect(config.snapshotSource).toBe('fallback');
    expect(config.entry('changed')).toMatchObject({ value: 1, source: 'fallback' });
    expect(config.entry('added')).toMatchObject({ value: 'default', source: 'default' });
    expect(config.state).not.toBe('connected');

    await a.start();
    await waitFor(() => config.snapshotSource === 'gateway', 15_000, 'client relisted from the gateway');
    expect(config.revision).toBe(6);
    expect(config.entry('same')).toMatchObject({ value: 'unchanged', source: 'gateway' });
    expect(config.entry('changed')).toMatchObject({ value: 2, source: 'gateway' });
    expect(config.get('removed')).toBeUndefined();
    expect(events.map((e) => [e.key, e.op, e.previous, e.value]).sort()).toEqual([
      ['added', 'SET', 'default', 'new'],
      ['changed', 'SET', 1, 2],
      ['removed', 'DELETE', true, undefined],
    ]);
  });

  it('starts from a file written atomically even if a stale temporary file lies next to it', async () => {
    const ns = namespace('atomic');
    const file = join(workdir, `${ns}.json`);
    await set(a.url, ns, 'k', 'v1');
    const config = client({ urls: [a.url], namespace: ns, fallbackFile: file, fallbackWriteDelayMs: 10 });
    await config.ready();
    await set(a.url, ns, 'k', 'v2');
    await waitFor(async () => {
      try {
        return (JSON.parse(await readFile(file, 'utf8')) as { revision: number }).revision === 2;
      } catch {
        return false;
      }
    }, 5_000, 'fallback file at revision 2');
    await writeFile(`${file}.123.abc.tmp`, '{"half":');
    await config.close();
    const dead = `http://127.0.0.1:${await freePort()}/graphql`;
    const offline = client({ urls: [dead], namespace: ns, fallbackFile: file });
    await offline.ready();
    expect(offline.entry('k')).toMatchObject({ value: 'v2', version: 2, source: 'fallback' });
  });

  it('relists after REVISION_COMPACTED and emits only keys whose value really differs', async () => {
    const ns = namespace('compacted');
    await set(a.url, ns, 'steady', 1);
    await set(a.url, ns, 'rewritten', 'same');
    await set(a.url, ns, 'moved', 'old');
    await set(a.url, ns, 'gone', 'x');
    const config = client({ urls: [a.url], namespace: ns });
    const events: ConfigChangeEvent[] = [];
    await config.ready();
    config.on('change', (event) => events.push(event));
    await waitFor(() => config.state === 'connected', 5_000, 'connected');
    await a.stop('SIGKILL');

    // While the client is away: a rewrite with the same value, a real change written twice
    // (its first row is compacted away), a delete and a create.
    await set(b.url, ns, 'rewritten', 'same');
    await set(b.url, ns, 'moved', 'mid');
    await set(b.url, ns, 'moved', 'new');
    await gql(b.url, token, DELETE, { ns, key: 'gone' });
    await set(b.url, ns, 'fresh', true);
    const database_ = await connectDatabase({ databaseUrl: database.url });
    try {
      const removed = await createConfigStore({ database: database_ }).compact(new Date(Date.now() + 60_000));
      expect(removed).toBeGreaterThan(0);
    } finally {
      await database_.close();
    }
    await expect(gql(b.url, token, CHANGES, { ns, since: 4 })).rejects.toThrow(/REVISION_COMPACTED/);

    await a.start();
    await waitFor(() => config.revision === 9, 15_000, `client relisted at revision 9 (is ${config.revision})`);
    expect(events.map((e) => [e.key, e.op, e.value]).sort()).toEqual([
      ['fresh', 'SET', true],
      ['gone', 'DELETE', undefined],
      ['moved', 'SET', 'new'],
    ]);
    expect(config.entry('rewritten')).toMatchObject({ value: 'same', version: 2 });
    expect(config.get('steady')).toBe(1);
  });

  it('gives the same flag answer as the gateway for 10,000 users', async () => {
    const ns = namespace('flags');
    const key = 'flags.new-checkout';
    await set(a.url, ns, key, { enabled: true, rolloutPercentage: 30 });
    const config = client({ urls: [b.url], namespace: ns });
    await config.ready();
    const users = Array.from({ length: 10_000 }, (_, i) => `user-${i}`);
    const perRequest = 25; // below the gateway's alias limit
    let mismatches = 0;
    let enabled = 0;
    for (let start = 0; start < users.length; start += perRequest) {
      const chunk = users.slice(start, start + perRequest);
      const query = `query($ns: String!, $key: String!) { ${chunk
        .map((user, i) => `u${i}: evaluateFlag(namespace: $ns, key: $key, userId: ${JSON.stringify(user)}) { enabled bucket }`)
        .join(' ')} }`;
      const data = await gql<Record<string, { enabled: boolean; bucket: number }>>(b.url, token, query, { ns, key });
      chunk.forEach((user, i) => {
        const remote = data[`u${i}`]!;
        const local = config.evaluateFlag(key, user);
        if (remote.enabled !== local.enabled || remote.bucket !== local.bucket || remote.bucket !== flagBucket(key, user)) mismatches += 1;
        if (local.enabled) enabled += 1;
      });
    }
    expect(mismatches).toBe(0);
    expect(Math.abs(enabled / 100 - 30)).toBeLessThanOrEqual(1);
  });

  it('convergence shows a client lagging while its gateway is down, then caught up', async () => {
    const ns = namespace('convergence');
    await set(a.url, ns, 'k', 1);
    const config = client({ urls: [a.url], namespace: ns, clientId: 'pod-lagging-1' });
    await config.ready();
    type Answer = { convergence: { revision: number; converged: boolean; clients: Array<{ clientId: string; appliedRevision: number; lag: number }> } };
    const convergence = async () => (await gql<Answer>(b.url, token, CONVERGENCE, { ns })).convergence;
    await waitFor(async () => (await convergence()).clients.some((c) => c.clientId === 'pod-lagging-1' && c.lag === 0), 10_000, 'first report');

    await a.stop('SIGKILL');
    await set(b.url, ns, 'k', 2);
    await set(b.url, ns, 'k', 3);
    const lagging = await convergence();
    expect(lagging.converged).toBe(false);
    expect(lagging.clients).toContainEqual({ clientId: 'pod-lagging-1', appliedRevision: 1, lag: 2 });

    await a.start();
    await waitFor(async () => (await convergence()).converged, 15_000, 'converged again');
    expect((await convergence()).clients).toContainEqual({ clientId: 'pod-lagging-1', appliedRevision: 3, lag: 0 });
    expect(config.get('k')).toBe(3);
  });

  it('layers env override > gateway > defaults, and a change hidden by an override emits nothing', async () => {
    const ns = namespace('layers');
    await set(a.url, ns, 'ai.threshold', 0.75);
    await set(a.url, ns, 'ai.model', 'small');
    const config = client({
      urls: [a.url],
      namespace: ns,
      env: { HOTCONF__AI_THRESHOLD: '0.9', HOTCONF_OVERRIDES: '{"flags.new-checkout": {"enabled": true, "rolloutPercentage": 100}}' },
      defaults: { 'ai.model': 'tiny', 'ai.timeout-ms': 500 },
    });
    const events: ConfigChangeEvent[] = [];
    config.on('change', (event) => events.push(event));
    await config.ready();
    expect(config.entry('ai.threshold')).toMatchObject({ value: 0.9, source: 'env' });
    expect(config.entry('ai.model')).toMatchObject({ value: 'small', source: 'gateway', version: 1 });
    expect(config.entry('ai.timeout-ms')).toMatchObject({ value: 500, source: 'default' });
    expect(config.isEnabled('flags.new-checkout', 'anyone')).toBe(true);
    expect(config.versions()).toEqual({ 'ai.threshold': 1, 'ai.model': 1 });

    await set(b.url, ns, 'ai.threshold', 0.8);
    await set(b.url, ns, 'ai.model', 'large');
    await waitFor(() => config.revision === 4, 5_000, 'revision 4');
    expect(config.get('ai.threshold')).toBe(0.9);
    expect(config.versions()['ai.threshold']).toBe(2);
    expect(events.map((e) => [e.key, e.previous, e.value, e.source])).toEqual([['ai.model', 'small', 'large', 'gateway']]);

    await gql(b.url, token, DELETE, { ns, key: 'ai.model' });
    await waitFor(() => config.revision === 5, 5_000, 'revision 5');
    expect(config.entry('ai.model')).toMatchObject({ value: 'tiny', source: 'default' });
    expect(events.at(-1)).toMatchObject({ key: 'ai.model', op: 'DELETE', previous: 'large', value: 'tiny', source: 'default', version: 3 });
  });

  it('treats a rejected token as fatal: error emitted, ready rejects, no retrying', async () => {
    const ns = namespace('denied');
    const config = client({ urls: [a.url], namespace: ns, token: 'not-a-token' });
    const errors: Error[] = [];
    const states: Array<[ClientState, string | undefined]> = [];
    config.on('error', (error) => errors.push(error));
    config.on('state', (state, cause) => states.push([state, cause?.code]));
    await expect(config.ready()).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    expect(config.state).toBe('closed');
    expect(errors).toHaveLength(1);
    expect(states).toEqual([['closed', 'UNAUTHENTICATED']]);
    expect(config.lastError?.code).toBe('UNAUTHENTICATED');
  });

  it('an invalid namespace is fatal at once (BAD_USER_INPUT), not retried for ever', async () => {
    const config = client({ url: a.url, namespace: 'Not A Namespace!' });
    await expect(config.ready()).rejects.toMatchObject({ code: 'BAD_USER_INPUT' });
    expect(config.state).toBe('closed');
  });

  it('takes `url` (one gateway) as the contract names it', async () => {
    const ns = namespace('url');
    await set(a.url, ns, 'k', 'one');
    const config = client({ url: a.url, namespace: ns });
    await config.ready();
    expect(config.get('k')).toBe('one');
    expect(config.url).toBe(a.url);

    // A gateway's bare address means its /graphql, as with the CLI's --url.
    const bare = client({ url: new URL(a.url).origin, namespace: ns, readyTimeoutMs: 5_000 });
    await bare.ready();
    expect(bare.get('k')).toBe('one');
    expect(bare.url).toBe(a.url);
  });

  it('a service written the README\'s way starts on the second URL when the first is down, and exits by itself once done', async () => {
    const ns = namespace('readme-way');
    await set(b.url, ns, 'k', 1);
    const dead = `http://127.0.0.1:${await freePort()}/graphql`;
    // No close(): once ready() settled, nothing the client holds may keep the process alive.
    const script = `
      const { createConfigClient } = await import('./dist/client/index.js');
      const config = createConfigClient({ urls: [process.env.DEAD, process.env.URL_B], namespace: process.env.NS, token: process.env.TOKEN });
      const errors = [];
      config.on('error', (error) => errors.push(error.code));
      await config.ready();
      console.log(JSON.stringify({ k: config.get('k'), url: config.url, errors }));
    `;
    const { code, out, err } = await runNode(script, { DEAD: dead, URL_B: b.url, NS: ns, TOKEN: token });
    expect(code, `${out}\n${err}`).toBe(0);
    expect(JSON.parse(out.trim().split('\n').at(-1)!)).toEqual({ k: 1, url: b.url, errors: ['ECONNREFUSED'] });
  });

  it('a first URL that answers 200 but is not a hotconf gateway is INVALID_RESPONSE, and the client lists on the next one', async () => {
    const ns = namespace('not-hotconf');
    await set(b.url, ns, 'k', 'listed');
    // Another service's port: a web page, and a GraphQL server whose answer has no `configs`.
    const impostor = createHttpServer((request, response) => {
      if (request.url === '/page') response.writeHead(200, { 'content-type': 'text/html' }).end('<html>sign in</html>');
      else response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ data: {} }));
    });
    await new Promise<void>((resolve) => impostor.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = impostor.address() as AddressInfo;
      for (const path of ['page', 'graphql']) {
        const config = client({ urls: [`http://127.0.0.1:${port}/${path}`, b.url], namespace: ns });
        const errors: ConfigClientError[] = [];
        config.on('error', (error) => errors.push(error));
        await config.ready();
        expect(config.get('k'), path).toBe('listed');
        expect(config.entry('k')?.source).toBe('gateway');
        expect(config.url).toBe(b.url);
        expect(errors.map((error) => error.code)).toEqual(['INVALID_RESPONSE']);
        expect(errors[0]!.message).toMatch(/is it a hotconf gateway\?/);
        await config.close();
      }
    } finally {
      await new Promise((resolve) => impostor.close(resolve));
    }
  });

  it('a proxy that passes HTTP but not WebSocket upgrades is said with its HTTP status, not as a bare NETWORK error', async () => {
    const ns = namespace('no-upgrade');
    await set(a.url, ns, 'k', 'listed');
    const proxy = createHttpServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        void fetch(new URL(request.url ?? '/', a.url), {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: request.headers.authorization ?? '' },
          body: Buffer.concat(chunks),
        }).then(async (answer) => {
          response.writeHead(answer.status, { 'content-type': answer.headers.get('content-type') ?? 'application/json' });
          response.end(Buffer.from(await answer.arrayBuffer()));
        });
      });
    });
    proxy.on('upgrade', (_, socket) => socket.end('HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n'));
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    try {
      const config = client({ url: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}/graphql`, namespace: ns });
      const errors: ConfigClientError[] = [];
      config.on('error', (error) => errors.push(error));
      await config.ready(); // listed over HTTP through the proxy
      expect(config.get('k')).toBe('listed');
      await waitFor(() => errors.length > 0, 10_000, 'the refused upgrade to be reported');
      expect(errors[0]).toMatchObject({ code: 'HTTP_404', message: expect.stringMatching(/WebSocket upgrade to .* answered HTTP 404/) });
      await config.close();
    } finally {
      proxy.closeAllConnections();
      await new Promise((resolve) => proxy.close(resolve));
    }
  });

  it('a process that only watches stays alive while it has a change listener, and exits by itself once it removes it', async () => {
    const ns = namespace('watcher');
    await set(a.url, ns, 'k', 1);
    const script = `
      const { createConfigClient } = await import('./dist/client/index.js');
      const config = createConfigClient({ url: process.env.URL_A, namespace: process.env.NS, token: process.env.TOKEN });
      const off = config.on('change', (event) => {
        console.log(JSON.stringify({ key: event.key, value: event.value }));
        off();
      });
      await config.ready();
      console.log('ready');
    `;
    let ready = false;
    const finished = runNode(script, { URL_A: a.url, NS: ns, TOKEN: token }, { onOutput: (out) => (ready ||= out.includes('ready')) });
    await waitFor(() => ready, 20_000, 'the watcher to be ready');
    // Past the moment a process with nothing to wait on would have exited.
    await new Promise((resolve) => setTimeout(resolve, 500));
    await set(b.url, ns, 'k', 2);
    const { code, out, err } = await finished;
    expect(code, `${out}\n${err}`).toBe(0);
    expect(out.trim().split('\n')).toEqual(['ready', JSON.stringify({ key: 'k', value: 2 })]);
  });

  it('a wrong path is an HTTP 404, said by error and state events, and ready() rejects with it within its timeout', async () => {
    const ns = namespace('wrong-path');
    const wrong = a.url.replace(/graphql$/, 'graphq');
    const config = client({ url: wrong, namespace: ns, readyTimeoutMs: 1_500 });
    const errors: ConfigClientError[] = [];
    config.on('error', (error) => errors.push(error));
    const failure = await config.ready().then(
      () => null,
      (error: ConfigClientError) => error,
    );
    expect(failure).toMatchObject({ code: 'HTTP_404', message: expect.stringContaining(`${wrong} answered HTTP 404`) });
    expect(errors[0]).toMatchObject({ code: 'HTTP_404' });
    expect(config.lastError?.code).toBe('HTTP_404');

    // The same service as a process: it ends with the cause on stderr, not silently.
    const script = `
      const { createConfigClient } = await import('./dist/client/index.js');
      await createConfigClient({ url: process.env.WRONG, namespace: process.env.NS, token: process.env.TOKEN, readyTimeoutMs: 1500 }).ready();
    `;
    const { code, err } = await runNode(script, { WRONG: wrong, NS: ns, TOKEN: token });
    expect(code).not.toBe(0);
    expect(code).not.toBe(13); // 13: the process ran out of work with ready() still pending
    expect(code).not.toBeNull();
    expect(err).toMatch(/HTTP 404/);
  });

  it('a token function is called on every (re)connect; a 4401 close (token expired) reconnects with a fresh token and misses nothing', async () => {
    const ns = namespace('rotate');
    await set(a.url, ns, 'k', 0);
    const lifetimeS = 3;
    const issued: string[] = [];
    const sockets: WebSocket[] = [];
    const config = client({
      url: a.url,
      namespace: ns,
      webSocketImpl: recordingWebSocket(sockets),
      token: async () => {
        const fresh = await shortLivedToken(lifetimeS);
        issued.push(fresh);
        return fresh;
      },
    });
    const errors: ConfigClientError[] = [];
    const states: Array<[ClientState, string | undefined]> = [];
    config.on('error', (error) => errors.push(error));
    config.on('state', (state, cause) => states.push([state, cause?.code]));
    const seen: number[] = [];
    config.on('change', (event) => seen.push(event.value as number));
    await config.ready();
    await waitFor(() => config.state === 'connected', 10_000, 'connected');
    const start = Date.now();
    let value = 0;

    // The gateway closes a connection with 4401 when its token expires: close it so from here.
    for (let round = 1; round <= 3; round++) {
      const calls = issued.length;
      const socket = sockets.at(-1)!;
      socket.close(4401, 'Token expired');
      await waitFor(() => issued.length > calls && config.state === 'connected' && sockets.at(-1) !== socket, 10_000, `reconnected after close ${round}`);
      value += 1;
      await set(b.url, ns, 'k', value);
      await waitFor(() => config.get('k') === value, 10_000, `value ${value} after close ${round}`);
    }
    expect(states.filter(([state]) => state === 'reconnecting')[0]).toEqual(['reconnecting', 'UNAUTHENTICATED']);

    // And across real expiries (the gateway ends expired connections; the client must stay current).
    while (Date.now() < start + (lifetimeS + 2) * 1_000) {
      value += 1;
      await set(b.url, ns, 'k', value);
      await waitFor(() => config.get('k') === value, 15_000, `value ${value} across token expiry`);
    }
    expect(config.state).toBe('connected');
    expect(seen).toEqual(Array.from({ length: value }, (_, i) => i + 1));
    expect(new Set(issued).size).toBe(issued.length);
    expect(errors).toEqual([]);
  });

  it('with a fixed token, an expired connection (4401) is fatal: error, state closed with the cause', async () => {
    const ns = namespace('fixed-expired');
    await set(a.url, ns, 'k', 0);
    const sockets: WebSocket[] = [];
    const config = client({ url: a.url, namespace: ns, webSocketImpl: recordingWebSocket(sockets) });
    const errors: ConfigClientError[] = [];
    let closedBy: string | undefined;
    config.on('error', (error) => errors.push(error));
    config.on('state', (state, cause) => {
      if (state === 'closed') closedBy = cause?.code;
    });
    await config.ready();
    await waitFor(() => config.state === 'connected', 10_000, 'connected');
    sockets.at(-1)!.close(4401, 'Token expired');
    await waitFor(() => config.state === 'closed', 10_000, 'closed');
    expect(closedBy).toBe('UNAUTHENTICATED');
    expect(errors.map((error) => error.code)).toEqual(['UNAUTHENTICATED']);
    expect(config.get('k')).toBe(0);
  });

  it('connects over https/wss (TLS verified, SNI set), and a certificate it cannot verify is said with its code', async () => {
    const ns = namespace('tls');
    await set(a.url, ns, 'k', 'secure');
    const key = join(workdir, 'tls-key.pem');
    const cert = join(workdir, 'tls-cert.pem');
    await promisify(execFile)('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost']);
    // TLS in front of gateway A, as a load balancer would terminate it.
    const proxy = createTlsServer({ key: await readFile(key), cert: await readFile(cert) }, (socket) => {
      const upstream = tcpConnect(a.port, '127.0.0.1');
      socket.pipe(upstream).pipe(socket);
      socket.on('error', () => upstream.destroy());
      upstream.on('error', () => socket.destroy());
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    try {
      const url = `https://localhost:${(proxy.address() as { port: number }).port}/graphql`;
      const script = `
        const { createConfigClient } = await import('./dist/client/index.js');
        const config = createConfigClient({ url: process.env.TLS_URL, namespace: process.env.NS, token: process.env.TOKEN, readyTimeoutMs: 3000 });
        const errors = [];
        config.on('error', (error) => errors.push(error.code));
        const ready = await config.ready().then(() => 'ready', (error) => error.code);
        await new Promise((resolve) => { const check = () => (config.state === 'connected' || ready !== 'ready' ? resolve() : setTimeout(check, 10)); check(); });
        console.log(JSON.stringify({ ready, k: config.get('k'), state: config.state, errors: [...new Set(errors)] }));
      `;
      // Trusted (the CA given to Node): lists over https, watches over wss, and exits by itself.
      const trusted = await runNode(script, { TLS_URL: url, NS: ns, TOKEN: token, NODE_EXTRA_CA_CERTS: cert });
      expect(trusted.code, trusted.err).toBe(0);
      expect(JSON.parse(trusted.out.trim())).toEqual({ ready: 'ready', k: 'secure', state: 'connected', errors: [] });
      const untrusted = await runNode(script, { TLS_URL: url, NS: ns, TOKEN: token });
      expect(untrusted.code, untrusted.err).toBe(0);
      expect(JSON.parse(untrusted.out.trim())).toEqual({
        ready: 'DEPTH_ZERO_SELF_SIGNED_CERT',
        state: 'connecting',
        errors: ['DEPTH_ZERO_SELF_SIGNED_CERT'],
      });
    } finally {
      await new Promise((resolve) => proxy.close(resolve));
    }
  });

  it('lets the process exit by itself after close(): no timer or socket is left behind', async () => {
    const ns = namespace('exit');
    await set(a.url, ns, 'k', 1);
    const root = ROOT;
    const script = `
      const { createConfigClient } = await import('./dist/client/index.js');
      const config = createConfigClient({ urls: [process.env.URL_A, process.env.URL_B], namespace: process.env.NS, token: process.env.TOKEN, reportIntervalMs: 10 });
      await config.ready();
      await new Promise((resolve) => { const check = () => (config.state === 'connected' ? resolve() : setTimeout(check, 10)); check(); });
      await config.close();
      console.log(JSON.stringify({ k: config.get('k'), state: config.state }));
    `;
    const started = Date.now();
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
      cwd: root,
      env: { PATH: process.env.PATH ?? '', URL_A: a.url, URL_B: b.url, NS: ns, TOKEN: token },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        resolve(null);
      }, 20_000);
      child.once('exit', (exitCode) => {
        clearTimeout(timer);
        resolve(exitCode);
      });
    });
    expect(code, out).toBe(0);
    expect(JSON.parse(out.trim().split('\n').at(-1)!)).toEqual({ k: 1, state: 'closed' });
    console.log(`child process with a connected client exited ${Date.now() - started} ms after spawn`);
  });

  it('detects a frozen gateway (no pong) and moves to another URL without missing a change', async () => {
    const ns = namespace('frozen');
    await set(b.url, ns, 'k', 0);
    const config = client({ urls: [a.url, b.url], namespace: ns, keepAliveMs: 300, pongTimeoutMs: 300, requestTimeoutMs: 1_000 });
    const seen: Array<[string, number]> = [];
    config.on('change', (event) => seen.push([event.key, event.version]));
    await config.ready();
    await waitFor(() => config.state === 'connected' && config.url === a.url, 5_000, 'connected to A');
    a.freeze();
    try {
      const frozenAt = performance.now();
      for (let i = 1; i <= 5; i++) await set(b.url, ns, 'k', i);
      await waitFor(() => config.revision === 6, 10_000, `client at revision 6 (is ${config.revision})`);
      console.log(`frozen gateway detected and changes caught up through B in ${(performance.now() - frozenAt).toFixed(0)} ms (keep-alive 300 ms, pong timeout 300 ms)`);
      expect(config.url).toBe(b.url);
      expect(seen).toEqual([1, 2, 3, 4, 5].map((i) => ['k', i + 1]));
      // Confirmed by B after A froze, not an old confirmation from A (+5 ms: Date.now() is whole milliseconds).
      expect(config.secondsSinceConfirmation()).toBeLessThanOrEqual((performance.now() - frozenAt + 5) / 1000);
    } finally {
      a.thaw();
    }
  });

  it('refuses an invalid flag on write, and the kill switch turns every flag off in one revision the client applies whole', async () => {
    const ns = namespace('killswitch');
    await expect(set(a.url, ns, 'flags.bad', { enabled: 'yes', rolloutPercentage: 10 })).rejects.toThrow(/VALIDATION_FAILED/);
    await expect(set(a.url, ns, 'flags.bad', { enabled: true, rolloutPercentage: 150 })).rejects.toThrow(/VALIDATION_FAILED/);
    await gql(a.url, token, SET_MANY, {
      ns,
      inputs: [
        { key: 'flags.a', value: { enabled: true, rolloutPercentage: 100 } },
        { key: 'flags.b', value: { enabled: true, rolloutPercentage: 50, rules: [{ userIds: ['vip'], enabled: true }] } },
        { key: 'service.retry', value: { enabled: true, attempts: 3 } },
      ],
    });
    const config = client({ urls: [b.url], namespace: ns });
    await config.ready();
    await waitFor(() => config.state === 'connected', 5_000, 'connected');
    expect(config.isEnabled('flags.a', 'anyone')).toBe(true);
    expect(config.isEnabled('flags.b', 'vip')).toBe(true);
    const revisions = new Set<number>();
    config.on('change', (event) => revisions.add(event.revision));
    await gql(a.url, token, `mutation($ns: String!) { disableAllFlags(namespace: $ns, reason: "incident") { key } }`, { ns });
    await waitFor(() => config.revision === 2, 5_000, 'kill switch applied');
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect([...revisions]).toEqual([2]);
    expect(config.evaluateFlag('flags.a', 'anyone')).toMatchObject({ enabled: false, reason: 'DISABLED' });
    expect(config.evaluateFlag('flags.b', 'vip')).toMatchObject({ enabled: false, reason: 'DISABLED' });
    // An ordinary config with an `enabled` field is not a flag and is left alone.
    expect(config.entry('service.retry')).toMatchObject({ value: { enabled: true, attempts: 3 }, version: 1 });
  });
});
