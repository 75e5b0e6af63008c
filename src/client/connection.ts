/**
 * One graphql-ws connection carrying one subscription, with the client's own ack timeout and
 * ping/pong (graphql-ws's timers would keep the process alive). It never retries: what happens
 * after it ends is `revision-stream.ts`'s business, judged by `close-codes.ts`.
 */
// The client entry only: the package root also loads graphql-ws's server, which needs `graphql`.
import { createClient, type Client as WsClient } from 'graphql-ws/client';
import type { Ending } from './close-codes.js';
import { describeSocketFailure } from './close-codes.js';
import { ConfigClientError } from './errors.js';
import { toClientError, toWebSocketUrl, type ResponseError } from './transport.js';
import { later, recording, type RawSocket, type WebSocketConstructor } from './web-socket.js';

export interface ConnectionTimings {
  /** Longest wait for `connection_ack`. */
  ackTimeoutMs: number;
  /** Ping interval once connected; `0` turns pings off. */
  keepAliveMs: number;
  /** Drop the connection when a ping gets no pong in this time. */
  pongTimeoutMs: number;
}

export interface WatchOptions<TData> extends ConnectionTimings {
  url: string;
  impl: WebSocketConstructor;
  /** Sent as `authorization: Bearer …` in `connection_init`. */
  token: string | undefined;
  query: string;
  variables: Record<string, unknown>;
  /** The gateway accepted the connection (`connection_ack`). */
  onConnected?: () => void;
  /** A pong arrived: the connection is healthy, not just acknowledged. */
  onPong?: () => void;
  /** One result's data; an error returned ends the watch with it. */
  onData: (data: TData) => ConfigClientError | null;
}

/** A running watch: `ended` settles (never rejects) when the connection or subscription ends. */
export interface Watch {
  readonly ended: Promise<Ending>;
  /** Ends the watch now (`ended` settles with no error). */
  stop(): void;
}

/** Opens the connection and subscribes. */
export function openWatch<TData>(options: WatchOptions<TData>): Watch {
  const { url, impl, token, ackTimeoutMs, keepAliveMs, pongTimeoutMs } = options;
  let stop: () => void = () => {};
  const ended = new Promise<Ending>((settle) => {
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
      // Retries are decided by close-codes.ts and paced by revision-stream.ts, which resumes from
      // the revision applied by then (graphql-ws would re-send the first subscribe's variables).
      retryAttempts: 0,
      shouldRetry: () => false,
      keepAlive: 0,
      connectionAckWaitTimeout: 0,
      connectionParams: token ? { authorization: `Bearer ${token}` } : {},
      on: {
        connected: () => {
          acknowledged = true;
          clearTimeout(ackTimer);
          if (done) return;
          options.onConnected?.();
          schedulePing();
        },
        pong: (received) => {
          if (!received || done) return;
          if (pongTimer) clearTimeout(pongTimer);
          pongTimer = null;
          schedulePing();
          options.onPong?.();
        },
      },
    });
    const ackTimer = later(() => {
      drop();
      finish(new ConfigClientError(`no connection_ack from ${url} within ${ackTimeoutMs} ms`, 'TIMEOUT'));
    }, ackTimeoutMs);
    const finish = (error: ConfigClientError | null) => {
      if (done) return;
      done = true;
      clearTimers();
      unsubscribe();
      // A connection never acknowledged may still be connecting (a silent host): end it, since
      // graphql-ws's dispose() would wait for it.
      if (!acknowledged) drop();
      void Promise.resolve(ws.dispose()).catch(() => {});
      settle({ error, acknowledged });
    };
    const unsubscribe = ws.subscribe<TData>(
      { query: options.query, variables: options.variables },
      {
        next: (result) => {
          if (done) return;
          if (result.errors?.length) {
            finish(toClientError(result.errors as unknown as ResponseError[]));
            return;
          }
          if (result.data) {
            const broken = options.onData(result.data);
            if (broken) finish(broken);
          }
        },
        error: (reason) => finish(describeSocketFailure(reason, url)),
        complete: () => finish(null),
      },
    );
    stop = () => finish(null);
  });
  return { ended, stop: () => stop() };
}
