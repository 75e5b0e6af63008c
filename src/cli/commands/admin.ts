import { printJson, stringOption, type Command } from '../context.js';
import { CliError, EXIT, usage } from '../exit-codes.js';
import { ConvergenceDocument } from '../operations.js';
import { table, when } from '../output.js';

export const convergence: Command = {
  name: 'convergence',
  summary: 'which services have applied which revision (answers "8 of 10 pods updated")',
  usage: 'convergence [--check]\n  --check   exit 7 unless every listed client (STALE ones included) has applied the latest revision',
  options: { check: { type: 'boolean' } },
  async run(context) {
    const namespace = context.namespace();
    const { convergence: view } = await context.client().request(ConvergenceDocument, { namespace });
    if (context.json) printJson(context, view);
    else {
      // STALE first (silent pods are what this command exists to find), then the most behind.
      const order = { STALE: 0, LAGGING: 1, CURRENT: 2 } as const;
      const clients = [...view.clients].sort((a, b) => order[a.state] - order[b.state] || b.lag - a.lag || (a.clientId < b.clientId ? -1 : 1));
      if (clients.length > 0) {
        context.output.out(
          table(
            ['CLIENT', 'STATE', 'APPLIED', 'LAG', 'LAST SEEN'],
            clients.map((c) => [c.clientId, c.state, String(c.appliedRevision), String(c.lag), when(c.lastSeenAt)]),
          ),
        );
      }
      const current = view.clients.filter((c) => c.state === 'CURRENT').length;
      const stale = view.clients.filter((c) => c.state === 'STALE').length;
      context.output.out(
        `${namespace} at revision ${view.revision}: ${view.converged ? 'converged' : 'NOT converged'} — ` +
          `${current} of ${view.clients.length} client(s) up to date` +
          (stale > 0 ? ` (${stale} silent: STALE)` : '') +
          '\n',
      );
    }
    return context.values.check && !view.converged ? EXIT.DIFFERENT : EXIT.OK;
  },
};

/**
 * The key a gateway generated in `dataDir` (read, never created: a key made up here would sign
 * tokens that no gateway accepts).
 */
async function readGeneratedKey(dataDir: string): Promise<string> {
  const { readFile } = await import('node:fs/promises');
  const { resolve } = await import('node:path');
  const { GENERATED_SECRET_FILE } = await import('../../auth/tokens.js');
  const file = resolve(dataDir, GENERATED_SECRET_FILE);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new CliError(
      `no signing key: HOTCONF_JWT_SECRET is not set and ${file} ${code === 'ENOENT' ? 'does not exist' : `cannot be read (${code})`}. ` +
        'Run this where the gateway runs, pass --data-dir (the gateway\'s HOTCONF_DATA_DIR), or set HOTCONF_JWT_SECRET to the gateway\'s secret',
      EXIT.USAGE,
      'NO_KEY',
    );
  }
  const secret = text.trim();
  if (secret.length < 32) throw new CliError(`${file} holds no usable key (expected 32+ characters)`, EXIT.USAGE, 'NO_KEY');
  return secret;
}

