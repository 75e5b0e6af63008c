import { spawn, type ChildProcess } from 'node:child_process';
import { getEventListeners } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gql, startGateway, TEST_JWT_SECRET, testToken, uniqueNamespace, type Gateway } from '../helpers/gateway.js';
import { freePort, waitFor } from '../helpers/net.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';
import { SHARED_REDIS_URL, uniquePrefix } from '../helpers/redis.js';
import { runCli } from '../../src/cli/main.js';

const BIN = fileURLToPath(new URL('../../bin/hotconf.js', import.meta.url));

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Spawns the CLI from a directory that is not the checkout, as a user's shell would. */
function spawnCli(args: string[], env: Record<string, string>, cwd: string): ChildProcess {
  return spawn(process.execPath, [BIN, ...args], { cwd, env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
}

function collect(child: ChildProcess, timeoutMs: number): Promise<Run> & { stdout(): string; stderr(): string } {
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const done = new Promise<Run>((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
  return Object.assign(done, { stdout: () => stdout, stderr: () => stderr });
}

describe('hotconf CLI against a real gateway', () => {
  let database: TestDatabase;
  let gateway: Gateway;
  let token: string;
  let cwd: string;
  const prefix = uniquePrefix('cli');
  const namespace = uniqueNamespace('cli');
  let baseEnv: Record<string, string>;
  const hotconf = (args: string[], env: Record<string, string> = {}, timeoutMs = 60_000) =>
    collect(spawnCli(args, { ...baseEnv, ...env }, cwd), timeoutMs);

  beforeAll(async () => {
    cwd = mkdtempSync(join(tmpdir(), 'hotconf-cli-'));
    database = await createTestDatabase('cli');
    gateway = await startGateway({
      env: { DATABASE_URL: database.url, REDIS_URL: SHARED_REDIS_URL, HOTCONF_CHANNEL_PREFIX: prefix, HOTCONF_MAX_BATCH_SIZE: '5000' },
    });
    token = await testToken({ sub: 'ops-admin' });
    baseEnv = { HOTCONF_URL: gateway.url, HOTCONF_TOKEN: token, HOTCONF_NAMESPACE: namespace };
  });

  afterAll(async () => {
    await gateway?.stop('SIGKILL');
    await database?.drop();
    if (cwd) rmSync(cwd, { recursive: true, force: true });
  });

  it('documents exit codes in --help and refuses bad usage with exit 1', async () => {
    const help = await hotconf(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/Exit codes:[\s\S]*3 {2}version conflict/);
    expect((await hotconf(['frobnicate'])).code).toBe(1);
    expect((await hotconf(['set', 'only-key'])).code).toBe(1);
    const unknown = await hotconf(['get', 'k', '--no-such-option']);
    expect(unknown.stderr).toMatch(/unknown option "--no-such-option"/);
    expect((await hotconf(['get', 'k', '--no-such-option'])).code).toBe(1);
  });

  it('set, get, ls, history, rollback and delete, with exit codes for conflicts and missing keys', async () => {
    let run = await hotconf(['set', 'ai.threshold', '0.75', '--create', '--reason', 'initial']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/version 1, revision 1/);
    expect((await hotconf(['set', 'ai.threshold', '0.85', '--expect-version', '1', '--reason', 'tune'])).code).toBe(0);
    run = await hotconf(['set', 'ai.threshold', '0.95', '--expect-version', '1']);
    expect(run.code).toBe(3);
    expect(run.stderr).toMatch(/current version is 2|current version: 2/);
    expect((await hotconf(['set', 'greeting', 'hello world', '--create'])).code).toBe(0);
    expect((await hotconf(['set', 'limits', '{"rps":10}', '--create', '--description', 'rate limits'])).code).toBe(0);

    run = await hotconf(['get', 'ai.threshold', '--json']);
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ key: 'ai.threshold', value: 0.85, version: 2, updatedBy: 'ops-admin' });
    expect(JSON.parse((await hotconf(['get', 'greeting', '--json'])).stdout).value).toBe('hello world');
    expect(JSON.parse((await hotconf(['get', 'limits', '--json'])).stdout)).toMatchObject({ value: { rps: 10 }, description: 'rate limits' });
    expect((await hotconf(['get', 'ai.threshold', '--raw'])).stdout.trim()).toBe('0.85');
    expect((await hotconf(['get', 'missing.key'])).code).toBe(2);

    run = await hotconf(['ls']);
    expect(run.stdout).toMatch(/^KEY\s+VERSION\s+REVISION\s+VALUE/);
    expect(run.stdout).toMatch(/ai\.threshold\s+2\s+2\s+0\.85/);
    expect(JSON.parse((await hotconf(['ls', 'ai.', '--json'])).stdout).entries.map((e: { key: string }) => e.key)).toEqual(['ai.threshold']);

    run = await hotconf(['history', 'ai.threshold', '--json']);
    const history = JSON.parse(run.stdout) as Array<{ version: number; reason: string; changedBy: string }>;
    expect(history.map((h) => [h.version, h.reason, h.changedBy])).toEqual([
      [2, 'tune', 'ops-admin'],
      [1, 'initial', 'ops-admin'],
    ]);

    run = await hotconf(['rollback', 'ai.threshold', '--to', '1', '--reason', 'revert']);
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse((await hotconf(['get', 'ai.threshold', '--json'])).stdout)).toMatchObject({ value: 0.75, version: 3 });
    expect((await hotconf(['rollback', 'ai.threshold', '--to', '99'])).code).toBe(2);

    expect((await hotconf(['delete', 'greeting', '--reason', 'unused'])).code).toBe(0);
    expect((await hotconf(['get', 'greeting'])).code).toBe(2);
    run = await hotconf(['history', 'greeting']);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/2\s+DELETE[\s\S]*unused[\s\S]*1\s+SET/);
    expect((await hotconf(['delete', 'greeting'])).code).toBe(2);

    run = await hotconf(['namespaces', '--json']);
    expect(JSON.parse(run.stdout)).toContainEqual(expect.objectContaining({ name: namespace }));
  });

  it('exits 4 on a bad token, 5 when the gateway is unreachable, 6 on a refused value', async () => {
    expect((await hotconf(['get', 'x'], { HOTCONF_TOKEN: 'not-a-jwt' })).code).toBe(4);
    const reader = await testToken({ role: 'reader', namespaces: [namespace] });
    expect((await hotconf(['set', 'x', '1', '--create'], { HOTCONF_TOKEN: reader })).code).toBe(4);
    const closed = await freePort();
    expect((await hotconf(['get', 'x'], { HOTCONF_URL: `http://127.0.0.1:${closed}/graphql` })).code).toBe(5);
    const run = await hotconf(['set', 'bad key!', '1', '--create']);
    expect(run.code).toBe(6);
  });

  it('token mints a JWT the gateway accepts and whose sub is recorded in history', async () => {
    const ns = uniqueNamespace('tok');
    const run = await hotconf(['token', '--role', 'writer', '--namespace', ns, '--sub', 'alice'], { HOTCONF_JWT_SECRET: TEST_JWT_SECRET });
    expect(run.code, run.stderr).toBe(0);
    const minted = run.stdout.trim();
    expect(minted.split('.')).toHaveLength(3);
    expect((await hotconf(['set', 'k', '1', '--create', '-n', ns], { HOTCONF_TOKEN: minted })).code).toBe(0);
    expect(JSON.parse((await hotconf(['get', 'k', '-n', ns, '--json'])).stdout).updatedBy).toBe('alice');
    // Scoped to its namespace only.
    expect((await hotconf(['set', 'k', '1', '--create', '-n', `${ns}-other`], { HOTCONF_TOKEN: minted })).code).toBe(4);
  });

  it('token never invents a key: outside the gateway directory it refuses and says where it looked; --data-dir and HOTCONF_DATA_DIR find the generated key', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'hotconf-cli-key-'));
    // A gateway with no key configured generates one in its data directory.
    const embedded = await startGateway({ env: { HOTCONF_JWT_SECRET: '', HOTCONF_DATA_DIR: dataDir } });
    try {
      const elsewhere = mkdtempSync(join(tmpdir(), 'hotconf-cli-elsewhere-'));
      const refused = await collect(spawnCli(['token', '--role', 'admin', '--sub', 'ada'], {}, elsewhere), 30_000);
      expect(refused.code).toBe(1);
      expect(refused.stdout).toBe('');
      expect(refused.stderr).toContain(join(elsewhere, '.hotconf', 'jwt-secret'));
      expect(refused.stderr).toMatch(/HOTCONF_JWT_SECRET/);
      expect(existsSync(join(elsewhere, '.hotconf'))).toBe(false);
      rmSync(elsewhere, { recursive: true, force: true });

      const ns = uniqueNamespace('key');
      const ask = (minted: string) => hotconf(['set', 'k', '1', '--create', '-n', ns], { HOTCONF_URL: embedded.url, HOTCONF_TOKEN: minted });
      for (const [args, env] of [
        [['--data-dir', dataDir], {}],
        [[], { HOTCONF_DATA_DIR: dataDir }],
      ] as Array<[string[], Record<string, string>]>) {
        const run = await hotconf(['token', '--role', 'admin', '--sub', 'ada', ...args], env);
        expect(run.code, run.stderr).toBe(0);
        const written = await ask(run.stdout.trim());
        expect(written.code, written.stderr).toBe(0);
      }
    } finally {
      await embedded.stop('SIGKILL');
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('values may start with "-": negative numbers as they are, anything else after --, and option values too', async () => {
    const ns = uniqueNamespace('dash');
    let run = await hotconf(['set', 'offset', '-1', '--create', '-n', ns]);
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse((await hotconf(['get', 'offset', '-n', ns, '--json'])).stdout).value).toBe(-1);
    expect((await hotconf(['set', 'offset', '-0.25', '-n', ns])).code).toBe(0);
    expect(JSON.parse((await hotconf(['get', 'offset', '-n', ns, '--json'])).stdout).value).toBe(-0.25);
    run = await hotconf(['set', 'offset', '-x', '-n', ns]);
    expect(run.code).toBe(1);
    // One kind of quote, and an example that works when pasted.
    expect(run.stderr).toMatch(/unknown option "-x"; a value that starts with "-" goes after "--", as in: -- "-x"/);
    expect((await hotconf(['set', 'offset', '--reason', '-r', '-n', ns, '--', '-x'])).code).toBe(0);
    const history = JSON.parse((await hotconf(['history', 'offset', '-n', ns, '--json'])).stdout) as Array<{ value: unknown; reason: string | null }>;
    expect(history[0]).toMatchObject({ value: '-x', reason: '-r' });
  });

  it('set refuses to create a key by accident and suggests the nearest one; --schema sets a JSON Schema that get shows', async () => {
    const ns = uniqueNamespace('typo');
    const schemaFile = join(cwd, 'threshold.schema.json');
    writeFileSync(schemaFile, JSON.stringify({ type: 'number', minimum: 0, maximum: 1 }));
    let run = await hotconf(['set', 'ai.threshold', '0.75', '--schema', schemaFile, '-n', ns]);
    expect(run.code).toBe(2); // does not exist yet, and no --create
    expect(run.stderr).toMatch(/--create/);
    run = await hotconf(['set', 'ai.threshold', '0.75', '--schema', schemaFile, '--create', '-n', ns]);
    expect(run.code, run.stderr).toBe(0);

    run = await hotconf(['set', 'ai.threshld', '0.9', '-n', ns]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/ai\.threshld does not exist \(did you mean ai\.threshold\?\)/);
    expect((await hotconf(['get', 'ai.threshld', '-n', ns])).code).toBe(2);

    run = await hotconf(['get', 'ai.threshold', '-n', ns]);
    expect(run.stdout).toMatch(/^schema\s+\{/m);
    expect(run.stdout).toMatch(/"maximum": 1/);
    expect(JSON.parse((await hotconf(['get', 'ai.threshold', '-n', ns, '--json'])).stdout).schema).toEqual({ type: 'number', minimum: 0, maximum: 1 });
    run = await hotconf(['set', 'ai.threshold', '1.5', '-n', ns]);
    expect(run.code).toBe(6);
    expect(JSON.parse((await hotconf(['get', 'ai.threshold', '-n', ns, '--json'])).stdout)).toMatchObject({ value: 0.75, version: 1 });
    // --expect-version says what the caller knows: no existence check, the gateway decides.
    expect((await hotconf(['set', 'brand.new', '1', '--expect-version', '0', '-n', ns])).code).toBe(0);
  });

  it('watch against a gateway that stays down keeps one abort listener, however many times it retries', async () => {
    const closed = await freePort();
    const controller = new AbortController();
    const errors: string[] = [];
    const output = { out: () => {}, err: (text: string) => void errors.push(text), errIsTTY: false, stdinIsTTY: false };
    const running = runCli(['watch', '--since', '0'], {
      output,
      env: { url: `http://127.0.0.1:${closed}/graphql`, token: token, namespace },
      signal: controller.signal,
    });
    // Each attempt used to leave a listener on the signal: 11 made Node warn (MaxListenersExceededWarning).
    await waitFor(() => errors.filter((line) => line.startsWith('cannot connect')).length >= 4, 60_000, 'four failed attempts');
    expect(getEventListeners(controller.signal, 'abort').length).toBeLessThanOrEqual(1);
    controller.abort();
    expect(await running).toBe(0);
  });

  it('flags set --rollout, eval --user and kill', async () => {
    const ns = uniqueNamespace('flags');
    expect((await hotconf(['flags', 'set', 'new-ui', '--rollout', '10', '-n', ns])).code).toBe(0);
    expect(JSON.parse((await hotconf(['get', 'new-ui', '-n', ns, '--json'])).stdout).value).toEqual({ enabled: true, rolloutPercentage: 10 });
    expect((await hotconf(['flags', 'set', 'new-ui', '--rollout', '100', '-n', ns])).code).toBe(0);
    let run = await hotconf(['flags', 'eval', 'new-ui', '--user', 'user-1', '-n', ns, '--json']);
    expect(JSON.parse(run.stdout)).toMatchObject({ enabled: true, reason: 'FULL' });
    run = await hotconf(['flags', 'kill', '--reason', 'incident 42', '-n', ns]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/disabled 1 flag/);
    run = await hotconf(['flags', 'eval', 'new-ui', '--user', 'user-1', '-n', ns, '--json']);
    expect(JSON.parse(run.stdout)).toMatchObject({ enabled: false, reason: 'DISABLED' });
    run = await hotconf(['flags', 'ls', '-n', ns]);
    expect(run.stdout).toMatch(/new-ui\s+off\s+100%/);
    expect((await hotconf(['flags', 'kill', '-n', ns])).code).toBe(1);
  });

  it('convergence shows a lagging client and --check exits 7 until it catches up', async () => {
    const ns = uniqueNamespace('conv');
    await hotconf(['set', 'a', '1', '--create', '-n', ns]);
    await hotconf(['set', 'a', '2', '-n', ns]);
    const report = `mutation R($ns: String!, $rev: SafeInt!) { reportApplied(namespace: $ns, clientId: "pod-7", revision: $rev) }`;
    await gql(gateway.url, token, report, { ns, rev: 1 });
    let run = await hotconf(['convergence', '--check', '-n', ns]);
    expect(run.code).toBe(7);
    expect(run.stdout).toMatch(/pod-7\s+LAGGING\s+1\s+1/);
    expect(run.stdout).toMatch(/NOT converged/);
    await gql(gateway.url, token, report, { ns, rev: 2 });
    run = await hotconf(['convergence', '--check', '-n', ns, '--json']);
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ converged: true, clients: [expect.objectContaining({ clientId: 'pod-7', lag: 0 })] });
  });

  it('imports 5,000 keys as one revision after a dry-run diff, with progress on stderr; export and diff round-trip', async () => {
    const ns = uniqueNamespace('import');
    await hotconf(['set', 'key.00000', '"old"', '--create', '-n', ns]);
    const configs: Record<string, unknown> = {};
    for (let i = 0; i < 5_000; i++) configs[`key.${String(i).padStart(5, '0')}`] = { index: i, enabled: i % 2 === 0 };
    const file = join(cwd, 'big.json');
    writeFileSync(file, JSON.stringify({ configs }));

    let run = await hotconf(['import', file, '--dry-run', '-n', ns]);
    expect(run.code).toBe(7);
    expect(run.stdout).toMatch(/4999 to add, 1 to change, 0 unchanged/);
    run = await hotconf(['import', file, '-n', ns]);
    expect(run.code).toBe(1); // stdin is not a terminal: no silent apply
    expect(run.stderr).toMatch(/--yes/);
    expect(JSON.parse((await hotconf(['ls', '-n', ns, '--json'])).stdout).entries).toHaveLength(1);

    const started = Date.now();
    run = await hotconf(['import', file, '--yes', '-n', ns, '--reason', 'bulk load'], {}, 120_000);
    expect(run.code, run.stderr).toBe(0);
    // The upload has a real bar; the commit (one transaction) is shown as waiting, then timed.
    expect(run.stderr).toMatch(/uploading \[#+\] 100%[\s\S]*committing 5000 changes as one transaction[\s\S]*committed in \d+\.\d s/);
    expect(run.stdout).toMatch(/imported 5000 key\(s\) into .* at revision 2/);
    const elapsed = Date.now() - started;

    const listed = JSON.parse((await hotconf(['ls', '-n', ns, '--json'])).stdout) as { revision: number; entries: Array<{ revision: number }> };
    expect(listed.revision).toBe(2);
    expect(listed.entries).toHaveLength(5_000);
    expect(new Set(listed.entries.map((e) => e.revision))).toEqual(new Set([2]));

    expect((await hotconf(['diff', file, '-n', ns])).code).toBe(0);
    const exported = join(cwd, 'export.yaml');
    expect((await hotconf(['export', '-n', ns, '-o', exported])).code).toBe(0);
    const text = readFileSync(exported, 'utf8');
    expect(text).toMatch(/^namespace: /m);
    expect(text).toContain('key.04999:');
    writeFileSync(exported, text.replace(/key\.00007:\n(\s+)index: 7/, 'key.00007:\n$1index: 70'));
    run = await hotconf(['diff', exported, '-n', ns]);
    expect(run.code).toBe(7);
    expect(run.stdout).toMatch(/~ key\.00007/);
    expect(run.stdout).toMatch(/0 to add, 1 to change, 4999 unchanged/);
    console.info(`import of 5,000 keys through the CLI: ${elapsed} ms`);
  });

  it('export then import into another namespace round-trips every setting; a reader\'s export never carries or unseals a secret', async () => {
    const from = uniqueNamespace('export-from');
    const SETUP = /* GraphQL */ `mutation S($ns: String!, $inputs: [BatchSetInput!]!) { setConfigs(namespace: $ns, inputs: $inputs) { key } }`;
    await gql(gateway.url, token, SETUP, {
      ns: from,
      inputs: [
        { key: 'ai.threshold', value: 0.85, description: 'model cut-off', schema: { type: 'number', minimum: 0, maximum: 1 } },
        { key: 'db.password', value: 'hunter2', secret: true, description: 'primary DB' },
        { key: 'flags.beta', value: { enabled: true, rolloutPercentage: 10 } },
        { key: 'plain', value: 'x' },
      ],
    });
    const READ = /* GraphQL */ `query R($ns: String!) { configs(namespace: $ns) { entries { key value description secret schema } } }`;
    const read = async (ns: string) => (await gql<{ configs: { entries: unknown[] } }>(gateway.url, token, READ, { ns })).configs.entries;

    const file = join(cwd, 'settings.yaml');
    expect((await hotconf(['export', '-n', from, '-o', file])).code).toBe(0);
    const to = uniqueNamespace('export-to');
    const run = await hotconf(['import', file, '--yes', '-n', to]);
    expect(run.code, run.stderr).toBe(0);
    expect(await read(to)).toEqual(await read(from));

    // A reader without the secrets claim: the secret value stays home, and importing that file
    // elsewhere creates no readable copy of it.
    const reader = await testToken({ sub: 'auditor', role: 'reader', namespaces: [from] });
    const readerFile = join(cwd, 'reader.yaml');
    const exported = await hotconf(['export', '-n', from, '-o', readerFile], { HOTCONF_TOKEN: reader });
    expect(exported.code).toBe(0);
    expect(exported.stderr).toMatch(/left out 1 redacted secret\(s\): db\.password/);
    expect(readFileSync(readerFile, 'utf8')).not.toContain('hunter2');
    const third = uniqueNamespace('export-reader');
    expect((await hotconf(['import', readerFile, '--yes', '-n', third])).code).toBe(0);
    const imported = (await read(third)) as Array<{ key: string }>;
    expect(imported.map((entry) => entry.key)).toEqual(['ai.threshold', 'flags.beta', 'plain']);
  });

  it('restore undoes a bad import in one step, after showing what will change', async () => {
    const ns = uniqueNamespace('restore');
    const good = join(cwd, 'good.yaml');
    writeFileSync(good, 'configs:\n  ai.threshold: 0.75\n  ai.model: small\n');
    expect((await hotconf(['import', good, '--yes', '-n', ns])).code).toBe(0);
    const bad = join(cwd, 'bad.yaml');
    writeFileSync(bad, 'configs:\n  ai.threshold: 7.5\n  ai.model: small\n  ai.debug: true\n');
    expect((await hotconf(['import', bad, '--yes', '-n', ns])).code).toBe(0);

    let run = await hotconf(['restore', '--to-revision', '1', '--dry-run', '-n', ns]);
    expect(run.code).toBe(7);
    expect(run.stdout).toMatch(/- ai\.debug: true → deleted/);
    expect(run.stdout).toMatch(/~ ai\.threshold: 7\.5 → 0\.75/);
    expect(run.stdout).toMatch(/at revision 2: 2 key\(s\) to restore to revision 1/);
    run = await hotconf(['restore', '--to-revision', '1', '-n', ns]);
    expect(run.code).toBe(1); // not a terminal: no silent apply
    run = await hotconf(['restore', '--to-revision', '1', '--yes', '-n', ns, '--reason', 'undo bad import']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/restored 2 key\(s\) of .* to revision 1: now at revision 3/);
    const listed = JSON.parse((await hotconf(['ls', '-n', ns, '--json'])).stdout) as { entries: Array<{ key: string; value: unknown }> };
    expect(listed.entries.map((e) => [e.key, e.value])).toEqual([
      ['ai.model', 'small'],
      ['ai.threshold', 0.75],
    ]);
    // Already restored: nothing to do, exit 0.
    run = await hotconf(['restore', '--to-revision', '1', '--yes', '-n', ns]);
    expect(run.code).toBe(0);
    expect(run.stderr).toMatch(/nothing to restore/);
  });

  it('watch tails changes and resumes across a gateway restart without missing or repeating one', async () => {
    const ns = uniqueNamespace('watch');
    await hotconf(['set', 'before', '0', '--create', '-n', ns]);
    const other = await startGateway({ env: { DATABASE_URL: database.url, REDIS_URL: SHARED_REDIS_URL, HOTCONF_CHANNEL_PREFIX: prefix } });
    try {
      const watcher = collect(spawnCli(['watch', '--json', '--count', '3', '-n', ns], baseEnv, cwd), 90_000);
      // Once it has printed its starting revision, every later write is replayed or streamed to it.
      await waitFor(() => /watching .* from revision 1/.test(watcher.stderr()), 30_000, 'watch started');
      expect((await hotconf(['set', 'first', '1', '--create', '-n', ns])).code).toBe(0);
      await waitFor(() => watcher.stdout().includes('"first"'), 15_000, 'first change in watch');

      await gateway.stop('SIGTERM');
      // Written while the watched gateway is down: only a resume can deliver it.
      expect((await hotconf(['set', 'while-down', '2', '--create', '-n', ns], { HOTCONF_URL: other.url })).code).toBe(0);
      await gateway.restart();
      await hotconf(['set', 'after', '3', '--create', '-n', ns]);

      const result = await watcher;
      expect(result.code, result.stderr).toBe(0);
      const lines = result.stdout.trim().split('\n').map((l) => JSON.parse(l) as { key: string; revision: number; replayed: boolean });
      expect(lines.map((l) => [l.key, l.revision])).toEqual([
        ['first', 2],
        ['while-down', 3],
        ['after', 4],
      ]);
      expect(lines[1]!.replayed).toBe(true);
      expect(result.stderr).toMatch(/resuming after revision 2/);
    } finally {
      await other.stop('SIGKILL');
    }
  });

  it('migrate applies migrations to a fresh database, and serve starts a gateway that stops on SIGTERM', async () => {
    await using fresh = await createTestDatabase('climigrate');
    const run = await hotconf(['migrate'], { DATABASE_URL: fresh.url });
    expect(run.code, run.stderr).toBe(0);
    const sql = postgres(fresh.url, { max: 1, onnotice: () => {} });
    try {
      const tables = await sql<Array<{ table_name: string }>>`select table_name from information_schema.tables where table_schema = 'public'`;
      expect(tables.length).toBeGreaterThan(0);
    } finally {
      await sql.end();
    }

    const port = await freePort();
    const server = spawnCli(['serve', '--port', String(port)], {
      DATABASE_URL: fresh.url,
      HOTCONF_JWT_SECRET: TEST_JWT_SECRET,
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
    }, cwd);
    const served = collect(server, 60_000);
    await waitFor(async () => {
      try {
        return (await fetch(`http://127.0.0.1:${port}/health`)).ok;
      } catch {
        return false;
      }
    }, 30_000, 'hotconf serve on its port');
    expect((await hotconf(['set', 'served', 'yes', '--create', '-n', 'served'], { HOTCONF_URL: `http://127.0.0.1:${port}/graphql` })).code).toBe(0);
    server.kill('SIGTERM');
    expect((await served).code).toBe(0);
  });

  it('a --url that is another GraphQL server is said as such (exit 5), never "does not exist" (exit 2)', async () => {
    // Its answer to anything: a result with none of the fields asked for.
    const impostor = createHttpServer((_, response) => response.writeHead(200, { 'content-type': 'application/json' }).end('{"data":{}}'));
    await new Promise<void>((resolve) => impostor.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(impostor.address() as AddressInfo).port}/graphql`;
      for (const args of [['get', 'k'], ['ls'], ['history', 'k']]) {
        const run = await hotconf([...args, '--url', url]);
        expect(run.code, args.join(' ')).toBe(5);
        expect(run.stderr).toMatch(/answered without the fields asked for: is it a hotconf gateway\?/);
      }
    } finally {
      await new Promise((resolve) => impostor.close(resolve));
    }
  });

  it('migrate and serve name what is wrong with DATABASE_URL: an unknown database, a refused port', async () => {
    const missing = new URL(database.url);
    missing.pathname = '/hotconf_no_such_database';
    const refused = new URL(database.url);
    refused.port = String(await freePort());
    for (const [url, cause] of [
      [missing.href, /database "hotconf_no_such_database" does not exist/],
      [refused.href, new RegExp(`ECONNREFUSED 127\\.0\\.0\\.1:${refused.port}`)],
    ] as const) {
      const migrate = await hotconf(['migrate'], { DATABASE_URL: url });
      expect(migrate.code).not.toBe(0);
      expect(migrate.stderr).toMatch(cause);
      expect(migrate.stderr).not.toMatch(/CONNECTION_DESTROYED/);
    }
    // A database refusing for good ends `serve` at once with the reason. (One that is only down,
    // the refused port, is waited for: startup.test.ts.)
    const serve = await hotconf(['serve', '--port', String(await freePort())], {
      DATABASE_URL: missing.href,
      HOTCONF_JWT_SECRET: TEST_JWT_SECRET,
      LOG_LEVEL: 'silent',
    });
    expect(serve.code).toBe(1);
    expect(serve.stderr).toMatch(/database "hotconf_no_such_database" does not exist/);
  });
});
