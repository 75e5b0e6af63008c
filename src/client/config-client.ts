import { connect as netConnect, isIP, type NetConnectOpts } from 'node:net';
import { hostname } from 'node:os';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
// The client entry only: the package root also loads graphql-ws's server, which needs `graphql`.
import { createClient, type Client as WsClient } from 'graphql-ws/client';
import { evaluateFlag as evaluateFlagValue, type FlagEvaluationResult } from '../core/flags.js';
import { readEnvOverrides, DEFAULT_ENV_PREFIX } from './env-overrides.js';
import { readFallbackFile, writeFallbackFile, type FallbackEntry } from './fallback-file.js';
import {
  ConfigChangedDocument,
  ConfigsDocument,
  ReportAppliedDocument,
  ReportLeavingDocument,
  type ConfigChangedSubscription,
  type ConfigsQuery,
} from './generated/operations.js';
import { sameJson } from './json.js';
// From errors.js, not transport.js: the emitted .d.ts then references only public modules.
import { ConfigClientError } from './errors.js';
import {
  AUTH_CODES,
  FATAL_CODES,
  RELIST_CODES,
  describeNetworkError,
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
  /**
   * Every failed attempt to list or connect, with its cause (`HTTP_404` for a wrong path,
   * `ECONNREFUSED` for a gateway that is down, `UNAUTHENTICATED` for a refused token, …), the
   * fatal error that closes the client, and local problems (a failed fallback write, a listener
   * that threw). The client keeps retrying after every error but the fatal one.
   */
  error: (error: ConfigClientError) => void;
  /**
   * Connection state changes. `cause` says why the client is `connecting`, `reconnecting` or
   * `closed` (null when it closed because `close()` was called, and for `connected`).
   */
  state: (state: ClientState, cause: ConfigClientError | null) => void;
}

/**
 * Returns the bearer token to use now; called before every connection attempt (the list request
 * and the WebSocket's `connection_init`), so a rotated or refreshed token is picked up without a
 * restart. Cache inside it if getting a token is expensive.
 */
export type TokenProvider = () => string | Promise<string>;

export interface ConfigClientOptions {
  /** The gateway URL (`http(s)://host:port/graphql`; the WebSocket URL is derived). Give `url` or `urls`. */
  url?: string;
  /** Gateway URLs, tried in turn: the client moves to the next one on failure. Give `url` or `urls`. */
  urls?: string | readonly string[];
  namespace: string;
  /**
   * Bearer token, sent as `Authorization` over HTTP and in `connection_init`: a string, or a
   * function called before every connection attempt. With a function, a connection the gateway
   * closes because its token expired (4401) reconnects at once with a fresh token, and a refused
   * token is retried with backoff; with a string, a refused or expired token is fatal.
   * @default none (anonymous)
   */
  token?: string | TokenProvider;
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
  /**
   * WebSocket constructor. On Node the client uses `ws`, with sockets that do not keep the
   * process alive; elsewhere the global `WebSocket`.
   * @default `ws` on Node, else `globalThis.WebSocket`
   */
  webSocketImpl?: unknown;
  /** HTTP request, connection-ack and token-function timeout. @default 5_000 (5 s) */
  requestTimeoutMs?: number;
  /**
   * How long `ready()` may stay pending. By then it resolves from `fallbackFile` if one is usable,
   * else rejects with the last failure's cause (the client keeps trying in the background).
   * `Infinity` waits for ever. A pending `ready()` keeps the process alive.
   * @default 15_000 (15 s: each of three unreachable URLs gets one try at the default `requestTimeoutMs`)
   */
  readyTimeoutMs?: number;
  /** First reconnect delay once every URL has failed; doubles per round, with jitter. @default 200 (0.2 s) */
  backoffInitialMs?: number;
  /** @default 10_000 (10 s) */
  backoffMaxMs?: number;
  /** Ping interval once connected; each pong confirms the connection. `0` turns pings off. @default 10_000 (10 s) */
  keepAliveMs?: number;
  /** Close and reconnect when a ping gets no pong in this time. @default 5_000 (5 s) */
  pongTimeoutMs?: number;
  /** Delay that coalesces fallback-file writes. @default 200 (0.2 s) */
  fallbackWriteDelayMs?: number;
}

