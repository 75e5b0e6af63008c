/**
 * Operation limits (depth, aliases, tokens, cost, root fields, directives) and the introspection
 * guard, applied while a document is parsed.
 *
 * Why not GraphQL Armor (`@escape.tech/graphql-armor-max-depth`, `-max-aliases`, `-max-tokens`,
 * `-cost-limit`, `-max-directives`; evaluated at 2.3-2.6 for issue 13): each would change the
 * contract or need an adapter longer than the code it replaces.
 * - Errors: Armor throws `GraphQLError('Syntax Error: Query depth limit of 15 exceeded, found
 *   16.')` with no `extensions.code`; the contract (and test/integration/limits.test.ts, the fuzz
 *   tests) is `BAD_USER_INPUT`, HTTP 400, with `extensions.limit`/`max`/`actual`. Getting that
 *   back means an `onReject` per plugin that parses Armor's message for the numbers.
 * - Cost: Armor weighs objects 2, scalars 1 and multiplies by 1.5 per level (a fragment bomb is
 *   reported as cost 6.8e20, past safe integers); ours is the number of field selections after
 *   fragment expansion, which is what `maxCost` (5,000) documents.
 * - Depth: Armor counts every inline fragment and spread as a level unless `flattenFragments`;
 *   here fragments never add depth (`{ a { ... on Q { a } } }` is 2 deep, Armor says 3).
 * - Phase: Armor's rules run at validation, after the document is parsed and cached; these
 *   limits refuse it while parsing, and the token limit is graphql-js's own `maxTokens` parse
 *   option (Armor's max-tokens proxies the lexer to do the same).
 * - There is no root-fields limit in Armor.
 * Measuring stays linear on fragment bombs either way (`measureOperations` memoises fragments).
 */
import {
  GraphQLError,
  Kind,
  parse,
  visit,
  BREAK,
  type DocumentNode,
  type FragmentDefinitionNode,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type ParseOptions,
  type SelectionSetNode,
  type Source,
} from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { Guard, Principal } from '../core/types.js';
import { GraphQLGatewayError, HTTP_STATUS } from './errors.js';

/** Limits applied to every GraphQL document before validation or execution. */
export interface OperationLimits {
  /** Deepest field nesting (a root field is depth 1; fragments do not add depth). @default 15 */
  maxDepth?: number;
  /** Aliased fields in one operation, fragments expanded. @default 30 */
  maxAliases?: number;
  /**
   * Lexical tokens in the document; parsing stops as soon as this is passed, so a 10 MiB
   * query costs no more than a small one. Values belong in variables, which do not count.
   * @default 2_000
   */
  maxTokens?: number;
  /** Field selections in one operation after fragment expansion. @default 5_000 */
  maxCost?: number;
  /** Root fields of one operation (e.g. how many mutations one request runs). @default undefined (unchecked) */
  maxRootFields?: number;
  /** Directives in the document. @default 50 */
  maxDirectives?: number;
}

interface Stats {
  depth: number;
  cost: number;
  aliases: number;
  /** Fields at this level once fragments are expanded (for an operation: its root fields). */
  fields: number;
}

const ZERO: Stats = { depth: 0, cost: 0, aliases: 0, fields: 0 };

function limitError(what: string, actual: number, max: number): GraphQLGatewayError {
  return new GraphQLGatewayError('BAD_USER_INPUT', `Operation ${what} ${actual} exceeds the limit of ${max}`, { limit: what, max, actual });
}

/**
 * Depth, alias count and cost of each operation in `document`, with fragments expanded.
 * Fragment results are memoised, so a "fragment bomb" (each fragment spreading the next one
 * many times) costs linear time to measure while its expanded cost is reported in full.
 */
