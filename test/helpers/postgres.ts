import { randomBytes } from 'node:crypto';
import postgres from 'postgres';

/** The machine's PostgreSQL (trust auth). Tests create their own databases on it. */
export const ADMIN_URL = process.env.HOTCONF_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export interface TestDatabase extends AsyncDisposable {
  url: string;
  name: string;
  drop(): Promise<void>;
}

/** A fresh, uniquely named database, dropped (even with connections open) on dispose. */
export async function createTestDatabase(label = 'db'): Promise<TestDatabase> {
  const name = `hotconf_t_${label.replace(/[^a-z0-9_]/gi, '_').toLowerCase()}_${randomBytes(4).toString('hex')}`;
  const admin = postgres(ADMIN_URL, { max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(`CREATE DATABASE "${name}"`);
  } finally {
    await admin.end();
  }
  const target = new URL(ADMIN_URL);
  target.pathname = `/${name}`;
  let dropped = false;
  const drop = async () => {
    if (dropped) return;
    dropped = true;
    const sql = postgres(ADMIN_URL, { max: 1, onnotice: () => {} });
    try {
      await sql.unsafe(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    } finally {
      await sql.end();
    }
  };
  return { url: target.toString(), name, drop, [Symbol.asyncDispose]: drop };
}
