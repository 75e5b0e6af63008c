// @ts-check
/**
 * An example service that reads `ai.threshold` from hotconf and logs every hot reload. Plain
 * JavaScript on Node >= 20.19: no build step, no tsx. From the repository root (after
 * `npm install`, which builds the SDK):
 *
 *   HOTCONF_URLS=http://127.0.0.1:4000/graphql HOTCONF_TOKEN=<token> node examples/ai-service/index.js
 *
 * In your own service, `npm install @hotconf/client` and import from '@hotconf/client' instead:
 * the code is the same (`hotconf/client` is the copy inside the gateway package).
 */
import { createServer } from 'node:http';
import { createConfigClient } from 'hotconf/client';

const urls = (process.env.HOTCONF_URLS ?? 'http://127.0.0.1:4000/graphql').split(',');
const namespace = process.env.HOTCONF_NAMESPACE ?? 'demo-platform';
const port = Number(process.env.PORT ?? 8080);

/** @param {string} message @param {Record<string, unknown>} [fields] */
function log(message, fields = {}) {
  process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), message, ...fields })}\n`);
}

const config = createConfigClient({
  urls, // tried in turn: if the first is down, the client moves to the next
  namespace,
  token: process.env.HOTCONF_TOKEN, // or a function returning a fresh token, called on every (re)connect
  prefix: 'ai.',
  defaults: { 'ai.threshold': 0.75 },
  fallbackFile: process.env.HOTCONF_FALLBACK_FILE ?? `./.ai-service-${namespace}.json`,
  // Overrides such as HOTCONF__AI_THRESHOLD=0.9 win over the gateway (see packages/client/README.md).
  env: process.env,
});

config.on('change', ({ key, value, previous, version, revision, source }) => {
  log('hot reload', { key, previous, value, version, revision, source });
});
config.on('state', (state, cause) => log('gateway connection', { state, url: config.url, cause: cause?.message }));
config.on('error', (error) => log('config client error', { code: error.code, error: error.message }));

try {
  await config.ready();
} catch (error) {
  // No gateway answered within readyTimeoutMs and there is no fallback file yet: start on the
  // defaults. The client keeps trying and logs a hot reload for each value once a gateway answers.
  log('starting on defaults', { error: /** @type {Error} */ (error).message });
}
const threshold = config.entry('ai.threshold');
log('started', { threshold: threshold?.value, source: threshold?.source, revision: config.revision, url: config.url });

/**
 * The decision the service makes with the live value: read from memory on every request.
 * @param {number} score
 */
function classify(score) {
  const limit = /** @type {number | undefined} */ (config.get('ai.threshold')) ?? 0.75;
  return score >= limit ? 'accept' : 'review';
}

// A health endpoint with what an SRE needs to see drift: revision, versions, connection, freshness.
const server = createServer((request, response) => {
  const url = new URL(request.url ?? '/', 'http://localhost');
  if (url.pathname === '/health') {
    response.setHeader('content-type', 'application/json');
    response.end(
      JSON.stringify({
        state: config.state,
        url: config.url,
        lastError: config.lastError?.message ?? null,
        revision: config.revision,
        versions: config.versions(),
        secondsSinceConfirmation: config.secondsSinceConfirmation(),
        threshold: config.entry('ai.threshold'),
      }),
    );
    return;
  }
  const score = Number(url.searchParams.get('score') ?? Math.random());
  response.end(`${classify(score)}\n`);
});
server.listen(port, '127.0.0.1', () => log('listening', { port }));

const shutdown = () => {
  server.close();
  void config.close().then(() => log('stopped'));
};
process.once('SIGTERM', shutdown);
process.once('SIGINT', shutdown);
