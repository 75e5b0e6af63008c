/**
 * Opens (and closes) the embedded database in the data directory given as argv[2], from a
 * process of its own: the PGlite lock test needs a second process. Exit code 0 = opened,
 * 3 = refused (the error message on stderr).
 */
import { connectDatabase } from '../../src/db/connect.js';

const dataDir = process.argv[2];
if (!dataDir) throw new Error('usage: open-pglite.ts <dataDir>');
try {
  const database = await connectDatabase({ dataDir });
  await database.ping();
  await database.close();
  process.stdout.write('opened\n');
} catch (error) {
  process.stderr.write(`${(error as Error).message}\n`);
  process.exitCode = 3;
}
