/** Internal type. DO NOT USE DIRECTLY. */
type Exact<T extends { [key: string]: unknown }> = { [K in keyof T]: T[K] };
/** Internal type. DO NOT USE DIRECTLY. */
export type Incremental<T> = T | { [P in keyof T]?: P extends ' $fragmentName' | '__typename' ? T[P] : never };
import type { DocumentTypeDecoration } from '@graphql-typed-document-node/core';
export type ChangeOp =
  | 'DELETE'
  | 'SET';

/**
 * CURRENT: the client reported the namespace's current revision. LAGGING: it reported an older one
 * recently. STALE: no report within HOTCONF_CONVERGENCE_TIMEOUT_S (a frozen or partitioned pod);
 * it stays listed, and keeps converged false, until it says goodbye or HOTCONF_CLIENT_RETENTION_H passes.
 */
export type ClientState =
  | 'CURRENT'
  | 'LAGGING'
  | 'STALE';

export type ConfigChangedSubscriptionVariables = Exact<{
  namespace: string;
  prefix?: string | null | undefined;
  keys?: Array<string> | string | null | undefined;
  sinceRevision?: number | null | undefined;
}>;


export type ConfigChangedSubscription = { configChanged: { key: string, op: ChangeOp, value: unknown, version: number, revision: number, replayed: boolean, lastInRevision: boolean, secret: boolean, redacted: boolean } };

export type ConfigChangesQueryVariables = Exact<{
  namespace: string;
  sinceRevision: number;
  prefix?: string | null | undefined;
  limit?: number | null | undefined;
}>;


export type ConfigChangesQuery = { configChanges: { namespace: string, revision: number, hasMore: boolean, changes: Array<{ key: string, op: ChangeOp, value: unknown, version: number, revision: number, changedAt: string, changedBy: string | null, reason: string | null, secret: boolean, redacted: boolean }> } };

export type ConfigQueryVariables = Exact<{
  namespace: string;
  key: string;
}>;


export type ConfigQuery = { config: { key: string, value: unknown, version: number, revision: number, updatedAt: string, updatedBy: string | null, description: string | null, secret: boolean, redacted: boolean } | null };

export type ConfigsQueryVariables = Exact<{
  namespace: string;
  prefix?: string | null | undefined;
}>;


export type ConfigsQuery = { configs: { namespace: string, revision: number, entries: Array<{ key: string, value: unknown, version: number, revision: number, secret: boolean, redacted: boolean }> } };

export type ConvergenceQueryVariables = Exact<{
  namespace: string;
}>;


export type ConvergenceQuery = { convergence: { namespace: string, revision: number, converged: boolean, clients: Array<{ clientId: string, appliedRevision: number, lag: number, lastSeenAt: string, state: ClientState }> } };

export type EvaluateFlagQueryVariables = Exact<{
  namespace: string;
  key: string;
  userId: string;
}>;


export type EvaluateFlagQuery = { evaluateFlag: { key: string, userId: string, enabled: boolean, bucket: number, version: number, reason: string } };

export type ReportAppliedMutationVariables = Exact<{
  namespace: string;
  clientId: string;
  revision: number;
}>;


export type ReportAppliedMutation = { reportApplied: boolean };

export type ReportLeavingMutationVariables = Exact<{
  namespace: string;
  clientId: string;
}>;


export type ReportLeavingMutation = { reportLeaving: boolean };

export class TypedDocumentString<TResult, TVariables>
  extends String
  implements DocumentTypeDecoration<TResult, TVariables>
{
  __apiType?: NonNullable<DocumentTypeDecoration<TResult, TVariables>['__apiType']>;
  private value: string;
  public __meta__?: Record<string, any> | undefined;

  constructor(value: string, __meta__?: Record<string, any> | undefined) {
    super(value);
    this.value = value;
    this.__meta__ = __meta__;
  }

  override toString(): string & DocumentTypeDecoration<TResult, TVariables> {
    return this.value;
  }
}

export const ConfigChangedDocument = new TypedDocumentString(`
    subscription ConfigChanged($namespace: String!, $prefix: String, $keys: [String!], $sinceRevision: SafeInt) {
  configChanged(
    namespace: $namespace
    prefix: $prefix
    keys: $keys
    sinceRevision: $sinceRevision
  ) {
    key
    op
    value
    version
    revision
    replayed
    lastInRevision
    secret
    redacted
  }
}
    `) as unknown as TypedDocumentString<ConfigChangedSubscription, ConfigChangedSubscriptionVariables>;
export const ConfigChangesDocument = new TypedDocumentString(`
    query ConfigChanges($namespace: String!, $sinceRevision: SafeInt!, $prefix: String, $limit: Int) {
  configChanges(
    namespace: $namespace
    sinceRevision: $sinceRevision
    prefix: $prefix
    limit: $limit
  ) {
    namespace
    revision
    hasMore
    changes {
      key
      op
      value
      version
      revision
      changedAt
      changedBy
      reason
      secret
      redacted
    }
  }
}
    `) as unknown as TypedDocumentString<ConfigChangesQuery, ConfigChangesQueryVariables>;
export const ConfigDocument = new TypedDocumentString(`
    query Config($namespace: String!, $key: String!) {
  config(namespace: $namespace, key: $key) {
    key
    value
    version
    revision
    updatedAt
    updatedBy
    description
    secret
    redacted
  }
}
    `) as unknown as TypedDocumentString<ConfigQuery, ConfigQueryVariables>;
export const ConfigsDocument = new TypedDocumentString(`
    query Configs($namespace: String!, $prefix: String) {
  configs(namespace: $namespace, prefix: $prefix) {
    namespace
    revision
    entries {
      key
      value
      version
      revision
      secret
      redacted
    }
  }
}
    `) as unknown as TypedDocumentString<ConfigsQuery, ConfigsQueryVariables>;
export const ConvergenceDocument = new TypedDocumentString(`
    query Convergence($namespace: String!) {
  convergence(namespace: $namespace) {
    namespace
    revision
    converged
    clients {
      clientId
      appliedRevision
      lag
      lastSeenAt
      state
    }
  }
}
    `) as unknown as TypedDocumentString<ConvergenceQuery, ConvergenceQueryVariables>;
export const EvaluateFlagDocument = new TypedDocumentString(`
    query EvaluateFlag($namespace: String!, $key: String!, $userId: String!) {
  evaluateFlag(namespace: $namespace, key: $key, userId: $userId) {
    key
    userId
    enabled
    bucket
    version
    reason
  }
}
    `) as unknown as TypedDocumentString<EvaluateFlagQuery, EvaluateFlagQueryVariables>;
export const ReportAppliedDocument = new TypedDocumentString(`
    mutation ReportApplied($namespace: String!, $clientId: String!, $revision: SafeInt!) {
  reportApplied(namespace: $namespace, clientId: $clientId, revision: $revision)
}
    `) as unknown as TypedDocumentString<ReportAppliedMutation, ReportAppliedMutationVariables>;
export const ReportLeavingDocument = new TypedDocumentString(`
    mutation ReportLeaving($namespace: String!, $clientId: String!) {
  reportLeaving(namespace: $namespace, clientId: $clientId)
}
    `) as unknown as TypedDocumentString<ReportLeavingMutation, ReportLeavingMutationVariables>;