/**
 * The public types of `createConfigClient` (`hotconf/client`, `@hotconf/client`): options,
 * events, the client interface. Kept apart from the implementation so the contract reads in one
 * place.
 */
import type { FlagEvaluationResult } from '../shared/flags.js';
// From errors.js, not transport.js: the emitted .d.ts then references only public modules.
import type { ConfigClientError } from './errors.js';
import type { ConfigChangeEvent, ResolvedEntry } from './values.js';

/** Connection state, for a service's health endpoint. */
export type ClientState = 'connecting' | 'connected' | 'reconnecting' | 'closed';

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
