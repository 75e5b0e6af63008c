/**
 * What docs/CLIENTS.md tells people who talk to hotconf without the SDK, checked against real
 * gateways with the real tools: the codegen scalars map (taken from the document itself), a
 * graphql-sse subscription, and the raw graphql-ws "reconnect and resume" recipe across a gateway
 * restart (the documented code, run with only the URL, namespace and token filled in).
 */
import { execFile } from 'node:child_process';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { randomBytes } from 'node:crypto';
import { generate } from '@graphql-codegen/cli';
import * as graphqlWs from 'graphql-ws';
import { createClient as createSseClient } from 'graphql-sse';
import { buildSchema, getIntrospectionQuery, isScalarType, type IntrospectionQuery, type IntrospectionScalarType } from 'graphql';
import { SignJWT } from 'jose';
import ts from 'typescript';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_JWT_SECRET, gql, setConfig, startGateway, testToken, uniqueNamespace, type Gateway } from '../helpers/gateway.js';
import { waitFor } from '../helpers/net.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const TSC = join(ROOT, 'node_modules/typescript/bin/tsc');
const SET_MANY = /* GraphQL */ `
  mutation Set($ns: String!, $inputs: [BatchSetInput!]!) { setConfigs(namespace: $ns, inputs: $inputs) { key revision } }
`;

let doc: string;
/** Scratch space inside the repository, so that tsc resolves packages from its node_modules. */
let scratch: string;

/** The body of the first fenced block after `heading` in docs/CLIENTS.md that contains `marker`. */
function codeBlock(heading: string, marker: string): string {
  const start = doc.indexOf(`\n## ${heading}\n`);
  expect(start, `docs/CLIENTS.md has a "## ${heading}" section`).toBeGreaterThanOrEqual(0);
  const end = doc.indexOf('\n## ', start + 1);
  const section = doc.slice(start, end < 0 ? undefined : end);
  const block = [...section.matchAll(/```[a-z]*\n([\s\S]*?)```/g)].map((match) => match[1]!).find((body) => body.includes(marker));
  expect(block, `a code block with ${marker} under "## ${heading}"`).toBeDefined();
  return block!;
}

