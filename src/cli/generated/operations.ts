/** Internal type. DO NOT USE DIRECTLY. */
type Exact<T extends { [key: string]: unknown }> = { [K in keyof T]: T[K] };
/** Internal type. DO NOT USE DIRECTLY. */
export type Incremental<T> = T | { [P in keyof T]?: P extends ' $fragmentName' | '__typename' ? T[P] : never };
import type { DocumentTypeDecoration } from '@graphql-typed-document-node/core';
export type BatchSetInput = {
  /** Omitted keeps the current description. */
  description?: string | null | undefined;
  /** Compare-and-set: the version the caller expects; 0 means the key must not exist. */
  expectedVersion?: number | null | undefined;
  key: string;
  /** JSON Schema for this key's values. Omitted keeps the current schema. */
  schema?: unknown;
  /** Omitted keeps the current setting. */
  secret?: boolean | null | undefined;
  value: unknown;
};

export type ChangeOp =
  | 'DELETE'
  | 'SET';

export type SetConfigInput = {
  /** Omitted keeps the current description. */
  description?: string | null | undefined;
  /** Compare-and-set: the version the caller expects; 0 means the key must not exist. */
  expectedVersion?: number | null | undefined;
  key: string;
  namespace: string;
  reason?: string | null | undefined;
  /** JSON Schema for this key's values. Omitted keeps the current schema. */
  schema?: unknown;
  /** Omitted keeps the current setting. */
  secret?: boolean | null | undefined;
  value: unknown;
};

export type CliChangesQueryVariables = Exact<{
  namespace: string;
  sinceRevision: number;
  prefix?: string | null | undefined;
  limit?: number | null | undefined;
}>;


export type CliChangesQuery = { configChanges: { revision: number, hasMore: boolean, changes: Array<{ namespace: string, key: string, op: ChangeOp, version: number, revision: number, value: unknown, changedAt: string, changedBy: string | null, reason: string | null, replayed: boolean, secret: boolean, redacted: boolean }> } };

export type CliDeleteConfigMutationVariables = Exact<{
  namespace: string;
  key: string;
  expectedVersion?: number | null | undefined;
  reason?: string | null | undefined;
}>;


export type CliDeleteConfigMutation = { deleteConfig: { namespace: string, key: string, op: ChangeOp, version: number, revision: number, value: unknown, changedAt: string, changedBy: string | null, reason: string | null, replayed: boolean, secret: boolean, redacted: boolean } };

export type CliDisableAllFlagsMutationVariables = Exact<{
  namespace: string;
  reason: string;
}>;


export type CliDisableAllFlagsMutation = { disableAllFlags: Array<{ key: string, value: unknown, version: number, revision: number, updatedAt: string, updatedBy: string | null, secret: boolean, redacted: boolean }> };

export type CliEntryQueryVariables = Exact<{
  namespace: string;
  key: string;
}>;


export type CliEntryQuery = { config: { description: string | null, schema: unknown, key: string, value: unknown, version: number, revision: number, updatedAt: string, updatedBy: string | null, secret: boolean, redacted: boolean } | null };

export type CliExportQueryVariables = Exact<{
  namespace: string;
  prefix?: string | null | undefined;
}>;


export type CliExportQuery = { configs: { namespace: string, revision: number, entries: Array<{ key: string, value: unknown, version: number, description: string | null, secret: boolean, redacted: boolean, schema: unknown }> } };

export type CliEntryFieldsFragment = { key: string, value: unknown, version: number, revision: number, updatedAt: string, updatedBy: string | null, secret: boolean, redacted: boolean };

export type CliChangeFieldsFragment = { namespace: string, key: string, op: ChangeOp, version: number, revision: number, value: unknown, changedAt: string, changedBy: string | null, reason: string | null, replayed: boolean, secret: boolean, redacted: boolean };

export type CliExportedFieldsFragment = { key: string, value: unknown, version: number, description: string | null, secret: boolean, redacted: boolean, schema: unknown };

export type CliRestoredFieldsFragment = { key: string, value: unknown, version: number, description: string | null, secret: boolean, redacted: boolean, schema: unknown };

