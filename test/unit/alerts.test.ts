import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { exportedNames, metricNames } from '../helpers/promql.js';

interface Rule {
  alert?: string;
  record?: string;
  expr: string;
  annotations?: { runbook?: string };
}

const RULES_FILE = fileURLToPath(new URL('../../deploy/prometheus/alerts.yml', import.meta.url));
const RULE_TESTS_FILE = fileURLToPath(new URL('../../deploy/prometheus/alerts.test.yml', import.meta.url));
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
    expect(metricNames('sum(a) < 0.5 * sum(a offset 10m) and sum(b offset 1h30m) >= 10')).toEqual(['a', 'b']);
  });

  describe('promtool unit tests (deploy/prometheus/alerts.test.yml)', () => {
    interface RuleTest {
      name: string;
      alert_rule_test?: Array<{ alertname: string; exp_alerts: unknown[] }>;
    }
    const cases = (parse(readFileSync(RULE_TESTS_FILE, 'utf8')) as { tests: RuleTest[] }).tests.flatMap((test) => test.alert_rule_test ?? []);

    it.each(rules.filter((r) => r.alert).map((r) => [r.alert!] as const))('%s has a case that fires it and one that keeps it quiet', (alert) => {
      const mine = cases.filter((c) => c.alertname === alert);
      expect(mine.some((c) => c.exp_alerts.length > 0), `${alert}: no case fires it`).toBe(true);
      expect(mine.some((c) => c.exp_alerts.length === 0), `${alert}: no case keeps it quiet`).toBe(true);
    });

    it('promtool test rules passes', () => {
      const run = spawnSync('promtool', ['test', 'rules', RULE_TESTS_FILE], { encoding: 'utf8' });
      if (run.error) throw new Error(`promtool is not installed (Debian package prometheus; npm test installs it): ${run.error.message}`);
      expect(run.status, `${run.stdout}\n${run.stderr}`).toBe(0);
    });
  });
});
