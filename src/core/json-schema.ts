/**
 * JSON Schema checks for entry values (ajv with ajv-formats). Compiled validators are cached by
 * schema text, because every write to a key with a schema would otherwise recompile it.
 *
 * No schema and no value may stall the gateway, so:
 * - `pattern`, `patternProperties`, `propertyNames.pattern` and `format: regex` use RE2 semantics
 *   (re2js: linear time, no lookaround or backreferences), with a bounded program size and a
 *   bounded amount of matching work per validation;
 * - a schema that would apply itself to the same value without consuming it (`{"$ref":"#"}`,
 *   a recursive `anyOf`), or that fans out into too many subschemas on one value, or that is too
 *   large, is refused when it is set (`BAD_USER_INPUT`);
 * - `uniqueItems` compares canonical JSON in a hash map (ajv's own check is quadratic).
 *
 * The pattern engine and its budgets are `json-schema-patterns.ts`, the structure checks
 * `json-schema-structure.ts`; this module compiles, caches and reports.
 */
import { Ajv, type ErrorObject, type FuncKeywordDefinition, type ValidateFunction } from 'ajv';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { LRUCache } from 'lru-cache';
import { GatewayError } from '../errors.js';
import { compileLinear, linearRegExp, MAX_PATTERN_LENGTH, MAX_PATTERN_WORK, PatternBudgetError, withCompileBudget, withMatchBudget } from './json-schema-patterns.js';
import { assertSafeStructure } from './json-schema-structure.js';
import type { JsonValue } from './types.js';

export { MAX_PATTERN_LENGTH, MAX_PATTERN_PROGRAM_SIZE, MAX_PATTERN_WORK, MAX_SCHEMA_PATTERN_PROGRAM } from './json-schema-patterns.js';
export { MAX_IN_PLACE_EXPANSION } from './json-schema-structure.js';

type AddFormats = (ajv: Ajv | Ajv2020) => unknown;
// ajv-formats is CommonJS; under NodeNext its default import is the module object in types.
const addFormats: AddFormats =
  (addFormatsModule as unknown as { default?: AddFormats }).default ?? (addFormatsModule as unknown as AddFormats);

const DRAFT_07_RE = /^https?:\/\/json-schema\.org\/draft-0[67]\/schema#?$/;
/** Compiled validators kept, least recently used dropped first. */
const CACHE_SIZE = 500;
/** Errors named in a VALIDATION_FAILED message (all are in `extensions.errors`, up to 20). */
const ERRORS_IN_MESSAGE = 3;

/** Largest schema, in bytes of JSON. A schema describes one key's value: 64 KiB is plenty. */
export const MAX_SCHEMA_BYTES = 65_536; // 64 KiB

/**
 * Canonical JSON (object keys sorted) for `uniqueItems`: JSON Schema equality ignores key order.
 * Recursive: values are at most `MAX_JSON_DEPTH` deep by the time they are checked.
 */
function canonical(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  const record = value as Record<string, unknown>;
  return `{${Object.keys(record)
    .sort()
    .map((name) => `${JSON.stringify(name)}:${canonical(record[name])}`)
    .join(',')}}`;
}

/** `uniqueItems` in O(n): ajv's own compares every pair of object items (a 1 MiB array took minutes). */
function uniqueItemsCheck(schema: boolean, data: unknown[]): boolean {
  uniqueItemsCheck.errors = null as Array<Partial<ErrorObject>> | null;
  if (!schema) return true;
  const seen = new Map<string, number>();
  for (let i = 0; i < data.length; i++) {
    const key = canonical(data[i]);
    const j = seen.get(key);
    if (j !== undefined) {
      uniqueItemsCheck.errors = [{ keyword: 'uniqueItems', message: `must NOT have duplicate items (items ## ${j} and ${i} are identical)`, params: { i, j } }];
      return false;
    }
    seen.set(key, i);
  }
  return true;
}
uniqueItemsCheck.errors = null as Array<Partial<ErrorObject>> | null;

const uniqueItems: FuncKeywordDefinition = {
  keyword: 'uniqueItems',
  type: 'array',
  schemaType: 'boolean',
  errors: true,
  validate: uniqueItemsCheck as FuncKeywordDefinition['validate'],
};

function configure<T extends Ajv | Ajv2020>(ajv: T): T {
  addFormats(ajv);
  // ajv-formats checks `regex` with the backtracking engine; values must be RE2 patterns here.
  ajv.addFormat('regex', (text: string) => {
    if (text.length > MAX_PATTERN_LENGTH) return false;
    try {
      compileLinear(text);
      return true;
    } catch {
      return false;
    }
  });
  ajv.removeKeyword('uniqueItems');
  ajv.addKeyword(uniqueItems);
  return ajv;
}

