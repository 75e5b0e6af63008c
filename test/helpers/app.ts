import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createApp, type App } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import type { Role } from '../../src/core/types.js';

export interface GraphQLResponse<T = Record<string, unknown>> {
  status: number;
  contentType: string | null;
  body: { data?: T | null; errors?: Array<{ message: string; extensions?: Record<string, unknown>; path?: unknown[] }> };
}

export interface TestGateway extends AsyncDisposable {
  app: App;
  /** http://127.0.0.1:<port>/graphql */
  url: string;
  dataDir: string;
  adminToken: string;
  /** Mint a token signed with this gateway's key. */
  token(claims: { sub: string; role: Role; namespaces: string[] | '*'; secrets?: boolean }, expiresIn?: string | number): Promise<string>;
  /** POST a GraphQL operation (admin token unless `token` is given; `null` = none). */
  gql<T = Record<string, unknown>>(query: string, variables?: Record<string, unknown>, options?: { token?: string | null }): Promise<GraphQLResponse<T>>;
  stop(): Promise<void>;
}

/**
 * A real gateway in this process on a free port: real Postgres (DATABASE_URL in `env`) or
 * PGlite (no DATABASE_URL), real HTTP. For multi-instance and fault tests, use processes.
 */
export async function startTestGateway(env: Record<string, string> = {}): Promise<TestGateway> {
  const ownDataDir = env.HOTCONF_DATA_DIR ? null : mkdtempSync(join(tmpdir(), 'hotconf-test-'));
  const dataDir = env.HOTCONF_DATA_DIR ?? ownDataDir!;
  const config = loadConfig({ PORT: '0', HOST: '127.0.0.1', HOTCONF_DATA_DIR: dataDir, NODE_ENV: 'test', HOTCONF_RATE_LIMIT_PER_MIN: '0', ...env });
  const logger = createLogger({ level: process.env.HOTCONF_TEST_LOG ?? 'silent' });
  const app = await createApp(config, { logger });
  const { url } = await app.start();
  const token: TestGateway['token'] = (claims, expiresIn = '1h') => app.auth.mint({ secrets: false, ...claims }, { expiresIn });
  const adminToken = await token({ sub: 'test-admin', role: 'admin', namespaces: '*' });
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await app.stop();
    if (ownDataDir) rmSync(ownDataDir, { recursive: true, force: true });
  };
  return {
    app,
    url,
    dataDir,
    adminToken,
    token,
    async gql(query, variables = {}, { token: given } = {}) {
      const bearer = given === undefined ? adminToken : given;
      const response = await fetch(url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'application/graphql-response+json',
          ...(bearer ? { authorization: `Bearer ${bearer}` } : {}),
        },
        body: JSON.stringify({ query, variables }),
      });
      return { status: response.status, contentType: response.headers.get('content-type'), body: (await response.json()) as never };
    },
    stop,
    [Symbol.asyncDispose]: stop,
  };
}

/** The first error's `extensions.code`. */
export function codeOf(response: GraphQLResponse<unknown>): unknown {
  return response.body.errors?.[0]?.extensions?.code;
}
