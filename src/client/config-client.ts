/**
 * `createConfigClient`: the service SDK's client, composed from modules with one job each —
 * `values.ts` (the layers and the events they cause), `revision-assembler.ts` (whole revisions),
 * `revision-stream.ts` (the connection loop: resume, relist, backoff, URL rotation),
 * `close-codes.ts` (the one policy for how a watch ended), `connection.ts` (one graphql-ws
 * connection), `reporting.ts` (`reportApplied`), `fallback-file.ts`. This file owns what a
 * service sees: `ready()`, events, state, and what keeps the process alive. It is just over
 * 400 lines because that public surface (options, events, typed getters) is documented here, where
 * a service author reads it.
 */
import { hostname } from 'node:os';
import { evaluateFlag as evaluateFlagValue } from '../shared/flags.js';
import { readEnvOverrides, DEFAULT_ENV_PREFIX } from './env-overrides.js';
import { createFallbackWriter, readFallbackFile, type FallbackEntry } from './fallback-file.js';
import {
  ConfigChangedDocument,
  ConfigsDocument,
  ReportAppliedDocument,
  ReportLeavingDocument,
  type ConfigChangedSubscription,
  type ConfigsQuery,
} from './generated/operations.js';
// From errors.js, not transport.js: the emitted .d.ts then references only public modules.
import { ConfigClientError } from './errors.js';
import { createReporter } from './reporting.js';
import { createRevisionAssembler } from './revision-assembler.js';
import { createRevisionStream, type RevisionStream } from './revision-stream.js';
import { gatewayUrls, postGraphQL, source, toClientError, tokenForAttempt } from './transport.js';
import { createValues, type ConfigChangeEvent, type EntrySource, type ResolvedEntry } from './values.js';
import { later, resolveWebSocketImpl } from './web-socket.js';

import type { ClientState, ConfigClient, ConfigClientEvents, ConfigClientOptions } from './types.js';

export type { ConfigChangeEvent, EntrySource, ResolvedEntry };
export type { ClientState, ConfigClient, ConfigClientEvents, ConfigClientOptions, TokenProvider } from './types.js';

type ChangeMessage = ConfigChangedSubscription['configChanged'];

