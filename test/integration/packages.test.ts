/**
 * The two packages as a user gets them: packed (`npm pack`), installed from the tarballs into a
 * project outside this repository, and used against a real gateway with plain `node` (ESM and
 * CommonJS) and with `tsc --strict` (nodenext). A broken package cannot land while this passes.
 *
 * It packs what `npm run build` compiled (`npm test` builds first): `--ignore-scripts`, because the
 * root package's `prepare` would rebuild `dist/` while other test files run gateways from it.
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gql, startGateway, testToken, type Gateway } from '../helpers/gateway.js';
import { freePort, waitFor } from '../helpers/net.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CLIENT_DIR = join(ROOT, 'packages/client');
const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const INSTALL = ['install', '--prefer-offline', '--no-audit', '--no-fund'];

interface Packed {
  filename: string;
  size: number;
  unpackedSize: number;
  entryCount: number;
  files: Array<{ path: string }>;
}

interface Installed {
  output: string;
  /** Every package npm installed (`node_modules/**` directories with a package.json). */
  packages: string[];
  bytes: number;
}

let scratch: string;
let database: TestDatabase;
let gateway: Gateway;
let token: string;
let clientTarball: Packed;
let serverTarball: Packed;
let service: Installed;
let ops: Installed;
/** The service project: @hotconf/client and typescript only. */
let serviceDir: string;
/** The operator's project: the hotconf package. */
let opsDir: string;
/** A service that uses OpenFeature: @hotconf/client, @openfeature/server-sdk, typescript and @types/node. */
let openFeatureDir: string;
let openFeature: Installed;
const SET = /* GraphQL */ `mutation Set($input: SetConfigInput!) { setConfig(input: $input) { version } }`;

async function pack(cwd: string, destination: string): Promise<Packed> {
  const { stdout } = await run(NPM, ['pack', '--json', '--ignore-scripts', '--pack-destination', destination], { cwd, maxBuffer: 16 << 20 });
  return (JSON.parse(stdout) as Packed[])[0]!;
}

async function diskUsage(path: string): Promise<number> {
  let total = 0;
  for (const entry of await readdir(path, { withFileTypes: true })) {
    const full = join(path, entry.name);
    if (entry.isDirectory()) total += await diskUsage(full);
    else if (entry.isFile()) total += (await stat(full)).size;
  }
  return total;
}

/** Package names under `node_modules`, nested ones included. */
async function installedPackages(modules: string): Promise<string[]> {
  const names: string[] = [];
  if (!existsSync(modules)) return names;
  for (const entry of await readdir(modules, { withFileTypes: true })) {
    if (!entry.isDirectory() || entry.name.startsWith('.')) continue;
    const scoped = entry.name.startsWith('@') ? (await readdir(join(modules, entry.name))).map((name) => `${entry.name}/${name}`) : [entry.name];
    for (const name of scoped) {
      if (existsSync(join(modules, name, 'package.json'))) names.push(name);
      names.push(...(await installedPackages(join(modules, name, 'node_modules'))));
    }
  }
  return names;
}

async function project(name: string, dependencies: string[], packageJson: Record<string, unknown> = {}): Promise<[string, Installed]> {
  const dir = join(scratch, name);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'package.json'), JSON.stringify({ name, version: '1.0.0', private: true, ...packageJson }, null, 2));
  const { stdout, stderr } = await run(NPM, [...INSTALL, ...dependencies], { cwd: dir, maxBuffer: 16 << 20 });
  const modules = join(dir, 'node_modules');
  return [dir, { output: `${stdout}\n${stderr}`, packages: await installedPackages(modules), bytes: await diskUsage(modules) }];
}

function engineWarnings(output: string): string[] {
  return [...new Set([...output.matchAll(/EBADENGINE\s+package: '([^']+)'/g)].map((match) => match[1]!))];
}

/** Runs `node <args>` in `cwd`; `onLine` sees each stdout line as it comes. */
function node(
  args: string[],
  cwd: string,
  { env = {}, onLine }: { env?: Record<string, string>; onLine?: (line: string) => void } = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { cwd, env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let partial = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      partial += chunk.toString();
      const lines = partial.split('\n');
      partial = lines.pop()!;
      for (const line of lines) onLine?.(line);
    });
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const ceiling = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.once('exit', (code) => {
      clearTimeout(ceiling);
      resolve({ code, stdout, stderr });
    });
  });
}

