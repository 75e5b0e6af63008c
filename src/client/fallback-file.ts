import { readFile, rename, unlink, writeFile } from 'node:fs/promises';

/** One key as kept in the fallback snapshot file. */
export interface FallbackEntry {
  value: unknown;
  version: number;
  revision: number;
}

/** The last-known snapshot a client writes, so it can start while the gateway is unreachable. */
export interface FallbackSnapshot {
  format: 1;
  namespace: string;
  prefix: string | null;
  revision: number;
  savedAt: string;
  entries: Record<string, FallbackEntry>;
}

/**
 * Writes the snapshot atomically: a temporary file next to the target, then `rename`, so a
 * reader (or a crash) never sees half a file.
 */
export async function writeFallbackFile(path: string, snapshot: FallbackSnapshot): Promise<void> {
  const temporary = `${path}.${process.pid}.${Math.random().toString(36).slice(2, 10)}.tmp`;
  try {
    await writeFile(temporary, JSON.stringify(snapshot), { mode: 0o600 });
    await rename(temporary, path);
  } catch (error) {
    await unlink(temporary).catch(() => {});
    throw error;
  }
}

/**
 * Reads a snapshot written by {@link writeFallbackFile}. Returns null when the file is missing,
 * unreadable, malformed, or belongs to another namespace or prefix.
 */
export async function readFallbackFile(
  path: string,
  expected: { namespace: string; prefix: string | null },
): Promise<FallbackSnapshot | null> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(path, 'utf8'));
  } catch {
    return null;
  }
  if (typeof parsed !== 'object' || parsed === null) return null;
  const snapshot = parsed as Partial<FallbackSnapshot>;
  if (
    snapshot.format !== 1 ||
    snapshot.namespace !== expected.namespace ||
    (snapshot.prefix ?? null) !== expected.prefix ||
    typeof snapshot.revision !== 'number' ||
    typeof snapshot.entries !== 'object' ||
    snapshot.entries === null
  ) {
    return null;
  }
  for (const entry of Object.values(snapshot.entries)) {
    if (typeof entry !== 'object' || entry === null || typeof entry.version !== 'number' || typeof entry.revision !== 'number') {
      return null;
    }
  }
  return snapshot as FallbackSnapshot;
}

export interface FallbackWriterOptions {
  path: string;
  /** Coalesces writes: one write at most per this delay. */
  delayMs: number;
  /** The snapshot to write now. */
  snapshot: () => FallbackSnapshot;
  /** A write failed (the client emits it as an `error` event). */
  onError: (error: unknown) => void;
}

export interface FallbackWriter {
  /** A write soon. */
  schedule(): void;
  /** Writes now if anything changed since the last write; resolves when every write is done. */
  flush(): Promise<void>;
  /** Cancels a scheduled write (`flush()` still writes). */
  cancel(): void;
}

/** Keeps the fallback file current: coalesced, atomic writes, never an older over a newer one. */
export function createFallbackWriter({ path, delayMs, snapshot, onError }: FallbackWriterOptions): FallbackWriter {
  let timer: ReturnType<typeof setTimeout> | null = null;
  let dirty = false;
  let writing: Promise<void> = Promise.resolve();
  function flush(): Promise<void> {
    if (!dirty) return writing;
    dirty = false;
    const next = snapshot();
    // Chained so that an older snapshot never overwrites a newer one.
    writing = writing.then(() => writeFallbackFile(path, next).catch(onError));
    return writing;
  }
  return {
    schedule() {
      dirty = true;
      if (timer) return;
      timer = setTimeout(() => {
        timer = null;
        void flush();
      }, delayMs);
      timer.unref?.();
    },
    flush,
    cancel() {
      if (timer) clearTimeout(timer);
      timer = null;
    },
  };
}
