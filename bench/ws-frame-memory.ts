/**
 * `npx tsx bench/ws-frame-memory.ts`: what unauthenticated 50 MiB WebSocket frames cost a gateway
 * process: its peak resident memory (VmHWM) and resident memory (VmRSS) before and after one
 * frame, then four at once, each sent as the socket's first message (before connection_init).
 * Not a test: it prints. Options: BENCH_FRAME_MIB (default 50), BENCH_CONCURRENT (default 4).
 *
 * Uses the machine's PostgreSQL (the test helpers' URL; HOTCONF_TEST_PG_URL overrides it).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import WebSocket from 'ws';
import { createTestDatabase } from '../test/helpers/postgres.js';
import { startGateway } from '../test/helpers/gateway.js';

const FRAME_MIB = Number(process.env.BENCH_FRAME_MIB ?? 50);
const CONCURRENT = Number(process.env.BENCH_CONCURRENT ?? 4);

/** The pid listening on `port` (from `ss`). */
function pidOf(port: number): number {
  const out = execFileSync('ss', ['-ltnpH', `sport = :${port}`], { encoding: 'utf8' });
  const match = /pid=(\d+)/.exec(out);
  if (!match) throw new Error(`no process listens on ${port}: ${out}`);
  return Number(match[1]);
}

function memory(pid: number): { rssMiB: number; peakMiB: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { rssMiB: Math.round(kib('VmRSS') / 1024), peakMiB: Math.round(kib('VmHWM') / 1024) };
}

/** Sends one frame of `bytes` as the first message and resolves with the close code (or 'open' after 60 s). */
async function sendFrame(url: string, frame: Buffer): Promise<number | 'open'> {
  // An all-zero mask lets ws write the frame without masking it byte by byte, as a hostile client would.
  const socket = new WebSocket(url, 'graphql-transport-ws', { generateMask: (mask: Buffer) => void mask.fill(0) });
  socket.on('error', () => {});
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
  });
  const closed = new Promise<number>((resolve) => socket.once('close', (code) => resolve(code)));
  socket.send(frame, { binary: false });
  const outcome = await Promise.race([closed, new Promise<'open'>((resolve) => setTimeout(() => resolve('open'), 60_000).unref())]);
  socket.terminate();
  return outcome;
}

const database = await createTestDatabase('bench_frames');
const gateway = await startGateway({ env: { DATABASE_URL: database.url } });
try {
  const pid = pidOf(gateway.port);
  const frame = Buffer.alloc(FRAME_MIB * 1_048_576, 'x');
  const base = memory(pid);
  console.log(`gateway pid ${pid}: at rest rss ${base.rssMiB} MiB, peak ${base.peakMiB} MiB`);
  const one = await sendFrame(gateway.wsUrl, frame);
  const afterOne = memory(pid);
  console.log(`1 × ${FRAME_MIB} MiB frame: close ${one}; rss ${afterOne.rssMiB} MiB, peak ${afterOne.peakMiB} MiB (+${afterOne.peakMiB - base.peakMiB} MiB)`);
  const many = await Promise.all(Array.from({ length: CONCURRENT }, () => sendFrame(gateway.wsUrl, frame)));
  const afterMany = memory(pid);
  console.log(`${CONCURRENT} × ${FRAME_MIB} MiB frames at once: close ${many.join(',')}; rss ${afterMany.rssMiB} MiB, peak ${afterMany.peakMiB} MiB (+${afterMany.peakMiB - base.peakMiB} MiB over rest)`);
  const health = await fetch(`http://127.0.0.1:${gateway.port}/health`);
  console.log(`/health afterwards: ${health.status}`);
} finally {
  await gateway.stop();
  await database.drop();
}
