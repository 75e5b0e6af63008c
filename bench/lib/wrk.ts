import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface WrkOptions {
  url: string;
  /** JSON body, sent with POST. */
  body: string;
  headers?: Record<string, string>;
  connections: number;
  durationSeconds: number;
  /** @default 1 (on 2 cores, one wrk thread leaves the other core to the server) */
  threads?: number;
}

export interface WrkResult {
  requestsPerSecond: number;
  requests: number;
  /** Responses that were not 2xx/3xx, and socket errors: a run with any of these is not a measurement. */
  failures: number;
}

/** Runs Debian's `wrk` with a POST body (from a Lua script) over keep-alive connections. */
export async function runWrk({ url, body, headers = {}, connections, durationSeconds, threads = 1 }: WrkOptions): Promise<WrkResult> {
  const dir = await mkdtemp(join(tmpdir(), 'hotconf-bench-wrk-'));
  try {
    const script = join(dir, 'post.lua');
    const lua = [
      'wrk.method = "POST"',
      `wrk.body = ${JSON.stringify(body)}`,
      ...Object.entries({ 'content-type': 'application/json', ...headers }).map(([name, value]) => `wrk.headers[${JSON.stringify(name)}] = ${JSON.stringify(value)}`),
    ].join('\n');
    await writeFile(script, `${lua}\n`);
    const { stdout } = await run('wrk', [`-t${threads}`, `-c${connections}`, `-d${durationSeconds}s`, '-s', script, url], { maxBuffer: 1 << 20 }).catch(
      (error: NodeJS.ErrnoException) => {
        if (error.code === 'ENOENT') throw new Error('wrk is not installed: apt-get install -y wrk (docs/PERFORMANCE.md)');
        throw error;
      },
    );
    const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(stdout)?.[1] ?? NaN);
    const requests = Number(/(\d+) requests in/.exec(stdout)?.[1] ?? NaN);
    const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(stdout)?.[1] ?? 0);
    const socketErrors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(stdout);
    const errors = socketErrors ? socketErrors.slice(1).reduce((sum, n) => sum + Number(n), 0) : 0;
    return { requestsPerSecond: rps, requests, failures: non2xx + errors };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
