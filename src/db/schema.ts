import { sql } from 'drizzle-orm';
import { bigint, boolean, check, customType, index, integer, jsonb, pgTable, primaryKey, text, timestamp, uniqueIndex, bigserial } from 'drizzle-orm/pg-core';
import type { JsonValue } from '../core/types.js';

/**
 * Keys and namespaces are ASCII; byte order ("C" collation) makes prefix scans a plain range
 * on the primary key and ordering identical on every server and on PGlite.
 */
const cText = customType<{ data: string; driverData: string }>({
  dataType: () => 'text COLLATE "C"',
});

const json = () => jsonb().$type<JsonValue>();

/** One row per namespace; `revision` is the per-namespace counter every write bumps by 1. */
export const namespaces = pgTable('namespaces', {
  name: cText('name').primaryKey(),
  revision: bigint('revision', { mode: 'number' }).notNull().default(0),
  /** History at or below this revision may be gone: older `sinceRevision`s are REVISION_COMPACTED. */
  compactedRevision: bigint('compacted_revision', { mode: 'number' }).notNull().default(0),
  requireReason: boolean('require_reason').notNull().default(false),
  createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
});

/**
 * Current state per key. A deleted key keeps its row as a tombstone (`deleted = true`) so a
 * re-create continues the version sequence instead of restarting at 1.
 */
export const entries = pgTable(
  'entries',
  {
    namespace: cText('namespace')
      .notNull()
      .references(() => namespaces.name),
    key: cText('key').notNull(),
    value: json(),
    /** A secret value encrypted at rest (`HOTCONF_SECRET_KEYS`), then `value` is null: see secret-box.ts. */
    encryptedValue: text('encrypted_value'),
    version: integer('version').notNull(),
    revision: bigint('revision', { mode: 'number' }).notNull(),
    deleted: boolean('deleted').notNull().default(false),
    updatedAt: timestamp('updated_at', { withTimezone: true, mode: 'date' }).notNull(),
    updatedBy: text('updated_by'),
    description: text('description'),
    secret: boolean('secret').notNull().default(false),
    schema: json(),
  },
  (t) => [
    primaryKey({ columns: [t.namespace, t.key] }),
    index('entries_namespace_revision_idx').on(t.namespace, t.revision),
    check('entries_one_value_form', sql`${t.value} is null or ${t.encryptedValue} is null`),
  ],
);

/** The event log: one row per change. Any state within retention can be rebuilt from it. */
export const history = pgTable(
  'history',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    namespace: cText('namespace').notNull(),
    revision: bigint('revision', { mode: 'number' }).notNull(),
    key: cText('key').notNull(),
    op: text('op', { enum: ['SET', 'DELETE'] }).notNull(),
    version: integer('version').notNull(),
    value: json(),
    /** As `entries.encrypted_value`. */
    encryptedValue: text('encrypted_value'),
    /** Whether the value was written as secret (readers without the claim get null; rollback to it needs the claim). */
    secret: boolean('secret').notNull().default(false),
    /** The entry's description and schema as this change left them (restore and cache updates need them). */
    description: text('description'),
    schema: json(),
    actor: text('actor'),
    reason: text('reason'),
    traceId: text('trace_id'),
    changedAt: timestamp('changed_at', { withTimezone: true, mode: 'date' }).notNull(),
  },
  (t) => [
    index('history_namespace_revision_idx').on(t.namespace, t.revision, t.key),
    uniqueIndex('history_namespace_key_version_idx').on(t.namespace, t.key, t.version),
    index('history_changed_at_idx').on(t.changedAt),
    check('history_one_value_form', sql`${t.value} is null or ${t.encryptedValue} is null`),
  ],
);

/** What each SDK client reported it has applied (for `convergence`). */
export const clientReports = pgTable(
  'client_reports',
  {
    namespace: cText('namespace').notNull(),
    clientId: text('client_id').notNull(),
    appliedRevision: bigint('applied_revision', { mode: 'number' }).notNull(),
    lastSeenAt: timestamp('last_seen_at', { withTimezone: true, mode: 'date' }).notNull().default(sql`now()`),
  },
  (t) => [primaryKey({ columns: [t.namespace, t.clientId] })],
);
