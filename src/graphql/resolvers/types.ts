import { deliveredChange, entryAfter } from '../../core/types.js';
import type { ConfigChangePageResolvers, ConfigChangeResolvers, ConfigEntryResolvers, RestoredStateResolvers } from '../generated/resolvers.js';
import type { ChangeModel } from '../mappers.js';
import { chargeHistoryRows } from '../history-budget.js';

/** Secret values reach only admins and callers with the `secrets` claim. */
export const ConfigEntry: ConfigEntryResolvers = {
  id: (entry) => `${entry.namespace}/${entry.key}`,
  value: (entry, _args, { guard }) => (entry.secret && !guard.canReadSecrets() ? null : entry.value),
  redacted: (entry, _args, { guard }) => entry.secret && !guard.canReadSecrets(),
  async history(entry, { limit, beforeVersion }, context, info) {
    const { store, validate } = context;
    if (beforeVersion !== null && beforeVersion !== undefined) validate.version(beforeVersion, { field: 'beforeVersion', min: 1 });
    const pageLimit = limit ?? 20;
    validate.historyLimit(pageLimit);
    // A list nested in lists multiplies reads: the operation's lists share one budget.
    chargeHistoryRows(context, info.rootValue, pageLimit);
    return store.history(entry.namespace, entry.key, { limit: pageLimit, beforeVersion });
  },
};

/** A restore's preview of a key's old state: redacted exactly as a ConfigEntry is. */
export const RestoredState: RestoredStateResolvers = {
  value: (entry, _args, { guard }) => (entry.secret && !guard.canReadSecrets() ? null : entry.value),
  redacted: (entry, _args, { guard }) => entry.secret && !guard.canReadSecrets(),
};

export const ConfigChange: ConfigChangeResolvers = {
  id: (change) => `${change.namespace}/${change.key}@${change.version}`,
  value: (change, _args, { guard }) => (change.secret && !guard.canReadSecrets() ? null : change.value),
  redacted: (change, _args, { guard }) => change.op === 'SET' && change.secret && !guard.canReadSecrets(),
  replayed: (change) => change.replayed ?? false,
  // Unmarked changes are read alone (a deleteConfig result, one key's history: one change per
  // revision), so each is the whole of its revision for the reader.
  lastInRevision: (change) => change.lastInRevision ?? true,
  // The entry as this change left it: everything a ConfigEntry holds is on the change, so a
  // subscriber's cache update costs no read. Redaction applies through ConfigEntry.value.
  entry: (change) => (change.op === 'DELETE' ? null : entryAfter(change)),
};

/**
 * Changes a page returns are read from history: `replayed` is true for each. A page never splits
 * a revision, so a change is its revision's last when the next one in the page has another.
 */
export const ConfigChangePage: ConfigChangePageResolvers = {
  changes: (page) => {
    // A page is up to 10,000 changes: one literal of a fixed shape each, not an object spread
    // (measurably cheaper, and the executor then sees one hidden class).
    const { changes } = page;
    const marked = new Array<ChangeModel>(changes.length);
    for (let index = 0; index < changes.length; index++) {
      const change = changes[index]!;
      marked[index] = deliveredChange(change, true, changes[index + 1]?.revision !== change.revision);
    }
    return marked;
  },
};
