import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SET_CONFIG, gql, startGateway, subscribeWs, testToken, uniqueNamespace, wsClient } from '../helpers/gateway.js';
import { waitFor } from '../helpers/net.js';
import { startOtlpReceiver } from '../helpers/otlp.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';

const hex = (bytes: number) => randomBytes(bytes).toString('hex');
const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

describe.each(['http/protobuf', 'http/json'])('a gateway process with OTEL_EXPORTER_OTLP_ENDPOINT exports its spans (%s)', (protocol) => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await createTestDatabase('otlp');
  });
  afterAll(() => database?.drop());

  it('request, commit, publish and delivery reach the collector in the caller’s trace, without the value', async () => {
    await using receiver = await startOtlpReceiver();
    await using gateway = await startGateway({
      env: {
        DATABASE_URL: database.url,
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
        OTEL_EXPORTER_OTLP_PROTOCOL: protocol,
        OTEL_SERVICE_NAME: 'hotconf-otlp-test',
      },
    });
    const token = await testToken();
    const namespace = uniqueNamespace('otlp');
    const client = wsClient(gateway.wsUrl, token);
    try {
      const watcher = await subscribeWs(client, { namespace });
      await waitFor(async () => {
        const ready = (await (await fetch(`http://127.0.0.1:${gateway.port}/ready`)).json()) as { namespaces?: Record<string, unknown> };
        return ready.namespaces?.[namespace] !== undefined;
      }, 15_000, 'the gateway following the namespace');

      const traceId = hex(16);
      const parentSpanId = hex(8);
      const marker = `otlp-value-${hex(12)}`;
      const response = await fetch(gateway.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, traceparent: `00-${traceId}-${parentSpanId}-01` },
        body: JSON.stringify({ query: SET_CONFIG, variables: { input: { namespace, key: 'ai.threshold', value: marker } } }),
      });
      expect(response.headers.get('x-trace-id')).toBe(traceId);
      await watcher.waitForCount(1);

      // An ordered shutdown flushes the batch span processor before the process exits.
      await gateway.stop('SIGTERM');
      const names = () => receiver.spans.filter((span) => span.traceId === traceId).map((span) => span.name);
      await waitFor(() => names().length >= 4, 15_000, `four spans of the trace (have ${names().join(', ')})`);

      expect(names().sort()).toEqual(['hotconf.commit', 'hotconf.deliver', 'hotconf.publish', 'mutation Set']);
      const byName = Object.fromEntries(receiver.spans.filter((span) => span.traceId === traceId).map((span) => [span.name, span]));
      const request = byName['mutation Set']!;
      expect(request.parentSpanId).toBe(parentSpanId);
      expect(request.kind).toBe(2); // SERVER
      expect(byName['hotconf.commit']!.parentSpanId).toBe(request.spanId);
      expect(byName['hotconf.publish']!.kind).toBe(4); // PRODUCER
      expect(byName['hotconf.deliver']!.attributes).toMatchObject({ 'hotconf.namespace': namespace, 'hotconf.key_count': 1, 'hotconf.delivery.source': 'local' });
      expect(request.resource['service.name']).toBe('hotconf-otlp-test');
      expect(receiver.contentTypes.every((type) => type.startsWith(protocol === 'http/json' ? 'application/json' : 'application/x-protobuf'))).toBe(true);
      for (const body of receiver.bodies) expect(body.includes(marker)).toBe(false);
    } finally {
      await client.dispose();
    }
  });
});

describe('loading the SDK', () => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await createTestDatabase('otlpload');
  });
  afterAll(() => database?.drop());

  /** Starts the compiled gateway in a fresh node process with `env`, does a mutation, and lists the OpenTelemetry packages loaded. */
  const loadedPackages = async (env: Record<string, string>): Promise<string[]> => {
    const script = `
      import { createRequire } from 'node:module';
      import { createApp } from './dist/app.js';
      import { loadConfig } from './dist/config.js';
      import { createLogger } from './dist/logger.js';
      const app = await createApp(loadConfig({ ...process.env, PORT: '0', HOST: '127.0.0.1', HOTCONF_RATE_LIMIT_PER_MIN: '0' }), { logger: createLogger({ level: 'silent' }) });
      await app.start();
      await app.stop();
      const packages = Object.keys(createRequire(import.meta.url).cache).map((file) => /node_modules\\/(@opentelemetry\\/[^/]+)\\//.exec(file)?.[1]).filter(Boolean);
      process.stdout.write(JSON.stringify([...new Set(packages)].sort()));
    `;
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', DATABASE_URL: database.url, HOTCONF_JWT_SECRET: 'load-test-secret', ...env },
    });
    return JSON.parse(stdout) as string[];
  };

  it('a gateway without an OTLP endpoint loads no SDK (only the API the core calls); one with an endpoint does', async () => {
    const without = await loadedPackages({});
    expect(without.filter((name) => name !== '@opentelemetry/api')).toEqual([]);
    await using receiver = await startOtlpReceiver();
    const withEndpoint = await loadedPackages({ OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url });
    expect(withEndpoint).toEqual(expect.arrayContaining(['@opentelemetry/sdk-trace-base', '@opentelemetry/exporter-trace-otlp-proto']));
    expect(withEndpoint).not.toContain('@opentelemetry/exporter-trace-otlp-http');
  });
});
