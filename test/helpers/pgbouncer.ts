import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { chown, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort, waitFor } from './net.js';

const exec = promisify(execFile);

/** A PgBouncer of the test's own (Debian's `pgbouncer` package) in front of one Postgres database. */
export interface PgBouncer extends AsyncDisposable {
  port: number;
  /** `postgres://postgres@127.0.0.1:<port>/<database>` through the pooler. */
  url: string;
  readonly running: boolean;
  stop(): Promise<void>;
  start(): Promise<void>;
  /** The pooler's log (for failure messages). */
  log(): Promise<string>;
}

export interface PgBouncerOptions {
  /** The Postgres URL the pooler forwards to (host, port, database; trust auth). */
  target: string;
  /** @default 'transaction' */
  poolMode?: 'transaction' | 'session' | 'statement';
  /** Server connections per database/user pair. @default 10 */
  poolSize?: number;
  /** Seconds a client may wait for a server connection before a FATAL `query_wait_timeout`. @default 120 */
  queryWaitTimeoutS?: number;
}

/** PgBouncer refuses to run as root: as root it runs as the `postgres` user. */
const asRoot = typeof process.getuid === 'function' && process.getuid() === 0;

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/**
 * Starts `pgbouncer` in the foreground on a free port with trust auth and the given pool mode.
 *
 * @example
 * await using bouncer = await startPgBouncer({ target: database.url, poolMode: 'transaction' });
 */
export async function startPgBouncer(options: PgBouncerOptions): Promise<PgBouncer> {
  const { target, poolMode = 'transaction', poolSize = 10, queryWaitTimeoutS = 120 } = options;
  const targetUrl = new URL(target);
  const database = targetUrl.pathname.slice(1) || 'postgres';
  const user = decodeURIComponent(targetUrl.username || 'postgres');
  const dir = await mkdtemp(join(tmpdir(), 'hotconf-pgbouncer-'));
  const port = await freePort();
  const ini = join(dir, 'pgbouncer.ini');
  const logFile = join(dir, 'pgbouncer.log');
  await writeFile(join(dir, 'userlist.txt'), `"${user}" ""\n`);
  await writeFile(
    ini,
    [
      '[databases]',
      `${database} = host=${targetUrl.hostname} port=${targetUrl.port || 5432} dbname=${database} user=${user}`,
      '[pgbouncer]',
      'listen_addr = 127.0.0.1',
      `listen_port = ${port}`,
      'unix_socket_dir =',
      'auth_type = trust',
      `auth_file = ${join(dir, 'userlist.txt')}`,
      `pool_mode = ${poolMode}`,
      `default_pool_size = ${poolSize}`,
      'max_client_conn = 1000',
      `query_wait_timeout = ${queryWaitTimeoutS}`,
      'server_login_retry = 1',
      'ignore_startup_parameters = extra_float_digits',
      `logfile = ${logFile}`,
      `pidfile = ${join(dir, 'pgbouncer.pid')}`,
      '',
    ].join('\n'),
  );
  if (asRoot) {
    const { stdout: uid } = await exec('id', ['-u', 'postgres']);
    const { stdout: gid } = await exec('id', ['-g', 'postgres']);
    for (const path of [dir, ini, join(dir, 'userlist.txt')]) await chown(path, Number(uid.trim()), Number(gid.trim()));
  }

  let child: ChildProcess | null = null;
  let output = '';
  const start = async () => {
    if (child) return;
    const [file, args] = asRoot ? ['runuser', ['-u', 'postgres', '--', 'pgbouncer', ini]] : ['pgbouncer', [ini]];
    const started = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    child = started;
    const keep = (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-8_000);
    };
    started.stdout?.on('data', keep);
    started.stderr?.on('data', keep);
    started.once('exit', () => {
      if (child === started) child = null;
    });
    await waitFor(
      async () => {
        if (!child) throw new Error(`pgbouncer exited during start:\n${output}`);
        return listening(port);
      },
      15_000,
      `pgbouncer on ${port}`,
    );
  };
  const stop = async () => {
    const running = child;
    if (!running) return;
    await new Promise<void>((resolve) => {
      const force = setTimeout(() => running.kill('SIGKILL'), 5_000);
      running.once('exit', () => {
        clearTimeout(force);
        resolve();
      });
      // runuser forwards the signal to pgbouncer; SIGINT is its "safe" shutdown, SIGTERM immediate.
      running.kill('SIGTERM');
    });
    child = null;
  };

  await start();
  return {
    port,
    url: `postgres://${encodeURIComponent(user)}@127.0.0.1:${port}/${database}`,
    get running() {
      return child !== null;
    },
    start,
    stop,
    log: async () => `${output}\n${await readFile(logFile, 'utf8').catch(() => '')}`.slice(-8_000),
    async [Symbol.asyncDispose]() {
      try {
        await stop();
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },
  };
}