export function measureOperations(document: DocumentNode): Array<Stats & { operation: OperationDefinitionNode }> {
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const definition of document.definitions) {
    if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition);
  }
  const memo = new Map<string, Stats>();
  const inProgress = new Set<string>();

  const fragmentStats = (name: string): Stats => {
    const cached = memo.get(name);
    if (cached) return cached;
    const fragment = fragments.get(name);
    // Unknown or cyclic fragments are for validation to reject; they measure as nothing here.
    if (!fragment || inProgress.has(name)) return ZERO;
    inProgress.add(name);
    const stats = selectionStats(fragment.selectionSet);
    inProgress.delete(name);
    memo.set(name, stats);
    return stats;
  };

  const selectionStats = (set: SelectionSetNode): Stats => {
    let depth = 0;
    let cost = 0;
    let aliases = 0;
    let fields = 0;
    for (const selection of set.selections) {
      let child: Stats;
      if (selection.kind === Kind.FIELD) {
        const inner = selection.selectionSet ? selectionStats(selection.selectionSet) : ZERO;
        child = { depth: inner.depth + 1, cost: inner.cost + 1, aliases: inner.aliases + (selection.alias ? 1 : 0), fields: 1 };
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        child = selectionStats(selection.selectionSet);
      } else {
        child = fragmentStats(selection.name.value);
      }
      depth = Math.max(depth, child.depth);
      cost += child.cost;
      aliases += child.aliases;
      fields += child.fields;
    }
    return { depth, cost, aliases, fields };
  };

  return document.definitions
    .filter((definition): definition is OperationDefinitionNode => definition.kind === Kind.OPERATION_DEFINITION)
    .map((operation) => ({ operation, ...selectionStats(operation.selectionSet) }));
}

/** Throws `BAD_USER_INPUT` (extensions `limit`, `max`, `actual`) when `document` is over a limit. */
export function assertWithinLimits(document: DocumentNode, limits: OperationLimits = {}): void {
  const { maxDepth = 15, maxAliases = 30, maxCost = 5_000, maxRootFields, maxDirectives = 50 } = limits;
  let directives = 0;
  visit(document, {
    Directive() {
      directives += 1;
      if (directives > maxDirectives) return BREAK;
      return undefined;
    },
  });
  if (directives > maxDirectives) throw limitError('directives', directives, maxDirectives);
  for (const stats of measureOperations(document)) {
    if (stats.depth > maxDepth) throw limitError('depth', stats.depth, maxDepth);
    if (stats.aliases > maxAliases) throw limitError('aliases', stats.aliases, maxAliases);
    if (stats.cost > maxCost) throw limitError('cost', stats.cost, maxCost);
    if (maxRootFields !== undefined && stats.fields > maxRootFields) throw limitError('root fields', stats.fields, maxRootFields);
  }
}

/** graphql's syntax error with the standard code (and yoga's HTTP status hint: 400). */
function syntaxError(error: GraphQLError): GraphQLError {
  return new GraphQLError(error.message, {
    source: error.source,
    positions: error.positions,
    extensions: { ...error.extensions, code: 'GRAPHQL_PARSE_FAILED', http: { spec: true, status: 400 } },
  });
}

const TOKEN_LIMIT_MESSAGE = /contains more th(?:an|at|en) \d+ tokens/;

/**
 * `graphql.parse` with the limits enforced: the token limit while lexing, the others on the
 * resulting document. Throws `BAD_USER_INPUT` for an over-limit document and graphql's own
 * syntax error, coded `GRAPHQL_PARSE_FAILED`, otherwise.
 */
export function parseWithLimits(source: string | Source, options: ParseOptions | undefined, limits: OperationLimits = {}): DocumentNode {
  const { maxTokens = 2_000 } = limits;
  let document: DocumentNode;
  try {
    document = parse(source, { ...options, maxTokens: Math.min(options?.maxTokens ?? Infinity, maxTokens) });
  } catch (error) {
    if (error instanceof Error && TOKEN_LIMIT_MESSAGE.test(error.message)) {
      throw new GraphQLGatewayError('BAD_USER_INPUT', `Operation has more than ${maxTokens} tokens; put values in variables`, {
        limit: 'tokens',
        max: maxTokens,
      });
    }
    // Coded here, for every transport: yoga adds the code only to an HTTP request's syntax
    // error, and its parse cache hands the first error made for a text to every later request.
    if (error instanceof GraphQLError) throw syntaxError(error);
    throw error;
  }
  assertWithinLimits(document, limits);
  return document;
}

/** Options of `useOperationLimits`: the limits, plus who may introspect. */
export interface OperationLimitsPluginOptions extends OperationLimits, IntrospectionGuardOptions {}

/**
 * Refuses over-limit operations while they are parsed, before validation and execution, with
 * `BAD_USER_INPUT` errors (HTTP 400), and installs `useIntrospectionGuard` with the same
 * options. Applies to every transport that parses through yoga's envelop (HTTP, SSE, and
 * graphql-ws when its `onSubscribe` uses `yoga.getEnveloped().parse`).
 *
 * @example createYoga({ plugins: [useOperationLimits({ maxDepth: 15, publicIntrospection: config.publicIntrospection })] })
 */
