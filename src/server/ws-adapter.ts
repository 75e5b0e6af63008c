import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { CloseCode, handleProtocols, makeServer, type ServerOptions } from 'graphql-ws';
import { WebSocketServer, type WebSocket } from 'ws';

/**
 * The frames a socket sends, written in batches: everything queued within one event-loop turn
 * leaves in one socket write (the raw socket corked around the turn's frames), in order.
 */
export interface FrameWriter {
  /** Queues one text frame; a socket no longer open drops it. */
  write(frame: string): void;
  /** Bytes queued here and in the socket's own buffer, not yet handed to the kernel. */
  readonly buffered: number;
  readonly open: boolean;
  /** Sends what is queued, then closes the socket with `code`. */
  close(code: number, reason: string): void;
}

/** What every graphql-ws hook of a socket sees in `ctx.extra`. */
export interface SocketExtra {
  socket: WebSocket;
  request: IncomingMessage;
  frames: FrameWriter;
}

export interface WebSocketAdapterOptions<P extends Record<string, unknown> | undefined, E extends Record<PropertyKey, unknown>> {
  server: Server;
  path: string;
  /** Largest message accepted, from the first frame on: a bigger one closes the socket with 1009. */
  maxMessageBytes: number;
  /** Interval of pings that detect dead peers (a peer that misses a pong is terminated); 0 disables. */
  keepAliveMs: number;
  /**
   * Bytes a socket may have queued before graphql-ws waits for it to drain before sending the
   * next result of a subscription. @default 1 MiB
   */
  highWaterMark?: number;
  /**
   * Rewrites an incoming message of at least `compactAboveBytes` before graphql-ws handles it.
   * graphql-ws keeps the text of a `subscribe` message for as long as the subscription runs, so
   * this is where whatever the operation does not use is dropped. @default undefined (as received)
   */
  compactMessage?: (message: string) => string;
  /** Messages this long or longer go through `compactMessage`. @default 65_536 (64 KiB) */
  compactAboveBytes?: number;
  graphql: ServerOptions<P, E & SocketExtra>;
}

export interface WebSocketAdapter {
  readonly sockets: number;
  /** Closes every socket with 1001 (Going Away) and stops taking upgrades. */
  dispose(): Promise<void>;
}

/**
 * graphql-ws' `makeServer` on a `ws` server in no-server mode, upgrades taken from `server` for
 * `path`. It owns each socket: the raw stream of the upgrade (for corking a turn's frames into one
 * write), the message size cap, keepalive, close on shutdown. A send resolves at once unless the
 * socket is over `highWaterMark`, so a stream of results is not paced by one write callback per
 * result (graphql-ws awaits every send).
 */
export function attachGraphqlWs<P extends Record<string, unknown> | undefined, E extends Record<PropertyKey, unknown>>({
  server,
  path,
  maxMessageBytes,
  keepAliveMs,
  highWaterMark = 1_048_576, // 1 MiB
  compactMessage,
  compactAboveBytes = 65_536, // 64 KiB
  graphql,
}: WebSocketAdapterOptions<P, E>): WebSocketAdapter {
  const protocol = makeServer<P, E & SocketExtra>(graphql);
  // ws' own default (100 MiB) would buffer a whole hostile frame before anyone authenticated.
  const wss = new WebSocketServer({ noServer: true, path, maxPayload: maxMessageBytes, handleProtocols: (protocols) => handleProtocols(protocols) });
  const internalError = (socket: WebSocket) => {
    if (socket.readyState === socket.OPEN || socket.readyState === socket.CONNECTING) socket.close(CloseCode.InternalServerError, 'Internal server error');
  };
  wss.on('error', () => {
    for (const client of wss.clients) internalError(client);
  });

  // Keepalive: one timer for all sockets, not one per socket (an idle socket's cost counts). Every
  // keepAliveMs each open socket is pinged; one whose previous ping got no pong by then (a dead
  // peer) is terminated, keepAliveMs after that ping.
  const unanswered = new WeakSet<WebSocket>();
  const answered = function (this: WebSocket) {
    unanswered.delete(this);
  };
  const keepAlive =
    keepAliveMs > 0 && Number.isFinite(keepAliveMs)
      ? setInterval(() => {
          for (const socket of wss.clients) {
            if (socket.readyState !== socket.OPEN) continue;
            if (unanswered.has(socket)) {
              socket.terminate();
              continue;
            }
            unanswered.add(socket);
            socket.ping();
          }
        }, keepAliveMs).unref()
      : null;

  const onUpgrade = (request: IncomingMessage, raw: Duplex, head: Buffer) => {
    // A path not ours is refused with 400 by ws (its `path` option), as in server mode.
    wss.handleUpgrade(request, raw, head, (socket) => connected(socket, request, raw));
  };
  server.on('upgrade', onUpgrade);

  const connected = (socket: WebSocket, request: IncomingMessage, raw: Duplex) => {
    // A frame over maxPayload is closed with 1009 by ws itself before this handler runs.
    socket.on('error', () => internalError(socket));
    const frames = createFrameWriter(socket, raw, highWaterMark, (code, reason) => socket.close(code, reason));

    if (keepAlive) socket.on('pong', answered);

    const closed = protocol.opened(
      {
        protocol: socket.protocol,
        send: (data) => frames.send(data),
        close: (code, reason) => frames.close(code ?? 1000, reason ?? ''),
        onMessage: (handle) =>
          socket.on('message', (data: Buffer | ArrayBuffer | Buffer[]) => {
            const text = String(data);
            handle(compactMessage && text.length >= compactAboveBytes ? compactMessage(text) : text).catch(() => internalError(socket));
          }),
      },
      // The extra's own fields (E) are filled in by the hooks (onConnect).
      { socket, request, frames } as unknown as E & SocketExtra,
    );
    // `on`, not `once`: ws emits 'close' once, and a `once` wrapper is two more objects per socket.
    socket.on('close', (code: number, reason: Buffer) => {
      frames.closed();
      void closed(code, String(reason));
    });
  };

  let disposing: Promise<void> | null = null;
  return {
    get sockets() {
      return wss.clients.size;
    },
    dispose: () =>
      (disposing ??= (async () => {
        server.off('upgrade', onUpgrade);
        if (keepAlive) clearInterval(keepAlive);
        for (const client of wss.clients) client.close(1001, 'Going away');
        await new Promise<void>((resolve, reject) => wss.close((error) => (error ? reject(error) : resolve())));
      })()),
  };
}

