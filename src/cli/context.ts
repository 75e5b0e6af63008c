import type { ParseArgsConfig } from 'node:util';
import { CliError, EXIT, usage } from './exit-codes.js';
import type { GatewayClient } from './gateway-client.js';
import type { Output } from './output.js';

export type OptionValues = Record<string, string | boolean | string[] | boolean[] | undefined>;

/** What every command receives. */
export interface CommandContext {
  /** Positional arguments after the command (and subcommand) name. */
  readonly args: readonly string[];
  readonly values: OptionValues;
  /** `--json`: machine-readable output on stdout. */
  readonly json: boolean;
  readonly output: Output;
  /** The namespace from `--namespace`/`-n` or HOTCONF_NAMESPACE; usage error when neither. */
  namespace(): string;
  /** A client for the gateway at `--url`/HOTCONF_URL with `--token`/HOTCONF_TOKEN. */
  client(): GatewayClient;
  /** Aborted on SIGINT/SIGTERM (long-running commands stop cleanly). */
  readonly signal: AbortSignal;
  /** Reads one answer line from stdin (confirmation prompts). */
  prompt(question: string): Promise<string>;
}

export interface Command {
  name: string;
  /** One line for `hotconf --help`. */
  summary: string;
  /** `hotconf <usage>` line(s) and option notes for `hotconf <command> --help`. */
  usage: string;
  options?: NonNullable<ParseArgsConfig['options']>;
  run(context: CommandContext): Promise<number>;
}

export function stringOption(values: OptionValues, name: string): string | undefined {
  const value = values[name];
  return typeof value === 'string' ? value : undefined;
}

/** An integer option, or undefined when absent; usage error when not an integer ≥ `min`. */
export function intOption(values: OptionValues, name: string, min = 0): number | undefined {
  const raw = stringOption(values, name);
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < min) throw usage(`--${name} must be an integer >= ${min}, got ${JSON.stringify(raw)}`);
  return value;
}

export function requireArg(context: CommandContext, index: number, name: string): string {
  const value = context.args[index];
  if (value === undefined || value === '') throw usage(`missing ${name}`);
  return value;
}

/** Prints `value` as JSON on stdout (for `--json`). */
export function printJson(context: CommandContext, value: unknown): void {
  context.output.out(`${JSON.stringify(value, null, 2)}\n`);
}

export const notFound = (message: string): CliError => new CliError(message, EXIT.NOT_FOUND, 'NOT_FOUND');
