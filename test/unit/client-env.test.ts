import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { envNameForKey, keyForEnvName, parseEnvValue, readEnvOverrides } from '../../src/client/env-overrides.js';
import { readFallbackFile, writeFallbackFile, type FallbackSnapshot } from '../../src/client/fallback-file.js';
import { sameJson } from '../../src/client/json.js';

describe('environment overrides', () => {
  it.each([
    ['HOTCONF__AI_THRESHOLD', 'ai.threshold'],
    ['HOTCONF__CACHE__TTL_MS', 'cache_ttl.ms'],
    ['HOTCONF__FEATURE_X2', 'feature.x2'],
    ['HOTCONF__timeout', 'timeout'],
  ])('maps %s to key %s', (name, key) => {
    expect(keyForEnvName(name)).toBe(key);
  });

  it.each(['HOTCONF_AI', 'OTHER__AI', 'HOTCONF__', 'HOTCONF__A___B', 'HOTCONF___A', 'HOTCONF__A_', 'HOTCONF__A-B'])('ignores %s', (name) => {
    expect(keyForEnvName(name)).toBeNull();
  });

  it.each(['ai.threshold', 'cache_ttl.ms', 'a.b_c.d', 'x1'])('round-trips %s through its variable name', (key) => {
    const name = envNameForKey(key);
    expect(name).not.toBeNull();
    expect(keyForEnvName(name!)).toBe(key);
  });

  it.each(['flags.new-checkout', 'AI.threshold', 'a._b', 'a/b', 'a:b'])('cannot spell %s as a variable name', (key) => {
    expect(envNameForKey(key)).toBeNull();
  });

  it('parses values as JSON when they parse, else keeps the string', () => {
    expect(parseEnvValue('0.9')).toBe(0.9);
    expect(parseEnvValue('true')).toBe(true);
    expect(parseEnvValue('{"a":[1,2]}')).toEqual({ a: [1, 2] });
    expect(parseEnvValue('"0.9"')).toBe('0.9');
    expect(parseEnvValue('fast')).toBe('fast');
    expect(parseEnvValue('')).toBeUndefined();
    expect(parseEnvValue('null')).toBeUndefined();
  });

  it('reads per-key variables over HOTCONF_OVERRIDES, only under the watched prefix', () => {
    const overrides = readEnvOverrides(
      {
        HOTCONF__AI_THRESHOLD: '0.9',
        HOTCONF_OVERRIDES: '{"ai.threshold": 0.1, "ai.model-name": "big", "db.pool": 5}',
        HOTCONF__DB_POOL: '7',
        PATH: '/usr/bin',
      },
      { keyPrefix: 'ai.' },
    );
    expect(Object.fromEntries(overrides)).toEqual({ 'ai.threshold': 0.9, 'ai.model-name': 'big' });
  });

  it('refuses a HOTCONF_OVERRIDES that is not a JSON object', () => {
    expect(() => readEnvOverrides({ HOTCONF_OVERRIDES: '[1]' })).toThrow(/JSON object/);
    expect(() => readEnvOverrides({ HOTCONF_OVERRIDES: '{' })).toThrow(/JSON object/);
  });
});

describe('fallback file', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'hotconf-fallback-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const snapshot = (revision: number): FallbackSnapshot => ({
    format: 1,
    namespace: 'demo',
    prefix: null,
    revision,
    savedAt: new Date(0).toISOString(),
    entries: { 'ai.threshold': { value: 0.8, version: 3, revision } },
  });

  it('writes atomically and leaves no temporary file behind', async () => {
    const file = join(dir, 'a.json');
    await Promise.all([1, 2, 3, 4, 5].map((revision) => writeFallbackFile(file, snapshot(revision))));
    const read = await readFallbackFile(file, { namespace: 'demo', prefix: null });
    expect(read?.entries['ai.threshold']).toMatchObject({ value: 0.8, version: 3 });
    expect(JSON.parse(await readFile(file, 'utf8'))).toEqual(read);
    expect((await readdir(dir)).filter((name) => name.endsWith('.tmp'))).toEqual([]);
  });

  it('ignores a missing, malformed or foreign file', async () => {
    const file = join(dir, 'b.json');
    expect(await readFallbackFile(file, { namespace: 'demo', prefix: null })).toBeNull();
    await writeFile(file, '{"format":1,');
    expect(await readFallbackFile(file, { namespace: 'demo', prefix: null })).toBeNull();
    await writeFallbackFile(file, snapshot(2));
    expect(await readFallbackFile(file, { namespace: 'other', prefix: null })).toBeNull();
    expect(await readFallbackFile(file, { namespace: 'demo', prefix: 'ai.' })).toBeNull();
  });
});

describe('sameJson', () => {
  it('compares structure, not key order or identity', () => {
    expect(sameJson({ a: 1, b: [1, { c: 2 }] }, { b: [1, { c: 2 }], a: 1 })).toBe(true);
    expect(sameJson({ a: 1 }, { a: 1, b: undefined })).toBe(false);
    expect(sameJson([1, 2], [2, 1])).toBe(false);
    expect(sameJson({ 0: 1 }, [1])).toBe(false);
    expect(sameJson(1, '1')).toBe(false);
    expect(sameJson(undefined, undefined)).toBe(true);
    expect(sameJson(null, undefined)).toBe(false);
  });
});