let ajv2020: Ajv2020 | null = null;
let ajv07: Ajv | null = null;
const cache = new LRUCache<string, ValidateFunction>({ max: CACHE_SIZE });

function instanceFor(schema: JsonValue): Ajv | Ajv2020 {
  const declared = typeof schema === 'object' && schema !== null && !Array.isArray(schema) ? schema.$schema : undefined;
  const options = { allErrors: true, strict: false, logger: false as const, validateFormats: true, code: { regExp: linearRegExp } };
  if (typeof declared === 'string' && DRAFT_07_RE.test(declared)) return (ajv07 ??= configure(new Ajv(options)));
  return (ajv2020 ??= configure(new Ajv2020(options)));
}

function compile(schema: JsonValue): ValidateFunction {
  const text = JSON.stringify(schema);
  const hit = cache.get(text);
  if (hit) return hit;
  if (typeof schema !== 'boolean' && (typeof schema !== 'object' || schema === null || Array.isArray(schema))) {
    throw new Error('a JSON Schema is an object or a boolean');
  }
  const size = Buffer.byteLength(text, 'utf8');
  if (size > MAX_SCHEMA_BYTES) throw new Error(`the schema is ${size} bytes of JSON; the limit is ${MAX_SCHEMA_BYTES}`);
  assertSafeStructure(schema);
  // Compile from a private copy: ajv keeps references to the schema object it was given.
  const validate = withCompileBudget(() => instanceFor(schema).compile(JSON.parse(text) as object | boolean));
  cache.set(text, validate);
  return validate;
}

/** Throws `BAD_USER_INPUT` (field `schema`) unless `schema` is a JSON Schema that compiles and is safe to run. */
export function assertValidSchema(schema: JsonValue, field = 'schema'): void {
  try {
    compile(schema);
  } catch (error) {
    throw new GatewayError('BAD_USER_INPUT', `Invalid JSON Schema: ${(error as Error).message}`, { field });
  }
}

function describe(error: ErrorObject): string {
  return `${error.instancePath || '/'} ${error.message ?? 'is invalid'}`;
}

export interface MatchOptions {
  /**
   * The value is secret: the error message (which may be logged) names no location in the
   * value, since object keys are part of it; `extensions.errors` (for the caller) still does.
   * @default false
   */
  secret?: boolean;
}

/**
 * Throws `VALIDATION_FAILED` when `value` does not satisfy `schema`; the message names the
 * first few problems (`/threshold must be <= 1`), `extensions.errors` lists them. A value that
 * would cost more than `MAX_PATTERN_WORK` of pattern matching is refused the same way.
 */
export function assertValueMatches(schema: JsonValue, value: JsonValue, key: string, { secret = false }: MatchOptions = {}): void {
  let validate: ValidateFunction;
  try {
    validate = compile(schema);
  } catch (error) {
    throw new GatewayError('BAD_USER_INPUT', `The JSON Schema of ${key} cannot be used: ${(error as Error).message}; set a new schema`, {
      field: 'schema',
      key,
    });
  }
  let valid: boolean;
  try {
    valid = withMatchBudget(() => validate(value) as boolean);
  } catch (error) {
    if (error instanceof PatternBudgetError) {
      throw new GatewayError(
        'VALIDATION_FAILED',
        `Value of ${key} is too large to check against the patterns of its schema (the limit is ${MAX_PATTERN_WORK} steps of string length × pattern size per value)`,
        { key, limit: MAX_PATTERN_WORK },
      );
    }
    // A schema stored before the structure checks existed may still recurse forever.
    if (error instanceof RangeError) {
      throw new GatewayError('BAD_USER_INPUT', `The JSON Schema of ${key} recurses without consuming the value; set a new schema`, {
        field: 'schema',
        key,
      });
    }
    throw error;
  }
  if (valid) return;
  const errors = (validate.errors ?? []).slice(0, 20).map(describe);
  const shown = secret
    ? `${errors.length} problem${errors.length === 1 ? '' : 's'} (listed in extensions.errors)`
    : errors.slice(0, ERRORS_IN_MESSAGE).join('; ');
  const more = !secret && errors.length > ERRORS_IN_MESSAGE ? ` (and ${errors.length - ERRORS_IN_MESSAGE} more)` : '';
  throw new GatewayError('VALIDATION_FAILED', `Value of ${key} does not match its schema: ${shown}${more}`, {
    key,
    errors,
  });
}
