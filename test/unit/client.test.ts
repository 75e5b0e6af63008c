import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createConfigClient, writeFallbackFile, type ConfigClientError } from '../../src/client/index.js';
import { freePort, waitFor } from '../helpers/net.js';

/** A host that accepts connections and never answers (a hung gateway, a black-holed route). */
async function silentServer(): Promise<{ url: string; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}/graphql`,
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

let dir: string;
let dead: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hotconf-client-unit-'));
  // A port nobody listens on: connections are refused at once, as with a gateway that is down.
  dead = `http://127.0.0.1:${await freePort()}/graphql`;
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('config client without a reachable gateway', () => {
  it('starts from the fallback file, says so, and keeps trying', async () => {
    const file = join(dir, 'demo.json');
    await writeFallbackFile(file, {
      format: 1,
      namespace: 'demo',
      prefix: null,
      revision: 7,
      savedAt: new Date().toISOString(),
      entries: { 'ai.threshold': { value: 0.8, version: 4, revision: 7 }, 'flags.x': { value: { enabled: true, rolloutPercentage: 100 }, version: 1, revision: 2 } },
    });
    const config = createConfigClient({ urls: [dead, dead], namespace: 'demo', fallbackFile: file, backoffInitialMs: 20 });
    try {
      await config.ready();
      expect(config.entry('ai.threshold')).toEqual({ value: 0.8, version: 4, revision: 7, source: 'fallback' });
      expect(config.revision).toBe(7);
      expect(config.versions()).toEqual({ 'ai.threshold': 4, 'flags.x': 1 });
      expect(config.isEnabled('flags.x', 'u1')).toBe(true);
      expect(config.snapshotSource).toBe('fallback');
      expect(config.secondsSinceConfirmation()).toBeNull();
      const states: string[] = [];
      config.on('state', (state) => states.push(state));
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(config.state).toBe('reconnecting');
    } finally {
      await config.close();
    }
    expect(config.state).toBe('closed');
  });

  it('answers get() synchronously from env and defaults before ready, and ignores a file of another namespace', async () => {
    const file = join(dir, 'other.json');
    await writeFallbackFile(file, { format: 1, namespace: 'other', prefix: null, revision: 1, savedAt: '', entries: { k: { value: 1, version: 1, revision: 1 } } });
    const config = createConfigClient({
      urls: dead,
      namespace: 'demo',
      fallbackFile: file,
      env: { HOTCONF__AI_THRESHOLD: '0.9' },
      defaults: { 'ai.model': 'small', k: 'default' },
      backoffInitialMs: 20,
    });
    let settled = false;
    const ready = config.ready().then(
      () => (settled = true),
      () => (settled = true),
    );
    expect(config.entry('ai.threshold')).toEqual({ value: 0.9, version: 0, revision: 0, source: 'env' });
    expect(config.get('ai.model')).toBe('small');
    expect(config.keys()).toEqual(['ai.model', 'ai.threshold', 'k']);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(settled).toBe(false);
    expect(config.get('k')).toBe('default');
    await config.close();
    await ready;
    await expect(config.ready()).rejects.toMatchObject({ code: 'CLOSED' });
  });

  it('refuses to start without a URL, with two ways of giving one, or with something that is not a URL', () => {
    expect(() => createConfigClient({ urls: [], namespace: 'demo' })).toThrow(/URL/);
    expect(() => createConfigClient({ namespace: 'demo' })).toThrow(/`url` or `urls`/);
    expect(() => createConfigClient({ url: dead, urls: [dead], namespace: 'demo' })).toThrow(/not both/);
    expect(() => createConfigClient({ url: '127.0.0.1:4000/graphql', namespace: 'demo' })).toThrow(/not a URL|not an http/);
    expect(() => createConfigClient({ url: 'ftp://gw/graphql', namespace: 'demo' })).toThrow(/not an http/);
  });

  it('takes a single `url` (the contract\'s name) as well as `urls`', async () => {
    const config = createConfigClient({ url: dead, namespace: 'demo', readyTimeoutMs: 60_000 });
    try {
      expect(config.url).toBe(dead);
      await waitFor(() => config.lastError !== null, 10_000, 'a first attempt');
      expect(config.lastError?.code).toBe('ECONNREFUSED');
    } finally {
      await config.close();
    }
  });

  it('says why it cannot connect: each failed attempt is an error event with the cause, and ready() rejects with it within readyTimeoutMs', async () => {
    const config = createConfigClient({ urls: [dead, dead], namespace: 'demo', readyTimeoutMs: 1_000, backoffInitialMs: 20 });
    const errors: ConfigClientError[] = [];
    config.on('error', (error) => errors.push(error));
    try {
      const failure = await config.ready().then(
        () => null,
        (error: ConfigClientError) => error,
      );
      expect(failure).toMatchObject({ name: 'ConfigClientError', code: 'ECONNREFUSED' });
      expect(failure?.message).toMatch(/not ready after 1000 ms: request to http:\/\/127\.0\.0\.1:\d+\/graphql failed: .*ECONNREFUSED/);
      expect(errors.length).toBeGreaterThanOrEqual(2);
      expect(errors.every((error) => error.code === 'ECONNREFUSED' && error.message.includes(dead))).toBe(true);
      expect(config.lastError?.code).toBe('ECONNREFUSED');
      // It keeps trying in the background after ready() gave up.
      expect(config.state).toBe('connecting');
      const before = errors.length;
      await waitFor(() => errors.length > before, 10_000, 'another attempt after ready() rejected');
    } finally {
      await config.close();
    }
  });

  it('settles ready() at readyTimeoutMs even while a request hangs: from the fallback file if there is one, else with TIMEOUT', async () => {
    const silent = await silentServer();
    const file = join(dir, 'silent.json');
    await writeFallbackFile(file, { format: 1, namespace: 'demo', prefix: null, revision: 3, savedAt: '', entries: { k: { value: 'saved', version: 2, revision: 3 } } });
    // The request would hang for a minute; ready() must not wait for it.
    const withFile = createConfigClient({ url: silent.url, namespace: 'demo', fallbackFile: file, requestTimeoutMs: 60_000, readyTimeoutMs: 500 });
    const withoutFile = createConfigClient({ url: silent.url, namespace: 'demo', requestTimeoutMs: 60_000, readyTimeoutMs: 500 });
    try {
      await withFile.ready();
      expect(withFile.entry('k')).toEqual({ value: 'saved', version: 2, revision: 3, source: 'fallback' });
      await expect(withoutFile.ready()).rejects.toMatchObject({ code: 'TIMEOUT', message: expect.stringContaining(silent.url) });
    } finally {
      await Promise.all([withFile.close(), withoutFile.close(), silent.close()]);
    }
  }, 30_000);

  it('calls a token function before every attempt, and retries when it fails (TOKEN_UNAVAILABLE)', async () => {
    let calls = 0;
    const config = createConfigClient({
      url: dead,
      namespace: 'demo',
      backoffInitialMs: 20,
      backoffMaxMs: 40,
      token: async () => {
        calls += 1;
        if (calls === 1) throw new Error('vault is sealed');
        return `token-${calls}`;
      },
    });
    const errors: ConfigClientError[] = [];
    config.on('error', (error) => errors.push(error));
    try {
      await waitFor(() => calls >= 3, 10_000, 'three attempts');
      expect(errors[0]).toMatchObject({ code: 'TOKEN_UNAVAILABLE', message: expect.stringContaining('vault is sealed') });
      expect(errors[1]).toMatchObject({ code: 'ECONNREFUSED' });
    } finally {
      await config.close();
    }
  });
});