export function useOperationLimits(options: OperationLimitsPluginOptions = {}): Plugin<SecurityContext> {
  const { publicIntrospection, isAuthenticated, ...limits } = options;
  const frozen: OperationLimits = { ...limits };
  return {
    onPluginInit({ addPlugin }) {
      addPlugin(useIntrospectionGuard({ publicIntrospection, isAuthenticated }));
    },
    onParse({ setParseFn }) {
      setParseFn((source, parseOptions) => parseWithLimits(source, parseOptions, frozen));
    },
  };
}

/** Context fields the security plugins read (the lead's GraphQL context provides them). */
export interface SecurityContext {
  guard?: Guard;
  principal?: Principal | null;
}

/** The verified caller of a request, whichever of `guard`/`principal` the context carries. */
export function principalOf(context: SecurityContext | undefined): Principal | null {
  return context?.guard?.principal ?? context?.principal ?? null;
}

/**
 * Whether executing `document` would show any part of the schema: `__schema`, or a `__type`
 * lookup of a type that exists. A `__type` lookup that finds nothing shows nothing (it answers
 * null, as for any unknown name), so GraphQL over HTTP clients that probe with one work without
 * a token; it does tell that no type has that name.
 */
function disclosesSchema(document: DocumentNode, schema: GraphQLSchema, variables: Record<string, unknown> | null | undefined): boolean {
  let found = false;
  visit(document, {
    Field(node) {
      if (node.name.value === '__schema') found = true;
      if (node.name.value === '__type') {
        const argument = node.arguments?.find((candidate) => candidate.name.value === 'name')?.value;
        const name = argument?.kind === Kind.STRING ? argument.value : argument?.kind === Kind.VARIABLE ? variables?.[argument.name.value] : undefined;
        if (typeof name !== 'string' || schema.getType(name) !== undefined) found = true;
      }
      return found ? BREAK : undefined;
    },
  });
  return found;
}

export interface IntrospectionGuardOptions {
  /** Whether anyone, even without a token, may introspect (`publicIntrospection`). @default false */
  publicIntrospection?: boolean;
  /**
   * Whether the request's caller presented a valid token.
   * @default the context's `guard.principal` (or `principal`) is set and is not the anonymous admin
   */
  isAuthenticated?: (context: SecurityContext) => boolean;
}

/**
 * Refuses introspection that would show the schema (`__schema`, `__type` of an existing type) to
 * callers without a valid token (UNAUTHENTICATED, HTTP 401 with a `WWW-Authenticate` challenge)
 * unless `publicIntrospection`. `__typename`, and a `__type` lookup that finds nothing, stay
 * allowed. Checked at execution, not in a validation rule, so yoga's validation cache cannot carry
 * one caller's permission to another.
 */
export function useIntrospectionGuard(options: IntrospectionGuardOptions = {}): Plugin<SecurityContext> {
  const { publicIntrospection = false, isAuthenticated = (context: SecurityContext) => principalOf(context) !== null } = options;
  return {
    onExecute({ args, setResultAndStopExecution }) {
      if (publicIntrospection || isAuthenticated(args.contextValue)) return;
      if (!disclosesSchema(args.document, args.schema, args.variableValues as Record<string, unknown> | null | undefined)) return;
      const error = new GraphQLGatewayError('UNAUTHENTICATED', 'Introspection requires a bearer token');
      setHttpStatus(error);
      setResultAndStopExecution({ errors: [error] });
    },
  };
}

/** The challenge of a 401 without a usable token (RFC 6750): send a bearer token. */
export const BEARER_CHALLENGE = 'Bearer';
/** The challenge of a 401 for a token that is malformed, forged or expired (RFC 6750 §3.1). */
export const INVALID_TOKEN_CHALLENGE = 'Bearer error="invalid_token"';

/**
 * Lets yoga answer with the error code's HTTP status (`HTTP_STATUS`), and headers, when the error
 * decides the response. UNAUTHENTICATED (401) always carries a `WWW-Authenticate` challenge
 * (RFC 9110 §15.5.2), `Bearer` unless `headers` names another.
 */
export function setHttpStatus(error: GraphQLGatewayError, headers?: Record<string, string>): void {
  const status = HTTP_STATUS[error.code];
  const all = error.code === 'UNAUTHENTICATED' ? { 'WWW-Authenticate': BEARER_CHALLENGE, ...headers } : headers;
  // yoga's `http` extension is internal and stripped from responses: attached here only.
  (error.extensions as Record<string, unknown>).http = all ? { status, headers: all } : { status };
}
