/**
 * The domain's shapes and the ports the core needs (store, bus). Drivers implement the ports in
 * their own folders (`src/db`, `src/bus`); nothing here imports a driver.
 */

/** Any JSON value. A config value is any JSON value except `null`. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

export type ChangeOp = 'SET' | 'DELETE';

/** The current state of one key. */
export interface Entry {
  namespace: string;
  key: string;
  value: JsonValue;
  version: number;
  revision: number;
  updatedAt: Date;
  updatedBy: string | null;
  description: string | null;
  secret: boolean;
  /** JSON Schema every new value must satisfy, or null. */
  schema: JsonValue | null;
}

/** One committed change of one key: a history row. */
export interface Change {
  namespace: string;
  key: string;
  op: ChangeOp;
  version: number;
  revision: number;
  /** The new value for SET; null for DELETE. */
  value: JsonValue | null;
  changedAt: Date;
  changedBy: string | null;
  reason: string | null;
  traceId: string | null;
  /** Whether the entry was secret when this change was made. */
  secret: boolean;
  /** The entry's description as this change left it (null when unknown: rows from before 0.1.1). */
  description: string | null;
  /** The entry's JSON Schema as this change left it. */
  schema: JsonValue | null;
}

/** Who made a write, and why. Recorded on every history row. */
export interface WriteMeta {
  actor: string | null;
  reason: string | null;
  traceId: string | null;
  /**
   * The writer may read secret values (admin, or the `secrets` claim). Only such a writer may
   * make a secret value readable: clear `secret` on a key, or roll back to a version written as
   * secret (else FORBIDDEN). Required, so no caller can forget it and reveal by default: every
   * GraphQL write sets it from the caller's token (`writeMeta`).
   */
  canReadSecrets: boolean;
}

/**
 * One operation of a write. Every operation may carry `expectedVersion` (compare-and-set;
 * `0` = the key must not exist). Fields left `undefined` keep the entry's current setting.
 */
export type WriteOp =
  | {
      kind: 'set';
      key: string;
      value: JsonValue;
      expectedVersion?: number | null;
      description?: string | null;
      secret?: boolean | null;
      schema?: JsonValue | null;
    }
  | { kind: 'delete'; key: string; expectedVersion?: number | null }
  | {
      kind: 'rollback';
      key: string;
      toVersion: number;
      expectedVersion?: number | null;
      /**
       * Take the description, secret flag and schema from the version too (a restore), instead of
       * keeping the key's current settings (a rollback of the value). @default false
       */
      withSettings?: boolean;
    };

/** Options of one write. */
export interface WriteOptions {
  /**
   * Compare-and-set on the whole namespace: the write applies only while the namespace is at
   * this revision (else `VERSION_CONFLICT` with `extensions.currentRevision`).
   */
  expectedRevision?: number | null;
}

/** Each key's last change at or before a revision, and the namespace now (see `ConfigStore.stateAt`). */
export interface NamespaceState {
  namespace: string;
  /** The namespace's current revision. */
  revision: number;
  /** The revision asked for. */
  at: number;
  /** Last change of each key at or before `at` (deleted keys included, as op DELETE). */
  keys: Map<string, Change>;
  /** Keys live now. */
  current: Map<string, Entry>;
}

/** The outcome of one committed write: one revision, one change per operation. */
export interface WriteResult {
  namespace: string;
  revision: number;
  /** One per operation, in operation order. */
  changes: Change[];
  /** Post-write state of every key that was set or rolled back, in operation order. */
  entries: Entry[];
}

export interface Snapshot {
  namespace: string;
  revision: number;
  entries: Entry[];
}

export interface ChangePage {
  namespace: string;
  /** The namespace's current revision when the page was read. */
  revision: number;
  changes: Change[];
  hasMore: boolean;
}

export interface NamespaceInfo {
  name: string;
  revision: number;
  entryCount: number;
  /** Every change must carry a reason (else BAD_USER_INPUT, rule REASON_REQUIRED). */
  requireReason: boolean;
}

/** Per-namespace settings; omitted fields keep their value. */
export interface NamespaceSettings {
  requireReason?: boolean | null;
}

/** Filter of a watch or a change query: a key matches when in `keys` or under `prefix`. */
export interface KeyFilter {
  keys?: readonly string[] | null;
  prefix?: string | null;
}

/**
 * The source of truth. Every write is one transaction that bumps the namespace revision by
 * exactly 1; revisions are contiguous per namespace and versions contiguous per key.
 */
