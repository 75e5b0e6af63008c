import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Redis, type RedisOptions } from 'ioredis';
import { freePort, waitFor } from './net.js';

const run = promisify(execFile);

/** The machine's Redis. Tests isolate themselves with a channel prefix of their own. */
export const SHARED_REDIS_URL = process.env.HOTCONF_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A channel/key prefix no other run or test file uses. */
export function uniquePrefix(label = 't'): string {
  return `hotconf-test-${label}-${randomBytes(4).toString('hex')}:`;
}

/** A private CA and a server certificate for 127.0.0.1 / localhost, made with openssl. */
export interface TestCertificates extends AsyncDisposable {
  dir: string;
  /** PEM paths. Give `caFile` to a gateway as `NODE_EXTRA_CA_CERTS`. */
  caFile: string;
  certFile: string;
  keyFile: string;
  /** The CA certificate (PEM), for test clients' `tls.ca`. */
  ca: string;
}

/** A throwaway CA and a server certificate signed by it (valid for 127.0.0.1 and localhost, 2 days). */
export async function createTestCertificates(): Promise<TestCertificates> {
  const dir = await mkdtemp(join(tmpdir(), 'hotconf-tls-'));
  const file = (name: string) => join(dir, name);
  const openssl = (...args: string[]) => run('openssl', args, { cwd: dir });
  await openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=hotconf test CA', '-keyout', 'ca.key', '-out', 'ca.crt');
  await openssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost', '-keyout', 'server.key', '-out', 'server.csr');
  await writeFile(file('san.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  await openssl('x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2', '-extfile', 'san.ext', '-out', 'server.crt');
  return {
    dir,
    caFile: file('ca.crt'),
    certFile: file('server.crt'),
    keyFile: file('server.key'),
    ca: await readFile(file('ca.crt'), 'utf8'),
    [Symbol.asyncDispose]: () => rm(dir, { recursive: true, force: true }),
  };
}

/** How a private Redis is protected. */
export interface PrivateRedisOptions {
  /** `requirepass` (the `default` user's password). */
  password?: string;
  /**
   * An ACL user of its own (`user:password@` in the URL), allowed `rules` (Redis ACL words,
   * default everything); the `default` user is then disabled.
   */
  user?: { name: string; password: string; rules?: readonly string[] };
  /** Serve TLS only, with these certificates (the URL becomes `rediss://`). */
  tls?: TestCertificates;
}

export interface PrivateRedis extends AsyncDisposable {
  port: number;
  /** With the credentials and scheme the server wants. */
  url: string;
  /** Stop the server (SIGKILL); connections see it go away. */
  stop(): Promise<void>;
  /** Start it again on the same port. */
  start(): Promise<void>;
  /** SIGSTOP: connections stay open, nothing answers (a hung server, not a dead one). */
  freeze(): void;
  /** SIGCONT after `freeze()`. */
  thaw(): void;
  readonly running: boolean;
}

function credentials({ password, user }: PrivateRedisOptions): string {
  if (user) return `${encodeURIComponent(user.name)}:${encodeURIComponent(user.password)}@`;
  if (password) return `:${encodeURIComponent(password)}@`;
  return '';
}

/** Waits until a Redis on `port` answers PING with these options. */
async function waitForPing(port: number, options: RedisOptions, what: string): Promise<void> {
  await waitFor(
    async () => {
      const probe = new Redis({ host: '127.0.0.1', port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, ...options });
      probe.on('error', () => {}); // refused while the server starts: expected
      try {
        await probe.connect();
        return (await probe.ping()) === 'PONG';
      } catch {
        return false;
      } finally {
        probe.disconnect();
      }
    },
    15_000,
    what,
  );
}

/**
 * A `redis-server` of the test's own on a free port, so the test can stop, freeze and restart
 * it without touching anyone else's Redis. Optionally with a password, an ACL user and TLS.
 */
export async function startPrivateRedis(options: PrivateRedisOptions = {}): Promise<PrivateRedis> {
  const port = await freePort();
  const { password, user, tls } = options;
  let child: ChildProcess | null = null;
  const url = `${tls ? 'rediss' : 'redis'}://${credentials(options)}127.0.0.1:${port}`;
  const args = ['--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];
  if (tls) args.push('--port', '0', '--tls-port', String(port), '--tls-cert-file', tls.certFile, '--tls-key-file', tls.keyFile, '--tls-ca-cert-file', tls.caFile, '--tls-auth-clients', 'no');
  else args.push('--port', String(port));
  if (password) args.push('--requirepass', password);
  // Each word of an ACL rule is an argument of its own (one quoted argument is a user name).
  if (user) args.push('--user', user.name, 'on', `>${user.password}`, ...(user.rules ?? ['~*', '&*', '+@all']), '--user', 'default', 'off');
  const probeOptions: RedisOptions = {
    ...(user ? { username: user.name, password: user.password } : password ? { password } : {}),
    ...(tls ? { tls: { ca: tls.ca } } : {}),
  };

  const start = async () => {
    if (child) return;
    child = spawn('redis-server', args, { stdio: 'ignore' });
    const started = child;
    started.once('exit', () => {
      if (child === started) child = null;
    });
    await waitForPing(port, probeOptions, `redis-server on ${port}`);
  };

  const stop = async () => {
    const running = child;
    if (!running) return;
    await new Promise<void>((resolve) => {
      running.once('exit', () => resolve());
      running.kill('SIGCONT');
      running.kill('SIGKILL');
    });
    child = null;
  };

  await start();
  return {
    port,
    url,
    start,
    stop,
    freeze: () => void child?.kill('SIGSTOP'),
    thaw: () => void child?.kill('SIGCONT'),
    get running() {
      return child !== null;
    },
    [Symbol.asyncDispose]: stop,
  };
}

/** One master of a test cluster. */
export interface ClusterNode {
  port: number;
  /** This node alone, with the cluster's credentials. */
  url: string;
  readonly running: boolean;
  /** SIGKILL; the cluster notices after its node timeout. */
  stop(): Promise<void>;
}

/** A local Redis Cluster of the test's own. */
export interface RedisCluster extends AsyncDisposable {
  /** The first node as seed, with the cluster's password and scheme: the gateway's `REDIS_URL`. */
  url: string;
  password: string;
  nodes: ClusterNode[];
  /** The port of the master that serves `key`'s slot (a channel name works the same way). */
  masterPortOf(key: string): Promise<number>;
  /** A standalone client to one node (for INFO, CLUSTER commands); closed by the caller. */
  nodeClient(port: number): Redis;
  stop(): Promise<void>;
}

/**
 * A Redis Cluster of `masters` masters (no replicas) on free ports, every node with
 * `--requirepass`/`--masterauth`, and optionally TLS on client and cluster-bus connections; made
 * with `redis-cli --cluster create` and ready (`cluster_state:ok` on every node) when this resolves.
 */
export async function startRedisCluster({ password = `pw-${randomBytes(6).toString('hex')}`, masters = 3, tls }: { password?: string; masters?: number; tls?: TestCertificates } = {}): Promise<RedisCluster> {
  const dir = await mkdtemp(join(tmpdir(), 'hotconf-cluster-'));
  const children = new Map<number, ChildProcess>();
  const ports: number[] = [];
  const busPorts: number[] = [];
  while (ports.length < masters) {
    const port = await freePort();
    const busPort = await freePort();
    if (port === busPort || ports.includes(port) || busPorts.includes(busPort) || ports.includes(busPort) || busPorts.includes(port)) continue;
    ports.push(port);
    busPorts.push(busPort);
  }
  const nodeOptions: RedisOptions = { password, ...(tls ? { tls: { ca: tls.ca } } : {}) };
  const scheme = tls ? 'rediss' : 'redis';
  const urlOf = (port: number) => `${scheme}://:${encodeURIComponent(password)}@127.0.0.1:${port}`;

  const stopAll = async () => {
    await Promise.all(
      [...children.values()].map(
        (child) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve();
            child.once('exit', () => resolve());
            child.kill('SIGKILL');
          }),
      ),
    );
    children.clear();
    await rm(dir, { recursive: true, force: true });
  };

  try {
    await Promise.all(
      ports.map(async (port, i) => {
        const args = [
          '--bind', '127.0.0.1',
          '--dir', dir,
          '--save', '',
          '--appendonly', 'no',
          '--cluster-enabled', 'yes',
          '--cluster-config-file', `nodes-${port}.conf`,
          '--cluster-port', String(busPorts[i]),
          '--cluster-node-timeout', '2000',
          '--requirepass', password,
          '--masterauth', password,
        ];
        if (tls) {
          args.push('--port', '0', '--tls-port', String(port), '--tls-cluster', 'yes', '--tls-replication', 'yes');
          args.push('--tls-cert-file', tls.certFile, '--tls-key-file', tls.keyFile, '--tls-ca-cert-file', tls.caFile, '--tls-auth-clients', 'no');
        } else {
          args.push('--port', String(port));
        }
        children.set(port, spawn('redis-server', args, { stdio: 'ignore' }));
        await waitForPing(port, nodeOptions, `cluster node on ${port}`);
      }),
    );
    const cli = ['--cluster', 'create', ...ports.map((port) => `127.0.0.1:${port}`), '--cluster-replicas', '0', '--cluster-yes'];
    if (tls) cli.push('--tls', '--cacert', tls.caFile);
    // REDISCLI_AUTH instead of -a: the password stays out of the process list and the warning.
    await run('redis-cli', cli, { env: { ...process.env, REDISCLI_AUTH: password } });
    await waitFor(
      async () => {
        const states = await Promise.all(
          ports.map(async (port) => {
            const client = new Redis({ host: '127.0.0.1', port, maxRetriesPerRequest: 0, retryStrategy: () => null, ...nodeOptions });
            client.on('error', () => {});
            try {
              return /cluster_state:ok/.test(String(await client.call('CLUSTER', 'INFO')));
            } catch {
              return false;
            } finally {
              client.disconnect();
            }
          }),
        );
        return states.every(Boolean);
      },
      30_000,
      'cluster_state:ok on every node',
    );
  } catch (error) {
    await stopAll();
    throw error;
  }

  const nodeClient = (port: number) => {
    const client = new Redis({ host: '127.0.0.1', port, maxRetriesPerRequest: 1, ...nodeOptions });
    client.on('error', () => {});
    return client;
  };

  return {
    url: urlOf(ports[0]!),
    password,
    nodes: ports.map((port) => ({
      port,
      url: urlOf(port),
      get running() {
        const child = children.get(port);
        return !!child && child.exitCode === null && child.signalCode === null;
      },
      stop: async () => {
        const child = children.get(port);
        if (!child || child.exitCode !== null || child.signalCode !== null) return;
        await new Promise<void>((resolve) => {
          child.once('exit', () => resolve());
          child.kill('SIGKILL');
        });
      },
    })),
    async masterPortOf(key) {
      const client = nodeClient(ports[0]!);
      try {
        const slot = Number(await client.call('CLUSTER', 'KEYSLOT', key));
        const ranges = (await client.call('CLUSTER', 'SLOTS')) as Array<[number, number, [string, number, ...unknown[]], ...unknown[]]>;
        const owner = ranges.find(([from, to]) => slot >= from && slot <= to);
        if (!owner) throw new Error(`no master serves slot ${slot}`);
        return Number(owner[2][1]);
      } finally {
        client.disconnect();
      }
    },
    nodeClient,
    stop: stopAll,
    [Symbol.asyncDispose]: stopAll,
  };
}
