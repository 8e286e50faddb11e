// rules/: the pure pipeline steps (golden values), the committed examples under deploy/rules and
// docs/alerts.md (stale -> fail; TAPWIRE_UPDATE_GOLDEN=1 rewrites them), runbooks for every alert.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { renderAlertsDoc } from '../cli/docs/alerts.js';
import { METRIC_LIST } from '../exporters/catalogue.js';
import { prometheusName } from '../exporters/prometheus/naming.js';
import { COMPONENT_ALERTS } from '../rules/components.js';
import {
  ALERT_NAMES,
  generate,
  RulesConfigError,
  renderOperator,
  renderPrometheus,
  renderTests,
  validate,
} from '../rules/index.js';
import { recordingRules } from '../rules/recording.js';
import { expand, OPERATOR_FILE, RULE_FILE, TEST_FILE } from '../rules/render.js';
import { BURN_TIERS, burnFactor } from '../rules/windows.js';
import { NODE, ROOT } from './support/index.js';

const set = generate(undefined);
const alerts = set.alerting.flatMap((g) => g.rules);

describe('burn-rate windows (data)', () => {
  it('derive the SRE workbook factors for 30 days', () => {
    expect(BURN_TIERS.map((t) => t.windows.map((w) => [w.long, w.short, burnFactor(w, '30d')]))).toEqual([
      [
        ['1h', '5m', 14.4],
        ['6h', '30m', 6],
      ],
      [
        ['1d', '2h', 3],
        ['3d', '6h', 1],
      ],
    ]);
    expect(burnFactor(BURN_TIERS[0]!.windows[0]!, '28d')).toBe(13.44);
  });
});

describe('validate (step 1)', () => {
  it('fills defaults without a file', () => {
    const c = validate(undefined);
    expect(c.scopes).toEqual([
      {
        title: 'every service',
        level: 'job',
        matchers: [],
        testLabels: { job: 'app' },
        objectives: { window: '30d', availability: 0.999, latency: { objective: 0.99, threshold: 0.5 } },
      },
    ]);
    expect(c.runbookBase).toBe('docs/runbooks.md');
  });

  it('scopes per service and route, the default scope excluding named services', () => {
    const c = validate({
      slo: { availability: 99.5 },
      services: { shop: { availability: 99.9, routes: { '/checkout': { latency: { threshold: 0.25 } } } } },
    });
    expect(
      c.scopes.map((s) => [s.title, s.matchers, s.objectives.availability, s.objectives.latency.threshold]),
    ).toEqual([
      ['services without their own objectives', ['job!~"shop"'], 0.995, 0.5],
      ['shop', ['job="shop"'], 0.999, 0.5],
      ['shop /checkout', ['job="shop"', 'http_route="/checkout"'], 0.999, 0.25],
    ]);
  });

  it('reads per-provider and per-db-system thresholds, by the alert each key sets', () => {
    expect(validate(undefined).scoped).toEqual({});
    const c = validate({
      providers: { openai: { error_ratio: 0.2, first_chunk_p95: 10 }, 'gcp.gemini': { error_ratio: 0.3 } },
      db_systems: { postgresql: { latency_p99: 0.25 } },
    });
    expect(c.scoped).toEqual({
      TapwireAIProviderHighErrorRatio: [
        { label: 'gen_ai_provider_name', value: 'openai', threshold: 0.2 },
        { label: 'gen_ai_provider_name', value: 'gcp.gemini', threshold: 0.3 },
      ],
      TapwireAIProviderSlowFirstChunk: [{ label: 'gen_ai_provider_name', value: 'openai', threshold: 10 }],
      TapwireDBHighLatency: [{ label: 'db_system_name', value: 'postgresql', threshold: 0.25 }],
    });
  });

  it.each([
    [{ slo: { availability: 120 } }, 'slo.availability: expected a percentage between 0 and 100, got 120'],
    [
      { providers: { openai: { error_ratio: 5 } } },
      'providers.openai.error_ratio: expected a ratio between 0 and 1 (0.05 is 5%), got 5',
    ],
    [
      { providers: { openai: { availability: 99 } } },
      'providers.openai: unknown key "availability" (accepted: error_ratio, rate_limited_ratio, first_chunk_p95)',
    ],
    [
      { db_systems: { postgresql: { latency_p99: 10 } } },
      'db_systems.postgresql.latency_p99: expected seconds above 0 and at most 5, got 10',
    ],
    [
      { db_systems: { postgresql: { latency_p99: '1s' } } },
      'db_systems.postgresql.latency_p99: expected seconds above 0 and at most 5, got "1s"',
    ],
    [{ db_systems: { 'my sql': { error_ratio: 0.1 } } }, 'db_systems: expected a db_system_name value'],
    [{ providers: ['openai'] }, 'providers: expected a mapping'],
    [
      { slo: { latency: { threshold: 0.3 } } },
      'slo.latency.threshold: expected one of the HTTP bucket boundaries',
    ],
    [{ slo: { window: '2d' } }, 'slo.window: expected between 7d and 90d, got 2d'],
    [{ slo: { availability: 50 } }, 'slo.availability: 50% leaves too large an error budget'],
    [{ sloo: {} }, 'SLO file: unknown key "sloo"'],
    [
      { alerts: { TapwireHTTPHighErrorRatio: { for: 'soon' } } },
      'alerts.TapwireHTTPHighErrorRatio.for: expected a duration',
    ],
    [
      { alerts: { TapwireHTTPHighErrorRatio: { severity: 'page' } } },
      'alerts.TapwireHTTPHighErrorRatio.severity: expected one of critical, warning, info',
    ],
  ])('rejects %j', (raw, message) => {
    expect(() => validate(raw)).toThrow(RulesConfigError);
    expect(() => validate(raw)).toThrow(message);
  });

  it('rejects unknown alerts and thresholds on SLO alerts', () => {
    expect(() => generate({ alerts: { Nope: {} } })).toThrow('alerts: unknown alert "Nope"');
    expect(() => generate({ alerts: { TapwireHTTPAvailabilityFastBurn: { threshold: 1 } } })).toThrow(
      'has no threshold',
    );
  });
});

