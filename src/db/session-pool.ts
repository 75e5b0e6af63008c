import { connect as netConnect, type Socket } from 'node:net';
import postgres, { type PendingQuery, type Row, type Sql } from 'postgres';
import { hasErrorCode, READ_ONLY_SQLSTATE } from '../errors.js';
import { createLivenessProbe } from './liveness-probe.js';
import { inTransaction, sessionSql } from './session-sql.js';

/**
 * Our own pool of PostgreSQL sessions on postgres.js, one driver instance per session.
 *
 * Why not postgres.js' pool: in 3.4.9 (the newest) a pooled connection object lives forever and
 * reconnects itself, and three of its paths go wrong when the server goes away mid-flight:
 * - `begin()`/`reserve()` issue statements (the internal ROLLBACK after a failed query, or the
 *   next statement on a reserved connection) on a connection whose socket is already null; the
 *   write is flushed from a `setImmediate` and throws `TypeError: Cannot read properties of null
 *   (reading 'write')` where nobody can catch it (porsager/postgres#1208, #1154, #1066).
 * - its teardown cancels a pending flush without forgetting it, so a reconnected connection never
 *   sends its startup message and hangs until `connect_timeout` (a "poisoned" connection).
 * - a failure while a new connection fetches array types (`fetch_types`, e.g. PgBouncer's FATAL
 *   `query_wait_timeout`) rejects a promise nobody awaits: an unhandled rejection.
 * - its reconnect backoff grows with every failed attempt across the pool (8–11 s stalls), and a
 *   pipelined statement still queued when a connection drops is replayed on the next session,
 *   outside the transaction it belonged to.
 *
 * Here every session is a postgres.js instance with `max: 1`, `fetch_types: false` and a socket
 * factory (the documented `socket` option) that opens exactly one socket: when that socket closes,
 * the instance is ended and never reused, so none of the reconnect paths above can run.
 * Transactions are plain `BEGIN`/`COMMIT` statements on the session (allowed with `max: 1`),
 * never `begin()`. Every statement checks first that its session is still the one it began on.
 * Pool size, sessions in use, idle and waiting callers are therefore counted here, exactly.
 *
 * This module leases sessions (pool accounting, waiters, connect backoff, deadlines);
 * `session-sql.ts` is what runs on a leased session (statements, savepoints, transactions) and
 * `liveness-probe.ts` the out-of-pool check that decides whether a slow operation is cut off.
 * What is left (a little over 400 lines, most of it this note and the option docs) is one state
 * machine over shared state (sessions, idle list, waiters, backoff): split further, its pieces
 * would pass that state around rather than own any of it.
 */

/** Live pool figures, counted by the pool itself. */
export interface PoolStats {
  /** Largest number of sessions (`DATABASE_POOL_MAX`). */
  max: number;
  /** Sessions open or opening. */
  size: number;
  /** Sessions lent to an operation. */
  inUse: number;
  /** Open sessions nobody uses. */
  idle: number;
  /** Operations waiting for a session. */
  waiting: number;
}

/** Raised by the pool itself; `code` tells "the database is unavailable" from a bug. */
export class DatabaseUnavailableError extends Error {
  readonly code: 'DB_TIMEOUT' | 'DB_UNREACHABLE' | 'CONNECTION_CLOSED' | 'CONNECTION_ENDED';

  constructor(code: DatabaseUnavailableError['code'], message: string, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'DatabaseUnavailableError';
    this.code = code;
  }
}

/** Parameters and options of a statement, as postgres.js' `unsafe` takes them. */
export type UnsafeArgs = [query: string, parameters?: unknown[], options?: { prepare?: boolean }];

/**
 * The part of a postgres.js `Sql` that drizzle and our transaction helper use: `unsafe`, `begin`
 * (here: a transaction on one pooled session), `savepoint` and the shared type `options`.
 */
