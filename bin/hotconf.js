#!/usr/bin/env node
// The hotconf CLI, from the compiled sources (`npm run build`; a packed or installed package
// ships them). Paths are resolved from this file, not from the working directory.
const { runCli } = await import('../dist/cli/main.js');

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