/** Runs tsc (strict, nodenext) on `files` in `dir`; returns its output, empty when it passes. */
async function typecheck(dir: string, files: string[]): Promise<string> {
  const args = [TSC, '--strict', '--noEmit', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022', '--types', 'node', '--skipLibCheck', ...files];
  try {
    await run(process.execPath, args, { cwd: dir, maxBuffer: 16 << 20 });
    return '';
  } catch (error) {
    const { stdout = '', stderr = '' } = error as { stdout?: string; stderr?: string };
    return `${stdout}${stderr}` || String(error);
  }
}

/** A token for the test secret that expires in `seconds`. */
function expiringToken(seconds: number): Promise<string> {
  return new SignJWT({ role: 'reader', namespaces: '*' })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject('short-lived')
    .setIssuedAt()
    .setExpirationTime(Math.floor(Date.now() / 1000) + seconds)
    .sign(new TextEncoder().encode(TEST_JWT_SECRET));
}

describe('docs/CLIENTS.md, checked against running gateways', () => {
  let database: TestDatabase;
  let a: Gateway;
  let b: Gateway;
  let admin: string;

  beforeAll(async () => {
    doc = await readFile(join(ROOT, 'docs/CLIENTS.md'), 'utf8');
    scratch = join(ROOT, 'node_modules/.cache', `client-docs-${randomBytes(4).toString('hex')}`);
    await mkdir(scratch, { recursive: true });
    database = await createTestDatabase('clientdocs');
    // Two gateways on one database: `a` is restarted, `b` takes writes while `a` is down.
    [a, b] = await Promise.all([startGateway({ env: { DATABASE_URL: database.url } }), startGateway({ env: { DATABASE_URL: database.url } })]);
    admin = await testToken({ sub: 'docs' });
  });

  afterAll(async () => {
    await Promise.all([a?.stop('SIGKILL'), b?.stop('SIGKILL')]);
    await database?.drop();
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  describe('typed operations (GraphQL Code Generator)', () => {
    it('introspection names what each custom scalar is (specifiedByURL), and the documented map covers exactly those scalars', async () => {
      const response = await fetch(a.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${admin}` },
        body: JSON.stringify({ query: getIntrospectionQuery({ specifiedByUrl: true }) }),
      });
      const { data } = (await response.json()) as { data: IntrospectionQuery };
      const builtIn = new Set(['String', 'Int', 'Float', 'Boolean', 'ID']);
      const custom = data.__schema.types.filter((type): type is IntrospectionScalarType => type.kind === 'SCALAR' && !builtIn.has(type.name));
      const served = Object.fromEntries(custom.map((type) => [type.name, { specifiedByURL: type.specifiedByURL, description: type.description }]));
      expect(served).toEqual({
        JSON: { specifiedByURL: expect.stringMatching(/^https:\/\//), description: expect.any(String) },
        DateTime: { specifiedByURL: expect.stringMatching(/^https:\/\//), description: expect.any(String) },
        SafeInt: { specifiedByURL: expect.stringMatching(/^https:\/\//), description: expect.any(String) },
      });
      // What the gateway serves is what the SDL (the source codegen may also read) declares.
      const sdl = buildSchema(await readFile(join(ROOT, 'schema/hotconf.graphql'), 'utf8'));
      for (const name of Object.keys(served)) {
        const declared = sdl.getType(name);
        expect(isScalarType(declared) && { specifiedByURL: declared.specifiedByURL, description: declared.description }, name).toEqual(served[name]);
      }
      expect(Object.keys(documentedScalars()).sort()).toEqual(custom.map((type) => type.name).sort());
    });

    it('codegen against a running gateway, with the documented scalars map, types SafeInt as number, DateTime as string and JSON as unknown', async () => {
      const scalars = documentedScalars();
      expect(scalars).toEqual({
        JSON: { input: 'unknown', output: 'unknown' },
        DateTime: { input: 'string', output: 'string' },
        SafeInt: { input: 'number', output: 'number' },
      });
      const operations = /* GraphQL */ `
        query Entry($ns: String!, $key: String!) { config(namespace: $ns, key: $key) { id key value version revision updatedAt } }
        subscription Watch($ns: String!, $since: SafeInt) {
          configChanged(namespace: $ns, sinceRevision: $since) { id key op value revision changedAt lastInRevision }
        }
      `;
      await writeFile(join(scratch, 'operations.graphql'), operations);
      const generateFrom = async (schema: string | Array<Record<string, { headers: Record<string, string> }>>) => {
        const [output] = await generate(
          {
            schema,
            documents: [join(scratch, 'operations.graphql')],
            silent: true,
            generates: { [join(scratch, 'generated.ts')]: { plugins: ['typescript-operations'], config: { scalars } } },
          },
          false,
        );
        return output!.content;
      };
      // The docs offer both: a running gateway (with a token), or the repository's SDL.
      const fromGateway = await generateFrom([{ [a.url]: { headers: { Authorization: `Bearer ${admin}` } } }]);
      const fromSdl = await generateFrom(join(ROOT, 'schema/hotconf.graphql'));
      expect(fromGateway).toBe(fromSdl);
      expect(fromGateway).toMatch(/revision: number/);
      expect(fromGateway).toMatch(/updatedAt: string/);
      expect(fromGateway).toMatch(/value: unknown/);
      expect(fromGateway).not.toMatch(/\bany\b/);
      await writeFile(join(scratch, 'generated.ts'), fromGateway);
      await writeFile(
        join(scratch, 'consumer.ts'),
        `import type { EntryQuery, WatchSubscription, WatchSubscriptionVariables } from './generated.js';

type Equals<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
type Entry = NonNullable<EntryQuery['config']>;
type Change = WatchSubscription['configChanged'];

export const exact: [
  Equals<Entry['revision'], number>,
  Equals<Entry['updatedAt'], string>,
  Equals<Entry['value'], unknown>,
  Equals<Change['revision'], number>,
  Equals<Change['changedAt'], string>,
  Equals<NonNullable<WatchSubscriptionVariables['since']>, number>,
] = [true, true, true, true, true, true];

export function describeEntry(entry: Entry): string {
  const next: number = entry.revision + 1;
  const when: Date = new Date(entry.updatedAt);
  // @ts-expect-error JSON is unknown: narrow it before use.
  const threshold: number = entry.value;
  return \`\${entry.key}@\${next} \${when.toISOString()} \${threshold}\`;
}

export const resumeFrom: WatchSubscriptionVariables = { ns: 'demo-platform', since: 42 };
`,
      );
      expect(await typecheck(scratch, ['consumer.ts'])).toBe('');
    });
  });

  describe('SSE (graphql-sse)', () => {
    it('graphql-sse subscribes to configChanged with the Authorization header and receives a change', async () => {
      const ns = uniqueNamespace('sse');
      const client = createSseClient({ url: a.url, headers: { Authorization: `Bearer ${admin}` }, retryAttempts: 0 });
      const received: Array<{ key: string; value: unknown; revision: number }> = [];
      const errors: unknown[] = [];
      const dispose = client.subscribe<{ configChanged: { key: string; value: unknown; revision: number } }>(
        { query: 'subscription ($ns: String!) { configChanged(namespace: $ns, sinceRevision: 0) { key value revision } }', variables: { ns } },
        { next: ({ data, errors: failed }) => (failed ? errors.push(...failed) : data && received.push(data.configChanged)), error: (error) => errors.push(error), complete: () => {} },
      );
      try {
        await setConfig(a.url, admin, ns, 'ai.threshold', 0.85);
        await waitFor(() => received.length > 0 || errors.length > 0, 15_000, 'a change over SSE');
        expect(errors).toEqual([]);
        expect(received).toEqual([{ key: 'ai.threshold', value: 0.85, revision: 1 }]);
      } finally {
        dispose();
        client.dispose();
      }
    });

    it('an SSE stream ends with UNAUTHENTICATED when its token expires; a new one with a fresh token and sinceRevision misses nothing', async () => {
      const ns = uniqueNamespace('sse-exp');
      await setConfig(a.url, admin, ns, 'k', 1);
      const query = 'subscription ($ns: String!, $since: SafeInt) { configChanged(namespace: $ns, sinceRevision: $since) { key value revision replayed } }';
      const open = (token: string, since: number) => {
        const state = { changes: [] as Array<{ key: string; value: unknown; revision: number; replayed: boolean }>, codes: [] as unknown[], ended: false };
        const client = createSseClient({ url: a.url, headers: { Authorization: `Bearer ${token}` }, retryAttempts: 0 });
        client.subscribe<{ configChanged: (typeof state.changes)[number] }>(
          { query, variables: { ns, since } },
          {
            next: ({ data, errors }) => {
              if (errors) state.codes.push(...errors.map((error) => error.extensions?.code));
              if (data) state.changes.push(data.configChanged);
            },
            error: (error) => void state.codes.push(error instanceof Error ? error.message : error),
            complete: () => void (state.ended = true),
          },
        );
        return { state, client };
      };
      const first = open(await expiringToken(3), 0);
      try {
        await waitFor(() => first.state.changes.length === 1, 15_000, 'the first change');
        await waitFor(() => first.state.ended || first.state.codes.length > 0, 30_000, 'the stream to end when its token expires');
        expect(first.state.codes).toEqual(['UNAUTHENTICATED']);
      } finally {
        first.client.dispose();
      }
      await setConfig(a.url, admin, ns, 'k', 2);
      const resumed = open(await testToken({ sub: 'fresh', role: 'reader' }), first.state.changes.at(-1)!.revision);
      try {
        await waitFor(() => resumed.state.changes.length === 1, 15_000, 'the change made while no stream was open');
        expect(resumed.state.changes).toEqual([{ key: 'k', value: 2, revision: 2, replayed: true }]);
        expect(resumed.state.codes).toEqual([]);
      } finally {
        resumed.client.dispose();
      }
    });
  });

  describe('raw graphql-ws: reconnect and resume', () => {
    const snippet = () => codeBlock('Raw graphql-ws: reconnect and resume', 'createClient');

    it('the documented recipe typechecks under tsc --strict', async () => {
      await writeFile(
        join(scratch, 'recipe.ts'),
        `declare function currentToken(): Promise<string>;
declare function relist(): void;
declare function apply(change: { key: string; op: string; value: unknown; version: number; revision: number }): void;
${snippet()}
export {};
`,
      );
      expect(await typecheck(scratch, ['recipe.ts'])).toBe('');
    });

    it('runs across a gateway restart: every change applied once, in order, none lost or duplicated', async () => {
      const ns = uniqueNamespace('rawws');
      // The documented code with only the URL, namespace and token filled in; its imports are
      // handed the real modules.
      const source = snippet().replace('ws://gw-1:4000/graphql', a.wsUrl).replaceAll("'demo-platform'", `'${ns}'`);
      expect(source).toContain(a.wsUrl);
      expect(source).toContain(ns);
      const { outputText } = ts.transpileModule(`${source}\nexport const __client = client;\n`, {
        compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
      });
      const modules: Record<string, unknown> = { 'graphql-ws': graphqlWs, ws: { __esModule: true, default: WebSocket } };
      const applied: Array<{ key: string; op: string; value: unknown; revision: number }> = [];
      let relists = 0;
      const exports: { __client?: graphqlWs.Client } = {};
      new Function('require', 'exports', 'currentToken', 'relist', 'apply', outputText)(
        (name: string) => modules[name],
        exports,
        async () => admin,
        () => void relists++,
        (change: (typeof applied)[number]) => void applied.push(change),
      );
      const seen = () => applied.map((change) => `${change.revision}:${change.key}=${JSON.stringify(change.value)}`);
      try {
        for (const value of [1, 2, 3]) await setConfig(a.url, admin, ns, 'ai.threshold', value);
        await waitFor(() => applied.length >= 3, 15_000, 'three changes before the restart');

        await a.stop('SIGTERM');
        // While `a` is away: a single change and a batch, written through `b`.
        await setConfig(b.url, admin, ns, 'ai.threshold', 4);
        await gql(b.url, admin, SET_MANY, { ns, inputs: [{ key: 'ai.model', value: 'large' }, { key: 'ai.threshold', value: 5 }] });
        await a.start();
        // A change after the restart: everything before it (missed changes, or a replay of old ones) comes first.
        await waitFor(async () => (await gql<{ configs: { revision: number } }>(a.url, admin, 'query ($ns: String!) { configs(namespace: $ns) { revision } }', { ns })).configs.revision === 5, 30_000, 'the gateway to be back');
        await setConfig(a.url, admin, ns, 'ai.threshold', 6);
        await waitFor(() => applied.some((change) => change.revision === 6), 60_000, `the change after the restart (applied: ${seen().join(', ')})`);
        expect(seen()).toEqual(['1:ai.threshold=1', '2:ai.threshold=2', '3:ai.threshold=3', '4:ai.threshold=4', '5:ai.model="large"', '5:ai.threshold=5', '6:ai.threshold=6']);
        expect(relists).toBe(0);
      } finally {
        await exports.__client?.dispose();
      }
    });
  });
});

/** The `scalars: { … }` object of the codegen example in docs/CLIENTS.md, evaluated. */
function documentedScalars(): Record<string, unknown> {
  const block = codeBlock('Typed operations (GraphQL Code Generator)', 'scalars:');
  const open = block.indexOf('{', block.indexOf('scalars:'));
  let depth = 0;
  let close = open;
  for (; close < block.length; close++) {
    if (block[close] === '{') depth++;
    else if (block[close] === '}' && --depth === 0) break;
  }
  // Our own document: its object literal (with comments) is evaluated as written.
  return new Function(`return (${block.slice(open, close + 1)});`)() as Record<string, unknown>;
}
