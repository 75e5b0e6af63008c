/**
 * The gateway's entry points as functions: start a gateway, apply migrations, mint a token.
 * `main.ts` (the `node dist/main.js` process) and the CLI's `serve`/`migrate`/`token` call these;
 * nothing here writes `process.env`, installs signal handlers or exits the process: the caller
 * owns the process. Heavy modules are loaded on demand, so `hotconf token` does not load the
 * HTTP stack.
 */
import type { App } from './app.js';
import type { Config } from './config.js';
import type { Logger } from './logger.js';

/** The environment the gateway is configured from (`process.env`, or a copy with overrides). */
export type GatewayEnv = Readonly<Record<string, string | undefined>>;

/** Why an entry point refused to run. `message` is one line, fit for `hotconf: <message>`. */
export class EntryPointError extends Error {
  /**
   * `CONFIG`: the environment is invalid (ConfigError); `NO_KEY`: no signing key to mint with;
   * `JWKS`: tokens come from an identity provider; `CLAIMS`: the token's claims were refused;
   * `MIGRATION`: a migration failed; `START`: the gateway could not be built or listen;
   * `NO_SECRET_KEYS`: HOTCONF_SECRET_KEYS is not set; `SECRET_UNREADABLE`: a stored secret
   * opens with no given key; `ROTATION`: re-encryption failed (nothing was changed).
   */
  readonly code: 'CONFIG' | 'NO_KEY' | 'JWKS' | 'CLAIMS' | 'MIGRATION' | 'START' | 'NO_SECRET_KEYS' | 'SECRET_UNREADABLE' | 'ROTATION';
  constructor(message: string, code: EntryPointError['code'], options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'EntryPointError';
    this.code = code;
  }
}

async function configFrom(env: GatewayEnv): Promise<Readonly<Config>> {
  const { ConfigError, loadConfig } = await import('./config.js');
  try {
    return loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) throw new EntryPointError(error.message, 'CONFIG', { cause: error });
    throw error;
  }
}

/** A started gateway. */
export interface StartedGateway {
  readonly app: App;
  readonly logger: Logger;
  /** Where it listens. */
  readonly address: { host: string; port: number; url: string };
  /** Ordered shutdown (see `App.stop`). Idempotent. */
  stop(): Promise<void>;
}

export interface StartGatewayOptions {
  /** @default process.env */
  env?: GatewayEnv;
  /** Lines for the operator (the generated admin token on a first start). @default stderr */
  notice?: (line: string) => void;
}

/**
 * Builds the gateway from the environment and starts listening. Rejects with
 * `EntryPointError` (`CONFIG`, `START`) and leaves nothing running when it does.
 * @example const gateway = await startGateway({ env: { ...process.env, PORT: '4100' } });
 */
export async function startGateway({ env = process.env, notice = (line) => process.stderr.write(`${line}\n`) }: StartGatewayOptions = {}): Promise<StartedGateway> {
  const config = await configFrom(env);
  const [{ createApp }, { createLogger }] = await Promise.all([import('./app.js'), import('./logger.js')]);
  const logger = createLogger({ level: config.logLevel });
  let app: App;
  try {
    app = await createApp(config, { logger });
  } catch (error) {
    logger.fatal({ err: error }, 'gateway failed to start');
    throw new EntryPointError((error as Error).message, 'START', { cause: error });
  }
  let address: StartedGateway['address'];
  try {
    address = await app.start();
  } catch (error) {
    logger.fatal({ err: error }, 'cannot listen');
    await app.stop();
    throw new EntryPointError((error as Error).message, 'START', { cause: error });
  }
  for (const line of await app.auth.describeStartupAuth()) notice(line);
  return { app, logger, address, stop: () => app.stop() };
}

/**
 * Applies pending migrations to the database the environment names
 * (HOTCONF_MIGRATION_DATABASE_URL, else DATABASE_URL, else the embedded one).
 * Rejects with `EntryPointError` (`CONFIG`, `MIGRATION`); a database that cannot be reached
 * rejects with the driver's error.
 */
export async function migrate({ env = process.env, onProgress }: { env?: GatewayEnv; onProgress?: (message: string) => void } = {}): Promise<{
  driver: 'postgres' | 'pglite';
}> {
  const config = await configFrom(env);
  const { connectDatabase } = await import('./db/connect.js');
  const database = await connectDatabase({
    databaseUrl: config.databaseUrl,
    dataDir: config.dataDir,
    poolMax: 1,
    prepare: config.databasePrepare,
    migrationDatabaseUrl: config.migrationDatabaseUrl,
  });
  try {
    await database.migrate(onProgress ? { onProgress } : {});
  } catch (error) {
    throw new EntryPointError(`migration failed: ${(error as Error).message}`, 'MIGRATION', { cause: error });
  } finally {
    await database.close();
  }
  return { driver: database.driver };
}

