/**
 * Write latency of secret values with and without encryption at rest (HOTCONF_SECRET_KEYS):
 * sequential `setConfig` mutations over HTTP to an in-process gateway on the local PostgreSQL,
 * then reads of the same values by an admin. Prints timings; asserts nothing.
 *
 *   npx tsx bench/secret-write.ts [writes]
 */
import { randomBytes } from 'node:crypto';
import { startTestGateway } from '../test/helpers/app.js';
import { createTestDatabase } from '../test/helpers/postgres.js';
import { format, summarize } from './lib/stats.js';

const WRITES = Number(process.argv[2] ?? 400);
const SET = `mutation($input: SetConfigInput!) { setConfig(input: $input) { version } }`;
const READ = `query($ns: String!, $key: String!) { config(namespace: $ns, key: $key) { value } }`;

for (const [label, env] of [
  ['plain', {}],
  ['encrypted', { HOTCONF_SECRET_KEYS: randomBytes(32).toString('base64') }],
] as const) {
  const database = await createTestDatabase('bench_secret');
  const gateway = await startTestGateway({ DATABASE_URL: database.url, ...env });
  try {
    const value = { password: randomBytes(48).toString('hex') };
    const writes: number[] = [];
    const reads: number[] = [];
    for (let i = 0; i < WRITES + 50; i++) {
      const key = `k${i % 20}`;
      let started = performance.now();
      await gateway.gql(SET, { input: { namespace: 'bench', key, value, secret: true } });
      if (i >= 50) writes.push(performance.now() - started); // the first 50 warm up
      started = performance.now();
      await gateway.gql(READ, { ns: 'bench', key });
      if (i >= 50) reads.push(performance.now() - started);
    }
    console.log(`${label.padEnd(10)} setConfig ${format(summarize(writes))}`);
    console.log(`${''.padEnd(10)} config    ${format(summarize(reads))}`);
  } finally {
    await gateway.stop();
    await database.drop();
  }
}
