import type { JsonValue } from '../../core/types.js';
import type { GraphQLResolveInfo, GraphQLScalarType, GraphQLScalarTypeConfig } from 'graphql';
import type { EntryModel, ChangeModel, SnapshotModel, ChangePageModel, DriftModel, RestorePlanModel, RestoreChangeModel } from '../mappers.js';
import type { GraphQLContext } from '../context.js';
export type Maybe<T> = T | null;
export type InputMaybe<T> = T | null | undefined;
export type RequireFields<T, K extends keyof T> = Omit<T, K> & { [P in K]-?: NonNullable<T[P]> };
/** All built-in and custom scalars, mapped to their actual values */
export type Scalars = {
  ID: { input: string; output: string; }
  String: { input: string; output: string; }
  Boolean: { input: boolean; output: boolean; }
  Int: { input: number; output: number; }
  Float: { input: number; output: number; }
  /** ISO-8601 date-time string (RFC 3339, UTC), e.g. 2026-11-29T19:24:34.000Z. */
  DateTime: { input: Date; output: Date | string; }
  /** JSON value (any JSON except null at the top level of a config value). */
  JSON: { input: JsonValue; output: JsonValue; }
  /** Integer from -(2^53-1) to 2^53-1 (a JavaScript safe integer), used for revisions. */
  SafeInt: { input: number; output: number; }
};

export type BatchSetInput = {
  /** Omitted keeps the current description. */
  description?: InputMaybe<Scalars['String']['input']>;
  /** Compare-and-set: the version the caller expects; 0 means the key must not exist. */
  expectedVersion?: InputMaybe<Scalars['Int']['input']>;
  key: Scalars['String']['input'];
  /** JSON Schema for this key's values. Omitted keeps the current schema. */
  schema?: InputMaybe<Scalars['JSON']['input']>;
  /** Omitted keeps the current setting. */
  secret?: InputMaybe<Scalars['Boolean']['input']>;
  value: Scalars['JSON']['input'];
};

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

export type ClientStatus = {
  __typename?: 'ClientStatus';
  appliedRevision: Scalars['SafeInt']['output'];
  clientId: Scalars['String']['output'];
  /** Namespace revision minus appliedRevision. */
  lag: Scalars['SafeInt']['output'];
  lastSeenAt: Scalars['DateTime']['output'];
  state: ClientState;
};

/** One committed change of one key. */
export type ConfigChange = {
  __typename?: 'ConfigChange';
  changedAt: Scalars['DateTime']['output'];
  changedBy?: Maybe<Scalars['String']['output']>;
  /**
   * The key's entry as this change left it (null after a DELETE). Selecting it in a subscription
   * or a mutation lets a normalised client cache (Apollo, urql Graphcache) update the cached entry.
   */
  entry?: Maybe<ConfigEntry>;
  /** <namespace>/<key>@<version> */
  id: Scalars['ID']['output'];
  key: Scalars['String']['output'];
  /**
   * True on the last change of its revision that this subscription (or page) carries, after
   * filtering by keys/prefix; false on the others. A reader that applies a revision when this is
   * true never sees half a batch. True for a change read alone (deleteConfig, a key's history).
   */
  lastInRevision: Scalars['Boolean']['output'];
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
  /** <namespace>/<key>: stable, so normalised client caches update entries without configuration. */
  id: Scalars['ID']['output'];
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
  /** Namespace settings (admins only). Omitted arguments keep their value. */
  configureNamespace: Namespace;
  deleteConfig: ConfigChange;
  /** Kill switch: every flag of the namespace off, in one revision. */
  disableAllFlags: Array<ConfigEntry>;
  /** Sent by the SDK after it applied a revision. */
  reportApplied: Scalars['Boolean']['output'];
  /** Sent by the SDK's close(): the client leaves on purpose and drops out of convergence at once. */
  reportLeaving: Scalars['Boolean']['output'];
  /**
   * One new revision: every key under prefix as it was at toRevision (value, description, secret
   * flag and schema; keys created since are deleted). Undoes a bad import or a kill switch. Nothing
   * is written when nothing differs. expectedRevision: the namespace must still be at that revision
   * (VERSION_CONFLICT with extensions.currentRevision otherwise). REVISION_COMPACTED when history
   * no longer reaches back to toRevision, REVISION_AHEAD when toRevision is in the future.
   */
  restoreConfigs: ConfigSnapshot;
  /** Writes a NEW version carrying the value of toVersion. */
  rollbackConfig: ConfigEntry;
  setConfig: ConfigEntry;
  /** Several keys in one transaction and one revision: all or nothing. */
  setConfigs: Array<ConfigEntry>;
};


