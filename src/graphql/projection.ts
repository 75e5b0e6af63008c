import {
  GraphQLError,
  Kind,
  createSourceEventStream,
  defaultFieldResolver,
  execute,
  getNullableType,
  getOperationAST,
  isLeafType,
  isListType,
  isNonNullType,
  isObjectType,
  type DocumentNode,
  type ExecutionArgs,
  type ExecutionResult,
  type FieldNode,
  type FragmentDefinitionNode,
  type GraphQLField,
  type GraphQLObjectType,
  type GraphQLOutputType,
  type GraphQLResolveInfo,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type SelectionSetNode,
} from 'graphql';
import { getArgumentValues } from 'graphql/execution/values.js';
import type { Plugin } from 'graphql-yoga';
import { UNFINISHED, collect, isThenable, projectObject, resolveInfo, type CompiledField, type Completer } from './compiled-selection.js';

/**
 * Subscription events turned into results without a GraphQL execution per event.
 *
 * A subscription's selection set is compiled once per document into a plan: for each field, the
 * schema's own resolver and how to complete its value (a leaf's `serialize`, a nested object's
 * plan). Each event of the stream is projected with it — the same resolvers, in the same order,
 * with the same arguments and context, so authorization and redaction stay the resolvers'. What
 * the plan does not handle (directives, abstract types, lists of objects, repeated response keys)
 * compiles to no plan; an event a plan cannot finish synchronously and without an error (a
 * resolver that returns a promise or throws, a null in a non-null position) is executed normally,
 * so its result (errors included) is exactly graphql-js' own.
 */

/** One subscription operation, compiled against a schema; `bind` fixes its variables. */
interface CompiledOperation {
  bind(variables: Record<string, unknown>): ((event: unknown, context: unknown) => ExecutionResult | null) | null;
}

const cache = new WeakMap<GraphQLSchema, WeakMap<DocumentNode, Map<string, CompiledOperation | null>>>();

/** The compiled plan of a subscription `document` (cached per schema and document), or null. */
export function compileSubscription(schema: GraphQLSchema, document: DocumentNode, operationName?: string | null): CompiledOperation | null {
  let documents = cache.get(schema);
  if (!documents) cache.set(schema, (documents = new WeakMap()));
  let operations = documents.get(document);
  if (!operations) documents.set(document, (operations = new Map()));
  const name = operationName ?? '';
  if (operations.has(name)) return operations.get(name)!;
  let compiled: CompiledOperation | null = null;
  try {
    compiled = compile(schema, document, operationName);
  } catch {
    compiled = null;
  }
  operations.set(name, compiled);
  return compiled;
}

function compile(schema: GraphQLSchema, document: DocumentNode, operationName?: string | null): CompiledOperation | null {
  const operation = getOperationAST(document, operationName);
  const root = schema.getSubscriptionType();
  if (!operation || operation.operation !== 'subscription' || !root || operation.directives?.length) return null;
  const fragments: Record<string, FragmentDefinitionNode> = Object.create(null);
  for (const definition of document.definitions) if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments[definition.name.value] = definition;
  const rootFields = collect(root, operation.selectionSet, fragments);
  // A subscription has exactly one root field (validation); its resolver maps the event.
  if (!rootFields || rootFields.length !== 1) return null;
  const [rootNode] = rootFields as [FieldNode];
  const rootDef = root.getFields()[rootNode.name.value];
  if (!rootDef) return null;

  return {
    bind(variables) {
      const compileField = (parentType: GraphQLObjectType, node: FieldNode, path: readonly (string | number)[]): CompiledField | null => {
        const responseKey = node.alias?.value ?? node.name.value;
        if (node.name.value === '__typename') return { responseKey, resolve: () => parentType.name, complete: (value) => value };
        const field = parentType.getFields()[node.name.value];
        if (!field) return null;
        const info = resolveInfo(schema, operation, fragments, variables, parentType, field, node, [...path, responseKey]);
        const args = getArgumentValues(field, node, variables);
        const complete = completer(field.type, node, [...path, responseKey]);
        if (!complete) return null;
        const resolver = field.resolve;
        const resolve = resolver
          ? (source: unknown, context: unknown) => resolver(source, args, context, info)
          : (source: unknown, context: unknown) => defaultFieldResolver(source, args, context, info);
        return { responseKey, resolve, complete };
      };

      /** How to complete a value of `type` selected by `node`, or null when the plan cannot. */
      const completer = (type: GraphQLOutputType, node: FieldNode, path: readonly (string | number)[]): Completer | null => {
        const nonNull = isNonNullType(type);
        const inner = getNullableType(type);
        let completeInner: Completer | null;
        if (isLeafType(inner)) {
          completeInner = (value) => {
            const serialized = inner.serialize(value);
            return serialized === undefined ? UNFINISHED : serialized;
          };
        } else if (isObjectType(inner)) {
          if (!node.selectionSet) return null;
          const selected = collect(inner, node.selectionSet, fragments);
          if (!selected) return null;
          const fields: CompiledField[] = [];
          for (const child of selected) {
            const compiled = compileField(inner, child, path);
            if (!compiled) return null;
            fields.push(compiled);
          }
          completeInner = (value, context) => projectObject(fields, value, context);
        } else if (isListType(inner)) {
          const item = getNullableType(inner.ofType as GraphQLOutputType);
          const itemNonNull = isNonNullType(inner.ofType);
          // Lists of objects (a path per index) or of lists are left to execution.
          if (!isLeafType(item)) return null;
          completeInner = (value) => {
            if (!Array.isArray(value)) return UNFINISHED;
            const out: unknown[] = [];
            for (const element of value) {
              if (element === null || element === undefined) {
                if (itemNonNull) return UNFINISHED;
                out.push(null);
                continue;
              }
              const serialized = item.serialize(element);
              if (serialized === undefined) return UNFINISHED;
              out.push(serialized);
            }
            return out;
          };
        } else {
          return null;
        }
        const completeValue = completeInner;
        return (value, context) => {
          if (value === null || value === undefined) return nonNull ? UNFINISHED : null;
          if (value instanceof Error) return UNFINISHED;
          return completeValue(value, context);
        };
      };

      try {
        const root = compileField(rootType(schema), rootNode, []);
        if (!root) return null;
        return (event, context) => {
          try {
            const value = root.resolve(event, context);
            if (isThenable(value)) return null;
            const completed = root.complete(value, context);
            if (completed === UNFINISHED) return null;
            return { data: { [root.responseKey]: completed } };
          } catch {
            return null;
          }
        };
      } catch {
        // Arguments the plan cannot coerce: normal execution reports them.
        return null;
      }
    },
  };
}

