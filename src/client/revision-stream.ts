/**
 * The connection loop shared by the SDK and the CLI's `watch`: connect (a fresh token each time),
 * optionally list first, subscribe from the revision the caller has reached, and when the watch
 * ends act on `close-codes.ts`'s verdict: stop, list again, or back off and retry — on the next
 * URL or the same one. Transport and timers are injected, so the state machine is unit-tested
 * with fakes (test/unit/client-stream.test.ts).
 *
 * Why not graphql-ws's own `retryAttempts`/`retryWait`/`shouldRetry` with a `url()` function:
 * its retry re-sends the first subscribe's payload (the resume point must move with every
 * applied revision), a `REVISION_*` refusal ends the subscription rather than the socket (so it
 * needs a list between attempts that graphql-ws cannot make), the SDK must say every attempt
 * (state and error events, the fallback file after the first round over the URLs), and its
 * keep-alive timers hold the process open. One loop here does all of it for the SDK and the CLI;
 * each connection is still plain graphql-ws (connection.ts), with its retries off.
 */
import { judge, type Ending, type Verdict } from './close-codes.js';
import { openWatch, type ConnectionTimings, type Watch, type WatchOptions } from './connection.js';
import { ConfigClientError } from './errors.js';
import { toClientError } from './transport.js';
import { later, type WebSocketConstructor } from './web-socket.js';

/** What the loop reports after every ending it does not stop on. */
export interface Retry {
  error: ConfigClientError | null;
  verdict: Exclude<Verdict, { action: 'stop' }>;
  /** Failed attempts since the stream was last healthy (data or a pong), this one included. */
  failures: number;
  /** The backoff before the next attempt. */
  delayMs: number;
}

export interface RevisionStreamOptions<TData> extends ConnectionTimings {
  urls: readonly string[];
  /** The token for one attempt (a string, or a fresh one from the caller's token function). */
  token: () => Promise<string | undefined>;
  /** Whether `token` may hand out a better token next time (a function, not a fixed string). */
  refreshableToken: boolean;
  /** The subscription document. */
  query: string;
  /** The subscription's variables, read at every attempt: resume from where the caller is now. */
  variables: () => Record<string, unknown>;
  /** Runs before each subscribe (the SDK lists here when it must); a throw is a failed attempt. */
  beforeWatch?: (url: string, token: string | undefined) => Promise<void>;
  /** One result's data; an error returned ends the watch with it (e.g. a broken revision). */
  onData: (data: TData, url: string) => ConfigClientError | null;
  onConnected?: (url: string, token: string | undefined) => void;
  /** A pong: the connection is healthy. */
  onHealthy?: () => void;
  /** After every ending the loop does not stop on, before the backoff (the verdict is final). */
  onRetry?: (retry: Retry) => void | Promise<void>;
  /** First reconnect delay once every URL has failed; doubles per round, with jitter. */
  backoffInitialMs: number;
  backoffMaxMs: number;
  /** WebSocket constructor (see web-socket.ts). */
  impl: WebSocketConstructor;
  /** @default openWatch (tests pass a fake) */
  open?: <T>(options: WatchOptions<T>) => Watch;
  /** @default an unref'd timer */
  sleep?: (ms: number, wake: AbortSignal) => Promise<void>;
  /** @default Math.random */
  random?: () => number;
}

export interface RevisionStream {
  /** Runs until stopped (resolves null) or a fatal ending (resolves with its error). Never rejects. */
  run(): Promise<ConfigClientError | null>;
  /** Ends the current watch and the loop; `run()` resolves null. */
  stop(): void;
  readonly stopped: boolean;
}

/**
 * The delay before attempt `failures + 1`: the first failure of each URL moves on almost at once
 * (fail over); whole rounds over the URLs back off exponentially up to `maxMs`, with jitter.
 */
export function backoffDelay(failures: number, urlCount: number, { initialMs, maxMs }: { initialMs: number; maxMs: number }, random: () => number = Math.random): number {
  const round = Math.floor((Math.max(1, failures) - 1) / Math.max(1, urlCount));
  const base = round === 0 ? initialMs / 4 : Math.min(maxMs, initialMs * 2 ** (round - 1));
  return base * (0.5 + random() / 2);
}

function defaultSleep(ms: number, wake: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (wake.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      wake.removeEventListener('abort', done);
      resolve();
    };
    const timer = later(done, ms);
    wake.addEventListener('abort', done, { once: true });
  });
}

export function createRevisionStream<TData>(options: RevisionStreamOptions<TData>): RevisionStream {
  const { urls, refreshableToken, backoffInitialMs, backoffMaxMs, open = openWatch, sleep = defaultSleep, random = Math.random } = options;
  const stopping = new AbortController();
  let watch: Watch | null = null;
  let urlIndex = 0;
  let failures = 0;

  async function attempt(url: string): Promise<Ending> {
    const token = await options.token();
    await options.beforeWatch?.(url, token);
    if (stopping.signal.aborted) return { error: null, acknowledged: false };
    watch = open<TData>({
      url,
      impl: options.impl,
      token,
      ackTimeoutMs: options.ackTimeoutMs,
      keepAliveMs: options.keepAliveMs,
      pongTimeoutMs: options.pongTimeoutMs,
      query: options.query,
      variables: options.variables(),
      onConnected: () => options.onConnected?.(url, token),
      onPong: () => {
        // Healthy, not just acknowledged: a gateway that acks and then fails every subscription
        // must not reset the backoff.
        failures = 0;
        options.onHealthy?.();
      },
      onData: (data) => {
        failures = 0;
        return options.onData(data, url);
      },
    });
    try {
      return await watch.ended;
    } finally {
      watch = null;
    }
  }

  async function run(): Promise<ConfigClientError | null> {
    while (!stopping.signal.aborted) {
      const url = urls[urlIndex % urls.length]!;
      let ending: Ending;
      try {
        ending = await attempt(url);
      } catch (caught) {
        ending = { error: toClientError(caught), acknowledged: false };
      }
      if (stopping.signal.aborted) return null;
      const verdict = judge(ending, { refreshableToken });
      if (verdict.action === 'stop') return ending.error;
      if (verdict.rotate) urlIndex += 1;
      failures += 1;
      const delayMs = backoffDelay(failures, urls.length, { initialMs: backoffInitialMs, maxMs: backoffMaxMs }, random);
      try {
        await options.onRetry?.({ error: ending.error, verdict, failures, delayMs });
      } catch (caught) {
        return toClientError(caught);
      }
      if (stopping.signal.aborted) return null;
      await sleep(delayMs, stopping.signal);
    }
    return null;
  }

  return {
    run,
    stop() {
      stopping.abort();
      watch?.stop();
    },
    get stopped() {
      return stopping.signal.aborted;
    },
  };
}
