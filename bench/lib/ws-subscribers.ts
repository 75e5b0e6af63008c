import WebSocket from 'ws';

/**
 * Many `configChanged` subscriptions over a few raw graphql-transport-ws sockets. Raw on purpose:
 * the bench process has to take 10,000 messages per change, and a full client would measure
 * itself more than the gateway.
 */
export interface SubscriberPool {
  /** Called with the subscription index and the raw message for every `next` that carries data. */
  onNext: ((index: number, data: string) => void) | null;
  /**
   * Subscriptions the gateway refused or ended with errors (`next` with errors only, or `error`),
   * since the last call, with the first refusal's message; they receive nothing more.
   */
  takeFailed(): { indexes: number[]; example: string | null };
  /** Subscribes `index` again (same id, same variables), as a client would after a refusal. */
  resubscribe(index: number): void;
  close(): Promise<void>;
}

export interface PoolOptions {
  wsUrl: string;
  token: string;
  sockets: number;
  subscriptions: number;
  /** Variables of subscription `index`. */
  variables(index: number): Record<string, unknown>;
  query: string;
}

/**
 * Operation ids shaped like the SDK's (graphql-ws' client makes UUIDs), the index in the last
 * group. Numeric ids would measure graphql-ws' per-socket operation map (an object) with an
 * elements array as long as the largest id, which no real client costs the gateway.
 */
const idOf = (index: number) => `00000000-0000-4000-8000-${String(index).padStart(12, '0')}`;
const indexOf = (id: string) => Number(id.slice(-12));

/** Opens the sockets, subscribes, and resolves once every socket is acknowledged and has sent its subscribes. */
export async function openSubscriberPool({ wsUrl, token, sockets, subscriptions, variables, query }: PoolOptions): Promise<SubscriberPool> {
  const opened: WebSocket[] = new Array(sockets);
  let failed: number[] = [];
  let example: string | null = null;
  const subscribe = (socket: WebSocket, index: number) =>
    socket.send(JSON.stringify({ id: idOf(index), type: 'subscribe', payload: { query, variables: variables(index) } }));
  const pool: SubscriberPool = {
    onNext: null,
    takeFailed() {
      const taken = { indexes: failed, example };
      failed = [];
      example = null;
      return taken;
    },
    resubscribe(index) {
      const socket = opened[index % sockets];
      if (socket?.readyState === WebSocket.OPEN) subscribe(socket, index);
    },
    close: async () => {},
  };
  await Promise.all(
    Array.from({ length: sockets }, (_, socketIndex) =>
      new Promise<void>((resolve, reject) => {
        const socket = new WebSocket(wsUrl, 'graphql-transport-ws');
        opened[socketIndex] = socket;
        socket.on('error', reject);
        socket.on('open', () => socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${token}` } })));
        socket.on('message', (raw) => {
          const data = raw.toString();
          if (data.startsWith('{"type":"connection_ack"')) {
            for (let index = socketIndex; index < subscriptions; index += sockets) subscribe(socket, index);
            resolve();
            return;
          }
          const id = () => indexOf(data.slice(data.indexOf('"id":"') + 6, data.indexOf('"', data.indexOf('"id":"') + 6)));
          if (data.includes('"type":"next"')) {
            if (data.includes('"payload":{"errors"')) {
              failed.push(id());
              example ??= data.slice(0, 300);
            } else pool.onNext?.(id(), data);
          } else if (data.includes('"type":"error"')) {
            failed.push(id());
            example ??= data.slice(0, 300);
          }
        });
      }),
    ),
  );
  pool.close = async () => {
    await Promise.all(
      opened.map(
        (socket) =>
          new Promise<void>((resolve) => {
            if (socket.readyState === WebSocket.CLOSED) return resolve();
            socket.once('close', () => resolve());
            socket.close(1000);
            setTimeout(() => {
              socket.terminate();
              resolve();
            }, 2_000).unref();
          }),
      ),
    );
  };
  return pool;
}