export interface SocketFrames extends FrameWriter {
  /** graphql-ws' send: queued; resolves once the socket is below the high-water mark again. */
  send(frame: string): Promise<void> | void;
  /** The socket closed: waiters are released, the queue dropped. */
  closed(): void;
}

/** The socket and raw stream surface a frame writer uses (a `ws` socket and its upgraded stream). */
type FrameSocket = Pick<WebSocket, 'readyState' | 'OPEN' | 'bufferedAmount' | 'send'>;
type RawStream = Pick<Duplex, 'cork' | 'uncork' | 'once'>;

/**
 * The batching writer of one socket (exported for its unit test). A class, not closures: every
 * idle connection holds one, so its methods live once on the prototype.
 */
export function createFrameWriter(socket: FrameSocket, raw: RawStream, highWaterMark: number, close: (code: number, reason: string) => void): SocketFrames {
  return new BatchingFrameWriter(socket, raw, highWaterMark, close);
}

const flushWriter = (writer: BatchingFrameWriter) => writer.flush();

class BatchingFrameWriter implements SocketFrames {
  private queue: string[] = [];
  private queuedBytes = 0;
  private scheduled = false;
  private waiters: Array<() => void> = [];
  /** A drain listener is waiting to release `waiters`. */
  private draining = false;

  constructor(
    private readonly socket: FrameSocket,
    private readonly raw: RawStream,
    private readonly highWaterMark: number,
    private readonly closeSocket: (code: number, reason: string) => void,
  ) {}

  private release(): void {
    const released = this.waiters;
    if (released.length === 0) return;
    this.waiters = [];
    for (const resolve of released) resolve();
  }

  flush(): void {
    this.scheduled = false;
    const frames = this.queue;
    this.queue = [];
    this.queuedBytes = 0;
    const { socket, raw } = this;
    if (socket.readyState !== socket.OPEN) return this.release();
    // One write for the turn's frames: ws frames each message, the corked stream gathers them.
    raw.cork();
    for (const frame of frames) socket.send(frame);
    raw.uncork();
    if (this.waiters.length === 0 || this.draining) return;
    if (socket.bufferedAmount <= this.highWaterMark) return this.release();
    this.draining = true;
    raw.once('drain', () => {
      this.draining = false;
      this.release();
    });
  }

  write(frame: string): void {
    if (this.socket.readyState !== this.socket.OPEN) return;
    this.queue.push(frame);
    this.queuedBytes += frame.length;
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(flushWriter, this);
    }
  }

  send(frame: string): Promise<void> | void {
    this.write(frame);
    if (this.queuedBytes + this.socket.bufferedAmount <= this.highWaterMark || this.socket.readyState !== this.socket.OPEN) return;
    return new Promise<void>((resolve) => this.waiters.push(resolve));
  }

  get buffered(): number {
    return this.queuedBytes + this.socket.bufferedAmount;
  }

  get open(): boolean {
    return this.socket.readyState === this.socket.OPEN;
  }

  close(code: number, reason: string): void {
    if (this.queue.length > 0) this.flush();
    this.closeSocket(code, reason);
  }

  closed(): void {
    this.queue = [];
    this.queuedBytes = 0;
    this.release();
  }
}