/** An in-memory, hot-reloaded view of one namespace. */
export interface ConfigClient {
  /**
   * Resolves once the first snapshot (from the gateway, or the fallback file) is applied. Rejects
   * on a fatal error, on `close()`, or after `readyTimeoutMs` with the last failure's cause (then
   * the client keeps trying, and emits `change` for what differs when a gateway answers).
   * While pending (once called) it keeps the process alive, as a registered `change` listener does.
   */
  ready(): Promise<void>;
  /** The key's current value, synchronously from memory. */
  get<T = unknown>(key: string): T | undefined;
  entry(key: string): ResolvedEntry | undefined;
  /** Every key that has a value in some layer. */
  keys(): string[];
  /**
   * Adds a listener; returns the function that removes it. While a `change` listener is
   * registered, the client keeps the process alive (until it is removed or `close()`).
   */
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
  /** The last failure since the client was last connected (null while connected), for a health endpoint. */
  readonly lastError: ConfigClientError | null;
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

/** graphql-ws close codes that carry a GraphQL-level refusal. */
const CLOSE_CODES: ReadonlyMap<number, string> = new Map([
  [4401, 'UNAUTHENTICATED'],
  [4403, 'FORBIDDEN'],
]);

/** Closes that mean "this gateway is going away", not that something failed. */
const CLEAN_CLOSES: ReadonlySet<number> = new Set([1000, 1001]);

/** The longest delay a timer takes (about 24.8 days). */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** The socket as graphql-ws hands it over: a `ws` WebSocket or a platform one. */
interface RawSocket {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  terminate?: () => void;
}

type WebSocketConstructor = new (url: string, protocols?: string | string[]) => RawSocket;

/** Unref'd: the client's own timers never keep the process alive (see `updateLifeline`). */
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
  const { code, message } = describeNetworkError(reason);
  return new ConfigClientError(message, code, [], { cause: reason });
}

/**
 * What graphql-ws reported when a connection or subscription ended: a close event, the socket's
 * error event (whose `error` holds the system error), or an Error thrown on the client side.
 */
function describeSocketFailure(reason: unknown, url: string): ConfigClientError {
  if (reason instanceof ConfigClientError || Array.isArray(reason)) return toError(reason);
  if (typeof reason === 'object' && reason !== null && typeof (reason as { code?: unknown }).code === 'number') {
    const { code, reason: text } = reason as { code: number; reason?: string };
    const detail = `${code}${text ? ` ${text}` : ''}`;
    const named = CLOSE_CODES.get(code);
    if (named) return new ConfigClientError(`${url} closed the connection: ${detail}`, named);
    if (code === 1006) return new ConfigClientError(`connection to ${url} lost (1006: closed without a close frame)`, 'CLOSE_1006');
    return new ConfigClientError(`${url} closed the connection: ${detail}`, `CLOSE_${code}`);
  }
  const inner = typeof reason === 'object' && reason !== null && 'error' in reason ? (reason as { error: unknown }).error : reason;
  const { code, message } = describeNetworkError(inner);
  const text = message || (typeof reason === 'object' && reason !== null ? String((reason as { message?: unknown }).message ?? '') : '');
  return new ConfigClientError(`WebSocket to ${url} failed: ${text || 'no reason given'}`, code, [], { cause: inner });
}

/**
 * `ws`, with sockets that do not keep the process alive: whether the process stays up is decided
 * by whoever waits on the client (a pending `ready()`, a `change` listener) and by the service's
 * own work, never by the connection alone.
 * A constructor function rather than a subclass: graphql-ws only needs `new` and the state constants.
 */
