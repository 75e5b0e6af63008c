import { hostname } from 'node:os';
import { createClient, type Client as WsClient } from 'graphql-ws';
import { evaluateFlag as evaluateFlagValue, type FlagEvaluationResult } from '../core/flags.js';
import { readEnvOverrides, DEFAULT_ENV_PREFIX } from './env-overrides.js';
import { readFallbackFile, writeFallbackFile, type FallbackEntry } from './fallback-file.js';
import {
  ConfigChangedDocument,
  ConfigsDocument,
  ReportAppliedDocument,
  type ConfigChangedSubscription,
  type ConfigsQuery,
} from './generated/operations.js';
import { sameJson } from './json.js';
import {
  ConfigClientError,
  FATAL_CODES,
  RELIST_CODES,
  errorCode,
  postGraphQL,
  source,
  toWebSocketUrl,
  type ResponseError,
} from './transport.js';

/** Where a key's current value comes from, highest layer first. */
export type EntrySource = 'env' | 'gateway' | 'fallback' | 'default';

/** Connection state, for a service's health endpoint. */
export type ClientState = 'connecting' | 'connected' | 'reconnecting' | 'closed';

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

export interface ConfigClientEvents {
  change: (event: ConfigChangeEvent) => void;
  /** Non-fatal problems (a failed fallback write, a listener that threw) and the fatal one. */
  error: (error: Error) => void;
  state: (state: ClientState) => void;
}

export interface ConfigClientOptions {
  /** Gateway URLs (`http(s)://host:port/graphql`), tried in turn; the client rotates on failure. */
  urls: string | readonly string[];
  namespace: string;
  /** Bearer token, sent as `Authorization` over HTTP and in `connection_init`. */
  token?: string;
  /** Watch only keys under this prefix. @default all keys */
  prefix?: string;
  /** Lowest layer: values used when no other layer has the key. @default {} */
  defaults?: Readonly<Record<string, unknown>>;
  /** Path of the last-known snapshot, written atomically after changes and read when the gateway is unreachable at start. */
  fallbackFile?: string;
  /** Environment to read overrides from (pass `process.env`); see `env-overrides.ts`. @default {} */
  env?: Readonly<Record<string, string | undefined>>;
  /** Prefix of per-key override variables. @default 'HOTCONF__' */
  envPrefix?: string;
  /** Identity in `convergence`. @default `${hostname}-${pid}-${random}` */
  clientId?: string;
  /** At most one `reportApplied` per this interval. @default 1_000 (1 s) */
  reportIntervalMs?: number;
  /** Re-sends `reportApplied` this often so the gateway keeps the client in `convergence`. @default 15_000 (15 s) */
  reportHeartbeatMs?: number;
  /** WebSocket constructor; `ws` is loaded when there is no global WebSocket (Node 20). */
  webSocketImpl?: unknown;
  /** HTTP request and connection-ack timeout. @default 5_000 (5 s) */
  requestTimeoutMs?: number;
  /** First reconnect delay once every URL has failed; doubles per round, with jitter. @default 200 (0.2 s) */
  backoffInitialMs?: number;
  /** @default 10_000 (10 s) */
  backoffMaxMs?: number;
  /** graphql-ws ping interval; each pong confirms the connection. @default 10_000 (10 s) */
  keepAliveMs?: number;
  /** Close and reconnect when a ping gets no pong in this time. @default 5_000 (5 s) */
  pongTimeoutMs?: number;
  /** Delay that coalesces fallback-file writes. @default 200 (0.2 s) */
  fallbackWriteDelayMs?: number;
}

