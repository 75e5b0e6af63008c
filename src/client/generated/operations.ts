/** Internal type. DO NOT USE DIRECTLY. */
type Exact<T extends { [key: string]: unknown }> = { [K in keyof T]: T[K] };
/** Internal type. DO NOT USE DIRECTLY. */
export type Incremental<T> = T | { [P in keyof T]?: P extends ' $fragmentName' | '__typename' ? T[P] : never };
import type { TypedDocumentNode as DocumentNode } from '@graphql-typed-document-node/core';
export type Maybe<T> = T | null;
export type InputMaybe<T> = Maybe<T>;
/** All built-in and custom scalars, mapped to their actual values */
export type Scalars = {
  ID: { input: string; output: string; }
  String: { input: string; output: string; }
  Boolean: { input: boolean; output: boolean; }
  Int: { input: number; output: number; }
  Float: { input: number; output: number; }
  /** ISO-8601 date-time string. */
  DateTime: { input: string; output: string; }
  /** JSON value (any JSON except null at the top level of a config value). */
  JSON: { input: unknown; output: unknown; }
  /** Integer up to 2^53-1, used for revisions. */
  SafeInt: { input: number; output: number; }
};

export type BatchSetInput = {
  description?: InputMaybe<Scalars['String']['input']>;
  expectedVersion?: InputMaybe<Scalars['Int']['input']>;
  key: Scalars['String']['input'];
  secret?: InputMaybe<Scalars['Boolean']['input']>;
  value: Scalars['JSON']['input'];
};

export type ChangeOp =
  | 'DELETE'
  | 'SET';

export type ClientStatus = {
  __typename?: 'ClientStatus';
  appliedRevision: Scalars['SafeInt']['output'];
  clientId: Scalars['String']['output'];
  lag: Scalars['SafeInt']['output'];
  lastSeenAt: Scalars['DateTime']['output'];
};

/** One committed change of one key. */
export type ConfigChange = {
  __typename?: 'ConfigChange';
  changedAt: Scalars['DateTime']['output'];
  changedBy?: Maybe<Scalars['String']['output']>;
  key: Scalars['String']['output'];
  namespace: Scalars['String']['output'];
  op: ChangeOp;
  reason?: Maybe<Scalars['String']['output']>;
  redacted: Scalars['Boolean']['output'];
  /** True when delivered from history (resume replay or gap repair). */
  replayed: Scalars['Boolean']['output'];
  revision: Scalars['SafeInt']['output'];
  secret: Scalars['Boolean']['output'];
  /** Trace id of the request that made the change. */
  traceId?: Maybe<Scalars['String']['output']>;
  /** Null for DELETE, and for secret values the caller may not read (then redacted is true). */
  value?: Maybe<Scalars['JSON']['output']>;
  version: Scalars['Int']['output'];
};

/**
 * A page of changes in ascending revision order. revision is the namespace's current revision;
 * a page never splits one revision; the next cursor is the last change's revision.
 */
export type ConfigChangePage = {
  __typename?: 'ConfigChangePage';
  changes: Array<ConfigChange>;
  hasMore: Scalars['Boolean']['output'];
  namespace: Scalars['String']['output'];
  revision: Scalars['SafeInt']['output'];
};

/**
 * What a caller holding the given versions must change to match the gateway:
 * changed = version differs or the caller lacks the key; deleted = the caller has it, the gateway does not.
 */
export type ConfigDrift = {
  __typename?: 'ConfigDrift';
  changed: Array<ConfigEntry>;
  deleted: Array<Scalars['String']['output']>;
  namespace: Scalars['String']['output'];
  revision: Scalars['SafeInt']['output'];
};

/** The current state of one key in a namespace. */
export type ConfigEntry = {
  __typename?: 'ConfigEntry';
  description?: Maybe<Scalars['String']['output']>;
  /** Changes of this key, newest first. */
  history: Array<ConfigChange>;
  key: Scalars['String']['output'];
  namespace: Scalars['String']['output'];
  redacted: Scalars['Boolean']['output'];
  /** The namespace revision of this entry's last change. */
  revision: Scalars['SafeInt']['output'];
  /** JSON Schema every new value must satisfy, if one is set. */
  schema?: Maybe<Scalars['JSON']['output']>;
  secret: Scalars['Boolean']['output'];
  updatedAt: Scalars['DateTime']['output'];
  updatedBy?: Maybe<Scalars['String']['output']>;
  /** Null when the entry is secret and the caller may not read secrets (then redacted is true). */
  value?: Maybe<Scalars['JSON']['output']>;
  /** 1 on create, +1 per change (deletes included), never reused. */
  version: Scalars['Int']['output'];
};


/** The current state of one key in a namespace. */
export type ConfigEntryHistoryArgs = {
  beforeVersion?: InputMaybe<Scalars['Int']['input']>;
  limit?: InputMaybe<Scalars['Int']['input']>;
};

