import { fileURLToPath } from 'node:url';
import type { PGlite } from '@electric-sql/pglite';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator';
import { drizzle as drizzlePostgres } from 'drizzle-orm/postgres-js';
import { migrate as migratePostgres } from 'drizzle-orm/postgres-js/migrator';
import postgres from 'postgres';

/** The migrations folder of this package, wherever the process was started from. */
export const MIGRATIONS_FOLDER = fileURLToPath(new URL('../../drizzle', import.meta.url));

/**
 * Key of the session advisory lock held around migrations ("hotc" in ASCII), so gateways
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
  // max: 1 makes every statement below, lock and unlock included, run on one connection.
  const client = postgres(target.databaseUrl, {
    max: 1,
    prepare: target.prepare ?? true,
    connect_timeout: target.connectTimeoutS ?? 10,
    onnotice: () => {},
  });
  try {
    onProgress('waiting for the migration lock');
    await client`select pg_advisory_lock(${MIGRATION_LOCK_KEY})`;
    try {
      onProgress(`migration lock taken after ${Math.round(performance.now() - started)} ms; applying migrations`);
      await migratePostgres(drizzlePostgres({ client }), { migrationsFolder: MIGRATIONS_FOLDER });
    } finally {
      await client`select pg_advisory_unlock(${MIGRATION_LOCK_KEY})`;
    }
    onProgress(`migrations applied in ${Math.round(performance.now() - started)} ms`);
  } finally {
    await client.end({ timeout: 5 });
  }
}
