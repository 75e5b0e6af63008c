import { intOption, printJson, stringOption, type Command } from '../context.js';
import { CliError, EXIT, usage } from '../exit-codes.js';
import { RestoreConfigsDocument, RestorePlanDocument, type ExportedEntry, type RestoreChangeResult } from '../operations.js';
import { compact, waitingIndicator } from '../output.js';

const shown = (entry: ExportedEntry | null): string => {
  if (!entry) return '(absent)';
  const value = entry.redacted ? '[redacted]' : compact(entry.value, 40);
  const flags = [entry.secret ? 'secret' : null, entry.schema !== null && entry.schema !== undefined ? 'schema' : null].filter(Boolean);
  return flags.length ? `${value} (${flags.join(', ')})` : value;
};

function describeChange(change: RestoreChangeResult): string {
  if (change.op === 'DELETE') return `- ${change.key}: ${shown(change.current)} → deleted`;
  if (!change.current) return `+ ${change.key}: ${shown(change.restored)}  (back from deleted)`;
  return `~ ${change.key}: ${shown(change.current)} → ${shown(change.restored)}`;
}

/**
 * `hotconf restore --to-revision N [PREFIX]`: the namespace (or the keys under PREFIX) as it was
 * at revision N, in one new revision. Like `import`, it shows what will change and asks first; the
 * restore is applied only if the namespace is still at the revision the diff was made at.
 */
export const restore: Command = {
  name: 'restore',
  summary: 'bring a namespace (or a prefix) back to how it was at a revision, as one new revision',
  usage:
    'restore --to-revision N [PREFIX] [--yes] [--dry-run] [--reason R]\n' +
    '  shows what changes (values, settings, keys created since that will be deleted), asks for\n' +
    '  confirmation (or --yes), then writes it all as one revision. It is applied only if nobody\n' +
    '  changed the namespace since the diff (else exit 3: run it again). --dry-run exits 7 when\n' +
    '  something would change. Undoes a bad import or a kill switch in one step.',
  options: {
    'to-revision': { type: 'string' },
    yes: { type: 'boolean', short: 'y' },
    'dry-run': { type: 'boolean' },
    reason: { type: 'string' },
  },
  async run(context) {
    const { output } = context;
    const toRevision = intOption(context.values, 'to-revision', 0);
    if (toRevision === undefined) throw usage('missing --to-revision N (the revision to go back to; `hotconf history KEY` shows them)');
    const namespace = context.namespace();
    const prefix = context.args[0] ?? null;
    const { restorePlan: plan } = await context.client().request(RestorePlanDocument, { namespace, toRevision, prefix });
    const scope = prefix ? `${namespace} (keys under ${prefix})` : namespace;
    if (context.json && (context.values['dry-run'] || plan.changes.length === 0)) printJson(context, { ...plan, applied: false });
    else if (!context.json) {
      const lines = plan.changes.map(describeChange);
      if (lines.length) output.out(`${lines.join('\n')}\n`);
      output.out(`${scope} at revision ${plan.revision}: ${plan.changes.length} key(s) to restore to revision ${toRevision}\n`);
    }
    if (plan.changes.length === 0) {
      output.err(`nothing to restore: ${scope} already is as it was at revision ${toRevision}\n`);
      return EXIT.OK;
    }
    if (context.values['dry-run']) return EXIT.DIFFERENT;
    if (!context.values.yes) {
      if (!output.stdinIsTTY) throw usage('not restored: pass --yes to restore without a confirmation prompt');
      const answer = await context.prompt(`Restore ${plan.changes.length} key(s) of ${scope} to revision ${toRevision}, as one new revision? [y/N] `);
      if (!/^y(es)?$/i.test(answer.trim())) {
        output.err('not restored\n');
        return EXIT.DIFFERENT;
      }
    }
    const waiting = waitingIndicator(output, `restoring ${plan.changes.length} key(s) as one transaction (all or nothing)`);
    let result;
    try {
      result = await context.client().request(
        RestoreConfigsDocument,
        {
          namespace,
          toRevision,
          prefix,
          expectedRevision: plan.revision,
          reason: stringOption(context.values, 'reason') ?? `hotconf restore --to-revision ${toRevision}${prefix ? ` ${prefix}` : ''}`,
        },
        { timeoutMs: 120_000 }, // 2 min: a restore of many keys is one long transaction
      );
    } catch (error) {
      waiting.done('not restored: {elapsed}');
      if (error instanceof CliError && error.code === 'VERSION_CONFLICT') {
        throw new CliError(`${error.message}: the namespace changed since the diff; nothing was restored, run the restore again`, EXIT.CONFLICT, error.code);
      }
      throw error;
    }
    waiting.done('restored in {elapsed}');
    if (context.json) printJson(context, { ...plan, applied: true, appliedRevision: result.restoreConfigs.revision });
    else output.out(`restored ${plan.changes.length} key(s) of ${scope} to revision ${toRevision}: now at revision ${result.restoreConfigs.revision}\n`);
    return EXIT.OK;
  },
};
