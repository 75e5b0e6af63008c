/**
 * `npm run bench [-- row…]`: every row of issue 14's table, each against its baseline measured
 * in the same run, in alternating rounds (hotconf, baseline, hotconf, baseline…), the median of
 * the rounds reported. Progress goes to stderr, results to stdout. Not a test: it asserts nothing.
 *
 * Rows: propagation, reads, writes, replay, fanout, sdk (default: all). Needs the machine's
 * PostgreSQL and Redis (the test helpers' URLs), Debian's `wrk` and `etcd-server` (see
 * docs/PERFORMANCE.md), and a built gateway (`npm run build`).
 *
 * Options: BENCH_ROUNDS (default 3); BENCH_PROFILE=1 runs the gateways under `node --cpu-prof`
 * and prints their top self-time frames at the end; per-row sizes in each row's file.
 */
import { cpus } from 'node:os';
import { loadAverage } from './lib/proc.js';
import { createBenchContext, type BenchContext } from './suite/context.js';
import { fanout, sdk } from './suite/fanout.js';
import { propagation } from './suite/propagation.js';
import { reads } from './suite/reads.js';
import { replay } from './suite/replay.js';
import { writes } from './suite/writes.js';

const ROWS: Record<string, (context: BenchContext) => Promise<void>> = { propagation, reads, writes, replay, fanout, sdk };

const requested = process.argv.slice(2).filter((arg) => arg !== '--');
const unknown = requested.filter((name) => !(name in ROWS));
if (unknown.length > 0) {
  process.stderr.write(`unknown row(s): ${unknown.join(', ')}; rows are: ${Object.keys(ROWS).join(', ')}\n`);
  process.exit(2);
}
const selected = requested.length > 0 ? requested : Object.keys(ROWS);
const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const context = createBenchContext({ rounds, profile: process.env.BENCH_PROFILE === '1' });

const started = Date.now();
const out = (line = '') => process.stdout.write(`${line}\n`);
out(`hotconf bench: ${selected.join(', ')}; ${rounds} rounds; Node ${process.version}; ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}`);
out(`before: ${loadAverage()}`);
let failed = false;
try {
  for (const name of selected) {
    process.stderr.write(`▶ ${name}\n`);
    const at = context.results.length;
    await ROWS[name]!(context);
    for (const row of context.results.slice(at)) out(`${row.measure}: ${row.hotconf} | ${row.baseline} | ${row.ratio || '-'} (goal ${row.goal})`);
  }
} catch (error) {
  failed = true;
  process.stderr.write(`bench failed: ${(error as Error).stack ?? String(error)}\n`);
} finally {
  out(`after: ${loadAverage()}; ${((Date.now() - started) / 1_000).toFixed(0)} s`);
  out();
  out('| measure | hotconf | baseline (same run) | ratio | goal |');
  out('| --- | --- | --- | --- | --- |');
  for (const row of context.results) out(`| ${row.measure} | ${row.hotconf} | ${row.baseline} | ${row.ratio || '-'} | ${row.goal} |`);
  await context.close();
}
process.exit(failed ? 1 : 0);
