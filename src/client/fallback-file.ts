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
