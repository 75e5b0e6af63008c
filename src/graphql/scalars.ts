import { GraphQLError, GraphQLScalarType, Kind, type ValueNode } from 'graphql';
import { SecretUnreadableError } from '../core/secret-box.js';
import type { JsonValue } from '../core/types.js';
import { MAX_JSON_DEPTH } from '../core/validation.js';

type Maybe<T> = T | null | undefined;
type ObjMap<T> = { [key: string]: T };

const invalid = (message: string) => new GraphQLError(message, { extensions: { code: 'BAD_USER_INPUT' } });

type Container = JsonValue[] | { [key: string]: JsonValue };

/**
 * Sets `container[key]` as an own property. Plain assignment of `__proto__` on an object would
 * call Object.prototype's setter (changing the prototype, or doing nothing) and drop the key.
 */
function put(container: Container, key: string | number, value: JsonValue): void {
  if (key === '__proto__') Object.defineProperty(container, key, { value, enumerable: true, writable: true, configurable: true });
  else (container as Record<string | number, JsonValue>)[key] = value;
}

/**
 * Deep copy into plain JSON: objects with a normal prototype (a literal written inline in a
 * query arrives prototype-less, which drizzle refuses), every key kept as an own property
 * (`__proto__` included), no undefined, no non-finite numbers. Iterative, so nesting depth
 * costs no stack. Nesting past `MAX_JSON_DEPTH` is refused here, at coercion (a request error:
 * BAD_USER_INPUT, HTTP 400), before a 200,000-deep value is copied at all; the domain applies the
 * same limit to values that arrive any other way.
 */
export function toPlainJson(value: unknown, path = 'value'): JsonValue {
  const root: JsonValue[] = [];
  // depth: how many arrays and objects enclose `source`.
  const work: Array<{ source: unknown; into: Container; key: string | number; depth: number }> = [{ source: value, into: root, key: 0, depth: 0 }];
  const tooDeep = () => invalid(`${path} nests arrays and objects deeper than ${MAX_JSON_DEPTH} levels`);
  while (work.length > 0) {
    const { source, into, key, depth } = work.pop()!;
    if (source === null || typeof source === 'string' || typeof source === 'boolean') {
      put(into, key, source);
    } else if (typeof source === 'number') {
      if (!Number.isFinite(source)) throw invalid(`${path} holds a number that is not finite`);
      put(into, key, source);
    } else if (Array.isArray(source)) {
      if (depth >= MAX_JSON_DEPTH) throw tooDeep();
      const copy: JsonValue[] = new Array<JsonValue>(source.length);
      put(into, key, copy);
      for (let index = source.length - 1; index >= 0; index--) {
        const item: unknown = source[index];
        if (item === undefined) throw invalid(`${path} holds an array item that is not JSON`);
        work.push({ source: item, into: copy, key: index, depth: depth + 1 });
      }
    } else if (typeof source === 'object') {
      if (depth >= MAX_JSON_DEPTH) throw tooDeep();
      const copy: { [key: string]: JsonValue } = {};
      put(into, key, copy);
      // Pushed last to first, so keys are copied (and kept) in their original order.
      for (const [name, item] of Object.entries(source).reverse()) {
        if (item !== undefined) work.push({ source: item, into: copy, key: name, depth: depth + 1 });
      }
    } else {
      throw invalid(`${path} is not JSON`);
    }
  }
  return root[0]!;
}

/** A JSON literal (with variables inside it) as plain JSON; iterative like `toPlainJson`. */
function literalToJson(ast: ValueNode, variables: Maybe<ObjMap<unknown>>): JsonValue {
  const root: JsonValue[] = [];
  const work: Array<{ node: ValueNode; into: Container; key: string | number }> = [{ node: ast, into: root, key: 0 }];
  while (work.length > 0) {
    const { node, into, key } = work.pop()!;
    switch (node.kind) {
      case Kind.NULL:
        put(into, key, null);
        break;
      case Kind.INT:
      case Kind.FLOAT: {
        const number = Number(node.value);
        if (!Number.isFinite(number)) throw invalid('value holds a number that is not finite');
        put(into, key, number);
        break;
      }
      case Kind.STRING:
      case Kind.ENUM:
        put(into, key, node.value);
        break;
      case Kind.BOOLEAN:
        put(into, key, node.value);
        break;
      case Kind.LIST: {
        const copy: JsonValue[] = new Array<JsonValue>(node.values.length);
        put(into, key, copy);
        node.values.forEach((item, index) => work.push({ node: item, into: copy, key: index }));
        break;
      }
      case Kind.OBJECT: {
        const copy: { [key: string]: JsonValue } = {};
        put(into, key, copy);
        for (const field of [...node.fields].reverse()) work.push({ node: field.value, into: copy, key: field.name.value });
        break;
      }
      case Kind.VARIABLE: {
        const bound = variables?.[node.name.value];
        // An unset variable leaves an object field out, as graphql-js does for input objects.
        if (bound === undefined) {
          if (Array.isArray(into)) throw invalid(`variable $${node.name.value} inside a list is not set`);
          break;
        }
        put(into, key, toPlainJson(bound));
        break;
      }
    }
  }
  return root[0]!;
}

export const JSONScalar = new GraphQLScalarType<JsonValue, JsonValue>({
  name: 'JSON',
  description: 'Any JSON value.',
  // A stored secret this gateway cannot decrypt: an error at this field, for a caller allowed to
  // read it (others get null before serialisation), instead of a wrong value.
  serialize: (value) => {
    if (value instanceof SecretUnreadableError) throw value;
    return value as JsonValue;
  },
  parseValue: (value) => toPlainJson(value),
  parseLiteral: (ast: ValueNode, variables) => literalToJson(ast, variables),
});

export const DateTimeScalar = new GraphQLScalarType<Date, string>({
  name: 'DateTime',
  description: 'An ISO-8601 date-time.',
  // Values read from the store are Dates; values decoded from a Redis message are ISO strings.
  serialize: (value) => {
    const date = value instanceof Date ? value : new Date(String(value));
    if (Number.isNaN(date.getTime())) throw new GraphQLError('DateTime cannot represent an invalid date');
    return date.toISOString();
  },
  parseValue: (value) => {
    const date = new Date(String(value));
    if (typeof value !== 'string' || Number.isNaN(date.getTime())) throw invalid('DateTime must be an ISO-8601 string');
    return date;
  },
  parseLiteral: (ast) => {
    if (ast.kind !== Kind.STRING) throw invalid('DateTime must be an ISO-8601 string');
    const date = new Date(ast.value);
    if (Number.isNaN(date.getTime())) throw invalid('DateTime must be an ISO-8601 string');
    return date;
  },
});

function toSafeInt(value: unknown): number {
  const number = typeof value === 'string' && /^-?\d+$/.test(value) ? Number(value) : value;
  if (typeof number !== 'number' || !Number.isSafeInteger(number)) {
    throw invalid(`SafeInt must be an integer between -(2^53-1) and 2^53-1, got ${JSON.stringify(value)?.slice(0, 40)}`);
  }
  return number;
}

export const SafeIntScalar = new GraphQLScalarType<number, number>({
  name: 'SafeInt',
  description: 'An integer up to 2^53-1 (used for revisions).',
  serialize: (value) => toSafeInt(value),
  parseValue: (value) => toSafeInt(value),
  parseLiteral: (ast) => {
    if (ast.kind !== Kind.INT) throw invalid('SafeInt must be an integer literal');
    return toSafeInt(ast.value);
  },
});
