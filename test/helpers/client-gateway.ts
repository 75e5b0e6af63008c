import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { SignJWT } from 'jose';
import { freePort, waitFor } from './net.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** A gateway process (`src/main.ts`) on a fixed port that the test can kill and start again. */
export interface GatewayProcess extends AsyncDisposable {
  port: number;
  /** `http://127.0.0.1:<port>/graphql` */
  url: string;
  readonly running: boolean;
  start(): Promise<void>;
  /** SIGKILL: connections drop without a goodbye, as in a crash. */
  kill(): Promise<void>;
  /** SIGTERM: the gateway's ordered shutdown. */
  stop(): Promise<void>;
  /** SIGSTOP / SIGCONT: a frozen process keeps its sockets open but answers nothing. */
  freeze(): void;
  thaw(): void;
  /** The last lines the process wrote (for failure messages). */
  output(): string;
}

/** Spawns `src/main.ts` with `env` (plus PORT/HOST) and waits for `/health`. */
export async function spawnGateway(env: Record<string, string>): Promise<GatewayProcess> {
  const port = await freePort();
  let child: ChildProcess | null = null;
  let log = '';
  const url = `http://127.0.0.1:${port}/graphql`;

  const start = async () => {
    if (child) return;
    const started = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'warn', ...env, PORT: String(port), HOST: '127.0.0.1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child = started;
    const keep = (chunk: Buffer) => {
      log = (log + chunk.toString()).slice(-8_000);
    };
    started.stdout?.on('data', keep);
    started.stderr?.on('data', keep);
    started.once('exit', () => {
      if (child === started) child = null;
    });
    await waitFor(
      async () => {
        if (!child) throw new Error(`gateway exited during start:\n${log}`);
        try {
          return (await fetch(`http://127.0.0.1:${port}/health`)).ok;
        } catch {
          return false;
        }
      },
      30_000,
      `gateway on ${port}`,
    );
  };

  const end = async (signal: NodeJS.Signals) => {
    const running = child;
    if (!running) return;
    running.kill('SIGCONT');
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
    url,
    get running() {
      return child !== null;
    },
    start,
    kill: () => end('SIGKILL'),
    stop: () => end('SIGTERM'),
    freeze: () => void child?.kill('SIGSTOP'),
    thaw: () => void child?.kill('SIGCONT'),
    output: () => log,
    [Symbol.asyncDispose]: () => end('SIGKILL'),
  };
}

/** An HS256 token for `secret`. */
export async function signToken(
  secret: string,
  claims: { sub?: string; role?: 'admin' | 'writer' | 'reader'; namespaces?: string[] | '*'; secrets?: boolean } = {},
): Promise<string> {
  const { sub = 'test', role = 'admin', namespaces = '*', secrets } = claims;
  return new SignJWT({ role, namespaces, ...(secrets === undefined ? {} : { secrets }) })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(sub)
    .setIssuedAt()
    .setExpirationTime('1h')
    .sign(new TextEncoder().encode(secret));
}

/** POSTs a GraphQL operation; returns `data` or throws with the first error's code in the message. */
export async function gql<T = Record<string, unknown>>(
  url: string,
  token: string,
  query: string,
  variables: Record<string, unknown> = {},
): Promise<T> {
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
