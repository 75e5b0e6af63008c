/**
 * The layered values of one namespace, highest first: env overrides, the gateway's snapshot (or
 * the fallback file's), defaults. Applying a revision or a snapshot returns the `change` events
 * it causes; no I/O, no timers (test/unit/client-values.test.ts).
 */
import { sameJson } from './json.js';

/** Where a key's current value comes from, highest layer first. */
export type EntrySource = 'env' | 'gateway' | 'fallback' | 'default';

/** A key's resolved value and where it came from. */
export interface ResolvedEntry {
  value: unknown;
  /** The entry's version in the gateway (or the fallback file); 0 for `env` and `default`. */
  version: number;
  /** The namespace revision of the entry's last change; 0 for `env` and `default`. */
  revision: number;
  source: EntrySource;
}

/** One key whose value changed, emitted after its whole revision was applied. */
export interface ConfigChangeEvent {
  key: string;
  op: 'SET' | 'DELETE';
  /** The key's resolved value now (a default after a delete, or undefined). */
  value: unknown;
  /** The key's resolved value before. */
  previous: unknown;
  /** The entry's version after the change; 0 when a relist found the key deleted. */
  version: number;
  /** The revision that carried the change. */
  revision: number;
  /** Where the new value comes from; null when the key has no value any more. */
  source: EntrySource | null;
}

/** An entry as the gateway sends it (in a snapshot or a change). */
export interface StoredEntry {
  value: unknown;
  version: number;
  revision: number;
  secret: boolean;
  redacted: boolean;
}

export interface ChangePart extends StoredEntry {
  key: string;
  op: 'SET' | 'DELETE';
}

export interface SnapshotPart {
  revision: number;
  entries: ReadonlyArray<StoredEntry & { key: string }>;
}

export interface Values {
  resolve(key: string): ResolvedEntry | undefined;
  keys(): string[];
  versions(): Record<string, number>;
  /** The entries of the snapshot layer (for the fallback file). */
  stored(): ReadonlyMap<string, StoredEntry>;
  /** The namespace revision applied (0 before the first snapshot). */
  readonly applied: number;
  readonly snapshotSource: 'gateway' | 'fallback' | null;
  /** Applies one whole revision; returns its events (none for keys an env override hides). */
  applyRevision(revision: number, changes: readonly ChangePart[]): ConfigChangeEvent[];
  /**
   * Replaces the snapshot layer with the gateway's. `initial`: the first state before ready()
   * is not a change; otherwise the keys whose resolved value differs are.
   */
  applySnapshot(snapshot: SnapshotPart, initial: boolean): ConfigChangeEvent[];
  /** Loads the fallback file's snapshot (no events: only before ready()). */
  applyFallback(revision: number, entries: Readonly<Record<string, { value: unknown; version: number; revision: number }>>): void;
}

export function createValues({ overrides, defaults }: { overrides: ReadonlyMap<string, unknown>; defaults: ReadonlyMap<string, unknown> }): Values {
  let store = new Map<string, StoredEntry>();
  let snapshotSource: 'gateway' | 'fallback' | null = null;
  let applied = 0;

  function resolve(key: string): ResolvedEntry | undefined {
    const override = overrides.get(key);
    if (override !== undefined) return { value: override, version: 0, revision: 0, source: 'env' };
    const stored = store.get(key);
    if (stored && !stored.redacted && snapshotSource) {
      return { value: stored.value, version: stored.version, revision: stored.revision, source: snapshotSource };
    }
    if (defaults.has(key)) return { value: defaults.get(key), version: 0, revision: 0, source: 'default' };
    return undefined;
  }

  const toStored = (entry: StoredEntry): StoredEntry => ({
    value: entry.value,
    version: entry.version,
    revision: entry.revision,
    secret: entry.secret,
    redacted: entry.redacted,
  });

  return {
    resolve,
    keys() {
      const keys = new Set([...overrides.keys(), ...defaults.keys()]);
      if (snapshotSource) for (const [key, entry] of store) if (!entry.redacted) keys.add(key);
      return [...keys].sort();
    },
    versions() {
      const versions: Record<string, number> = {};
      if (snapshotSource) for (const [key, entry] of store) versions[key] = entry.version;
      return versions;
    },
    stored: () => store,
    get applied() {
      return applied;
    },
    get snapshotSource() {
      return snapshotSource;
    },
    applyRevision(revision, changes) {
      if (revision <= applied) return [];
      const events: ConfigChangeEvent[] = [];
      for (const change of changes) {
        const before = resolve(change.key);
        if (change.op === 'DELETE') store.delete(change.key);
        else store.set(change.key, toStored(change));
        // An env override hides the gateway's value: nothing the service reads has changed.
        if (before?.source === 'env') continue;
        const after = resolve(change.key);
        events.push({
          key: change.key,
          op: change.op,
          value: after?.value,
          previous: before?.value,
          version: change.version,
          revision,
          source: after?.source ?? null,
        });
      }
      applied = revision;
      return events;
    },
    applySnapshot(snapshot, initial) {
      const next = new Map<string, StoredEntry>();
      for (const entry of snapshot.entries) next.set(entry.key, toStored(entry));
      // A relist, the move from the fallback file to the gateway, or a first snapshot after
      // ready() gave up waiting (the service has been running on env and defaults) is a change,
      // for the keys whose value differs.
      const keys = new Set([...store.keys(), ...next.keys()]);
      const before = new Map([...keys].map((key) => [key, resolve(key)] as const));
      store = next;
      snapshotSource = 'gateway';
      applied = snapshot.revision;
      const events: ConfigChangeEvent[] = [];
      for (const key of initial ? [] : keys) {
        const previous = before.get(key);
        const now = resolve(key);
        // Only real differences: a relist that finds the same value (even from another source) is silent.
        if (sameJson(previous?.value, now?.value)) continue;
        const entry = next.get(key);
        events.push({
          key,
          op: entry ? 'SET' : 'DELETE',
          value: now?.value,
          previous: previous?.value,
          version: entry?.version ?? 0,
          revision: entry?.revision ?? snapshot.revision,
          source: now?.source ?? null,
        });
      }
      return events;
    },
    applyFallback(revision, entries) {
      store = new Map(
        Object.entries(entries).map(([key, entry]) => [
          key,
          { value: entry.value, version: entry.version, revision: entry.revision, secret: false, redacted: false },
        ]),
      );
      snapshotSource = 'fallback';
      applied = revision;
    },
  };
}
