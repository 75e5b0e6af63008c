import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';

const URL = 'postgres://hotconf@db:5432/hotconf';

describe('database settings', () => {
  it('defaults: a pool of 10, prepared statements on, a 5 s deadline, migrations at start over DATABASE_URL', () => {
    expect(loadConfig({ DATABASE_URL: URL })).toMatchObject({
      databasePoolMax: 10,
      databasePrepare: true,
      databaseTimeoutMs: 5_000,
      migrate: true,
      migrationDatabaseUrl: null,
    });
  });

  it('?prepare=false in DATABASE_URL turns prepared statements off unless HOTCONF_DB_PREPARE says otherwise', () => {
    expect(loadConfig({ DATABASE_URL: `${URL}?prepare=false` }).databasePrepare).toBe(false);
    expect(loadConfig({ DATABASE_URL: `${URL}?prepare=false`, HOTCONF_DB_PREPARE: '1' }).databasePrepare).toBe(true);
    expect(loadConfig({ DATABASE_URL: URL, HOTCONF_DB_PREPARE: '0' }).databasePrepare).toBe(false);
  });

  it('reads DATABASE_POOL_MAX, HOTCONF_DB_TIMEOUT_MS, HOTCONF_MIGRATE and HOTCONF_MIGRATION_DATABASE_URL', () => {
    const config = loadConfig({
      DATABASE_URL: URL,
      DATABASE_POOL_MAX: '3',
      HOTCONF_DB_TIMEOUT_MS: '2500',
      HOTCONF_MIGRATE: '0',
      HOTCONF_MIGRATION_DATABASE_URL: 'postgresql://owner@db-direct:5432/hotconf',
    });
    expect(config).toMatchObject({
      databasePoolMax: 3,
      databaseTimeoutMs: 2_500,
      migrate: false,
      migrationDatabaseUrl: 'postgresql://owner@db-direct:5432/hotconf',
    });
  });

  it.each([
    ['DATABASE_POOL_MAX', '0'],
    ['DATABASE_POOL_MAX', 'ten'],
    ['HOTCONF_DB_TIMEOUT_MS', '5'],
    ['HOTCONF_DB_PREPARE', 'maybe'],
    ['HOTCONF_MIGRATE', 'sometimes'],
    ['HOTCONF_MIGRATION_DATABASE_URL', 'mysql://db/x'],
  ])('refuses %s=%s, naming the variable', (name, value) => {
    expect(() => loadConfig({ DATABASE_URL: URL, [name]: value })).toThrow(ConfigError);
    expect(() => loadConfig({ DATABASE_URL: URL, [name]: value })).toThrow(name);
  });
});

describe('connectDatabase without an explicit prepare', () => {
  it('reads ?prepare=false from a multi-host URL too', async () => {
    const { urlAllowsPrepare } = await import('../../src/db/connect.js');
    expect(urlAllowsPrepare('postgres://u@db1:5432,db2:5433/hotconf?prepare=false')).toBe(false);
    expect(urlAllowsPrepare('postgres://u@db1:5432,db2:5433/hotconf')).toBe(true);
    expect(urlAllowsPrepare('postgres://u@db1/hotconf?sslmode=require&prepare=0')).toBe(false);
  });
});
