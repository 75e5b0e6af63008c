import { readFileSync } from 'node:fs';
import { distance } from 'fastest-levenshtein';
import { parse as parseYaml } from 'yaml';
import { intOption, notFound, printJson, requireArg, stringOption, type Command, type CommandContext } from '../context.js';
import { CliError, EXIT, usage } from '../exit-codes.js';
import {
  ChangesDocument,
  ConfigsDocument,
  DeleteConfigDocument,
  EntryDocument,
  HistoryDocument,
  KeysDocument,
  NamespacesDocument,
  RollbackConfigDocument,
  SetConfigDocument,
  type ChangeResult,
} from '../operations.js';
import { compact, fields, table, when } from '../output.js';

/** A command-line value: JSON when it parses as JSON, else the string itself. */
export function parseValue(raw: string, { forceString = false } = {}): unknown {
  if (forceString) return raw;
  try {
    return JSON.parse(raw) as unknown;
  } catch {
    return raw;
  }
}

const show = (value: unknown, redacted: boolean) => (redacted ? '[redacted]' : compact(value));

const indent = (text: string, by: number) => text.replace(/\n/g, `\n${' '.repeat(by)}`);

export const get: Command = {
  name: 'get',
  summary: 'show one key (value, version, revision, who changed it, its JSON Schema)',
  usage: 'get KEY [--raw]\n  --raw   print only the value as JSON',
  options: { raw: { type: 'boolean' } },
  async run(context) {
    const key = requireArg(context, 0, 'KEY');
    const namespace = context.namespace();
    const { config } = await context.client().request(EntryDocument, { namespace, key });
    if (!config) throw notFound(`${namespace}/${key} does not exist`);
    if (context.json) printJson(context, { namespace, ...config });
    else if (context.values.raw) context.output.out(`${JSON.stringify(config.value)}\n`);
    else {
      const width = 'description'.length + 2;
      context.output.out(
        fields([
          ['key', config.key],
          ['value', config.redacted ? '[redacted: needs the secrets claim]' : indent(JSON.stringify(config.value, null, 2), width)],
          ['version', String(config.version)],
          ['revision', String(config.revision)],
          ['updated', `${when(config.updatedAt)}${config.updatedBy ? ` by ${config.updatedBy}` : ''}`],
          ['description', config.description ?? ''],
          ['secret', config.secret ? 'yes' : 'no'],
          ['schema', config.schema === null || config.schema === undefined ? 'none' : indent(JSON.stringify(config.schema, null, 2), width)],
        ]),
      );
    }
    return EXIT.OK;
  },
};

