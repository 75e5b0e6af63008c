/**
 * Through GraphQL over HTTP, against a gateway on Postgres:
 * - secrets stay secret: only a caller who may read secrets can make a secret value readable
 *   (clearing `secret`, rolling back to a version written as secret), in every write shape;
 * - every JSON value round-trips or is refused clearly (lone surrogates, U+0000, `__proto__`,
 *   nesting);
 * - JSON Schema patterns cannot stall the gateway, and unsafe schemas are refused when set.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { codeOf, startTestGateway, type GraphQLResponse, type TestGateway } from '../helpers/app.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';

const NS = 'secure-input';
/** The documented nesting limit (MAX_JSON_DEPTH in src/core/validation.ts). */
const MAX_JSON_DEPTH = 64;
const MARKER = `S3CRET-${randomBytes(6).toString('hex')}`;

let database: TestDatabase;
let gateway: TestGateway;
const tokens: Record<'admin' | 'writer' | 'writerWithSecrets' | 'reader', string> = { admin: '', writer: '', writerWithSecrets: '', reader: '' };

const SET = /* GraphQL */ `
  mutation Set($input: SetConfigInput!) { setConfig(input: $input) { key version value secret redacted } }
`;
const SET_MANY = /* GraphQL */ `
  mutation SetMany($ns: String!, $inputs: [BatchSetInput!]!, $reason: String) {
    setConfigs(namespace: $ns, inputs: $inputs, reason: $reason) { key version value secret redacted }
  }
`;
const ROLLBACK = /* GraphQL */ `
  mutation Rollback($ns: String!, $key: String!, $to: Int!) {
    rollbackConfig(namespace: $ns, key: $key, toVersion: $to) { key version value secret redacted }
  }
`;
const DELETE = /* GraphQL */ `mutation Delete($ns: String!, $key: String!) { deleteConfig(namespace: $ns, key: $key) { version } }`;
const READ = /* GraphQL */ `
  query Read($ns: String!, $key: String!) {
    config(namespace: $ns, key: $key) { version value secret redacted description history(limit: 50) { version op value secret redacted reason } }
  }
`;
const REVISION = /* GraphQL */ `query Rev($ns: String!) { configs(namespace: $ns) { revision } }`;

type Entry = { key: string; version: number; value: unknown; secret: boolean; redacted: boolean };
type Read = { config: (Entry & { description: string | null; history: Array<{ version: number; op: string; value: unknown; secret: boolean; redacted: boolean; reason: string | null }> }) | null };

const as = (who: keyof typeof tokens) => ({ token: tokens[who] });

async function revision(ns = NS): Promise<number> {
  const response = await gateway.gql<{ configs: { revision: number } }>(REVISION, { ns });
  return response.body.data!.configs.revision;
}

async function read(key: string, who: keyof typeof tokens = 'admin', ns = NS): Promise<Read['config']> {
  const response = await gateway.gql<Read>(READ, { ns, key }, as(who));
  expect(response.body.errors, JSON.stringify(response.body.errors)).toBeUndefined();
  return response.body.data!.config;
}

function expectCode(response: GraphQLResponse<unknown>, code: string): void {
  expect(codeOf(response), JSON.stringify(response.body)).toBe(code);
}

beforeAll(async () => {
  database = await createTestDatabase('secure_input');
  gateway = await startTestGateway({ DATABASE_URL: database.url });
  tokens.admin = gateway.adminToken;
  tokens.writer = await gateway.token({ sub: 'writer', role: 'writer', namespaces: [NS] });
  tokens.writerWithSecrets = await gateway.token({ sub: 'writer-s', role: 'writer', namespaces: [NS], secrets: true });
  tokens.reader = await gateway.token({ sub: 'reader', role: 'reader', namespaces: [NS] });
}, 120_000);

afterAll(async () => {
  await gateway?.stop();
  await database?.drop();
});

