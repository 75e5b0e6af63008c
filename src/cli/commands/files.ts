import { readFileSync, writeFileSync } from 'node:fs';
import { extname } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { printJson, requireArg, stringOption, type Command, type CommandContext } from '../context.js';
import { CliError, EXIT, usage } from '../exit-codes.js';
import { ExportDocument, SetConfigsDocument, type BatchInput, type ExportedEntry } from '../operations.js';
import { compact, progressBar, waitingIndicator, type Waiting } from '../output.js';

/** A key's settings besides its value, as an export records them. */
export interface KeySettings {
  description: string | null;
  secret: boolean;
  schema: unknown;
}

/**
 * A config file: YAML or JSON, either the export format
 * `{ namespace?, revision?, configs: { key: value }, settings?: { key: { description?, secret?, schema? } } }`
 * or a flat `{ key: value }` map. With a `settings` section, every key's description and schema
 * are the file's (absent = none) and `secret: true` makes it secret; without one, an import
 * leaves the keys' settings as they are.
 */
export interface ConfigFile {
  namespace: string | null;
  configs: Map<string, unknown>;
  /** Null when the file has no `settings` section (a flat map, or an export from before 0.1). */
  settings: Map<string, KeySettings> | null;
}

function settingsOf(path: string, raw: unknown, keys: Iterable<string>): Map<string, KeySettings> {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw usage(`${path}: settings must map keys to { description, secret, schema }`);
  const record = raw as Record<string, unknown>;
  const settings = new Map<string, KeySettings>();
  for (const key of keys) {
    const one = (record[key] ?? {}) as Record<string, unknown>;
    if (typeof one !== 'object' || one === null || Array.isArray(one)) throw usage(`${path}: settings of ${key} must be a mapping`);
    const { description = null, secret = false, schema = null } = one;
    if (description !== null && typeof description !== 'string') throw usage(`${path}: settings.${key}.description must be a string`);
    if (typeof secret !== 'boolean') throw usage(`${path}: settings.${key}.secret must be true or false`);
    settings.set(key, { description, secret, schema });
  }
  return settings;
}

/** What the file says a key's settings are, in the form the gateway answers (for the diff). */
const sameSettings = (entry: ExportedEntry, settings: KeySettings | undefined): boolean =>
  settings === undefined ||
  ((entry.description ?? null) === settings.description && isDeepStrictEqual(entry.schema ?? null, settings.schema ?? null) && (entry.secret || !settings.secret));

