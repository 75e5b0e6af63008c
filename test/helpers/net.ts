import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

/** A TCP port that was free a moment ago on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/**
 * No wait in a test gives up sooner than this: ceilings are there to end a broken test with a
 * message, and on a loaded 2-core machine a 5 s wait for a reconnect has failed a healthy run.
 * Behaviour is asserted on what arrives, never on how soon.
 */
export const MIN_WAIT_CEILING_MS = 20_000; // 20 s

/**
 * Polls `check` until it returns true: first after 10 ms, then less and less often (at most every
 * 250 ms) so a long wait does not load the machine it waits on. Throws after `timeoutMs` (at
 * least `MIN_WAIT_CEILING_MS`) with `what` in the message (a function is called then, so it can
 * show the latest state).
 */
export async function waitFor(
  check: () => boolean | Promise<boolean>,
  timeoutMs = 10_000,
  what: string | (() => string) = 'condition',
): Promise<void> {
  const ceiling = Math.max(timeoutMs, MIN_WAIT_CEILING_MS);
  const deadline = Date.now() + ceiling;
  let interval = 10;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${ceiling} ms waiting for ${typeof what === 'function' ? what() : what}`);
    await sleep(interval);
    interval = Math.min(250, Math.ceil(interval * 1.5));
  }
}