/** An in-memory, hot-reloaded view of one namespace. */
export interface ConfigClient {
  /** Resolves once the first snapshot (from the gateway, or the fallback file) is applied; rejects on a fatal error or close. */
  ready(): Promise<void>;
  /** The key's current value, synchronously from memory. */
  get<T = unknown>(key: string): T | undefined;
  entry(key: string): ResolvedEntry | undefined;
  /** Every key that has a value in some layer. */
  keys(): string[];
  on<E extends keyof ConfigClientEvents>(event: E, listener: ConfigClientEvents[E]): () => void;
  /** Evaluates a flag locally, exactly as the gateway's `evaluateFlag` does. */
  isEnabled(flagKey: string, userId: string): boolean;
  evaluateFlag(flagKey: string, userId: string): FlagEvaluationResult;
  /** The namespace revision the client has applied (0 before the first snapshot). */
  readonly revision: number;
  /** Versions of the entries from the gateway (or the fallback file). */
  versions(): Record<string, number>;
  readonly state: ClientState;
  /** Where the non-env, non-default layer currently comes from. */
  readonly snapshotSource: 'gateway' | 'fallback' | null;
  readonly clientId: string;
  /** The URL of the gateway in use (or tried last). */
  readonly url: string;
  /** Seconds since the gateway last confirmed the client's state (snapshot, change, ack or pong); null before the first. */
  secondsSinceConfirmation(): number | null;
  close(): Promise<void>;
}

interface StoredEntry {
  value: unknown;
  version: number;
  revision: number;
  secret: boolean;
  redacted: boolean;
}

type ChangeMessage = ConfigChangedSubscription['configChanged'];
type Snapshot = ConfigsQuery['configs'];

const CLOSE_FATAL = new Set([4401, 4403]);

function later(fn: () => void, ms: number): ReturnType<typeof setTimeout> {
  const timer = setTimeout(fn, ms);
  timer.unref?.();
  return timer;
}

function toError(reason: unknown): ConfigClientError {
  if (reason instanceof ConfigClientError) return reason;
  if (Array.isArray(reason)) {
    const errors = reason as ResponseError[];
    return new ConfigClientError(errors[0]?.message ?? 'subscription failed', errorCode(errors), errors);
  }
  if (typeof reason === 'object' && reason !== null && typeof (reason as { code?: unknown }).code === 'number') {
    const { code, reason: text } = reason as { code: number; reason?: string };
    return new ConfigClientError(`connection closed: ${code}${text ? ` ${text}` : ''}`, `CLOSE_${code}`);
  }
  const message = reason instanceof Error ? reason.message : String(reason);
  return new ConfigClientError(message, 'NETWORK', [], { cause: reason });
}

