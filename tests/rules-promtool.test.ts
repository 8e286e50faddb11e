// The committed rule files under the Debian promtool (Prometheus 2.42's strict parser): the rules
// load, and every alert's cases pass (one firing, one quiet, one without traffic for ratios).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { generate, renderPrometheus, renderTests } from '../rules/index.js';
import { ROOT } from './support/index.js';

// promtool test rules takes ~25 s alone here, and took over 240 s once beside the rest of the suite
// on a loaded 2-core machine: the limits only stop a hung promtool.
const promtool = (args: string[], cwd: string) => {
  const r = spawnSync('promtool', args, { cwd, encoding: 'utf8', timeout: 600_000 });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
};

describe('promtool (Prometheus 2.42)', () => {
  const dir = join(ROOT, 'deploy/rules');

  it('check rules: the rule file and the PrometheusRule groups load', () => {
    expect(promtool(['check', 'rules', 'tapwire-rules.yaml'], dir)).toMatchObject({ status: 0 });
    const tmp = mkdtempSync(join(tmpdir(), 'tapwire-rules-'));
    const op = parse(readFileSync(join(dir, 'tapwire-prometheusrule.yaml'), 'utf8')) as {
      spec: { groups: unknown };
    };
    writeFileSync(join(tmp, 'spec.json'), JSON.stringify({ groups: op.spec.groups }));
    expect(promtool(['check', 'rules', 'spec.json'], tmp)).toMatchObject({ status: 0 });
  });

  it('test rules: every alert fires above and stays quiet below its threshold', () => {
    const r = promtool(['test', 'rules', 'tapwire-rules.test.yaml'], dir);
    expect(r.output).toContain('SUCCESS');
    expect(r.status).toBe(0);
  }, 660_000);

  it('test rules: a configuration with services, providers, db systems and overrides passes too', () => {
    const set = generate({
      slo: { availability: 99.5, window: '28d' },
      services: { shop: { availability: 99.95 } },
      providers: {
        openai: { error_ratio: 0.2, rate_limited_ratio: 0.01, first_chunk_p95: 10 },
        'gcp.gemini': { error_ratio: 0.3 },
      },
      db_systems: { postgresql: { error_ratio: 0.01, latency_p99: 0.25 } },
      alerts: {
        TapwireHTTPHighErrorRatio: { threshold: 0.01 },
        TapwireAITokenBudgetBurn: { threshold: 1000 },
      },
    });
    const tmp = mkdtempSync(join(tmpdir(), 'tapwire-rules-'));
    writeFileSync(join(tmp, 'tapwire-rules.yaml'), renderPrometheus(set));
    writeFileSync(join(tmp, 'tapwire-rules.test.yaml'), renderTests(set));
    expect(promtool(['check', 'rules', 'tapwire-rules.yaml'], tmp)).toMatchObject({ status: 0 });
    const r = promtool(['test', 'rules', 'tapwire-rules.test.yaml'], tmp);
    expect(r.output).toContain('SUCCESS');
    expect(r.status).toBe(0);
    // The scoped rules and their cases are in what promtool ran.
    const rules = set.alerting.flatMap((g) => g.rules);
    expect(rules.filter((a) => a.alert === 'TapwireAIProviderHighErrorRatio').length).toBe(3);
    expect(rules.filter((a) => a.alert === 'TapwireDBHighLatency').length).toBe(2);
  }, 660_000);

  it('test rules: budgets per day and month, by provider, model, service and attribution, with overrides', () => {
    const set = generate({
      budgets: {
        'openai-monthly': { usd: 500, provider: 'openai' },
        'acme-daily': {
          usd: 20,
          per: 'day',
          service: 'shop',
          model: 'gpt-4o',
          attributes: { tenant: 'acme' },
        },
        everything: { usd: 0.05, per: 'day', forecast_hours: 0.5 },
      },
      alerts: { TapwireAIBudgetNearlySpent: { threshold: 0.9 } },
    });
    // The budget alerts and their cases only (the rest is run above).
    const only = { ...set, alerting: set.alerting.filter((g) => g.name === 'tapwire.gen_ai.budget.alerts') };
    expect(only.alerting[0]!.rules.length).toBe(9);
    const tmp = mkdtempSync(join(tmpdir(), 'tapwire-rules-'));
    writeFileSync(join(tmp, 'tapwire-rules.yaml'), renderPrometheus(only));
    writeFileSync(join(tmp, 'tapwire-rules.test.yaml'), renderTests(only));
    expect(promtool(['check', 'rules', 'tapwire-rules.yaml'], tmp)).toMatchObject({ status: 0 });
    const r = promtool(['test', 'rules', 'tapwire-rules.test.yaml'], tmp);
    expect(r.output).toContain('SUCCESS');
    expect(r.status).toBe(0);
  }, 660_000);

  // Route-scoped SLOs: the rules load. Their generated promtool cases are not run here: each
  // needs a long series of traffic on another route, which took promtool 2.42 over 4 minutes on
  // this machine (known gap, docs/alerts.md).
  it('check rules: a route-scoped SLO configuration loads', () => {
    const set = generate({
      services: { shop: { routes: { '/checkout': { latency: { objective: 99.9, threshold: 0.25 } } } } },
    });
    const tmp = mkdtempSync(join(tmpdir(), 'tapwire-rules-'));
    writeFileSync(join(tmp, 'tapwire-rules.yaml'), renderPrometheus(set));
    expect(promtool(['check', 'rules', 'tapwire-rules.yaml'], tmp)).toMatchObject({ status: 0 });
  });

  it('a broken rule makes the check fail (the check can fail)', () => {
    const tmp = mkdtempSync(join(tmpdir(), 'tapwire-rules-'));
    writeFileSync(
      join(tmp, 'bad.yaml'),
      'groups:\n  - name: x\n    rules:\n      - alert: X\n        expr: up ==\n        keep_firing_for: 1m\n',
    );
    expect(promtool(['check', 'rules', 'bad.yaml'], tmp).status).not.toBe(0);
  });
});
