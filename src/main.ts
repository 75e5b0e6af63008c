import { createApp } from './app.js';
import { ConfigError, loadConfig } from './config.js';
import { createLogger } from './logger.js';

/** Entry point: environment → config → gateway; SIGTERM/SIGINT → ordered stop. */
export async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`hotconf: ${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
  const logger = createLogger({ level: config.logLevel });
  let app;
  try {
    app = await createApp(config, { logger });
  } catch (error) {
    logger.fatal({ err: error }, 'gateway failed to start');
    process.stderr.write(`hotconf: ${(error as Error).message}\n`);
    process.exit(1);
  }
  const started = app;
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
  try {
    await started.start();
  } catch (error) {
    logger.fatal({ err: error }, 'cannot listen');
    await started.stop();
    process.exit(1);
  }
  for (const line of await started.auth.describeStartupAuth()) process.stderr.write(`${line}\n`);
}

await main();
