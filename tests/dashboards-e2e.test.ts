// Proof that every panel of the generated dashboards shows data: a real Prometheus 2.42 loads the
// generated rules and scrapes, every second,
//   - job `shop`: a node:cluster Express app under the preload (tests/fixtures/dashboards-app.mjs):
//     inbound HTTP with routes, SQLite and PostgreSQL (a pg Pool), AI calls to the provider
//     stand-in (cli/demo/standin/), plain and streamed, some answered 429; its two workers follow
//     the primary, so per-process series carry `tapwire_process`;
//   - job `edge`: `tapwire sidecar` (honor_labels, as deploy/ scrapes it) proxying to a worker
//     preloaded on Bun that pushes its metrics to the sidecar, with requests the proxy answers 504
//     itself, and AI calls through its gateway.
// Then each panel's query, as the board JSON holds it (the default boards and the boards of an SLO
// file with a service and a route), goes through Prometheus' HTTP API with Grafana's macros and
// variables substituted as Grafana substitutes them — the variables once as "All" and once with
// every value their own queries return selected — and must return data: at least one series with a
// number that is not NaN. Queries are retried while the traffic runs, until all answer or a deadline.
// Then, with the variables narrowed to the Bun worker, every query over the metrics it serves.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Standin, startStandin } from '../cli/demo/standin/index.js';
import { renderBoards } from '../dashboards/files.js';
import { OWN } from '../dashboards/promql.js';
import { generate, renderPrometheus, validate } from '../rules/index.js';
import { type App, freePort, NODE, ROOT, startApp, stopAll, waitForHttp } from './support/index.js';

const PG_BIN = '/usr/lib/postgresql/15/bin';
/** Prometheus' scrape and evaluation interval, and the data source's "Scrape interval" in Grafana. */
const SCRAPE_S = 1;
/** An SLO file with a service and a route of its own, so the SLO board has all three kinds of row. */
const SLO_FILE = {
  services: { shop: { availability: 99.5, routes: { '/orders': { availability: 99 } } } },
  // Fires at once on the 5xx the traffic sends, so the alert panels have a firing alert to show.
  alerts: { TapwireHTTPHighErrorRatio: { for: '0s' } },
};

const dir = mkdtempSync(join(tmpdir(), 'tapwire-dashboards-e2e-'));
const children: ChildProcess[] = [];
let app: App;
let worker: App;
let standin: Standin;
let promUrl = '';
let proxyUrl = '';
let gatewayUrl = '';
let startedAt = 0;
let running = true;
let loop: Promise<void> = Promise.resolve();