export interface ConfigStore {
  /**
   * Apply `ops` atomically as one revision. Throws `GatewayError` with `VERSION_CONFLICT`
   * (extensions.currentVersion, key), `VALIDATION_FAILED`, `NOT_FOUND` (delete or rollback of a
   * missing key/version) or `BAD_USER_INPUT`; on any error nothing is written.
   */
  write(namespace: string, ops: readonly WriteOp[], meta: WriteMeta, options?: WriteOptions): Promise<WriteResult>;
  /**
   * Each key's last change at or before `revision` (under `prefix`), with the namespace's current
   * revision: what a restore needs to rebuild the namespace as it was. Throws
   * `REVISION_COMPACTED` when history no longer reaches back to `revision`, `REVISION_AHEAD` when
   * `revision` is past the current one.
   */
  stateAt(namespace: string, revision: number, prefix?: string | null): Promise<NamespaceState>;
  get(namespace: string, key: string): Promise<Entry | null>;
  /** All live entries (optionally under a prefix), consistent at the returned revision. */
  snapshot(namespace: string, prefix?: string | null): Promise<Snapshot>;
  /**
   * Changes with revision > sinceRevision in ascending (revision, key) order, at most `limit`
   * revisions' worth, never splitting a revision. Throws `REVISION_COMPACTED` when history after
   * sinceRevision is no longer complete, `REVISION_AHEAD` when sinceRevision > current revision.
   */
  changes(namespace: string, sinceRevision: number, options: KeyFilter & { limit: number }): Promise<ChangePage>;
  /** History of one key, newest first. */
  history(namespace: string, key: string, options: { limit: number; beforeVersion?: number | null }): Promise<Change[]>;
  namespaces(): Promise<NamespaceInfo[]>;
  /** Create or update a namespace's settings (does not bump its revision). */
  configureNamespace(namespace: string, settings: NamespaceSettings): Promise<NamespaceInfo>;
  /** Current revision of each named namespace that exists (for the periodic repair check). */
  revisions(namespaces: readonly string[]): Promise<Map<string, number>>;
  /** Delete history older than `before` (never a key's latest row); returns rows removed. */
  compact(before: Date): Promise<number>;
  /** Throws when the database does not answer. */
  ping(): Promise<void>;
  /** Pool statistics for /ready. */
  stats(): { driver: 'postgres' | 'pglite'; [k: string]: string | number };
}

/**
 * W3C trace context (`traceparent`, and `tracestate` when there is one) in the form a
 * propagator writes into a carrier.
 */
export interface TraceCarrier {
  traceparent?: string;
  tracestate?: string;
}

/**
 * What crosses between gateway instances for one committed revision. The bus is a hint for
 * speed; Postgres history is the truth. Values of secret entries, and values larger than the
 * inline limit, are never carried (`valueOmitted: true`): receivers read them from the store.
 */
export interface ChangeMessage {
  namespace: string;
  revision: number;
  /**
   * The trace context of the publish, when the writing gateway traces: each receiving gateway's
   * delivery span is its child. Absent from gateways that do not trace or predate it; receivers
   * that do not know it ignore it.
   */
  trace?: TraceCarrier;
  changes: Array<{
    key: string;
    op: ChangeOp;
    version: number;
    value: JsonValue | null;
    valueOmitted: boolean;
    /** ISO-8601. */
    changedAt: string;
    changedBy: string | null;
    reason: string | null;
    traceId: string | null;
    secret: boolean;
    /** The entry's settings after the change (absent in messages from older gateways). */
    description?: string | null;
    schema?: JsonValue | null;
  }>;
}

/** Carries `ChangeMessage`s between instances: Redis pub/sub, or in-process. */
export interface ChangeBus {
  /** Never throws and never waits on the network: failures are counted. */
  publish(message: ChangeMessage): void;
  /** Resolves once the subscription is acknowledged; returns the unsubscribe. */
  subscribe(namespace: string, listener: (message: ChangeMessage) => void): Promise<() => Promise<void>>;
  /** Called after the bus reconnected (messages may have been lost while it was down). */
  onReconnect(listener: () => void): () => void;
  status(): { kind: 'redis' | 'memory'; connected: boolean; publishFailures: number; lastMessageAt: number | null };
  close(): Promise<void>;
}

export type Role = 'admin' | 'writer' | 'reader';