describe('only a caller who may read secrets can make a secret value readable', () => {
  it('the reported attack: a writer cannot clear secret, nor roll back to the secret version', async () => {
    await gateway.gql(SET, { input: { namespace: NS, key: 'db.password', value: `${MARKER}-1`, secret: true } });
    const before = await revision();

    const cleared = await gateway.gql(SET, { input: { namespace: NS, key: 'db.password', value: 'harmless', secret: false } }, as('writer'));
    expectCode(cleared, 'FORBIDDEN');
    expect(JSON.stringify(cleared.body)).not.toContain(MARKER);
    const rolledBack = await gateway.gql(ROLLBACK, { ns: NS, key: 'db.password', to: 1 }, as('writer'));
    expectCode(rolledBack, 'FORBIDDEN');

    expect(await revision()).toBe(before); // nothing written
    const entry = await read('db.password', 'reader');
    expect(entry).toMatchObject({ version: 1, secret: true, redacted: true, value: null });
  });

  it('a writer may still rotate a secret (new value, secret kept) and hide a value (secret: true)', async () => {
    const rotated = await gateway.gql<{ setConfig: Entry }>(SET, { input: { namespace: NS, key: 'db.password', value: `${MARKER}-2` } }, as('writer'));
    expect(rotated.body.data?.setConfig).toMatchObject({ version: 2, secret: true, redacted: true, value: null });
    const hidden = await gateway.gql<{ setConfig: Entry }>(SET, { input: { namespace: NS, key: 'plain.to.secret', value: 'x', secret: true } }, as('writer'));
    expect(hidden.body.data?.setConfig).toMatchObject({ secret: true, redacted: true });
  });

  it('after an admin made a key public, rolling back to a version written as secret needs the claim and makes the key secret again', async () => {
    const key = 'api.token';
    await gateway.gql(SET, { input: { namespace: NS, key, value: `${MARKER}-3`, secret: true } }); // v1 secret
    const published = await gateway.gql<{ setConfig: Entry }>(SET, { input: { namespace: NS, key, value: 'public', secret: false } }); // v2 by admin
    expect(published.body.data?.setConfig).toMatchObject({ version: 2, secret: false, value: 'public' });

    expectCode(await gateway.gql(ROLLBACK, { ns: NS, key, to: 1 }, as('writer')), 'FORBIDDEN');
    expect((await read(key, 'reader'))?.value).toBe('public');

    const restored = await gateway.gql<{ rollbackConfig: Entry }>(ROLLBACK, { ns: NS, key, to: 1 }, as('writerWithSecrets'));
    expect(restored.body.data?.rollbackConfig).toMatchObject({ version: 3, secret: true, value: `${MARKER}-3` });
    expect(await read(key, 'reader')).toMatchObject({ version: 3, secret: true, redacted: true, value: null });
    // A rollback to the public version is fine for anyone: that value was never secret.
    const back = await gateway.gql<{ rollbackConfig: Entry }>(ROLLBACK, { ns: NS, key, to: 2 }, as('writer'));
    expect(back.body.data?.rollbackConfig).toMatchObject({ version: 4, secret: true, redacted: true }); // the key stays secret
  });

  it('history records whether each value was written as secret, and hides exactly those', async () => {
    const history = (await read('api.token', 'reader'))!.history;
    expect(history.map(({ version, secret, redacted, value }) => ({ version, secret, redacted, value }))).toEqual([
      { version: 4, secret: true, redacted: true, value: null },
      { version: 3, secret: true, redacted: true, value: null },
      { version: 2, secret: false, redacted: false, value: 'public' },
      { version: 1, secret: true, redacted: true, value: null },
    ]);
    const withClaim = (await read('api.token', 'writerWithSecrets'))!.history;
    expect(withClaim.map((change) => change.value)).toEqual(['public', `${MARKER}-3`, 'public', `${MARKER}-3`]);
  });

  it('a batch cannot clear secret either, and writes nothing', async () => {
    const before = await revision();
    const response = await gateway.gql(
      SET_MANY,
      { ns: NS, inputs: [{ key: 'batch.other', value: 1 }, { key: 'db.password', value: 'x', secret: false }] },
      as('writer'),
    );
    expectCode(response, 'FORBIDDEN');
    expect(response.body.errors?.[0]?.extensions).toMatchObject({ key: 'db.password', field: 'inputs.1.secret' });
    expect(await revision()).toBe(before);
    expect(await read('batch.other')).toBeNull();
  });

  it('a deleted secret key: a writer cannot bring the secret version back; an admin brings it back secret', async () => {
    const key = 'deleted.secret';
    await gateway.gql(SET, { input: { namespace: NS, key, value: `${MARKER}-4`, secret: true } });
    await gateway.gql(DELETE, { ns: NS, key });
    // A re-create starts afresh (its own value, not secret)...
    const recreated = await gateway.gql<{ setConfig: Entry }>(SET, { input: { namespace: NS, key, value: 'new' } }, as('writer'));
    expect(recreated.body.data?.setConfig).toMatchObject({ version: 3, secret: false, value: 'new' });
    // ...but the old secret value is not the writer's to reveal.
    expectCode(await gateway.gql(ROLLBACK, { ns: NS, key, to: 1 }, as('writer')), 'FORBIDDEN');
    await gateway.gql(DELETE, { ns: NS, key });
    expectCode(await gateway.gql(ROLLBACK, { ns: NS, key, to: 1 }, as('writer')), 'FORBIDDEN');
    const admin = await gateway.gql<{ rollbackConfig: Entry }>(ROLLBACK, { ns: NS, key, to: 1 });
    expect(admin.body.data?.rollbackConfig).toMatchObject({ version: 5, secret: true, value: `${MARKER}-4` });
  });

  it('a reader without the claim never saw a secret value on the way', async () => {
    for (const key of ['db.password', 'api.token', 'deleted.secret']) {
      const response = await gateway.gql(READ, { ns: NS, key }, as('reader'));
      expect(JSON.stringify(response.body)).not.toContain(MARKER);
    }
  });
});

