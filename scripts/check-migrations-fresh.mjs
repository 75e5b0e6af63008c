// Fails when src/db/schema.ts has changes that no migration in drizzle/ carries: generates into a
// scratch copy of drizzle/ and checks that nothing new appears.
import { cpSync, mkdirSync, mkdtempSync, existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';

// drizzle-kit resolves --out relative to the working directory, so the scratch copy lives here.
mkdirSync('.tmp', { recursive: true });
const scratch = mkdtempSync(join('.tmp', 'drizzle-check-'));
try {
  cpSync('drizzle', scratch, { recursive: true });
  const before = readdirSync(scratch).sort().join('\n');
  execFileSync(
    'npx',
    ['drizzle-kit', 'generate', '--dialect', 'postgresql', '--schema', './src/db/schema.ts', '--out', scratch],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  // drizzle-kit exits 0 even when it fails: a missing journal means it did not run.
  if (!existsSync(join(scratch, 'meta', '_journal.json'))) throw new Error('drizzle-kit generate did not run');
  const after = readdirSync(scratch).sort().join('\n');
  if (before !== after) {
    console.error('drizzle/ is stale: src/db/schema.ts has changes without a migration. Run `npm run db:generate -- --name <why>` and commit drizzle/.');
    process.exit(1);
  }
  console.log('drizzle/ migrations match src/db/schema.ts');
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
