import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { createClient, type Client } from 'graphql-ws';
import { SignJWT } from 'jose';
import WebSocket from 'ws';
import { freePort, waitFor } from './net.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** A shared HS256 secret for every gateway a test starts, so one token works on all of them. */
export const TEST_JWT_SECRET = `test-secret-${randomBytes(24).toString('hex')}`;

/** A gateway process (`node dist/main.js`, the compiled gateway `npm start` runs) on a free port. */
export interface Gateway extends AsyncDisposable {
  port: number;
  /** `http://127.0.0.1:<port>/graphql` */
  url: string;
  /** `ws://127.0.0.1:<port>/graphql` */
  wsUrl: string;
  readonly running: boolean;
  /** Ends the process (SIGTERM = ordered shutdown, SIGKILL = crash); resolves once it exited. */
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** Stops it (SIGTERM) if running, then starts it again on the same port with the same environment. */
  restart(): Promise<void>;
  /** Starts it again after a stop (no-op while running). */
  start(): Promise<void>;
  /** SIGSTOP / SIGCONT: a frozen process keeps its sockets open but answers nothing. */
  freeze(): void;
  thaw(): void;
  /** The last output lines (for failure messages). */
  logs(): string;
}

/**
 * The environment a test or bench gateway process runs with: production mode, a quiet log, the
 * shared test JWT secret, no rate limit, then `env`, on `127.0.0.1:<port>`.
 */
export function gatewayEnvironment(port: number, env: Record<string, string>): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '',
    LOG_LEVEL: 'warn',
    NODE_ENV: 'production',
    HOTCONF_JWT_SECRET: TEST_JWT_SECRET,
    HOTCONF_RATE_LIMIT_PER_MIN: '0',
    ...env,
    PORT: String(port),
    HOST: '127.0.0.1',
  };
}

/** Longest wait for a gateway process to become ready: a loaded 2-core machine is slow, not broken. */
export const GATEWAY_START_CEILING_MS = 120_000; // 2 min

export interface StartGatewayOptions {
  env: Record<string, string>;
  /**
   * What "started" means: `'ready'` waits for `GET /ready` to answer 200 (its database and Redis
   * answer, migrations ran); `'health'` only for the process to serve `GET /health`, for a test
   * that starts a gateway while a dependency is meant to be down.
   * @default 'ready'
   */
  readiness?: 'ready' | 'health';
}

/**
 * Spawns a gateway with `env` (PORT, HOST, a JWT secret and a quiet log level are filled in) and
 * waits, with a generous ceiling, until the gateway itself says it is ready (`/ready`, or
 * `/health` with `readiness: 'health'`). `start()` and `restart()` wait the same way.
 */
export async function startGateway({ env, readiness = 'ready' }: StartGatewayOptions): Promise<Gateway> {
  const port = await freePort();
  let child: ChildProcess | null = null;
  let output = '';

  const start = async () => {
    if (child) return;
    const started = spawn(process.execPath, ['dist/main.js'], {
      cwd: ROOT,
      env: gatewayEnvironment(port, env),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child = started;
    const keep = (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-16_000);
    };
    started.stdout?.on('data', keep);
    started.stderr?.on('data', keep);
    started.once('exit', () => {
      if (child === started) child = null;
    });
    await waitFor(
      async () => {
        if (!child) throw new Error(`gateway exited during start:\n${output}`);
        try {
          return (await fetch(`http://127.0.0.1:${port}/${readiness}`)).ok;
        } catch {
          return false;
        }
      },
      GATEWAY_START_CEILING_MS,
      () => `gateway on port ${port} to answer /${readiness} (last output:\n${output.slice(-2_000)})`,
    );
  };

  const stop = async (signal: NodeJS.Signals = 'SIGTERM') => {
    const running = child;
    if (!running) return;
    running.kill('SIGCONT'); // a frozen process cannot act on SIGTERM
    await new Promise<void>((resolve) => {
      const force = setTimeout(() => running.kill('SIGKILL'), 10_000);
      running.once('exit', () => {
        clearTimeout(force);
        resolve();
      });
      running.kill(signal);
    });
    child = null;
  };

  await start();
  return {
    port,
    url: `http://127.0.0.1:${port}/graphql`,
    wsUrl: `ws://127.0.0.1:${port}/graphql`,
    get running() {
      return child !== null;
    },
    stop,
    start,
    restart: async () => {
      await stop();
      await start();
    },
    freeze: () => void child?.kill('SIGSTOP'),
    thaw: () => void child?.kill('SIGCONT'),
    logs: () => output,
    [Symbol.asyncDispose]: () => stop('SIGKILL'),
  };
}

/** An HS256 token for the test secret. */
export function testToken(
  claims: { sub?: string; role?: 'admin' | 'writer' | 'reader'; namespaces?: string[] | '*'; secrets?: boolean } = {},
): Promise<string> {
  const { sub = 'test', role = 'admin', namespaces = '*', secrets } = claims;
  return new SignJWT({ role, namespaces, ...(secrets === undefined ? {} : { secrets }) })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(sub)
    .setIssuedAt()
    .setExpirationTime('2h')
    .sign(new TextEncoder().encode(TEST_JWT_SECRET));
}

/** POSTs an operation; returns `data` or throws with the first error's code in the message. */
export async function gql<T = Record<string, unknown>>(url: string, token: string, query: string, variables: Record<string, unknown> = {}): Promise<T> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await response.json()) as { data?: T; errors?: Array<{ message: string; extensions?: { code?: string } }> };
  if (body.errors?.length) {
    const [first] = body.errors;
    throw new Error(`${first?.extensions?.code ?? 'ERROR'}: ${first?.message}`);
  }
  return body.data as T;
}