/** The longest delay a timer takes (about 24.8 days). */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** Whether a `configs` answer is a snapshot (another GraphQL server's answer is not). */
function isSnapshot(snapshot: unknown): snapshot is ConfigsQuery['configs'] {
  const { revision, entries } = (snapshot ?? {}) as { revision?: unknown; entries?: unknown };
  return typeof revision === 'number' && Array.isArray(entries);
}

/**
 * Lists a namespace, then watches it over graphql-ws, keeping every value in memory.
 * Reconnects with jittered backoff across `urls` and resumes from the applied revision;
 * relists when the gateway cannot resume (`REVISION_COMPACTED`, `REVISION_AHEAD`).
 * @example
 * const config = createConfigClient({ urls: ['http://gw-1:4000/graphql'], namespace: 'demo-platform', token, env: process.env });
 * await config.ready();
 * config.on('change', ({ key, value }) => log.info({ key, value }, 'reloaded'));
 * const threshold = config.get<number>('ai.threshold') ?? 0.75;
 */
export function createConfigClient(options: ConfigClientOptions): ConfigClient {
  const {
    namespace,
    token,
    prefix,
    defaults = {},
    fallbackFile,
    env = {},
    envPrefix = DEFAULT_ENV_PREFIX,
    clientId = `${hostname()}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`,
    reportIntervalMs = 1_000, // 1 s
    reportHeartbeatMs = 15_000, // 15 s
    requestTimeoutMs = 5_000, // 5 s
    backoffInitialMs = 200, // 0.2 s
    backoffMaxMs = 10_000, // 10 s
    keepAliveMs = 10_000, // 10 s
    pongTimeoutMs = 5_000, // 5 s
    fallbackWriteDelayMs = 200, // 0.2 s
    readyTimeoutMs = 15_000, // 15 s
  } = options;
  const urls = gatewayUrls(options);
  if (!(readyTimeoutMs > 0)) throw new RangeError('createConfigClient: readyTimeoutMs must be positive (Infinity waits for ever)');
  const keyPrefix = prefix ?? '';
  const values = createValues({
    overrides: readEnvOverrides(env, { prefix: envPrefix, keyPrefix }),
    defaults: new Map(Object.entries(defaults).filter(([key]) => key.startsWith(keyPrefix))),
  });
  const revisions = createRevisionAssembler<ChangeMessage>();

  let state: ClientState = 'connecting';
  let closed = false;
  let lastConfirmedAt: number | null = null;
  let lastError: ConfigClientError | null = null;
  let needList = true;
  let currentUrl = urls[0]!;
  /** The token of the connection in use: reports go with it (the gateway closes the connection when it expires). */
  let connectionToken: string | undefined;
  const abort = new AbortController();

  const listeners: { [E in keyof ConfigClientEvents]: Set<ConfigClientEvents[E]> } = {
    change: new Set(),
    error: new Set(),
    state: new Set(),
  };

  // ---- ready() ----------------------------------------------------------------------------

  let readySettled = false;
  let resolveReady!: () => void;
  let rejectReady!: (error: ConfigClientError) => void;
  let readyAwaited = false;
  const readyTimer = Number.isFinite(readyTimeoutMs) ? later(() => void onReadyTimeout(), Math.min(readyTimeoutMs, MAX_TIMER_MS)) : null;
  const readyPromise = new Promise<void>((resolve, reject) => {
    resolveReady = () => {
      readySettled = true;
      if (readyTimer) clearTimeout(readyTimer);
      updateLifeline();
      resolve();
    };
    rejectReady = (error) => {
      readySettled = true;
      if (readyTimer) clearTimeout(readyTimer);
      updateLifeline();
      reject(error);
    };
  });
  // A caller that never awaits ready() must not get an unhandled rejection.
  readyPromise.catch(() => {});

  async function onReadyTimeout(): Promise<void> {
    if (readySettled || closed) return;
    if (await loadFallback()) return;
    if (readySettled || closed) return;
    const cause = lastError;
    const why = cause ? cause.message : `no answer yet from ${urls.join(', ')}`;
    rejectReady(
      new ConfigClientError(`hotconf: not ready after ${readyTimeoutMs} ms: ${why}`, cause?.code ?? 'TIMEOUT', cause?.errors ?? [], { cause }),
    );
  }

  // ---- keeping the process alive -----------------------------------------------------------

  // The client's timers and sockets are unref'd: what keeps the process alive is this one
  // handle, held only while someone waits on the client: a pending ready() (so a service does
  // not exit while the client tries the other URLs) or a `change` listener (as a stream with a
  // `data` listener does, so a process that only watches keeps watching through reconnects).
  // A script that reads and is done exits by itself; close() releases everything.
  let lifeline: ReturnType<typeof setInterval> | null = null;

  function updateLifeline(): void {
    const wanted = !closed && ((readyAwaited && !readySettled) || listeners.change.size > 0);
    if (wanted && !lifeline) {
      lifeline = setInterval(() => {}, MAX_TIMER_MS);
    } else if (!wanted && lifeline) {
      clearInterval(lifeline);
      lifeline = null;
    }
  }

  // ---- events -----------------------------------------------------------------------------

  function emitError(error: ConfigClientError): void {
    for (const listener of listeners.error) {
      try {
        listener(error);
      } catch {
        // an error listener that throws has nowhere left to report to
      }
    }
  }

  function listenerFailed(error: unknown): void {
    emitError(new ConfigClientError(`a listener threw: ${error instanceof Error ? error.message : String(error)}`, 'LISTENER', [], { cause: error }));
  }

  function setState(next: ClientState, cause: ConfigClientError | null): void {
    if (state === next || state === 'closed') return;
    state = next;
    for (const listener of listeners.state) {
      try {
        listener(next, cause);
      } catch (error) {
        listenerFailed(error);
      }
    }
  }

  function emitChanges(events: readonly ConfigChangeEvent[]): void {
    for (const event of events) {
      for (const listener of listeners.change) {
        try {
          listener(event);
        } catch (error) {
          listenerFailed(error);
        }
      }
    }
  }

  function confirm(): void {
    lastConfirmedAt = Date.now();
  }

  // ---- applying state -------------------------------------------------------------------

  function afterApply(events: readonly ConfigChangeEvent[]): void {
    confirm();
    if (fallback && values.snapshotSource === 'gateway') fallback.schedule();
    reporter.schedule();
    if (!readySettled) resolveReady();
    emitChanges(events);
  }

  function applySnapshot(snapshot: ConfigsQuery['configs']): void {
    // The first state a client loads before ready() is not a change.
    afterApply(values.applySnapshot(snapshot, !readySettled));
  }

  /** One change from the stream; whole revisions are applied, a broken one ends the watch. */
  function onChange(change: ChangeMessage): ConfigClientError | null {
    confirm();
    const assembled = revisions.push(change, values.applied);
    if (assembled.kind === 'broken') return assembled.error;
    if (assembled.kind === 'revision') afterApply(values.applyRevision(assembled.revision, assembled.changes));
    return null;
  }

  // ---- fallback file ----------------------------------------------------------------------

  const fallback = fallbackFile
    ? createFallbackWriter({
        path: fallbackFile,
        delayMs: fallbackWriteDelayMs,
        snapshot: () => {
          const entries: Record<string, FallbackEntry> = {};
          for (const [key, entry] of values.stored()) {
            // Secret values stay off the disk.
            if (entry.secret || entry.redacted) continue;
            entries[key] = { value: entry.value, version: entry.version, revision: entry.revision };
          }
          return { format: 1, namespace, prefix: prefix ?? null, revision: values.applied, savedAt: new Date().toISOString(), entries };
        },
        onError: (error) =>
          emitError(new ConfigClientError(`cannot write the fallback file ${fallbackFile}: ${(error as Error).message}`, 'FALLBACK_WRITE', [], { cause: error })),
      })
    : null;

  async function loadFallback(): Promise<boolean> {
    if (!fallbackFile) return false;
    const snapshot = await readFallbackFile(fallbackFile, { namespace, prefix: prefix ?? null });
    if (!snapshot || readySettled || closed) return false;
    values.applyFallback(snapshot.revision, snapshot.entries);
    resolveReady();
    return true;
  }

  // ---- reportApplied ----------------------------------------------------------------------

  const reporter = createReporter({
    intervalMs: reportIntervalMs,
    heartbeatMs: reportHeartbeatMs,
    enabled: () => !closed && values.snapshotSource === 'gateway',
    applied: () => values.applied,
    send: async (revision) => {
      await postGraphQL(currentUrl, ReportAppliedDocument, { namespace, clientId, revision }, {
        token: connectionToken,
        timeoutMs: requestTimeoutMs,
        signal: abort.signal,
      });
    },
  });

  // ---- connection loop ----------------------------------------------------------------------

  let stream: RevisionStream | null = null;

  async function run(): Promise<void> {
    const impl = await resolveWebSocketImpl(options.webSocketImpl);
    if (closed) return;
    stream = createRevisionStream<ConfigChangedSubscription>({
      urls,
      impl,
      token: () => tokenForAttempt(token, requestTimeoutMs),
      refreshableToken: typeof token === 'function',
      query: source(ConfigChangedDocument),
      // Only whole revisions are applied, so everything after the applied one is missing.
      variables: () => ({ namespace, prefix: prefix ?? null, sinceRevision: values.applied }),
      ackTimeoutMs: requestTimeoutMs,
      keepAliveMs,
      pongTimeoutMs,
      backoffInitialMs,
      backoffMaxMs,
      beforeWatch: async (url, bearer) => {
        if (!needList) return;
        const data = await postGraphQL(url, ConfigsDocument, { namespace, prefix: prefix ?? null }, {
          token: bearer,
          timeoutMs: requestTimeoutMs,
          signal: abort.signal,
        });
        if (closed) return;
        // Checked before anything is marked listed: a URL that answered something else (another
        // GraphQL server) must not leave the client watching with no snapshot behind it.
        if (!isSnapshot(data.configs)) {
          throw new ConfigClientError(`${url} answered without a configs snapshot: is it a hotconf gateway?`, 'INVALID_RESPONSE');
        }
        currentUrl = url;
        connectionToken = bearer;
        applySnapshot(data.configs);
        needList = false;
      },
      onConnected: (url, bearer) => {
        currentUrl = url;
        connectionToken = bearer;
        lastError = null;
        confirm();
        setState('connected', null);
        reporter.schedule();
      },
      onHealthy: confirm,
      onData: (data) => (data.configChanged ? onChange(data.configChanged) : null),
      onRetry: async ({ error, verdict, failures }) => {
        // A revision cut off by a disconnect is incomplete; the resume replays it whole.
        revisions.reset();
        // Expected endings (relist, token rotation, a gateway going away) are said by the state
        // event; every other failure is an error a service should log.
        if (error) {
          lastError = error;
          if (verdict.report) emitError(error);
        }
        if (verdict.action === 'relist') needList = true;
        setState(readySettled ? 'reconnecting' : 'connecting', error);
        if (!readySettled && failures >= urls.length) await loadFallback();
      },
    });
    const fatal = await stream.run();
    if (fatal && !closed) fail(fatal);
  }

  function fail(error: ConfigClientError): void {
    lastError = error;
    emitError(error);
    if (!readySettled) rejectReady(error);
    void close(error);
  }

  async function close(cause: ConfigClientError | null = null): Promise<void> {
    if (closed) return fallback?.flush();
    closed = true;
    state = 'closed';
    if (readyTimer) clearTimeout(readyTimer);
    updateLifeline();
    for (const listener of listeners.state) {
      try {
        listener('closed', cause);
      } catch {
        // closing regardless
      }
    }
    stream?.stop();
    abort.abort();
    revisions.reset();
    reporter.stop();
    fallback?.cancel();
    if (!readySettled) rejectReady(new ConfigClientError('the config client was closed', 'CLOSED'));
    // Goodbye: a client that reported leaves `convergence` now instead of turning STALE, so a
    // rolling restart converges cleanly. Best effort and bounded: close() never hangs on it.
    const goodbye =
      reporter.reported && cause === null
        ? postGraphQL(currentUrl, ReportLeavingDocument, { namespace, clientId }, {
            token: connectionToken,
            timeoutMs: Math.min(requestTimeoutMs, 2_000),
          }).catch(() => {})
        : Promise.resolve();
    await Promise.all([fallback?.flush(), goodbye]);
  }

  void run().catch((error: unknown) => fail(toClientError(error)));

  const client: ConfigClient = {
    ready() {
      readyAwaited = true;
      updateLifeline();
      return readyPromise;
    },
    get<T = unknown>(key: string): T | undefined {
      return values.resolve(key)?.value as T | undefined;
    },
    entry: (key) => values.resolve(key),
    keys: () => values.keys(),
    on(event, listener) {
      const set = listeners[event] as Set<typeof listener>;
      set.add(listener);
      updateLifeline();
      return () => {
        set.delete(listener);
        updateLifeline();
      };
    },
    isEnabled: (flagKey, userId) => evaluateFlagValue(flagKey, values.resolve(flagKey)?.value, userId).enabled,
    evaluateFlag: (flagKey, userId) => evaluateFlagValue(flagKey, values.resolve(flagKey)?.value, userId),
    get revision() {
      return values.applied;
    },
    versions: () => values.versions(),
    get state() {
      return state;
    },
    get snapshotSource() {
      return values.snapshotSource;
    },
    clientId,
    get url() {
      return currentUrl;
    },
    get lastError() {
      return lastError;
    },
    secondsSinceConfirmation: () => (lastConfirmedAt === null ? null : (Date.now() - lastConfirmedAt) / 1000),
    close: () => close(),
  };
  // `await using` works where the runtime has Symbol.asyncDispose; the public type leaves it out
  // so services compiled against older `lib`s (no esnext.disposable) still typecheck.
  if (typeof Symbol.asyncDispose === 'symbol') Object.defineProperty(client, Symbol.asyncDispose, { value: client.close });
  return client;
}
