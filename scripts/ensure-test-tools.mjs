// Makes sure the Debian tools some tests drive are installed, installing the missing ones when
// this user can (root with apt-get, as on this project's machines and in CI). Runs before the
// tests (`npm test`); a tool that cannot be installed stops the run with what to install, rather
// than letting its tests skip.
import { execFileSync, spawnSync } from 'node:child_process';

/** command → Debian package that provides it (and what needs it). */
const TOOLS = [
  { command: 'promtool', pkg: 'prometheus', why: 'alert-rule unit tests (deploy/prometheus/alerts.test.yml)' },
  { command: 'pgbouncer', pkg: 'pgbouncer', why: 'transaction-pooler tests (test/integration/pgbouncer.test.ts)' },
  { command: 'chromium', pkg: 'chromium', why: 'the GraphiQL page rendered offline (test/integration/graphiql.test.ts)' },
  { command: 'curl', pkg: 'curl', why: 'the README and example commands, run as written' },
  { command: 'openssl', pkg: 'openssl', why: 'TLS certificates for the Redis and SDK TLS tests' },
  { command: 'redis-cli', pkg: 'redis-tools', why: 'creating the test Redis Cluster' },
  { command: 'ip', pkg: 'iproute2', why: 'the README test, run in its own network namespace' },
];

const has = (command) => spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
const missing = TOOLS.filter((tool) => !has(tool.command));
if (missing.length === 0) process.exit(0);

const packages = [...new Set(missing.map((tool) => tool.pkg))];
const canInstall = process.getuid?.() === 0 && has('apt-get');
if (!canInstall) {
  console.error(`test tools missing: ${missing.map((t) => `${t.command} (${t.why})`).join(', ')}`);
  console.error(`install them with: sudo apt-get install -y ${packages.join(' ')}`);
  process.exit(1);
}
console.log(`installing test tools from Debian: ${packages.join(' ')}`);
const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
try {
  execFileSync('apt-get', ['install', '-y', '--no-install-recommends', ...packages], { stdio: 'inherit', env });
} catch {
  // A stale package index is the usual cause: refresh it once and try again.
  execFileSync('apt-get', ['update'], { stdio: 'inherit', env });
  execFileSync('apt-get', ['install', '-y', '--no-install-recommends', ...packages], { stdio: 'inherit', env });
}
for (const tool of missing) {
  if (!has(tool.command)) {
    console.error(`${tool.command} is still missing after installing ${tool.pkg}`);
    process.exit(1);
  }
}
