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
    const { issueToken } = await import('../../gateway.js');
    let jwt: string;
    try {
      jwt = await issueToken({ role, sub, namespaces, secrets: context.values.secrets === true, expiresIn, dataDir: stringOption(context.values, 'data-dir') });
    } catch (error) {
      // Every refusal (bad environment, no key, JWKS, bad claims) is the caller's to fix: exit 1.
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
    const { migrate: migrateDatabase, EntryPointError } = await import('../../gateway.js');
    let driver: string;
    try {
      ({ driver } = await migrateDatabase({ onProgress: (message: string) => context.output.err(`${message}\n`) }));
    } catch (error) {
      if (error instanceof EntryPointError && error.code === 'MIGRATION') throw new CliError(error.message, EXIT.UNAVAILABLE);
      throw error;
    }
    if (context.json) printJson(context, { migrated: true, driver: driver });
    else context.output.out(`migrations applied (${driver})\n`);
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
    const { startGateway, EntryPointError } = await import('../../gateway.js');
    // --port/--host override PORT/HOST in a copy of the environment; process.env is not touched.
    const env = { ...process.env, ...(port !== undefined ? { PORT: port } : {}), ...(host !== undefined ? { HOST: host } : {}) };
    let gateway: Awaited<ReturnType<typeof startGateway>>;
    try {
      gateway = await startGateway({ env, notice: (line) => context.output.err(`${line}\n`) });
    } catch (error) {
      if (error instanceof EntryPointError) throw new CliError(error.message, EXIT.USAGE, error.code);
      throw error;
    }
    // Runs until SIGINT/SIGTERM (the signal aborts `context.signal`), then stops in order.
    if (!context.signal.aborted) await new Promise<void>((resolve) => context.signal.addEventListener('abort', () => resolve(), { once: true }));
    gateway.logger.info('signal received');
    let force: ReturnType<typeof setTimeout> | undefined;
    const forced = new Promise<'forced'>((resolve) => {
      force = setTimeout(() => resolve('forced'), 10_000 /* 10 s, as the gateway process */);
      force.unref();
    });
    try {
      const outcome = await Promise.race([gateway.stop().then(() => 'stopped' as const), forced]);
      return outcome === 'stopped' ? EXIT.OK : EXIT.USAGE;
    } catch (error) {
      gateway.logger.error({ err: error }, 'shutdown failed');
      return EXIT.USAGE;
    } finally {
      clearTimeout(force);
    }
  },
};