export interface PooledSql {
  unsafe(...args: UnsafeArgs): PendingQuery<Row[]>;
  begin<T>(fn: (sql: PooledSql) => Promise<T>): Promise<T>;
  savepoint<T>(fn: (sql: PooledSql) => Promise<T>): Promise<T>;
  readonly options: { parsers: Record<string, unknown>; serializers: Record<string, unknown> };
}

export interface SessionPoolOptions {
  /** Postgres URL (`postgres://…`); query parameters (sslmode, application_name…) apply. */
  url: string;
  /** Largest number of sessions. @default 10 */
  max?: number;
  /** Named prepared statements (off behind a transaction-mode pooler). @default true */
  prepare?: boolean;
  /** Seconds to open a session (TCP, TLS, startup). @default 5 (5 s) */
  connectTimeoutS?: number;
  /** Seconds after which an idle session is closed. @default 60 (1 min) */
  idleTimeoutS?: number;
  /**
   * Longest an operation waits for a free session; also how long it may run before the pool
   * checks (on a connection of its own, within 2 s) that the database still answers, and again
   * every as long after. Only an operation whose database does not answer is cut off: the caller
   * gets `DB_TIMEOUT` and the session is closed (the server rolls back an open transaction).
   * `0` = no limit (migrations).
   * @default 5000 (5 s)
   */
  timeoutMs?: number;
  /** Postgres `application_name` (a URL parameter wins). @default 'hotconf' */
  applicationName?: string;
  /** Longest pause before opening a session again after one failed to open. @default 250 (250 ms) */
  maxBackoffMs?: number;
}

export interface SessionPool extends AsyncDisposable {
  /** A `Sql`-like view for drizzle: each top-level statement or `begin` borrows a session. */
  readonly sql: PooledSql;
  /**
   * Runs `fn` in one transaction on one session; statements keep the `prepare` they are given.
   * `timeoutMs` overrides the pool's deadline (`0` = none).
   */
  transaction<T>(fn: (sql: PooledSql) => Promise<T>, options?: { timeoutMs?: number }): Promise<T>;
  stats(): PoolStats;
  /** Ends every session (waits up to 5 s for running statements) and refuses new work. Idempotent. */
  end(): Promise<void>;
}

/** How long the liveness probe of a slow operation waits for `select 1`. */
const PROBE_TIMEOUT_MS = 2_000; // 2 s

/** A session idle at least this long answers a `select 1` before it is lent again (see `stillOpen`). */
const IDLE_CHECK_AFTER_MS = 1_000; // 1 s

interface Session {
  id: number;
  sql: Sql;
  /** Why it could not be opened (a socket error, or the server's refusal at startup), if it could not. */
  failure: Error | null;
  /** False once its socket closed or it was ended: never used again. */
  alive: boolean;
  /** Answered at least once (a failure before that counts as a failed connect). */
  answered: boolean;
  leased: boolean;
  /** When it was last given back to the pool; 0 while never used. */
  idleSince: number;
}

interface Waiter {
  resolve(session: Session): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout | null;
}

/** A PostgreSQL ErrorResponse body (fields: type byte, text, NUL; then a final NUL) as an error. */
function startupError(body: Buffer): Error {
  const fields = new Map<string, string>();
  for (let at = 0; at < body.length && body[at] !== 0; ) {
    const end = body.indexOf(0, at + 1);
    if (end < 0) break;
    fields.set(String.fromCharCode(body[at]!), body.toString('utf8', at + 1, end));
    at = end + 1;
  }
  // Shaped like postgres.js' PostgresError, so the log keeps code and message (classes 08, 28, 3D, 53, 57 quote no data).
  return Object.assign(new Error(fields.get('M') ?? 'the server refused the connection'), {
    name: 'PostgresError',
    code: fields.get('C') ?? '08000',
    severity: fields.get('V') ?? fields.get('S') ?? 'FATAL',
  });
}

/**
 * Records why a session's socket failed before the session answered: the socket's own error, or
 * an ErrorResponse the server sent during startup (a missing database, a refused password, "the
 * database system is starting up"), which postgres.js does not pass on to the queued statement.
 * Over TLS the bytes are encrypted: only socket errors are recorded there.
 */
