// dashboards/: what the boards query (only names tapwire emits or its rules record, every query
// filtered by the dashboard variables, rates over $__rate_interval), how the SLO file shapes them,
// the Grafana JSON and Kubernetes forms, the committed copies under deploy/dashboards/ and the built
// CLI. tests/dashboards-e2e.test.ts runs every query against a real Prometheus.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { dashboardFiles, renderBoards } from '../dashboards/files.js';
import { type Board, generateBoards, type Panel } from '../dashboards/index.js';
import { METRIC_LIST } from '../exporters/catalogue.js';
import { prometheusName } from '../exporters/prometheus/naming.js';
import { validate } from '../rules/index.js';
import { recordingRules } from '../rules/recording.js';
import { NODE, ROOT } from './support/index.js';

const DEFAULT = validate(undefined);
const boards = generateBoards(DEFAULT);
const panels = (b: readonly Board[]): Panel[] => b.flatMap((x) => x.rows.flatMap((r) => r.panels));
const exprs = (b: readonly Board[]): string[] => panels(b).flatMap((p) => p.queries.map((q) => q.expr));
const find = (b: readonly Board[], board: string, title: string): Panel =>
  panels(b.filter((x) => x.name === board)).find((p) => p.title === title)!;

const SLO_FILE = {
  services: { shop: { availability: 99.5, routes: { '/checkout': { availability: 99.95 } } } },
  alerts: {
    TapwireHTTPHighErrorRatio: { threshold: 0.02 },
    TapwireDBHighLatency: { enabled: false },
  },
  runbook_base: 'https://runbooks.example.com/tapwire.md',
};

describe('boards', () => {
  it('are the seven boards with their panels', () => {
    expect(boards.map((b) => [b.name, b.uid, panels([b]).length])).toEqual([
      ['overview', 'tapwire-overview', 12],
      ['database', 'tapwire-database', 9],
      ['ai', 'tapwire-ai', 14],
      ['runtime', 'tapwire-runtime', 8],
      ['slo', 'tapwire-slo', 7],
      ['sidecar', 'tapwire-sidecar', 10],
      ['workers', 'tapwire-workers', 7],
    ]);
    for (const b of boards) {
      const titles = panels([b]).map((p) => p.title);
      expect(new Set(titles).size, b.name).toBe(titles.length);
    }
  });

  it('query only metrics tapwire emits, series its rules record, and up, target_info, ALERTS', () => {
    const emitted = new Set(
      METRIC_LIST.flatMap((m) => {
        const name = prometheusName(m.name, m.unit, m.kind);
        return m.kind === 'histogram' ? [`${name}_bucket`, `${name}_count`, `${name}_sum`] : [name];
      }),
    );
    for (const config of [DEFAULT, validate(SLO_FILE)]) {
      const recorded = new Set(recordingRules(config).flatMap((g) => g.rules.map((r) => r.record)));
      for (const expr of exprs(generateBoards(config))) {
        // A series name: an identifier followed by its selector.
        for (const [, name] of expr.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)\{/g)) {
          const known =
            emitted.has(name!) || recorded.has(name!) || ['up', 'target_info', 'ALERTS'].includes(name!);
          expect(known, `${name} in ${expr}`).toBe(true);
        }
      }
    }
  });

  it('filter every query by the variables and rate over $__rate_interval, $__range or a named window', () => {
    for (const expr of exprs(generateBoards(validate(SLO_FILE)))) {
      expect(expr, expr).toContain('job=~"$job"');
      if (!expr.includes('ALERTS{')) expect(expr, expr).toContain('service_name=~"$service_name"');
      // The SLO window (30d), the cost panels (1h, 1d) and the sidecar's target filter (1d).
      for (const [, range] of expr.matchAll(/\[([^\]]+)\]/g))
        expect(['$__rate_interval', '$__range', '1h', '1d', '30d'], expr).toContain(range);
    }
    // Only panels per job (recording rules, SLO budgets over the window, alerts) leave out $instance.
    const perJob = boards.flatMap((b) =>
      panels([b])
        .filter((p) => p.queries.some((q) => !q.expr.includes('instance=~"$instance"')))
        .map((p) => `${b.name}: ${p.title}`),
    );
    expect(perJob).toEqual([
      'ai: Token pace per day',
      'ai: Cost pace per day',
      ...panels(boards.filter((b) => b.name === 'slo')).map((p) => `slo: ${p.title}`),
    ]);
  });

  it('take objectives, thresholds, enabled alerts and the runbook base from the SLO file', () => {
    const b = generateBoards(validate(SLO_FILE));
    const slo = b.find((x) => x.name === 'slo')!;
    expect(slo.rows.map((r) => r.title)).toEqual([
      'SLO: services without their own objectives (99.9% available, 99% within 0.5 s, 30d)',
      'SLO: shop (99.5% available, 99% within 0.5 s, 30d)',
      'SLO: shop /checkout (99.95% available, 99% within 0.5 s, 30d)',
      'Alerts',
    ]);
    expect(slo.rows[2]!.panels[0]!.queries[0]!.expr).toBe(
      '1 - (sum by (job, http_route) (increase(http_server_request_duration_seconds_count{job=~"$job", job="shop", http_route="/checkout", http_response_status_code=~"5.."}[30d]) and on (job, instance) target_info{service_name=~"$service_name"}) or 0 * sum by (job, http_route) (increase(http_server_request_duration_seconds_count{job=~"$job", job="shop", http_route="/checkout"}[30d]) and on (job, instance) target_info{service_name=~"$service_name"})) / sum by (job, http_route) (increase(http_server_request_duration_seconds_count{job=~"$job", job="shop", http_route="/checkout"}[30d]) and on (job, instance) target_info{service_name=~"$service_name"}) / 0.0005',
    );
    expect(slo.rows[1]!.panels[3]!.queries[0]!.expr).toBe(
      'job:http_server_request_errors:ratio_rate5m{job=~"$job", job="shop"} / 0.005 and on (job) target_info{service_name=~"$service_name"}',
    );
    const ratio = find(b, 'overview', '5xx ratio by route');
    expect(ratio.threshold).toBe(0.02);
    expect(ratio.links![0]).toEqual({
      title: 'Runbook: TapwireHTTPHighErrorRatio',
      url: 'https://runbooks.example.com/tapwire.md#tapwirehttphigherrorratio',
    });
    // A disabled alert: no threshold line, no runbook link.
    const latency = find(b, 'database', 'Latency by system (p95, p99)');
    expect([latency.threshold, latency.links]).toEqual([undefined, []]);
    expect(find(boards, 'database', 'Latency by system (p95, p99)').threshold).toBe(0.5);
  });

  it('link only to runbook sections that exist', () => {
    const md = readFileSync(join(ROOT, 'docs/runbooks.md'), 'utf8');
    const urls = panels(boards).flatMap((p) => (p.links ?? []).map((l) => l.url));
    expect(urls.length).toBeGreaterThan(20);
    for (const url of urls) {
      if (url === 'docs/runbooks.md') continue;
      const anchor = /^docs\/runbooks\.md#(\w+)$/.exec(url)?.[1];
      expect(anchor, url).toBeDefined();
      expect(md.toLowerCase(), url).toContain(`\n## ${anchor}\n`);
    }
  });
});

