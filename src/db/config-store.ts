import { and, asc, desc, eq, gt, gte, inArray, lt, lte, or, sql, type SQL } from 'drizzle-orm';
import { GatewayError } from '../errors.js';
import {
  checkWriteInput,
  planWrite,
  readsOf,
  stampResult,
  targetKey,
  type CurrentEntry,
  type PlannedRow,
  type RollbackTarget,
  hasReason,
  type WritePlan,
  type WriteState,
} from '../core/write-plan.js';
import type {
  Change,
  ChangePage,
  ConfigStore,
  Entry,
  JsonValue,
  KeyFilter,
  NamespaceInfo,
  NamespaceSettings,
  Snapshot,
  WriteMeta,
  WriteOp,
  WriteOptions,
  WriteResult,
  NamespaceState,
} from '../core/types.js';
import { createValidator, type Validator } from '../core/validation.js';
import { secretContext, SecretUnreadableError, type SecretBox } from '../core/secret-box.js';
import type { Database, SqlParam } from './connect.js';
import { entries, history, namespaces } from './schema.js';

export interface ConfigStoreOptions {
  /** An open database from `connectDatabase`; the store does not close it. */
  database: Pick<Database, 'db' | 'driver' | 'transaction' | 'query' | 'ping' | 'stats'>;
  /** Input checks; built from `maxValueBytes` / `maxBatchSize` when omitted. */
  validator?: Validator;
  /** Largest value, in bytes of JSON (ignored when `validator` is given). @default 1_048_576 (1 MiB) */
  maxValueBytes?: number;
  /** Most operations per write (ignored when `validator` is given). @default 10_000 */
  maxBatchSize?: number;
  /**
   * Extra domain check for every value written (set or rollback), after syntax, size and JSON
   * Schema checks, e.g. the shape of feature flags. Throw a `GatewayError` to refuse the write.
   */
  validateValue?: (value: JsonValue, key: string, namespace: string) => void;
  /**
   * Clock for `changedAt` / `updatedAt`, for tests. By default PostgreSQL stamps each write in
   * its last statement, just before COMMIT (`clock_timestamp()`, to the millisecond), so time
   * spent waiting for the namespace lock does not look like propagation delay.
   * @default undefined (the database's clock at commit)
   */
  now?: () => Date;
  /**
   * Encrypts secret values at rest (`HOTCONF_SECRET_KEYS`) and decrypts them on read. Without
   * it secret values are stored as JSON, and encrypted ones read back as `SecretUnreadableError`
   * values (see `decodeValue`).
   * @default null
   */
  secretBox?: SecretBox | null;
}

type EntryRow = typeof entries.$inferSelect;
type HistoryRow = typeof history.$inferSelect;

/** Upper bound of a prefix range: keys are ASCII below 0x7f, and the columns use "C" collation. */
const PREFIX_END = '\u007f';

/**
 * A stored value as the domain sees it: plaintext JSON. An encrypted value this gateway cannot
 * decrypt (its key is not configured, or it does not authenticate) is represented by the
 * `SecretUnreadableError` itself: a reader allowed to see secrets gets that error at the value's
 * field (SERVICE_UNAVAILABLE, naming the key id), a reader without the claim gets null as for any
 * secret, and a rollback to it is refused. Never garbage, never a crash, and other keys stay
 * readable.
 */
function decodeValue(box: SecretBox | null, namespace: string, key: string, value: unknown, encrypted: string | null): JsonValue | null {
  if (encrypted === null) return (value ?? null) as JsonValue | null;
  if (!box) {
    return new SecretUnreadableError(
      'A secret value is encrypted at rest, but this gateway has no HOTCONF_SECRET_KEYS: set the keys it was encrypted with',
      null,
    ) as unknown as JsonValue;
  }
  try {
    return JSON.parse(box.open(encrypted, secretContext(namespace, key))) as JsonValue;
  } catch (error) {
    if (error instanceof SecretUnreadableError) return error as unknown as JsonValue;
    throw error;
  }
}

function toEntry(row: EntryRow, box: SecretBox | null): Entry {
  return {
    namespace: row.namespace,
    key: row.key,
    value: decodeValue(box, row.namespace, row.key, row.value, row.encryptedValue) as JsonValue,
    version: row.version,
    revision: row.revision,
    updatedAt: row.updatedAt,
    updatedBy: row.updatedBy,
    description: row.description,
    secret: row.secret,
    schema: row.schema ?? null,
  };
}