/** Reads a JSON Schema from a JSON or YAML file (`-` = stdin). */
export function readSchemaFile(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path === '-' ? 0 : path, 'utf8');
  } catch (error) {
    throw usage(`cannot read the schema file ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  let schema: unknown;
  try {
    // YAML is a superset of JSON: one parser reads both.
    schema = parseYaml(text, { maxAliasCount: 100 });
  } catch (error) {
    throw usage(`${path} is not a JSON or YAML document: ${(error as Error).message.split('\n')[0]}`);
  }
  if (typeof schema !== 'boolean' && (typeof schema !== 'object' || schema === null || Array.isArray(schema))) {
    throw usage(`${path} must hold a JSON Schema (an object)`);
  }
  return schema;
}

/** The existing key closest to `key` by edit distance, if one is close enough to be a typo. */
export function nearestKey(key: string, keys: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of keys) {
    const d = distance(key, candidate);
    if (d < bestDistance) [best, bestDistance] = [candidate, d];
  }
  // A third of the key's length: `ai.threshld` → `ai.threshold`, but not `db.url` → `ai.mode`.
  return bestDistance <= Math.max(2, Math.floor(key.length / 3)) ? best : undefined;
}

/** Refuses to create `key` by accident: a typo must not become a new key nobody reads. */
async function assertExistsOrCreate(context: CommandContext, namespace: string, key: string): Promise<void> {
  const client = context.client();
  const { config } = await client.request(EntryDocument, { namespace, key });
  if (config) return;
  const { configs } = await client.request(KeysDocument, { namespace });
  const nearest = nearestKey(key, configs.entries.map((e) => e.key));
  throw new CliError(
    `${namespace}/${key} does not exist${nearest ? ` (did you mean ${nearest}?)` : ''}; nothing was written. Pass --create to create a new key`,
    EXIT.NOT_FOUND,
    'NOT_FOUND',
  );
}

export const set: Command = {
  name: 'set',
  summary: 'set a key (value as JSON when it parses, else a string; - reads stdin)',
  usage:
    'set KEY VALUE [--create] [--expect-version N] [--reason R] [--description D] [--secret] [--schema FILE] [--string]\n' +
    '  --create             the key may be new (without it, a key that does not exist is refused with exit 2\n' +
    '                       and the nearest existing key is suggested: a typo never creates a key)\n' +
    '  --expect-version N   compare-and-set: fail with exit 3 unless the key is at version N (0 = must not exist)\n' +
    '  --schema FILE        JSON Schema (JSON or YAML file) that this and every later value must satisfy\n' +
    '  --string             store VALUE as a string even when it parses as JSON\n' +
    '  VALUE may start with "-": negative numbers work as they are (set k -1); other values go after --',
  options: {
    'expect-version': { type: 'string' },
    reason: { type: 'string' },
    description: { type: 'string' },
    secret: { type: 'boolean' },
    'no-secret': { type: 'boolean' },
    string: { type: 'boolean' },
    schema: { type: 'string' },
    create: { type: 'boolean' },
  },
  async run(context) {
    const key = requireArg(context, 0, 'KEY');
    const raw = context.args[1];
    if (raw === undefined) throw usage('missing VALUE');
    const text = raw === '-' ? readFileSync(0, 'utf8').replace(/\n$/, '') : raw;
    const value = parseValue(text, { forceString: context.values.string === true });
    if (value === null) throw usage('null is not a config value: delete the key instead');
    const schemaPath = stringOption(context.values, 'schema');
    const schema = schemaPath === undefined ? undefined : readSchemaFile(schemaPath);
    const expectedVersion = intOption(context.values, 'expect-version');
    const namespace = context.namespace();
    // An expected version says what the caller knows (0: new, N: exists); otherwise the key must exist.
    if (context.values.create !== true && expectedVersion === undefined) await assertExistsOrCreate(context, namespace, key);
    const { setConfig } = await context.client().request(SetConfigDocument, {
      input: {
        namespace,
        key,
        value,
        expectedVersion,
        reason: stringOption(context.values, 'reason'),
        description: stringOption(context.values, 'description'),
        secret: context.values.secret ? true : context.values['no-secret'] ? false : undefined,
        schema,
      },
    });
    if (context.json) printJson(context, { namespace, ...setConfig });
    else context.output.out(`${namespace}/${key} = ${show(setConfig.value, setConfig.redacted)}  (version ${setConfig.version}, revision ${setConfig.revision})\n`);
    return EXIT.OK;
  },
};

export const ls: Command = {
  name: 'ls',
  summary: 'list keys (optionally under a prefix) with version, revision and value',
  usage: 'ls [PREFIX]',
  async run(context) {
    const namespace = context.namespace();
    const prefix = context.args[0] ?? null;
    const { configs } = await context.client().request(ConfigsDocument, { namespace, prefix });
    if (context.json) {
      printJson(context, configs);
      return EXIT.OK;
    }
    const entries = [...configs.entries].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    context.output.out(
      table(
        ['KEY', 'VERSION', 'REVISION', 'VALUE'],
        entries.map((e) => [e.key, String(e.version), String(e.revision), show(e.value, e.redacted)]),
      ),
    );
    context.output.err(`${entries.length} key${entries.length === 1 ? '' : 's'} in ${namespace} at revision ${configs.revision}\n`);
    return EXIT.OK;
  },
};

export const namespaces: Command = {
  name: 'namespaces',
  summary: 'list namespaces with their revision and number of keys',
  usage: 'namespaces',
  async run(context) {
    const { namespaces: list } = await context.client().request(NamespacesDocument, {});
    if (context.json) printJson(context, list);
    else context.output.out(table(['NAMESPACE', 'REVISION', 'KEYS'], list.map((n) => [n.name, String(n.revision), String(n.entryCount)])));
    return EXIT.OK;
  },
};

/** History of a key that no longer exists: its changes from the namespace's change log. */
async function historyOfDeleted(context: CommandContext, namespace: string, key: string, limit: number): Promise<ChangeResult[]> {
  const found: ChangeResult[] = [];
  let since = 0;
  // Bounded: 200 pages of 1000 revisions is far beyond any retained history worth paging here.
  for (let page = 0; page < 200; page++) {
    const { configChanges } = await context.client().request(ChangesDocument, { namespace, sinceRevision: since, prefix: key, limit: 1000 });
    found.push(...configChanges.changes.filter((c) => c.key === key));
    if (!configChanges.hasMore || configChanges.changes.length === 0) break;
    since = configChanges.changes[configChanges.changes.length - 1]!.revision;
  }
  return found.reverse().slice(0, limit);
}

export const history: Command = {
  name: 'history',
  summary: 'who changed a key, when and why (newest first)',
  usage: 'history KEY [--limit N]',
  options: { limit: { type: 'string' } },
  async run(context) {
    const key = requireArg(context, 0, 'KEY');
    const namespace = context.namespace();
    const limit = intOption(context.values, 'limit', 1) ?? 20;
    const { config } = await context.client().request(HistoryDocument, { namespace, key, limit });
    const changes = config ? config.history : await historyOfDeleted(context, namespace, key, limit);
    if (changes.length === 0) throw notFound(`${namespace}/${key} has no history`);
    if (context.json) printJson(context, changes);
    else
      context.output.out(
        table(
          ['VERSION', 'OP', 'REVISION', 'CHANGED', 'BY', 'REASON', 'VALUE'],
          changes.map((c) => [String(c.version), c.op, String(c.revision), when(c.changedAt), c.changedBy ?? '', c.reason ?? '', c.op === 'DELETE' ? '' : show(c.value, c.redacted)]),
        ),
      );
    return EXIT.OK;
  },
};

export const rollback: Command = {
  name: 'rollback',
  summary: 'write a new version carrying the value of an earlier one',
  usage: 'rollback KEY --to VERSION [--expect-version N] [--reason R]',
  options: { to: { type: 'string' }, 'expect-version': { type: 'string' }, reason: { type: 'string' } },
  async run(context) {
    const key = requireArg(context, 0, 'KEY');
    const toVersion = intOption(context.values, 'to', 1);
    if (toVersion === undefined) throw usage('missing --to VERSION');
    const namespace = context.namespace();
    const { rollbackConfig } = await context.client().request(RollbackConfigDocument, {
      namespace,
      key,
      toVersion,
      expectedVersion: intOption(context.values, 'expect-version'),
      reason: stringOption(context.values, 'reason'),
    });
    if (context.json) printJson(context, { namespace, ...rollbackConfig });
    else
      context.output.out(
        `${namespace}/${key} rolled back to the value of version ${toVersion}: ${show(rollbackConfig.value, rollbackConfig.redacted)}  (now version ${rollbackConfig.version}, revision ${rollbackConfig.revision})\n`,
      );
    return EXIT.OK;
  },
};

export const del: Command = {
  name: 'delete',
  summary: 'delete a key (a new version; history is kept)',
  usage: 'delete KEY [--expect-version N] [--reason R]',
  options: { 'expect-version': { type: 'string' }, reason: { type: 'string' } },
  async run(context) {
    const key = requireArg(context, 0, 'KEY');
    const namespace = context.namespace();
    const { deleteConfig } = await context.client().request(DeleteConfigDocument, {
      namespace,
      key,
      expectedVersion: intOption(context.values, 'expect-version'),
      reason: stringOption(context.values, 'reason'),
    });
    if (context.json) printJson(context, deleteConfig);
    else context.output.out(`${namespace}/${key} deleted  (version ${deleteConfig.version}, revision ${deleteConfig.revision})\n`);
    return EXIT.OK;
  },
};