// biome-ignore lint/suspicious/noExplicitAny: dashboard JSON and manifests as parsed
type Json = any;

describe('Grafana JSON and Kubernetes forms', () => {
  const rendered = renderBoards(DEFAULT);

  it('each board: the variables, unique panel ids, a 24-column grid, the datasource variable on every panel', () => {
    for (const { board, json } of rendered) {
      const d = JSON.parse(json) as Json;
      expect([d.uid, d.title, d.tags]).toEqual([board.uid, board.title, ['tapwire']]);
      expect(d.templating.list.map((v: Json) => [v.name, v.type, v.multi, v.includeAll, v.allValue])).toEqual(
        [
          ['datasource', 'datasource', false, false, undefined],
          ['job', 'query', true, true, '.*'],
          ['instance', 'query', true, true, '.*'],
          ['service_name', 'query', true, true, '.*'],
        ],
      );
      const ids = d.panels.map((p: Json) => p.id);
      expect(new Set(ids).size).toBe(ids.length);
      const shown = d.panels.filter((p: Json) => p.type !== 'row');
      expect(shown.map((p: Json) => p.title)).toEqual(panels([board]).map((p) => p.title));
      for (const p of shown) {
        // biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's variable syntax
        expect(p.datasource).toEqual({ type: 'prometheus', uid: '${datasource}' });
        expect(p.gridPos.x + p.gridPos.w, p.title).toBeLessThanOrEqual(24);
        expect(p.targets.map((t: Json) => t.refId)).toEqual(
          p.targets.map((_: Json, i: number) => 'ABCDEFG'[i]),
        );
      }
    }
  });

  it('ConfigMaps carry the sidecar label and each board; GrafanaDashboards the same JSON', () => {
    const files = Object.fromEntries(dashboardFiles(rendered));
    const configMaps = parseAllDocuments(files['tapwire-dashboards-configmap.yaml']!).map(
      (d) => d.toJS() as Json,
    );
    const operator = parseAllDocuments(files['tapwire-grafanadashboards.yaml']!).map((d) => d.toJS() as Json);
    expect(configMaps.map((c) => [c.kind, c.metadata.name, c.metadata.labels.grafana_dashboard])).toEqual(
      rendered.map((r) => ['ConfigMap', `tapwire-dashboard-${r.board.name}`, '1']),
    );
    expect(configMaps.map((c) => c.data)).toEqual(
      rendered.map((r) => ({ [`tapwire-${r.board.name}.json`]: r.json })),
    );
    expect(operator.map((o) => [o.apiVersion, o.kind, o.metadata.name, o.spec.json])).toEqual(
      rendered.map((r) => [
        'grafana.integreatly.org/v1beta1',
        'GrafanaDashboard',
        `tapwire-${r.board.name}`,
        r.json,
      ]),
    );
    // `kubectl apply` keeps each object in an annotation of at most 256 KiB.
    for (const doc of [...configMaps, ...operator])
      expect(JSON.stringify(doc).length).toBeLessThan(256 * 1024);
  });

  it('deploy/dashboards/ holds exactly what `tapwire dashboards --out` writes for the default configuration', () => {
    const files = dashboardFiles(rendered);
    expect(readdirSync(join(ROOT, 'deploy/dashboards')).sort()).toEqual(files.map(([f]) => f).sort());
    for (const [file, text] of files) {
      const path = join(ROOT, 'deploy/dashboards', file);
      if (process.env.TAPWIRE_UPDATE_GOLDEN === '1') writeFileSync(path, text);
      expect(
        readFileSync(path, 'utf8'),
        `${path} is stale: TAPWIRE_UPDATE_GOLDEN=1 npx vitest run tests/dashboards.test.ts`,
      ).toBe(text);
    }
  });
});

