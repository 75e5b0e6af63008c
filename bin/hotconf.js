#!/usr/bin/env node
// The hotconf CLI. Runs the TypeScript sources through tsx, so it works from a checkout and from
// any working directory (paths are resolved from this file, not from the cwd).
import { register } from 'tsx/esm/api';

register();
const { runCli } = await import('../src/cli/main.ts');

const controller = new AbortController();
let interrupted = false;
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    // First signal: let the command stop cleanly (watch closes its socket); second: leave now.
    if (interrupted) process.exit(130);
    interrupted = true;
    controller.abort();
  });
}

const code = await runCli(process.argv.slice(2), { signal: controller.signal });
// Flush stdout before exiting: a piped `hotconf export | ...` must not lose its tail.
process.stdout.write('', () => process.exit(code));
