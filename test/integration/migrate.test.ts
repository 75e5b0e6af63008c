import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import postgres from 'postgres';
import { afterAll, describe, expect, it } from 'vitest';
import { connectDatabase } from '../../src/db/connect.js';
import { createTestDatabase } from '../helpers/postgres.js';

const HELPER = fileURLToPath(new URL('../helpers/open-pglite.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** Runs test/helpers/open-pglite.ts in a child process; bounded at 60 s. */
function openInChild(dataDir: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', HELPER, dataDir], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe('migrations on PostgreSQL', () => {
  it('three gateways starting at once on an empty database all come up, and the schema is applied once', async () => {
    await using database = await createTestDatabase('migrate_race');
    const progress: string[][] = [[], [], []];
    const gateways = await Promise.all(progress.map(() => connectDatabase({ databaseUrl: database.url, poolMax: 2 })));
    try {
      await Promise.all(gateways.map((gateway, i) => gateway.migrate({ onProgress: (m) => progress[i]!.push(m) })));
      await Promise.all(gateways.map((gateway) => gateway.ping()));
      for (const messages of progress) expect(messages.at(-1)).toMatch(/^migrations applied in \d+ ms$/);
      const sql = postgres(database.url, { max: 1, onnotice: () => {} });
      try {
        const applied = await sql`select count(*)::int as n from drizzle.__drizzle_migrations`;
        const tables = await sql`select count(*)::int as n from information_schema.tables where table_schema = 'public' and table_name in ('namespaces', 'entries', 'history', 'client_reports')`;
        expect(tables[0]!.n).toBe(4);
        expect(applied[0]!.n).toBeGreaterThanOrEqual(1);
        // A restart migrates nothing more.
        await gateways[0]!.migrate();
        const again = await sql`select count(*)::int as n from drizzle.__drizzle_migrations`;
        expect(again[0]!.n).toBe(applied[0]!.n);
      } finally {
        await sql.end();
      }
    } finally {
      await Promise.all(gateways.map((gateway) => gateway.close()));
    }
  });
});

describe('embedded PGlite data directory lock', () => {
  const dirs: string[] = [];
  afterAll(async () => {
    await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
  });
  const tempDir = async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hotconf-lock-'));
    dirs.push(dir);
    return dir;
  };

  it('a second process on the same data directory is refused with a message naming the holder, and may open after close', async () => {
    const dataDir = await tempDir();
    const database = await connectDatabase({ dataDir });
    try {
      await database.migrate();
      const refused = await openInChild(dataDir);
      expect(refused.code).toBe(3);
      expect(refused.stderr).toContain(`already open by process ${process.pid}`);
      expect(refused.stderr).toContain('hotconf.lock');
      // The refused process did not disturb the owner.
      await database.ping();
    } finally {
      await database.close();
    }
    const opened = await openInChild(dataDir);
    expect(opened.stderr).toBe('');
    expect(opened.code).toBe(0);
  });

  it('a second open in the same process is refused too', async () => {
    const dataDir = await tempDir();
    await using database = await connectDatabase({ dataDir });
    await expect(connectDatabase({ dataDir })).rejects.toThrow(/already open by this process/);
    await database.ping();
  });

  it('a lock left behind by a dead process is taken over', async () => {
    const dataDir = await tempDir();
    const dead = spawn(process.execPath, ['-e', '0']);
    const deadPid = dead.pid!;
    await new Promise((resolve) => dead.on('exit', resolve));
    await writeFile(join(dataDir, 'hotconf.lock'), String(deadPid));
    const database = await connectDatabase({ dataDir });
    await database.ping();
    await database.close();
  });
});
