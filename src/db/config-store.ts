import { and, asc, desc, eq, gt, gte, inArray, lt, lte, or, sql, type SQL } from 'drizzle-orm';
import { GatewayError } from '../errors.js';
import { assertValidSchema, assertValueMatches } from '../core/json-schema.js';
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
  database: Pick<Database, 'db' | 'driver' | 'transaction' | 'ping' | 'stats'>;
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

const BUMP_REVISION_SQL = /* SQL */ `
  insert into namespaces (name, revision) values ($1, 1)
  on conflict (name) do update set revision = namespaces.revision + 1
  returning revision, require_reason`;

interface CurrentRow extends Record<string, unknown> {
  key: string;
  version: number;
  deleted: boolean;
  description: string | null;
  secret: boolean;
  schema: string | null;
}

interface TargetRow extends Record<string, unknown> {
  key: string;
  version: number;
  op: string;
  value: string | null;
  encrypted_value: string | null;
  secret: boolean;
  description: string | null;
  schema: string | null;
}

/*
 * Rows travel as one JSON parameter expanded by jsonb_to_recordset: the statement text is the
 * same for one key or a thousand, so it is prepared once per connection, and Postgres parses one
 * JSON document instead of thousands of parameters.
 */

/** $1 namespace, $2 JSON array of keys. */
const CURRENT_ENTRIES_SQL = /* SQL */ `
  select key, version, deleted, description, secret, schema::text as schema from entries
  where namespace = $1 and key in (select jsonb_array_elements_text($2::text::jsonb))`;

/** $1 namespace, $2 JSON array of { key, version }. */
const ROLLBACK_TARGETS_SQL = /* SQL */ `
  select h.key, h.version, h.op, h.value::text as value, h.encrypted_value, h.secret, h.description, h.schema::text as schema
  from history h join jsonb_to_recordset($2::text::jsonb) as t(key text, version int)
    on h.key = t.key and h.version = t.version
  where h.namespace = $1`;

/** One op of `APPLY_WRITE_SQL`'s JSON parameter. */
interface AppliedRow {
  key: string;
  op: 'SET' | 'DELETE';
  version: number;
  /** Null when the value is encrypted (then in `encrypted`) or deleted. */
  value: JsonValue | null;
  encrypted: string | null;
  deleted: boolean;
  description: string | null;
  secret: boolean;
  schema: JsonValue | null;
}

/**
 * $1 namespace, $2 revision, $3 changed_at (null = the database's clock now), $4 actor,
 * $5 reason, $6 trace id, $7 JSON array of `AppliedRow`. The last statement of the transaction:
 * `clock_timestamp()` here is as close to COMMIT as PostgreSQL allows (`now()` would be the
 * transaction's start, before the namespace lock wait). Truncated to milliseconds so the
 * database, the answer and the bus message carry the same instant. Returns it in ms since epoch.
 */
