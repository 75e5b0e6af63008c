import WebSocket from 'ws';

/**
 * Many `configChanged` subscriptions over a few raw graphql-transport-ws sockets. Raw on purpose:
 * the bench process has to take 10,000 messages per change, and a full client would measure
 * itself more than the gateway.
 */
export interface SubscriberPool {
  /** Called with the subscription index and the raw message for every `next`. */
  onNext: ((index: number, data: string) => void) | null;
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

/** Opens the sockets, subscribes, and resolves once every socket is acknowledged and has sent its subscribes. */
export async function openSubscriberPool({ wsUrl, token, sockets, subscriptions, variables, query }: PoolOptions): Promise<SubscriberPool> {
  const pool: SubscriberPool = { onNext: null, close: async () => {} };
  const opened: WebSocket[] = [];
  await Promise.all(
    Array.from({ length: sockets }, (_, socketIndex) =>
      new Promise<void>((resolve, reject) => {
        const socket = new WebSocket(wsUrl, 'graphql-transport-ws');
        opened.push(socket);
        socket.on('error', reject);
        socket.on('open', () => socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${token}` } })));
        socket.on('message', (raw) => {
          const data = raw.toString();
          if (data.startsWith('{"type":"connection_ack"')) {
            for (let index = socketIndex; index < subscriptions; index += sockets) {
              socket.send(JSON.stringify({ id: String(index), type: 'subscribe', payload: { query, variables: variables(index) } }));
            }
            resolve();
            return;
          }
          if (data.includes('"type":"next"')) {
            const id = Number(data.slice(data.indexOf('"id":"') + 6, data.indexOf('"', data.indexOf('"id":"') + 6)));
            pool.onNext?.(id, data);
          } else if (data.includes('"type":"error"')) {
            process.stderr.write(`subscription error: ${data.slice(0, 300)}\n`);
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
