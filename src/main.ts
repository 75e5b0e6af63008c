import { EntryPointError, startGateway } from './gateway.js';

/** Entry point: environment → config → gateway; SIGTERM/SIGINT → ordered stop. */
export async function main(): Promise<void> {
  let started;
  try {
    started = await startGateway({ env: process.env });
  } catch (error) {
    if (error instanceof EntryPointError) {
      process.stderr.write(`hotconf: ${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
  const { logger } = started;
  let signalled = false;
  const shutdown = (signal: string) => {
    if (signalled) return;
    signalled = true;
    logger.info({ signal }, 'signal received');
    const force = setTimeout(() => process.exit(1), 10_000).unref();
    started.stop().then(
      () => {
        clearTimeout(force);
        process.exit(0);
      },
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

await main();
