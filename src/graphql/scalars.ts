import { GraphQLError, GraphQLScalarType, Kind, valueFromASTUntyped, type ValueNode } from 'graphql';
import type { JsonValue } from '../core/types.js';

const invalid = (message: string) => new GraphQLError(message, { extensions: { code: 'BAD_USER_INPUT' } });

/**
 * Deep copy into plain JSON: objects with a normal prototype (a literal written inline in a
 * query arrives prototype-less, which drizzle refuses), no undefined, no non-finite numbers.
 */
export function toPlainJson(value: unknown, path = 'value'): JsonValue {
  if (value === null) return null;
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value;
    case 'number':
      if (!Number.isFinite(value)) throw invalid(`${path} is not a finite number`);
      return value;
    case 'object': {
      if (Array.isArray(value)) return value.map((item, index) => toPlainJson(item, `${path}[${index}]`));
      const out: { [key: string]: JsonValue } = {};
      for (const [key, item] of Object.entries(value as Record<string, unknown>)) {
        if (item !== undefined) out[key] = toPlainJson(item, `${path}.${key}`);
      }
      return out;
    }
    default:
      throw invalid(`${path} is not JSON`);
  }
}

export const JSONScalar = new GraphQLScalarType<JsonValue, JsonValue>({
  name: 'JSON',
  description: 'Any JSON value.',
  serialize: (value) => value as JsonValue,
  parseValue: (value) => toPlainJson(value),
  parseLiteral: (ast: ValueNode, variables) => toPlainJson(valueFromASTUntyped(ast, variables ?? undefined)),
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