function unrefWebSocket(WebSocket: typeof import('ws').WebSocket): WebSocketConstructor {
  function create(url: string, protocols?: string | string[]): RawSocket {
    const secure = /^(wss|https):/i.test(url);
    return new WebSocket(url, protocols, {
      createConnection: ((connectOptions: NetConnectOpts & ConnectionOptions & { host?: string }) => {
        // As ws itself connects (`path` is the HTTP path here, not a Unix socket), then unref.
        const socket = secure
          ? tlsConnect({ ...connectOptions, path: undefined, servername: connectOptions.servername ?? (isIP(connectOptions.host ?? '') ? '' : connectOptions.host) } as ConnectionOptions)
          : netConnect({ ...connectOptions, path: undefined } as NetConnectOpts);
        socket.unref();
        return socket;
      }) as never,
    }) as unknown as RawSocket;
  }
  return Object.assign(create, { CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3 }) as unknown as WebSocketConstructor;
}

/** `impl`, noting each socket it creates so the client can drop a connection graphql-ws still waits on. */
function recording(impl: WebSocketConstructor, onCreate: (socket: RawSocket) => void): WebSocketConstructor {
  function create(url: string, protocols?: string | string[]): RawSocket {
    const socket = new impl(url, protocols);
    onCreate(socket);
    return socket;
  }
  return Object.assign(create, { CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3 }) as unknown as WebSocketConstructor;
}