/** The verified caller, from token claims. */
export interface Principal {
  sub: string;
  role: Role;
  /** Namespaces the caller may use; `'*'` for all. */
  namespaces: readonly string[] | '*';
  /** May read secret values (admins always may). */
  secrets: boolean;
  /**
   * When the credential stops being valid (ms since the epoch, the token's `exp`), or null when
   * it never does (no `exp`, or auth off). Everything done with it is bounded by this instant:
   * operations after it are refused, graphql-ws connections close with 4401, streams end.
   */
  expiresAt: number | null;
}

/** A change as delivered to a subscriber. */
export interface DeliveredChange extends Change {
  /** True when read from history (resume replay or gap repair), false when from the live stream. */
  replayed: boolean;
  /**
   * True on the last change of its revision that this subscription carries (after its keys/prefix
   * filter), false on the others; a reader applies a revision when it sees true. Undefined where
   * a change is read alone (then it is the whole of its revision for that reader).
   */
  lastInRevision?: boolean;
}

/**
 * `change` as delivered to a reader, with its flags: one literal of a fixed shape, fields picked
 * one by one (inputs may carry more, such as a bus message's `valueOmitted`), so readers of
 * thousands of changes see one hidden class.
 */
export function deliveredChange(change: Change, replayed: boolean, lastInRevision: boolean): DeliveredChange {
  return {
    namespace: change.namespace,
    key: change.key,
    op: change.op,
    version: change.version,
    revision: change.revision,
    value: change.value,
    changedAt: change.changedAt,
    changedBy: change.changedBy,
    reason: change.reason,
    traceId: change.traceId,
    secret: change.secret,
    description: change.description,
    schema: change.schema,
    replayed,
    lastInRevision,
  };
}

/** The entry a SET change leaves behind: everything an entry holds is on the change. */
export function entryAfter(change: Change): Entry {
  return {
    namespace: change.namespace,
    key: change.key,
    value: change.value!,
    version: change.version,
    revision: change.revision,
    updatedAt: change.changedAt,
    updatedBy: change.changedBy,
    description: change.description,
    secret: change.secret,
    schema: change.schema,
  };
}

export interface WatchOptions extends KeyFilter {
  /** Replay matching changes after this revision from history first. */
  sinceRevision?: number | null;
  /**
   * The gateway's own watch (the watch cache), not a client's subscription: not counted in
   * `FeedStats.subscribers`. @default false
   */
  internal?: boolean;
}

/**
 * Per-process fan-out of namespace changes to subscriptions, gap-free and in revision order.
 * Fed by the bus (other instances) and by `committed` (this instance's own writes); repairs gaps
 * from the store.
 */
export interface ChangeFeed {
  /**
   * Matching changes in ascending revision order, each exactly once. Rejects with
   * `REVISION_COMPACTED` / `REVISION_AHEAD` before the first change when `sinceRevision` is
   * outside retained history. `return()` on the iterator ends the watch and frees its resources.
   */
  watch(namespace: string, options: WatchOptions): Promise<AsyncIterableIterator<DeliveredChange>>;
  /** This instance committed a write: deliver it locally without waiting for the bus. */
  committed(result: WriteResult): void;
  /**
   * The last revision of `namespace` delivered to this process' watches, or null while the
   * namespace is not (yet) followed here. A watch with `sinceRevision` equal to it replays
   * nothing: it is exactly a live watch.
   */
  position(namespace: string): number | null;
  /**
   * Start following `namespace` (bus subscription, then its revision) without watching it, and
   * resolve with its position; null when it cannot be followed now. Lets a burst of resuming
   * subscribers to a namespace not yet followed here (every SDK after a gateway restart) share.
   */
  follow(namespace: string): Promise<number | null>;
  stats(): FeedStats;
  close(): Promise<void>;
}

export interface FeedStats {
  /** Last revision delivered per watched namespace. */
  revisions: Record<string, number>;
  /** Open watches of clients (the gateway's own, `internal`, are not counted). */
  subscribers: number;
  repairs: Record<'gap' | 'reconnect' | 'periodic', number>;
  lastMessageAt: number | null;
}

/** Authorization decisions for one request or one subscription. */
export interface Guard {
  readonly principal: Principal | null;
  /** Throws UNAUTHENTICATED unless there is a caller (a verified token, or auth is off). */
  authenticated(): Principal;
  /** Throws UNAUTHENTICATED or FORBIDDEN unless the caller may read `namespace`. */
  read(namespace: string): void;
  /** Throws UNAUTHENTICATED or FORBIDDEN unless the caller may write `namespace`. */
  write(namespace: string): void;
  /** Whether the caller may see `namespace` at all (lists filter with it). */
  canSee(namespace: string): boolean;
  canReadSecrets(): boolean;
}
