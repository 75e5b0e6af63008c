import { GatewayError } from '../errors.js';
import { assertValidSchema, assertValueMatches } from './json-schema.js';
import { isFlagLike, validateFlagValue } from '../shared/flags.js';
import { SecretUnreadableError } from './secret-box.js';
import type { Change, Entry, JsonValue, WriteMeta, WriteOp, WriteOptions, WriteResult } from './types.js';
import type { Validator } from './validation.js';

/**
 * The domain's write rules, as pure functions over the rows a write touches: input checks (the
 * one place a write's input is validated), namespace compare-and-set, the reason rule, per-key
 * compare-and-set, tombstones (versions never reused), rollback and restore, the secret rules and
 * JSON Schema. The store reads the rows (`WriteState`), asks for a plan and applies it in SQL; it
 * decides nothing itself. No driver, no transport.
 */

/** A key's row as the write found it: live, or a tombstone (`deleted`). */
export interface CurrentEntry {
  key: string;
  version: number;
  deleted: boolean;
  description: string | null;
  secret: boolean;
  schema: JsonValue | null;
}

/** A history row a rollback asked for, with its value already decrypted (or unreadable). */
export interface RollbackTarget {
  key: string;
  version: number;
  op: 'SET' | 'DELETE';
  /** The row has a value (a SET that was not cleared); false for deletes. */
  hasValue: boolean;
  /** The plaintext value, or the `SecretUnreadableError` this gateway got decrypting it. */
  value: JsonValue | SecretUnreadableError | null;
  secret: boolean;
  description: string | null;
  schema: JsonValue | null;
}

/** What a write reads before it decides: the namespace head and the rows of its keys. */
export interface WriteState {
  /** The namespace's revision before this write (0 for a namespace never written). */
  revision: number;
  requireReason: boolean;
  current: ReadonlyMap<string, CurrentEntry>;
  /** By `targetKey(key, version)`. */
  targets: ReadonlyMap<string, RollbackTarget>;
}

export const targetKey = (key: string, version: number): string => `${key}\u0000${version}`;

/** One row the store writes (entry upsert and history insert alike). */
export interface PlannedRow {
  key: string;
  op: 'SET' | 'DELETE';
  version: number;
  /** The key's version as read, tombstones included (0 when absent): the plan holds only while it is unchanged. */
  baseVersion: number;
  /** Plaintext; the store encrypts it when `secret` (null for a delete). */
  value: JsonValue | null;
  deleted: boolean;
  description: string | null;
  secret: boolean;
  schema: JsonValue | null;
}

export interface WritePlan {
  namespace: string;
  /** `state.revision + 1`; the store renumbers when the namespace moved on under a plan it re-checked. */
  revision: number;
  rows: PlannedRow[];
  /** The answer, stamped with `changedAt` = `placeholderTime` until the commit gives its time. */
  result: WriteResult;
}

export interface WriteRules {
  validator: Validator;
  /** Extra domain check for every value written (set or rollback), after the schema check. */
  validateValue?: (value: JsonValue, key: string, namespace: string) => void;
}

/**
 * Checks a write's input: namespace, batch size, keys (each once), versions, values, texts and
 * schemas, the reason and actor, and that a value shaped like a flag is a valid flag. Reads
 * nothing; `planWrite` calls it first.
 */
