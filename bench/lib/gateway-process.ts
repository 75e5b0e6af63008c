import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { gatewayEnvironment } from '../../test/helpers/gateway.js';
import { freePort, waitFor } from '../../test/helpers/net.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** A gateway process for the bench: `node [nodeArgs] dist/main.js`, production settings, quiet log. */
export interface BenchGateway {
  port: number;
  pid: number;
  url: string;
  wsUrl: string;
  /** SIGTERM (ordered stop; a `--cpu-prof` process writes its profile then); resolves once it exited. */
  stop(): Promise<void>;
}

/**
 * Like the tests' `startGateway`, plus Node flags (`--cpu-prof` is not allowed in NODE_OPTIONS,
 * so a profiled gateway needs it on its command line).
 */
export async function startBenchGateway(env: Record<string, string>, nodeArgs: string[] = []): Promise<BenchGateway> {
  const port = await freePort();
  let output = '';
  const child: ChildProcess = spawn(process.execPath, [...nodeArgs, 'dist/main.js'], {
    cwd: ROOT,
    env: gatewayEnvironment(port, { LOG_LEVEL: 'error', ...env }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const keep = (chunk: Buffer) => (output = (output + chunk.toString()).slice(-8_000));
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const force = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.kill('SIGTERM');
    await exited;
    clearTimeout(force);
  };
  try {
    await waitFor(
      async () => {
        if (child.exitCode !== null) throw new Error(`gateway exited during start:\n${output}`);
        try {
          return (await fetch(`http://127.0.0.1:${port}/ready`)).ok;
        } catch {
          return false;
        }
      },
      120_000,
      () => `gateway on port ${port} to answer /ready (${output.slice(-1_000)})`,
    );
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }
  return { port, pid: child.pid!, url: `http://127.0.0.1:${port}/graphql`, wsUrl: `ws://127.0.0.1:${port}/graphql`, stop };
}
