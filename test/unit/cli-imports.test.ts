/**
 * The CLI's dependency rule: it talks to gateways through the client library (src/client, with
 * the shared flag rules of src/core/flags.ts) and runs gateway work (`serve`, `migrate`, `token`,
 * `secrets rotate`) through the entry points exported by src/gateway.ts — never by importing
 * the gateway's modules itself.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
// Static and dynamic imports alike (`import type` included: types shape the dependency too).
const IMPORT = /(?:^\s*(?:import|export)\s+(?:[^'"]*?\sfrom\s+)?|import\()\s*['"]([^'"]+)['"]/gm;

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? sources(join(dir, entry.name)) : entry.name.endsWith('.ts') ? [join(dir, entry.name)] : [],
  );
}

describe('hotconf CLI', () => {
  it('imports only itself, the client library and the gateway entry points', () => {
    const outside = new Set<string>();
    const packages = new Set<string>();
    for (const file of sources(resolve(ROOT, 'src/cli'))) {
      for (const [, specifier] of readFileSync(file, 'utf8').matchAll(IMPORT)) {
        if (!specifier!.startsWith('.')) {
          packages.add(specifier!);
          continue;
        }
        const target = relative(ROOT, resolve(dirname(file), specifier!.replace(/\.js$/, '.ts')));
        if (!target.startsWith('src/cli/') && !target.startsWith('src/client/')) outside.add(target);
      }
    }
    expect([...outside].sort()).toEqual(['src/core/flags.ts', 'src/gateway.ts']);
    // No GraphQL parsing and no graphql-ws of its own: documents are generated, sockets are the SDK's.
    for (const specifier of packages) expect(specifier).not.toMatch(/^(graphql|graphql-ws|ws)(\/|$)/);
  });
});
