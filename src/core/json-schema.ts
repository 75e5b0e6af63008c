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
 */
import { Ajv, type ErrorObject, type FuncKeywordDefinition, type ValidateFunction } from 'ajv';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { LRUCache } from 'lru-cache';
import { RE2JS } from 're2js';
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

/** Largest schema, in bytes of JSON. A schema describes one key's value: 64 KiB is plenty. */
export const MAX_SCHEMA_BYTES = 65_536; // 64 KiB
/**
 * Largest RE2 program one pattern may compile to (RE2JS `programSize()`: `^[a-z]{1,255}$` is
 * 513, `\p{L}{1000}` 1002). Matching costs up to (program size × string length) steps.
 */
export const MAX_PATTERN_PROGRAM_SIZE = 2_000;
/**
 * Matching work one validation may do: the sum over every pattern test of (string length ×
 * program size). About 0.25 s in the worst case measured (a pattern whose automaton defeats
 * RE2's DFA cache); everyday patterns run far faster. `^[A-Za-z0-9+/=]*$` (size 6) still checks
 * a 700 KB string.
 */
export const MAX_PATTERN_WORK = 4_194_304;
/**
 * Most subschemas a schema may apply to one value location through `allOf`/`anyOf`/`oneOf`/
 * `not`/`if`/`$ref` (counted along every path): stops `allOf: [A, A]` chains that double at
 * every level.
 */
export const MAX_IN_PLACE_EXPANSION = 1_000;
/**
 * Longest pattern, in characters, in a schema or as a `format: "regex"` value. Compiling costs
 * 15-50 µs per program instruction, so patterns, their repetition counts (`{n,m}`: at most 1000
 * in total per pattern) and the program size of all patterns of one schema (at most
 * `MAX_SCHEMA_PATTERN_PROGRAM`) are bounded before and while they compile.
 */
export const MAX_PATTERN_LENGTH = 1_000;
/** Sum of the program sizes of every pattern one schema compiles (about 0.5 s of compiling at most). */
export const MAX_SCHEMA_PATTERN_PROGRAM = 20_000;
const MAX_REPEAT_TOTAL = 1_000;
const REPEAT_RE = /\{(\d+)(?:,(\d*))?\}/g;

/** A validation ran out of its matching budget. */
class PatternBudgetError extends Error {
  constructor() {
    super('pattern matching budget exhausted');
    this.name = 'PatternBudgetError';
  }
}

/**
 * Matching work left for the validation running now. Validation is synchronous, so one counter
 * per process is exact; it is unlimited outside `assertValueMatches` (compile-time probes).
 */
let patternWorkLeft = Number.POSITIVE_INFINITY;
/** Program size the schema being compiled may still spend (ajv compiles synchronously, too). */
let compileBudgetLeft = Number.POSITIVE_INFINITY;

function compileLinear(pattern: string): RE2JS {
  const shown = JSON.stringify(pattern.slice(0, 100));
  if (pattern.length > MAX_PATTERN_LENGTH) throw new Error(`pattern ${shown}… is ${pattern.length} characters long; the limit is ${MAX_PATTERN_LENGTH}`);
  let repeats = 0;
  for (const match of pattern.matchAll(REPEAT_RE)) repeats += Math.max(Number(match[1]), Number(match[2] || 0));
  if (repeats > MAX_REPEAT_TOTAL) throw new Error(`pattern ${shown} repeats more than ${MAX_REPEAT_TOTAL} times in total ({n,m} counts)`);
  let compiled: RE2JS;
  try {
    // JSON Schema patterns are ECMA-262 syntax: \u{…}, (?<name>…) and friends become RE2 syntax.
    compiled = RE2JS.compile(RE2JS.translateRegExp(pattern));
  } catch (error) {
    throw new Error(
      `pattern ${shown} is not supported by the linear-time engine (RE2 syntax: no lookaround, no backreferences): ${(error as Error).message}`,
    );
  }
  const size = compiled.programSize();
  if (size > MAX_PATTERN_PROGRAM_SIZE) throw new Error(`pattern ${shown} is too complex (program size ${size}, limit ${MAX_PATTERN_PROGRAM_SIZE})`);
  compileBudgetLeft -= size;
  if (compileBudgetLeft < 0) throw new Error(`the schema's patterns are too complex in total (program size over ${MAX_SCHEMA_PATTERN_PROGRAM})`);
  return compiled;
}

