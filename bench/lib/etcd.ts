import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, waitFor } from '../../test/helpers/net.js';

/**
 * A private etcd (Debian's `etcd-server` package) on free loopback ports in a temp directory,
 * spoken to through its v3 JSON gateway (`/v3/kv/*`, `/v3/watch`), as hotconf is spoken to over
 * HTTP + JSON. Killed and its directory removed by `stop()`.
 */
export interface Etcd {
  /** `http://127.0.0.1:<port>` */
  url: string;
  pid: number;
  put(key: string, value: string): Promise<number>;
  /** A watch from `startRevision` on every key under `prefix`; `onEvents` gets each message's event count. */
  watch(prefix: string, startRevision: number | undefined, onEvents: (count: number, raw: string) => void): Promise<{ close(): void }>;
  stop(): Promise<void>;
}

const b64 = (text: string) => Buffer.from(text).toString('base64');

/** The end of the key range "every key starting with `prefix`" (etcd's `--prefix`). */
export function prefixEnd(prefix: string): string {
  const bytes = Buffer.from(prefix);
  bytes[bytes.length - 1]! += 1;
  return bytes.toString('base64');
}

export async function startEtcd(): Promise<Etcd> {
  const dir = await mkdtemp(join(tmpdir(), 'hotconf-bench-etcd-'));
  const [clientPort, peerPort] = [await freePort(), await freePort()];
  const url = `http://127.0.0.1:${clientPort}`;
  const peer = `http://127.0.0.1:${peerPort}`;
  let output = '';
  const child: ChildProcess = spawn(
    'etcd',
    [
      '--name=bench',
      `--data-dir=${join(dir, 'data')}`,
      `--listen-client-urls=${url}`,
      `--advertise-client-urls=${url}`,
      `--listen-peer-urls=${peer}`,
      `--initial-advertise-peer-urls=${peer}`,
      `--initial-cluster=bench=${peer}`,
      '--logger=zap',
      '--log-level=error',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  child.stdout?.on('data', (chunk: Buffer) => (output = (output + chunk.toString()).slice(-4_000)));
  child.stderr?.on('data', (chunk: Buffer) => (output = (output + chunk.toString()).slice(-4_000)));
  let missing = false;
  child.once('error', (error: NodeJS.ErrnoException) => {
    missing = error.code === 'ENOENT';
    output += String(error);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && !missing) {
      child.kill('SIGKILL');
      await exited;
    }
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await waitFor(
      async () => {
        if (missing) throw new Error('etcd is not installed: apt-get install -y etcd-server etcd-client (docs/PERFORMANCE.md)');
        if (child.exitCode !== null) throw new Error(`etcd exited:\n${output}`);
        try {
          return (await fetch(`${url}/health`)).ok;
        } catch {
          return false;
        }
      },
      30_000,
      () => `etcd on ${url} (is Debian's etcd-server installed? ${output.slice(-500)})`,
    );
  } catch (error) {
    await stop();
    throw error;
  }

  const post = async (path: string, body: unknown) => {
    const response = await fetch(`${url}${path}`, { method: 'POST', body: JSON.stringify(body) });
    if (!response.ok) throw new Error(`etcd ${path}: ${response.status} ${await response.text()}`);
    return (await response.json()) as { header?: { revision?: string } };
  };

  return {
    url,
    pid: child.pid!,
    async put(key, value) {
      const answer = await post('/v3/kv/put', { key: b64(key), value: b64(value) });
      return Number(answer.header?.revision ?? 0);
    },
    async watch(prefix, startRevision, onEvents) {
      const controller = new AbortController();
      const response = await fetch(`${url}/v3/watch`, {
        method: 'POST',
        body: JSON.stringify({ create_request: { key: b64(prefix), range_end: prefixEnd(prefix), ...(startRevision ? { start_revision: String(startRevision) } : {}) } }),
        signal: controller.signal,
      });
      if (!response.ok || !response.body) throw new Error(`etcd watch: ${response.status}`);
      const reader = response.body.getReader();
      const decoder = new TextDecoder();
      let created!: () => void;
      const isCreated = new Promise<void>((resolve) => (created = resolve));
      void (async () => {
        let buffered = '';
        try {
          for (;;) {
            const { done, value } = await reader.read();
            if (done) return;
            buffered += decoder.decode(value, { stream: true });
            let newline: number;
            while ((newline = buffered.indexOf('\n')) >= 0) {
              const line = buffered.slice(0, newline);
              buffered = buffered.slice(newline + 1);
              if (line.includes('"created":true')) created();
              // One `"kv":` per event; counting them avoids parsing every message on this side.
              let count = 0;
              for (let at = line.indexOf('"kv":'); at >= 0; at = line.indexOf('"kv":', at + 5)) count++;
              if (count > 0) onEvents(count, line);
            }
          }
        } catch {
          // aborted by close()
        }
      })();
      await isCreated;
      return { close: () => controller.abort() };
    },
    stop,
  };
}