function isFatal(error: ConfigClientError): boolean {
  if (FATAL_CODES.has(error.code)) return true;
  const close = /^CLOSE_(\d+)$/.exec(error.code);
  return close !== null && CLOSE_FATAL.has(Number(close[1]));
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
  } = options;
  const urls = typeof options.urls === 'string' ? [options.urls] : [...options.urls];
  if (urls.length === 0) throw new Error('createConfigClient: at least one URL is required');
  const keyPrefix = prefix ?? '';
  const overrides = readEnvOverrides(env, { prefix: envPrefix, keyPrefix });
  const defaultValues = new Map(Object.entries(defaults).filter(([key]) => key.startsWith(keyPrefix)));

  let store = new Map<string, StoredEntry>();
  let snapshotSource: 'gateway' | 'fallback' | null = null;
  let applied = 0;
  let state: ClientState = 'connecting';
  let closed = false;
  let lastConfirmedAt: number | null = null;
  let urlIndex = 0;
  let failures = 0;
  let needList = true;
  let generation = 0;
  /** Changes of the revision being received, applied together when its last change arrives. */
  let pending: { revision: number; changes: ChangeMessage[] } | null = null;
  let stopWatch: (() => void) | null = null;
  let wakeSleep: (() => void) | null = null;
  const abort = new AbortController();

  const listeners: { [E in keyof ConfigClientEvents]: Set<ConfigClientEvents[E]> } = {
    change: new Set(),
    error: new Set(),
    state: new Set(),
  };

  let readySettled = false;
  let resolveReady!: () => void;
  let rejectReady!: (error: Error) => void;
  const readyPromise = new Promise<void>((resolve, reject) => {
    resolveReady = () => {
      readySettled = true;
      resolve();
    };
    rejectReady = (error) => {
      readySettled = true;
      reject(error);
    };
  });
  // A caller that never awaits ready() must not get an unhandled rejection.
  readyPromise.catch(() => {});

  function emitError(error: Error): void {
    for (const listener of listeners.error) {
      try {
        listener(error);
      } catch {
        // an error listener that throws has nowhere left to report to
      }
    }
  }

  function setState(next: ClientState): void {
    if (state === next || state === 'closed') return;
    state = next;
    for (const listener of listeners.state) {
      try {
        listener(next);
      } catch (error) {
        emitError(error as Error);
      }
    }
  }

  function emitChanges(events: readonly ConfigChangeEvent[]): void {
    for (const event of events) {
      for (const listener of listeners.change) {
        try {
          listener(event);
        } catch (error) {
          emitError(error as Error);
        }
      }
    }
  }

  function confirm(): void {
    lastConfirmedAt = Date.now();
  }

  function resolve(key: string): ResolvedEntry | undefined {
    const override = overrides.get(key);
    if (override !== undefined) return { value: override, version: 0, revision: 0, source: 'env' };
    const stored = store.get(key);
    if (stored && !stored.redacted && snapshotSource) {
      return { value: stored.value, version: stored.version, revision: stored.revision, source: snapshotSource };
    }
    if (defaultValues.has(key)) return { value: defaultValues.get(key), version: 0, revision: 0, source: 'default' };
    return undefined;
  }

  // ---- applying state -------------------------------------------------------------------

  function applyBatch(revision: number, changes: readonly ChangeMessage[]): void {
    if (revision <= applied) return;
    const events: ConfigChangeEvent[] = [];
    for (const change of changes) {
      const before = resolve(change.key);
      if (change.op === 'DELETE') {
        store.delete(change.key);
      } else {
        store.set(change.key, {
          value: change.value,
          version: change.version,
          revision: change.revision,
          secret: change.secret,
          redacted: change.redacted,
        });
      }
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
    confirm();
    afterApply();
    emitChanges(events);
  }

  function applySnapshot(snapshot: Snapshot): void {
    const next = new Map<string, StoredEntry>();
    for (const entry of snapshot.entries) {
      next.set(entry.key, {
        value: entry.value,
        version: entry.version,
        revision: entry.revision,
        secret: entry.secret,
        redacted: entry.redacted,
      });
    }
    // The first state a client loads is not a change; a relist (or the move from the fallback
    // file to the gateway) is, for the keys whose value differs.
    const initial = snapshotSource === null;
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
    confirm();
    afterApply();
    if (!readySettled) resolveReady();
    emitChanges(events);
  }

  function afterApply(): void {
    scheduleFallbackWrite();
    scheduleReport();
  }

  /**
   * Collects a revision's changes and applies them together when the gateway marks the last one,
   * so `get()` never shows half a batch. Returns an error when the stream breaks that promise.
   */
  function onChange(change: ChangeMessage): ConfigClientError | null {
    confirm();
    if (change.revision <= applied) return null; // already applied
    if (pending && change.revision !== pending.revision) {
      // A revision began before the previous one ended: applying either could show half a batch.
      // Resuming from the applied revision replays the unfinished one whole.
      return new ConfigClientError(
        `revision ${change.revision} arrived before the end of revision ${pending.revision}`,
        'INCOMPLETE_REVISION',
      );
    }
    if (!change.lastInRevision) {
      pending ??= { revision: change.revision, changes: [] };
      pending.changes.push(change);
      return null;
    }
    const changes = pending ? [...pending.changes, change] : [change];
    pending = null;
    applyBatch(change.revision, changes);
    return null;
  }

  function dropPending(): void {
    // A revision cut off by a disconnect is incomplete; the resume replays it whole.
    pending = null;
  }

  // ---- fallback file ----------------------------------------------------------------------

  let fallbackTimer: ReturnType<typeof setTimeout> | null = null;
  let fallbackDirty = false;
  let fallbackWriting: Promise<void> = Promise.resolve();

  function scheduleFallbackWrite(): void {
    if (!fallbackFile || snapshotSource !== 'gateway') return;
    fallbackDirty = true;
    if (fallbackTimer) return;
    fallbackTimer = later(() => {
      fallbackTimer = null;
      void writeFallbackNow();
    }, fallbackWriteDelayMs);
  }

  function writeFallbackNow(): Promise<void> {
    if (!fallbackFile || !fallbackDirty) return fallbackWriting;
    fallbackDirty = false;
    const entries: Record<string, FallbackEntry> = {};
    for (const [key, entry] of store) {
      // Secret values stay off the disk.
      if (entry.secret || entry.redacted) continue;
      entries[key] = { value: entry.value, version: entry.version, revision: entry.revision };
    }
    const snapshot = {
      format: 1 as const,
      namespace,
      prefix: prefix ?? null,
      revision: applied,
      savedAt: new Date().toISOString(),
      entries,
    };
    // Chained so that an older snapshot never overwrites a newer one.
    fallbackWriting = fallbackWriting.then(() =>
      writeFallbackFile(fallbackFile, snapshot).catch((error: unknown) => emitError(toError(error))),
    );
    return fallbackWriting;
  }

  async function loadFallback(): Promise<boolean> {
    if (!fallbackFile) return false;
    const snapshot = await readFallbackFile(fallbackFile, { namespace, prefix: prefix ?? null });
    if (!snapshot || readySettled || closed) return false;
    store = new Map(
      Object.entries(snapshot.entries).map(([key, entry]) => [
        key,
        { value: entry.value, version: entry.version, revision: entry.revision, secret: false, redacted: false },
      ]),
    );
    snapshotSource = 'fallback';
    applied = snapshot.revision;
    resolveReady();
    return true;
  }

  // ---- reportApplied ----------------------------------------------------------------------

  let reportTimer: ReturnType<typeof setTimeout> | null = null;
  let reportTimerIsHeartbeat = false;
  let reporting = false;
  let reportAgain = false;
  let lastReportAt = 0;
  let lastReportedRevision = -1;
  let currentUrl = urls[0]!;

  function scheduleReport(): void {
    if (closed || snapshotSource !== 'gateway') return;
    if (reporting) {
      reportAgain = true;
      return;
    }
    if (reportTimer && !reportTimerIsHeartbeat) return;
    if (reportTimer) clearTimeout(reportTimer);
    reportTimerIsHeartbeat = false;
    reportTimer = later(() => void sendReport(), Math.max(0, lastReportAt + reportIntervalMs - Date.now()));
  }

  async function sendReport(): Promise<void> {
    reportTimer = null;
    if (closed) return;
    reporting = true;
    reportAgain = false;
    lastReportAt = Date.now();
    const revision = applied;
    try {
      await postGraphQL(currentUrl, ReportAppliedDocument, { namespace, clientId, revision }, { token, timeoutMs: requestTimeoutMs, signal: abort.signal });
      lastReportedRevision = revision;
    } catch {
      // A lost report is repaired by the next one; convergence shows the lag meanwhile.
    } finally {
      reporting = false;
    }
    if (closed) return;
    if (reportAgain || applied !== lastReportedRevision) {
      scheduleReport();
    } else {
      reportTimerIsHeartbeat = true;
      reportTimer = later(() => void sendReport(), reportHeartbeatMs);
    }
  }

  // ---- connection loop ----------------------------------------------------------------------

  let webSocketImpl: unknown = options.webSocketImpl;

  async function resolveWebSocketImpl(): Promise<unknown> {
    if (webSocketImpl) return webSocketImpl;
    const global = (globalThis as { WebSocket?: unknown }).WebSocket;
    webSocketImpl = global ?? (await import('ws')).WebSocket;
    return webSocketImpl;
  }

  function watch(url: string, impl: unknown): Promise<void> {
    const gen = ++generation;
    return new Promise<void>((resolveWatch, rejectWatch) => {
      let done = false;
      let pongTimer: ReturnType<typeof setTimeout> | null = null;
      let socket: { close(code?: number, reason?: string): void; terminate?: () => void } | null = null;
      const ws: WsClient = createClient({
        url: toWebSocketUrl(url),
        webSocketImpl: impl,
        lazy: true,
        retryAttempts: 0,
        shouldRetry: () => false,
        keepAlive: keepAliveMs,
        connectionAckWaitTimeout: requestTimeoutMs,
        connectionParams: token ? { authorization: `Bearer ${token}` } : {},
        on: {
          connected: (connectedSocket) => {
            socket = connectedSocket as typeof socket;
            if (gen !== generation) return;
            currentUrl = url;
            confirm();
            setState('connected');
            scheduleReport();
          },
          ping: (received) => {
            if (received) return;
            if (pongTimer) clearTimeout(pongTimer);
            pongTimer = later(() => {
              // A frozen peer never answers a close handshake either: drop the socket outright
              // (ws has terminate(); a browser WebSocket only close()) and move on now.
              if (socket && typeof socket.terminate === 'function') socket.terminate();
              else socket?.close(4408, 'Pong timeout');
              finish(new ConfigClientError(`no pong from ${url} within ${pongTimeoutMs} ms`, 'PONG_TIMEOUT'));
            }, pongTimeoutMs);
          },
          pong: (received) => {
            if (!received) return;
            if (pongTimer) clearTimeout(pongTimer);
            pongTimer = null;
            if (gen !== generation) return;
            // Healthy, not just acknowledged: a gateway that acks and then fails every
            // subscription must not reset the backoff.
            failures = 0;
            confirm();
          },
          closed: () => {
            if (pongTimer) clearTimeout(pongTimer);
            pongTimer = null;
          },
        },
      });
      const finish = (error: ConfigClientError | null) => {
        if (done) return;
        done = true;
        if (pongTimer) clearTimeout(pongTimer);
        if (gen === generation) {
          dropPending();
          stopWatch = null;
        }
        unsubscribe();
        // dispose() awaits a connection still being made, and rejects when that one failed.
        void Promise.resolve(ws.dispose()).catch(() => {});
        if (error) rejectWatch(error);
        else resolveWatch();
      };
      const unsubscribe = ws.subscribe<ConfigChangedSubscription>(
        {
          query: source(ConfigChangedDocument),
          // Only whole revisions are applied, so everything after the applied one is missing.
          variables: { namespace, prefix: prefix ?? null, sinceRevision: applied },
        },
        {
          next: (result) => {
            if (done || gen !== generation) return;
            if (result.errors?.length) {
              finish(toError(result.errors));
              return;
            }
            const change = result.data?.configChanged;
            if (change) {
              failures = 0;
              const broken = onChange(change);
              if (broken) finish(broken);
            }
          },
          error: (reason) => finish(toError(reason)),
          complete: () => finish(null),
        },
      );
      stopWatch = () => finish(null);
    });
  }

  function backoffDelay(): number {
    // The first failure of each URL moves on almost at once (fail over); whole rounds back off.
    const round = Math.floor((failures - 1) / urls.length);
    const base = round === 0 ? backoffInitialMs / 4 : Math.min(backoffMaxMs, backoffInitialMs * 2 ** (round - 1));
    return base * (0.5 + Math.random() / 2);
  }

  function sleep(ms: number): Promise<void> {
    return new Promise((resolveSleep) => {
      const timer = later(() => {
        wakeSleep = null;
        resolveSleep();
      }, ms);
      wakeSleep = () => {
        clearTimeout(timer);
        wakeSleep = null;
        resolveSleep();
      };
    });
  }

  async function run(): Promise<void> {
    const impl = await resolveWebSocketImpl();
    while (!closed) {
      const url = urls[urlIndex % urls.length]!;
      let error: ConfigClientError | null = null;
      try {
        if (needList) {
          const data = await postGraphQL(url, ConfigsDocument, { namespace, prefix: prefix ?? null }, {
            token,
            timeoutMs: requestTimeoutMs,
            signal: abort.signal,
          });
          if (closed) return;
          currentUrl = url;
          needList = false;
          applySnapshot(data.configs);
        }
        await watch(url, impl);
      } catch (caught) {
        error = toError(caught);
      }
      if (closed) return;
      if (error && isFatal(error)) {
        fail(error);
        return;
      }
      if (error && RELIST_CODES.has(error.code)) {
        needList = true;
      } else {
        urlIndex += 1;
      }
      failures += 1;
      setState(readySettled ? 'reconnecting' : 'connecting');
      if (!readySettled && failures >= urls.length) await loadFallback();
      if (closed) return;
      await sleep(backoffDelay());
    }
  }

  function fail(error: ConfigClientError): void {
    emitError(error);
    if (!readySettled) rejectReady(error);
    void close();
  }

  async function close(): Promise<void> {
    if (closed) return fallbackWriting;
    closed = true;
    state = 'closed';
    for (const listener of listeners.state) {
      try {
        listener('closed');
      } catch {
        // closing regardless
      }
    }
    generation += 1;
    stopWatch?.();
    stopWatch = null;
    wakeSleep?.();
    abort.abort();
    dropPending();
    for (const timer of [reportTimer, fallbackTimer]) if (timer) clearTimeout(timer);
    reportTimer = null;
    fallbackTimer = null;
    if (!readySettled) rejectReady(new ConfigClientError('the config client was closed', 'CLOSED'));
    await writeFallbackNow();
  }

  void run().catch((error: unknown) => fail(toError(error)));

  const client: ConfigClient = {
    ready: () => readyPromise,
    get<T = unknown>(key: string): T | undefined {
      return resolve(key)?.value as T | undefined;
    },
    entry: resolve,
    keys() {
      const keys = new Set([...overrides.keys(), ...defaultValues.keys()]);
      if (snapshotSource) for (const [key, entry] of store) if (!entry.redacted) keys.add(key);
      return [...keys].sort();
    },
    on(event, listener) {
      const set = listeners[event] as Set<typeof listener>;
      set.add(listener);
      return () => {
        set.delete(listener);
      };
    },
    isEnabled: (flagKey, userId) => evaluateFlagValue(flagKey, resolve(flagKey)?.value, userId).enabled,
    evaluateFlag: (flagKey, userId) => evaluateFlagValue(flagKey, resolve(flagKey)?.value, userId),
    get revision() {
      return applied;
    },
    versions() {
      const versions: Record<string, number> = {};
      if (snapshotSource) for (const [key, entry] of store) versions[key] = entry.version;
      return versions;
    },
    get state() {
      return state;
    },
    get snapshotSource() {
      return snapshotSource;
    },
    clientId,
    get url() {
      return currentUrl;
    },
    secondsSinceConfirmation: () => (lastConfirmedAt === null ? null : (Date.now() - lastConfirmedAt) / 1000),
    close,
  };
  // `await using` works where the runtime has Symbol.asyncDispose; the public type leaves it out
  // so services compiled against older `lib`s (no esnext.disposable) still typecheck.
  if (typeof Symbol.asyncDispose === 'symbol') Object.defineProperty(client, Symbol.asyncDispose, { value: close });
  return client;
}
