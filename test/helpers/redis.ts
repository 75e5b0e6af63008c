import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { freePort, waitFor } from './net.js';

/** The machine's Redis. Tests isolate themselves with a channel prefix of their own. */
export const SHARED_REDIS_URL = process.env.HOTCONF_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A channel/key prefix no other run or test file uses. */
export function uniquePrefix(label = 't'): string {
  return `hotconf-test-${label}-${randomBytes(4).toString('hex')}:`;
}

export interface PrivateRedis extends AsyncDisposable {
  port: number;
  url: string;
  /** Stop the server (SHUTDOWN NOSAVE); connections see it go away. */
  stop(): Promise<void>;
  /** Start it again on the same port. */
  start(): Promise<void>;
  readonly running: boolean;
}

/**
 * A `redis-server` of the test's own on a free port, so the test can stop and restart it
 * without touching anyone else's Redis.
 */
export async function startPrivateRedis(): Promise<PrivateRedis> {
  const port = await freePort();
  let child: ChildProcess | null = null;
  const url = `redis://127.0.0.1:${port}`;

  const start = async () => {
    if (child) return;
    child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
      stdio: 'ignore',
    });
    const started = child;
    started.once('exit', () => {
      if (child === started) child = null;
    });
    await waitFor(async () => {
      const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      probe.on('error', () => {}); // refused while the server starts: expected
      try {
        await probe.connect();
        return (await probe.ping()) === 'PONG';
      } catch {
        return false;
      } finally {
        probe.disconnect();
      }
    }, 10_000, `redis-server on ${port}`);
  };

  const stop = async () => {
    const running = child;
    if (!running) return;
    await new Promise<void>((resolve) => {
      running.once('exit', () => resolve());
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
    get running() {
      return child !== null;
    },
    [Symbol.asyncDispose]: stop,
  };
}