function toChange(row: HistoryRow, box: SecretBox | null): Change {
  return {
    namespace: row.namespace,
    key: row.key,
    op: row.op,
    version: row.version,
    revision: row.revision,
    value: row.op === 'DELETE' ? null : decodeValue(box, row.namespace, row.key, row.value, row.encryptedValue),
    changedAt: row.changedAt,
    changedBy: row.actor,
    reason: row.reason,
    traceId: row.traceId,
    secret: row.secret,
    description: row.description,
    schema: row.schema ?? null,
  };
}

/*
 * The write path is raw SQL through `Database.transaction` (the same text on both drivers): it
 * is the hot path, and the query builder cost more than the database did. Parameters are cast
 * via ::text so both drivers send plain text.
 */

/**
 * Marks the transaction as hotconf's write path: the tables' guard triggers (migration 0004)
 * refuse changes from any transaction without it, so a hand-written UPDATE cannot change config
 * behind the revisions and history. Transaction-scoped, so it holds behind a pooler too.
 */
export const WRITE_PATH_SQL = /* SQL */ `select set_config('hotconf.write_path', $1::text, true)`;

/*
 * A write is two statements, neither inside a transaction of ours: READ_STATE_SQL reads what the
 * plan needs (no lock), then APPLY_WRITE_SQL calls hotconf_apply_write (migration 0005), which
 * takes the namespace revision row lock, re-checks under it every row the plan assumed, and
 * writes the entries and history rows. The lock is held only inside PostgreSQL. When another
 * write changed a key of the plan in between, the function refuses with STALE_PLAN and the write
 * reads and plans again; after a few tries it reads under the namespace lock (LOCK_NAMESPACE_SQL)
 * and cannot go stale.
 */

/** SQLSTATE hotconf_apply_write raises when the plan it was given no longer holds. */
const STALE_PLAN = 'HC409';
/** Tries without the namespace lock before reading under it. */
const OPTIMISTIC_ATTEMPTS = 2;
/** Tries in all before giving up (only a namespace created between lock and apply gets here). */
const MAX_ATTEMPTS = 8;

/**
 * $1 namespace, $2 JSON array of keys, $3 JSON array of { key, version } rollback targets. One
 * statement, so one snapshot: the namespace head and the rows agree. Everything comes as one JSON
 * document per column (the statement text is the same for one key or a thousand).
 */
const READ_STATE_SQL = /* SQL */ `
  select
    (select json_build_object('revision', revision::text, 'requireReason', require_reason) from namespaces where name = $1)::text as head,
    (select coalesce(json_agg(json_build_object(
        'key', key, 'version', version, 'deleted', deleted, 'description', description, 'secret', secret, 'schema', schema)), '[]'::json)
      from entries
      where namespace = $1 and key in (select jsonb_array_elements_text($2::text::jsonb)))::text as current,
    (select coalesce(json_agg(json_build_object(
        'key', h.key, 'version', h.version, 'op', h.op, 'value', h.value, 'encrypted', h.encrypted_value,
        'hasValue', h.value is not null or h.encrypted_value is not null,
        'secret', h.secret, 'description', h.description, 'schema', h.schema)), '[]'::json)
      from history h join jsonb_to_recordset($3::text::jsonb) as t(key text, version int)
        on h.key = t.key and h.version = t.version
      where h.namespace = $1)::text as targets`;

/** $1 namespace. Taken first, in a transaction, by a write that went stale too often. */
const LOCK_NAMESPACE_SQL = /* SQL */ `select 1 from namespaces where name = $1 for update`;

/**
 * $1 namespace, $2 JSON array of `AppliedRow`, $3 actor, $4 reason, $5 trace id,
 * $6 expected revision (null: any), $7 whether a reason was given, $8 changed_at (null: the
 * database's clock, right before commit, to the millisecond). Returns the revision and the
 * instant in ms since epoch.
 */
const APPLY_WRITE_SQL = /* SQL */ `
  select revision::text as revision, changed_at_ms::text as changed_at_ms
  from hotconf_apply_write($1::text, $2::text::jsonb, $3::text, $4::text, $5::text, $6::text::bigint, $7::boolean, $8::text::timestamptz)`;

interface StateRow extends Record<string, unknown> {
  head: string | null;
  current: string;
  targets: string;
}