export type MutationConfigureNamespaceArgs = {
  namespace: Scalars['String']['input'];
  requireReason?: InputMaybe<Scalars['Boolean']['input']>;
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


export type MutationReportLeavingArgs = {
  clientId: Scalars['String']['input'];
  namespace: Scalars['String']['input'];
};


export type MutationRestoreConfigsArgs = {
  expectedRevision?: InputMaybe<Scalars['SafeInt']['input']>;
  namespace: Scalars['String']['input'];
  prefix?: InputMaybe<Scalars['String']['input']>;
  reason?: InputMaybe<Scalars['String']['input']>;
  toRevision: Scalars['SafeInt']['input'];
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
  /** Every change must carry a reason (else BAD_USER_INPUT with extensions.rule REASON_REQUIRED). */
  requireReason: Scalars['Boolean']['output'];
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
  /** What restoreConfigs(namespace, toRevision, prefix) would change now, without changing anything. */
  restorePlan: RestorePlan;
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


export type QueryRestorePlanArgs = {
  namespace: Scalars['String']['input'];
  prefix?: InputMaybe<Scalars['String']['input']>;
  toRevision: Scalars['SafeInt']['input'];
};

/** One key a restore would change. */
export type RestoreChange = {
  __typename?: 'RestoreChange';
  /** The entry now (null when the key does not exist now). */
  current?: Maybe<ConfigEntry>;
  key: Scalars['String']['output'];
  /** SET: the key gets its value and settings back as they were; DELETE: it did not exist then. */
  op: ChangeOp;
  /** The key as it was at toRevision, which the restore writes as a new version (null for DELETE). */
  restored?: Maybe<RestoredState>;
};

/** What restoreConfigs would write now: review it, then restore with expectedRevision = revision. */
export type RestorePlan = {
  __typename?: 'RestorePlan';
  changes: Array<RestoreChange>;
  namespace: Scalars['String']['output'];
  /** The namespace's current revision. */
  revision: Scalars['SafeInt']['output'];
  toRevision: Scalars['SafeInt']['output'];
};

/**
 * A key's state as it was at a restore's toRevision: what restoreConfigs writes back as a new
 * version. Not a ConfigEntry: a ConfigEntry's id names the key's current state in normalised client
 * caches, and a preview of an old state must not overwrite it there.
 */
export type RestoredState = {
  __typename?: 'RestoredState';
  description?: Maybe<Scalars['String']['output']>;
  key: Scalars['String']['output'];
  namespace: Scalars['String']['output'];
  redacted: Scalars['Boolean']['output'];
  revision: Scalars['SafeInt']['output'];
  schema?: Maybe<Scalars['JSON']['output']>;
  secret: Scalars['Boolean']['output'];
  updatedAt: Scalars['DateTime']['output'];
  updatedBy?: Maybe<Scalars['String']['output']>;
  /** The value then (null when the key is secret and the caller may not read secrets). */
  value?: Maybe<Scalars['JSON']['output']>;
  /** The version that held this state; the restore writes it again as a new version. */
  version: Scalars['Int']['output'];
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



export type ResolverTypeWrapper<T> = Promise<T> | T;


export type ResolverWithResolve<TResult, TParent, TContext, TArgs> = {
  resolve: ResolverFn<TResult, TParent, TContext, TArgs>;
};
export type Resolver<TResult, TParent = Record<PropertyKey, never>, TContext = Record<PropertyKey, never>, TArgs = Record<PropertyKey, never>> = ResolverFn<TResult, TParent, TContext, TArgs> | ResolverWithResolve<TResult, TParent, TContext, TArgs>;

export type ResolverFn<TResult, TParent, TContext, TArgs> = (
  parent: TParent,
  args: TArgs,
  context: TContext,
  info: GraphQLResolveInfo
) => Promise<TResult> | TResult;

export type SubscriptionSubscribeFn<TResult, TParent, TContext, TArgs> = (
  parent: TParent,
  args: TArgs,
  context: TContext,
  info: GraphQLResolveInfo
) => AsyncIterable<TResult> | Promise<AsyncIterable<TResult>>;

export type SubscriptionResolveFn<TResult, TParent, TContext, TArgs> = (
  parent: TParent,
  args: TArgs,
  context: TContext,
  info: GraphQLResolveInfo
) => TResult | Promise<TResult>;

export interface SubscriptionSubscriberObject<TResult, TKey extends string, TParent, TContext, TArgs> {
  subscribe: SubscriptionSubscribeFn<{ [key in TKey]: TResult }, TParent, TContext, TArgs>;
  resolve?: SubscriptionResolveFn<TResult, { [key in TKey]: TResult }, TContext, TArgs>;
}

export interface SubscriptionResolverObject<TResult, TParent, TContext, TArgs> {
  subscribe: SubscriptionSubscribeFn<any, TParent, TContext, TArgs>;
  resolve: SubscriptionResolveFn<TResult, any, TContext, TArgs>;
}

export type SubscriptionObject<TResult, TKey extends string, TParent, TContext, TArgs> =
  | SubscriptionSubscriberObject<TResult, TKey, TParent, TContext, TArgs>
  | SubscriptionResolverObject<TResult, TParent, TContext, TArgs>;

export type SubscriptionResolver<TResult, TKey extends string, TParent = Record<PropertyKey, never>, TContext = Record<PropertyKey, never>, TArgs = Record<PropertyKey, never>> =
  | ((...args: any[]) => SubscriptionObject<TResult, TKey, TParent, TContext, TArgs>)
  | SubscriptionObject<TResult, TKey, TParent, TContext, TArgs>;

export type TypeResolveFn<TTypes, TParent = Record<PropertyKey, never>, TContext = Record<PropertyKey, never>> = (
  parent: TParent,
  context: TContext,
  info: GraphQLResolveInfo
) => Maybe<TTypes> | Promise<Maybe<TTypes>>;

export type IsTypeOfResolverFn<T = Record<PropertyKey, never>, TContext = Record<PropertyKey, never>> = (obj: T, context: TContext, info: GraphQLResolveInfo) => boolean | Promise<boolean>;

export type NextResolverFn<T> = () => Promise<T>;

export type DirectiveResolverFn<TResult = Record<PropertyKey, never>, TParent = Record<PropertyKey, never>, TContext = Record<PropertyKey, never>, TArgs = Record<PropertyKey, never>> = (
  next: NextResolverFn<TResult>,
  parent: TParent,
  args: TArgs,
  context: TContext,
  info: GraphQLResolveInfo
) => TResult | Promise<TResult>;





/** Mapping between all available schema types and the resolvers types */
export type ResolversTypes = {
  BatchSetInput: BatchSetInput;
  Boolean: ResolverTypeWrapper<Scalars['Boolean']['output']>;
  ChangeOp: ChangeOp;
  ClientState: ClientState;
  ClientStatus: ResolverTypeWrapper<ClientStatus>;
  ConfigChange: ResolverTypeWrapper<ChangeModel>;
  ConfigChangePage: ResolverTypeWrapper<ChangePageModel>;
  ConfigDrift: ResolverTypeWrapper<DriftModel>;
  ConfigEntry: ResolverTypeWrapper<EntryModel>;
  ConfigSnapshot: ResolverTypeWrapper<SnapshotModel>;
  Convergence: ResolverTypeWrapper<Convergence>;
  DateTime: ResolverTypeWrapper<Scalars['DateTime']['output']>;
  FlagEvaluation: ResolverTypeWrapper<FlagEvaluation>;
  ID: ResolverTypeWrapper<Scalars['ID']['output']>;
  Int: ResolverTypeWrapper<Scalars['Int']['output']>;
  JSON: ResolverTypeWrapper<Scalars['JSON']['output']>;
  KnownVersion: KnownVersion;
  Mutation: ResolverTypeWrapper<Record<PropertyKey, never>>;
  Namespace: ResolverTypeWrapper<Namespace>;
  Query: ResolverTypeWrapper<Record<PropertyKey, never>>;
  RestoreChange: ResolverTypeWrapper<RestoreChangeModel>;
  RestorePlan: ResolverTypeWrapper<RestorePlanModel>;
  RestoredState: ResolverTypeWrapper<EntryModel>;
  SafeInt: ResolverTypeWrapper<Scalars['SafeInt']['output']>;
  SetConfigInput: SetConfigInput;
  String: ResolverTypeWrapper<Scalars['String']['output']>;
  Subscription: ResolverTypeWrapper<Record<PropertyKey, never>>;
};

/** Mapping between all available schema types and the resolvers parents */
export type ResolversParentTypes = {
  BatchSetInput: BatchSetInput;
  Boolean: Scalars['Boolean']['output'];
  ClientStatus: ClientStatus;
  ConfigChange: ChangeModel;
  ConfigChangePage: ChangePageModel;
  ConfigDrift: DriftModel;
  ConfigEntry: EntryModel;
  ConfigSnapshot: SnapshotModel;
  Convergence: Convergence;
  DateTime: Scalars['DateTime']['output'];
  FlagEvaluation: FlagEvaluation;
  ID: Scalars['ID']['output'];
  Int: Scalars['Int']['output'];
  JSON: Scalars['JSON']['output'];
  KnownVersion: KnownVersion;
  Mutation: Record<PropertyKey, never>;
  Namespace: Namespace;
  Query: Record<PropertyKey, never>;
  RestoreChange: RestoreChangeModel;
  RestorePlan: RestorePlanModel;
  RestoredState: EntryModel;
  SafeInt: Scalars['SafeInt']['output'];
  SetConfigInput: SetConfigInput;
  String: Scalars['String']['output'];
  Subscription: Record<PropertyKey, never>;
};

export type ClientStatusResolvers<ContextType = GraphQLContext, ParentType extends ResolversParentTypes['ClientStatus'] = ResolversParentTypes['ClientStatus']> = {
  appliedRevision?: Resolver<ResolversTypes['SafeInt'], ParentType, ContextType>;
  clientId?: Resolver<ResolversTypes['String'], ParentType, ContextType>;
  lag?: Resolver<ResolversTypes['SafeInt'], ParentType, ContextType>;
  lastSeenAt?: Resolver<ResolversTypes['DateTime'], ParentType, ContextType>;
  state?: Resolver<ResolversTypes['ClientState'], ParentType, ContextType>;
};

export type ConfigChangeResolvers<ContextType = GraphQLContext, ParentType extends ResolversParentTypes['ConfigChange'] = ResolversParentTypes['ConfigChange']> = {
  changedAt?: Resolver<ResolversTypes['DateTime'], ParentType, ContextType>;
  changedBy?: Resolver<Maybe<ResolversTypes['String']>, ParentType, ContextType>;
  entry?: Resolver<Maybe<ResolversTypes['ConfigEntry']>, ParentType, ContextType>;
  id?: Resolver<ResolversTypes['ID'], ParentType, ContextType>;
  key?: Resolver<ResolversTypes['String'], ParentType, ContextType>;
  lastInRevision?: Resolver<ResolversTypes['Boolean'], ParentType, ContextType>;
  namespace?: Resolver<ResolversTypes['String'], ParentType, ContextType>;
  op?: Resolver<ResolversTypes['ChangeOp'], ParentType, ContextType>;
  reason?: Resolver<Maybe<ResolversTypes['String']>, ParentType, ContextType>;
  redacted?: Resolver<ResolversTypes['Boolean'], ParentType, ContextType>;
  replayed?: Resolver<ResolversTypes['Boolean'], ParentType, ContextType>;
  revision?: Resolver<ResolversTypes['SafeInt'], ParentType, ContextType>;
  secret?: Resolver<ResolversTypes['Boolean'], ParentType, ContextType>;
  traceId?: Resolver<Maybe<ResolversTypes['String']>, ParentType, ContextType>;
  value?: Resolver<Maybe<ResolversTypes['JSON']>, ParentType, ContextType>;
  version?: Resolver<ResolversTypes['Int'], ParentType, ContextType>;
};

export type ConfigChangePageResolvers<ContextType = GraphQLContext, ParentType extends ResolversParentTypes['ConfigChangePage'] = ResolversParentTypes['ConfigChangePage']> = {
  changes?: Resolver<Array<ResolversTypes['ConfigChange']>, ParentType, ContextType>;
  hasMore?: Resolver<ResolversTypes['Boolean'], ParentType, ContextType>;
  namespace?: Resolver<ResolversTypes['String'], ParentType, ContextType>;
  revision?: Resolver<ResolversTypes['SafeInt'], ParentType, ContextType>;
};

export type ConfigDriftResolvers<ContextType = GraphQLContext, ParentType extends ResolversParentTypes['ConfigDrift'] = ResolversParentTypes['ConfigDrift']> = {
  changed?: Resolver<Array<ResolversTypes['ConfigEntry']>, ParentType, ContextType>;
  deleted?: Resolver<Array<ResolversTypes['String']>, ParentType, ContextType>;
  namespace?: Resolver<ResolversTypes['String'], ParentType, ContextType>;
  revision?: Resolver<ResolversTypes['SafeInt'], ParentType, ContextType>;
};

export type ConfigEntryResolvers<ContextType = GraphQLContext, ParentType extends ResolversParentTypes['ConfigEntry'] = ResolversParentTypes['ConfigEntry']> = {
  description?: Resolver<Maybe<ResolversTypes['String']>, ParentType, ContextType>;
  history?: Resolver<Array<ResolversTypes['ConfigChange']>, ParentType, ContextType, RequireFields<ConfigEntryHistoryArgs, 'limit'>>;
  id?: Resolver<ResolversTypes['ID'], ParentType, ContextType>;
  key?: Resolver<ResolversTypes['String'], ParentType, ContextType>;
  namespace?: Resolver<ResolversTypes['String'], ParentType, ContextType>;
  redacted?: Resolver<ResolversTypes['Boolean'], ParentType, ContextType>;
  revision?: Resolver<ResolversTypes['SafeInt'], ParentType, ContextType>;
  schema?: Resolver<Maybe<ResolversTypes['JSON']>, ParentType, ContextType>;
  secret?: Resolver<ResolversTypes['Boolean'], ParentType, ContextType>;
  updatedAt?: Resolver<ResolversTypes['DateTime'], ParentType, ContextType>;
  updatedBy?: Resolver<Maybe<ResolversTypes['String']>, ParentType, ContextType>;
  value?: Resolver<Maybe<ResolversTypes['JSON']>, ParentType, ContextType>;
  version?: Resolver<ResolversTypes['Int'], ParentType, ContextType>;
};

export type ConfigSnapshotResolvers<ContextType = GraphQLContext, ParentType extends ResolversParentTypes['ConfigSnapshot'] = ResolversParentTypes['ConfigSnapshot']> = {
  entries?: Resolver<Array<ResolversTypes['ConfigEntry']>, ParentType, ContextType>;
  namespace?: Resolver<ResolversTypes['String'], ParentType, ContextType>;
  revision?: Resolver<ResolversTypes['SafeInt'], ParentType, ContextType>;
};

export type ConvergenceResolvers<ContextType = GraphQLContext, ParentType extends ResolversParentTypes['Convergence'] = ResolversParentTypes['Convergence']> = {
  clients?: Resolver<Array<ResolversTypes['ClientStatus']>, ParentType, ContextType>;
  converged?: Resolver<ResolversTypes['Boolean'], ParentType, ContextType>;
  namespace?: Resolver<ResolversTypes['String'], ParentType, ContextType>;
  revision?: Resolver<ResolversTypes['SafeInt'], ParentType, ContextType>;
};

export interface DateTimeScalarConfig extends GraphQLScalarTypeConfig<ResolversTypes['DateTime'], any> {
  name: 'DateTime';
}

export type FlagEvaluationResolvers<ContextType = GraphQLContext, ParentType extends ResolversParentTypes['FlagEvaluation'] = ResolversParentTypes['FlagEvaluation']> = {
  bucket?: Resolver<ResolversTypes['Int'], ParentType, ContextType>;
  enabled?: Resolver<ResolversTypes['Boolean'], ParentType, ContextType>;
  key?: Resolver<ResolversTypes['String'], ParentType, ContextType>;
  reason?: Resolver<ResolversTypes['String'], ParentType, ContextType>;
  userId?: Resolver<ResolversTypes['String'], ParentType, ContextType>;
  version?: Resolver<ResolversTypes['Int'], ParentType, ContextType>;
};

export interface JsonScalarConfig extends GraphQLScalarTypeConfig<ResolversTypes['JSON'], any> {
  name: 'JSON';
}

export type MutationResolvers<ContextType = GraphQLContext, ParentType extends ResolversParentTypes['Mutation'] = ResolversParentTypes['Mutation']> = {
  configureNamespace?: Resolver<ResolversTypes['Namespace'], ParentType, ContextType, RequireFields<MutationConfigureNamespaceArgs, 'namespace'>>;
  deleteConfig?: Resolver<ResolversTypes['ConfigChange'], ParentType, ContextType, RequireFields<MutationDeleteConfigArgs, 'key' | 'namespace'>>;
  disableAllFlags?: Resolver<Array<ResolversTypes['ConfigEntry']>, ParentType, ContextType, RequireFields<MutationDisableAllFlagsArgs, 'namespace' | 'reason'>>;
  reportApplied?: Resolver<ResolversTypes['Boolean'], ParentType, ContextType, RequireFields<MutationReportAppliedArgs, 'clientId' | 'namespace' | 'revision'>>;
  reportLeaving?: Resolver<ResolversTypes['Boolean'], ParentType, ContextType, RequireFields<MutationReportLeavingArgs, 'clientId' | 'namespace'>>;
  restoreConfigs?: Resolver<ResolversTypes['ConfigSnapshot'], ParentType, ContextType, RequireFields<MutationRestoreConfigsArgs, 'namespace' | 'toRevision'>>;
  rollbackConfig?: Resolver<ResolversTypes['ConfigEntry'], ParentType, ContextType, RequireFields<MutationRollbackConfigArgs, 'key' | 'namespace' | 'toVersion'>>;
  setConfig?: Resolver<ResolversTypes['ConfigEntry'], ParentType, ContextType, RequireFields<MutationSetConfigArgs, 'input'>>;
  setConfigs?: Resolver<Array<ResolversTypes['ConfigEntry']>, ParentType, ContextType, RequireFields<MutationSetConfigsArgs, 'inputs' | 'namespace'>>;
};

export type NamespaceResolvers<ContextType = GraphQLContext, ParentType extends ResolversParentTypes['Namespace'] = ResolversParentTypes['Namespace']> = {
  entryCount?: Resolver<ResolversTypes['Int'], ParentType, ContextType>;
  name?: Resolver<ResolversTypes['String'], ParentType, ContextType>;
  requireReason?: Resolver<ResolversTypes['Boolean'], ParentType, ContextType>;
  revision?: Resolver<ResolversTypes['SafeInt'], ParentType, ContextType>;
};

export type QueryResolvers<ContextType = GraphQLContext, ParentType extends ResolversParentTypes['Query'] = ResolversParentTypes['Query']> = {
  config?: Resolver<Maybe<ResolversTypes['ConfigEntry']>, ParentType, ContextType, RequireFields<QueryConfigArgs, 'key' | 'namespace'>>;
  configChanges?: Resolver<ResolversTypes['ConfigChangePage'], ParentType, ContextType, RequireFields<QueryConfigChangesArgs, 'limit' | 'namespace' | 'sinceRevision'>>;
  configDrift?: Resolver<ResolversTypes['ConfigDrift'], ParentType, ContextType, RequireFields<QueryConfigDriftArgs, 'known' | 'namespace'>>;
  configs?: Resolver<ResolversTypes['ConfigSnapshot'], ParentType, ContextType, RequireFields<QueryConfigsArgs, 'namespace'>>;
  convergence?: Resolver<ResolversTypes['Convergence'], ParentType, ContextType, RequireFields<QueryConvergenceArgs, 'namespace'>>;
  evaluateFlag?: Resolver<ResolversTypes['FlagEvaluation'], ParentType, ContextType, RequireFields<QueryEvaluateFlagArgs, 'key' | 'namespace' | 'userId'>>;
  namespaces?: Resolver<Array<ResolversTypes['Namespace']>, ParentType, ContextType>;
  restorePlan?: Resolver<ResolversTypes['RestorePlan'], ParentType, ContextType, RequireFields<QueryRestorePlanArgs, 'namespace' | 'toRevision'>>;
};

export type RestoreChangeResolvers<ContextType = GraphQLContext, ParentType extends ResolversParentTypes['RestoreChange'] = ResolversParentTypes['RestoreChange']> = {
  current?: Resolver<Maybe<ResolversTypes['ConfigEntry']>, ParentType, ContextType>;
  key?: Resolver<ResolversTypes['String'], ParentType, ContextType>;
  op?: Resolver<ResolversTypes['ChangeOp'], ParentType, ContextType>;
  restored?: Resolver<Maybe<ResolversTypes['RestoredState']>, ParentType, ContextType>;
};

export type RestorePlanResolvers<ContextType = GraphQLContext, ParentType extends ResolversParentTypes['RestorePlan'] = ResolversParentTypes['RestorePlan']> = {
  changes?: Resolver<Array<ResolversTypes['RestoreChange']>, ParentType, ContextType>;
  namespace?: Resolver<ResolversTypes['String'], ParentType, ContextType>;
  revision?: Resolver<ResolversTypes['SafeInt'], ParentType, ContextType>;
  toRevision?: Resolver<ResolversTypes['SafeInt'], ParentType, ContextType>;
};

export type RestoredStateResolvers<ContextType = GraphQLContext, ParentType extends ResolversParentTypes['RestoredState'] = ResolversParentTypes['RestoredState']> = {
  description?: Resolver<Maybe<ResolversTypes['String']>, ParentType, ContextType>;
  key?: Resolver<ResolversTypes['String'], ParentType, ContextType>;
  namespace?: Resolver<ResolversTypes['String'], ParentType, ContextType>;
  redacted?: Resolver<ResolversTypes['Boolean'], ParentType, ContextType>;
  revision?: Resolver<ResolversTypes['SafeInt'], ParentType, ContextType>;
  schema?: Resolver<Maybe<ResolversTypes['JSON']>, ParentType, ContextType>;
  secret?: Resolver<ResolversTypes['Boolean'], ParentType, ContextType>;
  updatedAt?: Resolver<ResolversTypes['DateTime'], ParentType, ContextType>;
  updatedBy?: Resolver<Maybe<ResolversTypes['String']>, ParentType, ContextType>;
  value?: Resolver<Maybe<ResolversTypes['JSON']>, ParentType, ContextType>;
  version?: Resolver<ResolversTypes['Int'], ParentType, ContextType>;
};

export interface SafeIntScalarConfig extends GraphQLScalarTypeConfig<ResolversTypes['SafeInt'], any> {
  name: 'SafeInt';
}

export type SubscriptionResolvers<ContextType = GraphQLContext, ParentType extends ResolversParentTypes['Subscription'] = ResolversParentTypes['Subscription']> = {
  configChanged?: SubscriptionResolver<ResolversTypes['ConfigChange'], "configChanged", ParentType, ContextType, RequireFields<SubscriptionConfigChangedArgs, 'namespace'>>;
};

export type Resolvers<ContextType = GraphQLContext> = {
  ClientStatus?: ClientStatusResolvers<ContextType>;
  ConfigChange?: ConfigChangeResolvers<ContextType>;
  ConfigChangePage?: ConfigChangePageResolvers<ContextType>;
  ConfigDrift?: ConfigDriftResolvers<ContextType>;
  ConfigEntry?: ConfigEntryResolvers<ContextType>;
  ConfigSnapshot?: ConfigSnapshotResolvers<ContextType>;
  Convergence?: ConvergenceResolvers<ContextType>;
  DateTime?: GraphQLScalarType;
  FlagEvaluation?: FlagEvaluationResolvers<ContextType>;
  JSON?: GraphQLScalarType;
  Mutation?: MutationResolvers<ContextType>;
  Namespace?: NamespaceResolvers<ContextType>;
  Query?: QueryResolvers<ContextType>;
  RestoreChange?: RestoreChangeResolvers<ContextType>;
  RestorePlan?: RestorePlanResolvers<ContextType>;
  RestoredState?: RestoredStateResolvers<ContextType>;
  SafeInt?: GraphQLScalarType;
  Subscription?: SubscriptionResolvers<ContextType>;
};

