import { getOperationAST, type DocumentNode } from 'graphql';

/** Members of a request's parameters an operation uses (GraphQL over HTTP, graphql-ws `subscribe`). */
const PARAMS = new Set(['query', 'operationName', 'variables', 'extensions']);
/** Extensions read after a subscription has started: the trace context (use-tracing.ts). */
const EXTENSIONS = new Set(['traceparent', 'tracestate']);

function prune(object: Record<string, unknown>, keep: (name: string) => boolean): void {
  for (const name of Object.keys(object)) if (!keep(name)) delete object[name];
}

/**
 * Drops from a subscription's request parameters, in place, everything its operation does not
 * use: unknown members, variables the operation does not declare, extensions other than the
 * trace context. Those parameters live as long as the subscription, so whatever a caller packs
 * beside the operation (up to HOTCONF_MAX_BODY_BYTES a message) would stay in memory for
 * every one of the hundreds of subscriptions a connection or subject may hold. Used on graphql-ws
 * `subscribe` messages (`compactSubscribeMessage`), whose text graphql-ws keeps.
 */
export function retainUsedParams(params: unknown, document: DocumentNode, operationName: string | null | undefined): void {
  if (typeof params !== 'object' || params === null) return;
  const record = params as Record<string, unknown>;
  prune(record, (name) => PARAMS.has(name));
  const { variables, extensions } = record;
  if (typeof variables === 'object' && variables !== null) {
    const declared = new Set(getOperationAST(document, operationName)?.variableDefinitions?.map((definition) => definition.variable.name.value));
    prune(variables as Record<string, unknown>, (name) => declared.has(name));
  }
  if (typeof extensions === 'object' && extensions !== null) prune(extensions as Record<string, unknown>, (name) => EXTENSIONS.has(name));
}
