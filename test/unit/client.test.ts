import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createConfigClient, writeFallbackFile } from '../../src/client/index.js';
import { freePort } from '../helpers/net.js';

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

  it('refuses to start without a URL', () => {
    expect(() => createConfigClient({ urls: [], namespace: 'demo' })).toThrow(/URL/);
  });
});