function watchStartup(socket: Socket, tls: boolean, record: (error: Error) => void): void {
  socket.once('error', record);
  if (tls) return;
  // Bytes of a message that began in an earlier chunk: the next message starts after them.
  let carried = 0;
  const onData = (chunk: Buffer) => {
    let at = carried;
    while (at < chunk.length) {
      // A header split across chunks, or one that is not a message: stop following the framing
      // rather than read every later chunk of the session at a wrong offset.
      if (at + 5 > chunk.length) return void socket.off('data', onData);
      const type = chunk[at];
      const length = chunk.readInt32BE(at + 1);
      if (length < 4) return void socket.off('data', onData);
      if (type === 0x45 /* E */) record(startupError(chunk.subarray(at + 5, Math.min(chunk.length, at + 1 + length))));
      if (type === 0x5a /* Z: ready for query, the startup is over */ || type === 0x45) return void socket.off('data', onData);
      at += 1 + length;
    }
    carried = at - chunk.length;
  };
  socket.on('data', onData);
}

/**
 * The hosts of a multi-host URL (`postgres://u@h1:5432,h2:5433/db`, libpq's failover form),
 * read as postgres.js reads them; null for a URL with one host (or a Unix socket).
 */
function multiHostTargets(url: string): Array<{ host: string; port: number }> | null {
  const authority = url.slice(url.indexOf('://') + 3).split(/[?/]/)[0]!;
  const list = decodeURIComponent(authority.slice(authority.indexOf('@') + 1));
  if (!list.includes(',')) return null;
  let defaultPort = 5432;
  const query = url.indexOf('?');
  if (query >= 0) defaultPort = Number(new URLSearchParams(url.slice(query + 1)).get('port')) || defaultPort;
  return list.split(',').map((entry) => {
    const colon = entry.lastIndexOf(':');
    return colon > 0 && !entry.endsWith(']') ? { host: entry.slice(0, colon), port: Number(entry.slice(colon + 1)) || defaultPort } : { host: entry, port: defaultPort };
  });
}

/**
 * Creates the pool; no session is opened until the first operation needs one.
 *
 * @example
 * const pool = createSessionPool({ url: config.databaseUrl, max: config.databasePoolMax });
 * const db = drizzle({ client: pool.sql as never });
 */
