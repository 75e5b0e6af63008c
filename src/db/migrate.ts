import { fileURLToPath } from 'node:url';
import type { PGlite } from '@electric-sql/pglite';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator';
import { drizzle as drizzlePostgres } from 'drizzle-orm/postgres-js';
import { migrate as migratePostgres } from 'drizzle-orm/postgres-js/migrator';
import type { Sql } from 'postgres';
import { createSessionPool } from './session-pool.js';

/** The migrations folder of this package, wherever the process was started from. */
export const MIGRATIONS_FOLDER = fileURLToPath(new URL('../../drizzle', import.meta.url));

/**
 * Key of the transaction advisory lock held around migrations ("hotc" in ASCII), so gateways
 * starting together on an empty database migrate one after another instead of crashing.
 */
export const MIGRATION_LOCK_KEY = 0x686f7463;

export interface MigrateOptions {
  /** Progress messages ("waiting for migration lock", "migrations applied in 42 ms"). */
  onProgress?: (message: string) => void;
}

export type MigrationTarget =
  | { driver: 'postgres'; databaseUrl: string; prepare?: boolean; connectTimeoutS?: number }
  | { driver: 'pglite'; client: PGlite };

/** Applies pending migrations from `./drizzle`. Prefer `Database.migrate()` from `connect.ts`. */
export async function runMigrations(target: MigrationTarget, options: MigrateOptions = {}): Promise<void> {
  const { onProgress = () => {} } = options;
  const started = performance.now();
  if (target.driver === 'pglite') {
    // One process per data directory (lock file), so no lock is needed here.
    await migratePglite(drizzlePglite({ client: target.client }), { migrationsFolder: MIGRATIONS_FOLDER });
    onProgress(`migrations applied in ${Math.round(performance.now() - started)} ms`);
    return;
  }
  /*
   * The whole migration is one transaction that first takes pg_advisory_xact_lock. A session lock
   * (pg_advisory_lock) belongs to a server connection, and behind a transaction-mode pooler each
   * statement may get another one: the lock would exclude nobody and could stay held by a
   * connection nobody unlocks. A transaction's lock lives and dies with the transaction, which a
   * pooler keeps on one server connection, and Postgres releases it even if this process dies.
   * drizzle's own CREATE SCHEMA/TABLE and its migration transaction (a savepoint here) run inside.
   */
  const pool = createSessionPool({
    url: target.databaseUrl,
    max: 1,
    prepare: target.prepare ?? true,
    connectTimeoutS: target.connectTimeoutS ?? 5,
    timeoutMs: 0, // waiting for another gateway's migration is expected; no deadline
  });
  try {
    onProgress('waiting for the migration lock');
    await pool.transaction(async (tx) => {
      await tx.unsafe('select pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY]);
      onProgress(`migration lock taken after ${Math.round(performance.now() - started)} ms; applying migrations`);
      await migratePostgres(drizzlePostgres({ client: tx as unknown as Sql }), { migrationsFolder: MIGRATIONS_FOLDER });
    });
    onProgress(`migrations applied in ${Math.round(performance.now() - started)} ms`);
  } finally {
    await pool.end();
  }
}
