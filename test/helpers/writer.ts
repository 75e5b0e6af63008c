import { SET_CONFIG } from './gateway.js';

/** The outcome of one GraphQL request: `OK`, the first error's code, or a transport failure. */
export interface Attempt {
  /** `Date.now()` when the request was sent. */
  at: number;
  /** `Date.now()` when it was answered (or failed). */
  done: number;
  /** `OK`, `extensions.code` of the first error, `NETWORK` (no answer) or `CEILING` (aborted by us). */
  code: string;
  data?: Record<string, unknown> | null;
}

/**
 * POSTs an operation with a ceiling (the test's own abort, far above any timeout the gateway
 * states) and never throws: a gateway that hangs shows up as `CEILING`, one that died as `NETWORK`.
 */
export async function attempt(
  url: string,
  token: string,
  query: string,
  variables: Record<string, unknown>,
  ceilingMs = 30_000,
): Promise<Attempt> {
  const at = Date.now();
  try {
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query, variables }),
      signal: AbortSignal.timeout(ceilingMs),
    });
    const body = (await response.json()) as { data?: Record<string, unknown> | null; errors?: Array<{ extensions?: { code?: string } }> };
    const code = body.errors?.length ? (body.errors[0]?.extensions?.code ?? 'ERROR') : 'OK';
    return { at, done: Date.now(), code, data: body.data ?? null };
  } catch (error) {
    const name = (error as Error).name;
    return { at, done: Date.now(), code: name === 'TimeoutError' || name === 'AbortError' ? 'CEILING' : 'NETWORK' };
  }
}

/** One `setConfig` through `url`, as an `Attempt`. */
export function attemptSet(url: string, token: string, namespace: string, key: string, value: unknown, ceilingMs?: number): Promise<Attempt> {
  return attempt(url, token, SET_CONFIG, { input: { namespace, key, value } }, ceilingMs);
}

/** A loop of writes against one gateway until stopped; every attempt is kept. */
export interface WriterLoop {
  attempts: Attempt[];
  stop(): Promise<void>;
}

/** Writes `key-<n>` = n in `namespace` through `url`, one after another, until `stop()`. */
export function startWriterLoop(url: string, token: string, namespace: string, label: string): WriterLoop {
  const attempts: Attempt[] = [];
  let running = true;
  const done = (async () => {
    for (let n = 0; running; n++) {
      const result = await attemptSet(url, token, namespace, `${label}-${n % 20}`, n);
      attempts.push(result);
      // A refused or failed request answers at once: do not spin on a dead database.
      if (result.code !== 'OK') await new Promise((resolve) => setTimeout(resolve, 20));
    }
  })();
  return {
    attempts,
    stop: async () => {
      running = false;
      await done;
    },
  };
}
