import { describe, expect, it } from 'vitest';
import { assertValidSchema, assertValueMatches } from '../../src/core/json-schema.js';
import { assertKey, assertNamespace, assertPrefix, createValidator } from '../../src/core/validation.js';
import { GatewayError } from '../../src/errors.js';

function codeOf(fn: () => void): { code: string; field: unknown; message: string } | null {
  try {
    fn();
    return null;
  } catch (error) {
    if (!(error instanceof GatewayError)) throw error;
    return { code: error.code, field: error.details.field, message: error.message };
  }
}

describe('namespace syntax', () => {
  it.each(['demo-platform', 'tenant-acme', 'a', '0', 'a_b.c-d', 'x'.repeat(63)])('accepts %s', (name) => {
    expect(codeOf(() => assertNamespace(name))).toBeNull();
  });
  it.each(['', 'Demo', '-lead', '.dot', '_under', 'has space', 'a/b', 'x'.repeat(64), 'ns*', 'é'])('refuses %j', (name) => {
    expect(codeOf(() => assertNamespace(name))).toMatchObject({ code: 'BAD_USER_INPUT', field: 'namespace' });
  });
});

describe('key syntax', () => {
  it.each(['ai.threshold', 'A', '9', 'flags/new-ui', 'svc:db.pool_max', '_private', 'x'.repeat(256)])('accepts %s', (key) => {
    expect(codeOf(() => assertKey(key))).toBeNull();
  });
  it.each(['', '.a', ':a', '/a', '-a', 'a b', 'a*', 'ключ', 'x'.repeat(257), 'a\n'])('refuses %j', (key) => {
    expect(codeOf(() => assertKey(key, 'inputs.2.key'))).toMatchObject({ code: 'BAD_USER_INPUT', field: 'inputs.2.key' });
  });
  it('says what is wrong with a leading separator', () => {
    expect(codeOf(() => assertKey('.a'))?.message).toMatch(/must not start with/);
  });
});

describe('prefix syntax', () => {
  it('accepts the empty prefix and starts of keys, refuses anything else', () => {
    expect(codeOf(() => assertPrefix(''))).toBeNull();
    expect(codeOf(() => assertPrefix('ai.'))).toBeNull();
    expect(codeOf(() => assertPrefix('ai%'))).toMatchObject({ code: 'BAD_USER_INPUT', field: 'prefix' });
    expect(codeOf(() => assertPrefix('/x'))).toMatchObject({ code: 'BAD_USER_INPUT' });
  });
});

describe('createValidator', () => {
  const validate = createValidator({ maxValueBytes: 16, maxBatchSize: 3 });

  it('refuses null values: delete the key instead', () => {
    expect(codeOf(() => validate.value(null))).toMatchObject({ code: 'BAD_USER_INPUT', field: 'value' });
    expect(codeOf(() => validate.value(undefined))?.message).toMatch(/delete/);
  });

  it('measures values in UTF-8 bytes of JSON and names the limit', () => {
    expect(codeOf(() => validate.value('x'.repeat(14)))).toBeNull(); // 16 bytes with quotes
    const tooBig = codeOf(() => validate.value('x'.repeat(15)));
    expect(tooBig).toMatchObject({ code: 'BAD_USER_INPUT' });
    expect(tooBig?.message).toContain('16 bytes');
    // 7 two-byte characters + quotes = 16 bytes; 8 = 18.
    expect(codeOf(() => validate.value('é'.repeat(7)))).toBeNull();
    expect(codeOf(() => validate.value('é'.repeat(8)))).not.toBeNull();
  });

  it('bounds batches and limits', () => {
    expect(codeOf(() => validate.batchSize(3))).toBeNull();
    expect(codeOf(() => validate.batchSize(4))).toMatchObject({ code: 'BAD_USER_INPUT', field: 'inputs' });
    expect(codeOf(() => validate.batchSize(0))).not.toBeNull();
    expect(codeOf(() => validate.changesLimit(10_000))).toBeNull();
    expect(codeOf(() => validate.changesLimit(10_001))).toMatchObject({ field: 'limit' });
    expect(codeOf(() => validate.changesLimit(0))).not.toBeNull();
    expect(codeOf(() => validate.changesLimit(1.5))).not.toBeNull();
    expect(codeOf(() => validate.revision(-1))).toMatchObject({ field: 'sinceRevision' });
    expect(codeOf(() => validate.version(-1, { field: 'expectedVersion', min: 0 }))).toMatchObject({ field: 'expectedVersion' });
  });
});

describe('JSON Schema', () => {
  const schema = { type: 'object', properties: { threshold: { type: 'number', minimum: 0, maximum: 1 }, owner: { type: 'string', format: 'email' } }, required: ['threshold'] };

  it('accepts a matching value', () => {
    expect(codeOf(() => assertValueMatches(schema, { threshold: 0.85, owner: 'ops@example.com' }, 'ai'))).toBeNull();
  });

  it('refuses -1 for a threshold with VALIDATION_FAILED naming the path', () => {
    try {
      assertValueMatches(schema, { threshold: -1, owner: 'not-an-email' }, 'ai');
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(GatewayError);
      const e = error as GatewayError;
      expect(e.code).toBe('VALIDATION_FAILED');
      expect(e.message).toContain('/threshold must be >= 0');
      expect(e.details.errors).toEqual(['/threshold must be >= 0', '/owner must match format "email"']);
      expect(e.details.key).toBe('ai');
    }
  });

  it('refuses a schema that does not compile with BAD_USER_INPUT', () => {
    expect(codeOf(() => assertValidSchema({ type: 'integer-ish' }))).toMatchObject({ code: 'BAD_USER_INPUT', field: 'schema' });
    expect(codeOf(() => assertValidSchema(42))).toMatchObject({ code: 'BAD_USER_INPUT' });
    expect(codeOf(() => assertValidSchema(true))).toBeNull();
  });

  it('understands draft-07 schemas that say so', () => {
    const draft7 = { $schema: 'http://json-schema.org/draft-07/schema#', type: 'array', items: [{ type: 'string' }], additionalItems: false };
    expect(codeOf(() => assertValueMatches(draft7, ['a'], 'k'))).toBeNull();
    expect(codeOf(() => assertValueMatches(draft7, ['a', 'b'], 'k'))).toMatchObject({ code: 'VALIDATION_FAILED' });
  });
});
