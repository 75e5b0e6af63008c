/**
 * The dependency rules of docs/ARCHITECTURE.md, checked on the import graph of src/.
 *
 * Every `import`, `import type`, `export … from` and `import()` of every file under src/ is read
 * with the TypeScript compiler's pre-processor (no type checking, so this runs in well under a
 * second). Relative specifiers are resolved to files (`./x.js` → `./x.ts`); bare ones are reduced
 * to their package (`drizzle-orm/pg-core` → `drizzle-orm`, `http` → `node:http`). Type-only
 * imports count: a type from `graphql` in the core still ties the core to GraphQL.
 *
 * Rules that forbid packages apply to everything a layer reaches through its relative imports
 * (`src/core/x.ts` → `src/errors.ts` → `graphql` breaks "core imports no graphql" at the edge
 * `src/errors.ts -> graphql`). Rules that restrict which files a layer may import look at that
 * layer's own edges.
 *
 * The checker is itself tested on a made-up graph with one broken edge per rule, so a rule that
 * stopped matching anything would fail here instead of passing silently.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SRC = join(ROOT, 'src');

/** One import: `from` is a file relative to the repository root, `to` a file there or a package. */
interface Edge {
  from: string;
  to: string;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return /\.(ts|mts|tsx)$/.test(entry.name) && !entry.name.endsWith('.d.ts') ? [path] : [];
  });
}

const BUILTINS = new Set(builtinModules);

/** The package a bare specifier names; Node builtins as `node:<name>`. */
function packageOf(specifier: string): string {
  if (specifier.startsWith('node:')) return `node:${specifier.slice(5).split('/')[0]}`;
  const name = specifier.startsWith('@') ? specifier.split('/').slice(0, 2).join('/') : specifier.split('/')[0]!;
  return BUILTINS.has(name) ? `node:${name}` : name;
}

function resolveRelative(from: string, specifier: string): string {
  const base = resolve(dirname(join(ROOT, from)), specifier);
  const candidates = [base.replace(/\.(m?)js$/, '.$1ts'), base.replace(/\.js$/, '.tsx'), base, `${base}.ts`, join(base, 'index.ts')];
  const found = candidates.find((candidate) => existsSync(candidate) && candidate.startsWith(ROOT) && !candidate.endsWith('/'));
  if (!found) throw new Error(`${from}: cannot resolve import '${specifier}'`);
  return relative(ROOT, found);
}

/** Every import edge of every file under src/. */
function importGraph(): Map<string, Edge[]> {
  const graph = new Map<string, Edge[]>();
  for (const file of sourceFiles(SRC)) {
    const from = relative(ROOT, file);
    const info = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
    const edges = info.importedFiles.map(({ fileName }) => ({
      from,
      to: fileName.startsWith('.') ? resolveRelative(from, fileName) : packageOf(fileName),
    }));
    graph.set(from, edges);
  }
  return graph;
}

const isFile = (to: string) => to.startsWith('src/');
const under = (...dirs: string[]) => (file: string) => dirs.some((dir) => file === dir || file.startsWith(`${dir}/`));

/** Files every layer may import: the shared kernel (errors, logging, the version). */
const KERNEL = ['src/errors.ts', 'src/logger.ts', 'src/version.ts'];

const DRIVERS = ['postgres', 'drizzle-orm', '@electric-sql/pglite', 'ioredis', 'graphql-redis-subscriptions'];
const TRANSPORT = ['ws', 'graphql-ws', 'graphql-yoga', 'graphql-sse', 'node:http', 'node:https', 'node:http2'];

/**
 * What the package exports (package.json `exports`, mapped from dist/ to src/): the only gateway
 * modules the CLI may use besides the client library.
 */
