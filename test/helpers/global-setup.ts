import postgres from 'postgres';
import { Redis } from 'ioredis';
import { ADMIN_URL } from './postgres.js';
import { SHARED_REDIS_URL } from './redis.js';

/** Fails fast, with the fix, when the machine's PostgreSQL or Redis is not answering. */
export default async function setup(): Promise<void> {
  const sql = postgres(ADMIN_URL, { max: 1, connect_timeout: 5, onnotice: () => {} });
  try {
    await sql`select 1`;
  } catch (error) {
    throw new Error(`PostgreSQL at ${ADMIN_URL} does not answer (${(error as Error).message}); run .ci/run or start it`);
  } finally {
    await sql.end();
  }
  const redis = new Redis(SHARED_REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  try {
    await redis.connect();
    await redis.ping();
  } catch (error) {
    throw new Error(`Redis at ${SHARED_REDIS_URL} does not answer (${(error as Error).message}); run .ci/run or start it`);
  } finally {
    redis.disconnect();
  }
}