export const SET_CONFIG = /* GraphQL */ `
  mutation Set($input: SetConfigInput!) {
    setConfig(input: $input) { key version revision }
  }
`;

/** Sets `key` to `value` through `url`; returns the change's revision. */
export async function setConfig(url: string, token: string, namespace: string, key: string, value: unknown): Promise<number> {
  const data = await gql<{ setConfig: { revision: number } }>(url, token, SET_CONFIG, { input: { namespace, key, value } });
  return data.setConfig.revision;
}

export const CONFIG_CHANGED = /* GraphQL */ `
  subscription Watch($namespace: String!, $keys: [String!], $prefix: String, $sinceRevision: SafeInt) {
    configChanged(namespace: $namespace, keys: $keys, prefix: $prefix, sinceRevision: $sinceRevision) {
      key op version revision value replayed
    }
  }
`;

export interface ReceivedChange {
  key: string;
  op: 'SET' | 'DELETE';
  version: number;
  revision: number;
  value: unknown;
  replayed: boolean;
}

/** Everything a subscription received, for assertions. */
export interface Subscriber extends AsyncDisposable {
  changes: ReceivedChange[];
  errors: Array<{ message: string; extensions?: { code?: string } }>;
  readonly completed: boolean;
  /** Waits until `count` changes arrived. */
  waitForCount(count: number, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

export interface WatchVariables {
  namespace: string;
  keys?: string[];
  prefix?: string;
  sinceRevision?: number;
}

function collector(onClose: () => Promise<void> | void) {
  const state = { changes: [] as ReceivedChange[], errors: [] as Subscriber['errors'], completed: false };
  const subscriber: Subscriber = {
    changes: state.changes,
    errors: state.errors,
    get completed() {
      return state.completed;
    },
    waitForCount: (count, timeoutMs = 15_000) =>
      waitFor(
        () => {
          if (state.errors.length > 0) throw new Error(`subscription failed: ${JSON.stringify(state.errors)}`);
          return state.changes.length >= count;
        },
        timeoutMs,
        `${count} changes (have ${state.changes.length})`,
      ),
    close: async () => {
      await onClose();
    },
    [Symbol.asyncDispose]: async () => {
      await onClose();
    },
  };
  return { state, subscriber };
}

/** A graphql-ws client for `wsUrl` (Node 20 has no global WebSocket). */
export function wsClient(wsUrl: string, token: string, options: { retryAttempts?: number } = {}): Client {
  return createClient({
    url: wsUrl,
    webSocketImpl: WebSocket,
    connectionParams: { authorization: `Bearer ${token}` },
    retryAttempts: options.retryAttempts ?? 0,
    lazy: true,
  });
}

/** Subscribes over graphql-ws on `client`; resolves once the server took the subscription. */
export async function subscribeWs(client: Client, variables: WatchVariables): Promise<Subscriber> {
  let dispose: () => void = () => {};
  const { state, subscriber } = collector(() => dispose());
  dispose = client.subscribe<{ configChanged: ReceivedChange }>(
    { query: CONFIG_CHANGED, variables: { ...variables } },
    {
      next: (result) => {
        if (result.errors) state.errors.push(...(result.errors as Subscriber['errors']));
        else if (result.data) state.changes.push(result.data.configChanged);
      },
      error: (error) => {
        state.errors.push({ message: error instanceof Error ? error.message : JSON.stringify(error) });
      },
      complete: () => {
        state.completed = true;
      },
    },
  );
  return subscriber;
}

/** Subscribes over SSE (yoga's own, `Accept: text/event-stream`). */
export async function subscribeSse(url: string, token: string, variables: WatchVariables): Promise<Subscriber> {
  const abort = new AbortController();
  const { state, subscriber } = collector(() => abort.abort());
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query: CONFIG_CHANGED, variables }),
    signal: abort.signal,
  });
  if (!response.ok || !response.body) throw new Error(`SSE subscribe failed: ${response.status} ${await response.text()}`);
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  void (async () => {
    let buffer = '';
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const event = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const lines = event.split('\n');
          const type = lines.find((line) => line.startsWith('event:'))?.slice(6).trim() ?? 'message';
          const data = lines
            .filter((line) => line.startsWith('data:'))
            .map((line) => line.slice(5).trimStart())
            .join('\n');
          if (type === 'complete') state.completed = true;
          if (type !== 'next' || !data) continue;
          const result = JSON.parse(data) as { data?: { configChanged: ReceivedChange }; errors?: Subscriber['errors'] };
          if (result.errors) state.errors.push(...result.errors);
          else if (result.data) state.changes.push(result.data.configChanged);
        }
      }
    } catch {
      // aborted by close()
    } finally {
      state.completed = true;
    }
  })();
  return subscriber;
}

/** Namespace unique to one test. */
export function uniqueNamespace(label = 'ns'): string {
  return `${label}-${randomBytes(4).toString('hex')}`;
}