export type CliHistoryQueryVariables = Exact<{
  namespace: string;
  key: string;
  limit?: number | null | undefined;
}>;


export type CliHistoryQuery = { config: { key: string, version: number, history: Array<{ namespace: string, key: string, op: ChangeOp, version: number, revision: number, value: unknown, changedAt: string, changedBy: string | null, reason: string | null, replayed: boolean, secret: boolean, redacted: boolean }> } | null };

export type CliKeysQueryVariables = Exact<{
  namespace: string;
}>;


export type CliKeysQuery = { configs: { entries: Array<{ key: string }> } };

export type CliNamespacesQueryVariables = Exact<{ [key: string]: never; }>;


export type CliNamespacesQuery = { namespaces: Array<{ name: string, revision: number, entryCount: number }> };

export type CliRestoreConfigsMutationVariables = Exact<{
  namespace: string;
  toRevision: number;
  prefix?: string | null | undefined;
  expectedRevision?: number | null | undefined;
  reason?: string | null | undefined;
}>;


export type CliRestoreConfigsMutation = { restoreConfigs: { namespace: string, revision: number, entries: Array<{ key: string }> } };

export type CliRestorePlanQueryVariables = Exact<{
  namespace: string;
  toRevision: number;
  prefix?: string | null | undefined;
}>;


export type CliRestorePlanQuery = { restorePlan: { namespace: string, revision: number, toRevision: number, changes: Array<{ key: string, op: ChangeOp, current: { key: string, value: unknown, version: number, description: string | null, secret: boolean, redacted: boolean, schema: unknown } | null, restored: { key: string, value: unknown, version: number, description: string | null, secret: boolean, redacted: boolean, schema: unknown } | null }> } };

export type CliRollbackConfigMutationVariables = Exact<{
  namespace: string;
  key: string;
  toVersion: number;
  expectedVersion?: number | null | undefined;
  reason?: string | null | undefined;
}>;


export type CliRollbackConfigMutation = { rollbackConfig: { key: string, value: unknown, version: number, revision: number, updatedAt: string, updatedBy: string | null, secret: boolean, redacted: boolean } };

export type CliSetConfigMutationVariables = Exact<{
  input: SetConfigInput;
}>;


export type CliSetConfigMutation = { setConfig: { key: string, value: unknown, version: number, revision: number, updatedAt: string, updatedBy: string | null, secret: boolean, redacted: boolean } };

export type CliSetConfigsMutationVariables = Exact<{
  namespace: string;
  inputs: Array<BatchSetInput> | BatchSetInput;
  reason?: string | null | undefined;
}>;


export type CliSetConfigsMutation = { setConfigs: Array<{ key: string, version: number, revision: number }> };

export type CliWatchSubscriptionVariables = Exact<{
  namespace: string;
  prefix?: string | null | undefined;
  keys?: Array<string> | string | null | undefined;
  sinceRevision?: number | null | undefined;
}>;


export type CliWatchSubscription = { configChanged: { namespace: string, key: string, op: ChangeOp, version: number, revision: number, value: unknown, changedAt: string, changedBy: string | null, reason: string | null, replayed: boolean, secret: boolean, redacted: boolean } };

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
export const CliEntryFieldsFragmentDoc = new TypedDocumentString(`
    fragment CliEntryFields on ConfigEntry {
  key
  value
  version
  revision
  updatedAt
  updatedBy
  secret
  redacted
}
    `, {"fragmentName":"CliEntryFields"}) as unknown as TypedDocumentString<CliEntryFieldsFragment, unknown>;
export const CliChangeFieldsFragmentDoc = new TypedDocumentString(`
    fragment CliChangeFields on ConfigChange {
  namespace
  key
  op
  version
  revision
  value
  changedAt
  changedBy
  reason
  replayed
  secret
  redacted
}
    `, {"fragmentName":"CliChangeFields"}) as unknown as TypedDocumentString<CliChangeFieldsFragment, unknown>;