const ENTRY_POINTS = (() => {
  const manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { exports: Record<string, { default?: string } | string> };
  return Object.values(manifest.exports)
    .map((target) => (typeof target === 'string' ? target : target.default ?? ''))
    .filter((target) => target.startsWith('./dist/') && target.endsWith('.js'))
    .map((target) => target.replace(/^\.\/dist\//, 'src/').replace(/\.js$/, '.ts'));
})();

interface Rule {
  /** Short name, used in KNOWN_VIOLATIONS. */
  name: string;
  /** The files the rule is about. */
  layer: (file: string) => boolean;
  /** Packages the layer must not reach, directly or through any file it imports. */
  forbiddenPackages?: readonly string[];
  /** Whether a file of the layer may import this file (checked on the layer's own edges). */
  mayImportFile?: (file: string) => boolean;
  /** Whether a file of the layer may import this package (checked on the layer's own edges). */
  mayImportPackage?: (name: string) => boolean;
}

const RULES: readonly Rule[] = [
  {
    name: 'core: no graphql, no driver, no transport',
    layer: under('src/core'),
    forbiddenPackages: ['graphql', ...DRIVERS, ...TRANSPORT],
  },
  {
    name: 'core: imports only core and the kernel',
    layer: under('src/core'),
    mayImportFile: (file) => under('src/core', 'src/shared')(file) || KERNEL.includes(file),
  },
  {
    // Code the gateway and the SDK both run (flag evaluation): it ships in @hotconf/client.
    name: 'shared: nothing outside itself',
    layer: under('src/shared'),
    mayImportFile: under('src/shared'),
    mayImportPackage: () => false,
  },
  {
    name: 'db: no graphql',
    layer: under('src/db'),
    forbiddenPackages: ['graphql'],
  },
  {
    name: 'bus: no graphql',
    layer: under('src/bus'),
    forbiddenPackages: ['graphql'],
  },
  {
    // Arrows point down: the layers under the edge never import the edge or the composition root.
    name: 'no upward arrow: db, bus and auth import neither the edge nor the root',
    layer: under('src/db', 'src/bus', 'src/auth'),
    mayImportFile: (file) => !under('src/server', 'src/graphql', 'src/cli', 'src/app.ts', 'src/gateway.ts', 'src/main.ts')(file),
  },
  {
    name: 'client: nothing from the gateway',
    layer: under('src/client'),
    mayImportFile: under('src/client', 'src/shared'),
  },
  {
    name: 'cli: only the client library and the entry points',
    layer: under('src/cli'),
    // src/version.ts: the package version, read from package.json in that one place.
    mayImportFile: (file) => under('src/cli', 'src/client', 'src/shared')(file) || ENTRY_POINTS.includes(file) || file === 'src/version.ts',
  },
  {
    name: 'cli: transport only through the client library',
    layer: under('src/cli'),
    // No graphql either: the CLI's documents are generated (codegen), never parsed at run time.
    mayImportPackage: (name) => name !== 'graphql' && !TRANSPORT.includes(name),
  },
];

function violations(graph: Map<string, Edge[]>): Set<string> {
  const found = new Set<string>();
  for (const rule of RULES) {
    const layer = [...graph.keys()].filter(rule.layer);
    for (const file of layer) {
      for (const edge of graph.get(file) ?? []) {
        if (isFile(edge.to) ? rule.mayImportFile && !rule.mayImportFile(edge.to) : rule.mayImportPackage && !rule.mayImportPackage(edge.to)) {
          found.add(`${rule.name} | ${edge.from} -> ${edge.to}`);
        }
      }
    }
    if (!rule.forbiddenPackages) continue;
    // Everything the layer reaches through relative imports.
    const reached = new Set<string>();
    const work = [...layer];
    while (work.length > 0) {
      const file = work.pop()!;
      if (reached.has(file)) continue;
      reached.add(file);
      for (const edge of graph.get(file) ?? []) if (isFile(edge.to)) work.push(edge.to);
    }
    for (const file of reached) {
      for (const edge of graph.get(file) ?? []) {
        if (!isFile(edge.to) && rule.forbiddenPackages.includes(edge.to)) found.add(`${rule.name} | ${edge.from} -> ${edge.to}`);
      }
    }
  }
  return found;
}

/** Source files longer than this need a reason at their top (issue 13). */
const MAX_LINES = 400;

/** The first block comment of a file: its module documentation, before or after the imports. */
function leadingComment(text: string): string {
  return /\/\*[\s\S]*?\*\//.exec(text)?.[0] ?? '';
}

describe('architecture: file size', () => {
  const long = sourceFiles(SRC)
    .map((file) => ({ file: relative(ROOT, file), text: readFileSync(file, 'utf8') }))
    .filter(({ file }) => !file.includes('/generated/'))
    .filter(({ text }) => text.split('\n').length > MAX_LINES);

  it(`no source file is over ${MAX_LINES} lines without saying why at its top ("${MAX_LINES} lines")`, () => {
    const unexplained = long
      .filter(({ text }) => !leadingComment(text).includes(`${MAX_LINES} lines`))
      .map(({ file }) => file);
    expect(unexplained).toEqual([]);
  });
});

describe('architecture: the import graph of src/', () => {
  const graph = importGraph();

  it('reads the whole graph (sanity: the scan sees imports of every kind)', () => {
    expect(graph.size).toBeGreaterThan(50);
    expect(graph.get('src/app.ts')?.map((edge) => edge.to)).toContain('src/core/config-service.ts');
    expect(graph.get('src/db/connect.ts')?.map((edge) => edge.to)).toContain('postgres');
    expect(ENTRY_POINTS).toEqual(expect.arrayContaining(['src/app.ts', 'src/client/index.ts']));
  });

  it('breaks no dependency rule', () => {
    expect([...violations(graph)].sort(), 'imports that break a rule of docs/ARCHITECTURE.md').toEqual([]);
  });

  it('catches one broken edge of every rule (the checker itself, on a made-up graph)', () => {
    const made = new Map<string, Edge[]>([
      // core reaches graphql through a file it imports; and imports the server
      ['src/core/a.ts', [{ from: 'src/core/a.ts', to: 'src/errors.ts' }, { from: 'src/core/a.ts', to: 'src/server/x.ts' }]],
      ['src/errors.ts', [{ from: 'src/errors.ts', to: 'graphql' }]],
      ['src/shared/f.ts', [{ from: 'src/shared/f.ts', to: 'node:crypto' }]],
      ['src/db/d.ts', [{ from: 'src/db/d.ts', to: 'graphql' }]],
      ['src/bus/b.ts', [{ from: 'src/bus/b.ts', to: 'graphql' }]],
      ['src/auth/t.ts', [{ from: 'src/auth/t.ts', to: 'src/server/errors.ts' }]],
      ['src/client/c.ts', [{ from: 'src/client/c.ts', to: 'src/db/d.ts' }]],
      ['src/cli/x.ts', [{ from: 'src/cli/x.ts', to: 'src/db/d.ts' }, { from: 'src/cli/x.ts', to: 'ws' }]],
    ]);
    const broken = new Set([...violations(made)].map((violation) => violation.split(' | ')[0]));
    expect([...broken].sort()).toEqual(RULES.map((rule) => rule.name).sort());
  });
});