export const token: Command = {
  name: 'token',
  summary: 'mint a JWT with the gateway\'s HS256 key (HOTCONF_JWT_SECRET, or the key the gateway generated)',
  usage:
    'token --role admin|writer|reader --sub NAME [--namespace NS]... [--secrets] [--expires 24h] [--data-dir DIR]\n' +
    '  --namespace may be repeated; "*" (the default for admin) means every namespace.\n' +
    '  The key is the gateway\'s: HOTCONF_JWT_SECRET, else the jwt-secret file the gateway generated in its\n' +
    '  data directory (--data-dir, else HOTCONF_DATA_DIR, else ./.hotconf). It never makes a key up:\n' +
    '  with neither, it exits 1 and says where it looked.',
  options: {
    role: { type: 'string' },
    sub: { type: 'string' },
    namespace: { type: 'string', short: 'n', multiple: true },
    secrets: { type: 'boolean' },
    expires: { type: 'string' },
    'data-dir': { type: 'string' },
  },
  async run(context) {
    const role = stringOption(context.values, 'role');
    if (role !== 'admin' && role !== 'writer' && role !== 'reader') throw usage('--role must be admin, writer or reader');
    const sub = stringOption(context.values, 'sub');
    if (!sub) throw usage('missing --sub NAME (the actor recorded in history)');
    const given = (context.values.namespace as string[] | undefined) ?? [];
    const namespaces: string[] | '*' = given.includes('*') || (given.length === 0 && role === 'admin') ? '*' : given;
    if (namespaces !== '*' && namespaces.length === 0) throw usage(`a ${role} token needs --namespace NS (repeat it, or "*" for all)`);
    const expires = stringOption(context.values, 'expires') ?? '24h';
    const expiresIn = /^\d+$/.test(expires) ? Number(expires) : expires;
    const { loadConfig } = await import('../../config.js');
    const { mintToken } = await import('../../auth/tokens.js');
    let config: ReturnType<typeof loadConfig>;
    try {
      config = loadConfig();
    } catch (error) {
      throw usage((error as Error).message);
    }
    if (!config.jwtSecret && config.jwksUrl) {
      throw new CliError('the gateway verifies tokens with HOTCONF_JWKS_URL: mint them with your identity provider', EXIT.USAGE);
    }
    const secret = config.jwtSecret ?? (await readGeneratedKey(stringOption(context.values, 'data-dir') ?? config.dataDir));
    let jwt: string;
    try {
      jwt = await mintToken({ secret, sub, role, namespaces, secrets: context.values.secrets === true, expiresIn });
    } catch (error) {
      throw usage((error as Error).message);
    }
    if (context.json) printJson(context, { token: jwt, sub, role, namespaces, secrets: context.values.secrets === true, expires });
    else context.output.out(`${jwt}\n`);
    return EXIT.OK;
  },
};

export const migrate: Command = {
  name: 'migrate',
  summary: 'apply pending database migrations (HOTCONF_MIGRATION_DATABASE_URL, else DATABASE_URL, else the embedded database)',
  usage: 'migrate',
  async run(context) {
    const { loadConfig } = await import('../../config.js');
    const { connectDatabase } = await import('../../db/connect.js');
    const config = loadConfig();
    const database = await connectDatabase({
      databaseUrl: config.databaseUrl,
      dataDir: config.dataDir,
      poolMax: 1,
      prepare: config.databasePrepare,
      migrationDatabaseUrl: config.migrationDatabaseUrl,
    });
    try {
      await database.migrate({ onProgress: (message: string) => context.output.err(`${message}\n`) });
    } catch (error) {
      throw new CliError(`migration failed: ${(error as Error).message}`, EXIT.UNAVAILABLE);
    } finally {
      await database.close();
    }
    if (context.json) printJson(context, { migrated: true, driver: database.driver });
    else context.output.out(`migrations applied (${database.driver})\n`);
    return EXIT.OK;
  },
};

export const serve: Command = {
  name: 'serve',
  summary: 'start a gateway (configured by the environment: PORT, DATABASE_URL, REDIS_URL, ...)',
  usage: 'serve [--port N] [--host H]\n  every setting is read from the environment (see README); --port/--host override PORT/HOST',
  options: { port: { type: 'string' }, host: { type: 'string' } },
  async run(context) {
    const port = stringOption(context.values, 'port');
    const host = stringOption(context.values, 'host');
    // The gateway reads its configuration from the environment (src/config.ts) only.
    if (port !== undefined) process.env.PORT = port;
    if (host !== undefined) process.env.HOST = host;
    // main.ts starts the gateway when imported and owns the process from then on (signals, exit).
    await import('../../main.js');
    return new Promise<number>(() => {});
  },
};
