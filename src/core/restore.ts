import type { Change, Entry, JsonValue, NamespaceState, WriteOp } from './types.js';

/** JSON equality that ignores object key order (jsonb reorders keys; a secret's text does not). */
function sameJson(a: JsonValue | null, b: JsonValue | null): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((item, index) => sameJson(item, b[index]!));
  }
  const keys = Object.keys(a);
  if (keys.length !== Object.keys(b).length) return false;
  return keys.every((key) => Object.hasOwn(b, key) && sameJson(a[key]!, b[key]!));
}

/** Whether the key holds now what the change left it with: value and every setting. */
function unchangedSince(then: Change, now: Entry): boolean {
  return (
    now.version === then.version ||
    (now.secret === then.secret &&
      now.description === then.description &&
      sameJson(now.schema, then.schema) &&
      // A value that cannot be decrypted here is never taken as equal.
      !(then.value instanceof Error) &&
      sameJson(now.value, then.value))
  );
}

/**
 * The operations that bring a namespace (the keys under the prefix `state` was read with) back
 * to how it was at `state.at`, as one write:
 * - a key that held a value then and holds something else now (another value or setting, or
 *   nothing: deleted since) is rolled back to that version with its settings (description,
 *   secret flag, schema): a restore goes through rollback, so the secret rules of rollback hold;
 * - a key live now that did not exist then (created since, or deleted then) is deleted;
 * - a key that holds now what it held then is left alone, so restoring twice writes nothing.
 * Every operation carries the key's current version (compare-and-set). Sorted by key.
 */
export function planRestore(state: NamespaceState): WriteOp[] {
  const ops: WriteOp[] = [];
  for (const [key, then] of state.keys) {
    const now = state.current.get(key);
    if (then.op === 'SET') {
      if (!now || !unchangedSince(then, now)) ops.push({ kind: 'rollback', key, toVersion: then.version, expectedVersion: now?.version ?? 0, withSettings: true });
    } else if (now) {
      ops.push({ kind: 'delete', key, expectedVersion: now.version });
    }
  }
  for (const [key, now] of state.current) {
    if (!state.keys.has(key)) ops.push({ kind: 'delete', key, expectedVersion: now.version });
  }
  return ops.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}
