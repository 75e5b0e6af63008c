/**
 * Pure input checks shared by the GraphQL layer and the store. Each throws `BAD_USER_INPUT`
 * with a message a human can act on and `extensions.field` naming the offending argument.
 */
import { GatewayError } from '../errors.js';
import type { JsonValue } from './types.js';

const NAMESPACE_RE = /^[a-z0-9][a-z0-9_.-]{0,62}$/;
const KEY_CHARS_RE = /^[A-Za-z0-9_.:/-]+$/;
const SEPARATORS = new Set(['.', ':', '/', '-']);
/** `\u0000` in JSON text that is an escape, not an escaped backslash followed by "u0000". */
const NUL_ESCAPE_RE = /(?<!\\)(?:\\\\)*\\u0000/;

/** Longest key, in characters (all ASCII). */
export const MAX_KEY_LENGTH = 256;
/** Longest namespace name, in characters. */
export const MAX_NAMESPACE_LENGTH = 63;

function bad(message: string, field: string): GatewayError {
  return new GatewayError('BAD_USER_INPUT', message, { field });
}

function show(value: string): string {
  return JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value);
}

/** 1–63 characters of `[a-z0-9_.-]`, starting with a letter or digit. */
export function assertNamespace(namespace: string, field = 'namespace'): void {
  if (typeof namespace !== 'string' || !NAMESPACE_RE.test(namespace)) {
    throw bad(
      `Invalid namespace ${show(String(namespace))}: use 1-${MAX_NAMESPACE_LENGTH} characters of a-z, 0-9, '_', '.', '-', starting with a letter or digit`,
      field,
    );
  }
}

/** 1–256 characters of `[A-Za-z0-9_.:/-]`, not starting with a separator (`.` `:` `/` `-`). */
export function assertKey(key: string, field = 'key'): void {
  if (typeof key !== 'string' || key.length === 0 || key.length > MAX_KEY_LENGTH || !KEY_CHARS_RE.test(key)) {
    throw bad(
      `Invalid key ${show(String(key))}: use 1-${MAX_KEY_LENGTH} characters of A-Z, a-z, 0-9, '_', '.', ':', '/', '-'`,
      field,
    );
  }
  if (SEPARATORS.has(key[0] ?? '')) {
    throw bad(`Invalid key ${show(key)}: a key must not start with '.', ':', '/' or '-'`, field);
  }
}

/** A key prefix: empty (everything) or the start of a valid key. */
export function assertPrefix(prefix: string, field = 'prefix'): void {
  if (prefix === '') return;
  if (typeof prefix !== 'string' || prefix.length > MAX_KEY_LENGTH || !KEY_CHARS_RE.test(prefix) || SEPARATORS.has(prefix[0] ?? '')) {
    throw bad(`Invalid prefix ${show(String(prefix))}: a prefix is the start of a key (A-Z, a-z, 0-9, '_', '.', ':', '/', '-')`, field);
  }
}

/** Size of a value as stored: UTF-8 bytes of its JSON text. */
export function jsonByteSize(value: JsonValue): number {
  return Buffer.byteLength(JSON.stringify(value), 'utf8');
}

/** Integer in `[min, max]`. */
export function assertIntRange(value: number, { min, max, field }: { min: number; max: number; field: string }): void {
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw bad(`${field} must be an integer from ${min} to ${max}, got ${value}`, field);
  }
}

export interface ValidatorOptions {
  /** Largest value, in bytes of JSON. @default 1_048_576 (1 MiB) */
  maxValueBytes?: number;
  /** Most operations in one batch write. @default 10_000 */
  maxBatchSize?: number;
  /** Largest page of `configChanges`. @default 10_000 */
  maxChangesLimit?: number;
  /** Largest `history` page. @default 1000 */
  maxHistoryLimit?: number;
}

export interface Validator {
  readonly maxValueBytes: number;
  readonly maxBatchSize: number;
  namespace(namespace: string, field?: string): void;
  key(key: string, field?: string): void;
  prefix(prefix: string, field?: string): void;
  /** Not null, not undefined, and at most `maxValueBytes` of JSON. */
  value(value: JsonValue | undefined, field?: string): void;
  /** 1..maxBatchSize operations. */
  batchSize(size: number, field?: string): void;
  /** `limit` of `configChanges`: 1..maxChangesLimit. */
  changesLimit(limit: number, field?: string): void;
  /** `limit` of `history`: 1..maxHistoryLimit. */
  historyLimit(limit: number, field?: string): void;
  /** A version argument (`expectedVersion` >= 0, `toVersion` >= 1). */
  version(version: number, { field, min }: { field: string; min: number }): void;
  /** A revision cursor: a non-negative safe integer. */
  revision(revision: number, field?: string): void;
  /** Free text stored in a column (description, reason): at most `maxLength` characters, no U+0000. */
  text(text: string, field: string, maxLength?: number): void;
}

/**
 * Input checks bound to the configured limits.
 *
 * @example
 * const validate = createValidator({ maxValueBytes: config.maxValueBytes, maxBatchSize: config.maxBatchSize });
 * validate.key(input.key);
 */
export function createValidator(options: ValidatorOptions = {}): Validator {
  const {
    maxValueBytes = 1_048_576, // 1 MiB
    maxBatchSize = 10_000, // operations
    maxChangesLimit = 10_000, // changes
    maxHistoryLimit = 1000, // rows
  } = options;
  return {
    maxValueBytes,
    maxBatchSize,
    namespace: assertNamespace,
    key: assertKey,
    prefix: assertPrefix,
    value(value, field = 'value') {
      if (value === null || value === undefined) {
        throw bad('A value must not be null: delete the key instead', field);
      }
      if (typeof value === 'number' && !Number.isFinite(value)) throw bad('A value must be valid JSON', field);
      const text = JSON.stringify(value);
      // PostgreSQL's jsonb cannot hold U+0000; refuse it here rather than fail in the database.
      if (NUL_ESCAPE_RE.test(text)) throw bad('JSON strings must not contain the character U+0000', field);
      const size = Buffer.byteLength(text, 'utf8');
      if (size > maxValueBytes) {
        throw new GatewayError('BAD_USER_INPUT', `Value is ${size} bytes of JSON; the limit is ${maxValueBytes} bytes`, {
          field,
          limit: maxValueBytes,
          size,
        });
      }
    },
    batchSize(size, field = 'inputs') {
      if (size < 1) throw bad('A batch needs at least one operation', field);
      if (size > maxBatchSize) {
        throw new GatewayError('BAD_USER_INPUT', `A batch holds at most ${maxBatchSize} operations, got ${size}`, {
          field,
          limit: maxBatchSize,
        });
      }
    },
    changesLimit(limit, field = 'limit') {
      assertIntRange(limit, { min: 1, max: maxChangesLimit, field });
    },
    historyLimit(limit, field = 'limit') {
      assertIntRange(limit, { min: 1, max: maxHistoryLimit, field });
    },
    version(version, { field, min }) {
      assertIntRange(version, { min, max: 2_147_483_647, field });
    },
    revision(revision, field = 'sinceRevision') {
      assertIntRange(revision, { min: 0, max: Number.MAX_SAFE_INTEGER, field });
    },
    text(text, field, maxLength = 4096) {
      if (text.includes('\u0000')) throw bad(`${field} must not contain the character U+0000`, field);
      if (text.length > maxLength) throw bad(`${field} holds at most ${maxLength} characters, got ${text.length}`, field);
    },
  };
}
