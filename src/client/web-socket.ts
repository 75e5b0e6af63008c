/**
 * Which WebSocket the client opens: `ws` on Node with sockets that do not keep the process alive,
 * else the platform's (or the one given in `webSocketImpl`).
 */
import { connect as netConnect, isIP, type NetConnectOpts } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import { ConfigClientError } from './errors.js';

/** The socket as graphql-ws hands it over: a `ws` WebSocket or a platform one. */
export interface RawSocket {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  terminate?: () => void;
}

export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => RawSocket;

const STATES = { CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3 };

/**
 * `ws`, with sockets that do not keep the process alive: whether the process stays up is decided
 * by whoever waits on the client (a pending `ready()`, a `change` listener) and by the service's
 * own work, never by the connection alone.
 * A constructor function rather than a subclass: graphql-ws only needs `new` and the state constants.
 */
export function unrefWebSocket(WebSocket: typeof import('ws').WebSocket): WebSocketConstructor {
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
  return Object.assign(create, STATES) as unknown as WebSocketConstructor;
}

/** `impl`, noting each socket it creates so the client can drop a connection graphql-ws still waits on. */
export function recording(impl: WebSocketConstructor, onCreate: (socket: RawSocket) => void): WebSocketConstructor {
  function create(url: string, protocols?: string | string[]): RawSocket {
    const socket = new impl(url, protocols);
    onCreate(socket);
    return socket;
  }
  return Object.assign(create, STATES) as unknown as WebSocketConstructor;
}

/** The given constructor; else `ws` (unref'd) on Node; else the platform's WebSocket. */
export async function resolveWebSocketImpl(given: unknown): Promise<WebSocketConstructor> {
  if (given) return given as WebSocketConstructor;
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

/** Unref'd: the client's own timers never keep the process alive. */
export function later(fn: () => void, ms: number): ReturnType<typeof setTimeout> {
  const timer = setTimeout(fn, ms);
  timer.unref?.();
  return timer;
}
