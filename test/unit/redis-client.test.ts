/**
 * The Redis client factory's reading of REDIS_URL and its sorting of connection errors; the
 * connections themselves are exercised against real servers in test/integration/redis-cluster.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { Cluster, Redis } from 'ioredis';
import { classifyRedisError, createRedisClientFactory, parseRedisUrl } from '../../src/bus/redis-client.js';
import { loadConfig } from '../../src/config.js';
import { waitFor } from '../helpers/net.js';

describe('REDIS_URL', () => {
  it('carries user, percent-encoded password, database, TLS and address family', () => {
    expect(parseRedisUrl('redis://127.0.0.1:6379')).toEqual({ host: '127.0.0.1', port: 6379, db: 0, tls: false });
    expect(parseRedisUrl('rediss://hotconf:p%40ss%3Aw%2Frd@redis.internal:6380/2?family=6')).toEqual({
      host: 'redis.internal',
      port: 6380,
      db: 2,
      tls: true,
      username: 'hotconf',
      password: 'p@ss:w/rd',
      family: 6,
    });
    // requirepass only: an empty user name means the default user.
    expect(parseRedisUrl('redis://:secret@[::1]')).toEqual({ host: '::1', port: 6379, db: 0, tls: false, password: 'secret' });
  });

  it('refuses what it cannot honour, without echoing the password', () => {
    expect(() => parseRedisUrl('http://x')).toThrow(/redis: or rediss:/);
    expect(() => parseRedisUrl('redis://:hunter2@h/x')).toThrow(/database number/);
    expect(() => parseRedisUrl('redis://:hunter2@h/x')).not.toThrow(/hunter2/);
    expect(() => parseRedisUrl('redis://h?tls=true')).toThrow(/unsupported parameter "tls"/);
    expect(() => createRedisClientFactory({ redisUrl: 'redis://h:7000/3', cluster: true })).toThrow(/only database 0/);
    expect(() => loadConfig({ REDIS_URL: 'redis://:hunter2@h:7000/3', HOTCONF_REDIS_CLUSTER: '1' })).toThrow(/only database 0/);
    expect(loadConfig({ REDIS_URL: 'rediss://u:p@h:7000/0', HOTCONF_REDIS_CLUSTER: '1' }).redisCluster).toBe(true);
  });
});

describe('connection errors are sorted by what the operator must fix', () => {
  it('a cluster that cannot refresh its slots reports the node error inside (NOAUTH, WRONGPASS)', () => {
    const clusterError = Object.assign(new Error('Failed to refresh slots cache.'), { lastNodeError: new Error('NOAUTH Authentication required.') });
    expect(classifyRedisError(clusterError)).toMatchObject({ kind: 'auth', code: 'NOAUTH', cause: 'NOAUTH Authentication required.' });
    expect(classifyRedisError(new Error('WRONGPASS invalid username-password pair or user is disabled.'))).toMatchObject({ kind: 'auth', code: 'WRONGPASS' });
    expect(classifyRedisError(new Error("NOPERM this user has no permissions to run the 'publish' command"))).toMatchObject({ kind: 'permission' });
    expect(classifyRedisError(Object.assign(new Error('self-signed certificate in certificate chain'), { code: 'SELF_SIGNED_CERT_IN_CHAIN' }))).toMatchObject({ kind: 'tls' });
    expect(classifyRedisError(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' }))).toMatchObject({ kind: 'unreachable', code: 'ECONNREFUSED' });
  });

  it('a Redis that keeps refusing connections is logged once, however many connections retry', async () => {
    const lines: Array<{ level: string; fields: Record<string, unknown>; message: string }> = [];
    const record = (level: string) => (fields: object, message?: string) => void lines.push({ level, fields: fields as Record<string, unknown>, message: message ?? '' });
    const factory = createRedisClientFactory({ redisUrl: 'redis://:hunter2@127.0.0.1:1', logger: { error: record('error'), warn: record('warn'), info: record('info') } });
    const clients = [factory.create('a'), factory.create('b'), factory.create('c')];
    let errors = 0;
    for (const client of clients) client.on('error', () => void errors++);
    try {
      await waitFor(() => errors >= 15, 20_000, 'fifteen refused connection attempts');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatchObject({ level: 'warn', fields: { kind: 'unreachable', redis: '127.0.0.1:1' } });
      expect(JSON.stringify(lines)).not.toContain('hunter2');
    } finally {
      for (const client of clients) client.disconnect();
    }
  });

  it('makes standalone or cluster clients from the same URL, named for CLIENT LIST', () => {
    const standalone = createRedisClientFactory({ redisUrl: 'rediss://u:p@127.0.0.1:1/4' });
    const cluster = createRedisClientFactory({ redisUrl: 'rediss://u:p@127.0.0.1:1', cluster: true });
    const one = standalone.create('pub');
    const many = cluster.create('pub');
    try {
      one.on('error', () => {});
      many.on('error', () => {});
      expect(one).toBeInstanceOf(Redis);
      expect((one as Redis).options).toMatchObject({ username: 'u', password: 'p', db: 4, connectionName: 'hotconf-pub', tls: {} });
      expect(many).toBeInstanceOf(Cluster);
      // Every node connection of the cluster logs in and speaks TLS like the seed.
      expect((many as Cluster).options.redisOptions).toMatchObject({ username: 'u', password: 'p', connectionName: 'hotconf-pub', tls: {} });
    } finally {
      one.disconnect();
      many.disconnect();
    }
  });
});
