import { GatewayError } from '../../errors.js';
import { evaluateFlag, isFlagValue } from '../../shared/flags.js';
import type { QueryResolvers } from '../generated/resolvers.js';

export const Query: QueryResolvers = {
  async config(_root, { namespace, key }, { guard, store, validate }) {
    validate.namespace(namespace);
    guard.read(namespace);
    validate.key(key);
    return store.get(namespace, key);
  },

  async configs(_root, { namespace, prefix }, { guard, store, validate }) {
    validate.namespace(namespace);
    guard.read(namespace);
    if (prefix) validate.prefix(prefix);
    return store.snapshot(namespace, prefix);
  },

  async configChanges(_root, { namespace, sinceRevision, prefix, limit }, { guard, store, validate }) {
    validate.namespace(namespace);
    guard.read(namespace);
    if (prefix) validate.prefix(prefix);
    validate.revision(sinceRevision);
    const pageLimit = limit ?? 1000;
    validate.changesLimit(pageLimit);
    return store.changes(namespace, sinceRevision, { prefix, limit: pageLimit });
  },

  async configDrift(_root, { namespace, known, prefix }, { guard, store, validate }) {
    validate.namespace(namespace);
    guard.read(namespace);
    if (prefix) validate.prefix(prefix);
    const snapshot = await store.snapshot(namespace, prefix);
    const knownVersions = new Map<string, number>();
    for (const { key, version } of known) knownVersions.set(key, version);
    const live = new Set(snapshot.entries.map((entry) => entry.key));
    return {
      namespace,
      revision: snapshot.revision,
      changed: snapshot.entries.filter((entry) => knownVersions.get(entry.key) !== entry.version),
      // Keys outside the prefix are not this query's business: neither changed nor deleted.
      deleted: [...knownVersions.keys()].filter((key) => !live.has(key) && (!prefix || key.startsWith(prefix))).sort(),
    };
  },

  async namespaces(_root, _args, { guard, store }) {
    // Even on an empty store an anonymous caller must hear UNAUTHENTICATED, not an empty list.
    guard.authenticated();
    return (await store.namespaces()).filter((namespace) => guard.canSee(namespace.name));
  },

  async evaluateFlag(_root, { namespace, key, userId }, { guard, store, validate }) {
    validate.namespace(namespace);
    guard.read(namespace);
    validate.key(key);
    const entry = await store.get(namespace, key);
    if (!entry) throw new GatewayError('NOT_FOUND', `flag "${key}" does not exist in namespace "${namespace}"`, { key });
    // An evaluation is read from the value (a few user ids give away the rollout): a secret flag
    // is evaluated only for callers who may read its value, as OFREP and the SDK (which gets null) do.
    if (entry.secret && !guard.canReadSecrets()) {
      throw new GatewayError('FORBIDDEN', `"${key}" is secret: evaluating it needs the secrets claim (or admin)`, { key });
    }
    if (!isFlagValue(entry.value)) {
      throw new GatewayError('BAD_USER_INPUT', `"${key}" is not a flag (a flag's value is { enabled, rolloutPercentage })`, { key });
    }
    const result = evaluateFlag(key, entry.value, userId);
    return { key, userId, enabled: result.enabled, bucket: result.bucket, version: entry.version, reason: result.reason };
  },

  async restorePlan(_root, { namespace, toRevision, prefix }, { guard, service, validate }) {
    validate.namespace(namespace);
    // A plan shows past values, like history: readers may see it, secrets redacted as anywhere.
    guard.read(namespace);
    return service.restorePlan(namespace, { toRevision, prefix });
  },

  async convergence(_root, { namespace }, { guard, convergence, validate }) {
    validate.namespace(namespace);
    guard.read(namespace);
    return convergence.get(namespace);
  },
};
