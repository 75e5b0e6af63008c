/**
 * An example service that reads `ai.threshold` from hotconf and logs every hot reload.
 *
 *   HOTCONF_URLS=http://127.0.0.1:4000/graphql HOTCONF_TOKEN=<token> npx tsx examples/ai-service/index.ts
 *
 * Change the value while it runs and watch the log line appear, with no restart:
 *
 *   curl -s http://127.0.0.1:4000/graphql -H "authorization: Bearer $HOTCONF_TOKEN" -H 'content-type: application/json' \
 *     -d '{"query":"mutation { setConfig(input: { namespace: \"demo-platform\", key: \"ai.threshold\", value: 0.85 }) { version } }"}'
 */
import { createServer } from 'node:http';
import { createConfigClient } from 'hotconf/client';

const urls = (process.env.HOTCONF_URLS ?? 'http://127.0.0.1:4000/graphql').split(',');
const namespace = process.env.HOTCONF_NAMESPACE ?? 'demo-platform';
const port = Number(process.env.PORT ?? 8080);

const config = createConfigClient({
  urls,
  namespace,
  token: process.env.HOTCONF_TOKEN,
  prefix: 'ai.',
  defaults: { 'ai.threshold': 0.75 },
  fallbackFile: process.env.HOTCONF_FALLBACK_FILE ?? `./.ai-service-${namespace}.json`,
  // Overrides such as HOTCONF__AI_THRESHOLD=0.9 win over the gateway (see src/client/README.md).
  env: process.env,
});

function log(message: string, fields: Record<string, unknown> = {}): void {
  process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), message, ...fields })}\n`);
}

config.on('change', ({ key, value, previous, version, revision, source }) => {
  log('hot reload', { key, previous, value, version, revision, source });
});
config.on('state', (state) => log('gateway connection', { state, url: config.url }));
config.on('error', (error) => log('config client error', { error: error.message }));

await config.ready();
const threshold = config.entry('ai.threshold');
log('started', { threshold: threshold?.value, source: threshold?.source, revision: config.revision });

/** The decision the service makes with the live value: read from memory on every request. */
function classify(score: number): 'accept' | 'review' {
  return score >= (config.get<number>('ai.threshold') ?? 0.75) ? 'accept' : 'review';
}

// A health endpoint with what an SRE needs to see drift: revision, versions, connection, freshness.
const server = createServer((request, response) => {
  const url = new URL(request.url ?? '/', 'http://localhost');
  if (url.pathname === '/health') {
    response.setHeader('content-type', 'application/json');
    response.end(
      JSON.stringify({
        state: config.state,
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
