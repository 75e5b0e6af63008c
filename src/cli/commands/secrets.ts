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
    const { rotateSecrets, EntryPointError } = await import('../../gateway.js');
    let shown = -1;
    let result: Awaited<ReturnType<typeof rotateSecrets>>;
    try {
      result = await rotateSecrets({
        onProgress: ({ done, total, keyId }) => {
          // One line per batch, and the first and last: the count of rows actually rewritten.
          if (done === shown) return;
          shown = done;
          context.output.err(`re-encrypting secret values under key ${keyId}: ${done}/${total}\n`);
        },
      });
    } catch (error) {
      if (!(error instanceof EntryPointError)) throw error;
      if (error.code === 'ROTATION') throw new CliError(error.message, EXIT.UNAVAILABLE);
      throw new CliError(error.message, EXIT.USAGE, error.code === 'SECRET_UNREADABLE' ? 'SECRET_UNREADABLE' : 'USAGE');
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