/** All entries of a namespace (optionally under a prefix), consistent at one revision. */
export type ConfigSnapshot = {
  __typename?: 'ConfigSnapshot';
  entries: Array<ConfigEntry>;
  namespace: Scalars['String']['output'];
  revision: Scalars['SafeInt']['output'];
};

export type Convergence = {
  __typename?: 'Convergence';
  clients: Array<ClientStatus>;
  converged: Scalars['Boolean']['output'];
  namespace: Scalars['String']['output'];
  revision: Scalars['SafeInt']['output'];
};

export type FlagEvaluation = {
  __typename?: 'FlagEvaluation';
  /** The user's bucket, 0-99. */
  bucket: Scalars['Int']['output'];
  enabled: Scalars['Boolean']['output'];
  key: Scalars['String']['output'];
  reason: Scalars['String']['output'];
  userId: Scalars['String']['output'];
  version: Scalars['Int']['output'];
};

export type KnownVersion = {
  key: Scalars['String']['input'];
  version: Scalars['Int']['input'];
};

export type Mutation = {
  __typename?: 'Mutation';
  deleteConfig: ConfigChange;
  /** Kill switch: every flag of the namespace off, in one revision. */
  disableAllFlags: Array<ConfigEntry>;
  /** Sent by the SDK after it applied a revision. */
  reportApplied: Scalars['Boolean']['output'];
  /** Writes a NEW version carrying the value of toVersion. */
  rollbackConfig: ConfigEntry;
  setConfig: ConfigEntry;
  /** Several keys in one transaction and one revision: all or nothing. */
  setConfigs: Array<ConfigEntry>;
};


export type MutationDeleteConfigArgs = {
  expectedVersion?: InputMaybe<Scalars['Int']['input']>;
  key: Scalars['String']['input'];
  namespace: Scalars['String']['input'];
  reason?: InputMaybe<Scalars['String']['input']>;
};


export type MutationDisableAllFlagsArgs = {
  namespace: Scalars['String']['input'];
  reason: Scalars['String']['input'];
};


export type MutationReportAppliedArgs = {
  clientId: Scalars['String']['input'];
  namespace: Scalars['String']['input'];
  revision: Scalars['SafeInt']['input'];
};


export type MutationRollbackConfigArgs = {
  expectedVersion?: InputMaybe<Scalars['Int']['input']>;
  key: Scalars['String']['input'];
  namespace: Scalars['String']['input'];
  reason?: InputMaybe<Scalars['String']['input']>;
  toVersion: Scalars['Int']['input'];
};


export type MutationSetConfigArgs = {
  input: SetConfigInput;
};


export type MutationSetConfigsArgs = {
  inputs: Array<BatchSetInput>;
  namespace: Scalars['String']['input'];
  reason?: InputMaybe<Scalars['String']['input']>;
};

export type Namespace = {
  __typename?: 'Namespace';
  entryCount: Scalars['Int']['output'];
  name: Scalars['String']['output'];
  revision: Scalars['SafeInt']['output'];
};

export type Query = {
  __typename?: 'Query';
  config?: Maybe<ConfigEntry>;
  configChanges: ConfigChangePage;
  configDrift: ConfigDrift;
  /** List (then watch from the returned revision). */
  configs: ConfigSnapshot;
  /** Which services have applied which revision. */
  convergence: Convergence;
  evaluateFlag: FlagEvaluation;
  namespaces: Array<Namespace>;
};


export type QueryConfigArgs = {
  key: Scalars['String']['input'];
  namespace: Scalars['String']['input'];
};


export type QueryConfigChangesArgs = {
  limit?: InputMaybe<Scalars['Int']['input']>;
  namespace: Scalars['String']['input'];
  prefix?: InputMaybe<Scalars['String']['input']>;
  sinceRevision: Scalars['SafeInt']['input'];
};


export type QueryConfigDriftArgs = {
  known: Array<KnownVersion>;
  namespace: Scalars['String']['input'];
  prefix?: InputMaybe<Scalars['String']['input']>;
};


export type QueryConfigsArgs = {
  namespace: Scalars['String']['input'];
  prefix?: InputMaybe<Scalars['String']['input']>;
};


export type QueryConvergenceArgs = {
  namespace: Scalars['String']['input'];
};


export type QueryEvaluateFlagArgs = {
  key: Scalars['String']['input'];
  namespace: Scalars['String']['input'];
  userId: Scalars['String']['input'];
};

