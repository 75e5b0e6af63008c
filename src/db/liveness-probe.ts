import type { Sql } from 'postgres';

/**
 * Whether the database answers right now, asked on a connection of its own (`open()` makes a
 * one-session postgres.js instance outside the pool, so a full pool cannot make the database look
 * dead). Concurrent callers share one probe; a result is reused for a second. The session pool
 * asks this before cutting off an operation that runs past its deadline.
 *
 * @example const probe = createLivenessProbe(() => openInstance(), 2_000); if (!(await probe())) retire(session);
 */
export function createLivenessProbe(open: () => Sql, timeoutMs: number): () => Promise<boolean> {
  let probing: Promise<boolean> | null = null;
  let probed = { at: 0, alive: false };
  return () => {
    if (Date.now() - probed.at < 1_000) return Promise.resolve(probed.alive);
    return (probing ??= (async () => {
      const instance = open();
      let timer: NodeJS.Timeout | undefined;
      let alive = false;
      try {
        await Promise.race([
          instance.unsafe('select 1'),
          new Promise<never>((_, reject) => {
            timer = setTimeout(() => reject(new Error('probe timed out')), timeoutMs);
          }),
        ]);
        alive = true;
      } catch {
        alive = false;
      } finally {
        clearTimeout(timer);
        void instance.end({ timeout: 0 }).catch(() => {});
      }
      probed = { at: Date.now(), alive };
      probing = null;
      return alive;
    })());
  };
}
