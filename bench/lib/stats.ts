/** Latency summary of a sample, in milliseconds. */
export interface Summary {
  count: number;
  p50: number;
  p99: number;
  max: number;
}

/** p50/p99/max of `samples` (nearest-rank). */
export function summarize(samples: readonly number[]): Summary {
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = (p: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? NaN;
  return { count: sorted.length, p50: rank(50), p99: rank(99), max: sorted.at(-1) ?? NaN };
}

/** `p50 1.23 ms  p99 4.56 ms  (n=1000)` */
export function format(summary: Summary): string {
  return `p50 ${summary.p50.toFixed(2)} ms  p99 ${summary.p99.toFixed(2)} ms  max ${summary.max.toFixed(2)} ms  (n=${summary.count})`;
}

/** One progress line on stderr, overwritten in place on a terminal. */
export function progress(label: string, done: number, total: number): void {
  if (done !== total && done % Math.max(1, Math.floor(total / 20)) !== 0) return;
  const line = `  ${label}: ${done}/${total}`;
  if (process.stderr.isTTY) process.stderr.write(`\r${line}${done === total ? '\n' : ''}`);
  else if (done === total || done % Math.max(1, Math.floor(total / 4)) === 0) process.stderr.write(`${line}\n`);
}