function start(cmd: string, args: string[], env?: NodeJS.ProcessEnv): ChildProcess {
  const child = spawn(cmd, args, { cwd: dir, env, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => {
    err = (err + d).slice(-4000);
  });
  child.on('exit', (code) => {
    if (running && code !== null && code !== 0) console.error(`${cmd} exited ${code}:\n${err}`);
  });
  children.push(child);
  return child;
}

async function until(what: string, check: () => Promise<boolean> | boolean, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      if (await check()) return;
    } catch {
      // not yet
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const drain = async (res: Promise<Response>): Promise<number> => {
  const r = await res;
  await r.arrayBuffer();
  return r.status;
};

/** One round of every kind of traffic; the proxy's 504 (a 1.5 s answer, 1 s timeout) runs alongside. */
let slow: Promise<unknown> | undefined;
async function round(): Promise<void> {
  const chat = (prefix: string) =>
    fetch(`${gatewayUrl}/openai${prefix}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] }),
    });
  slow ??= drain(fetch(`${proxyUrl}/slow/1500`)).finally(() => {
    slow = undefined;
  });
  await Promise.all([
    drain(fetch(app.url('/users/1'))),
    drain(fetch(app.url('/fail'))),
    drain(fetch(app.url('/orders'), { method: 'POST' })),
    drain(fetch(app.url('/bad-sql'))),
    drain(fetch(app.url('/chat'))),
    drain(fetch(app.url('/chat?prefix=/e429'))),
    drain(fetch(app.url('/stream'))),
    drain(fetch(`${proxyUrl}/status/200`)),
    drain(chat('')),
    drain(chat('/e429')),
  ]);
}

beforeAll(async () => {
  chmodSync(dir, 0o777);
  const pgPort = await freePort();
  execFileSync(
    'runuser',
    ['-u', 'postgres', '--', `${PG_BIN}/initdb`, '-D', join(dir, 'pg'), '-U', 'postgres', '-A', 'trust'],
    { stdio: 'ignore' },
  );
  start('runuser', [
    '-u',
    'postgres',
    '--',
    `${PG_BIN}/postgres`,
    '-D',
    join(dir, 'pg'),
    '-p',
    String(pgPort),
    '-k',
    dir,
    '-h',
    '127.0.0.1',
  ]);
  standin = await startStandin();
  await until('PostgreSQL', () => {
    execFileSync(`${PG_BIN}/pg_isready`, ['-h', '127.0.0.1', '-p', String(pgPort)], { stdio: 'ignore' });
    return true;
  });
  app = await startApp({
    runtime: 'node',
    file: 'dashboards-app.mjs',
    ready: '/users/0',
    env: {
      OTEL_SERVICE_NAME: 'shop',
      WORKERS: '2',
      PGPORT: String(pgPort),
      AI_URL: `http://127.0.0.1:${standin.ports.openai}`,
      TAPWIRE_AI_ENDPOINTS: standin.endpoints,
    },
  });

  // The sidecar in front of a preloaded worker that pushes its metrics to it.
  const [proxyPort, gatewayPort, sidecarMetrics] = [await freePort(), await freePort(), await freePort()];
  worker = await startApp({
    runtime: 'bun',
    file: 'http-app.mjs',
    ready: '/status/200',
    env: {
      OTEL_SERVICE_NAME: 'edge-worker',
      OTEL_METRICS_EXPORTER: 'otlp',
      OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: `http://127.0.0.1:${sidecarMetrics}/v1/metrics`,
      OTEL_METRIC_EXPORT_INTERVAL: '1000',
    },
  });
  start(NODE, [join(ROOT, 'dist/cli/main.js'), 'sidecar'], {
    PATH: process.env.PATH,
    TMPDIR: process.env.TMPDIR,
    TAPWIRE_ENV: 'test',
    OTEL_SERVICE_NAME: 'edge',
    TAPWIRE_PROXY_PORT: String(proxyPort),
    TAPWIRE_UPSTREAM: `http://127.0.0.1:${worker.port}`,
    TAPWIRE_ROUTES: '/status/:code,/slow/:ms',
    TAPWIRE_PROXY_TIMEOUT_SECONDS: '1',
    TAPWIRE_GATEWAY_PORT: String(gatewayPort),
    TAPWIRE_GATEWAY_PROVIDERS: `openai=http://127.0.0.1:${standin.ports.openai}`,
    OTEL_EXPORTER_PROMETHEUS_HOST: '127.0.0.1',
    OTEL_EXPORTER_PROMETHEUS_PORT: String(sidecarMetrics),
  });
  await waitForHttp(`http://127.0.0.1:${sidecarMetrics}/healthz`, 15_000);
  proxyUrl = `http://127.0.0.1:${proxyPort}`;
  gatewayUrl = `http://127.0.0.1:${gatewayPort}`;

  // Every series exists before the first scrape, so rate() sees each later request as an increase.
  await round();
  await slow;

  const promPort = await freePort();
  writeFileSync(join(dir, 'tapwire-rules.yaml'), renderPrometheus(generate(SLO_FILE)));
  writeFileSync(
    join(dir, 'prometheus.yml'),
    `global: { scrape_interval: ${SCRAPE_S}s, evaluation_interval: ${SCRAPE_S}s }
rule_files: [tapwire-rules.yaml]
scrape_configs:
  - job_name: shop
    static_configs: [{ targets: ['127.0.0.1:${app.metricsPort}'] }]
  - job_name: edge
    honor_labels: true
    static_configs: [{ targets: ['127.0.0.1:${sidecarMetrics}'] }]
`,
  );
  start('prometheus', [
    `--config.file=${join(dir, 'prometheus.yml')}`,
    `--storage.tsdb.path=${join(dir, 'tsdb')}`,
    `--web.listen-address=127.0.0.1:${promPort}`,
  ]);
  promUrl = `http://127.0.0.1:${promPort}`;
  startedAt = Date.now();
  await until('both targets scraped', async () => (await instant('count(up == 1)'))[0]?.value[1] === '2');
  loop = (async () => {
    while (running) {
      await round();
      await new Promise((r) => setTimeout(r, 200));
    }
  })();
}, 120_000);

