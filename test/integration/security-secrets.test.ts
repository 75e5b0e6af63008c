/**
 * Secret values: null (and `redacted: true`) for callers without the `secrets` claim on every
 * read path, and never in a log line or a Redis message.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp, type App } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';
import { SHARED_REDIS_URL, uniquePrefix } from '../helpers/redis.js';
import { waitFor } from '../helpers/net.js';

const NS = 'secrets-ns';
const MARKER = `S3CRET-${randomBytes(8).toString('hex')}`;
const secretValue = (n: number) => ({ password: `${MARKER}-${n}` });

let database: TestDatabase;
let app: App;
let url: string;
let dataDir: string;
let sniffer: Redis;
/** Reads keys (the sniffer is in subscriber mode). */
let keysReader: Redis;
let prefix: string;
const logLines: string[] = [];
const redisMessages: string[] = [];
const tokens: Record<string, string> = {};

async function gql(query: string, variables: Record<string, unknown>, token: string) {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables }),
  });
  return { status: response.status, text: await response.text() };
}

const READS: Record<string, string> = {
  config: `query($ns: String!) { config(namespace: $ns, key: "db.password") { value redacted secret history(limit: 50) { value redacted } } }`,
  configs: `query($ns: String!) { configs(namespace: $ns) { entries { key value redacted } } }`,
  configChanges: `query($ns: String!) { configChanges(namespace: $ns, sinceRevision: 0, limit: 10000) { changes { key value redacted } } }`,
  configDrift: `query($ns: String!) { configDrift(namespace: $ns, known: []) { changed { key value redacted } } }`,
};

async function sseFirstEvents(query: string, variables: Record<string, unknown>, token: string, count: number): Promise<string> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), 10_000);
  try {
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query, variables }),
      signal: controller.signal,
    });
    const reader = response.body!.getReader();
    const decoder = new TextDecoder();
    let buffer = '';
    while ((buffer.match(/event: next/g) ?? []).length < count) {
      const { done, value } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
    }
    await reader.cancel();
    return buffer;
  } finally {
    clearTimeout(timer);
    controller.abort();
  }
}

beforeAll(async () => {
  database = await createTestDatabase('secrets');
  dataDir = mkdtempSync(join(tmpdir(), 'hotconf-secrets-'));
  prefix = uniquePrefix('secrets');
  sniffer = new Redis(SHARED_REDIS_URL);
  keysReader = new Redis(SHARED_REDIS_URL);
  sniffer.on('pmessage', (_pattern, channel, message) => redisMessages.push(`${channel} ${message}`));
  await sniffer.psubscribe(`${prefix}*`);
  const config = loadConfig({
    PORT: '0',
    HOST: '127.0.0.1',
    HOTCONF_DATA_DIR: dataDir,
    DATABASE_URL: database.url,
    REDIS_URL: SHARED_REDIS_URL,
    HOTCONF_CHANNEL_PREFIX: prefix,
    HOTCONF_RATE_LIMIT_PER_MIN: '0',
    LOG_LEVEL: 'trace',
    NODE_ENV: 'development',
  });
  // The most talkative the gateway can be: every level, including yoga's debug output.
  const logger = createLogger({ level: 'trace', destination: { write: (line: string) => void logLines.push(line) } });
  app = await createApp(config, { logger });
  url = (await app.start()).url;
  const mint = (sub: string, role: 'admin' | 'writer' | 'reader', secrets: boolean) => app.auth.mint({ sub, role, namespaces: [NS], secrets });
  tokens.admin = await app.auth.mint({ sub: 'root', role: 'admin', namespaces: '*' });
  tokens.writer = await mint('writer', 'writer', false);
  tokens.reader = await mint('reader', 'reader', false);
  tokens.readerWithSecrets = await mint('reader-s', 'reader', true);

  // Every write path, with the secret value travelling in variables and once inline.
  const set = `mutation($input: SetConfigInput!) { setConfig(input: $input) { version value redacted } }`;
  // One after another: each step builds on the one before (v2 keeps v1's secret flag, the
  // rollback needs v1), which requests sent at once would not guarantee.
  const steps = [
    () => gql(set, { input: { namespace: NS, key: 'db.password', value: secretValue(1), secret: true, reason: 'create' } }, tokens.admin!),
    () => gql(set, { input: { namespace: NS, key: 'db.password', value: secretValue(2), reason: 'rotate' } }, tokens.writer!),
    () => gql(`mutation($ns: String!, $v: JSON!) { setConfigs(namespace: $ns, inputs: [{ key: "api.key", value: $v, secret: true }, { key: "plain", value: 1 }]) { key value } }`, { ns: NS, v: secretValue(3) }, tokens.admin!),
    () => gql(`mutation { setConfig(input: { namespace: "${NS}", key: "inline.secret", value: "${MARKER}-4", secret: true }) { version } }`, {}, tokens.admin!),
    () => gql(`mutation($ns: String!) { rollbackConfig(namespace: $ns, key: "db.password", toVersion: 1, reason: "undo") { version } }`, { ns: NS }, tokens.admin!),
  ];
  for (const step of steps) {
    const { status, text } = await step();
    expect(status, text).toBe(200);
    expect(text, text).not.toContain('"errors"');
  }
  // A secret value refused by the entry's schema: the error must not quote it.
  await gql(set, { input: { namespace: NS, key: 'schema.secret', value: 'ok', secret: true, schema: { type: 'string', maxLength: 5 } } }, tokens.admin!);
  const refused = await gql(set, { input: { namespace: NS, key: 'schema.secret', value: `${MARKER}-5` } }, tokens.admin!);
  expect(refused.text).toContain('VALIDATION_FAILED');
  expect(refused.text).not.toContain(MARKER);
});

