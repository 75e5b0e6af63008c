/**
 * One graphql-ws connection (src/client/connection.ts) over a scripted fake WebSocket: what each
 * way of ending becomes, and what reaches the caller before it.
 */
import { describe, expect, it } from 'vitest';
import { openWatch, type WatchOptions } from '../../src/client/connection.js';
import { ConfigClientError } from '../../src/client/errors.js';
import type { WebSocketConstructor } from '../../src/client/web-socket.js';
import { waitFor } from '../helpers/net.js';

class FakeSocket {
  static readonly CONNECTING = 0;
  static readonly OPEN = 1;
  static readonly CLOSING = 2;
  static readonly CLOSED = 3;
  static created: FakeSocket[] = [];
  readyState = 0;
  /** Pings answered at once (a live peer), before the fake goes silent. */
  autoPongs = 0;
  readonly sent: Array<{ type: string; id?: string; payload?: unknown }> = [];
  onopen: (() => void) | null = null;
  onmessage: ((event: { data: string }) => void) | null = null;
  onclose: ((event: { code: number; reason: string }) => void) | null = null;
  onerror: ((event: unknown) => void) | null = null;
  constructor(readonly url: string) {
    FakeSocket.created.push(this);
  }
  open(): void {
    this.readyState = 1;
    this.onopen?.();
  }
  send(data: string): void {
    const message = JSON.parse(data) as { type: string };
    this.sent.push(message);
    if (message.type === 'ping' && this.autoPongs > 0) {
      this.autoPongs -= 1;
      queueMicrotask(() => this.receive({ type: 'pong' }));
    }
  }
  receive(message: object): void {
    this.onmessage?.({ data: JSON.stringify(message) });
  }
  close(code = 1000, reason = ''): void {
    if (this.readyState === 3) return;
    this.readyState = 3;
    this.onclose?.({ code, reason });
  }
  terminate(): void {
    this.close(1006, '');
  }
}

function watch(overrides: Partial<WatchOptions<{ n: number }>> = {}) {
  const before = FakeSocket.created.length;
  const data: number[] = [];
  let connected = 0;
  let pongs = 0;
  const running = openWatch<{ n: number }>({
    url: 'http://gw/graphql',
    impl: FakeSocket as unknown as WebSocketConstructor,
    token: 'secret',
    query: 'subscription { x }',
    variables: { since: 3 },
    ackTimeoutMs: 60_000,
    keepAliveMs: 0,
    pongTimeoutMs: 60_000,
    onConnected: () => void (connected += 1),
    onPong: () => void (pongs += 1),
    onData: (value) => {
      data.push(value.n);
      return null;
    },
    ...overrides,
  });
  const socket = async () => {
    await waitFor(() => FakeSocket.created.length > before, 5_000, 'socket created');
    return FakeSocket.created[before]!;
  };
  return { running, socket, data, connected: () => connected, pongs: () => pongs };
}

async function acknowledge(socket: FakeSocket): Promise<string> {
  socket.open();
  await waitFor(() => socket.sent.some((m) => m.type === 'connection_init'), 5_000, 'connection_init');
  expect(socket.sent[0]).toEqual({ type: 'connection_init', payload: { authorization: 'Bearer secret' } });
  socket.receive({ type: 'connection_ack' });
  await waitFor(() => socket.sent.some((m) => m.type === 'subscribe'), 5_000, 'subscribe');
  return socket.sent.find((m) => m.type === 'subscribe')!.id!;
}

describe('connection (graphql-ws, retries off)', () => {
  it('connects to the ws URL, subscribes with the given variables, delivers data, and a 4401 close is UNAUTHENTICATED after ack', async () => {
    const w = watch();
    const socket = await w.socket();
    expect(socket.url).toBe('ws://gw/graphql');
    const id = await acknowledge(socket);
    expect(w.connected()).toBe(1);
    expect(socket.sent.find((m) => m.type === 'subscribe')?.payload).toEqual({ query: 'subscription { x }', variables: { since: 3 } });
    socket.receive({ type: 'next', id, payload: { data: { n: 4 } } });
    socket.receive({ type: 'next', id, payload: { data: { n: 5 } } });
    socket.close(4401, 'Token expired');
    const ending = await w.running.ended;
    expect(w.data).toEqual([4, 5]);
    expect(ending.acknowledged).toBe(true);
    expect(ending.error?.code).toBe('UNAUTHENTICATED');
    expect(ending.error?.message).toMatch(/4401 Token expired/);
  });

  it('GraphQL errors on the subscription end it with their code (REVISION_COMPACTED)', async () => {
    const w = watch();
    const socket = await w.socket();
    const id = await acknowledge(socket);
    socket.receive({ type: 'error', id, payload: [{ message: 'compacted', extensions: { code: 'REVISION_COMPACTED' } }] });
    const ending = await w.running.ended;
    expect(ending.error?.code).toBe('REVISION_COMPACTED');
  });

  it('an error returned by onData ends the watch with it', async () => {
    const w = watch({ onData: () => new ConfigClientError('half a batch', 'INCOMPLETE_REVISION') });
    const socket = await w.socket();
    const id = await acknowledge(socket);
    socket.receive({ type: 'next', id, payload: { data: { n: 1 } } });
    expect((await w.running.ended).error?.code).toBe('INCOMPLETE_REVISION');
  });

  it('no connection_ack in time: TIMEOUT, never acknowledged, the socket dropped', async () => {
    const w = watch({ ackTimeoutMs: 50 });
    const socket = await w.socket();
    socket.open();
    const ending = await w.running.ended;
    expect(ending).toMatchObject({ acknowledged: false });
    expect(ending.error?.code).toBe('TIMEOUT');
    expect(socket.readyState).toBe(3);
  });

  it('pings once connected; a pong confirms; a missing pong is PONG_TIMEOUT', async () => {
    const w = watch({ keepAliveMs: 20, pongTimeoutMs: 100 });
    const socket = await w.socket();
    socket.autoPongs = 1;
    await acknowledge(socket);
    // The first ping is answered, the next one is not.
    const ending = await w.running.ended;
    expect(w.pongs()).toBe(1);
    expect(socket.sent.filter((m) => m.type === 'ping')).toHaveLength(2);
    expect(ending.error?.code).toBe('PONG_TIMEOUT');
    expect(ending.acknowledged).toBe(true);
  });

  it('stop() ends it with no error', async () => {
    const w = watch();
    const socket = await w.socket();
    await acknowledge(socket);
    w.running.stop();
    expect(await w.running.ended).toEqual({ error: null, acknowledged: true });
  });
});
