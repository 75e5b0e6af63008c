import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createSecretBox, parseSecretKeys, secretContext, SecretUnreadableError } from '../../src/core/secret-box.js';
import { GatewayError } from '../../src/errors.js';
import { serializeError } from '../../src/logger.js';

describe('secret box', () => {
  const [a, b] = [randomBytes(32), randomBytes(32)];
  const context = secretContext('ns', 'db.password');

  it('round-trips under any configured key and authenticates the namespace and key', () => {
    const sealed = createSecretBox([a]).seal('"hunter2"', context);
    expect(sealed).not.toContain('hunter2');
    expect(createSecretBox([b, a]).open(sealed, context)).toBe('"hunter2"');
    expect(() => createSecretBox([a]).open(sealed, secretContext('ns', 'other'))).toThrow(SecretUnreadableError);
    const tampered = sealed.slice(0, -3) + (sealed.endsWith('AAA') ? 'BBB' : 'AAA');
    expect(() => createSecretBox([a]).open(tampered, context)).toThrow(/does not authenticate/);
    expect(() => createSecretBox([b]).open(sealed, context)).toThrow(/add that key to HOTCONF_SECRET_KEYS/);
  });

  it('parses keys, naming a bad one by position only', () => {
    const text = `${a.toString('base64')}, ${b.toString('base64url')}`;
    expect(parseSecretKeys(text).map((key) => key.toString('hex'))).toEqual([a.toString('hex'), b.toString('hex')]);
    const short = randomBytes(16).toString('base64');
    expect(() => parseSecretKeys(`${a.toString('base64')},${short}`)).toThrow(/^key 2 is not/);
    try {
      parseSecretKeys(short);
    } catch (error) {
      expect((error as Error).message).not.toContain(short);
    }
  });
});

describe('error serializer', () => {
  it('keeps a PostgreSQL data error by SQLSTATE and names only', () => {
    const pg = Object.assign(new Error('invalid input syntax for type json'), {
      name: 'PostgresError',
      severity: 'ERROR',
      code: '22P02',
      detail: 'Unicode low surrogate must follow a high surrogate.',
      where: 'JSON data, line 1: "S3CRET\\ud800...',
      routine: 'json_errsave_error',
      query: 'insert ...',
      parameters: ['S3CRET'],
    });
    const safe = serializeError(pg);
    expect(safe).toMatchObject({ type: 'PostgresError', code: '22P02', routine: 'json_errsave_error', messageOmitted: true });
    expect(JSON.stringify(safe)).not.toMatch(/S3CRET|surrogate|insert/);
  });

  it('keeps messages known to be fixed texts', () => {
    const unique = Object.assign(new Error('duplicate key value violates unique constraint "x"'), {
      severity: 'ERROR',
      code: '23505',
      detail: 'Key (k)=(S3CRET) already exists.',
      constraint_name: 'x',
    });
    expect(serializeError(unique)).toMatchObject({ message: 'duplicate key value violates unique constraint "x"', constraint: 'x' });
    expect(JSON.stringify(serializeError(unique))).not.toContain('S3CRET');
    expect(serializeError(new GatewayError('BAD_USER_INPUT', 'value nests too deep'))).toMatchObject({ code: 'BAD_USER_INPUT', message: 'value nests too deep' });
    expect(serializeError(new TypeError("Cannot read properties of null (reading 'write')")).message).toBe("Cannot read properties of null (reading 'write')");
    expect(serializeError(new TypeError("Cannot create property 'x' on string 'S3CRET'"))).toMatchObject({ messageOmitted: true });
    expect(serializeError(new SyntaxError('Unexpected token S, "S3CRET" is not valid JSON'))).toMatchObject({ messageOmitted: true });
  });

  it('follows causes and never prints what it does not know', () => {
    const wrapped = new Error('Failed query: select $1\nparams: S3CRET', { cause: Object.assign(new Error('boom S3CRET'), { code: 'P0001', severity: 'ERROR' }) });
    const safe = serializeError(wrapped);
    expect(JSON.stringify(safe)).not.toContain('S3CRET');
    expect(safe.cause).toMatchObject({ code: 'P0001', messageOmitted: true });
    expect(serializeError('S3CRET')).toEqual({ type: 'string' });
  });
});
