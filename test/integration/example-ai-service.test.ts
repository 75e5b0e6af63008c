/**
 * examples/ai-service, run the way its README says: the shell block's commands, run by bash as
 * written. Only the ports change (4000 → the gateway's, 4001 → a port nobody listens on,
 * 8080 → the service's: fixed ports would collide with other tests), and the gateway runs on a
 * test database with its key in HOTCONF_JWT_SECRET (the README's `npm start` is embedded mode in
 * ./.hotconf, which other tests must not share); the README's token command reads that key.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_JWT_SECRET } from '../helpers/gateway.js';
import { freePort, waitFor } from '../helpers/net.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const run = promisify(execFile);

interface Background {
  child: ChildProcess;
  output(): string;
  lines(): Array<Record<string, unknown>>;
  stop(): Promise<void>;
}

let database: TestDatabase;
let workdir: string;
let commands: string[];
let token: string;
const ports = { gateway: 0, dead: 0, service: 0 };
const running = new Set<Background>();

/** The README's shell block as commands: comments dropped, `\` continuations joined. */
function shellCommands(markdown: string): string[] {
  const block = /```sh\n([\s\S]*?)```/.exec(markdown)?.[1];
  if (!block) throw new Error('examples/ai-service/README.md has no ```sh block');
  return block
    .replace(/\\\n\s*/g, ' ')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('#'));
}

function withPorts(command: string): string {
  return command
    .replaceAll('127.0.0.1:4000', `127.0.0.1:${ports.gateway}`)
    .replaceAll('127.0.0.1:4001', `127.0.0.1:${ports.dead}`)
    .replaceAll('127.0.0.1:8080', `127.0.0.1:${ports.service}`);
}

function command(pattern: RegExp): string {
  const found = commands.find((line) => pattern.test(line));
  if (!found) throw new Error(`no command matching ${pattern} in the README`);
  return withPorts(found);
}

/** Starts a long-running README command (its own process group, so npm's children end with it). */
function background(line: string, env: Record<string, string>): Background {
  const child = spawn('bash', ['-c', line], { cwd: ROOT, env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const handle: Background = {
    child,
    output: () => output,
    lines: () =>
      output
        .split('\n')
        .filter((text) => text.startsWith('{'))
        .map((text) => JSON.parse(text) as Record<string, unknown>),
    stop: async () => {
      running.delete(handle);
      if (child.exitCode !== null || child.signalCode !== null) return;
      try {
        process.kill(-child.pid!, 'SIGTERM');
      } catch {
        return;
      }
      const force = setTimeout(() => process.kill(-child.pid!, 'SIGKILL'), 10_000);
      await exited;
      clearTimeout(force);
    },
  };
  running.add(handle);
  return handle;
}

/** Runs a short README command (curl) and returns its output. */
async function shell(line: string): Promise<string> {
  const { stdout } = await run('bash', ['-c', line], { cwd: ROOT, env: { PATH: process.env.PATH ?? '', HOTCONF_TOKEN: token } });
  return stdout;
}

function startGateway(): Background {
  // `npm start`, as written; the environment makes it a gateway on a test database and port.
  return background(command(/^npm start$/), {
    PORT: String(ports.gateway),
    HOST: '127.0.0.1',
    DATABASE_URL: database.url,
    HOTCONF_JWT_SECRET: TEST_JWT_SECRET,
    LOG_LEVEL: 'warn',
  });
}

async function gatewayHealthy(): Promise<boolean> {
  try {
    return (await fetch(`http://127.0.0.1:${ports.gateway}/health`)).ok;
  } catch {
    return false;
  }
}

function startService(): Background {
  return background(command(/node examples\/ai-service\/index\.js$/), {
    HOTCONF_TOKEN: token,
    PORT: String(ports.service),
    HOTCONF_FALLBACK_FILE: join(workdir, 'ai-service.json'),
  });
}

beforeAll(async () => {
  commands = shellCommands(await readFile(join(ROOT, 'examples/ai-service/README.md'), 'utf8'));
  [ports.gateway, ports.dead, ports.service] = [await freePort(), await freePort(), await freePort()];
  database = await createTestDatabase('example');
  workdir = await mkdtemp(join(tmpdir(), 'hotconf-example-'));
  // `export HOTCONF_TOKEN=$(… hotconf token …)`, as written; the printf hands the result over.
  const exported = command(/^export HOTCONF_TOKEN=/);
  const { stdout } = await run('bash', ['-c', `${exported} && printf %s "$HOTCONF_TOKEN"`], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOTCONF_JWT_SECRET: TEST_JWT_SECRET },
  });
  token = stdout.trim();
  expect(token).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
});

