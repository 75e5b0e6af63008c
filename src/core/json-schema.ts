/**
 * JSON Schema checks for entry values (ajv with ajv-formats). Compiled validators are cached by
 * schema text, because every write to a key with a schema would otherwise recompile it.
 */
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { GatewayError } from '../errors.js';
import type { JsonValue } from './types.js';

type AddFormats = (ajv: Ajv | Ajv2020) => unknown;
// ajv-formats is CommonJS; under NodeNext its default import is the module object in types.
const addFormats: AddFormats =
  (addFormatsModule as unknown as { default?: AddFormats }).default ?? (addFormatsModule as unknown as AddFormats);

const DRAFT_07_RE = /^https?:\/\/json-schema\.org\/draft-0[67]\/schema#?$/;
/** Compiled validators kept, least recently used dropped first. */
const CACHE_SIZE = 500;
/** Errors named in a VALIDATION_FAILED message (all are in `extensions.errors`, up to 20). */
const ERRORS_IN_MESSAGE = 3;

let ajv2020: Ajv2020 | null = null;
let ajv07: Ajv | null = null;
const cache = new Map<string, ValidateFunction>();

function instanceFor(schema: JsonValue): Ajv | Ajv2020 {
  const declared = typeof schema === 'object' && schema !== null && !Array.isArray(schema) ? schema.$schema : undefined;
  const options = { allErrors: true, strict: false, logger: false as const, validateFormats: true };
  if (typeof declared === 'string' && DRAFT_07_RE.test(declared)) {
    if (!ajv07) addFormats((ajv07 = new Ajv(options)));
    return ajv07;
  }
  if (!ajv2020) addFormats((ajv2020 = new Ajv2020(options)));
  return ajv2020;
}

function compile(schema: JsonValue): ValidateFunction {
  const text = JSON.stringify(schema);
  const hit = cache.get(text);
  if (hit) {
    cache.delete(text);
    cache.set(text, hit);
    return hit;
  }
  if (typeof schema !== 'boolean' && (typeof schema !== 'object' || schema === null || Array.isArray(schema))) {
    throw new Error('a JSON Schema is an object or a boolean');
  }
  // Compile from a private copy: ajv keeps references to the schema object it was given.
  const validate = instanceFor(schema).compile(JSON.parse(text) as object | boolean);
  cache.set(text, validate);
  if (cache.size > CACHE_SIZE) cache.delete(cache.keys().next().value as string);
  return validate;
}

/** Throws `BAD_USER_INPUT` (field `schema`) unless `schema` is a JSON Schema that compiles. */
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

/**
 * Throws `VALIDATION_FAILED` when `value` does not satisfy `schema`; the message names the
 * first few problems (`/threshold must be <= 1`), `extensions.errors` lists them.
 */
export function assertValueMatches(schema: JsonValue, value: JsonValue, key: string): void {
  let validate: ValidateFunction;
  try {
    validate = compile(schema);
  } catch (error) {
    throw new GatewayError('BAD_USER_INPUT', `The JSON Schema of ${key} does not compile: ${(error as Error).message}`, {
      field: 'schema',
      key,
    });
  }
  if (validate(value)) return;
  const errors = (validate.errors ?? []).slice(0, 20).map(describe);
  const shown = errors.slice(0, ERRORS_IN_MESSAGE).join('; ');
  const more = errors.length > ERRORS_IN_MESSAGE ? ` (and ${errors.length - ERRORS_IN_MESSAGE} more)` : '';
  throw new GatewayError('VALIDATION_FAILED', `Value of ${key} does not match its schema: ${shown}${more}`, {
    key,
    errors,
  });
}