export type SetConfigInput = {
  /** Omitted keeps the current description. */
  description?: InputMaybe<Scalars['String']['input']>;
  /** Compare-and-set: the version the caller expects; 0 means the key must not exist. */
  expectedVersion?: InputMaybe<Scalars['Int']['input']>;
  key: Scalars['String']['input'];
  namespace: Scalars['String']['input'];
  reason?: InputMaybe<Scalars['String']['input']>;
  /** JSON Schema for this key's values. Omitted keeps the current schema. */
  schema?: InputMaybe<Scalars['JSON']['input']>;
  /** Omitted keeps the current setting. */
  secret?: InputMaybe<Scalars['Boolean']['input']>;
  value: Scalars['JSON']['input'];
};

export type Subscription = {
  __typename?: 'Subscription';
  /**
   * Changes of a namespace in ascending revision order. With sinceRevision, first replays every
   * matching change after it from history (replayed: true), then continues live.
   */
  configChanged: ConfigChange;
};


export type SubscriptionConfigChangedArgs = {
  keys?: InputMaybe<Array<Scalars['String']['input']>>;
  namespace: Scalars['String']['input'];
  prefix?: InputMaybe<Scalars['String']['input']>;
  sinceRevision?: InputMaybe<Scalars['SafeInt']['input']>;
};

export type ChangeOp =
  | 'DELETE'
  | 'SET';

export type ConfigChangedSubscriptionVariables = Exact<{
  namespace: string;
  prefix?: string | null | undefined;
  keys?: Array<string> | string | null | undefined;
  sinceRevision?: number | null | undefined;
}>;


export type ConfigChangedSubscription = { configChanged: { key: string, op: ChangeOp, value: unknown, version: number, revision: number, replayed: boolean, secret: boolean, redacted: boolean } };

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


export type ConvergenceQuery = { convergence: { namespace: string, revision: number, converged: boolean, clients: Array<{ clientId: string, appliedRevision: number, lag: number, lastSeenAt: string }> } };

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


