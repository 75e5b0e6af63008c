import WebSocket from 'ws';
import { waitFor } from './net.js';

/** A graphql-transport-ws message as it crossed the wire. */
export interface WsMessage {
  type: string;
  id?: string;
  payload?: unknown;
}

/** A raw graphql-ws socket: every message and the close, for tests that need the protocol itself. */
export interface RawSocket extends AsyncDisposable {
  socket: WebSocket;
  messages: WsMessage[];
  /** Set once the socket closed. */
  readonly closed: { code: number; reason: string } | null;
  /** Resolves with the close code and reason. */
  closing: Promise<{ code: number; reason: string }>;
  /** Waits (at most `timeoutMs`) for the socket to close; resolves with the close code and reason. */
  closedWithin(timeoutMs: number): Promise<{ code: number; reason: string }>;
  send(message: WsMessage): void;
  /** Sends `connection_init` (with `authorization: Bearer <token>` when given) and waits for `connection_ack`. */
  init(token?: string): Promise<void>;
  subscribe(id: string, query: string, variables?: Record<string, unknown>): void;
  /** Messages for subscription `id`. */
  of(id: string): WsMessage[];
  /** Waits until `check(messages)` holds. */
  until(check: (messages: WsMessage[]) => boolean, what: string, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

/**
 * Opens a socket speaking graphql-transport-ws to `url` (no client library in between).
 * `zeroMask` sends frames with an all-zero mask, which ws writes without masking them byte by
 * byte: a 50 MiB frame leaves at once, as from a hostile client.
 */
export async function openRawSocket(url: string, { zeroMask = false }: { zeroMask?: boolean } = {}): Promise<RawSocket> {
  const socket = new WebSocket(url, 'graphql-transport-ws', zeroMask ? { generateMask: (mask: Buffer) => void mask.fill(0) } : {});
  const messages: WsMessage[] = [];
  let closed: { code: number; reason: string } | null = null;
  const closing = new Promise<{ code: number; reason: string }>((resolve) => {
    socket.on('close', (code, reason) => {
      closed = { code, reason: reason.toString() };
      resolve(closed);
    });
  });
  socket.on('error', () => {}); // a refused frame surfaces as the close code
  socket.on('message', (data) => messages.push(JSON.parse(data.toString()) as WsMessage));
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
  });
  const until: RawSocket['until'] = (check, what, timeoutMs = 15_000) =>
    waitFor(
      () => {
        if (check(messages)) return true;
        if (closed) throw new Error(`socket closed (${closed.code} ${closed.reason}) while waiting for ${what}; got ${JSON.stringify(messages).slice(0, 500)}`);
        return false;
      },
      timeoutMs,
      what,
    );
  const close = async () => {
    if (closed) return;
    socket.close(1000);
    await closing;
  };
  return {
    socket,
    messages,
    get closed() {
      return closed;
    },
    closing,
    async closedWithin(timeoutMs) {
      await waitFor(() => closed !== null, timeoutMs, 'the socket to close');
      return closed!;
    },
    send: (message) => socket.send(JSON.stringify(message)),
    async init(token) {
      socket.send(JSON.stringify({ type: 'connection_init', payload: token ? { authorization: `Bearer ${token}` } : {} }));
      await until((all) => all.some((message) => message.type === 'connection_ack'), 'connection_ack');
    },
    subscribe(id, query, variables = {}) {
      socket.send(JSON.stringify({ id, type: 'subscribe', payload: { query, variables } }));
    },
    of: (id) => messages.filter((message) => message.id === id),
    until,
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** The `extensions.code`s of the errors a subscription `id` received (in `next` or `error` messages). */
export function errorCodesOf(messages: WsMessage[], id: string): string[] {
  const codes: string[] = [];
  for (const message of messages) {
    if (message.id !== id) continue;
    const errors =
      message.type === 'error'
        ? (message.payload as Array<{ extensions?: { code?: string } }>)
        : message.type === 'next'
          ? ((message.payload as { errors?: Array<{ extensions?: { code?: string } }> }).errors ?? [])
          : [];
    for (const error of errors) codes.push(error.extensions?.code ?? 'NONE');
  }
  return codes;
}
