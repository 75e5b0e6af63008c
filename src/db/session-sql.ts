import type { Sql } from 'postgres';
import type { PooledSql } from './session-pool.js';

/** A session lent by the pool, as the statements on it see it. */
export interface LeasedSession {
  readonly sql: Sql;
  /** False once its socket closed: no statement may run on it any more. */
  readonly alive: boolean;
}

export interface SessionSqlOptions {
  /** The pool's shared parsers and serializers (drizzle reads them). */
  sharedTypes: PooledSql['options'];
  /** Make every statement a named prepared statement (drizzle sends them unnamed). */
  forcePrepare: boolean;
  /** The error a statement on a closed session fails with. */
  closedError: () => Error;
}

/**
 * Statements on one leased session, refused once it closed (never sent on another session);
 * `begin`/`savepoint` inside are savepoints.
 */
export function sessionSql(session: LeasedSession, { sharedTypes, forcePrepare, closedError }: SessionSqlOptions): PooledSql {
  let savepoints = 0;
  const view: PooledSql = {
    unsafe(query, parameters, statementOptions) {
      if (!session.alive) throw closedError();
      // Drizzle sends every query unnamed: made named prepared statements here (when the pool
      // prepares at all), so Postgres does not parse and plan each one again.
      return session.sql.unsafe(query, parameters as never, forcePrepare ? { ...statementOptions, prepare: true } : statementOptions);
    },
    begin: (fn) => view.savepoint(fn),
    async savepoint(fn) {
      const name = `s${++savepoints}`;
      await view.unsafe(`savepoint ${name}`);
      try {
        const result = await fn(view);
        await view.unsafe(`release savepoint ${name}`);
        return result;
      } catch (error) {
        if (session.alive) await view.unsafe(`rollback to savepoint ${name}`);
        throw error;
      }
    },
    options: sharedTypes,
  };
  return view;
}

/**
 * Runs `fn` in one transaction on `session`: plain `BEGIN`/`COMMIT` statements (postgres.js'
 * `begin()` is never used, see session-pool.ts). A rollback that fails calls `retire`: the
 * session's state is unknown, so it must not be lent again.
 */
export async function inTransaction<T>(
  session: LeasedSession,
  fn: (sql: PooledSql) => Promise<T>,
  options: SessionSqlOptions & { retire: () => void },
): Promise<T> {
  const view = sessionSql(session, options);
  // Sent together with the first statements (pipelined): one round trip less per transaction.
  const begun = view.unsafe('begin').execute();
  // When the session never opened (refused, unknown database, bad password), BEGIN is the
  // statement that carries the driver's error; the statements queued behind it only learn that
  // the session was torn down (CONNECTION_DESTROYED). Report the first cause, not the echo.
  const begin = { failed: false, error: undefined as unknown };
  begun.catch((error: unknown) => Object.assign(begin, { failed: true, error }));
  let result: T;
  try {
    result = await fn(view);
    await begun;
  } catch (caught) {
    const error = begin.failed ? begin.error : caught;
    // A closed session has nothing to roll back (the server did when it dropped).
    if (session.alive) {
      try {
        await view.unsafe('rollback');
      } catch {
        options.retire();
      }
    }
    throw error;
  }
  await view.unsafe('commit');
  return result;
}