describe('tapwire dashboards (built CLI)', () => {
  const run = (args: string[]) => {
    const r = spawnSync(NODE, [join(ROOT, 'dist/cli/main.js'), 'dashboards', ...args], { encoding: 'utf8' });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  };
  const committed = (file: string) => readFileSync(join(ROOT, 'deploy/dashboards', file), 'utf8');

  it('prints the committed ConfigMaps, GrafanaDashboards and boards', () => {
    expect(run([])).toEqual({ code: 0, stdout: committed('tapwire-dashboards-configmap.yaml'), stderr: '' });
    expect(run(['--format', 'operator']).stdout).toBe(committed('tapwire-grafanadashboards.yaml'));
    expect(run(['--board', 'ai']).stdout).toBe(committed('tapwire-ai.json'));
  });

  it('--out writes every file; --slo reads the SLO file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tapwire-dashboards-'));
    const r = run(['--out', join(dir, 'out')]);
    const names = readdirSync(join(ROOT, 'deploy/dashboards'));
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split('\n').length).toBe(names.length);
    for (const f of names) expect(readFileSync(join(dir, 'out', f), 'utf8'), f).toBe(committed(f));
    writeFileSync(join(dir, 'slo.yaml'), 'services:\n  shop: { availability: 99.5 }\n');
    const slo = JSON.parse(run(['--slo', join(dir, 'slo.yaml'), '--board', 'slo']).stdout) as Json;
    expect(slo.panels.filter((p: Json) => p.type === 'row').map((p: Json) => p.title)).toEqual([
      'SLO: services without their own objectives (99.9% available, 99% within 0.5 s, 30d)',
      'SLO: shop (99.5% available, 99% within 0.5 s, 30d)',
      'Alerts',
    ]);
  });

  it('reports a bad SLO file with exit 1 and a bad option with exit 2', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tapwire-dashboards-'));
    writeFileSync(join(dir, 'bad.yaml'), 'alerts: { TapwireNope: { for: 1m } }\n');
    const bad = run(['--slo', join(dir, 'bad.yaml')]);
    expect([bad.code, bad.stdout]).toEqual([1, '']);
    expect(bad.stderr).toMatch(
      /^tapwire dashboards: .*bad\.yaml: alerts: unknown alert "TapwireNope" .* \(TAPWIRE_ERR_RULES\)\n$/,
    );
    for (const args of [
      ['--board', 'nope'],
      ['--format', 'json'],
      ['--out'],
      ['--out', dir, '--board', 'ai'],
      ['-x'],
    ]) {
      const r = run(args);
      expect([r.code, r.stdout], args.join(' ')).toEqual([2, '']);
      expect(r.stderr).toMatch(/^tapwire dashboards: .*\nUsage: tapwire dashboards /);
    }
  });
});
