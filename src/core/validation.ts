/**
 * Pure input checks shared by the GraphQL layer and the store. Each throws `BAD_USER_INPUT`
 * with a message a human can act on and `extensions.field` naming the offending argument.
 */
import { GatewayError } from '../errors.js';
import type { JsonValue } from './types.js';

const NAMESPACE_RE = /^[a-z0-9][a-z0-9_.-]{0,62}$/;
const KEY_CHARS_RE = /^[A-Za-z0-9_.:/-]+$/;
const SEPARATORS = new Set(['.', ':', '/', '-']);
/**
 * A UTF-16 code unit in U+D800–U+DFFF that is not half of a pair: with the `u` flag a pair is one
 * code point, so only lone halves are in the Surrogate category. Linear: no backtracking.
 */
const LONE_SURROGATE_RE = /\p{Surrogate}/u;

/** Longest key, in characters (all ASCII). */
export const MAX_KEY_LENGTH = 256;
/** Longest namespace name, in characters. */
export const MAX_NAMESPACE_LENGTH = 63;
/**
 * Deepest nesting of arrays and objects in a value or schema (a scalar at the top is depth 0,
 * `[1]` depth 1). Real configuration stays under 10; the limit keeps every recursive step after
 * validation (JSON text, PostgreSQL's jsonb parser, JSON Schema checks, clients) far from a
 * stack overflow.
 */
export const MAX_JSON_DEPTH = 64;

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

/** Why `text` cannot be stored (PostgreSQL text and jsonb hold well-formed Unicode without NUL), or null. */
function unstorableText(text: string): string | null {
  if (text.includes('\u0000')) return 'the character U+0000 (NUL), which PostgreSQL cannot store';
  if (LONE_SURROGATE_RE.test(text)) return 'a lone UTF-16 surrogate (half of a character pair, U+D800-U+DFFF), which is not Unicode text';
  return null;
}

/** RFC 6901 JSON Pointer of a path of keys and indices. */
function pointer(path: ReadonlyArray<string | number>): string {
  return path.map((part) => `/${String(part).replace(/~/g, '~0').replace(/\//g, '~1')}`).join('');
}

/**
 * Throws `BAD_USER_INPUT` unless `value` is JSON that PostgreSQL stores and gives back exactly:
 * strings and object keys well-formed Unicode without U+0000, numbers finite, nesting at most
 * `MAX_JSON_DEPTH`. Iterative, so a value nested 100,000 deep costs a loop, not the stack.
 *
 * The message never quotes the value or its keys (a secret's keys are part of the secret, and
 * refusals may be logged); `extensions.pointer` locates the problem for the caller.
 */
export function assertStorableJson(value: unknown, field = 'value'): void {
  // Each frame links to its parent: the path is built only when something is refused.
  interface Frame {
    item: unknown;
    depth: number;
    parent: Frame | null;
    key: string | number | null;
  }
  const refuse = (problem: string, frame: Frame) => {
    const path: Array<string | number> = [];
    for (let at: Frame | null = frame; at && at.key !== null; at = at.parent) path.unshift(at.key);
    return new GatewayError('BAD_USER_INPUT', `${field} ${problem}`, { field, pointer: pointer(path) });
  };
  const stack: Frame[] = [{ item: value, depth: 0, parent: null, key: null }];
  while (stack.length > 0) {
    const frame = stack.pop()!;
    const { item } = frame;
    switch (typeof item) {
      case 'string': {
        const problem = unstorableText(item);
        if (problem) throw refuse(`holds a string with ${problem}`, frame);
        continue;
      }
      case 'number':
        if (!Number.isFinite(item)) throw refuse('holds a number that is not finite', frame);
        continue;
      case 'boolean':
        continue;
      case 'object': {
        if (item === null) continue;
        if (frame.depth >= MAX_JSON_DEPTH) {
          throw refuse(`nests arrays and objects deeper than ${MAX_JSON_DEPTH} levels`, frame);
        }
        const depth = frame.depth + 1;
        if (Array.isArray(item)) {
          item.forEach((child, index) => stack.push({ item: child, depth, parent: frame, key: index }));
          continue;
        }
        for (const [key, child] of Object.entries(item)) {
          const problem = unstorableText(key);
          if (problem) throw refuse(`holds an object key with ${problem}`, frame);
          stack.push({ item: child, depth, parent: frame, key });
        }
        continue;
      }
      default:
        throw refuse('is not JSON', frame);
    }
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
  /**
   * Not null, not undefined, storable exactly (`assertStorableJson`: no lone surrogates, no
   * U+0000, nesting at most `MAX_JSON_DEPTH`), and at most `maxValueBytes` of JSON.
   */
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
  /**
   * Free text stored in a column (description, reason, actor): at most `maxLength` characters,
   * well-formed Unicode (no lone surrogates, which PostgreSQL would silently replace), no U+0000.
   */
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
      // Before anything recursive (JSON.stringify included) touches it.
      assertStorableJson(value, field);
      const size = Buffer.byteLength(JSON.stringify(value), 'utf8');
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
      const problem = unstorableText(text);
      if (problem) throw bad(`${field} must not contain ${problem}`, field);
      if (text.length > maxLength) throw bad(`${field} holds at most ${maxLength} characters, got ${text.length}`, field);
    },
  };
}
