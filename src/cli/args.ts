import { parseArgs, type ParseArgsConfig } from 'node:util';
import { usage } from './exit-codes.js';
import type { OptionValues } from './context.js';

type Options = NonNullable<ParseArgsConfig['options']>;

/** `-1`, `-0.5`, `-.5`, `-1e3`: a value, never an option (no option name starts with a digit). */
const NEGATIVE_NUMBER = /^-(\d|\.\d)/;

/**
 * Parses a command's arguments with `node:util` `parseArgs` (strict), after two fixes it does
 * not make on its own:
 * - a negative number is a positional value (`hotconf set ai.offset -1`), not an unknown option;
 * - a string option takes the next word as its value even when that word starts with `-`
 *   (`--reason -x`), unless the word is itself one of the command's options.
 * Any other word that starts with `-` must follow `--`; the usage error says so, with a
 * copy-pasteable example.
 */
export function parseCommandArgs(argv: readonly string[], options: Options): { values: OptionValues; positionals: string[] } {
  const short = new Map<string, string>();
  for (const [name, option] of Object.entries(options)) if (option.short) short.set(option.short, name);
  const isKnownOption = (word: string): boolean => {
    if (word === '--') return true;
    if (word.startsWith('--')) return Object.hasOwn(options, word.slice(2).split('=')[0]!);
    return word.length === 2 && word.startsWith('-') && short.has(word[1]!);
  };

  const flags: string[] = [];
  const positionals: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const word = argv[i]!;
    if (word === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (word === '-' || !word.startsWith('-') || NEGATIVE_NUMBER.test(word)) {
      positionals.push(word);
      continue;
    }
    // `--name`, `--name=value`, `-n`: a string option consumes the next word as its value.
    const name = word.startsWith('--') ? word.slice(2) : word.length === 2 ? short.get(word[1]!) : undefined;
    const option = name !== undefined && !name.includes('=') ? options[name] : undefined;
    const next = argv[i + 1];
    if (option?.type === 'string' && next !== undefined && !isKnownOption(next)) {
      flags.push(`--${name}=${next}`);
      i += 1;
      continue;
    }
    flags.push(word);
  }

  try {
    return parseArgs({ args: [...flags, '--', ...positionals], options, allowPositionals: true, strict: true }) as {
      values: OptionValues;
      positionals: string[];
    };
  } catch (error) {
    const { code, message } = error as NodeJS.ErrnoException;
    if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
      const option = /'([^']+)'/.exec(message)?.[1] ?? '';
      // Node names the first letter of a word such as `-hello`; show the whole word.
      const word =
        argv.find((a) => a === option) ??
        argv.find((a) => option.length === 2 && /^-[^-]/.test(a) && a.slice(1).includes(option[1]!)) ??
        option;
      throw usage(`unknown option ${JSON.stringify(word)}; a value that starts with "-" goes after "--", as in: -- ${JSON.stringify(word)}`);
    }
    throw usage(message.split('\n')[0]!);
  }
}
