import type { Sql } from 'postgres';
import { describe, expect, it, vi } from 'vitest';
import { inTransaction, sessionSql, type SessionSqlOptions } from '../../src/db/session-sql.js';

/** A session whose statements are recorded; `fail` makes the statement with that text reject. */
function fakeSession(fail: (query: string) => boolean = () => false) {
  const log: Array<{ query: string; prepare?: boolean }> = [];
  const session = {
    alive: true,
    sql: {
      unsafe(query: string, _parameters?: unknown[], options?: { prepare?: boolean }) {
        log.push({ query, prepare: options?.prepare });
        const result = fail(query) ? Promise.reject(new Error(`${query} failed`)) : Promise.resolve([]);
        result.catch(() => {});
        return Object.assign(result, { execute: () => result });
      },
    } as unknown as Sql,
  };
  return { session, log, queries: () => log.map((entry) => entry.query) };
}

const options = (overrides: Partial<SessionSqlOptions> = {}): SessionSqlOptions => ({
  sharedTypes: { parsers: {}, serializers: {} },
  forcePrepare: false,
  closedError: () => new Error('the database session closed'),
  ...overrides,
});

describe('sessionSql', () => {
  it('prepares every statement when asked, and refuses statements once the session closed', async () => {
    const { session, log } = fakeSession();
    const view = sessionSql(session, options({ forcePrepare: true }));
    await view.unsafe('select 1');
    expect(log).toEqual([{ query: 'select 1', prepare: true }]);
    session.alive = false;
    expect(() => view.unsafe('select 2')).toThrow('the database session closed');
  });

  it('nests begin() as savepoints, rolling back to the savepoint on error', async () => {
    const { session, queries } = fakeSession();
    const view = sessionSql(session, options());
    await view.begin(async (inner) => inner.unsafe('insert 1'));
    await expect(view.savepoint(async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(queries()).toEqual(['savepoint s1', 'insert 1', 'release savepoint s1', 'savepoint s2', 'rollback to savepoint s2']);
  });
});

describe('inTransaction', () => {
  it('wraps the work in BEGIN and COMMIT', async () => {
    const { session, queries } = fakeSession();
    const result = await inTransaction(session, async (sql) => {
      await sql.unsafe('update x');
      return 42;
    }, { ...options(), retire: vi.fn() });
    expect(result).toBe(42);
    expect(queries()).toEqual(['begin', 'update x', 'commit']);
  });

  it('rolls back when the work fails, and retires the session when the rollback fails too', async () => {
    const first = fakeSession();
    const retire = vi.fn();
    await expect(inTransaction(first.session, async () => Promise.reject(new Error('conflict')), { ...options(), retire })).rejects.toThrow('conflict');
    expect(first.queries()).toEqual(['begin', 'rollback']);
    expect(retire).not.toHaveBeenCalled();

    const second = fakeSession((query) => query === 'rollback');
    await expect(inTransaction(second.session, async () => Promise.reject(new Error('conflict')), { ...options(), retire })).rejects.toThrow('conflict');
    expect(retire).toHaveBeenCalledTimes(1);
  });

  it('sends no rollback on a session that closed (the server rolled back)', async () => {
    const { session, queries } = fakeSession();
    const retire = vi.fn();
    await expect(
      inTransaction(session, async () => {
        session.alive = false;
        throw new Error('connection closed');
      }, { ...options(), retire }),
    ).rejects.toThrow('connection closed');
    expect(queries()).toEqual(['begin']);
    expect(retire).not.toHaveBeenCalled();
  });
});