export const CliExportedFieldsFragmentDoc = new TypedDocumentString(`
    fragment CliExportedFields on ConfigEntry {
  key
  value
  version
  description
  secret
  redacted
  schema
}
    `, {"fragmentName":"CliExportedFields"}) as unknown as TypedDocumentString<CliExportedFieldsFragment, unknown>;
export const CliRestoredFieldsFragmentDoc = new TypedDocumentString(`
    fragment CliRestoredFields on RestoredState {
  key
  value
  version
  description
  secret
  redacted
  schema
}
    `, {"fragmentName":"CliRestoredFields"}) as unknown as TypedDocumentString<CliRestoredFieldsFragment, unknown>;
export const CliChangesDocument = new TypedDocumentString(`
    query CliChanges($namespace: String!, $sinceRevision: SafeInt!, $prefix: String, $limit: Int) {
  configChanges(
    namespace: $namespace
    sinceRevision: $sinceRevision
    prefix: $prefix
    limit: $limit
  ) {
    revision
    hasMore
    changes {
      ...CliChangeFields
    }
  }
}
    fragment CliChangeFields on ConfigChange {
  namespace
  key
  op
  version
  revision
  value
  changedAt
  changedBy
  reason
  replayed
  secret
  redacted
}`) as unknown as TypedDocumentString<CliChangesQuery, CliChangesQueryVariables>;
export const CliDeleteConfigDocument = new TypedDocumentString(`
    mutation CliDeleteConfig($namespace: String!, $key: String!, $expectedVersion: Int, $reason: String) {
  deleteConfig(
    namespace: $namespace
    key: $key
    expectedVersion: $expectedVersion
    reason: $reason
  ) {
    ...CliChangeFields
  }
}
    fragment CliChangeFields on ConfigChange {
  namespace
  key
  op
  version
  revision
  value
  changedAt
  changedBy
  reason
  replayed
  secret
  redacted
}`) as unknown as TypedDocumentString<CliDeleteConfigMutation, CliDeleteConfigMutationVariables>;
export const CliDisableAllFlagsDocument = new TypedDocumentString(`
    mutation CliDisableAllFlags($namespace: String!, $reason: String!) {
  disableAllFlags(namespace: $namespace, reason: $reason) {
    ...CliEntryFields
  }
}
    fragment CliEntryFields on ConfigEntry {
  key
  value
  version
  revision
  updatedAt
  updatedBy
  secret
  redacted
}`) as unknown as TypedDocumentString<CliDisableAllFlagsMutation, CliDisableAllFlagsMutationVariables>;
export const CliEntryDocument = new TypedDocumentString(`
    query CliEntry($namespace: String!, $key: String!) {
  config(namespace: $namespace, key: $key) {
    ...CliEntryFields
    description
    schema
  }
}
    fragment CliEntryFields on ConfigEntry {
  key
  value
  version
  revision
  updatedAt
  updatedBy
  secret
  redacted
}`) as unknown as TypedDocumentString<CliEntryQuery, CliEntryQueryVariables>;
export const CliExportDocument = new TypedDocumentString(`
    query CliExport($namespace: String!, $prefix: String) {
  configs(namespace: $namespace, prefix: $prefix) {
    namespace
    revision
    entries {
      ...CliExportedFields
    }
  }
}
    fragment CliExportedFields on ConfigEntry {
  key
  value
  version
  description
  secret
  redacted
  schema
}`) as unknown as TypedDocumentString<CliExportQuery, CliExportQueryVariables>;
export const CliHistoryDocument = new TypedDocumentString(`
    query CliHistory($namespace: String!, $key: String!, $limit: Int) {
  config(namespace: $namespace, key: $key) {
    key
    version
    history(limit: $limit) {
      ...CliChangeFields
    }
  }
}
    fragment CliChangeFields on ConfigChange {
  namespace
  key
  op
  version
  revision
  value
  changedAt
  changedBy
  reason
  replayed
  secret
  redacted
}`) as unknown as TypedDocumentString<CliHistoryQuery, CliHistoryQueryVariables>;
export const CliKeysDocument = new TypedDocumentString(`
    query CliKeys($namespace: String!) {
  configs(namespace: $namespace) {
    entries {
      key
    }
  }
}
    `) as unknown as TypedDocumentString<CliKeysQuery, CliKeysQueryVariables>;
