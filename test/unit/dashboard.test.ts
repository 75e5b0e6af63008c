import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { exportedNames, metricNames } from '../helpers/promql.js';

interface Panel {
  title: string;
  type: string;
  targets?: Array<{ expr: string }>;
}

const DASHBOARD = fileURLToPath(new URL('../../deploy/grafana/hotconf.json', import.meta.url));
const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as { uid: string; panels: Panel[] };
const graphs = dashboard.panels.filter((panel) => panel.type !== 'row');

describe('deploy/grafana/hotconf.json', () => {
  it('is an importable dashboard with a stable uid and a Prometheus datasource variable', () => {
    expect(dashboard.uid).toBe('hotconf-gateways');
    expect(graphs.length).toBeGreaterThan(10);
  });

  it.each(graphs.map((panel) => [panel.title, panel] as const))('"%s" queries only metrics the gateway exports', async (_, panel) => {
    const exported = await exportedNames();
    expect(panel.targets?.length ?? 0).toBeGreaterThan(0);
    for (const target of panel.targets ?? []) {
      // Grafana's own interval variable is not PromQL.
      const used = metricNames(target.expr.replaceAll('$__rate_interval', '5m'));
      expect(used.length, target.expr).toBeGreaterThan(0);
      for (const name of used) expect(exported, `${name} in ${target.expr}`).toContain(name);
    }
  });
});
