import { Kind, getOperationAST, type ExecutionArgs, type ExecutionResult, type ValueNode } from 'graphql';
import type { DeliveredChange } from '../core/types.js';
import type { GraphQLContext } from './context.js';
import { sourceEventOf } from './projection.js';

/**
 * How a subscription may share one stream of results with others: everything a transport needs
 * to run one execution for many subscribers without knowing the schema.
 */
export interface Shareable {
  /** Subscriptions with the same key receive the same results. */
  key: string;
  /**
   * The position a resuming subscriber already has (everything up to it): it may join a running
   * stream only when that is exactly where the stream's source stands. Null for a live one.
   */
  resume: number | null;
  /** Where the source behind the key stands in this process now; null while it is not followed here. */
  position(): number | null;
  /** Starts following the source, so `position()` is known. */
  follow(): Promise<void>;
  /** The position a result of the stream stands for; undefined for one that is not a change (an error ending the stream). */
  positionOf(result: ExecutionResult): number | undefined;
}

/**
 * Whether, and under which key, a subscription can share its execution with others. Shareable:
 * a `configChanged` whose `sinceRevision` (if any) is a variable; that variable is left out of the
 * key so subscribers resuming from any revision meet under one key, and is returned as `resume`
 * for the join check. The caller's visibility (role, namespaces, secrets) is part of the key
 * because `ConfigChange` output and authorization depend on it; nothing else in the context
 * changes the result.
 *
 * @example
 * const share = shareableSubscription(args); // null: run it on its own
 */
export function shareableSubscription(args: Pick<ExecutionArgs, 'document' | 'operationName' | 'variableValues' | 'contextValue'>): Shareable | null {
  const operation = getOperationAST(args.document, args.operationName);
  if (!operation || operation.operation !== 'subscription') return null;
  const context = args.contextValue as Partial<GraphQLContext> | undefined;
  const feed = context?.feed;
  // Without the feed a group cannot tell where it stands.
  if (!feed) return null;
  const variables = (args.variableValues ?? {}) as Record<string, unknown>;
  const valueOf = (node: ValueNode): unknown =>
    node.kind === Kind.VARIABLE ? variables[node.name.value] : node.kind === Kind.NULL ? null : node.kind === Kind.STRING ? node.value : undefined;
  let keyed = variables;
  let resume: number | null = null;
  let namespace: string | null = null;
  for (const selection of operation.selectionSet.selections) {
    if (selection.kind !== Kind.FIELD || selection.name.value !== 'configChanged') return null;
    const namespaceArgument = selection.arguments?.find((argument) => argument.name.value === 'namespace')?.value;
    const named = namespaceArgument ? valueOf(namespaceArgument) : undefined;
    // Anything the resolver would refuse takes the private path and gets its error there.
    if (typeof named !== 'string') return null;
    namespace = named;
    const since = selection.arguments?.find((argument) => argument.name.value === 'sinceRevision')?.value;
    if (!since || since.kind === Kind.NULL) continue;
    // A literal revision is in the document itself: such subscribers cannot meet in one key.
    if (since.kind !== Kind.VARIABLE) return null;
    const name = since.name.value;
    const revision = variables[name];
    if (revision === undefined || revision === null) {
      // A default would apply the same replay to every member: not a live subscription.
      if (operation.variableDefinitions?.some((definition) => definition.variable.name.value === name && definition.defaultValue)) return null;
      continue;
    }
    if (typeof revision !== 'number' || !Number.isSafeInteger(revision) || revision < 0) return null;
    resume = revision;
    keyed = { ...variables };
    delete keyed[name];
  }
  if (namespace === null) return null;
  const source = args.document.loc?.source.body;
  if (source === undefined) return null;
  const principal = context?.principal ?? null;
  const visibility = principal ? [principal.role, principal.namespaces, principal.secrets] : null;
  const followed = namespace;
  return {
    key: JSON.stringify([source, args.operationName ?? null, keyed, visibility]),
    resume,
    position: () => feed.position(followed),
    follow: async () => {
      await feed.follow(followed);
    },
    positionOf: (result) => (sourceEventOf(result) as Partial<DeliveredChange> | undefined)?.revision,
  };
}