export function checkWriteInput(validator: Validator, namespace: string, ops: readonly WriteOp[], meta: Pick<WriteMeta, 'actor' | 'reason'>): void {
  validator.namespace(namespace);
  validator.batchSize(ops.length);
  const seen = new Set<string>();
  ops.forEach((op, index) => {
    const at = (field: string) => (ops.length === 1 ? field : `inputs.${index}.${field}`);
    validator.key(op.key, at('key'));
    if (seen.has(op.key)) {
      throw new GatewayError('BAD_USER_INPUT', `Key ${op.key} appears more than once in one batch`, { field: at('key'), key: op.key });
    }
    seen.add(op.key);
    if (op.expectedVersion !== undefined && op.expectedVersion !== null) {
      validator.version(op.expectedVersion, { field: at('expectedVersion'), min: 0 });
    }
    if (op.kind === 'set') {
      validator.value(op.value, at('value'));
      if (typeof op.description === 'string') validator.text(op.description, at('description'));
      if (op.schema !== undefined && op.schema !== null) {
        validator.value(op.schema, at('schema'));
        assertValidSchema(op.schema, at('schema'));
      }
    } else if (op.kind === 'rollback') {
      validator.version(op.toVersion, { field: at('toVersion'), min: 1 });
    }
  });
  if (meta.reason !== null) validator.text(meta.reason, 'reason');
  if (meta.actor !== null) validator.text(meta.actor, 'actor');
  // A value shaped like a flag must be a valid flag: a typo in rolloutPercentage must not
  // silently turn a rollout off on every pod.
  for (const op of ops) {
    if (op.kind !== 'set' || !isFlagLike(op.value)) continue;
    const problems = validateFlagValue(op.value);
    if (problems.length > 0) {
      throw new GatewayError('VALIDATION_FAILED', `invalid flag "${op.key}": ${problems.join('; ')}`, { key: op.key, errors: problems });
    }
  }
}

/** Whether `meta.reason` satisfies a namespace that requires one. */
export const hasReason = (meta: Pick<WriteMeta, 'reason'>): boolean => Boolean(meta.reason?.trim());

/** The keys a write reads, and the history versions its rollbacks read. */
export function readsOf(ops: readonly WriteOp[]): { keys: string[]; targets: Array<{ key: string; version: number }> } {
  return {
    keys: ops.map((op) => op.key),
    targets: ops.flatMap((op) => (op.kind === 'rollback' ? [{ key: op.key, version: op.toVersion }] : [])),
  };
}

/**
 * Decides a write from the state it read: the rows to write and the answer, or the refusal
 * (VERSION_CONFLICT, BAD_USER_INPUT REASON_REQUIRED, NOT_FOUND, FORBIDDEN, VALIDATION_FAILED), in
 * that order of checks. `placeholderTime` stamps the answer until the commit's time is known.
 */