afterAll(async () => {
  await Promise.all([...running].map((process_) => process_.stop()));
  await database?.drop();
  if (workdir) await rm(workdir, { recursive: true, force: true });
});

describe('examples/ai-service, as its README says', () => {
  it('its commands are what this test runs', () => {
    expect(commands).toContain('npm start');
    expect(commands.some((line) => /^export HOTCONF_TOKEN=/.test(line))).toBe(true);
    expect(commands.filter((line) => line.startsWith('curl'))).toHaveLength(3);
    expect(commands.some((line) => /tsx|ts-node/.test(line))).toBe(false);
  });

  it('is plain JavaScript that typechecks against the SDK (checkJs)', async () => {
    const tsc = join(ROOT, 'node_modules/typescript/bin/tsc');
    const args = ['--noEmit', '--allowJs', '--checkJs', '--strict', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022'];
    await expect(run(process.execPath, [tsc, ...args, '--types', 'node', '--skipLibCheck', 'examples/ai-service/index.js'], { cwd: ROOT })).resolves.toBeDefined();
  });

  it('runs with its first URL down, hot-reloads a change, serves it, and restarts from its fallback file', async () => {
    let gateway = startGateway();
    await waitFor(gatewayHealthy, 60_000, `the gateway (npm start):\n${gateway.output()}`);
    const service = startService();
    await waitFor(() => service.lines().some((line) => line.message === 'listening'), 30_000, `the service to listen:\n${service.output()}`);
    const started = service.lines().find((line) => line.message === 'started');
    expect(started, service.output()).toMatchObject({ threshold: 0.75, source: 'default', url: `http://127.0.0.1:${ports.gateway}/graphql` });
    // The down URL was said, with its cause.
    expect(service.lines().find((line) => line.message === 'config client error')).toMatchObject({ code: 'ECONNREFUSED' });

    const [mutation, score, health] = commands.filter((line) => line.startsWith('curl')).map(withPorts);
    expect(JSON.parse(await shell(mutation!))).toEqual({ data: { setConfig: { version: 1 } } });
    await waitFor(() => service.lines().some((line) => line.message === 'hot reload'), 15_000, `the hot reload:\n${service.output()}`);
    expect(service.lines().find((line) => line.message === 'hot reload')).toMatchObject({ key: 'ai.threshold', previous: 0.75, value: 0.85, source: 'gateway' });
    expect((await shell(score!)).trim()).toBe('review');
    expect(JSON.parse(await shell(health!))).toMatchObject({
      state: 'connected',
      lastError: null,
      revision: 1,
      versions: { 'ai.threshold': 1 },
      threshold: { value: 0.85, version: 1, source: 'gateway' },
    });

    // "Stop the gateway and restart the service: it starts from the fallback file and catches up."
    await service.stop();
    expect(service.lines().at(-1)).toMatchObject({ message: 'stopped' });
    await gateway.stop();
    const again = startService();
    await waitFor(() => again.lines().some((line) => line.message === 'listening'), 30_000, `the service to listen again:\n${again.output()}`);
    expect(again.lines().find((line) => line.message === 'started')).toMatchObject({ threshold: 0.85, source: 'fallback' });
    gateway = startGateway();
    await waitFor(gatewayHealthy, 60_000, `the gateway again:\n${gateway.output()}`);
    await shell(mutation!.replace('value: 0.85', 'value: 0.9'));
    await waitFor(
      () => again.lines().some((line) => line.message === 'hot reload' && line.value === 0.9),
      30_000,
      `the hot reload after the gateway came back:\n${again.output()}`,
    );
    expect(again.lines().filter((line) => line.message === 'hot reload')).toEqual([
      expect.objectContaining({ key: 'ai.threshold', previous: 0.85, value: 0.9, source: 'gateway' }),
    ]);
  });
});
