import { createSchema, createYoga } from 'graphql-yoga';
import { describe, expect, it } from 'vitest';
import { createMetrics } from '../../src/server/metrics.js';
import { useMetrics } from '../../src/server/use-metrics.js';

function sample(text: string, name: string, labels: Record<string, string>): number | null {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    const ok = Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`));
    if (ok) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return null;
}

describe('useMetrics', () => {
  it('counts operations by name, type and outcome code, with a duration', async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    const yoga = createYoga({
      schema: createSchema({
        typeDefs: /* GraphQL */ `type Query { a: Int, fails: Int }`,
        resolvers: { Query: { a: () => 1, fails: () => { throw new Error('boom'); } } },
      }),
      plugins: [useMetrics(metrics)],
      logging: false,
    });
    const post = (query: string) =>
      yoga.fetch('http://gateway/graphql', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query }) });
    expect((await post('query Good { a }')).status).toBe(200);
    await post('query Good { a }');
    await post('query Bad { fails }');
    await post('query Broken { nope }');
    const text = await metrics.render();
    expect(sample(text, 'hotconf_graphql_requests_total', { operation: 'Good', type: 'query', code: 'OK' })).toBe(2);
    expect(sample(text, 'hotconf_graphql_requests_total', { operation: 'Bad', type: 'query', code: 'INTERNAL_SERVER_ERROR' })).toBe(1);
    expect(sample(text, 'hotconf_graphql_requests_total', { operation: 'Broken', type: 'query', code: 'GRAPHQL_VALIDATION_FAILED' })).toBe(1);
    expect(sample(text, 'hotconf_graphql_request_duration_seconds_count', { operation: 'Good', code: 'OK' })).toBe(2);
  });
});