export interface IssueTokenOptions {
  role: 'admin' | 'writer' | 'reader';
  sub: string;
  namespaces: string[] | '*';
  secrets?: boolean;
  /** Seconds, or a duration such as `24h`. */
  expiresIn: string | number;
  /** Where the gateway generated its key. @default HOTCONF_DATA_DIR, else ./.hotconf */
  dataDir?: string | undefined;
  /** @default process.env */
  env?: GatewayEnv;
}

/**
 * The key a gateway generated in `dataDir` (read, never created: a key made up here would sign
 * tokens that no gateway accepts).
 */
async function readGeneratedKey(dataDir: string): Promise<string> {
  const { readFile } = await import('node:fs/promises');
  const { resolve } = await import('node:path');
  const { GENERATED_SECRET_FILE } = await import('./auth/tokens.js');
  const file = resolve(dataDir, GENERATED_SECRET_FILE);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new EntryPointError(
      `no signing key: HOTCONF_JWT_SECRET is not set and ${file} ${code === 'ENOENT' ? 'does not exist' : `cannot be read (${code})`}. ` +
        "Run this where the gateway runs, pass --data-dir (the gateway's HOTCONF_DATA_DIR), or set HOTCONF_JWT_SECRET to the gateway's secret",
      'NO_KEY',
    );
  }
  const secret = text.trim();
  if (secret.length < 32) throw new EntryPointError(`${file} holds no usable key (expected 32+ characters)`, 'NO_KEY');
  return secret;
}

/**
 * Mints a JWT with the gateway's HS256 key: HOTCONF_JWT_SECRET, else the key the gateway
 * generated in its data directory. Never makes a key up. Rejects with `EntryPointError`
 * (`CONFIG`, `JWKS`, `NO_KEY`, `CLAIMS`).
 */
export async function issueToken({ role, sub, namespaces, secrets = false, expiresIn, dataDir, env = process.env }: IssueTokenOptions): Promise<string> {
  const config = await configFrom(env);
  if (!config.jwtSecret && config.jwksUrl) {
    throw new EntryPointError('the gateway verifies tokens with HOTCONF_JWKS_URL: mint them with your identity provider', 'JWKS');
  }
  const secret = config.jwtSecret ?? (await readGeneratedKey(dataDir ?? config.dataDir));
  const { mintToken } = await import('./auth/tokens.js');
  try {
    return await mintToken({ secret, sub, role, namespaces, secrets, expiresIn });
  } catch (error) {
    throw new EntryPointError((error as Error).message, 'CLAIMS', { cause: error });
  }
}

/**
 * Re-encrypts every secret value at rest under the first key of HOTCONF_SECRET_KEYS, in one
 * transaction, after applying migrations. `onProgress` gets the rows done so far and the total.
 * Rejects with `EntryPointError` (`CONFIG`, `NO_SECRET_KEYS`, `SECRET_UNREADABLE`, `ROTATION`).
 */
export async function rotateSecrets({
  env = process.env,
  onProgress,
}: { env?: GatewayEnv; onProgress?: (progress: { done: number; total: number; keyId: string }) => void } = {}): Promise<{
  done: number;
  alreadyCurrent: number;
  keyId: string;
}> {
  const config = await configFrom(env);
  if (config.secretKeys.length === 0) {
    throw new EntryPointError('HOTCONF_SECRET_KEYS is not set: give the key to encrypt with first, then every key still in use', 'NO_SECRET_KEYS');
  }
  const [{ createSecretBox, SecretUnreadableError }, { connectDatabase }, { rotateSecretValues }] = await Promise.all([
    import('./core/secret-box.js'),
    import('./db/connect.js'),
    import('./db/secret-rotation.js'),
  ]);
  const box = createSecretBox(config.secretKeys);
  const database = await connectDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
  try {
    // Migrations first: rotation needs the encrypted_value columns.
    await database.migrate();
    const result = await rotateSecretValues({
      database,
      box,
      onProgress: ({ done, total }) => onProgress?.({ done, total, keyId: box.encryptingKeyId }),
    });
    return { done: result.done, alreadyCurrent: result.alreadyCurrent, keyId: result.keyId };
  } catch (error) {
    if (error instanceof SecretUnreadableError) {
      throw new EntryPointError(`rotation stopped, nothing was changed: ${error.message}`, 'SECRET_UNREADABLE', { cause: error });
    }
    throw new EntryPointError(`rotation failed, nothing was changed: ${(error as Error).message}`, 'ROTATION', { cause: error });
  } finally {
    await database.close();
  }
}
