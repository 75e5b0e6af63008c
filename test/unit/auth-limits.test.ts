import { parse } from 'graphql';
import { describe, expect, it } from 'vitest';
import { assertWithinLimits, measureOperations, parseWithLimits } from '../../src/server/use-operation-limits.js';
import { GraphQLGatewayError } from '../../src/server/errors.js';

function limitOf(run: () => unknown): unknown {
  try {
    run();
    return 'ok';
  } catch (error) {
    expect(error).toBeInstanceOf(GraphQLGatewayError);
    expect((error as GraphQLGatewayError).code).toBe('BAD_USER_INPUT');
    return (error as GraphQLGatewayError).extensions.limit;
  }
}

const bomb = (levels: number, fanOut: number) =>
  `{ ...F0 }\n` +
  Array.from({ length: levels }, (_, i) =>
    i === levels - 1 ? `fragment F${i} on Query { __typename }` : `fragment F${i} on Query { ${Array.from({ length: fanOut }, () => `...F${i + 1}`).join(' ')} }`,
  ).join('\n');

describe('operation limits', () => {
  it('measures depth, aliases, cost and root fields through fragments', () => {
    const [stats] = measureOperations(parse(`query { a { b { c } } x: a { ...F } ... on Query { d } } fragment F on A { y: b { c } }`));
    expect(stats).toMatchObject({ depth: 3, aliases: 2, cost: 7, fields: 3 });
  });

  it('measures a fragment bomb (10^9 fields) in linear time and refuses it for cost', () => {
    // Linear: a walk that expanded fragments would never return (the test's timeout would say so).
    expect(limitOf(() => parseWithLimits(bomb(10, 10), undefined))).toBe('cost');
  });

  it('stops lexing at the token limit', () => {
    expect(limitOf(() => parseWithLimits(`{ ${'a '.repeat(2_000_000)} }`, undefined))).toBe('tokens');
  });

  it('refuses each limit just past it and accepts it at the limit', () => {
    const nest = (n: number) => `{ ${'a { '.repeat(n - 1)}b${' }'.repeat(n - 1)} }`;
    expect(limitOf(() => parseWithLimits(nest(15), undefined))).toBe('ok');
    expect(limitOf(() => parseWithLimits(nest(16), undefined))).toBe('depth');
    const aliases = (n: number) => `{ ${Array.from({ length: n }, (_, i) => `a${i}: a`).join(' ')} }`;
    expect(limitOf(() => parseWithLimits(aliases(30), undefined))).toBe('ok');
    expect(limitOf(() => parseWithLimits(aliases(31), undefined))).toBe('aliases');
    expect(limitOf(() => assertWithinLimits(parse(`mutation { a b c }`), { maxRootFields: 2 }))).toBe('root fields');
    expect(limitOf(() => assertWithinLimits(parse(`{ a ${'@skip(if: false) '.repeat(51)} }`)))).toBe('directives');
  });

  it('lets syntax errors through as graphql syntax errors', () => {
    expect(() => parseWithLimits('{ a ', undefined)).toThrow(/Syntax Error/);
  });
});
