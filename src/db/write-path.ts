import type { JsonValue, WriteMeta, WriteOp, WriteOptions, WriteResult } from '../core/types.js';
import type { Validator } from '../core/validation.js';
import { secretContext, type SecretBox, type SecretUnreadableError } from '../core/secret-box.js';
import {
  checkWriteInput,
  hasReason,
  planWrite,
  readsOf,
  stampResult,
  targetKey,
  type CurrentEntry,
  type PlannedRow,
  type RollbackTarget,
  type WritePlan,
  type WriteState,
} from '../core/write-plan.js';
import type { Database, SqlParam } from './connect.js';
import { decodeValue } from './stored-value.js';

/*
 * A write is two statements, neither inside a transaction of ours: READ_STATE_SQL reads what the
 * plan needs (no lock), then APPLY_WRITE_SQL calls hotconf_apply_write (migration 0005), which
 * takes the namespace revision row lock, re-checks under it every row the plan assumed, and
 * writes the entries and history rows. The lock is held only inside PostgreSQL. When another
 * write changed a key of the plan in between, the function refuses with STALE_PLAN and the write
 * reads and plans again; after a few tries it reads under the namespace lock (LOCK_NAMESPACE_SQL)
 * and cannot go stale.
 *
 * The read is skipped when this gateway already knows what it would return: the rows it wrote
 * last (`KnownRows`). A plain set or delete of keys this gateway wrote before is then one round
 * trip. What a plan takes from a known row (version, tombstone, description, secret flag, schema)
 * changes only with the key's version, and the function checks every version under the lock, so a
 * known row that is out of date costs one refused statement, never a wrong write; such a key is
 * read first from then on (it is written from elsewhere too). CAS on the namespace revision and
 * rollbacks always read.
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
  /**
   * For a plan made from `KnownRows`: the commit instant (ms) of the row as this gateway wrote it.
   * The function refuses the plan unless the row still carries it, so a row rewritten elsewhere to
   * the same version (a database restored from a backup, then written) can never pass for it.
   */
  base_updated_at_ms?: number;
  /** Null when the value is encrypted (then in `encrypted`) or deleted. */
  value: JsonValue | null;
  encrypted: string | null;
  deleted: boolean;
  description: string | null;
  secret: boolean;
  schema: JsonValue | null;
}

/** How many rows (namespace, key) `KnownRows` remembers; the oldest go first. */
const KNOWN_ROWS_MAX = 10_000;

/**
 * The rows this gateway wrote last and whether their namespaces required a reason, as
 * `READ_STATE_SQL` would return them now unless another writer came in between (the function
 * catches that). Keys that went stale once are not remembered again (`shared`).
 */
class KnownRows {
  private readonly rows = new Map<string, CurrentEntry & { updatedAtMs: number }>();
  private readonly shared = new Set<string>();
  private readonly requireReason = new Map<string, boolean>();

  private static id(namespace: string, key: string): string {
    return `${namespace}\u0000${key}`;
  }

  /** The state for a write of `keys`, or null when one of them (or the namespace's rule) is unknown. */
  state(namespace: string, keys: readonly string[], reasonGiven: boolean): (WriteState & { updatedAtMs: Map<string, number> }) | null {
    const requireReason = reasonGiven ? false : this.requireReason.get(namespace);
    if (requireReason === undefined) return null;
    const current = new Map<string, CurrentEntry>();
    const updatedAtMs = new Map<string, number>();
    for (const key of keys) {
      const row = this.rows.get(KnownRows.id(namespace, key));
      if (!row) return null;
      current.set(key, row);
      updatedAtMs.set(key, row.updatedAtMs);
    }
    // `revision` is a placeholder: the answer is stamped with the committed one.
    return { revision: 0, requireReason, current, targets: new Map(), updatedAtMs };
  }

  /** After a commit: the rows as written (and, committed without a reason, that none is required). */
  wrote(namespace: string, rows: readonly PlannedRow[], reasonGiven: boolean, updatedAtMs: number): void {
    if (!reasonGiven) {
      this.requireReason.delete(namespace);
      this.requireReason.set(namespace, false);
      if (this.requireReason.size > KNOWN_ROWS_MAX) this.requireReason.delete(this.requireReason.keys().next().value!);
    }
    for (const row of rows) {
      const id = KnownRows.id(namespace, row.key);
      if (this.shared.has(id)) continue;
      this.rows.delete(id);
      this.rows.set(id, { key: row.key, version: row.version, deleted: row.deleted, description: row.description, secret: row.secret, schema: row.schema, updatedAtMs });
      if (this.rows.size > KNOWN_ROWS_MAX) this.rows.delete(this.rows.keys().next().value!);
    }
  }

