import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';

describe('the Configuration table of DESIGN.md', () => {
  it('every default is the one the table gives', () => {
    expect(loadConfig({})).toMatchObject({
      port: 4000,
      host: '127.0.0.1',
      databaseUrl: null,
      dataDir: './.hotconf',
      redisUrl: null,
      channelPrefix: 'hotconf:',
      jwtSecret: null,
      jwksUrl: null,
      repairIntervalMs: 2_000,
      historyRetentionDays: 30,
      maxValueBytes: 1_048_576,
      inlineValueBytes: 65_536,
      rateLimitPerMin: 600,
      logLevel: 'info',
      databasePoolMax: 10,
      databasePrepare: true,
      migrate: true,
      migrationDatabaseUrl: null,
      convergenceTimeoutS: 60,
      clientRetentionH: 24,
      maxSubscriptionsPerConnection: 100,
      maxSubscriptionsPerSubject: 1_000,
      secretKeys: [],
    });
  });

  it('HOST defaults to 0.0.0.0 once an auth key is configured, an HS256 secret or a JWKS', () => {
    expect(loadConfig({ HOTCONF_JWT_SECRET: 'x'.repeat(32) }).host).toBe('0.0.0.0');
    expect(loadConfig({ HOTCONF_JWKS_URL: 'https://idp.example/.well-known/jwks.json' }).host).toBe('0.0.0.0');
    expect(loadConfig({ HOTCONF_JWKS_URL: 'https://idp.example/jwks', HOST: '10.0.0.5' }).host).toBe('10.0.0.5');
  });

  it('LOG_LEVEL takes pino levels in any case and refuses others by name', () => {
    expect(loadConfig({ LOG_LEVEL: 'DEBUG' }).logLevel).toBe('debug');
    expect(() => loadConfig({ LOG_LEVEL: 'verbose' })).toThrow(ConfigError);
    expect(() => loadConfig({ LOG_LEVEL: 'verbose' })).toThrow(/^LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent/);
  });

  it('PORT is a TCP port', () => {
    expect(loadConfig({ PORT: '0' }).port).toBe(0);
    expect(loadConfig({ PORT: '65535' }).port).toBe(65_535);
    expect(() => loadConfig({ PORT: '65536' })).toThrow(/^PORT must be an integer from 0 to 65535/);
  });

  it('DATABASE_URL may list several hosts (libpq form); each must be host:port', () => {
    const url = 'postgres://hotconf@db1:5432,db2:5433/hotconf?prepare=false';
    expect(loadConfig({ DATABASE_URL: url })).toMatchObject({ databaseUrl: url, databasePrepare: false });
    expect(() => loadConfig({ DATABASE_URL: 'postgres://hotconf@db1:5432,db2:99999/hotconf' })).toThrow(/^DATABASE_URL is not a URL/);
  });

  it('REDIS_URL is parsed at start, its errors name the part and never the password', () => {
    expect(() => loadConfig({ REDIS_URL: 'redis://:hunter2@redis/zero' })).toThrow(/database number/);
    expect(() => loadConfig({ REDIS_URL: 'redis://:hunter2@redis/zero' })).not.toThrow(/hunter2/);
    expect(() => loadConfig({ REDIS_URL: 'redis://redis:6379?tls=1' })).toThrow(/unsupported parameter "tls"/);
  });
});