describe('recording rules (step 2)', () => {
  it('name only series tapwire emits', () => {
    const emitted = new Set(
      METRIC_LIST.flatMap((m) => {
        const n = prometheusName(m.name, m.unit, m.kind);
        return m.kind === 'histogram' ? [`${n}_bucket`, `${n}_count`, `${n}_sum`] : [n];
      }),
    );
    const exprs = [
      ...recordingRules(validate(undefined)).flatMap((g) => g.rules.map((r) => r.expr)),
      ...alerts.map((a) => a.expr),
    ];
    const names = new Set(
      exprs.flatMap((e) => [...e.matchAll(/\b([a-z_][a-z0-9_]*)(?=\{|\[| >| \*|\)|$)/gm)].map((m) => m[1]!)),
    );
    const metrics = [...names].filter(
      (n) => /_(total|seconds|usd|bucket|count|sum|info|usage)$|_seconds_/.test(n) && !n.includes(':'),
    );
    expect(metrics.length).toBeGreaterThan(5);
    for (const n of metrics) expect(emitted, n).toContain(n);
  });

  it('golden: the 5m HTTP error ratio', () => {
    const rule = set.recording[0]!.rules.find(
      (r) => r.record === 'job:http_server_request_errors:ratio_rate5m',
    );
    expect(rule?.expr).toBe(
      '(sum by (job) (rate(http_server_request_duration_seconds_count{http_response_status_code=~"5.."}[5m])) or 0 * sum by (job) (rate(http_server_request_duration_seconds_count[5m]))) / sum by (job) (rate(http_server_request_duration_seconds_count[5m]))',
    );
  });
});

describe('alerts (steps 3 and 4)', () => {
  it('cover every alert the issue lists, once each in the default configuration', () => {
    expect(alerts.map((a) => a.alert)).toEqual(ALERT_NAMES);
    expect(ALERT_NAMES).toEqual([
      'TapwireHTTPAvailabilityFastBurn',
      'TapwireHTTPAvailabilitySlowBurn',
      'TapwireHTTPLatencyFastBurn',
      'TapwireHTTPLatencySlowBurn',
      'TapwireHTTPHighErrorRatio',
      'TapwireHTTPHighLatency',
      'TapwireDBHighErrorRatio',
      'TapwireDBHighLatency',
      'TapwireAIProviderHighErrorRatio',
      'TapwireAIProviderRateLimited',
      'TapwireAIProviderSlowFirstChunk',
      'TapwireAITokenBudgetBurn',
      'TapwireAICostBudgetBurn',
      'TapwireEventLoopDelayHigh',
      'TapwireTargetDown',
      'TapwireAgentAbsent',
      'TapwireCardinalityOverflow',
    ]);
  });

  it('every alert has severity, summary, description, runbook_url', () => {
    for (const a of alerts) {
      expect(['critical', 'warning', 'info']).toContain(a.severity);
      expect(a.summary.length).toBeGreaterThan(10);
      expect(a.description.length).toBeGreaterThan(10);
      expect(a.runbookUrl).toBe(`docs/runbooks.md#${a.alert.toLowerCase()}`);
    }
  });

  it('every ratio alert is guarded against zero traffic', () => {
    for (const a of alerts.filter((r) => /ratio_rate/.test(r.expr))) {
      const pairs = a.expr.split(/\nor\n/);
      for (const p of pairs) expect(p, a.alert).toMatch(/and \S+:\S*(requests|operations):rate\w+ > 0/);
    }
  });

  it('golden: the fast availability burn for the default SLO', () => {
    expect(alerts[0]!.expr).toBe(
      [
        '(',
        '  job:http_server_request_errors:ratio_rate1h > (14.4 * 0.001)',
        '  and job:http_server_request_errors:ratio_rate5m > (14.4 * 0.001)',
        '  and job:http_server_requests:rate5m > 0',
        ')',
        'or',
        '(',
        '  job:http_server_request_errors:ratio_rate6h > (6 * 0.001)',
        '  and job:http_server_request_errors:ratio_rate30m > (6 * 0.001)',
        '  and job:http_server_requests:rate30m > 0',
        ')',
      ].join('\n'),
    );
  });

  it('overrides change threshold, for and severity; enabled: false drops an alert', () => {
    const s = generate({
      alerts: {
        TapwireHTTPHighErrorRatio: { threshold: 0.02, for: '1s', severity: 'critical' },
        TapwireCardinalityOverflow: { enabled: false },
      },
    });
    const rules = s.alerting.flatMap((g) => g.rules);
    const r = rules.find((a) => a.alert === 'TapwireHTTPHighErrorRatio')!;
    expect([r.expr, r.for, r.severity]).toEqual([
      'job:http_server_request_errors:ratio_rate5m > 0.02\nand job:http_server_requests:rate5m > 0',
      '1s',
      'critical',
    ]);
    expect(rules.some((a) => a.alert === 'TapwireCardinalityOverflow')).toBe(false);
  });

  it('per-provider and per-db-system thresholds: a rule per value, the global rule excluding them', () => {
    const s = generate({
      providers: { openai: { rate_limited_ratio: 0.2 }, 'gcp.gemini': { rate_limited_ratio: 0.5 } },
      db_systems: { postgresql: { latency_p99: 0.25 } },
      alerts: { TapwireAIProviderRateLimited: { threshold: 0.01, for: '1m' } },
    });
    const rules = s.alerting.flatMap((g) => g.rules);
    const limited = rules.filter((a) => a.alert === 'TapwireAIProviderRateLimited');
    const r = 'job_gen_ai_provider:gen_ai_client_operation_rate_limited:ratio_rate5m';
    const guard = '\nand job_gen_ai_provider:gen_ai_client_operations:rate5m > 0';
    expect(limited.map((a) => [a.expr, a.for, a.cases.fires.labels])).toEqual([
      [
        `${r}{gen_ai_provider_name!~"openai|gcp\\\\.gemini"} > 0.01${guard}`,
        '1m',
        { job: 'app', gen_ai_provider_name: 'openai_' },
      ],
      [
        `${r}{gen_ai_provider_name="openai"} > 0.2${guard}`,
        '1m',
        { job: 'app', gen_ai_provider_name: 'openai' },
      ],
      [
        `${r}{gen_ai_provider_name="gcp.gemini"} > 0.5${guard}`,
        '1m',
        { job: 'app', gen_ai_provider_name: 'gcp.gemini' },
      ],
    ]);
    expect(limited.map((a) => a.description.match(/More than ([\d.]+%)/)?.[1])).toEqual(['1%', '20%', '50%']);
    // The cases' series carry the rule's own value: 40% of openai's calls answered 429.
    const fires = limited[1]!.cases.fires.series.map((x) => x.series);
    expect(fires.every((x) => x.includes('gen_ai_provider_name="openai"'))).toBe(true);
    expect(limited[1]!.cases.fires.series.find((x) => x.series.includes('error_type="429"'))?.values).toBe(
      '0+400x60',
    );
    expect(rules.filter((a) => a.alert === 'TapwireDBHighLatency').map((a) => a.expr)).toEqual([
      'job_db_system:db_client_operation_duration_seconds:p99_rate5m{db_system_name!~"postgresql"} > 0.5\nand job_db_system:db_client_operations:rate5m > 0',
      'job_db_system:db_client_operation_duration_seconds:p99_rate5m{db_system_name="postgresql"} > 0.25\nand job_db_system:db_client_operations:rate5m > 0',
    ]);
    // Alerts without per-value thresholds are unchanged.
    const unscoped = (x: typeof set) =>
      x.alerting.flatMap((g) => g.rules).filter((a) => a.alert === 'TapwireAIProviderHighErrorRatio');
    expect(unscoped(s)).toEqual(unscoped(set));
    // A global rule's cases avoid every named value.
    const db = rules.find((a) => a.alert === 'TapwireDBHighLatency')!;
    expect(db.cases.fires.labels).toEqual({ job: 'app', db_system_name: 'postgresql_' });
  });

  it('absence is per named service', () => {
    const r = generate({ services: { shop: {}, api: {} } })
      .alerting.flatMap((g) => g.rules)
      .find((a) => a.alert === 'TapwireAgentAbsent')!;
    expect(r.expr).toBe('absent(tapwire_agent_info{job="shop"})\nor absent(tapwire_agent_info{job="api"})');
  });

  it('expands annotation templates as Prometheus does for the expected labels', () => {
    expect(
      expand('{{ $labels.job }} x{{ if $labels.job }} for {{ $labels.job }}{{ end }}', { job: 'shop' }),
    ).toBe('shop x for shop');
    expect(expand('x{{ if $labels.job }} for {{ $labels.job }}{{ end }}', {})).toBe('x');
  });
});

describe('render (step 5)', () => {
  it('the rule file has only fields Prometheus 2.42 knows', () => {
    const doc = parse(renderPrometheus(set)) as {
      groups: { name: string; rules: Record<string, unknown>[] }[];
    };
    for (const g of doc.groups) {
      expect(Object.keys(g).sort()).toEqual(['name', 'rules']);
      for (const r of g.rules)
        for (const k of Object.keys(r))
          expect(['record', 'alert', 'expr', 'for', 'labels', 'annotations']).toContain(k);
    }
  });

  it('the PrometheusRule carries the same groups', () => {
    const op = parse(renderOperator(set)) as { apiVersion: string; kind: string; spec: { groups: unknown } };
    expect([op.apiVersion, op.kind]).toEqual(['monitoring.coreos.com/v1', 'PrometheusRule']);
    expect(op.spec.groups).toEqual((parse(renderPrometheus(set)) as { groups: unknown }).groups);
  });

  it('the promtool file has a firing and a quiet case per alert', () => {
    const t = parse(renderTests(set)) as {
      tests: { name: string; alert_rule_test: { alertname: string; exp_alerts: unknown[] }[] }[];
    };
    for (const name of ALERT_NAMES) {
      const mine = t.tests.filter((x) => x.alert_rule_test[0]!.alertname === name);
      expect(
        mine.filter((x) => x.alert_rule_test[0]!.exp_alerts.length === 1).length,
        name,
      ).toBeGreaterThanOrEqual(1);
      expect(
        mine.filter((x) => x.alert_rule_test[0]!.exp_alerts.length === 0).length,
        name,
      ).toBeGreaterThanOrEqual(1);
    }
  });
});

describe('committed examples', () => {
  const files: [string, string][] = [
    [`deploy/rules/${RULE_FILE}`, renderPrometheus(set)],
    [`deploy/rules/${OPERATOR_FILE}`, renderOperator(set)],
    [`deploy/rules/${TEST_FILE}`, renderTests(set)],
    ['docs/alerts.md', renderAlertsDoc(set)],
  ];
  it.each(files)('%s is up to date', (path, text) => {
    if (process.env.TAPWIRE_UPDATE_GOLDEN === '1') writeFileSync(join(ROOT, path), text);
    expect(
      readFileSync(join(ROOT, path), 'utf8'),
      `${path} is stale: TAPWIRE_UPDATE_GOLDEN=1 npx vitest run tests/rules.test.ts`,
    ).toBe(text);
  });

  it('the SLO file example in docs/alerts.md is valid and uses every key', () => {
    const md = renderAlertsDoc(set);
    const example = parse(/```yaml\n([\s\S]*?)```/.exec(md)![1]!) as Record<string, unknown>;
    expect(Object.keys(example)).toEqual([
      'slo',
      'services',
      'providers',
      'db_systems',
      'alerts',
      'runbook_base',
    ]);
    const c = validate(example);
    expect(Object.keys(c.scoped).sort()).toEqual([
      'TapwireAIProviderHighErrorRatio',
      'TapwireAIProviderRateLimited',
      'TapwireAIProviderSlowFirstChunk',
      'TapwireDBHighErrorRatio',
      'TapwireDBHighLatency',
    ]);
    expect(generate(example).alerting.flatMap((g) => g.rules).length).toBe(
      alerts.length + 8 + 5 - 1, // SLO rules of shop and /checkout, 5 scoped rules, one disabled
    );
  });

  it('docs/runbooks.md has a section for every alert', () => {
    const md = readFileSync(join(ROOT, 'docs/runbooks.md'), 'utf8');
    for (const name of ALERT_NAMES) expect(md).toContain(`\n## ${name}\n`);
    expect(COMPONENT_ALERTS.length).toBe(13);
  });
});

describe('tapwire rules (built CLI)', () => {
  const run = (args: string[]) => {
    const r = spawnSync(NODE, [join(ROOT, 'dist/cli/main.js'), 'rules', ...args], { encoding: 'utf8' });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  };
  it('prints the committed rule file, PrometheusRule and tests', () => {
    expect(run([])).toEqual({
      code: 0,
      stdout: readFileSync(join(ROOT, `deploy/rules/${RULE_FILE}`), 'utf8'),
      stderr: '',
    });
    expect(run(['--format', 'operator']).stdout).toBe(
      readFileSync(join(ROOT, `deploy/rules/${OPERATOR_FILE}`), 'utf8'),
    );
    expect(run(['--tests']).stdout).toBe(readFileSync(join(ROOT, `deploy/rules/${TEST_FILE}`), 'utf8'));
  });
  it('reads --slo YAML and reports a bad value with exit 1', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tapwire-slo-'));
    writeFileSync(join(dir, 'slo.yaml'), 'services:\n  shop: { availability: 99.5 }\n');
    expect(run(['--slo', join(dir, 'slo.yaml')]).stdout).toContain(
      'job:http_server_request_errors:ratio_rate1h{job="shop"} > (14.4 * 0.005)',
    );
    writeFileSync(join(dir, 'bad.yaml'), 'slo: { availability: 120 }\n');
    expect(run(['--slo', join(dir, 'bad.yaml')])).toEqual({
      code: 1,
      stdout: '',
      stderr: `tapwire rules: ${join(dir, 'bad.yaml')}: slo.availability: expected a percentage between 0 and 100, got 120 (TAPWIRE_ERR_RULES)\n`,
    });
  });
});