afterAll(async () => {
  await sniffer?.quit();
  await keysReader?.quit();
  await app?.stop();
  await database?.drop();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

describe('secret values in responses', () => {
  it('a writer without the secrets claim gets null back from its own secret write', async () => {
    const { text } = await gql(`mutation($input: SetConfigInput!) { setConfig(input: $input) { value redacted secret } }`, {
      input: { namespace: NS, key: 'db.password', value: secretValue(6) },
    }, tokens.writer!);
    expect(JSON.parse(text)).toEqual({ data: { setConfig: { value: null, redacted: true, secret: true } } });
  });

  for (const [name, query] of Object.entries(READS)) {
    it(`${name}: null and redacted for readers without the claim, visible with it`, async () => {
      for (const who of ['reader', 'writer']) {
        const { text } = await gql(query, { ns: NS }, tokens[who]!);
        expect(text).not.toContain(MARKER);
        expect(text).toContain('"redacted":true');
        expect(text).not.toContain('"errors"');
      }
      const withClaim = await gql(query, { ns: NS }, tokens.readerWithSecrets!);
      expect(withClaim.text).toContain(MARKER);
      expect(withClaim.text).not.toContain('"redacted":true');
    });
  }

  it('configChanged (SSE) replays secret changes with null values to readers without the claim', async () => {
    const query = `subscription($ns: String!) { configChanged(namespace: $ns, sinceRevision: 0) { key value redacted } }`;
    const plain = await sseFirstEvents(query, { ns: NS }, tokens.reader!, 3);
    expect(plain).toContain('db.password');
    expect(plain).toContain('"redacted":true');
    expect(plain).not.toContain(MARKER);
    expect(await sseFirstEvents(query, { ns: NS }, tokens.readerWithSecrets!, 1)).toContain(MARKER);
  });
});

describe('secret flags', () => {
  it('evaluateFlag on a secret flag is FORBIDDEN without the claim (its answer is read from the value), evaluated with it', async () => {
    const created = await gql(
      `mutation($ns: String!) { setConfig(input: { namespace: $ns, key: "flag.secret", value: { enabled: true, rolloutPercentage: 37 }, secret: true }) { version } }`,
      { ns: NS },
      tokens.admin!,
    );
    expect(created.text).not.toContain('"errors"');
    const evaluate = `query($ns: String!) { evaluateFlag(namespace: $ns, key: "flag.secret", userId: "u-1") { enabled bucket reason } }`;
    for (const caller of ['reader', 'writer'] as const) {
      const refused = JSON.parse((await gql(evaluate, { ns: NS }, tokens[caller]!)).text) as { data: unknown; errors?: Array<{ extensions: { code: string } }> };
      expect(refused.errors?.[0]?.extensions.code, caller).toBe('FORBIDDEN');
      expect(refused.data, caller).toBeNull();
    }
    for (const caller of ['readerWithSecrets', 'admin'] as const) {
      const allowed = JSON.parse((await gql(evaluate, { ns: NS }, tokens[caller]!)).text) as { errors?: unknown; data: { evaluateFlag: { reason: string } } };
      expect(allowed.errors, caller).toBeUndefined();
      expect(allowed.data.evaluateFlag.reason, caller).toBeTruthy();
    }
  });
});

describe('secret values outside responses', () => {
  it('never reach a log line, even at trace level', async () => {
    await waitFor(() => logLines.length > 0, 5_000, 'log lines');
    expect(logLines.some((line) => line.includes('config changed') || line.includes('config_changed'))).toBe(true);
    const leaking = logLines.filter((line) => line.includes(MARKER));
    expect(leaking).toEqual([]);
  });

  it('never travel in a Redis message, though the changes themselves do', async () => {
    await waitFor(() => redisMessages.some((m) => m.includes('db.password')), 5_000, 'a Redis message about db.password');
    expect(redisMessages.some((m) => m.includes('"plain"'))).toBe(true);
    expect(redisMessages.filter((m) => m.includes(MARKER))).toEqual([]);
  });

  describe('automatic persisted queries', () => {
    const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
    const persisted = async (body: Record<string, unknown>, token: string | null) => {
      const response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
        body: JSON.stringify(body),
      });
      return { status: response.status, text: await response.text() };
    };
    const stored = (hash: string) => keysReader.get(`${prefix}apq:${hash}`);

    it('a persisted mutation with a secret value inline is kept in the gateway, never in Redis', async () => {
      const query = `mutation { setConfig(input: { namespace: "${NS}", key: "apq.secret", value: "${MARKER}-apq", secret: true }) { version } }`;
      const hash = sha256(query);
      const registered = await persisted({ query, extensions: { persistedQuery: { version: 1, sha256Hash: hash } } }, tokens.admin!);
      expect(registered.text).toContain('"version"');
      // Registered here: the hash alone runs it again on this gateway.
      const again = await persisted({ extensions: { persistedQuery: { version: 1, sha256Hash: hash } } }, tokens.admin!);
      expect(again.text).toContain('"version":2');
      expect(await stored(hash)).toBeNull();
      const keys = await keysReader.keys(`${prefix}*`);
      const values = await Promise.all(keys.map(async (key) => ((await keysReader.type(key)) === 'string' ? await keysReader.get(key) : '')));
      expect(values.filter((value) => value?.includes(MARKER))).toEqual([]);
    });

    it('only a request with a valid token registers a query: others park nothing in Redis', async () => {
      for (const [label, token] of [['no token', null], ['a forged token', `${tokens.reader!.slice(0, -4)}AAAA`]] as const) {
        const query = `{ parked: __typename } # ${label} ${'x'.repeat(8_000)}`;
        const hash = sha256(query);
        const response = await persisted({ query, extensions: { persistedQuery: { version: 1, sha256Hash: hash } } }, token);
        expect(response.status, label).toBeLessThan(500);
        expect(await stored(hash), label).toBeNull();
        // Nor in the gateway's own memory: the hash alone is still unknown.
        const lookup = await persisted({ extensions: { persistedQuery: { version: 1, sha256Hash: hash } } }, tokens.reader!);
        expect(lookup.text, label).toContain('PERSISTED_QUERY_NOT_FOUND');
      }
      // A document that does not parse is not registered either, whoever sends it.
      const garbage = `not graphql ${randomBytes(4).toString('hex')}`;
      await persisted({ query: garbage, extensions: { persistedQuery: { version: 1, sha256Hash: sha256(garbage) } } }, tokens.reader!);
      expect(await stored(sha256(garbage))).toBeNull();
      // A reader's query is shared through Redis.
      const query = `query($ns: String!) { config(namespace: $ns, key: "plain") { value } }`;
      const response = await persisted({ query, variables: { ns: NS }, extensions: { persistedQuery: { version: 1, sha256Hash: sha256(query) } } }, tokens.reader!);
      expect(response.text).toContain('"value":1');
      expect(await stored(sha256(query))).toBe(query);
    });
  });
});
