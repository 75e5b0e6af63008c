import { execFile } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { chown, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './net.js';

const exec = promisify(execFile);

/** A PostgreSQL cluster of the test's own (initdb on a free port), to stop and start at will. */
export interface PrivatePostgres extends AsyncDisposable {
  port: number;
  /** The cluster's data directory (`startPrivatePostgres({ copyOf })` copies it). */
  dataDir: string;
  /** `postgres://postgres@127.0.0.1:<port>/postgres` (trust auth). */
  url: string;
  readonly running: boolean;
  /** `pg_ctl stop -m <mode>`; `immediate` is a crash (no checkpoint, clients see their sockets die). */
  stop(mode?: 'immediate' | 'fast' | 'smart'): Promise<void>;
  /** `pg_ctl start`; resolves once the server accepts connections. */
  start(): Promise<void>;
  /**
   * Starts the (stopped) cluster as a hot standby with no primary: the same data, served
   * read-only, as a failover candidate is before its promotion (or a demoted primary after one).
   */
  startStandby(): Promise<void>;
  /** `pg_ctl promote`: the standby becomes a primary that accepts writes. */
  promote(): Promise<void>;
  /**
   * SIGSTOP / SIGCONT to the postmaster and its backends: a database that keeps its sockets open
   * and answers nothing (a network partition, a hung host).
   */
  freeze(): Promise<void>;
  thaw(): Promise<void>;
  /** The server log (for failure messages). */
  log(): Promise<string>;
}

/** The newest installed PostgreSQL's bin directory (Debian: /usr/lib/postgresql/<major>/bin). */
function binDir(): string {
  const root = '/usr/lib/postgresql';
  if (existsSync(root)) {
    const majors = readdirSync(root)
      .filter((name) => existsSync(join(root, name, 'bin', 'initdb')))
      .sort((a, b) => Number(b) - Number(a));
    if (majors[0]) return join(root, majors[0], 'bin');
  }
  throw new Error('initdb not found under /usr/lib/postgresql/*/bin (install the postgresql package)');
}

/** PostgreSQL refuses to run as root: as root, commands run as the `postgres` user. */
const asRoot = typeof process.getuid === 'function' && process.getuid() === 0;

async function run(command: string, args: string[], timeoutMs = 120_000): Promise<string> {
  const [file, argv] = asRoot ? ['runuser', ['-u', 'postgres', '--', command, ...args]] : [command, args];
  const { stdout } = await exec(file, argv, { timeout: timeoutMs, maxBuffer: 4 * 1024 * 1024 });
  return stdout;
}

/**
 * initdb + pg_ctl start on a free port, in a temporary directory owned by the `postgres` user
 * (when running as root). `fsync=off`: a crash test needs restarts of Postgres, not of the machine.
 */
export async function startPrivatePostgres({ maxConnections = 200, copyOf, port: wantedPort }: { maxConnections?: number; copyOf?: PrivatePostgres; port?: number } = {}): Promise<PrivatePostgres> {
  if (copyOf?.running) throw new Error('stop the cluster before copying it');
  const bin = binDir();
  const dir = await mkdtemp(join(tmpdir(), 'hotconf-pg-'));
  const data = join(dir, 'data');
  const logFile = join(dir, 'server.log');
  if (asRoot) {
    const { stdout } = await exec('id', ['-u', 'postgres']);
    const { stdout: gid } = await exec('id', ['-g', 'postgres']);
    await chown(dir, Number(stdout.trim()), Number(gid.trim()));
  }
  if (copyOf) {
    // The same data on a second server (as a failover target has it): a copy of the stopped cluster.
    await run('cp', ['-a', copyOf.dataDir, data]);
    await rm(join(data, 'postmaster.pid'), { force: true });
    await rm(join(data, 'standby.signal'), { force: true });
  } else {
    await run(join(bin, 'initdb'), ['-D', data, '-A', 'trust', '-U', 'postgres', '-E', 'UTF8', '--no-sync', '--no-instructions']);
  }
  const port = wantedPort ?? (await freePort());
  let running = false;
  const options = [
    `-p ${port}`,
    '-c listen_addresses=127.0.0.1',
    `-c unix_socket_directories=${dir}`,
    `-c max_connections=${maxConnections}`,
    // Only the postmaster crashes in these tests, never the machine: the kernel keeps what was
    // written, so fsync can be off. synchronous_commit must stay on: off, a crash loses commits
    // that were already acknowledged (and published), and a revision is then reused.
    '-c fsync=off',
    '-c full_page_writes=off',
  ].join(' ');

  const start = async () => {
    if (running) return;
    await run(join(bin, 'pg_ctl'), ['-D', data, '-l', logFile, '-o', options, '-w', '-t', '120', 'start']);
    running = true;
  };
  const startStandby = async () => {
    if (running) throw new Error('stop the cluster before starting it as a standby');
    await writeFile(join(data, 'standby.signal'), '');
    if (asRoot) {
      const { stdout } = await exec('id', ['-u', 'postgres']);
      const { stdout: gid } = await exec('id', ['-g', 'postgres']);
      await chown(join(data, 'standby.signal'), Number(stdout.trim()), Number(gid.trim()));
    }
    await start();
  };
  const promote = () => run(join(bin, 'pg_ctl'), ['-D', data, '-w', '-t', '60', 'promote']).then(() => undefined);
  const stop = async (mode: 'immediate' | 'fast' | 'smart' = 'immediate') => {
    if (!running) return;
    await run(join(bin, 'pg_ctl'), ['-D', data, '-m', mode, '-w', '-t', '60', 'stop']);
    running = false;
  };

  /** The postmaster (first line of postmaster.pid) and every process whose parent it is. */
  const serverPids = (): number[] => {
    const postmaster = Number.parseInt(readFileSync(join(data, 'postmaster.pid'), 'utf8').split('\n')[0]!, 10);
    const children = readdirSync('/proc')
      .filter((name) => /^\d+$/.test(name))
      .filter((name) => {
        try {
          return Number(readFileSync(`/proc/${name}/stat`, 'utf8').split(') ')[1]!.split(' ')[1]) === postmaster;
        } catch {
          return false; // exited while listing
        }
      })
      .map(Number);
    return [postmaster, ...children];
  };
  const signal = (name: NodeJS.Signals) => {
    for (const pid of serverPids()) {
      try {
        process.kill(pid, name);
      } catch {
        // exited meanwhile
      }
    }
  };

  await start();
  return {
    port,
    dataDir: data,
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    get running() {
      return running;
    },
    start,
    startStandby,
    promote,
    stop,
    freeze: async () => signal('SIGSTOP'),
    thaw: async () => signal('SIGCONT'),
    log: async () => {
      try {
        const { stdout } = await exec('tail', ['-n', '80', logFile]);
        return stdout;
      } catch {
        return '';
      }
    },
    async [Symbol.asyncDispose]() {
      try {
        if (running) signal('SIGCONT');
        await stop('immediate');
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },
  };
}