/** ajv's `code.regExp`: RE2 semantics, linear time, metered. */
const linearRegExp = Object.assign(
  (pattern: string) => {
    const compiled = compileLinear(pattern);
    const size = compiled.programSize();
    return {
      test(input: string): boolean {
        patternWorkLeft -= input.length * size;
        if (patternWorkLeft < 0) throw new PatternBudgetError();
        return compiled.test(input);
      },
      // ajv keys its compiled patterns by this text: without it every pattern would share one.
      toString: () => `re2js:${pattern}`,
    };
  },
  // ajv names the engine by this in standalone code, which hotconf does not generate.
  { code: 're2js' },
);

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

/*
 * Static safety of a schema. Every subschema is a node; an edge goes from a subschema to each
 * subschema it applies to the SAME value (allOf/anyOf/oneOf/not/if/then/else/dependentSchemas
 * and references). A cycle of such edges never consumes input: validation recurses until the
 * stack overflows. Keywords that apply to a part of the value (properties, items, ...) consume
 * it, and values are finite, so cycles through them end.
 */

const IN_PLACE_ONE = ['not', 'if', 'then', 'else'];
const IN_PLACE_LIST = ['allOf', 'anyOf', 'oneOf'];
const IN_PLACE_MAP = ['dependentSchemas', 'dependencies'];
const CHILD_ONE = ['additionalProperties', 'propertyNames', 'additionalItems', 'contains', 'unevaluatedItems', 'unevaluatedProperties', 'items'];
const CHILD_LIST = ['prefixItems', 'items'];
const CHILD_MAP = ['properties', 'patternProperties', '$defs', 'definitions'];
const REFS = ['$ref', '$dynamicRef', '$recursiveRef'];
/** Base URI of a schema without `$id`: relative references resolve against it. */
const ROOT_BASE = 'https://schema.hotconf.invalid/root.json';

type SchemaObject = { [key: string]: JsonValue };
const isSchema = (value: JsonValue | undefined): value is SchemaObject | boolean =>
  typeof value === 'boolean' || (typeof value === 'object' && value !== null && !Array.isArray(value));