/** The version of `name` this repository installed (the scratch projects install the same). */
async function versionOf(name: string): Promise<string> {
  return (JSON.parse(await readFile(join(ROOT, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
}

const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} kB`;
const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;

beforeAll(async () => {
  for (const built of ['dist/main.js', 'dist/client/index.js', 'packages/client/dist/client/index.js']) {
    if (!existsSync(join(ROOT, built))) throw new Error(`${built} is missing: run \`npm run build\` first`);
  }
  scratch = await mkdtemp(join(tmpdir(), 'hotconf-packages-'));
  const tarballs = join(scratch, 'tarballs');
  await mkdir(tarballs);
  [clientTarball, serverTarball] = [await pack(CLIENT_DIR, tarballs), await pack(ROOT, tarballs)];
  const typescript = await versionOf('typescript');
  database = await createTestDatabase('packages');
  [[serviceDir, service], [opsDir, ops], [openFeatureDir, openFeature], gateway] = await Promise.all([
    project('service', [join(tarballs, clientTarball.filename), `typescript@${typescript}`], { type: 'module' }),
    project('ops', [join(tarballs, serverTarball.filename)]),
    project(
      'openfeature',
      [
        join(tarballs, clientTarball.filename),
        `@openfeature/server-sdk@${await versionOf('@openfeature/server-sdk')}`,
        `typescript@${typescript}`,
        `@types/node@${await versionOf('@types/node')}`,
      ],
      { type: 'module' },
    ),
    startGateway({ env: { DATABASE_URL: database.url } }),
  ]);
  token = await testToken({ sub: 'packages-test', role: 'admin' });
  console.log(
    [
      `@hotconf/client tarball: ${kb(clientTarball.size)}, unpacked ${kb(clientTarball.unpackedSize)}, ${clientTarball.entryCount} files`,
      `hotconf tarball: ${kb(serverTarball.size)}, unpacked ${kb(serverTarball.unpackedSize)}, ${serverTarball.entryCount} files`,
      `installed with @hotconf/client (+ typescript for the tsc check): ${service.packages.length} packages (${service.packages.join(', ')}), ` +
        `${mb(service.bytes)}, ${mb(service.bytes - (await diskUsage(join(serviceDir, 'node_modules/typescript'))))} without typescript`,
      `installed with hotconf: ${ops.packages.length} packages, ${mb(ops.bytes)}`,
      `installed with @hotconf/client + @openfeature/server-sdk (+ typescript, @types/node): ${openFeature.packages.length} packages (${openFeature.packages.join(', ')})`,
      `EBADENGINE: @hotconf/client install: [${engineWarnings(service.output).join(', ')}]; hotconf install: [${engineWarnings(ops.output).join(', ')}]`,
    ].join('\n'),
  );
}, 170_000);

