import { closeSync, mkdirSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { sql } from 'drizzle-orm';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { drizzle as drizzlePostgres } from 'drizzle-orm/postgres-js';
import type { Sql } from 'postgres';
import { runMigrations, type MigrateOptions } from './migrate.js';
import { createSessionPool } from './session-pool.js';
import * as schema from './schema.js';

/** The one service-layer type both drivers are used through. */
export type Db = PgDatabase<PgQueryResultHKT, typeof schema>;

export type DriverName = 'postgres' | 'pglite';

export interface DatabaseStats {
  driver: DriverName;
  [k: string]: string | number;
}

/** A statement parameter. Cast in SQL (`$1::text::jsonb`) so both drivers send the same text. */
export type SqlParam = string | number | boolean | null;

export interface SqlStatementOptions {
  /** Named prepared statement (when the connection allows it). Use for fixed statement shapes. @default true */
  prepare?: boolean;
}

/**
 * Raw SQL inside one transaction, the same text on both drivers. Rows come as the driver
 * delivers them: cast to `::text` in SQL and convert `bigint`s with `Number()`.
 */
export interface SqlTransaction {
  /** Runs the statement; statements issued without awaiting are pipelined, in order. */
  query<Row extends Record<string, unknown>>(text: string, params?: readonly SqlParam[], options?: SqlStatementOptions): Promise<Row[]>;
  /**
   * Runs the statement right before COMMIT, sent together with it (one round trip). If it fails,
   * the transaction rolls back and the transaction's promise rejects with its error. The
   * returned promise has the statement's rows once the transaction has committed (await it
   * after `transaction()` resolved; it never causes an unhandled rejection).
   */
  beforeCommit<Row extends Record<string, unknown> = Record<string, unknown>>(
    text: string,
    params?: readonly SqlParam[],
    options?: SqlStatementOptions,
  ): Promise<Row[]>;
}

/** A statement deferred to just before COMMIT, with where its rows go. */
interface Deferred {
  text: string;
  params: readonly SqlParam[] | undefined;
  options: SqlStatementOptions | undefined;
  settle: { resolve: (rows: Record<string, unknown>[]) => void; reject: (error: unknown) => void };
}

function defer(deferred: Deferred[], text: string, params?: readonly SqlParam[], options?: SqlStatementOptions): Promise<never[]> {
  let settle!: Deferred['settle'];
  const rows = new Promise<Record<string, unknown>[]>((resolve, reject) => (settle = { resolve, reject }));
  rows.catch(() => {}); // the transaction's own promise carries the failure
  deferred.push({ text, params, options, settle });
  return rows as Promise<never[]>;
}

/** An open database: drizzle handle plus lifecycle. Whoever connects closes. */
export interface Database extends AsyncDisposable {
  readonly db: Db;
  readonly driver: DriverName;
  /**
   * One read-committed transaction of raw SQL with as few round trips as the driver allows (the
   * write hot path). Commits when `fn` resolves, rolls back when it throws.
   */
  transaction<T>(fn: (tx: SqlTransaction) => Promise<T>): Promise<T>;
  /**
   * One statement of raw SQL in its own transaction (autocommit): one round trip, no BEGIN or
   * COMMIT of ours, no session state (fine behind a transaction-mode pooler).
   */
  query<Row extends Record<string, unknown>>(text: string, params?: readonly SqlParam[], options?: SqlStatementOptions): Promise<Row[]>;
  /** Applies pending migrations from `./drizzle` (safe when several gateways start at once). */
  migrate(options?: MigrateOptions): Promise<void>;
  stats(): DatabaseStats;
  /** Throws when the database does not answer. */
  ping(): Promise<void>;
  /** Ends the pool (postgres) or closes PGlite and releases the data-directory lock. Idempotent. */
  close(): Promise<void>;
}

export interface ConnectOptions {
  /** Postgres URL; null/undefined = embedded PGlite in `dataDir`. */
  databaseUrl?: string | null;
  /**
   * Data directory of the embedded database (created when missing). PGlite's files live in
   * `<dataDir>/pglite`; `<dataDir>/hotconf.lock` keeps a second process out.
   * @default './.hotconf'
   */
  dataDir?: string;
  /** Largest number of Postgres sessions (connections). @default 10 */
  poolMax?: number;
  /**
   * Use named prepared statements. Set false behind a pooler in transaction mode (PgBouncer,
   * Supavisor), which cannot keep them across transactions.
   * @default true, unless `databaseUrl` says `?prepare=false`
   */
  prepare?: boolean;
  /** Seconds to open a new Postgres connection. @default 5 (5 s) */
  connectTimeoutS?: number;
  /**
   * Longest one database operation waits for a free connection. An operation running longer is
   * cut off (an unavailable error, `SERVICE_UNAVAILABLE`; its connection closed) only when a
   * probe finds the database not answering; slow work on a live database runs to its end.
   * @default 5000 (5 s)
   */
  timeoutMs?: number;
  /** Postgres URL used only by `migrate()` (a direct connection past a pooler). @default databaseUrl */
  migrationDatabaseUrl?: string | null;
}

/**
 * Opens Postgres (postgres.js) when `databaseUrl` is set, else PGlite in `dataDir`.
 * Does not migrate: call `migrate()`.
 *
 * @example
 * await using database = await connectDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
 * await database.migrate();
 */
export async function connectDatabase(options: ConnectOptions = {}): Promise<Database> {
  const {
    databaseUrl = null,
    dataDir = './.hotconf',
    poolMax = 10, // connections
    prepare = databaseUrl ? urlAllowsPrepare(databaseUrl) : true,
    connectTimeoutS = 5, // 5 s
    timeoutMs = 5_000, // 5 s
    migrationDatabaseUrl = null,
  } = options;
  if (databaseUrl) {
    return connectPostgres(databaseUrl, { poolMax, prepare, connectTimeoutS, timeoutMs, migrationUrl: migrationDatabaseUrl ?? databaseUrl });
  }
  return connectPglite(dataDir);
}

/**
 * postgres.js reads `?prepare=false` from the URL only when no `prepare` option is passed, and we
 * always pass one: honour the URL here.
 */
export function urlAllowsPrepare(databaseUrl: string): boolean {
  // The query string alone: a multi-host URL (`h1:5432,h2:5432`) is no WHATWG URL.
  const query = databaseUrl.indexOf('?');
  const value = query < 0 ? null : new URLSearchParams(databaseUrl.slice(query + 1).split('#')[0]).get('prepare');
  return value === null || !/^(false|0|off|no|disable)$/i.test(value);
}

const JSON_OID = 114;
const JSONB_OID = 3802;
const rawText = (value: string): string => value;

function connectPostgres(
  databaseUrl: string,
  {
    poolMax,
    prepare,
    connectTimeoutS,
    timeoutMs,
    migrationUrl,
  }: { poolMax: number; prepare: boolean; connectTimeoutS: number; timeoutMs: number; migrationUrl: string },
): Database {
  // Sessions of our own on postgres.js (see session-pool.ts for why not its pool and begin()).
  const pool = createSessionPool({ url: databaseUrl, max: poolMax, prepare, connectTimeoutS, timeoutMs });
  // Hand jsonb to drizzle as text: drizzle JSON.parses any string it gets, so a value that is
  // the JSON string "123" would otherwise come back as the number 123.
  pool.sql.options.parsers[JSON_OID] = rawText;
  pool.sql.options.parsers[JSONB_OID] = rawText;
  const db = drizzlePostgres({ client: pool.sql as unknown as Sql, schema }) as unknown as Db;
  let closed: Promise<void> | null = null;
  const close = () => (closed ??= pool.end());

  /*
   * One session of the pool, plain BEGIN/COMMIT on it. Inside, statements are pipelined: the
   * namespace bump and entry reads go out together (with the BEGIN), the final inserts too.
   */
  const transaction = <T>(fn: (tx: SqlTransaction) => Promise<T>): Promise<T> =>
    pool.transaction(async (scoped) => {
      const run = (text: string, params: readonly SqlParam[] = [], options: SqlStatementOptions = {}) =>
        scoped.unsafe(text, params as SqlParam[], { prepare: prepare && (options.prepare ?? true) }).execute();
      const deferred: Deferred[] = [];
      const result = await fn({
        query: async <Row extends Record<string, unknown>>(text: string, params?: readonly SqlParam[], options?: SqlStatementOptions) =>
          (await run(text, params, options)) as unknown as Row[],
        beforeCommit: (text, params, options) => defer(deferred, text, params, options),
      });
      await Promise.all(
        deferred.map(({ text, params, options, settle }) =>
          run(text, params, options).then(
            (rows) => settle.resolve(rows as unknown as Record<string, unknown>[]),
            (error: unknown) => {
              settle.reject(error);
              throw error;
            },
          ),
        ),
      );
      return result;
    }) as Promise<T>;

  return {
    db,
    driver: 'postgres',
    transaction,
    query: async <Row extends Record<string, unknown>>(text: string, params: readonly SqlParam[] = [], options: SqlStatementOptions = {}) =>
      (await pool.sql.unsafe(text, params as SqlParam[], { prepare: prepare && (options.prepare ?? true) })) as unknown as Row[],
    migrate: (migrateOptions) => runMigrations({ driver: 'postgres', databaseUrl: migrationUrl, prepare, connectTimeoutS }, migrateOptions),
    stats: () => ({ driver: 'postgres', ...pool.stats(), prepare: prepare ? 'on' : 'off' }),
    ping: async () => {
      await db.execute(sql`select 1`);
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}

async function connectPglite(dataDir: string): Promise<Database> {
  const dir = resolve(dataDir);
  mkdirSync(dir, { recursive: true });
  const releaseLock = acquireLock(join(dir, 'hotconf.lock'));
  let client: PGlite;
  try {
    // jsonb as text, for the same reason as with postgres.js.
    client = await PGlite.create(join(dir, 'pglite'), { parsers: { [JSON_OID]: rawText, [JSONB_OID]: rawText } });
  } catch (error) {
    releaseLock();
    throw error;
  }
  const db = drizzlePglite({ client, schema }) as unknown as Db;
  let closed: Promise<void> | null = null;
  const close = () =>
    (closed ??= (async () => {
      try {
        await client.close();
      } finally {
        releaseLock();
      }
    })());
  const transaction = <T>(fn: (tx: SqlTransaction) => Promise<T>): Promise<T> =>
    client.transaction(async (tx) => {
      const deferred: Deferred[] = [];
      const result = await fn({
        query: async <Row extends Record<string, unknown>>(text: string, params?: readonly SqlParam[]) =>
          (await tx.query<Row>(text, params ? [...params] : [])).rows,
        beforeCommit: (text, params) => defer(deferred, text, params),
      });
      for (const { text, params, settle } of deferred) {
        try {
          settle.resolve((await tx.query<Record<string, unknown>>(text, params ? [...params] : [])).rows);
        } catch (error) {
          settle.reject(error);
          throw error;
        }
      }
      return result;
    });

  return {
    db,
    driver: 'pglite',
    transaction,
    query: async <Row extends Record<string, unknown>>(text: string, params: readonly SqlParam[] = []) => (await client.query<Row>(text, [...params])).rows,
    migrate: (migrateOptions) => runMigrations({ driver: 'pglite', client }, migrateOptions),
    stats: () => ({ driver: 'pglite', dataDir: dir }),
    ping: async () => {
      await client.query('select 1');
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * PGlite is single-process: two processes on one data directory silently lose writes. The lock
 * file holds the owner's pid; a lock left by a dead process is taken over.
 */
function acquireLock(lockPath: string): () => void {
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = openSync(lockPath, 'wx');
      try {
        writeSync(fd, String(process.pid));
      } finally {
        closeSync(fd);
      }
      let released = false;
      return () => {
        if (released) return;
        released = true;
        try {
          if (readFileSync(lockPath, 'utf8').trim() === String(process.pid)) unlinkSync(lockPath);
        } catch {
          // Already gone: nothing to release.
        }
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    let holder = NaN;
    try {
      holder = Number.parseInt(readFileSync(lockPath, 'utf8').trim(), 10);
    } catch {
      // Vanished or unreadable between open and read: try again.
      continue;
    }
    if (Number.isInteger(holder) && holder > 0 && pidAlive(holder)) {
      const who = holder === process.pid ? 'this process' : `process ${holder}`;
      throw new Error(
        `The embedded database in ${lockPath.replace(/\/hotconf\.lock$/, '')} is already open by ${who} ` +
          `(lock file ${lockPath}). PGlite allows one process per data directory: stop the other gateway, ` +
          `use another HOTCONF_DATA_DIR, or set DATABASE_URL to run several gateways on PostgreSQL.`,
      );
    }
    try {
      unlinkSync(lockPath);
    } catch {
      // Someone else removed it first; the next exclusive open decides.
    }
  }
  throw new Error(`Could not take the lock file ${lockPath}; another process keeps replacing it`);
}