const escapePointer = (part: string | number) => String(part).replace(/~/g, '~0').replace(/\//g, '~1');

function at(document: JsonValue, pointer: string): JsonValue | undefined {
  let node: JsonValue | undefined = document;
  for (const raw of pointer.split('/').slice(1)) {
    const part = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (node === null || typeof node !== 'object') return undefined;
    node = Array.isArray(node) ? node[Number(part)] : Object.hasOwn(node, part) ? node[part] : undefined;
  }
  return node;
}

/** Throws (a message for BAD_USER_INPUT) when `schema` could recurse without consuming input or fans out too far. */
function assertSafeStructure(schema: JsonValue): void {
  interface Node {
    base: string;
    schema: SchemaObject | boolean;
    inPlace: string[];
    refs: Array<{ keyword: string; ref: string }>;
  }
  const nodes = new Map<string, Node>();
  const resources = new Map<string, string>([[ROOT_BASE, '']]);
  const anchors = new Map<string, string>();
  const dynamicAnchors = new Map<string, string[]>();

  const walk = (start: string, startSchema: SchemaObject | boolean, startBase: string) => {
    const work: Array<{ pointer: string; schema: SchemaObject | boolean; base: string }> = [{ pointer: start, schema: startSchema, base: startBase }];
    while (work.length > 0) {
      const { pointer, schema: node, base: parentBase } = work.pop()!;
      if (nodes.has(pointer)) continue;
      const entry: Node = { base: parentBase, schema: node, inPlace: [], refs: [] };
      nodes.set(pointer, entry);
      if (typeof node === 'boolean') continue;
      let base = parentBase;
      const id = node.$id;
      if (typeof id === 'string') {
        try {
          if (id.startsWith('#')) anchors.set(`${base}${id}`, pointer);
          else {
            const url = new URL(id, base);
            url.hash = '';
            base = url.href;
            resources.set(base, pointer);
          }
        } catch {
          // ajv refuses an $id it cannot resolve when it compiles.
        }
      }
      entry.base = base;
      for (const keyword of ['$anchor', '$dynamicAnchor']) {
        const name = node[keyword];
        if (typeof name !== 'string') continue;
        anchors.set(`${base}#${name}`, pointer);
        if (keyword === '$dynamicAnchor') dynamicAnchors.set(name, [...(dynamicAnchors.get(name) ?? []), pointer]);
      }
      const visit = (child: JsonValue | undefined, childPointer: string, inPlace: boolean) => {
        if (!isSchema(child)) return;
        if (inPlace) entry.inPlace.push(childPointer);
        work.push({ pointer: childPointer, schema: child, base });
      };
      for (const keyword of IN_PLACE_ONE) visit(node[keyword], `${pointer}/${keyword}`, true);
      for (const keyword of CHILD_ONE) visit(node[keyword], `${pointer}/${keyword}`, false);
      for (const keyword of [...IN_PLACE_LIST, ...CHILD_LIST]) {
        const list = node[keyword];
        if (Array.isArray(list)) list.forEach((child, index) => visit(child, `${pointer}/${keyword}/${index}`, IN_PLACE_LIST.includes(keyword)));
      }
      for (const keyword of [...IN_PLACE_MAP, ...CHILD_MAP]) {
        const map = node[keyword];
        if (!isSchema(map) || typeof map === 'boolean') continue;
        for (const [name, child] of Object.entries(map)) visit(child, `${pointer}/${keyword}/${escapePointer(name)}`, IN_PLACE_MAP.includes(keyword));
      }
      for (const keyword of REFS) {
        const ref = node[keyword];
        if (typeof ref === 'string') entry.refs.push({ keyword, ref });
      }
    }
  };
  if (!isSchema(schema)) return;
  walk('', schema, ROOT_BASE);

  // References, resolved once every $id and anchor is known. A target outside the walked
  // keywords (`#/x-common/a`) is walked on demand; one outside the document is a meta-schema
  // (ajv loads nothing else), which never refers back.
  const resolve = (base: string, ref: string): string | null => {
    let url: URL;
    try {
      url = new URL(ref, base);
    } catch {
      return null;
    }
    const fragment = decodeURIComponent(url.hash.slice(1));
    url.hash = '';
    const resource = resources.get(url.href);
    if (resource === undefined) return null;
    if (fragment === '') return resource;
    if (fragment.startsWith('/')) return resource + fragment;
    return anchors.get(`${url.href}#${fragment}`) ?? null;
  };
  for (const [pointer, node] of [...nodes]) {
    for (const { keyword, ref } of node.refs) {
      const targets = new Set<string>();
      const direct = resolve(node.base, ref);
      if (direct !== null) targets.add(direct);
      // Dynamic references may land on any anchor of their name: assume every one.
      if (keyword === '$dynamicRef' && ref.startsWith('#')) for (const target of dynamicAnchors.get(ref.slice(1)) ?? []) targets.add(target);
      if (keyword === '$recursiveRef') for (const [other, candidate] of nodes) if (typeof candidate.schema === 'object' && candidate.schema.$recursiveAnchor === true) targets.add(other);
      for (const target of targets) {
        if (!nodes.has(target)) {
          const found = at(schema, target);
          if (!isSchema(found)) continue;
          walk(target, found, node.base);
        }
        node.inPlace.push(target);
      }
    }
  }

  // Depth-first over in-place edges: a back edge is a cycle; the number of in-place paths from
  // a node (memoised on the acyclic graph) is how many subschemas one value location meets.
  const state = new Map<string, 'open' | number>();
  const expansion = (start: string): number => {
    const stack: Array<{ pointer: string; next: number; total: number }> = [{ pointer: start, next: 0, total: 1 }];
    state.set(start, 'open');
    while (stack.length > 0) {
      const frame = stack[stack.length - 1]!;
      const edges = nodes.get(frame.pointer)!.inPlace;
      if (frame.next < edges.length) {
        const target = edges[frame.next++]!;
        const known = state.get(target);
        if (known === 'open') {
          throw new Error(
            `the subschema at #${target} applies itself to the same value without consuming any of it (through $ref/allOf/anyOf/oneOf/not/if), so checking a value would never end; recursion must go through properties, items or similar`,
          );
        }
        if (known !== undefined) frame.total += known;
        else {
          state.set(target, 'open');
          stack.push({ pointer: target, next: 0, total: 1 });
        }
        continue;
      }
      stack.pop();
      if (frame.total > MAX_IN_PLACE_EXPANSION) {
        throw new Error(`the subschema at #${frame.pointer} applies more than ${MAX_IN_PLACE_EXPANSION} subschemas to one value (through $ref/allOf/anyOf/oneOf); simplify it`);
      }
      state.set(frame.pointer, frame.total);
      const parent = stack[stack.length - 1];
      if (parent) parent.total += frame.total;
    }
    return state.get(start) as number;
  };
  for (const pointer of nodes.keys()) if (!state.has(pointer)) expansion(pointer);
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
  let validate: ValidateFunction;
  compileBudgetLeft = MAX_SCHEMA_PATTERN_PROGRAM;
  try {
    validate = instanceFor(schema).compile(JSON.parse(text) as object | boolean);
  } finally {
    compileBudgetLeft = Number.POSITIVE_INFINITY;
  }
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
  patternWorkLeft = MAX_PATTERN_WORK;
  try {
    valid = validate(value) as boolean;
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
  } finally {
    patternWorkLeft = Number.POSITIVE_INFINITY;
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