afterAll(async () => {
  await gateway?.stop('SIGKILL');
  await database?.drop();
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

describe('the packed packages, installed outside the repository', () => {
  it('@hotconf/client ships the compiled SDK only, and depends on graphql-ws and ws only', async () => {
    const paths = clientTarball.files.map((file) => file.path);
    expect(paths).toContain('dist/client/index.js');
    expect(paths).toContain('dist/client/index.d.ts');
    expect(paths).toContain('README.md');
    const outside = paths.filter((path) => !/^(dist\/client\/|dist\/shared\/[a-z-]+\.(js|d\.ts)$|README\.md$|package\.json$)/.test(path));
    expect(outside).toEqual([]);
    expect(paths.filter((path) => /\.(ts|map|tsbuildinfo)$/.test(path) && !path.endsWith('.d.ts'))).toEqual([]);
    expect(paths).toContain('dist/client/openfeature.js');
    expect(paths).toContain('dist/client/openfeature.d.ts');
    const manifest = JSON.parse(await readFile(join(serviceDir, 'node_modules/@hotconf/client/package.json'), 'utf8')) as {
      dependencies: Record<string, string>;
      peerDependencies?: Record<string, string>;
      peerDependenciesMeta?: Record<string, { optional?: boolean }>;
    };
    expect(Object.keys(manifest.dependencies).sort()).toEqual(['graphql-ws', 'ws']);
    // OpenFeature is an optional peer: a service that does not use it installs nothing more (below).
    expect(Object.keys(manifest.peerDependencies ?? {})).toEqual(['@openfeature/server-sdk']);
    expect(manifest.peerDependenciesMeta?.['@openfeature/server-sdk']?.optional).toBe(true);
    // graphql-ws declares graphql as a peer, so npm installs it; the SDK never loads it (see below).
    const extra = service.packages.filter((name) => !['@hotconf/client', 'graphql-ws', 'ws', 'graphql', 'typescript'].includes(name));
    expect(extra).toEqual([]);
    expect(engineWarnings(service.output)).toEqual([]);
  });

  it('hotconf ships the gateway and CLI compiled, without tests, CI, benches, source maps or build info', () => {
    const paths = serverTarball.files.map((file) => file.path);
    for (const needed of ['bin/hotconf.js', 'dist/main.js', 'dist/cli/main.js', 'dist/client/index.js', 'dist/client/index.d.ts', 'README.md']) {
      expect(paths, needed).toContain(needed);
    }
    expect(paths.some((path) => path.startsWith('drizzle/') && path.endsWith('.sql'))).toBe(true);
    expect(paths.some((path) => path.startsWith('schema/'))).toBe(true);
    expect(paths.filter((path) => /^(test|\.ci|bench|src|scripts)\//.test(path))).toEqual([]);
    // From packages/ and examples/ only what the shipped documentation links to.
    expect(paths.filter((path) => /^(packages|examples)\//.test(path)).sort()).toEqual([
      'examples/ai-service/README.md',
      'examples/ai-service/index.js',
      'packages/client/README.md',
    ]);
    expect(paths.filter((path) => /\.(map|tsbuildinfo)$/.test(path) || (path.endsWith('.ts') && !path.endsWith('.d.ts')))).toEqual([]);
  });

  it('npm publishes both manifests as written: nothing to auto-correct (a bin path npm rewrites is reported as "invalid and removed")', async () => {
    for (const cwd of [ROOT, CLIENT_DIR]) {
      // --offline: a dry run would otherwise ask the registry about the version, and wait on it.
      const { stderr } = await run(NPM, ['publish', '--dry-run', '--offline', '--ignore-scripts', '--json'], { cwd, maxBuffer: 16 << 20 });
      expect(stderr, cwd).not.toMatch(/auto-corrected|invalid|was removed|was renamed/);
    }
  });

  it('every relative link in the documentation both packages ship leads to a file they ship', () => {
    const dead: string[] = [];
    for (const [name, tarball] of [['hotconf', serverTarball], ['@hotconf/client', clientTarball]] as const) {
      const shipped = new Set(tarball.files.map((file) => file.path));
      const directories = new Set([...shipped].flatMap((path) => path.split('/').slice(0, -1).map((_, i, parts) => parts.slice(0, i + 1).join('/'))));
      for (const doc of [...shipped].filter((path) => path.endsWith('.md'))) {
        const text = readFileSync(join(name === 'hotconf' ? opsDir : serviceDir, 'node_modules', name, doc), 'utf8');
        for (const [, target] of text.matchAll(/\]\(([^)\s#]+)(?:#[^)]*)?\)/g)) {
          if (/^[a-z][a-z0-9+.-]*:/i.test(target!)) continue; // https:, mailto:
          const resolved = posix.normalize(posix.join(posix.dirname(doc), target!)).replace(/\/$/, '');
          if (!shipped.has(resolved) && !directories.has(resolved)) dead.push(`${name}: ${doc} -> ${target}`);
        }
      }
    }
    expect(dead).toEqual([]);
  });

  it('a plain node ESM service lists, watches and sees a change (graphql absent: the SDK never loads it)', async () => {
    const namespace = 'packages-esm';
    await gql(gateway.url, token, SET, { input: { namespace, key: 'ai.threshold', value: 0.75 } });
    // The service below must work without `graphql`, as the contract promises.
    await rm(join(serviceDir, 'node_modules/graphql'), { recursive: true, force: true });
    await writeFile(
      join(serviceDir, 'service.mjs'),
      `import { createConfigClient } from '@hotconf/client';
const config = createConfigClient({ url: process.env.HOTCONF_URL, namespace: process.env.NS, token: process.env.HOTCONF_TOKEN });
await config.ready();
console.log(JSON.stringify({ ready: true, threshold: config.get('ai.threshold'), source: config.entry('ai.threshold').source, revision: config.revision }));
const change = await new Promise((resolve) => config.on('change', resolve));
console.log(JSON.stringify({ change }));
await config.close();
`,
    );
    let ready = false;
    const finished = node(['service.mjs'], serviceDir, {
      env: { HOTCONF_URL: gateway.url, NS: namespace, HOTCONF_TOKEN: token },
      onLine: (line) => (ready ||= line.includes('"ready":true')),
    });
    await waitFor(() => ready, 30_000, 'the service to be ready');
    await gql(gateway.url, token, SET, { input: { namespace, key: 'ai.threshold', value: 0.85 } });
    const { code, stdout, stderr } = await finished;
    expect(code, stderr).toBe(0);
    const [first, second] = stdout.trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(first).toEqual({ ready: true, threshold: 0.75, source: 'gateway', revision: 1 });
    expect(second).toMatchObject({ change: { key: 'ai.threshold', op: 'SET', previous: 0.75, value: 0.85, version: 2, revision: 2, source: 'gateway' } });
    expect(stderr).toBe('');
  });

  it('CommonJS: require("@hotconf/client") works (Node >= 20.19), and so does import()', async () => {
    const namespace = 'packages-cjs';
    await gql(gateway.url, token, SET, { input: { namespace, key: 'k', value: 'from-cjs' } });
    await writeFile(
      join(serviceDir, 'service.cjs'),
      `const { createConfigClient, ConfigClientError } = require('@hotconf/client');
(async () => {
  const config = createConfigClient({ url: process.env.HOTCONF_URL, namespace: process.env.NS, token: process.env.HOTCONF_TOKEN });
  await config.ready();
  const imported = await import('@hotconf/client');
  console.log(JSON.stringify({ k: config.get('k'), sameModule: imported.createConfigClient === createConfigClient, errorClass: typeof ConfigClientError }));
  await config.close();
})();
`,
    );
    const { code, stdout, stderr } = await node(['service.cjs'], serviceDir, { env: { HOTCONF_URL: gateway.url, NS: namespace, HOTCONF_TOKEN: token } });
    expect(code, stderr).toBe(0);
    expect(JSON.parse(stdout.trim())).toEqual({ k: 'from-cjs', sameModule: true, errorClass: 'function' });
    expect(stderr).toBe('');
  });

  it('a tsc --strict nodenext service typechecks against the published .d.ts with no @types, with default and strict libs', async () => {
    await writeFile(
      join(serviceDir, 'service.ts'),
      `import { ConfigClientError, createConfigClient, type ClientState, type ConfigChangeEvent, type TokenProvider } from '@hotconf/client';

const token: TokenProvider = async () => 'a-token';
const config = createConfigClient({
  url: 'http://127.0.0.1:4000/graphql',
  namespace: 'demo-platform',
  token,
  prefix: 'ai.',
  defaults: { 'ai.threshold': 0.75 },
  readyTimeoutMs: 10_000,
});
const other = createConfigClient({ urls: ['http://gw-1:4000/graphql', 'http://gw-2:4000/graphql'], namespace: 'demo-platform', token: 'fixed' });
config.on('change', (event: ConfigChangeEvent) => {
  const previous: unknown = event.previous;
  void previous;
});
config.on('state', (state: ClientState, cause: ConfigClientError | null) => {
  const code: string | undefined = cause?.code;
  void [state, code];
});
config.on('error', (error) => {
  const code: string = error.code;
  void code;
});

export async function main(): Promise<number> {
  try {
    await config.ready();
  } catch (error) {
    if (error instanceof ConfigClientError && error.code === 'UNAUTHENTICATED') return 1;
    throw error;
  }
  const threshold: number = config.get<number>('ai.threshold') ?? 0.75;
  const result = config.evaluateFlag('flags.new-checkout', 'user-1');
  const enabled: boolean = result.enabled && config.isEnabled('flags.new-checkout', 'user-1');
  const entry = config.entry('ai.threshold');
  const versions: Record<string, number> = config.versions();
  const health = { state: config.state, revision: config.revision, lastError: config.lastError?.message ?? null, age: config.secondsSinceConfirmation(), entry, versions };
  void health;
  await Promise.all([config.close(), other.close()]);
  return threshold + (enabled ? 1 : 0);
}
`,
    );
    const base = { strict: true, module: 'nodenext', moduleResolution: 'nodenext', noEmit: true, types: [] as string[] };
    await writeFile(join(serviceDir, 'tsconfig.default.json'), JSON.stringify({ compilerOptions: base, files: ['service.ts'] }));
    await writeFile(
      join(serviceDir, 'tsconfig.strict.json'),
      JSON.stringify({
        compilerOptions: {
          ...base,
          target: 'ES2022',
          lib: ['ES2022'],
          skipLibCheck: false,
          exactOptionalPropertyTypes: true,
          noUncheckedIndexedAccess: true,
          noPropertyAccessFromIndexSignature: true,
          noImplicitOverride: true,
          verbatimModuleSyntax: true,
          isolatedModules: true,
        },
        files: ['service.ts'],
      }),
    );
    const tsc = join(serviceDir, 'node_modules/typescript/bin/tsc');
    for (const config of ['tsconfig.default.json', 'tsconfig.strict.json']) {
      const { code, stdout, stderr } = await node([tsc, '-p', config], serviceDir);
      expect(`${config}: exit ${code}\n${stdout}${stderr}`).toBe(`${config}: exit 0\n`);
    }
  });

  it('hotconf/client still works from the hotconf package, and `hotconf --help` runs', async () => {
    const namespace = 'packages-reexport';
    await gql(gateway.url, token, SET, { input: { namespace, key: 'k', value: 42 } });
    const script = `const { createConfigClient } = await import('hotconf/client');
const config = createConfigClient({ url: process.env.HOTCONF_URL, namespace: process.env.NS, token: process.env.HOTCONF_TOKEN });
await config.ready();
console.log(JSON.stringify({ k: config.get('k') }));
await config.close();`;
    const sdk = await node(['--input-type=module', '-e', script], opsDir, { env: { HOTCONF_URL: gateway.url, NS: namespace, HOTCONF_TOKEN: token } });
    expect(sdk.code, sdk.stderr).toBe(0);
    expect(JSON.parse(sdk.stdout.trim())).toEqual({ k: 42 });

    const help = await node([join(opsDir, 'node_modules/.bin/hotconf'), '--help'], opsDir);
    expect(help.code, help.stderr).toBe(0);
    expect(help.stdout).toMatch(/hotconf/i);
    expect(help.stdout).toMatch(/\bget\b/);
  });
  it('the installed `hotconf` bin runs a gateway on the embedded default: /health, /ready, offline GraphiQL, token, set, get', async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}/graphql`;
    const bin = join(opsDir, 'node_modules/.bin/hotconf');
    // As a user would: in their project, nothing configured but the port (data in ./.hotconf).
    const server = spawn(process.execPath, [bin, 'serve'], {
      cwd: opsDir,
      env: { PATH: process.env.PATH ?? '', PORT: String(port), LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    server.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    server.stdout.resume();
    const exited = new Promise<number | null>((resolve) => server.once('exit', resolve));
    try {
      await waitFor(async () => {
        try {
          return (await fetch(`http://127.0.0.1:${port}/ready`)).ok;
        } catch {
          return false;
        }
      }, 60_000, 'the installed gateway to be ready');
      expect((await fetch(`http://127.0.0.1:${port}/health`)).status).toBe(200);
      const ready = (await (await fetch(`http://127.0.0.1:${port}/ready`)).json()) as { status: string; pool: { driver: string } };
      expect(ready).toMatchObject({ status: 'ready', pool: { driver: 'pglite' } });
      expect(stderr).toMatch(/admin token/); // no key configured: one generated, a token printed once
      // GraphiQL from the installed package's own assets (render-graphiql resolved from node_modules).
      const page = await (await fetch(url, { headers: { accept: 'text/html' } })).text();
      expect(page).toContain('<title>hotconf</title>');
      expect(page).not.toMatch(/unpkg\.com|cdn\.jsdelivr\.net|esm\.sh/);

      const cli = (args: string[]) => node([bin, ...args], opsDir, { env: { HOTCONF_URL: url, HOTCONF_NAMESPACE: 'packages-bin' } });
      const minted = await cli(['token', '--role', 'admin', '--sub', 'ops']);
      expect(minted.code, minted.stderr).toBe(0);
      const env = { HOTCONF_URL: url, HOTCONF_NAMESPACE: 'packages-bin', HOTCONF_TOKEN: minted.stdout.trim() };
      const set = await node([bin, 'set', 'ai.threshold', '0.85', '--create', '--reason', 'from the tarball'], opsDir, { env });
      expect(set.code, set.stderr).toBe(0);
      expect(set.stdout).toMatch(/packages-bin\/ai\.threshold = 0\.85 {2}\(version 1, revision 1\)/);
      const get = await node([bin, 'get', 'ai.threshold', '--raw'], opsDir, { env });
      expect(get.code, get.stderr).toBe(0);
      expect(get.stdout.trim()).toBe('0.85');
    } finally {
      server.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
  });

  it('@hotconf/client/openfeature: with @openfeature/server-sdk installed, a plain node service evaluates flags and hears changes', async () => {
    const namespace = 'packages-openfeature';
    await gql(gateway.url, token, SET, { input: { namespace, key: 'flags.checkout', value: { enabled: true, rolloutPercentage: 30 } } });
    await gql(gateway.url, token, SET, { input: { namespace, key: 'ai.threshold', value: 0.75 } });
    await writeFile(
      join(openFeatureDir, 'flags.mjs'),
      `import { OpenFeature, ProviderEvents } from '@openfeature/server-sdk';
import { createOpenFeatureProvider } from '@hotconf/client/openfeature';
await OpenFeature.setProviderAndWait(createOpenFeatureProvider({ url: process.env.HOTCONF_URL, namespace: process.env.NS, token: process.env.HOTCONF_TOKEN }));
const flags = OpenFeature.getClient();
const details = await flags.getBooleanDetails('flags.checkout', false, { targetingKey: 'user-1' });
const threshold = await flags.getNumberValue('ai.threshold', 0);
const changed = new Promise((resolve) => flags.addHandler(ProviderEvents.ConfigurationChanged, (event) => resolve(event.flagsChanged)));
console.log(JSON.stringify({ ready: true, value: details.value, reason: details.reason, bucket: details.flagMetadata.bucket, threshold }));
const flagsChanged = await changed;
console.log(JSON.stringify({ flagsChanged, threshold: await flags.getNumberValue('ai.threshold', 0) }));
await OpenFeature.close();
`,
    );
    let ready = false;
    const finished = node(['flags.mjs'], openFeatureDir, {
      env: { HOTCONF_URL: gateway.url, NS: namespace, HOTCONF_TOKEN: token },
      onLine: (line) => (ready ||= line.includes('"ready":true')),
    });
    await waitFor(() => ready, 30_000, 'the OpenFeature service to be ready');
    await gql(gateway.url, token, SET, { input: { namespace, key: 'ai.threshold', value: 0.85 } });
    // The process ends by itself after OpenFeature.close(): the provider holds nothing open then.
    const { code, stdout, stderr } = await finished;
    expect(code, stderr).toBe(0);
    const expected = await gql<{ evaluateFlag: { enabled: boolean; bucket: number } }>(
      gateway.url,
      token,
      /* GraphQL */ `query ($ns: String!) { evaluateFlag(namespace: $ns, key: "flags.checkout", userId: "user-1") { enabled bucket } }`,
      { ns: namespace },
    );
    const [first, second] = stdout.trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(first).toEqual({ ready: true, value: expected.evaluateFlag.enabled, reason: 'SPLIT', bucket: expected.evaluateFlag.bucket, threshold: 0.75 });
    expect(second).toEqual({ flagsChanged: ['ai.threshold'], threshold: 0.85 });
    expect(stderr).toBe('');
  });

  it('@hotconf/client/openfeature typechecks under tsc --strict nodenext, with default and strict libs', async () => {
    await writeFile(
      join(openFeatureDir, 'flags.ts'),
      `import { OpenFeature, type Provider } from '@openfeature/server-sdk';
import { createConfigClient } from '@hotconf/client';
import { createOpenFeatureProvider, type HotconfOpenFeatureProvider, type OpenFeatureProviderOptions } from '@hotconf/client/openfeature';

const options: OpenFeatureProviderOptions = { url: 'http://127.0.0.1:4000/graphql', namespace: 'demo-platform', token: () => 'a-token' };
const owned: HotconfOpenFeatureProvider = createOpenFeatureProvider(options);
const config = createConfigClient({ url: 'http://127.0.0.1:4000/graphql', namespace: 'demo-platform' });
const shared: Provider = createOpenFeatureProvider({ client: config });

export async function main(userId: string): Promise<number> {
  await OpenFeature.setProviderAndWait(owned);
  await OpenFeature.setProviderAndWait('shared', shared);
  const flags = OpenFeature.getClient();
  const enabled: boolean = await flags.getBooleanValue('flags.new-checkout', false, { targetingKey: userId });
  const threshold: number = await flags.getNumberValue('ai.threshold', 0.75);
  const state: string | undefined = owned.client?.state;
  void state;
  await OpenFeature.close();
  await config.close();
  return enabled ? threshold : 0;
}
`,
    );
    const base = { strict: true, module: 'nodenext', moduleResolution: 'nodenext', noEmit: true, types: ['node'] };
    await writeFile(join(openFeatureDir, 'tsconfig.default.json'), JSON.stringify({ compilerOptions: base, files: ['flags.ts'] }));
    await writeFile(
      join(openFeatureDir, 'tsconfig.strict.json'),
      JSON.stringify({
        compilerOptions: {
          ...base,
          target: 'ES2022',
          lib: ['ES2022'],
          exactOptionalPropertyTypes: true,
          noUncheckedIndexedAccess: true,
          noPropertyAccessFromIndexSignature: true,
          noImplicitOverride: true,
          verbatimModuleSyntax: true,
          isolatedModules: true,
        },
        files: ['flags.ts'],
      }),
    );
    const tsc = join(openFeatureDir, 'node_modules/typescript/bin/tsc');
    for (const config of ['tsconfig.default.json', 'tsconfig.strict.json']) {
      const { code, stdout, stderr } = await node([tsc, '-p', config], openFeatureDir);
      expect(`${config}: exit ${code}\n${stdout}${stderr}`).toBe(`${config}: exit 0\n`);
    }
  });

  it('hotconf/client/openfeature works from the hotconf package once @openfeature/server-sdk is installed', async () => {
    const namespace = 'packages-reexport-openfeature';
    await gql(gateway.url, token, SET, { input: { namespace, key: 'ai.model', value: 'large' } });
    await run(NPM, [...INSTALL, `@openfeature/server-sdk@${await versionOf('@openfeature/server-sdk')}`], { cwd: opsDir, maxBuffer: 16 << 20 });
    const script = `const { OpenFeature } = await import('@openfeature/server-sdk');
const { createOpenFeatureProvider } = await import('hotconf/client/openfeature');
await OpenFeature.setProviderAndWait(createOpenFeatureProvider({ url: process.env.HOTCONF_URL, namespace: process.env.NS, token: process.env.HOTCONF_TOKEN }));
console.log(JSON.stringify(await OpenFeature.getClient().getStringDetails('ai.model', 'small')));
await OpenFeature.close();`;
    const result = await node(['--input-type=module', '-e', script], opsDir, { env: { HOTCONF_URL: gateway.url, NS: namespace, HOTCONF_TOKEN: token } });
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout.trim())).toMatchObject({ flagKey: 'ai.model', value: 'large', reason: 'STATIC' });
  });
});
