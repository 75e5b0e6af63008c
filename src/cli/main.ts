import { createInterface } from 'node:readline/promises';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { parseCommandArgs } from './args.js';
import { convergence, migrate, serve, token } from './commands/admin.js';
import { del, get, history, ls, namespaces, rollback, set } from './commands/entries.js';
import { diff, exportCommand, importCommand } from './commands/files.js';
import { restore } from './commands/restore.js';
import { flags } from './commands/flags.js';
import { secrets } from './commands/secrets.js';
import { watch } from './commands/watch.js';
import type { Command, CommandContext, OptionValues } from './context.js';
import { CliError, EXIT, usage } from './exit-codes.js';
import { createGatewayClient, type GatewayClient } from './gateway-client.js';
import { processOutput, type Output } from './output.js';
import { VERSION } from '../version.js';

/** Every command, in the order `--help` lists them. */
export const COMMANDS: readonly Command[] = [
  get,
  set,
  ls,
  history,
  rollback,
  del,
  watch,
  diff,
  exportCommand,
  importCommand,
  restore,
  flags,
  convergence,
  namespaces,
  token,
  serve,
  migrate,
  secrets,
];

const GLOBAL_OPTIONS = {
  url: { type: 'string' },
  token: { type: 'string' },
  namespace: { type: 'string', short: 'n' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean' },
} satisfies NonNullable<ParseArgsConfig['options']>;

/** The CLI's own environment (not the gateway's: that one is read by src/config.ts). */
export interface CliEnvironment {
  /** HOTCONF_URL. @default 'http://127.0.0.1:4000/graphql' */
  url?: string | undefined;
  /** HOTCONF_TOKEN. */
  token?: string | undefined;
  /** HOTCONF_NAMESPACE. */
  namespace?: string | undefined;
}

/** Reads the CLI's variables from a process environment. */
export function cliEnvironment(env: Record<string, string | undefined>): CliEnvironment {
  return { url: env.HOTCONF_URL || undefined, token: env.HOTCONF_TOKEN || undefined, namespace: env.HOTCONF_NAMESPACE || undefined };
}

const DEFAULT_URL = 'http://127.0.0.1:4000/graphql';

function helpText(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return `hotconf — admin CLI for a hotconf gateway

Usage: hotconf <command> [arguments] [options]

Commands:
${COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`).join('\n')}

Global options:
  --url URL          gateway GraphQL endpoint (env HOTCONF_URL, default ${DEFAULT_URL})
  --token JWT        bearer token (env HOTCONF_TOKEN)
  -n, --namespace N  namespace (env HOTCONF_NAMESPACE)
  --json             machine-readable output on stdout
  -h, --help         help; "hotconf <command> --help" for a command's options

Exit codes:
  0  ok
  1  usage error (unknown command or option, missing argument, unreadable file, no signing key)
  2  not found (key, version or flag; set of a key that does not exist, without --create)
  3  version conflict (--expect-version did not match; import raced with another write)
  4  not authenticated or not allowed
  5  gateway unreachable or failing (also rate limited)
  6  input refused by the gateway (invalid value, schema validation, bad revision)
  7  differences found (diff, import --dry-run) or not converged (convergence --check)

Values given to "set" are JSON when they parse as JSON ("0.85", "true", '{"a":1}'), else strings;
negative numbers work as they are, other values that start with "-" go after "--".
`;
}

function commandHelp(command: Command): string {
  return `Usage: hotconf ${command.usage}\n\n${command.summary}\n\nGlobal options: --url, --token, -n/--namespace, --json (see hotconf --help)\n`;
}

/** Position of the command name in argv: the first positional, skipping global options' values. */
function findCommand(argv: readonly string[]): number {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') return i + 1 < argv.length ? i + 1 : -1;
    if (!arg.startsWith('-') || arg === '-') return i;
    if (arg.includes('=')) continue;
    const name = arg.replace(/^-+/, '');
    const option = Object.entries(GLOBAL_OPTIONS).find(([long, o]) => long === name || ('short' in o && o.short === name));
    if (option && option[1].type === 'string') i++;
  }
  return -1;
}

export interface RunOptions {
  output?: Output;
  env?: CliEnvironment;
  signal?: AbortSignal;
}

/**
 * Runs one CLI invocation and resolves with its exit code. Errors are printed on stderr as one
 * line; nothing is thrown for expected failures.
 *
 * @example process.exitCode = await runCli(process.argv.slice(2));
 */
export async function runCli(argv: readonly string[], options: RunOptions = {}): Promise<number> {
  const { output = processOutput(), env = cliEnvironment(process.env), signal = new AbortController().signal } = options;
  try {
    const at = findCommand(argv);
    if (at === -1) {
      const { values } = parseArgs({ args: [...argv], options: GLOBAL_OPTIONS, strict: false, allowPositionals: true });
      if (values.version) {
        output.out(`${VERSION}\n`);
        return EXIT.OK;
      }
      output[values.help ? 'out' : 'err'](helpText());
      return values.help ? EXIT.OK : EXIT.USAGE;
    }
    const name = argv[at]!;
    if (name === 'help') {
      const topic = COMMANDS.find((c) => c.name === argv[at + 1]);
      output.out(topic ? commandHelp(topic) : helpText());
      return EXIT.OK;
    }
    const command = COMMANDS.find((c) => c.name === name || (name === 'del' && c === del) || (name === 'rm' && c === del));
    if (!command) throw usage(`unknown command ${JSON.stringify(name)}; run hotconf --help`);

    let parsed: { values: OptionValues; positionals: string[] };
    try {
      parsed = parseCommandArgs([...argv.slice(0, at), ...argv.slice(at + 1)], { ...GLOBAL_OPTIONS, ...command.options });
    } catch (error) {
      throw usage(`${(error as Error).message}\n${commandHelp(command)}`);
    }
    const { values, positionals } = parsed;
    if (values.help) {
      output.out(commandHelp(command));
      return EXIT.OK;
    }

    let client: GatewayClient | null = null;
    const context: CommandContext = {
      args: positionals,
      values,
      json: values.json === true,
      output,
      signal,
      namespace() {
        const fromFlag = values.namespace;
        const namespace = (typeof fromFlag === 'string' ? fromFlag : undefined) ?? env.namespace;
        if (!namespace) throw usage('no namespace: pass -n NAMESPACE or set HOTCONF_NAMESPACE');
        return namespace;
      },
      client() {
        client ??= createGatewayClient({
          url: (typeof values.url === 'string' ? values.url : undefined) ?? env.url ?? DEFAULT_URL,
          token: (typeof values.token === 'string' ? values.token : undefined) ?? env.token ?? null,
        });
        return client;
      },
      async prompt(question) {
        const rl = createInterface({ input: process.stdin, output: process.stderr });
        try {
          return await rl.question(question, { signal });
        } finally {
          rl.close();
        }
      },
    };
    return await command.run(context);
  } catch (error) {
    if (error instanceof CliError) {
      output.err(`hotconf: ${error.message}\n`);
      return error.exitCode;
    }
    output.err(`hotconf: ${(error as Error)?.message ?? String(error)}\n`);
    return EXIT.UNAVAILABLE;
  }
}