describe('every JSON value round-trips or is refused clearly', () => {
  const refusals: Array<[string, Record<string, unknown>, string]> = [
    ['a lone high surrogate in a value', { key: 'bad.value', value: 'abc\ud800' }, 'value'],
    ['a lone low surrogate deep in a value', { key: 'bad.value', value: { a: [1, { b: '\udc00x' }] } }, 'value'],
    ['a lone surrogate in an object key', { key: 'bad.value', value: { ['k\ud800']: 1 } }, 'value'],
    ['U+0000 in a value', { key: 'bad.value', value: 'a\u0000b' }, 'value'],
    ['U+0000 in an object key', { key: 'bad.value', value: { ['a\u0000']: true } }, 'value'],
    ['a lone surrogate in description', { key: 'bad.value', value: 1, description: 'd\ud800' }, 'description'],
    ['U+0000 in description', { key: 'bad.value', value: 1, description: 'd\u0000' }, 'description'],
    ['a lone surrogate in reason', { key: 'bad.value', value: 1, reason: 'r\udfff' }, 'reason'],
    ['U+0000 in reason', { key: 'bad.value', value: 1, reason: 'r\u0000' }, 'reason'],
    ['a lone surrogate in a key', { key: 'k\ud800', value: 1 }, 'key'],
    ['a lone surrogate in a schema', { key: 'bad.value', value: 'x', schema: { type: 'string', description: '\ud800' } }, 'schema'],
  ];
  for (const [name, input, field] of refusals) {
    it(`${name} is BAD_USER_INPUT naming ${field}, and nothing is written`, async () => {
      const before = await revision();
      const response = await gateway.gql(SET, { input: { namespace: NS, ...input } });
      expectCode(response, 'BAD_USER_INPUT');
      expect(response.body.errors?.[0]?.extensions?.field).toBe(field);
      expect(response.body.errors?.[0]?.message).toMatch(/surrogate|U\+0000|characters/);
      expect(await revision()).toBe(before);
    });
  }

  it('a lone surrogate in a batch is refused with the batch position, nothing written', async () => {
    const before = await revision();
    const response = await gateway.gql(SET_MANY, { ns: NS, inputs: [{ key: 'ok', value: 1 }, { key: 'bad', value: ['\ud800'] }] });
    expectCode(response, 'BAD_USER_INPUT');
    expect(response.body.errors?.[0]?.extensions).toMatchObject({ field: 'inputs.1.value', pointer: '/0' });
    expect(await revision()).toBe(before);
  });

  it('well-formed pairs and every other character round-trip exactly', async () => {
    const value = { emoji: 'pair 😀 \ud83d\ude00', controls: '\u0001\u001f\u007f', bom: '\ufeff', nonchar: '\uffff', ['ключ😀']: 'é' };
    const response = await gateway.gql<{ setConfig: Entry }>(SET, { input: { namespace: NS, key: 'unicode', value, description: 'ok 😀', reason: 'é' } });
    expect(response.body.data?.setConfig.value).toEqual(value);
    const entry = await read('unicode');
    expect(entry?.value).toEqual(value);
    expect(entry?.description).toBe('ok 😀');
    expect(entry?.history[0]?.reason).toBe('é');
  });

  it('a __proto__ object key is stored and read back like any other (variables and literals)', async () => {
    const value = JSON.parse('{"__proto__": {"polluted": true}, "a": {"__proto__": [1, 2]}, "constructor": {"prototype": 1}}') as Record<string, unknown>;
    const viaVariables = await gateway.gql<{ setConfig: Entry }>(SET, { input: { namespace: NS, key: 'proto.vars', value } });
    expect(viaVariables.body.errors).toBeUndefined();
    // PostgreSQL's jsonb orders keys its own way: compare with keys sorted.
    const expected = canonical(value);
    expect(canonical(viaVariables.body.data?.setConfig.value)).toBe(expected);
    expect(JSON.stringify(viaVariables.body.data?.setConfig.value)).toBe(JSON.stringify(value)); // order kept on the way in
    expect(canonical((await read('proto.vars'))?.value)).toBe(expected);
    expect(canonical((await read('proto.vars'))?.history[0]?.value)).toBe(expected);

    const literal = await gateway.gql<{ setConfig: Entry }>(
      `mutation { setConfig(input: { namespace: "${NS}", key: "proto.literal", value: { __proto__: { polluted: true }, a: { __proto__: [1, 2] }, constructor: { prototype: 1 } } }) { value } }`,
    );
    expect(literal.body.errors).toBeUndefined();
    expect(canonical((await read('proto.literal'))?.value)).toBe(expected);
    const batch = await gateway.gql<{ setConfigs: Entry[] }>(SET_MANY, { ns: NS, inputs: [{ key: 'proto.batch', value }] });
    expect(canonical(batch.body.data?.setConfigs[0]?.value)).toBe(expected);
    expect(expected).toContain('"__proto__":{"polluted":true}');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it(`nesting up to ${MAX_JSON_DEPTH} levels is stored; deeper is BAD_USER_INPUT naming the limit`, async () => {
    const nest = (depth: number) => JSON.parse('['.repeat(depth) + '1' + ']'.repeat(depth)) as unknown;
    const ok = await gateway.gql(SET, { input: { namespace: NS, key: 'deep.ok', value: nest(MAX_JSON_DEPTH) } });
    expect(ok.body.errors).toBeUndefined();
    const tooDeep = await gateway.gql(SET, { input: { namespace: NS, key: 'deep.bad', value: nest(MAX_JSON_DEPTH + 1) } });
    expectCode(tooDeep, 'BAD_USER_INPUT');
    expect(tooDeep.body.errors?.[0]?.message).toContain(`deeper than ${MAX_JSON_DEPTH} levels`);
  });

  it('a 10,000-deep array in variables is BAD_USER_INPUT, not a stack overflow', async () => {
    const deep = '['.repeat(10_000) + '1' + ']'.repeat(10_000);
    const body = `{"query":${JSON.stringify(SET)},"variables":{"input":{"namespace":"${NS}","key":"deep.huge","value":${deep}}}}`;
    const response = await fetch(gateway.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json', authorization: `Bearer ${gateway.adminToken}` },
      body,
    });
    const text = await response.text();
    expect(text).not.toMatch(/call stack/i);
    const parsed = JSON.parse(text) as GraphQLResponse['body'];
    expect(parsed.errors?.[0]?.extensions?.code, text).toBe('BAD_USER_INPUT');
    expect(parsed.errors?.[0]?.message).toContain(`deeper than ${MAX_JSON_DEPTH} levels`);
    // The same, as a schema.
    const schemaBody = `{"query":${JSON.stringify(SET)},"variables":{"input":{"namespace":"${NS}","key":"deep.huge","value":1,"schema":${deep}}}}`;
    const schemaResponse = await fetch(gateway.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${gateway.adminToken}` },
      body: schemaBody,
    });
    expect(((await schemaResponse.json()) as GraphQLResponse['body']).errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });
});

describe('JSON Schema cannot stall the gateway', () => {
  it('the reported pattern ^(a+)+$ against many a\'s and "!" is answered (VALIDATION_FAILED) and the gateway keeps answering', async () => {
    const schema = { type: 'string', pattern: '^(a+)+$' };
    const set = await gateway.gql(SET, { input: { namespace: NS, key: 'redos', value: 'aaa', schema } });
    expect(set.body.errors).toBeUndefined();
    // 45 characters: a backtracking engine needs ~2^45 steps (hours); this must come back.
    const attack = gateway.gql(SET, { input: { namespace: NS, key: 'redos', value: `${'a'.repeat(45)}!` } });
    const health = fetch(gateway.url.replace(/\/graphql$/, '/health'));
    expectCode(await attack, 'VALIDATION_FAILED');
    expect((await health).ok).toBe(true);
    const fine = await gateway.gql<{ setConfig: Entry }>(SET, { input: { namespace: NS, key: 'redos', value: 'a'.repeat(45) } });
    expect(fine.body.data?.setConfig.version).toBe(2);
  });

  it('patternProperties and format: regex use the same engine', async () => {
    const props = await gateway.gql(SET, {
      input: { namespace: NS, key: 'redos.props', value: { ['a'.repeat(45) + '!']: 1 }, schema: { patternProperties: { '^(a+)+$': { type: 'string' } }, additionalProperties: true } },
    });
    expect(props.body.errors).toBeUndefined();
    const format = await gateway.gql(SET, { input: { namespace: NS, key: 'redos.format', value: '(?=lookahead)', schema: { type: 'string', format: 'regex' } } });
    expectCode(format, 'VALIDATION_FAILED');
  });

  const unsafe: Array<[string, unknown, RegExp]> = [
    ['a self-reference {"$ref":"#"}', { $ref: '#' }, /without consuming/],
    ['a recursive anyOf', { anyOf: [{ type: 'string' }, { $ref: '#' }] }, /without consuming/],
    ['a reference cycle through $defs', { $defs: { a: { allOf: [{ $ref: '#/$defs/b' }] }, b: { not: { $ref: '#/$defs/a' } } }, $ref: '#/$defs/a' }, /without consuming/],
    ['allOf doubling at every level', doubling(24), /more than 1000 subschemas/],
    ['a pattern with lookahead (not RE2)', { type: 'string', pattern: '^(?=a)a$' }, /linear-time engine/],
    ['a pattern that compiles to a huge automaton', { type: 'string', pattern: 'a{0,900}b{0,900}' }, /repeats more than/],
    ['a schema over 64 KiB', { enum: Array.from({ length: 3000 }, (_, i) => `value-${i}-${'x'.repeat(20)}`) }, /limit is 65536/],
  ];
  for (const [name, schema, message] of unsafe) {
    it(`${name} is BAD_USER_INPUT when set`, async () => {
      const response = await gateway.gql(SET, { input: { namespace: NS, key: 'unsafe.schema', value: 'a', schema } });
      expectCode(response, 'BAD_USER_INPUT');
      expect(response.body.errors?.[0]?.extensions?.field).toBe('schema');
      expect(response.body.errors?.[0]?.message).toMatch(message);
    });
  }

  it('a recursive schema that consumes input (a tree) is accepted and checks deep values', async () => {
    const tree = { type: 'object', properties: { name: { type: 'string' }, children: { type: 'array', items: { $ref: '#' } } }, required: ['name'] };
    const value = { name: 'root', children: [{ name: 'a', children: [{ name: 'b' }] }] };
    const ok = await gateway.gql(SET, { input: { namespace: NS, key: 'tree', value, schema: tree } });
    expect(ok.body.errors).toBeUndefined();
    const bad = await gateway.gql(SET, { input: { namespace: NS, key: 'tree', value: { name: 'root', children: [{ children: [] }] } } });
    expectCode(bad, 'VALIDATION_FAILED');
  });
});

/** JSON with object keys sorted (own keys, `__proto__` included). */
function canonical(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  const record = value as Record<string, unknown>;
  return `{${Object.keys(record)
    .sort()
    .map((key) => `${JSON.stringify(key)}:${canonical(Object.getOwnPropertyDescriptor(record, key)?.value)}`)
    .join(',')}}`;
}

function doubling(levels: number): unknown {
  const defs: Record<string, unknown> = {};
  for (let i = 0; i < levels; i++) defs[`a${i}`] = { allOf: [{ $ref: `#/$defs/a${i + 1}` }, { $ref: `#/$defs/a${i + 1}` }] };
  defs[`a${levels}`] = { type: 'string' };
  return { $defs: defs, $ref: '#/$defs/a0' };
}