export const CliNamespacesDocument = new TypedDocumentString(`
    query CliNamespaces {
  namespaces {
    name
    revision
    entryCount
  }
}
    `) as unknown as TypedDocumentString<CliNamespacesQuery, CliNamespacesQueryVariables>;
export const CliRestoreConfigsDocument = new TypedDocumentString(`
    mutation CliRestoreConfigs($namespace: String!, $toRevision: SafeInt!, $prefix: String, $expectedRevision: SafeInt, $reason: String) {
  restoreConfigs(
    namespace: $namespace
    toRevision: $toRevision
    prefix: $prefix
    expectedRevision: $expectedRevision
    reason: $reason
  ) {
    namespace
    revision
    entries {
      key
    }
  }
}
    `) as unknown as TypedDocumentString<CliRestoreConfigsMutation, CliRestoreConfigsMutationVariables>;
export const CliRestorePlanDocument = new TypedDocumentString(`
    query CliRestorePlan($namespace: String!, $toRevision: SafeInt!, $prefix: String) {
  restorePlan(namespace: $namespace, toRevision: $toRevision, prefix: $prefix) {
    namespace
    revision
    toRevision
    changes {
      key
      op
      current {
        ...CliExportedFields
      }
      restored {
        ...CliRestoredFields
      }
    }
  }
}
    fragment CliExportedFields on ConfigEntry {
  key
  value
  version
  description
  secret
  redacted
  schema
}
fragment CliRestoredFields on RestoredState {
  key
  value
  version
  description
  secret
  redacted
  schema
}`) as unknown as TypedDocumentString<CliRestorePlanQuery, CliRestorePlanQueryVariables>;
export const CliRollbackConfigDocument = new TypedDocumentString(`
    mutation CliRollbackConfig($namespace: String!, $key: String!, $toVersion: Int!, $expectedVersion: Int, $reason: String) {
  rollbackConfig(
    namespace: $namespace
    key: $key
    toVersion: $toVersion
    expectedVersion: $expectedVersion
    reason: $reason
  ) {
    ...CliEntryFields
  }
}
    fragment CliEntryFields on ConfigEntry {
  key
  value
  version
  revision
  updatedAt
  updatedBy
  secret
  redacted
}`) as unknown as TypedDocumentString<CliRollbackConfigMutation, CliRollbackConfigMutationVariables>;
export const CliSetConfigDocument = new TypedDocumentString(`
    mutation CliSetConfig($input: SetConfigInput!) {
  setConfig(input: $input) {
    ...CliEntryFields
  }
}
    fragment CliEntryFields on ConfigEntry {
  key
  value
  version
  revision
  updatedAt
  updatedBy
  secret
  redacted
}`) as unknown as TypedDocumentString<CliSetConfigMutation, CliSetConfigMutationVariables>;
export const CliSetConfigsDocument = new TypedDocumentString(`
    mutation CliSetConfigs($namespace: String!, $inputs: [BatchSetInput!]!, $reason: String) {
  setConfigs(namespace: $namespace, inputs: $inputs, reason: $reason) {
    key
    version
    revision
  }
}
    `) as unknown as TypedDocumentString<CliSetConfigsMutation, CliSetConfigsMutationVariables>;
export const CliWatchDocument = new TypedDocumentString(`
    subscription CliWatch($namespace: String!, $prefix: String, $keys: [String!], $sinceRevision: SafeInt) {
  configChanged(
    namespace: $namespace
    prefix: $prefix
    keys: $keys
    sinceRevision: $sinceRevision
  ) {
    ...CliChangeFields
  }
}
    fragment CliChangeFields on ConfigChange {
  namespace
  key
  op
  version
  revision
  value
  changedAt
  changedBy
  reason
  replayed
  secret
  redacted
}`) as unknown as TypedDocumentString<CliWatchSubscription, CliWatchSubscriptionVariables>;