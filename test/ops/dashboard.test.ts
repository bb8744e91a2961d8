/**
 * The Grafana dashboard and the Prometheus alert rules in deploy/ only name metrics the code exports
 * (read from the metric definitions themselves), and the rules pass `promtool check rules`.
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Queue } from 'bullmq';
import type { Stores } from '../../connectors/mongo/stores.js';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import '../../connectors/graph/metrics.js';
import { proxyMetrics } from '../../connectors/winrm/metrics.js';
import { registry } from '../../observability/metrics.js';
import { clusterMetrics } from '../../workers/cluster-metrics.js';
import { syncMetrics } from '../../workers/metrics.js';
import { webhookAttemptsMetric } from '../../workers/webhook-delivery.js';
import { root } from './support/processes.js';

const run = promisify(execFile);

/** Every series name the processes export (histograms as their _bucket, _sum and _count). */
function exported(): Set<string> {
  syncMetrics();
  proxyMetrics();
  webhookAttemptsMetric();
  // Registration only: nothing is collected, so no database or queue is touched.
  clusterMetrics({ stores: {} as Stores, syncQueue: {} as Queue, isLeader: () => false });
  const names = new Set<string>(['up']); // Prometheus's own, per target
  for (const metric of registry.getMetricsAsArray()) {
    const { name, type } = metric as unknown as { name: string; type: string };
    names.add(name);
    if (type === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(name + s);
  }
  return names;
}

/** Metric names in a PromQL expression (ours, Node's and process defaults, and `up`). */
function metricsIn(expr: string): string[] {
  // Label names live in by (…) clauses and {…} matchers: drop those first.
  const bare = expr
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, '')
    .replace(/\{[^}]*\}/g, '');
  return [...bare.matchAll(/\b((?:m365sync|nodejs|process)_[a-z0-9_]+|up)\b(?!\s*\()/g)].map((m) => m[1]!);
}

interface Panel {
  type: string;
  title: string;
  targets?: { expr: string }[];
}

describe('deploy/: dashboard and alert rules', () => {
  const names = exported();

  it('every dashboard panel queries metrics the code exports', async () => {
    const dashboard = JSON.parse(
      await readFile(join(root, 'deploy/grafana/dashboards/m365sync.json'), 'utf8'),
    ) as { panels: Panel[] };
    const panels = dashboard.panels.filter((p) => p.type !== 'row');
    expect(panels.length).toBeGreaterThan(10);
    const titles = panels.map((p) => p.title.toLowerCase()).join('\n');
    for (const topic of ['status', 'duration', 'stale', 'throttling', 'proxies', 'queue depth'])
      expect(titles).toContain(topic);
    for (const panel of panels) {
      expect(panel.targets?.length, panel.title).toBeGreaterThan(0);
      for (const { expr } of panel.targets!) {
        const used = metricsIn(expr);
        expect(used.length, `${panel.title}: ${expr}`).toBeGreaterThan(0);
        for (const name of used)
          expect(names.has(name), `${panel.title}: ${name} is not exported`).toBe(true);
      }
    }
  });

  it('has hierarchy-place and tenant variables, used by the per-tenant panels, and a row for the alerts', async () => {
    const dashboard = JSON.parse(
      await readFile(join(root, 'deploy/grafana/dashboards/m365sync.json'), 'utf8'),
    ) as { panels: Panel[]; templating: { list: { name: string; definition: string }[] } };
    const variables = Object.fromEntries(dashboard.templating.list.map((v) => [v.name, v.definition]));
    expect(Object.keys(variables).sort()).toEqual(['hierarchy', 'tenant']);
    for (const definition of Object.values(variables))
      for (const name of metricsIn(definition)) expect(names.has(name), name).toBe(true);
    expect(variables.tenant).toContain('$hierarchy');
    const exprs = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr));
    for (const expr of exprs.filter((e) => e.includes('{tenant') || e.includes(' tenant=')))
      expect(expr).toContain('tenant=~"$tenant"');
    expect(exprs.filter((e) => e.includes('tenant=~"$tenant"')).length).toBeGreaterThanOrEqual(2);
    expect(dashboard.panels.some((p) => p.type === 'row' && /alerts/i.test(p.title))).toBe(true);
    for (const name of [
      'm365sync_queue_workers',
      'm365sync_queue_oldest_waiting_seconds',
      'm365sync_queue_paused',
      'm365sync_kind_failure_streak_max',
      'm365sync_webhook_attempts_total',
    ])
      expect(
        exprs.some((e) => e.includes(name)),
        name,
      ).toBe(true);
  });

  it('every alert rule names exported metrics, the four the issue asks for exist, and promtool accepts them', async () => {
    const file = join(root, 'deploy/alerts.yml');
    const rules = (
      parseYaml(await readFile(file, 'utf8')) as { groups: { rules: { alert: string; expr: string }[] }[] }
    ).groups.flatMap((g) => g.rules);
    for (const rule of rules) {
      const used = metricsIn(rule.expr);
      expect(used.length, rule.alert).toBeGreaterThan(0);
      for (const name of used) expect(names.has(name), `${rule.alert}: ${name} is not exported`).toBe(true);
    }
    const byName = Object.fromEntries(rules.map((r) => [r.alert, r.expr]));
    expect(byName.M365SyncTenantNotSynced).toContain('36 * 3600');
    expect(byName.M365SyncProxyFailing).toBeDefined();
    expect(byName.M365SyncQueueGrowing).toBeDefined();
    expect(byName.M365SyncRunsNeedReview).toContain('needs_review');
    const { stdout } = await run('promtool', ['check', 'rules', file]);
    expect(stdout).toContain(`SUCCESS: ${rules.length} rules found`);
  });

  it('the name check itself catches a metric the code does not export', () => {
    expect(metricsIn('sum(rate(m365sync_no_such_metric_total[5m])) by (kind)')).toEqual([
      'm365sync_no_such_metric_total',
    ]);
    expect(names.has('m365sync_no_such_metric_total')).toBe(false);
  });
});