const rootType = (schema: GraphQLSchema) => schema.getSubscriptionType()!;

/** The source event each subscription result was made from, for whoever needs to know where a result stands. */
const sourceEvents = new WeakMap<ExecutionResult, unknown>();

/** The event `result` was made from, when it came from a stream of {@link useProjectedSubscriptions}. */
export function sourceEventOf(result: ExecutionResult): unknown {
  return sourceEvents.get(result);
}

/**
 * Subscriptions run as the spec's Subscribe algorithm (source stream, then each event mapped to
 * a result), with each event projected by the operation's compiled plan instead of executed;
 * events it cannot finish, and operations it cannot compile, are executed per event by graphql-js.
 * Each result remembers its event ({@link sourceEventOf}). Put it first: it replaces the engine's
 * subscribe, and the plugins after it wrap this one.
 */
export function useProjectedSubscriptions(): Plugin {
  return {
    onSubscribe({ setSubscribeFn }) {
      setSubscribeFn(projectedSubscribe);
    },
  };
}

/** `subscribe` of graphql-js, with events projected where the operation compiles. */
export async function projectedSubscribe(args: ExecutionArgs): Promise<AsyncGenerator<ExecutionResult, void, void> | ExecutionResult> {
  const source = await createSourceEventStream(args);
  if (!isAsyncIterable(source)) return source;
  const plan = compileSubscription(args.schema, args.document, args.operationName)?.bind((args.variableValues ?? {}) as Record<string, unknown>) ?? null;
  const toResult = async (event: unknown): Promise<ExecutionResult> => {
    const result = plan?.(event, args.contextValue) ?? (await execute({ ...args, rootValue: event }));
    sourceEvents.set(result, event);
    return result;
  };
  const stream = mapStream(source, toResult);
  // As yoga's engine does: a request aborted (an SSE client gone) ends the source stream.
  const signal = (args as ExecutionArgs & { signal?: AbortSignal }).signal;
  if (signal) {
    const abort = () => void stream.return(undefined).catch(() => {});
    if (signal.aborted) abort();
    else signal.addEventListener('abort', abort, { once: true });
  }
  return stream;
}

const isAsyncIterable = (value: unknown): value is AsyncIterable<unknown> =>
  typeof value === 'object' && value !== null && typeof (value as Record<symbol, unknown>)[Symbol.asyncIterator] === 'function';

/** `source` mapped by `map`, ending (and returning `source`) when its consumer ends early; errors of `source` propagate as graphql-js' mapAsyncIterator does. */
function mapStream<T, R>(source: AsyncIterable<T>, map: (value: T) => Promise<R>): AsyncGenerator<R, void, void> {
  const iterator = source[Symbol.asyncIterator]();
  const close = async () => {
    await iterator.return?.();
  };
  const step = async (result: IteratorResult<T>): Promise<IteratorResult<R, void>> => {
    if (result.done) return { value: undefined, done: true };
    try {
      return { value: await map(result.value), done: false };
    } catch (error) {
      await close().catch(() => {});
      throw error;
    }
  };
  const stream: AsyncGenerator<R, void, void> = {
    next: () => iterator.next().then(step),
    return: async () => {
      await close();
      return { value: undefined, done: true };
    },
    throw: async (error?: unknown) => {
      await close();
      throw error instanceof Error ? error : new GraphQLError(String(error));
    },
    [Symbol.asyncIterator]: () => stream,
    [Symbol.asyncDispose]: close,
  } as AsyncGenerator<R, void, void>;
  return stream;
}