afterAll(async () => {
  running = false;
  await loop.catch(() => undefined);
  await slow;
  await stopAll();
  for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
  await standin?.close();
  await new Promise((r) => setTimeout(r, 500));
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

interface Series {
  metric: Record<string, string>;
  value: [number, string];
  values?: [number, string][];
}

async function api(path: string, params: Record<string, string>): Promise<Series[]> {
  const res = await fetch(`${promUrl}${path}?${new URLSearchParams(params)}`);
  const body = (await res.json()) as { status: string; error?: string; data: { result: Series[] } };
  if (body.status !== 'success') throw new Error(`${params.query}: ${body.error}`);
  return body.data.result;
}
const instant = (query: string, time = Date.now() / 1000) =>
  api('/api/v1/query', { query, time: String(time) });

/** The Grafana time range of a test: from Prometheus' start to now, whole seconds. */
interface Range {
  from: number;
  to: number;
}

/**
 * Grafana's macros for a panel over `range` with the data source's scrape interval set to the
 * scrape interval (Grafana's docs ask for that): `$__interval` is range / max data points, never
 * below the scrape interval — a panel ~1000 px wide over a few minutes gives the scrape interval;
 * `$__rate_interval` is max($__interval + scrape interval, 4 × scrape interval).
 */
function macros(range: Range): Record<string, string> {
  const seconds = range.to - range.from;
  const interval = Math.max(SCRAPE_S, Math.round(seconds / 1000));
  const rateInterval = Math.max(interval + SCRAPE_S, 4 * SCRAPE_S);
  return {
    __rate_interval: `${rateInterval}s`,
    __interval_ms: String(interval * 1000),
    __interval: `${interval}s`,
    __range_ms: String(seconds * 1000),
    __range_s: String(seconds),
    __range: `${seconds}s`,
  };
}

/**
 * A multi-value variable as Grafana's Prometheus data source writes it into a query: "All" is the
 * variable's allValue as it stands; one value or several are regex-escaped (backslashes and quotes
 * for the PromQL string, then regex metacharacters), several joined as `(a|b)`
 * (grafana-prometheus escaping.ts: prometheusSpecialRegexEscape, interpolateQueryExpr).
 */
function variableValue(values: readonly string[] | 'All'): string {
  if (values === 'All') return '.*';
  const escaped = values.map((v) =>
    v
      .replace(/\\/g, '\\\\\\\\')
      .replace(/"/g, '\\\\\\"')
      .replace(/[$^*{}[\]'+?.()|]/g, '\\\\$&'),
  );
  return escaped.length === 1 ? escaped[0]! : `(${escaped.join('|')})`;
}

function interpolate(expr: string, vars: Record<string, string>): string {
  return expr.replace(/\$(\w+)/g, (whole, name: string) => {
    const v = vars[name];
    if (v === undefined) throw new Error(`${expr}: no value for ${whole}`);
    return v;
  });
}

/** Values of `label_values(selector, label)`, as Grafana asks Prometheus for them. */
async function labelValues(query: string, vars: Record<string, string>, range: Range): Promise<string[]> {
  const m = /^label_values\((.+), (\w+)\)$/.exec(interpolate(query, vars))!;
  const res = await fetch(
    `${promUrl}/api/v1/series?${new URLSearchParams({ 'match[]': m[1]!, start: String(range.from), end: String(range.to) })}`,
  );
  const series = ((await res.json()) as { data: Record<string, string>[] }).data;
  return [...new Set(series.map((s) => s[m[2]!]).filter((v): v is string => v !== undefined))].sort();
}

interface PanelQuery {
  board: string;
  panel: string;
  expr: string;
  instant: boolean;
}

// biome-ignore lint/suspicious/noExplicitAny: dashboard JSON as parsed
type Json = any;

/** Every panel's queries as the JSON holds them, the default boards' and the SLO file's. */
function panelQueries(): { queries: PanelQuery[]; variables: { name: string; query: string }[] } {
  const seen = new Set<string>();
  const queries: PanelQuery[] = [];
  let variables: { name: string; query: string }[] = [];
  for (const config of [validate(undefined), validate(SLO_FILE)]) {
    for (const { json } of renderBoards(config)) {
      const board = JSON.parse(json) as Json;
      variables = board.templating.list
        .filter((v: Json) => v.type === 'query')
        .map((v: Json) => ({ name: v.name, query: v.query }));
      for (const panel of board.panels as Json[]) {
        for (const t of panel.targets ?? []) {
          const key = `${t.instant === true} ${t.expr}`;
          if (seen.has(key)) continue;
          seen.add(key);
          queries.push({ board: board.title, panel: panel.title, expr: t.expr, instant: t.instant === true });
        }
      }
    }
  }
  return { queries, variables };
}

/** True when the query returns a series with a number that is not NaN. */
async function hasData(q: PanelQuery, vars: Record<string, string>, range: Range): Promise<boolean> {
  const query = interpolate(q.expr, vars);
  const result = q.instant
    ? await instant(query, range.to)
    : await api('/api/v1/query_range', {
        query,
        start: String(range.from),
        end: String(range.to),
        step: vars.__interval!,
      });
  return result.some((s) => (s.values ?? [s.value]).some(([, v]) => !Number.isNaN(Number(v))));
}

describe('generated dashboards on a real Prometheus', () => {
  it('every panel query returns data, with the variables on All and on every value', async () => {
    const { queries, variables } = panelQueries();
    expect(variables.map((v) => v.name)).toEqual(['job', 'instance', 'service_name']);
    let missing: string[] = [];
    const deadline = Date.now() + 90_000;
    for (;;) {
      const range = { from: Math.floor(startedAt / 1000), to: Math.floor(Date.now() / 1000) };
      const all: Record<string, string> = { ...macros(range) };
      const each: Record<string, string> = { ...macros(range) };
      for (const v of variables) all[v.name] = variableValue('All');
      // Chained as in Grafana: each variable's query sees the values chosen before it.
      const chosen: Record<string, string[]> = {};
      for (const v of variables) {
        chosen[v.name] = await labelValues(v.query, each, range);
        each[v.name] = variableValue(chosen[v.name]!);
      }
      missing = [];
      if (chosen.job!.join() !== 'edge,shop') missing.push(`job values: ${chosen.job}`);
      if (chosen.service_name!.join() !== 'edge,edge-worker,shop')
        missing.push(`service_name values: ${chosen.service_name}`);
      for (const [name, vars] of [
        ['All', all],
        ['every value', each],
      ] as const) {
        for (const q of queries) {
          if (!(await hasData(q, vars, range))) missing.push(`${q.board} / ${q.panel} (${name}): ${q.expr}`);
        }
      }
      if (missing.length === 0 || Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 1000));
    }
    expect(missing).toEqual([]);
    console.log(`${queries.length} distinct panel queries returned data, twice each`);
  }, 150_000);

  it('with only the Bun worker chosen, every panel of the metrics it emits returns data', async () => {
    const { queries } = panelQueries();
    const range = { from: Math.floor(startedAt / 1000), to: Math.floor(Date.now() / 1000) };
    const bun = `edge-worker/${worker.child.pid}`;
    const emitted = new Set(
      (await instant(`group by (__name__) ({instance="${bun}"})`, range.to)).map((s) => s.metric.__name__!),
    );
    const vars = {
      ...macros(range),
      job: variableValue(['edge']),
      instance: variableValue([bun]),
      service_name: variableValue(['edge-worker']),
    };
    // The queries over series the worker serves: not the sidecar's own (those need the target's `up`),
    // nor the SLO rows of the job the SLO file names (`job="shop"`).
    const mine = queries.filter(
      (q) =>
        !q.expr.includes(OWN) &&
        !q.expr.includes('job="shop"') &&
        [...q.expr.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)\{/g)].every(([, name]) => emitted.has(name!)),
    );
    // Bun has no V8 heap statistics, GC observer or event-loop utilisation (agent/runtime/support.ts).
    expect(mine.filter((q) => q.board === 'tapwire / Runtime').map((q) => q.panel)).toEqual([
      'Event-loop delay per process (p50, p99, max)',
      'Event-loop delay per process (p50, p99, max)',
      'Event-loop delay per process (p50, p99, max)',
      'Resident memory (RSS) per process',
      'CPU by mode',
    ]);
    const missing: string[] = [];
    for (const q of mine)
      if (!(await hasData(q, vars, range))) missing.push(`${q.board} / ${q.panel}: ${q.expr}`);
    expect(missing).toEqual([]);
    console.log(`${mine.length} panel queries returned data for the Bun worker alone`);
  }, 30_000);
});
