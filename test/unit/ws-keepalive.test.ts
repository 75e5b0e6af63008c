import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { buildSchema } from 'graphql';
import WebSocket from 'ws';
import { attachGraphqlWs, type WebSocketAdapter } from '../../src/server/ws-adapter.js';
import { createInterner } from '../../src/server/websocket.js';

const CEILING_MS = 20_000;

describe('ws adapter keepalive (one timer for all sockets)', () => {
  let server: Server | null = null;
  let adapter: WebSocketAdapter | null = null;
  afterEach(async () => {
    await adapter?.dispose();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  });

  it('terminates a peer that does not answer pings and keeps one that does', async () => {
    server = createServer();
    adapter = attachGraphqlWs({
      server,
      path: '/graphql',
      maxMessageBytes: 1_024,
      keepAliveMs: 1_000, // generous: a loaded machine must still answer within one interval
      // No connection_init is sent: graphql-ws' own 3 s wait for it must not close the sockets first.
      graphql: { schema: buildSchema('type Query { a: Int }'), connectionInitWaitTimeout: 120_000 },
    });
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    const url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}/graphql`;
    const open = (autoPong: boolean) =>
      new Promise<WebSocket>((resolve, reject) => {
        const socket = new WebSocket(url, 'graphql-transport-ws', { autoPong });
        socket.once('open', () => resolve(socket));
        socket.once('error', reject);
      });
    const alive = await open(true);
    const silent = await open(false);
    let alivePings = 0;
    alive.on('ping', () => alivePings++);
    let silentPings = 0;
    silent.on('ping', () => silentPings++);
    const silentClosed = new Promise<number>((resolve) => silent.once('close', (code) => resolve(code)));
    const aliveClosed = new Promise<never>((_, reject) => alive.once('close', () => reject(new Error('the answering peer was closed'))));
    aliveClosed.catch(() => undefined); // closed at the end on purpose

    // Terminated (no close frame: 1006 on the client) after a ping it left unanswered.
    expect(await Promise.race([silentClosed, aliveClosed])).toBe(1006);
    expect(silentPings).toBeGreaterThanOrEqual(1);
    // The answering peer keeps being pinged and stays open past several rounds.
    const target = alivePings + 2;
    await Promise.race([
      new Promise<void>((resolve, reject) => {
        const check = setInterval(() => {
          if (alivePings >= target) {
            clearInterval(check);
            resolve();
          }
        }, 20);
        setTimeout(() => {
          clearInterval(check);
          reject(new Error('no further pings'));
        }, CEILING_MS).unref();
      }),
      aliveClosed,
    ]);
    expect(alive.readyState).toBe(WebSocket.OPEN);
    alive.terminate();
  }, 60_000);
});

describe('createInterner', () => {
  it('returns one copy per distinct string until its byte budget is spent', () => {
    const intern = createInterner(10);
    const first = intern(['abc', 'def'].join(''));
    expect(intern('abcdef')).toBe(first);
    expect(intern('0123456789')).toBe('0123456789'); // over the budget: returned as given
    expect(intern('abcdef')).toBe('abcdef');
  });
});