export function planWrite(
  rules: WriteRules,
  namespace: string,
  ops: readonly WriteOp[],
  meta: WriteMeta,
  options: WriteOptions,
  state: WriteState,
  placeholderTime: Date,
): WritePlan {
  const revision = state.revision + 1;
  const { expectedRevision } = options;
  if (expectedRevision !== undefined && expectedRevision !== null && expectedRevision !== state.revision) {
    throw new GatewayError(
      'VERSION_CONFLICT',
      `Revision conflict on namespace ${namespace}: expected revision ${expectedRevision}, current revision is ${state.revision}`,
      { currentRevision: state.revision, expectedRevision },
    );
  }
  if (state.requireReason && !hasReason(meta)) {
    throw new GatewayError('BAD_USER_INPUT', `REASON_REQUIRED: namespace ${namespace} requires a reason for every change`, {
      field: 'reason',
      rule: 'REASON_REQUIRED',
    });
  }
  // Unset: a trusted in-process caller (CLI tools, tests); the GraphQL layer always sets it.
  const mayRevealSecrets = meta.canReadSecrets;
  const rows: PlannedRow[] = [];
  const changes: Change[] = [];
  const written: Entry[] = [];

  ops.forEach((op, index) => {
    const row = state.current.get(op.key);
    const live = row !== undefined && !row.deleted;
    const currentVersion = live ? row.version : 0;
    if (op.expectedVersion !== undefined && op.expectedVersion !== null && op.expectedVersion !== currentVersion) {
      throw new GatewayError(
        'VERSION_CONFLICT',
        `Version conflict on ${op.key}: expected version ${op.expectedVersion}, current version is ${currentVersion}`,
        { key: op.key, currentVersion, expectedVersion: op.expectedVersion },
      );
    }
    // A re-create continues after the tombstone's version; versions are never reused.
    const baseVersion = row?.version ?? 0;
    const version = baseVersion + 1;
    let value: JsonValue | null;
    let description: string | null;
    let secret: boolean;
    let schema: JsonValue | null;
    if (op.kind === 'delete') {
      if (!live) throw new GatewayError('NOT_FOUND', `Config ${op.key} does not exist in namespace ${namespace}`, { key: op.key });
      value = null;
      description = row.description;
      secret = row.secret;
      schema = row.schema;
    } else {
      // A deleted key starts afresh: its old description, secret flag and schema are gone with it.
      const base = live ? row : null;
      description = base?.description ?? null;
      secret = base?.secret ?? false;
      schema = base?.schema ?? null;
      if (op.kind === 'set') {
        value = op.value;
        if (op.description !== undefined) description = op.description;
        if (op.secret !== undefined && op.secret !== null) {
          // The current value (and its history) would become readable by every reader.
          if (secret && !op.secret && !mayRevealSecrets) {
            throw new GatewayError('FORBIDDEN', `${op.key} is secret: clearing secret needs the secrets claim (or admin)`, {
              key: op.key,
              field: ops.length === 1 ? 'secret' : `inputs.${index}.secret`,
            });
          }
          secret = op.secret;
        }
        if (op.schema !== undefined) schema = op.schema;
      } else {
        const target = state.targets.get(targetKey(op.key, op.toVersion));
        if (!target || target.op !== 'SET' || !target.hasValue) {
          throw new GatewayError('NOT_FOUND', `Version ${op.toVersion} of ${op.key} is not in history (never written, a delete, or compacted)`, {
            key: op.key,
            toVersion: op.toVersion,
          });
        }
        if (target.secret && !mayRevealSecrets) {
          throw new GatewayError(
            'FORBIDDEN',
            `Version ${op.toVersion} of ${op.key} was written as a secret: rolling back to it needs the secrets claim (or admin)`,
            { key: op.key, toVersion: op.toVersion },
          );
        }
        if (target.value instanceof SecretUnreadableError) throw target.value;
        value = target.value;
        if (op.withSettings) {
          // A restore: the key as that version left it, settings included.
          if (secret && !target.secret && !mayRevealSecrets) {
            throw new GatewayError('FORBIDDEN', `${op.key} is secret: restoring it as not secret needs the secrets claim (or admin)`, {
              key: op.key,
              toVersion: op.toVersion,
            });
          }
          description = target.description;
          secret = target.secret;
          schema = target.schema;
        } else if (!live && row) {
          // Rolling back a deleted key brings it back with the settings it had then.
          description = row.description;
          secret = row.secret;
          schema = row.schema;
        }
        // A value written as secret stays secret, whatever the key's setting is now.
        secret ||= target.secret;
      }
      if (schema !== null) assertValueMatches(schema, value!, op.key, { secret });
      rules.validateValue?.(value!, op.key, namespace);
      written.push({
        namespace,
        key: op.key,
        value: value!,
        version,
        revision,
        updatedAt: placeholderTime,
        updatedBy: meta.actor,
        description,
        secret,
        schema,
      });
    }
    const kind = op.kind === 'delete' ? 'DELETE' : 'SET';
    changes.push({
      namespace,
      key: op.key,
      op: kind,
      version,
      revision,
      value,
      changedAt: placeholderTime,
      changedBy: meta.actor,
      reason: meta.reason,
      traceId: meta.traceId,
      secret,
      description,
      schema,
    });
    rows.push({ key: op.key, op: kind, version, baseVersion, value, deleted: op.kind === 'delete', description, secret, schema });
  });

  return { namespace, revision, rows, result: { namespace, revision, changes, entries: written } };
}

/** Gives a committed plan's answer the revision and time the database assigned. */
export function stampResult(result: WriteResult, revision: number, changedAt: Date): WriteResult {
  result.revision = revision;
  for (const change of result.changes) {
    change.revision = revision;
    change.changedAt = changedAt;
  }
  for (const entry of result.entries) {
    entry.revision = revision;
    entry.updatedAt = changedAt;
  }
  return result;
}