export function readConfigFile(path: string): ConfigFile {
  let text: string;
  try {
    text = path === '-' ? readFileSync(0, 'utf8') : readFileSync(path, 'utf8');
  } catch (error) {
    throw usage(`cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  let parsed: unknown;
  try {
    // YAML is a superset of JSON, but JSON.parse is much faster on a large JSON export.
    parsed = extname(path).toLowerCase() === '.json' || /^\s*[{[]/.test(text) ? JSON.parse(text) : parseYaml(text, { maxAliasCount: 100 });
  } catch (error) {
    throw usage(`${path} is not valid ${extname(path).toLowerCase() === '.json' ? 'JSON' : 'YAML or JSON'}: ${(error as Error).message.split('\n')[0]}`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw usage(`${path} must hold a mapping of keys to values (or { configs: { key: value } })`);
  }
  const record = parsed as Record<string, unknown>;
  const exportForm = 'configs' in record && typeof record.configs === 'object' && record.configs !== null && !Array.isArray(record.configs);
  const body = (exportForm ? record.configs : record) as Record<string, unknown>;
  const namespace = exportForm && typeof record.namespace === 'string' ? record.namespace : null;
  const configs = new Map<string, unknown>();
  for (const [key, value] of Object.entries(body)) {
    if (value === null || value === undefined) throw usage(`${path}: ${key} has no value (null is not a config value)`);
    configs.set(key, value);
  }
  const settings = exportForm && record.settings !== undefined ? settingsOf(path, record.settings, configs.keys()) : null;
  return { namespace, configs, settings };
}

export interface FileDiff {
  namespace: string;
  /** The gateway's revision the diff was computed against. */
  revision: number;
  added: Array<{ key: string; value: unknown }>;
  changed: Array<{ key: string; from: unknown; to: unknown; version: number; redacted: boolean }>;
  unchanged: number;
  /** Keys the gateway has and the file does not (import leaves them alone). */
  onlyInGateway: string[];
}

function namespaceFor(context: CommandContext, file: ConfigFile): string {
  const explicit = stringOption(context.values, 'namespace');
  if (explicit) return explicit;
  if (file.namespace) return file.namespace;
  return context.namespace();
}

export async function diffFile(context: CommandContext, file: ConfigFile, namespace: string): Promise<FileDiff> {
  const { configs } = await context.client().request(ExportDocument, { namespace, prefix: null });
  const current = new Map(configs.entries.map((e) => [e.key, e]));
  const diff: FileDiff = { namespace, revision: configs.revision, added: [], changed: [], unchanged: 0, onlyInGateway: [] };
  for (const [key, value] of file.configs) {
    const entry = current.get(key);
    if (!entry) diff.added.push({ key, value });
    // A redacted secret cannot be compared: it counts as changed so an import rewrites it.
    else if (entry.redacted || !isDeepStrictEqual(entry.value, value) || !sameSettings(entry, file.settings?.get(key))) {
      diff.changed.push({ key, from: entry.redacted ? null : entry.value, to: value, version: entry.version, redacted: entry.redacted });
    } else diff.unchanged += 1;
  }
  for (const key of current.keys()) if (!file.configs.has(key)) diff.onlyInGateway.push(key);
  diff.added.sort((a, b) => (a.key < b.key ? -1 : 1));
  diff.changed.sort((a, b) => (a.key < b.key ? -1 : 1));
  diff.onlyInGateway.sort();
  return diff;
}

/** Human diff: at most `limit` lines per section so a 5,000-key import stays readable. */
function printDiff(context: CommandContext, diff: FileDiff, limit = 50): void {
  const out: string[] = [];
  for (const { key, value } of diff.added.slice(0, limit)) out.push(`+ ${key} = ${compact(value)}`);
  if (diff.added.length > limit) out.push(`+ … and ${diff.added.length - limit} more new keys`);
  for (const c of diff.changed.slice(0, limit)) out.push(`~ ${c.key}: ${c.redacted ? '[redacted]' : compact(c.from, 40)} → ${compact(c.to, 40)}  (version ${c.version})`);
  if (diff.changed.length > limit) out.push(`~ … and ${diff.changed.length - limit} more changed keys`);
  if (out.length > 0) context.output.out(`${out.join('\n')}\n`);
  context.output.out(
    `${diff.namespace} at revision ${diff.revision}: ${diff.added.length} to add, ${diff.changed.length} to change, ${diff.unchanged} unchanged` +
      (diff.onlyInGateway.length ? `, ${diff.onlyInGateway.length} only in the gateway (left alone)` : '') +
      '\n',
  );
}

export const diff: Command = {
  name: 'diff',
  summary: 'compare a YAML/JSON file with the gateway (exit 7 when they differ)',
  usage: 'diff FILE\n  exit code 0 when the gateway already holds every value in FILE, 7 when not',
  async run(context) {
    const path = requireArg(context, 0, 'FILE');
    const file = readConfigFile(path);
    const result = await diffFile(context, file, namespaceFor(context, file));
    if (context.json) printJson(context, result);
    else printDiff(context, result);
    return result.added.length + result.changed.length > 0 ? EXIT.DIFFERENT : EXIT.OK;
  },
};

export const exportCommand: Command = {
  name: 'export',
  summary: 'write the namespace (or a prefix) as YAML or JSON',
  usage:
    'export [PREFIX] [--format yaml|json] [--output FILE]\n' +
    '  every key with its settings (description, secret flag, JSON Schema), so import restores them;\n' +
    '  secret values the token may not read are left out (and listed on stderr)',
  options: { format: { type: 'string' }, output: { type: 'string', short: 'o' } },
  async run(context) {
    const namespace = context.namespace();
    const outputPath = stringOption(context.values, 'output');
    const format = stringOption(context.values, 'format') ?? (context.json || outputPath?.endsWith('.json') ? 'json' : 'yaml');
    if (format !== 'yaml' && format !== 'json') throw usage('--format must be yaml or json');
    const { configs } = await context.client().request(ExportDocument, { namespace, prefix: context.args[0] ?? null });
    const body: Record<string, unknown> = {};
    const settings: Record<string, Partial<KeySettings>> = {};
    const skipped: string[] = [];
    for (const entry of [...configs.entries].sort((a, b) => (a.key < b.key ? -1 : 1))) {
      // A secret value travels only to a caller allowed to read it.
      if (entry.redacted) {
        skipped.push(entry.key);
        continue;
      }
      body[entry.key] = entry.value;
      const kept: Partial<KeySettings> = {};
      if (entry.description !== null) kept.description = entry.description;
      if (entry.secret) kept.secret = true;
      if (entry.schema !== null && entry.schema !== undefined) kept.schema = entry.schema;
      if (Object.keys(kept).length > 0) settings[entry.key] = kept;
    }
    const document = { namespace, revision: configs.revision, configs: body, settings };
    const text = format === 'json' ? `${JSON.stringify(document, null, 2)}\n` : stringifyYaml(document, { lineWidth: 0 });
    if (outputPath) writeFileSync(outputPath, text);
    else context.output.out(text);
    if (skipped.length) context.output.err(`left out ${skipped.length} redacted secret(s): ${skipped.join(', ')}\n`);
    if (outputPath) context.output.err(`exported ${Object.keys(body).length} keys of ${namespace} at revision ${configs.revision} to ${outputPath}\n`);
    return EXIT.OK;
  },
};

/** Imports at or above this many changes show a progress bar. */
const PROGRESS_THRESHOLD = 500;

export const importCommand: Command = {
  name: 'import',
  summary: 'apply a YAML/JSON file as one atomic batch (shows the diff first)',
  usage:
    'import FILE [--yes] [--dry-run] [--reason R]\n' +
    '  shows the diff, asks for confirmation (or --yes), then writes every added and changed key in\n' +
    '  one setConfigs batch: one revision, all or nothing. Keys changed by someone else since the\n' +
    '  diff make the whole import fail with exit 3. --dry-run exits 7 when there is something to apply.',
  options: { yes: { type: 'boolean', short: 'y' }, 'dry-run': { type: 'boolean' }, reason: { type: 'string' } },
  async run(context) {
    const path = requireArg(context, 0, 'FILE');
    const { output } = context;
    const file = readConfigFile(path);
    const namespace = namespaceFor(context, file);
    const plan = await diffFile(context, file, namespace);
    const pending = plan.added.length + plan.changed.length;
    if (context.json && (context.values['dry-run'] || pending === 0)) printJson(context, { ...plan, applied: false });
    else if (!context.json) printDiff(context, plan);
    if (pending === 0) {
      output.err('nothing to import\n');
      return EXIT.OK;
    }
    if (context.values['dry-run']) return EXIT.DIFFERENT;
    if (!context.values.yes) {
      if (!output.stdinIsTTY) throw usage('not applied: pass --yes to import without a confirmation prompt');
      const answer = await context.prompt(`Apply ${pending} change(s) to ${namespace} as one revision? [y/N] `);
      if (!/^y(es)?$/i.test(answer.trim())) {
        output.err('not applied\n');
        return EXIT.DIFFERENT;
      }
    }
    // Each key carries the version the diff saw: a concurrent change fails the whole batch
    // instead of being silently overwritten.
    // With a settings section the file says what each key's description and schema are; it may
    // make a key secret, never make one readable (secret is sent only as true).
    const withSettings = (key: string): Partial<BatchInput> => {
      const settings = file.settings?.get(key);
      if (!settings) return {};
      return { description: settings.description, schema: settings.schema ?? null, ...(settings.secret ? { secret: true } : {}) };
    };
    const inputs: BatchInput[] = [
      ...plan.added.map(({ key, value }) => ({ key, value, expectedVersion: 0, ...withSettings(key) })),
      ...plan.changed.map(({ key, to, version }) => ({ key, value: to, expectedVersion: version, ...withSettings(key) })),
    ];
    // Two phases, each shown for what it is: the upload (bytes on the socket, a real bar), then
    // the commit, one transaction on the gateway that reports no progress of its own: say so,
    // and show that it is still waiting, rather than a bar that sits at 100 %.
    const large = pending >= PROGRESS_THRESHOLD;
    const bar = large ? progressBar(output, 'uploading', 100, '%') : null;
    const phase: { committing: Waiting | null } = { committing: null };
    let result;
    try {
      result = await context.client().request(
        SetConfigsDocument,
        { namespace, inputs, reason: stringOption(context.values, 'reason') ?? `hotconf import ${path}` },
        {
          timeoutMs: 120_000, // 2 min: a large batch is one long transaction
          onUploadProgress: large
            ? (sent, total) => {
                bar?.update(Math.floor((sent / total) * 100));
                if (sent === total && !phase.committing) {
                  bar?.done();
                  phase.committing = waitingIndicator(output, `committing ${pending} changes as one transaction (all or nothing); waiting for the gateway`);
                }
              }
            : undefined,
        },
      );
    } catch (error) {
      phase.committing?.done('not committed: {elapsed}');
      if (error instanceof CliError && error.code === 'BAD_USER_INPUT' && /batch holds at most/i.test(error.message)) {
        // One revision is the point of import: never split it behind the user's back.
        throw new CliError(
          `${error.message}: nothing was imported. Raise HOTCONF_MAX_BATCH_SIZE on the gateways, or split the file (each part is then its own revision)`,
          error.exitCode,
          error.code,
        );
      }
      if (error instanceof CliError && error.code === 'VERSION_CONFLICT') {
        throw new CliError(`${error.message}: the namespace changed since the diff; nothing was imported, run the import again`, EXIT.CONFLICT, error.code);
      }
      throw error;
    }
    phase.committing?.done('committed in {elapsed}');
    const revision = result.setConfigs[0]?.revision ?? plan.revision;
    if (context.json) printJson(context, { ...plan, applied: true, appliedRevision: revision, keys: result.setConfigs.length });
    else output.out(`imported ${result.setConfigs.length} key(s) into ${namespace} at revision ${revision}\n`);
    return EXIT.OK;
  },
};