  /** A plan from known rows failed: forget them; when they went stale, read these keys from now on. */
  forget(namespace: string, keys: readonly string[], stale: boolean): void {
    this.requireReason.delete(namespace);
    for (const key of keys) {
      const id = KnownRows.id(namespace, key);
      this.rows.delete(id);
      if (!stale) continue;
      this.shared.add(id);
      if (this.shared.size > KNOWN_ROWS_MAX) this.shared.delete(this.shared.keys().next().value!);
    }
  }
}

function isStalePlan(error: unknown): boolean {
  for (let current = error, depth = 0; current && typeof current === 'object' && depth < 5; depth++) {
    if ((current as { code?: unknown }).code === STALE_PLAN) return true;
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}

export interface WritePathOptions {
  database: Pick<Database, 'transaction' | 'query'>;
  validator: Validator;
  /** See `ConfigStoreOptions.validateValue`. */
  validateValue?: (value: JsonValue, key: string, namespace: string) => void;
  /** See `ConfigStoreOptions.now`. */
  now?: () => Date;
  secretBox: SecretBox | null;
}

/**
 * `ConfigStore.write`: read the rows, plan in the core (src/core/write-plan.ts), apply in one
 * statement. See the top of this file.
 */
export function createWritePath({ database, validator, validateValue, now, secretBox }: WritePathOptions) {
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
  const known = new KnownRows();

  async function write(namespace: string, ops: readonly WriteOp[], meta: WriteMeta, options: WriteOptions = {}): Promise<WriteResult> {
    checkWriteInput(validator, namespace, ops, meta);
    const reads = readsOf(ops);
    const readParams: SqlParam[] = [namespace, JSON.stringify(reads.keys), JSON.stringify(reads.targets)];
    // Replaced by the database's commit-time stamp once the write is done.
    const placeholder = now?.() ?? new Date();
    const expectedRevision = options.expectedRevision ?? null;
    const plan = (row: StateRow | undefined) =>
      planWrite(rules, namespace, ops, meta, options, toState(namespace, row ?? { head: null, current: '[]', targets: '[]' }), placeholder);
    const applyParams = (planned: WritePlan, knownAt?: ReadonlyMap<string, number>): SqlParam[] => [
      namespace,
      JSON.stringify(planned.rows.map((row) => ({ ...toApplied(namespace, row), base_updated_at_ms: knownAt?.get(row.key) }))),
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

    const reasonGiven = hasReason(meta);
    // One round trip when this gateway knows the rows (see the top); otherwise, or when that plan
    // fails in any way, the path below decides as if it had not been tried.
    const knownState = expectedRevision === null && reads.targets.length === 0 ? known.state(namespace, reads.keys, reasonGiven) : null;
    if (knownState) {
      let planned: WritePlan | null = null;
      try {
        planned = planWrite(rules, namespace, ops, meta, options, knownState, placeholder);
      } catch {
        known.forget(namespace, reads.keys, false);
      }
      if (planned) {
        try {
          const [applied] = await database.query<Applied>(APPLY_WRITE_SQL, applyParams(planned, knownState.updatedAtMs));
          known.wrote(namespace, planned.rows, reasonGiven, Number(applied!.changed_at_ms));
          return committed(planned, applied);
        } catch (error) {
          known.forget(namespace, reads.keys, isStalePlan(error));
          if (!isStalePlan(error)) throw error;
        }
      }
    }

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
          known.wrote(namespace, planned.rows, reasonGiven, Number(applied!.changed_at_ms));
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
        known.wrote(namespace, planned.rows, reasonGiven, Number(applied!.changed_at_ms));
        return committed(planned, applied);
      } catch (error) {
        if (isStalePlan(error) && attempt < MAX_ATTEMPTS) continue;
        throw error;
      }
    }
  }

  return write;
}
