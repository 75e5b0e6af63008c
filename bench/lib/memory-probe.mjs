// Preloaded into a bench gateway (`--expose-gc --import=…`): on SIGHUP, a full GC, then the
// process's memory figures written as JSON to its --diagnostic-dir (env BENCH_PROBE_DIR).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

process.on('SIGHUP', () => {
  globalThis.gc?.();
  const gced = process.memoryUsage();
  writeFileSync(join(process.env.BENCH_PROBE_DIR ?? '.', `mem.${process.pid}.${Date.now()}.json`), JSON.stringify({ gced }));
});
