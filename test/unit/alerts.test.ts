import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { createMetrics } from '../../src/server/metrics.js';

interface Rule {
  alert?: string;
  record?: string;
  expr: string;
  annotations?: { runbook?: string };
}

const RULES_FILE = fileURLToPath(new URL('../../deploy/prometheus/alerts.yml', import.meta.url));
const KEYWORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'and', 'or', 'unless', 'offset', 'bool', 'inf', 'nan']);

/** Metric names a PromQL expression selects (functions, keywords, labels, strings and ranges removed). */
function metricNames(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g, ' ')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  const names = new Set<string>();
  for (const match of stripped.matchAll(/[A-Za-z_:][A-Za-z0-9_:]*/g)) {
    const name = match[0];
    const after = stripped.slice(match.index + name.length).trimStart();
    if (after.startsWith('(')) continue; // a function
    if (KEYWORDS.has(name.toLowerCase())) continue;
    if (/^\d/.test(name)) continue;
    names.add(name);
  }
  return [...names];
}

/** What the gateway really exports: each registered name, plus the series a histogram adds. */
async function exportedNames(): Promise<Set<string>> {
  const metrics = createMetrics();
  const names = new Set<string>(['up']); // Prometheus' own per-target series
  for (const metric of await metrics.registry.getMetricsAsJSON()) {
    names.add(metric.name);
    if (String(metric.type) === 'histogram' || String(metric.type) === 'summary') {
      for (const suffix of ['_bucket', '_count', '_sum']) names.add(metric.name + suffix);
    }
  }
  return names;
}

const rules = (parse(readFileSync(RULES_FILE, 'utf8')) as { groups: Array<{ rules: Rule[] }> }).groups.flatMap((g) => g.rules);

describe('deploy/prometheus/alerts.yml', () => {
  it('covers every failure mode of the runbook', () => {
    const exprs = rules.map((r) => r.expr).join('\n');
    expect(exprs).toMatch(/\bup\{job="hotconf"\} == 0/);
    for (const metric of [
      'hotconf_redis_up',
      'hotconf_postgres_up',
      'hotconf_propagation_seconds_bucket',
      'hotconf_client_revision_lag',
      'hotconf_gap_repairs_total',
      'hotconf_graphql_requests_total',
      'hotconf_db_pool_connections',
      'hotconf_db_pool_waiting',
    ]) {
      expect(exprs, metric).toContain(metric);
    }
    expect(exprs).toMatch(/> 0\.5\b/); // p95 over 500 ms
    expect(exprs).toMatch(/> 0\.05\b/); // error rate over 5 %
    expect(rules.find((r) => r.expr.includes('hotconf_client_revision_lag'))).toMatchObject({ for: '15m' });
  });

  it.each(rules.map((r) => [r.alert ?? r.record ?? '?', r] as const))('%s names only metrics the gateway exports', async (_, rule) => {
    const exported = await exportedNames();
    const used = metricNames(rule.expr);
    expect(used.length).toBeGreaterThan(0);
    for (const name of used) expect(exported, `${name} in ${rule.expr}`).toContain(name);
  });

  it('links every alert to a section of docs/RUNBOOK.md that exists', () => {
    const runbook = readFileSync(fileURLToPath(new URL('../../docs/RUNBOOK.md', import.meta.url)), 'utf8');
    // GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens.
    const anchors = new Set(
      [...runbook.matchAll(/^#{2,3} (.+)$/gm)].map((m) => m[1]!.toLowerCase().replace(/[^a-z0-9 -]/g, '').replace(/ /g, '-')),
    );
    for (const rule of rules.filter((r) => r.alert)) {
      const link = rule.annotations?.runbook ?? '';
      expect(link, rule.alert).toMatch(/^docs\/RUNBOOK\.md#/);
      expect(anchors, `${rule.alert} → ${link}`).toContain(link.split('#')[1]);
    }
  });

  it('the name extractor sees through functions, labels, ranges and grouping', () => {
    expect(metricNames('histogram_quantile(0.95, sum by (le) (rate(a_bucket{x="y(z)"}[5m]))) > 0.5 and b_total')).toEqual(['a_bucket', 'b_total']);
    expect(metricNames('x - on (namespace) group_left max by (namespace) (y{source="db"})')).toEqual(['x', 'y']);
  });
});