function urlsOf(options: Pick<ConfigClientOptions, 'url' | 'urls'>): string[] {
  if (options.url !== undefined && options.urls !== undefined) {
    throw new TypeError('createConfigClient: give `url` or `urls`, not both');
  }
  const given = options.url !== undefined ? [options.url] : typeof options.urls === 'string' ? [options.urls] : [...(options.urls ?? [])];
  if (given.length === 0) throw new TypeError('createConfigClient: a gateway URL is required (`url` or `urls`)');
  for (const url of given) {
    let protocol: string;
    try {
      protocol = new URL(url).protocol;
    } catch {
      throw new TypeError(`createConfigClient: ${JSON.stringify(url)} is not a URL (expected http(s)://host:port/graphql)`);
    }
    if (!['http:', 'https:', 'ws:', 'wss:'].includes(protocol)) {
      throw new TypeError(`createConfigClient: ${JSON.stringify(url)} is not an http(s) or ws(s) URL`);
    }
  }
  return given;
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
  const urls = urlsOf(options);
  if (!(readyTimeoutMs > 0)) throw new RangeError('createConfigClient: readyTimeoutMs must be positive (Infinity waits for ever)');
  const refreshableToken = typeof token === 'function';
  const keyPrefix = prefix ?? '';
  const overrides = readEnvOverrides(env, { prefix: envPrefix, keyPrefix });
  const defaultValues = new Map(Object.entries(defaults).filter(([key]) => key.startsWith(keyPrefix)));

  let store = new Map<string, StoredEntry>();
  let snapshotSource: 'gateway' | 'fallback' | null = null;
  let applied = 0;
  let state: ClientState = 'connecting';
  let closed = false;
  let lastConfirmedAt: number | null = null;
  let lastError: ConfigClientError | null = null;
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
    // The first state a client loads before ready() is not a change; a relist, the move from the
    // fallback file to the gateway, or a first snapshot after ready() gave up waiting (the service
    // has been running on env and defaults) is, for the keys whose value differs.
    const initial = !readySettled;
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
      writeFallbackFile(fallbackFile, snapshot).catch((error: unknown) =>
        emitError(new ConfigClientError(`cannot write the fallback file ${fallbackFile}: ${(error as Error).message}`, 'FALLBACK_WRITE', [], { cause: error })),
      ),
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
  /** The token of the connection in use: reports go with it (the gateway closes the connection when it expires). */
  let connectionToken: string | undefined;

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
      await postGraphQL(currentUrl, ReportAppliedDocument, { namespace, clientId, revision }, {
        token: connectionToken,
        timeoutMs: requestTimeoutMs,
        signal: abort.signal,
      });
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

  async function resolveWebSocketImpl(): Promise<WebSocketConstructor> {
    if (options.webSocketImpl) return options.webSocketImpl as WebSocketConstructor;
    const platform = (globalThis as { WebSocket?: unknown }).WebSocket as WebSocketConstructor | undefined;
    // Node (and runtimes that act like it): `ws`, so that a connected client never holds the
    // process open; elsewhere the platform's WebSocket.
    if (typeof process === 'object' && typeof process.versions?.node === 'string') {
      try {
        return unrefWebSocket((await import('ws')).WebSocket);
      } catch (error) {
        if (!platform) throw new ConfigClientError(`no WebSocket implementation: install ws or pass webSocketImpl (${(error as Error).message})`, 'NO_WEBSOCKET');
      }
    }
    if (!platform) throw new ConfigClientError('no WebSocket implementation: pass webSocketImpl', 'NO_WEBSOCKET');
    return platform;
  }

  /** The token for this connection attempt: the string, or a fresh one from the function. */
  async function tokenForAttempt(): Promise<string | undefined> {
    if (typeof token !== 'function') return token;
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      const value = await Promise.race([
        Promise.resolve().then(token),
        new Promise<never>((_, reject) => {
          timer = later(() => reject(new ConfigClientError(`the token function gave no token within ${requestTimeoutMs} ms`, 'TOKEN_UNAVAILABLE')), requestTimeoutMs);
        }),
      ]);
      if (typeof value !== 'string' || value === '') throw new ConfigClientError('the token function returned no token', 'TOKEN_UNAVAILABLE');
      return value;
    } catch (error) {
      if (error instanceof ConfigClientError) throw error;
      throw new ConfigClientError(`the token function failed: ${error instanceof Error ? error.message : String(error)}`, 'TOKEN_UNAVAILABLE', [], {
        cause: error,
      });
    } finally {
      clearTimeout(timer);
    }
  }

  interface WatchOutcome {
    /** Why the watch ended; null when it was stopped or completed cleanly. */
    error: ConfigClientError | null;
    /** Whether the gateway accepted the connection (`connection_ack`) before it ended. */
    acknowledged: boolean;
  }

  /** One graphql-ws connection and its subscription; settles (never rejects) when either ends. */
  function watch(url: string, impl: WebSocketConstructor, bearer: string | undefined): Promise<WatchOutcome> {
    const gen = ++generation;
    return new Promise<WatchOutcome>((settle) => {
      let done = false;
      let acknowledged = false;
      let socket: RawSocket | null = null;
      let pingTimer: ReturnType<typeof setTimeout> | null = null;
      let pongTimer: ReturnType<typeof setTimeout> | null = null;
      const clearTimers = () => {
        for (const timer of [ackTimer, pingTimer, pongTimer]) if (timer) clearTimeout(timer);
        pingTimer = pongTimer = null;
      };
      // Pings are sent here rather than by graphql-ws, whose timers would keep the process alive.
      const schedulePing = () => {
        if (!(keepAliveMs > 0) || !Number.isFinite(keepAliveMs)) return;
        pingTimer = later(() => {
          if (done || socket?.readyState !== 1) return;
          socket.send('{"type":"ping"}');
          pongTimer = later(() => {
            // A frozen peer never answers a close handshake either: drop the socket outright
            // (ws has terminate(); a browser WebSocket only close()) and move on now.
            drop();
            finish(new ConfigClientError(`no pong from ${url} within ${pongTimeoutMs} ms`, 'PONG_TIMEOUT'));
          }, pongTimeoutMs);
        }, keepAliveMs);
      };
      const drop = () => {
        if (typeof socket?.terminate === 'function') socket.terminate();
        else socket?.close(4408, 'Dropped by the client');
      };
      const ws: WsClient = createClient({
        url: toWebSocketUrl(url),
        webSocketImpl: recording(impl, (created) => (socket = created)),
        lazy: true,
        retryAttempts: 0,
        shouldRetry: () => false,
        keepAlive: 0,
        connectionAckWaitTimeout: 0,
        connectionParams: bearer ? { authorization: `Bearer ${bearer}` } : {},
        on: {
          connected: () => {
            acknowledged = true;
            clearTimeout(ackTimer);
            if (done || gen !== generation) return;
            currentUrl = url;
            connectionToken = bearer;
            lastError = null;
            confirm();
            setState('connected', null);
            scheduleReport();
            schedulePing();
          },
          pong: (received) => {
            if (!received || done) return;
            if (pongTimer) clearTimeout(pongTimer);
            pongTimer = null;
            schedulePing();
            if (gen !== generation) return;
            // Healthy, not just acknowledged: a gateway that acks and then fails every
            // subscription must not reset the backoff.
            failures = 0;
            confirm();
          },
        },
      });
      const ackTimer = later(() => {
        drop();
        finish(new ConfigClientError(`no connection_ack from ${url} within ${requestTimeoutMs} ms`, 'TIMEOUT'));
      }, requestTimeoutMs);
      const finish = (error: ConfigClientError | null) => {
        if (done) return;
        done = true;
        clearTimers();
        if (gen === generation) {
          dropPending();
          stopWatch = null;
        }
        unsubscribe();
        // A connection never acknowledged may still be connecting (a silent host): end it, since
        // graphql-ws's dispose() would wait for it.
        if (!acknowledged) drop();
        void Promise.resolve(ws.dispose()).catch(() => {});
        settle({ error, acknowledged });
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
          error: (reason) => finish(describeSocketFailure(reason, url)),
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

  function isFatal(error: ConfigClientError): boolean {
    // A token function may hand out a good token next time; a fixed string never will.
    if (refreshableToken && AUTH_CODES.has(error.code)) return false;
    return FATAL_CODES.has(error.code);
  }

  async function run(): Promise<void> {
    const impl = await resolveWebSocketImpl();
    while (!closed) {
      const url = urls[urlIndex % urls.length]!;
      let error: ConfigClientError | null = null;
      let acknowledged = false;
      try {
        const bearer = await tokenForAttempt();
        if (needList) {
          const data = await postGraphQL(url, ConfigsDocument, { namespace, prefix: prefix ?? null }, {
            token: bearer,
            timeoutMs: requestTimeoutMs,
            signal: abort.signal,
          });
          if (closed) return;
          currentUrl = url;
          connectionToken = bearer;
          needList = false;
          applySnapshot(data.configs);
        }
        ({ error, acknowledged } = await watch(url, impl, bearer));
      } catch (caught) {
        error = toError(caught);
      }
      if (closed) return;
      // The gateway closes an accepted connection with 4401 when its token expires.
      const expired = acknowledged && error !== null && AUTH_CODES.has(error.code);
      if (error && isFatal(error)) {
        fail(error);
        return;
      }
      // Expected endings (relist, token rotation, a gateway going away) are said by the state
      // event; every other failure is an error a service should log.
      const expected =
        error === null ||
        RELIST_CODES.has(error.code) ||
        expired ||
        (acknowledged && /^CLOSE_(\d+)$/.test(error.code) && CLEAN_CLOSES.has(Number(error.code.slice(6))));
      if (error) {
        lastError = error;
        if (!expected) emitError(error);
      }
      // A token problem is not this gateway's fault, nor is a resume it cannot serve.
      if (error && RELIST_CODES.has(error.code)) needList = true;
      else if (!expired && error?.code !== 'TOKEN_UNAVAILABLE') urlIndex += 1;
      failures += 1;
      setState(readySettled ? 'reconnecting' : 'connecting', error);
      if (!readySettled && failures >= urls.length) await loadFallback();
      if (closed) return;
      await sleep(backoffDelay());
    }
  }

  function fail(error: ConfigClientError): void {
    lastError = error;
    emitError(error);
    if (!readySettled) rejectReady(error);
    void close(error);
  }

  async function close(cause: ConfigClientError | null = null): Promise<void> {
    if (closed) return fallbackWriting;
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
    // Goodbye: a client that reported leaves `convergence` now instead of turning STALE, so a
    // rolling restart converges cleanly. Best effort and bounded: close() never hangs on it.
    const goodbye =
      lastReportAt > 0 && cause === null
        ? postGraphQL(currentUrl, ReportLeavingDocument, { namespace, clientId }, {
            token: connectionToken,
            timeoutMs: Math.min(requestTimeoutMs, 2_000),
          }).catch(() => {})
        : Promise.resolve();
    await Promise.all([writeFallbackNow(), goodbye]);
  }

  void run().catch((error: unknown) => fail(toError(error)));

  const client: ConfigClient = {
    ready() {
      readyAwaited = true;
      updateLifeline();
      return readyPromise;
    },
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
      updateLifeline();
      return () => {
        set.delete(listener);
        updateLifeline();
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
