import { readFileSync } from 'node:fs';
import { intOption, notFound, printJson, requireArg, stringOption, type Command, type CommandContext } from '../context.js';
import { EXIT, usage } from '../exit-codes.js';
import {
  ChangesDocument,
  ConfigDocument,
  ConfigsDocument,
  DeleteConfigDocument,
  HistoryDocument,
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

export const get: Command = {
  name: 'get',
  summary: 'show one key (value, version, revision, who changed it)',
  usage: 'get KEY [--raw]\n  --raw   print only the value as JSON',
  options: { raw: { type: 'boolean' } },
  async run(context) {
    const key = requireArg(context, 0, 'KEY');
    const namespace = context.namespace();
    const { config } = await context.client().request(ConfigDocument, { namespace, key });
    if (!config) throw notFound(`${namespace}/${key} does not exist`);
    if (context.json) printJson(context, { namespace, ...config });
    else if (context.values.raw) context.output.out(`${JSON.stringify(config.value)}\n`);
    else {
      context.output.out(
        fields([
          ['key', config.key],
          ['value', config.redacted ? '[redacted: needs the secrets claim]' : JSON.stringify(config.value, null, 2).replace(/\n/g, '\n' + ' '.repeat(13))],
          ['version', String(config.version)],
          ['revision', String(config.revision)],
          ['updated', `${when(config.updatedAt)}${config.updatedBy ? ` by ${config.updatedBy}` : ''}`],
          ['description', config.description ?? ''],
          ['secret', config.secret ? 'yes' : 'no'],
        ]),
      );
    }
    return EXIT.OK;
  },
};

export const set: Command = {
  name: 'set',
  summary: 'set a key (value as JSON when it parses, else a string; - reads stdin)',
  usage:
    'set KEY VALUE [--expect-version N] [--reason R] [--description D] [--secret] [--string]\n' +
    '  --expect-version N   compare-and-set: fail with exit 3 unless the key is at version N (0 = must not exist)\n' +
    '  --string             store VALUE as a string even when it parses as JSON',
  options: {
    'expect-version': { type: 'string' },
    reason: { type: 'string' },
    description: { type: 'string' },
    secret: { type: 'boolean' },
    'no-secret': { type: 'boolean' },
    string: { type: 'boolean' },
  },
  async run(context) {
    const key = requireArg(context, 0, 'KEY');
    const raw = context.args[1];
    if (raw === undefined) throw usage('missing VALUE');
    const text = raw === '-' ? readFileSync(0, 'utf8').replace(/\n$/, '') : raw;
    const value = parseValue(text, { forceString: context.values.string === true });
    if (value === null) throw usage('null is not a config value: delete the key instead');
    const namespace = context.namespace();
    const { setConfig } = await context.client().request(SetConfigDocument, {
      input: {
        namespace,
        key,
        value,
        expectedVersion: intOption(context.values, 'expect-version'),
        reason: stringOption(context.values, 'reason'),
        description: stringOption(context.values, 'description'),
        secret: context.values.secret ? true : context.values['no-secret'] ? false : undefined,
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
