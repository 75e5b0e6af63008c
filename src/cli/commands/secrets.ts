import { CliError, EXIT, usage } from '../exit-codes.js';
import { printJson, type Command } from '../context.js';

/**
 * `hotconf secrets rotate`: re-encrypts every secret value at rest under the first key of
 * HOTCONF_SECRET_KEYS, talking to the database directly (DATABASE_URL, or the embedded database
 * in HOTCONF_DATA_DIR), like `hotconf migrate`. See docs/SECRETS.md for the procedure.
 */
export const secrets: Command = {
  name: 'secrets',
  summary: 're-encrypt secret values at rest under the first HOTCONF_SECRET_KEYS key (secrets rotate)',
  usage:
    'secrets rotate\n  DATABASE_URL (or HOTCONF_DATA_DIR) and HOTCONF_SECRET_KEYS as the gateways have them, new key first;\n  one transaction: writes wait until it commits, a failure changes nothing',
  async run(context) {
    const [subcommand] = context.args;
    if (subcommand !== 'rotate') throw usage('secrets: the only subcommand is "rotate"');
    const { ConfigError, loadConfig } = await import('../../config.js');
    let config;
    try {
      config = loadConfig();
    } catch (error) {
      if (error instanceof ConfigError) throw usage(error.message);
      throw error;
    }
    if (config.secretKeys.length === 0) throw usage('HOTCONF_SECRET_KEYS is not set: give the key to encrypt with first, then every key still in use');
    const { createSecretBox, SecretUnreadableError } = await import('../../core/secret-box.js');
    const { connectDatabase } = await import('../../db/connect.js');
    const { rotateSecretValues } = await import('../../db/secret-rotation.js');
    const box = createSecretBox(config.secretKeys);
    const database = await connectDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
    let result;
    try {
      // Migrations first: rotation needs the encrypted_value columns.
      await database.migrate();
      let shown = -1;
      result = await rotateSecretValues({
        database,
        box,
        onProgress: ({ done, total }) => {
          // One line per batch, and the first and last: the count of rows actually rewritten.
          if (done === shown) return;
          shown = done;
          context.output.err(`re-encrypting secret values under key ${box.encryptingKeyId}: ${done}/${total}\n`);
        },
      });
    } catch (error) {
      if (error instanceof SecretUnreadableError) {
        throw new CliError(`rotation stopped, nothing was changed: ${error.message}`, EXIT.USAGE, 'SECRET_UNREADABLE');
      }
      throw new CliError(`rotation failed, nothing was changed: ${(error as Error).message}`, EXIT.UNAVAILABLE);
    } finally {
      await database.close();
    }
    if (context.json) printJson(context, { rotated: result.done, alreadyCurrent: result.alreadyCurrent, keyId: result.keyId });
    else {
      context.output.out(
        `${result.done} secret value${result.done === 1 ? '' : 's'} re-encrypted under key ${result.keyId} (${result.alreadyCurrent} already were)\n`,
      );
    }
    return EXIT.OK;
  },
};