interface TargetJson {
  key: string;
  version: number;
  op: string;
  value: JsonValue | null;
  encrypted: string | null;
  hasValue: boolean;
  secret: boolean;
  description: string | null;
  schema: JsonValue | null;
}

/** One row of `APPLY_WRITE_SQL`'s JSON parameter. */
interface AppliedRow {
  key: string;
  op: 'SET' | 'DELETE';
  version: number;
  /** The version the plan read (0: absent); the function refuses the plan when it changed. */
  base_version: number;
  /** Null when the value is encrypted (then in `encrypted`) or deleted. */
  value: JsonValue | null;
  encrypted: string | null;
  deleted: boolean;
  description: string | null;
  secret: boolean;
  schema: JsonValue | null;
}

function isStalePlan(error: unknown): boolean {
  for (let current = error, depth = 0; current && typeof current === 'object' && depth < 5; depth++) {
    if ((current as { code?: unknown }).code === STALE_PLAN) return true;
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}

const parseJson = (text: string | null): JsonValue | null => (text === null ? null : (JSON.parse(text) as JsonValue));

function keyFilter(keyColumn: typeof history.key | typeof entries.key, filter: KeyFilter): SQL | undefined {
  const parts: SQL[] = [];
  if (filter.keys && filter.keys.length > 0) parts.push(inArray(keyColumn, [...filter.keys]));
  if (filter.prefix) parts.push(and(gte(keyColumn, filter.prefix), lt(keyColumn, filter.prefix + PREFIX_END))!);
  if (parts.length === 0) return undefined;
  return parts.length === 1 ? parts[0] : or(...parts);
}

/**
 * The `ConfigStore` on Drizzle, for postgres.js and PGlite alike.
 *
 * Every write is one transaction that first bumps the namespace's counter row: that row lock
 * serialises the namespace's writers, so revisions are contiguous and commit-ordered and
 * compare-and-set checks see the latest committed versions.
 *
 * @example
 * const store = createConfigStore({ database, maxValueBytes: config.maxValueBytes });
 * await store.write('demo', [{ kind: 'set', key: 'ai.threshold', value: 0.85 }], { actor: 'ops', reason: null, traceId: null });
 */
export function createConfigStore(options: ConfigStoreOptions): ConfigStore {
  const {
    database,
    maxValueBytes = 1_048_576, // 1 MiB
    maxBatchSize = 10_000, // operations
    validator = createValidator({ maxValueBytes, maxBatchSize }),
    validateValue,
    now,
    secretBox = null,
  } = options;
  const { db } = database;
  const entryOf = (row: EntryRow) => toEntry(row, secretBox);
  const changeOf = (row: HistoryRow) => toChange(row, secretBox);

  const rules = { validator, validateValue };

  /** The rows `READ_STATE_SQL` returned, as the write plan takes them. */
  const toState = (namespace: string, row: StateRow): WriteState => {
    const head = row.head === null ? null : (JSON.parse(row.head) as { revision: string; requireReason: boolean });
    const current = JSON.parse(row.current) as CurrentEntry[];
    const targets = JSON.parse(row.targets) as TargetJson[];
    return {
      revision: head ? Number(head.revision) : 0,
      requireReason: head?.requireReason ?? false,
      current: new Map(current.map((entry): [string, CurrentEntry] => [entry.key, entry])),
      targets: new Map(
        targets.map((target): [string, RollbackTarget] => [
          targetKey(target.key, target.version),
          {
            key: target.key,
            version: target.version,
            op: target.op === 'DELETE' ? 'DELETE' : 'SET',
            hasValue: target.hasValue,
            value:
              target.op === 'DELETE'
                ? null
                : (decodeValue(secretBox, namespace, target.key, target.value, target.encrypted) as JsonValue | SecretUnreadableError | null),
            secret: target.secret,
            description: target.description,
            schema: target.schema,
          },
        ]),
      ),
    };
  };

  /** A planned row as `APPLY_WRITE_SQL` takes it: a secret value encrypted once, for its entry and history row alike. */
  const toApplied = (namespace: string, row: PlannedRow): AppliedRow => {
    const encrypted = row.secret && secretBox && row.value !== null ? secretBox.seal(JSON.stringify(row.value), secretContext(namespace, row.key)) : null;
    return {
      key: row.key,
      op: row.op,
      version: row.version,
      base_version: row.baseVersion,
      value: encrypted === null ? row.value : null,
      encrypted,
      deleted: row.deleted,
      description: row.description,
      secret: row.secret,
      schema: row.schema,
    };
  };

  type Applied = { revision: string; changed_at_ms: string };

  async function write(namespace: string, ops: readonly WriteOp[], meta: WriteMeta, options: WriteOptions = {}): Promise<WriteResult> {
    checkWriteInput(validator, namespace, ops, meta);
    const reads = readsOf(ops);
    const readParams: SqlParam[] = [namespace, JSON.stringify(reads.keys), JSON.stringify(reads.targets)];
    // Replaced by the database's commit-time stamp once the write is done.
    const placeholder = now?.() ?? new Date();
    const expectedRevision = options.expectedRevision ?? null;
    const plan = (row: StateRow | undefined) =>
      planWrite(rules, namespace, ops, meta, options, toState(namespace, row ?? { head: null, current: '[]', targets: '[]' }), placeholder);
    const applyParams = (planned: WritePlan): SqlParam[] => [
      namespace,
      JSON.stringify(planned.rows.map((row) => toApplied(namespace, row))),
      meta.actor,
      meta.reason,
      meta.traceId,
      expectedRevision === null ? null : String(expectedRevision),
      hasReason(meta),
      now ? placeholder.toISOString() : null,
    ];
    // Committed: the answer, the bus message and the database carry the revision and the commit-time stamp.
    const committed = (planned: WritePlan, applied: Applied | undefined) =>
      stampResult(planned.result, Number(applied!.revision), new Date(Number(applied!.changed_at_ms)));

    for (let attempt = 1; ; attempt++) {
      try {
        if (attempt <= OPTIMISTIC_ATTEMPTS) {
          const [state] = await database.query<StateRow>(READ_STATE_SQL, readParams);
          let planned: WritePlan;
          try {
            planned = plan(state);
          } catch {
            // A refusal (conflict, not found, forbidden, schema) is decided under the lock, as
            // before: the read may predate a write that was already on its way (a rollback to a
            // version committed a moment ago must find it).
            attempt = OPTIMISTIC_ATTEMPTS;
            continue;
          }
          const [applied] = await database.query<Applied>(APPLY_WRITE_SQL, applyParams(planned));
          return committed(planned, applied);
        }
        // Contended: read and apply under the namespace lock, where the plan cannot go stale
        // (unless the namespace was created in between: then once more).
        const { planned, applied } = await database.transaction(async (tx) => {
          const [, [state]] = await Promise.all([tx.query(LOCK_NAMESPACE_SQL, [namespace]), tx.query<StateRow>(READ_STATE_SQL, readParams)]);
          const planned = plan(state);
          const [applied] = await tx.query<Applied>(APPLY_WRITE_SQL, applyParams(planned));
          return { planned, applied };
        });
        return committed(planned, applied);
      } catch (error) {
        if (isStalePlan(error) && attempt < MAX_ATTEMPTS) continue;
        throw error;
      }
    }
  }

  async function get(namespace: string, key: string): Promise<Entry | null> {
    validator.namespace(namespace);
    validator.key(key);
    const rows = await db
      .select()
      .from(entries)
      .where(and(eq(entries.namespace, namespace), eq(entries.key, key), eq(entries.deleted, false)));
    return rows[0] ? entryOf(rows[0]) : null;
  }

  async function snapshot(namespace: string, prefix?: string | null): Promise<Snapshot> {
    validator.namespace(namespace);
    if (prefix) validator.prefix(prefix);
    // One statement, hence one MVCC snapshot: the revision and the entries agree.
    const rows = await db
      .select({ revision: namespaces.revision, entry: entries })
      .from(namespaces)
      .leftJoin(
        entries,
        and(eq(entries.namespace, namespaces.name), eq(entries.deleted, false), keyFilter(entries.key, { prefix })),
      )
      .where(eq(namespaces.name, namespace))
      .orderBy(asc(entries.key));
    return {
      namespace,
      revision: rows[0]?.revision ?? 0,
      entries: rows.flatMap((row) => (row.entry ? [entryOf(row.entry)] : [])),
    };
  }

  async function changes(
    namespace: string,
    sinceRevision: number,
    options: KeyFilter & { limit: number },
  ): Promise<ChangePage> {
    const { keys, prefix, limit } = options;
    validator.namespace(namespace);
    validator.revision(sinceRevision);
    validator.changesLimit(limit);
    if (prefix) validator.prefix(prefix);
    keys?.forEach((key, index) => validator.key(key, `keys.${index}`));
    const filter = keyFilter(history.key, { keys, prefix });
    const inNamespace = eq(history.namespace, namespace);

    return db.transaction(
      async (tx) => {
        const [nsRows, first] = await Promise.all([
          tx
            .select({ revision: namespaces.revision, compactedRevision: namespaces.compactedRevision })
            .from(namespaces)
            .where(eq(namespaces.name, namespace)),
          tx
            .select()
            .from(history)
            .where(and(inNamespace, gt(history.revision, sinceRevision), filter))
            .orderBy(asc(history.revision), asc(history.key))
            .limit(limit + 1),
        ]);
        const revision = nsRows[0]?.revision ?? 0;
        const compactedRevision = nsRows[0]?.compactedRevision ?? 0;
        if (sinceRevision > revision) {
          throw new GatewayError(
            'REVISION_AHEAD',
            `sinceRevision ${sinceRevision} is ahead of namespace ${namespace} (revision ${revision}); relist`,
            { currentRevision: revision, sinceRevision },
          );
        }
        if (sinceRevision < compactedRevision) {
          throw new GatewayError(
            'REVISION_COMPACTED',
            `History of ${namespace} at or below revision ${compactedRevision} was compacted; relist`,
            { compactedRevision, sinceRevision },
          );
        }
        if (first.length <= limit) return { namespace, revision, changes: first.map(changeOf), hasMore: false };

        const page = first.slice(0, limit);
        const last = page[limit - 1]!;
        const overflow = first[limit]!;
        if (overflow.revision !== last.revision) {
          return { namespace, revision, changes: page.map(changeOf), hasMore: true };
        }
        // The page ends inside a batch: take the rest of that revision, whatever its size.
        const [rest, after] = await Promise.all([
          tx
            .select()
            .from(history)
            .where(and(inNamespace, eq(history.revision, last.revision), gt(history.key, last.key), filter))
            .orderBy(asc(history.key)),
          tx
            .select({ revision: history.revision })
            .from(history)
            .where(and(inNamespace, gt(history.revision, last.revision), filter))
            .limit(1),
        ]);
        return { namespace, revision, changes: [...page, ...rest].map(changeOf), hasMore: after.length > 0 };
      },
      // Repeatable read: the namespace row and the history rows come from one snapshot.
      { isolationLevel: 'repeatable read', accessMode: 'read only' },
    );
  }

  async function stateAt(namespace: string, revision: number, prefix?: string | null): Promise<NamespaceState> {
    validator.namespace(namespace);
    validator.revision(revision, 'toRevision');
    if (prefix) validator.prefix(prefix);
    const historyFilter = keyFilter(history.key, { prefix });
    const entryFilter = keyFilter(entries.key, { prefix });
    return db.transaction(
      async (tx) => {
        const [nsRows, last, live, gaps] = await Promise.all([
          tx.select({ revision: namespaces.revision }).from(namespaces).where(eq(namespaces.name, namespace)),
          // Each key's last change at or before the revision.
          tx
            .selectDistinctOn([history.key])
            .from(history)
            .where(and(eq(history.namespace, namespace), lte(history.revision, revision), historyFilter))
            .orderBy(asc(history.key), desc(history.version)),
          tx
            .select()
            .from(entries)
            .where(and(eq(entries.namespace, namespace), eq(entries.deleted, false), entryFilter)),
          // Compaction deletes the oldest versions of a key (never its latest), so a key's history
          // is a suffix of its versions. Its state at the revision is lost when that suffix starts
          // after the revision with an earlier version gone.
          tx
            .select({ key: history.key, first: sql<string>`min(${history.revision})` })
            .from(history)
            .where(and(eq(history.namespace, namespace), historyFilter))
            .groupBy(history.key)
            .having(and(sql`min(${history.version}) > 1`, sql`min(${history.revision}) > ${revision}`))
            .limit(1),
        ]);
        const current = nsRows[0]?.revision ?? 0;
        if (revision > current) {
          throw new GatewayError('REVISION_AHEAD', `toRevision ${revision} is ahead of namespace ${namespace} (revision ${current})`, {
            currentRevision: current,
            toRevision: revision,
          });
        }
        if (gaps.length > 0) {
          throw new GatewayError(
            'REVISION_COMPACTED',
            `History of ${namespace} no longer reaches back to revision ${revision} (key ${gaps[0]!.key} was compacted); restore a later revision`,
            { toRevision: revision, key: gaps[0]!.key },
          );
        }
        return {
          namespace,
          revision: current,
          at: revision,
          keys: new Map(last.map((row) => [row.key, changeOf(row)])),
          current: new Map(live.map((row) => [row.key, entryOf(row)])),
        };
      },
      // Repeatable read: the revision, history and entries come from one snapshot.
      { isolationLevel: 'repeatable read', accessMode: 'read only' },
    );
  }

  async function keyHistory(
    namespace: string,
    key: string,
    options: { limit: number; beforeVersion?: number | null },
  ): Promise<Change[]> {
    validator.namespace(namespace);
    validator.key(key);
    validator.historyLimit(options.limit);
    const before = options.beforeVersion;
    if (before !== undefined && before !== null) validator.version(before, { field: 'beforeVersion', min: 0 });
    const rows = await db
      .select()
      .from(history)
      .where(
        and(
          eq(history.namespace, namespace),
          eq(history.key, key),
          before !== undefined && before !== null ? lt(history.version, before) : undefined,
        ),
      )
      .orderBy(desc(history.version))
      .limit(options.limit);
    return rows.map(changeOf);
  }

  async function listNamespaces(): Promise<NamespaceInfo[]> {
    const rows = await db
      .select({
        name: namespaces.name,
        revision: namespaces.revision,
        requireReason: namespaces.requireReason,
        entryCount: sql<number>`count(${entries.key}) filter (where ${entries.deleted} = false)`.mapWith(Number),
      })
      .from(namespaces)
      .leftJoin(entries, eq(entries.namespace, namespaces.name))
      .groupBy(namespaces.name)
      .orderBy(asc(namespaces.name));
    return rows;
  }

  async function configureNamespace(namespace: string, settings: NamespaceSettings): Promise<NamespaceInfo> {
    validator.namespace(namespace);
    // A namespace configured before its first write exists at revision 0.
    const requireReason = settings.requireReason ?? null;
    await database.transaction(async (tx) => {
      await Promise.all([
        tx.query(WRITE_PATH_SQL, ['configure']),
        tx.query(
          /* SQL */ `insert into namespaces (name, revision, require_reason) values ($1, 0, coalesce($2::boolean, false))
            on conflict (name) do update set require_reason = coalesce($2::boolean, namespaces.require_reason)`,
          [namespace, requireReason],
        ),
      ]);
    });
    const info = (await listNamespaces()).find((candidate) => candidate.name === namespace);
    if (!info) throw new Error(`namespace ${namespace} vanished after configure`);
    return info;
  }

  async function revisions(names: readonly string[]): Promise<Map<string, number>> {
    if (names.length === 0) return new Map();
    const rows = await db
      .select({ name: namespaces.name, revision: namespaces.revision })
      .from(namespaces)
      .where(inArray(namespaces.name, [...names]));
    return new Map(rows.map((row) => [row.name, row.revision]));
  }

  async function compact(before: Date): Promise<number> {
    // A key's latest row (version = the entry's version, tombstones included) always stays, so
    // rollback and history keep an anchor. Every row at or below the highest deleted revision of
    // a namespace is then possibly gone, which is what compacted_revision records.
    const rows = await database.transaction(async (tx) => {
      const [, removed] = await Promise.all([
        tx.query(WRITE_PATH_SQL, ['compact']),
        tx.query<{ removed: string | number }>(
          /* SQL */ `
          with doomed as (
            delete from history h
            where h.changed_at < $1::text::timestamptz
              and exists (
                select 1 from entries e
                where e.namespace = h.namespace and e.key = h.key and e.version > h.version
              )
            returning h.namespace, h.revision
          ), per_namespace as (
            select namespace, max(revision) as upto, count(*) as removed from doomed group by namespace
          ), marked as (
            update namespaces n
            set compacted_revision = greatest(n.compacted_revision, p.upto)
            from per_namespace p
            where n.name = p.namespace
            returning p.removed
          )
          select coalesce(sum(removed), 0) as removed from marked`,
          [before.toISOString()],
        ),
      ]);
      return removed;
    });
    return Number(rows[0]?.removed ?? 0);
  }

  return {
    write,
    get,
    snapshot,
    changes,
    stateAt,
    history: keyHistory,
    namespaces: listNamespaces,
    configureNamespace,
    revisions,
    compact,
    ping: () => database.ping(),
    stats: () => database.stats(),
  };
}
