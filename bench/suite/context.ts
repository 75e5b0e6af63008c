import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gql, SET_CONFIG, testToken } from '../../test/helpers/gateway.js';
import { createTestDatabase, type TestDatabase } from '../../test/helpers/postgres.js';
import { SHARED_REDIS_URL, uniquePrefix } from '../../test/helpers/redis.js';
import { startEtcd, type Etcd } from '../lib/etcd.js';
import { startBenchGateway, type BenchGateway } from '../lib/gateway-process.js';
import { summarizeProfiles } from '../lib/profile.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** One line of the final table: a measure, hotconf's figure, its baseline's, their ratio, the goal. */
export interface ResultRow {
  measure: string;
  hotconf: string;
  baseline: string;
  /**
   * hotconf ÷ baseline, as issue 14's table gives it: for latencies above 1× is slower than the
   * baseline, for throughputs below 1× is; '' for a row with no baseline.
   */
  ratio: string;
  goal: string;
}

/** Shared resources, started on first use and stopped by `close()`. */
export interface BenchContext {
  rounds: number;
  redisUrl: string;
  database(): Promise<TestDatabase>;
  /** Gateway A (index 0) and B (index 1), on one database and one channel prefix. */
  gateways(): Promise<[BenchGateway, BenchGateway]>;
  /** Another gateway on the same database and channels, started now (for a clean memory baseline). */
  freshGateway(): Promise<BenchGateway>;
  token(): Promise<string>;
  etcd(): Promise<Etcd>;
  /** A plain graphql-yoga `{ __typename }` server in its own process. */
  plainYoga(): Promise<{ url: string; pid: number }>;
  /** `setConfig` through `url`; the change's revision. */
  setConfig(url: string, namespace: string, key: string, value: unknown): Promise<number>;
  results: ResultRow[];
  close(): Promise<void>;
}

/** Progress on stderr (results go to stdout). */
export const step = (row: string, text: string) => process.stderr.write(`  [${row}] ${text}\n`);

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

export const times = (ratio: number) => `${ratio.toFixed(2)}×`;

function once<T>(make: () => Promise<T>): () => Promise<T> {
  let made: Promise<T> | undefined;
  return () => (made ??= make());
}

export function createBenchContext({ rounds, profile }: { rounds: number; profile: boolean }): BenchContext {
  const cleanups: Array<() => Promise<void>> = [];
  let profileDir: string | null = null;
  const gatewayPids = new Map<number, string>();

  const database = once(async () => {
    const made = await createTestDatabase('bench');
    cleanups.push(() => made.drop());
    return made;
  });
  const gatewayEnv = once(async () => ({
    DATABASE_URL: (await database()).url,
    REDIS_URL: SHARED_REDIS_URL,
    HOTCONF_CHANNEL_PREFIX: uniquePrefix('bench'),
    // One bench subject holds the 10,000 fan-out subscriptions (the default bound is 1,000).
    HOTCONF_MAX_SUBSCRIPTIONS_PER_SUBJECT: '100000',
  }));
  const gateways = once(async () => {
    const env = await gatewayEnv();
    const nodeArgs: string[] = [];
    if (profile) {
      profileDir = await mkdtemp(join(tmpdir(), 'hotconf-bench-prof-'));
      nodeArgs.push('--cpu-prof', `--cpu-prof-dir=${profileDir}`);
    }
    process.stderr.write('  starting gateways A and B\n');
    const a = await startBenchGateway(env, nodeArgs);
    cleanups.push(() => a.stop());
    const b = await startBenchGateway(env, nodeArgs);
    cleanups.push(() => b.stop());
    gatewayPids.set(a.pid, 'gateway A').set(b.pid, 'gateway B');
    return [a, b] as [BenchGateway, BenchGateway];
  });
  const token = once(() => testToken({ sub: 'bench' }));
  const etcd = once(async () => {
    process.stderr.write('  starting a private etcd\n');
    const started = await startEtcd();
    cleanups.push(() => started.stop());
    return started;
  });
  const plainYoga = once(async () => {
    const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', 'bench/lib/plain-yoga.ts'], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', NODE_ENV: 'production', PORT: '0' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    cleanups.push(async () => {
      child.kill('SIGTERM');
      await exited;
    });
    const port = await new Promise<number>((resolve, reject) => {
      let out = '';
      child.stdout!.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        const match = /listening (\d+)/.exec(out);
        if (match) resolve(Number(match[1]));
      });
      child.once('exit', () => reject(new Error('the plain yoga server exited')));
    });
    return { url: `http://127.0.0.1:${port}/graphql`, pid: child.pid! };
  });

  return {
    rounds,
    redisUrl: SHARED_REDIS_URL,
    database,
    gateways,
    async freshGateway() {
      const started = await startBenchGateway(await gatewayEnv());
      cleanups.push(() => started.stop());
      return started;
    },
    token,
    etcd,
    plainYoga,
    async setConfig(url, namespace, key, value) {
      const data = await gql<{ setConfig: { revision: number } }>(url, await token(), SET_CONFIG, { input: { namespace, key, value } });
      return data.setConfig.revision;
    },
    results: [],
    async close() {
      // Reverse order: gateways stop (and write their profiles) before the database is dropped.
      for (const cleanup of cleanups.reverse()) await cleanup().catch((error: unknown) => process.stderr.write(`cleanup: ${String(error)}\n`));
      if (profileDir) {
        for (const { file, summary } of await summarizeProfiles(profileDir)) {
          const pid = Number(/\.(\d+)\.\d+\.\d+\.cpuprofile$/.exec(file)?.[1]);
          process.stdout.write(`\nprofile of ${gatewayPids.get(pid) ?? file} (pid ${pid}): ${summary.busyMs.toFixed(0)} ms busy\n`);
          process.stdout.write(`  top self-time frames:\n${summary.frames.map((line) => `    ${line}`).join('\n')}\n`);
          process.stdout.write(`  self time by package / file:\n${summary.origins.map((line) => `    ${line}`).join('\n')}\n`);
        }
        process.stdout.write(`(profiles kept in ${profileDir})\n`);
      }
    },
  };
}

