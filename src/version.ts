import { readFileSync } from 'node:fs';

/**
 * The package version, read once from package.json. `../package.json` is the package root both
 * from `src/` (tsx, tests) and from `dist/` (the build and a packed tarball, which always
 * contains package.json), so there is one source of the version.
 */
export const VERSION: string = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