export function createSessionPool(options: SessionPoolOptions): SessionPool {
  const {
    url,
    max = 10, // sessions
    prepare = true,
    connectTimeoutS = 5, // 5 s
    idleTimeoutS = 60, // 1 min
    timeoutMs = 5_000, // 5 s
    applicationName = 'hotconf',
    maxBackoffMs = 250, // 250 ms
  } = options;

  const sessions = new Set<Session>();
  const idle: Session[] = [];
  const waiters: Waiter[] = [];
  const sharedTypes = { parsers: {} as Record<string, unknown>, serializers: {} as Record<string, unknown> };
  let nextId = 1;
  let ended = false;
  /** Consecutive sessions that failed before answering; resets on any answer. */
  let failedOpens = 0;
  let retryAt = 0;
  /** Index of the host (of a multi-host URL) the next session tries. */
  let hostIndex = 0;
  const hosts = multiHostTargets(url);

  const openSocket = ({ host, port, path }: { host: string[]; port: number[]; path?: string | false }): Socket => {
    if (path) return netConnect({ path });
    const index = hostIndex % host.length;
    const socket = netConnect({ host: host[index]!, port: port[index] ?? 5432 });
    // postgres.js names the address in its connection errors from these.
    Object.assign(socket, { host: host[index], port: port[index] });
    return socket;
  };

  const retire = (session: Session) => {
    if (!session.alive) return;
    session.alive = false;
    sessions.delete(session);
    const at = idle.indexOf(session);
    if (at >= 0) idle.splice(at, 1);
    // Rejects whatever is still queued inside the instance; it never opens another socket.
    void session.sql.end({ timeout: 0 }).catch(() => {});
    pump();
  };

  /** A postgres.js instance for exactly one session: one socket, never reconnected. */
  const openInstance = (onClose: () => void, onFailure: (error: Error) => void = () => {}): Sql => {
    let socketOpened = false;
    // Each instance gets one host: given them all, postgres.js moves to the next host by itself
    // after a failed connect, asks the socket factory for a second socket (refused below), and
    // swallows that error: the session's first statement then never settles.
    const target = hosts ? hosts[hostIndex % hosts.length]! : null;
    const instance = postgres(url, {
      ...(target ? { host: [target.host], port: [target.port] } : {}),
      max: 1,
      prepare,
      // Array types are not used; fetching them on connect is what leaked unhandled rejections.
      fetch_types: false,
      connect_timeout: connectTimeoutS,
      idle_timeout: idleTimeoutS,
      onnotice: () => {},
      connection: { application_name: applicationName },
      socket: (socketOptions: { host: string[]; port: number[]; path?: string | false; ssl?: unknown }) => {
        // One socket per instance: a reconnect would carry the dead session's state and queue.
        if (socketOpened) throw new DatabaseUnavailableError('CONNECTION_CLOSED', 'session closed');
        socketOpened = true;
        const socket = openSocket(socketOptions);
        watchStartup(socket, Boolean(socketOptions.ssl), onFailure);
        return socket;
      },
      onclose: onClose,
    } as postgres.Options<Record<string, postgres.PostgresType>>);
    Object.assign(instance.options.parsers, sharedTypes.parsers);
    Object.assign(instance.options.serializers, sharedTypes.serializers);
    return instance;
  };

  const createSession = (): Session => {
    const session: Session = { id: nextId++, sql: undefined as unknown as Sql, failure: null, alive: true, answered: false, leased: true, idleSince: 0 };
    session.sql = openInstance(
      () => retire(session),
      (error) => (session.failure ??= error),
    );
    sessions.add(session);
    return session;
  };

  /**
   * Whether the database answers right now, on a connection of its own (outside the pool, so a
   * full pool cannot make it look dead).
   */
  const probe = createLivenessProbe(() => openInstance(() => {}), PROBE_TIMEOUT_MS);

  /** Hands idle sessions (or new ones, within `max`) to waiters. */
  const pump = () => {
    while (waiters.length > 0 && !ended) {
      let session = idle.pop();
      if (!session) {
        if (sessions.size >= max || Date.now() < retryAt) {
          if (sessions.size < max && waiters[0]) schedulePump();
          return;
        }
        session = createSession();
      }
      session.leased = true;
      const waiter = waiters.shift()!;
      if (waiter.timer) clearTimeout(waiter.timer);
      waiter.resolve(session);
    }
  };
  let pumpTimer: NodeJS.Timeout | null = null;
  const schedulePump = () => {
    if (pumpTimer) return;
    pumpTimer = setTimeout(() => {
      pumpTimer = null;
      pump();
    }, Math.max(0, retryAt - Date.now()));
    pumpTimer.unref();
  };

  const acquire = (deadline: number | null): Promise<Session> => {
    if (ended) return Promise.reject(new DatabaseUnavailableError('CONNECTION_ENDED', 'the database pool is closed'));
    const session = idle.pop();
    if (session) {
      session.leased = true;
      return Promise.resolve(session);
    }
    // The database refused the last sessions a moment ago: answer now rather than queue callers
    // behind the backoff; the next attempt to open one is at most `maxBackoffMs` away.
    if (Date.now() < retryAt) return Promise.reject(new DatabaseUnavailableError('DB_UNREACHABLE', 'the database is not reachable'));
    if (sessions.size < max && waiters.length === 0) return Promise.resolve(createSession());
    return new Promise<Session>((resolve, reject) => {
      const waiter: Waiter = { resolve, reject, timer: null };
      if (deadline !== null) {
        waiter.timer = setTimeout(() => {
          const at = waiters.indexOf(waiter);
          if (at >= 0) waiters.splice(at, 1);
          reject(new DatabaseUnavailableError('DB_TIMEOUT', 'no database session became free in time'));
        }, Math.max(0, deadline - Date.now()));
      }
      waiters.push(waiter);
      pump();
    });
  };

  const release = (session: Session) => {
    session.leased = false;
    session.idleSince = Date.now();
    if (!session.alive) return;
    idle.push(session);
    pump();
  };

  const noteOutcome = (session: Session, error: unknown) => {
    if (error === null) {
      session.answered = true;
      failedOpens = 0;
      retryAt = 0;
      return;
    }
    if (session.alive && hasErrorCode(error, (code) => code === READ_ONLY_SQLSTATE)) {
      // A read-only server (a standby, or the old primary after a failover): this session will
      // never take a write again. Close it, so the next one resolves the host name anew and, with
      // a multi-host URL, tries the next host.
      session.answered = true;
      hostIndex++;
      retire(session);
      return;
    }
    if (session.alive) {
      // It answered, with an error of the statement's own (a conflict, a constraint).
      session.answered = true;
      return;
    }
    if (!session.answered) {
      // It closed before answering: the database (or this host of it) refused or is down.
      failedOpens++;
      hostIndex++;
      const backoff = Math.min(maxBackoffMs, 25 * 2 ** Math.min(failedOpens, 10));
      retryAt = Date.now() + backoff * (0.5 + Math.random() / 2);
    }
  };

  /**
   * Borrows a session for `work`. The wait for a session is bounded by the deadline. The work
   * itself is not cut off for being slow: at the deadline (and every `limitMs` after it) the pool
   * probes the database on a connection of its own, and only when the database does not answer
   * is the caller answered `DB_TIMEOUT` and the session closed (so nothing it started commits
   * later). A long import, a compaction or a lock wait on a live database runs to its end.
   */
  /**
   * Whether a session that sat idle for a while still answers. Servers and what stands between
   * (`idle_session_timeout`, a pooler's idle timeout, a NAT or load balancer) close idle sessions
   * on their own schedule: a statement sent at that moment fails on a healthy database, and
   * cannot be retried safely once sent. A `select 1` can: when it fails the session is closed and
   * the caller gets another one. It also restarts the server's idle timer.
   */
  const stillOpen = async (session: Session, deadline: number | null): Promise<boolean> => {
    if (session.idleSince === 0 || Date.now() - session.idleSince < IDLE_CHECK_AFTER_MS) return true;
    const limit = Math.max(1, Math.min(PROBE_TIMEOUT_MS, (deadline ?? Infinity) - Date.now()));
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        session.sql.unsafe('select 1').execute(),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new DatabaseUnavailableError('DB_TIMEOUT', 'an idle session did not answer')), limit);
        }),
      ]);
      if (session.alive) return true;
    } catch {
      // closed, or not answering: retired below
    } finally {
      clearTimeout(timer);
    }
    session.leased = false;
    retire(session);
    return false;
  };

  /** A session for an operation: an idle one that still answers, or a new one. */
  const lease = async (deadline: number | null): Promise<Session> => {
    for (;;) {
      const session = await acquire(deadline);
      if (await stillOpen(session, deadline)) return session;
    }
  };

  const withSession = async <T>(work: (session: Session) => Promise<T>, limitMs: number): Promise<T> => {
    const deadline = limitMs > 0 ? Date.now() + limitMs : null;
    const session = await lease(deadline);
    const outcome = work(session).then(
      (value) => {
        noteOutcome(session, null);
        return value;
      },
      (error: unknown) => {
        noteOutcome(session, error);
        // postgres.js ends a session that never opened with a bare CONNECTION_DESTROYED/CLOSED:
        // name the reason it saw (ECONNREFUSED, a missing database, a refused password).
        if (!session.answered && session.failure) {
          throw new DatabaseUnavailableError('DB_UNREACHABLE', `cannot connect to the database: ${session.failure.message}`, session.failure);
        }
        throw error;
      },
    );
    // The work settles too once its session is ended: release only then, so "in use" is true.
    outcome.then(
      () => release(session),
      () => release(session),
    );
    if (deadline === null) return outcome;
    return new Promise<T>((resolve, reject) => {
      let settled = false;
      let timer: NodeJS.Timeout | null = null;
      const check = async () => {
        timer = null;
        if (settled) return;
        if (await probe()) {
          if (!settled) timer = setTimeout(check, limitMs);
          return;
        }
        if (settled) return;
        settled = true;
        retire(session);
        reject(new DatabaseUnavailableError('DB_TIMEOUT', `the database did not answer within ${limitMs} ms`));
      };
      timer = setTimeout(check, Math.max(0, deadline - Date.now()));
      outcome.then(
        (value) => {
          if (timer) clearTimeout(timer);
          if (!settled) resolve(value);
          settled = true;
        },
        (error: unknown) => {
          if (timer) clearTimeout(timer);
          if (!settled) reject(error);
          settled = true;
        },
      );
    });
  };

  /** Fails a statement meant for a session that is gone, instead of letting it run elsewhere. */
  const closedError = () => new DatabaseUnavailableError('CONNECTION_CLOSED', 'the database session closed');

  /** A statement outside any transaction: borrows a session when awaited (lazily, like postgres.js). */
  const pooledStatement = (...[query, parameters, statementOptions]: UnsafeArgs): PendingQuery<Row[]> => {
    let started: Promise<unknown> | null = null;
    const run = (values: boolean) =>
      withSession(async (session) => {
        const statement = sessionSql(session, { sharedTypes, forcePrepare: true, closedError }).unsafe(query, parameters, statementOptions);
        return values ? await statement.values() : await statement;
      }, timeoutMs);
    const objects = () => (started ??= run(false));
    const pending = {
      values: () => run(true),
      execute() {
        objects();
        return pending;
      },
      then: (resolve?: (value: unknown) => unknown, reject?: (reason: unknown) => unknown) => objects().then(resolve, reject),
      catch: (reject?: (reason: unknown) => unknown) => objects().catch(reject),
      finally: (fn?: () => void) => objects().finally(fn),
    };
    return pending as unknown as PendingQuery<Row[]>;
  };

  const transactionOn = <T>(session: Session, fn: (sql: PooledSql) => Promise<T>, forcePrepare: boolean) =>
    inTransaction(session, fn, { sharedTypes, forcePrepare, closedError, retire: () => retire(session) });
  const transaction = <T>(fn: (sql: PooledSql) => Promise<T>, { timeoutMs: limit = timeoutMs }: { timeoutMs?: number } = {}) =>
    withSession((session) => transactionOn(session, fn, false), limit);

  const sql: PooledSql = {
    unsafe: pooledStatement,
    begin: (fn) => withSession((session) => transactionOn(session, fn, true), timeoutMs),
    savepoint: (fn) => withSession((session) => transactionOn(session, fn, true), timeoutMs),
    options: sharedTypes,
  };

  let ending: Promise<void> | null = null;
  const end = () =>
    (ending ??= (async () => {
      ended = true;
      if (pumpTimer) clearTimeout(pumpTimer);
      for (const waiter of waiters.splice(0)) {
        if (waiter.timer) clearTimeout(waiter.timer);
        waiter.reject(new DatabaseUnavailableError('CONNECTION_ENDED', 'the database pool is closed'));
      }
      const all = [...sessions];
      await Promise.allSettled(all.map((session) => session.sql.end({ timeout: 5 })));
      for (const session of all) retire(session);
    })());

  return {
    sql,
    transaction,
    stats: () => {
      const inUse = [...sessions].filter((session) => session.leased).length;
      return { max, size: sessions.size, inUse, idle: sessions.size - inUse, waiting: waiters.length };
    },
    end,
    [Symbol.asyncDispose]: end,
  };
}
