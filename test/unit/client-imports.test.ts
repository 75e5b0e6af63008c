import { readFileSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
// Runtime imports only: `import type` and `export type` vanish at compile time.
const IMPORT = /^\s*(?:import|export)\s+(?!type\b)(?:[^'"]*?\sfrom\s+)?['"]([^'"]+)['"]/gm;

/** Every file and package the module at `entry` loads at run time, transitively. */
function runtimeGraph(entry: string): { files: Set<string>; packages: Set<string> } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const visit = (file: string) => {
    if (files.has(file)) return;
    files.add(file);
    for (const [, specifier] of readFileSync(file, 'utf8').matchAll(IMPORT)) {
      if (specifier!.startsWith('.')) visit(resolve(dirname(file), specifier!.replace(/\.js$/, '.ts')));
      else packages.add(specifier!.startsWith('@') ? specifier!.split('/').slice(0, 2).join('/') : specifier!.split('/')[0]!);
    }
  };
  visit(resolve(ROOT, entry));
  return { files, packages };
}

describe('hotconf/client', () => {
  const { files, packages } = runtimeGraph('src/client/index.ts');

  it('loads nothing from the gateway: only src/client and the shared flag evaluation', () => {
    const outside = [...files].map((file) => relative(ROOT, file)).filter((file) => !file.startsWith('src/client/'));
    expect(outside).toEqual(['src/shared/flags.ts']);
  });

  it('needs none of the server packages', () => {
    for (const server of ['graphql-yoga', 'drizzle-orm', 'postgres', '@electric-sql/pglite', 'ioredis', 'graphql-redis-subscriptions', 'pino', 'prom-client', 'jose']) {
      expect(packages, server).not.toContain(server);
    }
    expect(packages).toContain('graphql-ws');
  });
});
