/**
 * Time from a crashed PostgreSQL's return (`pg_ctl start` returning) to the first successful
 * statement, for postgres.js' own pool (default reconnect backoff) and for hotconf's session
 * pool (src/db/session-pool.ts), each under 10 concurrent writers, over several outages.
 *
 *   npx tsx bench/postgres-recovery.ts [cycles=4] [outageMs=3000]
 *
 * Statements only (no begin()): postgres.js' own begin() can crash the process on a crash of
 * the server (porsager/postgres#1208), which would end the measurement rather than time it.
 */
import postgres from 'postgres';
import { createSessionPool } from '../src/db/session-pool.js';
import { startPrivatePostgres } from '../test/helpers/private-postgres.js';

const cycles = Number(process.argv[2] ?? 4);
const outageMs = Number(process.argv[3] ?? 3_000);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Target {
  name: string;
  run(): Promise<unknown>;
  end(): Promise<void>;
}

await using pg = await startPrivatePostgres();
const setup = postgres(pg.url, { max: 1, onnotice: () => {} });
await setup`create table if not exists bench_recovery (id serial primary key, at timestamptz default now())`;
await setup.end();

const targets: Array<() => Target> = [
  () => {
    const sql = postgres(pg.url, { max: 10, onnotice: () => {} });
    return { name: 'postgres.js pool, default backoff', run: () => sql`insert into bench_recovery default values`, end: () => sql.end({ timeout: 1 }) };
  },
  () => {
    const pool = createSessionPool({ url: pg.url, max: 10 });
    return { name: 'hotconf session pool', run: () => pool.sql.unsafe('insert into bench_recovery default values'), end: () => pool.end() };
  },
];

for (const make of targets) {
  const target = make();
  const results: number[] = [];
  let lastOk = 0;
  let running = true;
  const loops = Array.from({ length: 10 }, async () => {
    while (running) {
      try {
        await target.run();
        lastOk = Date.now();
      } catch {
        await sleep(20);
      }
    }
  });
  await sleep(500);
  for (let cycle = 0; cycle < cycles; cycle++) {
    await pg.stop('immediate');
    await sleep(outageMs);
    await pg.start();
    const back = Date.now();
    while (lastOk < back && Date.now() - back < 60_000) await sleep(5);
    results.push(lastOk >= back ? lastOk - back : Number.POSITIVE_INFINITY);
    await sleep(1_000);
  }
  running = false;
  await Promise.all(loops);
  await target.end();
  console.log(`${target.name}: ms from pg_ctl start returning to the first successful statement: ${results.join(', ')}`);
}