const APPLY_WRITE_SQL = /* SQL */ `
  with stamp as (
    select coalesce($3::text::timestamptz, date_trunc('milliseconds', clock_timestamp())) as at
  ), rows as (
    select * from jsonb_to_recordset($7::text::jsonb) as t(
      key text, op text, version int, value jsonb, encrypted text, deleted bool, description text, secret bool, schema jsonb)
  ), applied as (
    insert into entries (namespace, key, value, encrypted_value, version, revision, deleted, updated_at, updated_by, description, secret, schema)
    select $1, key, value, encrypted, version, $2::bigint, deleted, (select at from stamp), $4::text, description, secret, schema from rows
    on conflict (namespace, key) do update set
      value = excluded.value, encrypted_value = excluded.encrypted_value, version = excluded.version,
      revision = excluded.revision, deleted = excluded.deleted, updated_at = excluded.updated_at,
      updated_by = excluded.updated_by, description = excluded.description, secret = excluded.secret, schema = excluded.schema
  ), logged as (
    insert into history (namespace, revision, key, op, version, value, encrypted_value, secret, description, schema, actor, reason, trace_id, changed_at)
    select $1, $2::bigint, key, op, version, value, encrypted, secret, description, schema, $4::text, $5::text, $6::text, (select at from stamp) from rows
  )
  select (extract(epoch from at) * 1000)::bigint::text as changed_at_ms from stamp`;

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

  function checkWrite(namespace: string, ops: readonly WriteOp[]): void {
    validator.namespace(namespace);
    validator.batchSize(ops.length);
    const seen = new Set<string>();
    ops.forEach((op, index) => {
      const at = (field: string) => (ops.length === 1 ? field : `inputs.${index}.${field}`);
      validator.key(op.key, at('key'));
      if (seen.has(op.key)) {
        throw new GatewayError('BAD_USER_INPUT', `Key ${op.key} appears more than once in one batch`, {
          field: at('key'),
          key: op.key,
        });
      }
      seen.add(op.key);
      if (op.expectedVersion !== undefined && op.expectedVersion !== null) {
        validator.version(op.expectedVersion, { field: at('expectedVersion'), min: 0 });
      }
      if (op.kind === 'set') {
        validator.value(op.value, at('value'));
        if (typeof op.description === 'string') validator.text(op.description, at('description'));
        if (op.schema !== undefined && op.schema !== null) {
          validator.value(op.schema, at('schema'));
          assertValidSchema(op.schema, at('schema'));
        }
      } else if (op.kind === 'rollback') {
        validator.version(op.toVersion, { field: at('toVersion'), min: 1 });
      }
    });
  }

  async function write(namespace: string, ops: readonly WriteOp[], meta: WriteMeta, options: WriteOptions = {}): Promise<WriteResult> {
    checkWrite(namespace, ops);
    if (meta.reason !== null) validator.text(meta.reason, 'reason');
    if (meta.actor !== null) validator.text(meta.actor, 'actor');
    // Unset: a trusted in-process caller (CLI tools, tests); the GraphQL layer always sets it.
    const mayRevealSecrets = meta.canReadSecrets;
    // Replaced by the database's commit-time stamp once the transaction is done.
    let changedAt = now?.() ?? new Date();
    const keys = ops.map((op) => op.key);
    const rollbacks = ops.filter((op): op is Extract<WriteOp, { kind: 'rollback' }> => op.kind === 'rollback');

    const { result, stamped } = await database.transaction(async (tx) => {
      // Issued together: they are pipelined on the transaction's connection, in order, so the
      // entry reads run (each with a fresh read-committed snapshot) after the namespace row lock
      // is held. Never merge them into one statement: its snapshot would predate the lock wait.
      const [, bumped, current, targets] = await Promise.all([
        tx.query(WRITE_PATH_SQL, ['api']),
        tx.query<{ revision: string | number; require_reason: boolean }>(BUMP_REVISION_SQL, [namespace]),
        tx.query<CurrentRow>(CURRENT_ENTRIES_SQL, [namespace, JSON.stringify(keys)]),
        rollbacks.length === 0
          ? Promise.resolve([] as TargetRow[])
          : tx.query<TargetRow>(ROLLBACK_TARGETS_SQL, [
              namespace,
              JSON.stringify(rollbacks.map((op) => ({ key: op.key, version: op.toVersion }))),
            ]),
      ]);
      const revision = Number(bumped[0]!.revision);
      const { expectedRevision } = options;
      if (expectedRevision !== undefined && expectedRevision !== null && expectedRevision !== revision - 1) {
        throw new GatewayError(
          'VERSION_CONFLICT',
          `Revision conflict on namespace ${namespace}: expected revision ${expectedRevision}, current revision is ${revision - 1}`,
          { currentRevision: revision - 1, expectedRevision },
        );
      }
      if (bumped[0]!.require_reason && !meta.reason?.trim()) {
        throw new GatewayError('BAD_USER_INPUT', `REASON_REQUIRED: namespace ${namespace} requires a reason for every change`, {
          field: 'reason',
          rule: 'REASON_REQUIRED',
        });
      }
      const byKey = new Map(current.map((row) => [row.key, row]));
      const targetByKey = new Map(targets.map((row) => [`${row.key}\u0000${row.version}`, row]));

      const rows: AppliedRow[] = [];
      const changes: Change[] = [];
      const written: Entry[] = [];

      for (const op of ops) {
        const row = byKey.get(op.key);
        const live = row !== undefined && !row.deleted;
        const currentVersion = live ? row.version : 0;
        if (op.expectedVersion !== undefined && op.expectedVersion !== null && op.expectedVersion !== currentVersion) {
          throw new GatewayError(
            'VERSION_CONFLICT',
            `Version conflict on ${op.key}: expected version ${op.expectedVersion}, current version is ${currentVersion}`,
            { key: op.key, currentVersion, expectedVersion: op.expectedVersion },
          );
        }
        // A re-create continues after the tombstone's version; versions are never reused.
        const version = (row?.version ?? 0) + 1;
        let value: JsonValue | null;
        let description: string | null;
        let secret: boolean;
        let schema: JsonValue | null;
        if (op.kind === 'delete') {
          if (!live) {
            throw new GatewayError('NOT_FOUND', `Config ${op.key} does not exist in namespace ${namespace}`, { key: op.key });
          }
          value = null;
          description = row.description;
          secret = row.secret;
          schema = parseJson(row.schema);
        } else {
          // A deleted key starts afresh: its old description, secret flag and schema are gone with it.
          const base = live ? row : null;
          description = base?.description ?? null;
          secret = base?.secret ?? false;
          schema = parseJson(base?.schema ?? null);
          if (op.kind === 'set') {
            value = op.value;
            if (op.description !== undefined) description = op.description;
            if (op.secret !== undefined && op.secret !== null) {
              // The current value (and its history) would become readable by every reader.
              if (secret && !op.secret && !mayRevealSecrets) {
                throw new GatewayError(
                  'FORBIDDEN',
                  `${op.key} is secret: clearing secret needs the secrets claim (or admin)`,
                  { key: op.key, field: ops.length === 1 ? 'secret' : `inputs.${ops.indexOf(op)}.secret` },
                );
              }
              secret = op.secret;
            }
            if (op.schema !== undefined) schema = op.schema;
          } else {
            const target = targetByKey.get(`${op.key}\u0000${op.toVersion}`);
            if (!target || target.op !== 'SET' || (target.value === null && target.encrypted_value === null)) {
              throw new GatewayError(
                'NOT_FOUND',
                `Version ${op.toVersion} of ${op.key} is not in history (never written, a delete, or compacted)`,
                { key: op.key, toVersion: op.toVersion },
              );
            }
            if (target.secret && !mayRevealSecrets) {
              throw new GatewayError(
                'FORBIDDEN',
                `Version ${op.toVersion} of ${op.key} was written as a secret: rolling back to it needs the secrets claim (or admin)`,
                { key: op.key, toVersion: op.toVersion },
              );
            }
            value = decodeValue(secretBox, namespace, op.key, parseJson(target.value), target.encrypted_value);
            if (value instanceof SecretUnreadableError) throw value;
            if (op.withSettings) {
              // A restore: the key as that version left it, settings included.
              if (secret && !target.secret && !mayRevealSecrets) {
                throw new GatewayError('FORBIDDEN', `${op.key} is secret: restoring it as not secret needs the secrets claim (or admin)`, {
                  key: op.key,
                  toVersion: op.toVersion,
                });
              }
              description = target.description;
              secret = target.secret;
              schema = parseJson(target.schema);
            } else if (!live && row) {
              // Rolling back a deleted key brings it back with the settings it had then.
              description = row.description;
              secret = row.secret;
              schema = parseJson(row.schema);
            }
            // A value written as secret stays secret, whatever the key's setting is now.
            secret ||= target.secret;
          }
          if (schema !== null) assertValueMatches(schema, value!, op.key, { secret });
          validateValue?.(value!, op.key, namespace);
          written.push({
            namespace,
            key: op.key,
            value: value!,
            version,
            revision,
            updatedAt: changedAt,
            updatedBy: meta.actor,
            description,
            secret,
            schema,
          });
        }
        const change: Change = {
          namespace,
          key: op.key,
          op: op.kind === 'delete' ? 'DELETE' : 'SET',
          version,
          revision,
          value,
          changedAt,
          changedBy: meta.actor,
          reason: meta.reason,
          traceId: meta.traceId,
          secret,
          description,
          schema,
        };
        changes.push(change);
        // Encrypted once, stored in the entry and its history row alike.
        const encrypted = secret && secretBox && value !== null ? secretBox.seal(JSON.stringify(value), secretContext(namespace, op.key)) : null;
        rows.push({
          key: op.key,
          op: change.op,
          version,
          value: encrypted === null ? value : null,
          encrypted,
          deleted: op.kind === 'delete',
          description,
          secret,
          schema,
        });
      }

      const params: SqlParam[] = [namespace, revision, now ? changedAt.toISOString() : null, meta.actor, meta.reason, meta.traceId, JSON.stringify(rows)];
      const stamped = tx.beforeCommit<{ changed_at_ms: string }>(APPLY_WRITE_SQL, params);
      return { result: { namespace, revision, changes, entries: written } satisfies WriteResult, stamped };
    });
    // Committed: the answer, the bus message and the database carry the commit-time stamp.
    changedAt = new Date(Number((await stamped)[0]!.changed_at_ms));
    for (const change of result.changes) change.changedAt = changedAt;
    for (const entry of result.entries) entry.updatedAt = changedAt;
    return result;
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
