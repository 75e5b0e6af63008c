/**
 * The store's reads in SQL over Drizzle, for both drivers: snapshot, get, history pages, the
 * state at a revision, namespaces and their settings. Writes are `write-path.ts`, which applies
 * the core's write plan (`core/write-plan.ts`) in one statement. Just over 400 lines because each
 * read is one query with its own shape over the same column mappings; splitting them apart would
 * duplicate those mappings.
 */
import { and, asc, desc, eq, gt, gte, inArray, lt, lte, or, sql, type SQL } from 'drizzle-orm';
import { GatewayError } from '../errors.js';
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
import type { SecretBox } from '../core/secret-box.js';
import type { Database, SqlParam } from './connect.js';
import { decodeValue } from './stored-value.js';
import { createWritePath } from './write-path.js';
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
 * The write path (write-path.ts) and the other changes here are raw SQL (the same text on both
 * drivers): the query builder cost more than the database did. Parameters are cast via ::text
 * so both drivers send plain text.
 */

/**
 * Marks the transaction as hotconf's write path: the tables' guard triggers (migration 0004)
 * refuse changes from any transaction without it, so a hand-written UPDATE cannot change config
 * behind the revisions and history. Transaction-scoped, so it holds behind a pooler too.
 */
export const WRITE_PATH_SQL = /* SQL */ `select set_config('hotconf.write_path', $1::text, true)`;

/** Refuses a `sinceRevision` the namespace's history cannot answer from. */
function checkSince(namespace: string, sinceRevision: number, revision: number, compactedRevision: number): void {
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
}

/** A row of `CHANGES_PAGE_SQL`: the namespace's counters on every row, then one change (all null when none). */
interface PageRow extends Record<string, unknown> {
  ns_revision: string;
  ns_compacted: string;
  key: string;
  op: 'SET' | 'DELETE' | null;
  version: number | string;
  revision: string;
  value: string | null;
  encrypted_value: string | null;
  secret: boolean;
  description: string | null;
  schema: string | null;
  actor: string | null;
  reason: string | null;
  trace_id: string | null;
  changed_at_ms: string;
}

/**
 * A page of changes in one statement: the namespace row, then its first `$3` changes after
 * revision `$2` in (revision, key) order (left join: the counters come even when none). Indexed
 * by filter shape: 0 none, 1 keys (`$4`, a JSON array), 2 prefix range (`$4`..`$5`), 3 either
 * (`$4` keys, `$5`..`$6` range), as `keyFilter` builds them. jsonb, bigint and timestamps as text,
 * the same on both drivers.
 */
const CHANGES_PAGE_SQL = [
  '',
  'and key in (select jsonb_array_elements_text($4::text::jsonb))',
  'and key >= $4::text and key < $5::text',
  'and (key in (select jsonb_array_elements_text($4::text::jsonb)) or (key >= $5::text and key < $6::text))',
].map(
  (filter) => /* SQL */ `
  select ns.revision::text as ns_revision, ns.compacted_revision::text as ns_compacted,
    h.key, h.op, h.version, h.revision::text as revision, h.value::text as value, h.encrypted_value, h.secret,
    h.description, h.schema::text as schema, h.actor, h.reason, h.trace_id,
    floor(extract(epoch from h.changed_at) * 1000)::text as changed_at_ms
  from namespaces ns
  left join lateral (
    select * from history
    where namespace = $1::text and revision > $2::text::bigint ${filter}
    order by revision, key
    limit $3::text::int
  ) h on true
  where ns.name = $1::text
  order by h.revision, h.key`,
);

function pageRowToChange(row: PageRow, namespace: string, box: SecretBox | null): Change {
  const op = row.op!;
  return {
    namespace,
    key: row.key,
    op,
    version: Number(row.version),
    revision: Number(row.revision),
    value: op === 'DELETE' ? null : decodeValue(box, namespace, row.key, row.value === null ? null : JSON.parse(row.value), row.encrypted_value),
    changedAt: new Date(Number(row.changed_at_ms)),
    changedBy: row.actor,
    reason: row.reason,
    traceId: row.trace_id,
    secret: row.secret,
    description: row.description,
    schema: row.schema === null ? null : (JSON.parse(row.schema) as JsonValue),
  };
}

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
 * Every write is one statement, one transaction (hotconf_apply_write, migration 0005) that first
 * bumps the namespace's counter row: that row lock serialises the namespace's writers, so
 * revisions are contiguous and commit-ordered, and the function re-checks under it that every
 * row the plan (src/core/write-plan.ts) was made from is still current. The store decides
 * nothing: it reads, asks the core for the plan, encrypts secret values and applies it.
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

  const write = createWritePath({ database, validator, validateValue, now, secretBox });

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

    // One prepared statement, hence one snapshot and one round trip: the namespace row and the
    // first limit + 1 changes. Only a page that ends inside a batch needs more (below).
    const hasKeys = keys !== undefined && keys !== null && keys.length > 0;
    const params: SqlParam[] = [namespace, String(sinceRevision), String(limit + 1)];
    if (hasKeys) params.push(JSON.stringify(keys));
    if (prefix) params.push(prefix, prefix + PREFIX_END);
    const rows = await database.query<PageRow>(CHANGES_PAGE_SQL[(hasKeys ? 1 : 0) + (prefix ? 2 : 0)]!, params);
    const head = rows[0];
    const revision = head ? Number(head.ns_revision) : 0;
    const compactedRevision = head ? Number(head.ns_compacted) : 0;
    checkSince(namespace, sinceRevision, revision, compactedRevision);
    const count = head?.op === null || head === undefined ? 0 : rows.length;
    const changesOf = (end: number) => rows.slice(0, end).map((row) => pageRowToChange(row, namespace, secretBox));
    if (count <= limit) return { namespace, revision, changes: changesOf(count), hasMore: false };
    if (rows[limit]!.revision !== rows[limit - 1]!.revision) return { namespace, revision, changes: changesOf(limit), hasMore: true };
    // The page ends inside a batch: read it again, with the rest of that revision, in one
    // repeatable-read snapshot.
    return changesInSnapshot(namespace, sinceRevision, options);
  }

  async function changesInSnapshot(
    namespace: string,
    sinceRevision: number,
    options: KeyFilter & { limit: number },
  ): Promise<ChangePage> {
    const { keys, prefix, limit } = options;
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
        checkSince(namespace, sinceRevision, revision, nsRows[0]?.compactedRevision ?? 0);
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