export const ConfigChangedDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"subscription","name":{"kind":"Name","value":"ConfigChanged"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"namespace"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"String"}}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"prefix"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"String"}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"keys"}},"type":{"kind":"ListType","type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"String"}}}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"sinceRevision"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"SafeInt"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"configChanged"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"namespace"},"value":{"kind":"Variable","name":{"kind":"Name","value":"namespace"}}},{"kind":"Argument","name":{"kind":"Name","value":"prefix"},"value":{"kind":"Variable","name":{"kind":"Name","value":"prefix"}}},{"kind":"Argument","name":{"kind":"Name","value":"keys"},"value":{"kind":"Variable","name":{"kind":"Name","value":"keys"}}},{"kind":"Argument","name":{"kind":"Name","value":"sinceRevision"},"value":{"kind":"Variable","name":{"kind":"Name","value":"sinceRevision"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"key"}},{"kind":"Field","name":{"kind":"Name","value":"op"}},{"kind":"Field","name":{"kind":"Name","value":"value"}},{"kind":"Field","name":{"kind":"Name","value":"version"}},{"kind":"Field","name":{"kind":"Name","value":"revision"}},{"kind":"Field","name":{"kind":"Name","value":"replayed"}},{"kind":"Field","name":{"kind":"Name","value":"secret"}},{"kind":"Field","name":{"kind":"Name","value":"redacted"}}]}}]}}]} as unknown as DocumentNode<ConfigChangedSubscription, ConfigChangedSubscriptionVariables>;
export const ConfigChangesDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"ConfigChanges"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"namespace"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"String"}}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"sinceRevision"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"SafeInt"}}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"prefix"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"String"}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"limit"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"Int"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"configChanges"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"namespace"},"value":{"kind":"Variable","name":{"kind":"Name","value":"namespace"}}},{"kind":"Argument","name":{"kind":"Name","value":"sinceRevision"},"value":{"kind":"Variable","name":{"kind":"Name","value":"sinceRevision"}}},{"kind":"Argument","name":{"kind":"Name","value":"prefix"},"value":{"kind":"Variable","name":{"kind":"Name","value":"prefix"}}},{"kind":"Argument","name":{"kind":"Name","value":"limit"},"value":{"kind":"Variable","name":{"kind":"Name","value":"limit"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"namespace"}},{"kind":"Field","name":{"kind":"Name","value":"revision"}},{"kind":"Field","name":{"kind":"Name","value":"hasMore"}},{"kind":"Field","name":{"kind":"Name","value":"changes"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"key"}},{"kind":"Field","name":{"kind":"Name","value":"op"}},{"kind":"Field","name":{"kind":"Name","value":"value"}},{"kind":"Field","name":{"kind":"Name","value":"version"}},{"kind":"Field","name":{"kind":"Name","value":"revision"}},{"kind":"Field","name":{"kind":"Name","value":"changedAt"}},{"kind":"Field","name":{"kind":"Name","value":"changedBy"}},{"kind":"Field","name":{"kind":"Name","value":"reason"}},{"kind":"Field","name":{"kind":"Name","value":"secret"}},{"kind":"Field","name":{"kind":"Name","value":"redacted"}}]}}]}}]}}]} as unknown as DocumentNode<ConfigChangesQuery, ConfigChangesQueryVariables>;
export const ConfigDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"Config"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"namespace"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"String"}}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"key"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"String"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"config"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"namespace"},"value":{"kind":"Variable","name":{"kind":"Name","value":"namespace"}}},{"kind":"Argument","name":{"kind":"Name","value":"key"},"value":{"kind":"Variable","name":{"kind":"Name","value":"key"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"key"}},{"kind":"Field","name":{"kind":"Name","value":"value"}},{"kind":"Field","name":{"kind":"Name","value":"version"}},{"kind":"Field","name":{"kind":"Name","value":"revision"}},{"kind":"Field","name":{"kind":"Name","value":"updatedAt"}},{"kind":"Field","name":{"kind":"Name","value":"updatedBy"}},{"kind":"Field","name":{"kind":"Name","value":"description"}},{"kind":"Field","name":{"kind":"Name","value":"secret"}},{"kind":"Field","name":{"kind":"Name","value":"redacted"}}]}}]}}]} as unknown as DocumentNode<ConfigQuery, ConfigQueryVariables>;
export const ConfigsDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"Configs"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"namespace"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"String"}}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"prefix"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"String"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"configs"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"namespace"},"value":{"kind":"Variable","name":{"kind":"Name","value":"namespace"}}},{"kind":"Argument","name":{"kind":"Name","value":"prefix"},"value":{"kind":"Variable","name":{"kind":"Name","value":"prefix"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"namespace"}},{"kind":"Field","name":{"kind":"Name","value":"revision"}},{"kind":"Field","name":{"kind":"Name","value":"entries"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"key"}},{"kind":"Field","name":{"kind":"Name","value":"value"}},{"kind":"Field","name":{"kind":"Name","value":"version"}},{"kind":"Field","name":{"kind":"Name","value":"revision"}},{"kind":"Field","name":{"kind":"Name","value":"secret"}},{"kind":"Field","name":{"kind":"Name","value":"redacted"}}]}}]}}]}}]} as unknown as DocumentNode<ConfigsQuery, ConfigsQueryVariables>;
export const ConvergenceDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"Convergence"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"namespace"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"String"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"convergence"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"namespace"},"value":{"kind":"Variable","name":{"kind":"Name","value":"namespace"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"namespace"}},{"kind":"Field","name":{"kind":"Name","value":"revision"}},{"kind":"Field","name":{"kind":"Name","value":"converged"}},{"kind":"Field","name":{"kind":"Name","value":"clients"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"clientId"}},{"kind":"Field","name":{"kind":"Name","value":"appliedRevision"}},{"kind":"Field","name":{"kind":"Name","value":"lag"}},{"kind":"Field","name":{"kind":"Name","value":"lastSeenAt"}}]}}]}}]}}]} as unknown as DocumentNode<ConvergenceQuery, ConvergenceQueryVariables>;
export const EvaluateFlagDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"EvaluateFlag"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"namespace"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"String"}}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"key"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"String"}}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"userId"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"String"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"evaluateFlag"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"namespace"},"value":{"kind":"Variable","name":{"kind":"Name","value":"namespace"}}},{"kind":"Argument","name":{"kind":"Name","value":"key"},"value":{"kind":"Variable","name":{"kind":"Name","value":"key"}}},{"kind":"Argument","name":{"kind":"Name","value":"userId"},"value":{"kind":"Variable","name":{"kind":"Name","value":"userId"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"key"}},{"kind":"Field","name":{"kind":"Name","value":"userId"}},{"kind":"Field","name":{"kind":"Name","value":"enabled"}},{"kind":"Field","name":{"kind":"Name","value":"bucket"}},{"kind":"Field","name":{"kind":"Name","value":"version"}},{"kind":"Field","name":{"kind":"Name","value":"reason"}}]}}]}}]} as unknown as DocumentNode<EvaluateFlagQuery, EvaluateFlagQueryVariables>;
export const ReportAppliedDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"ReportApplied"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"namespace"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"String"}}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"clientId"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"String"}}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"revision"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"SafeInt"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"reportApplied"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"namespace"},"value":{"kind":"Variable","name":{"kind":"Name","value":"namespace"}}},{"kind":"Argument","name":{"kind":"Name","value":"clientId"},"value":{"kind":"Variable","name":{"kind":"Name","value":"clientId"}}},{"kind":"Argument","name":{"kind":"Name","value":"revision"},"value":{"kind":"Variable","name":{"kind":"Name","value":"revision"}}}]}]}}]} as unknown as DocumentNode<ReportAppliedMutation, ReportAppliedMutationVariables>;