// End to end: a real app under the preload and a stand-in AI provider, scraped by a real
// Prometheus 2.42 that loads the generated rules and sends to a real Alertmanager 0.25, which posts
// to a webhook served here. Healthy traffic: no alert. 5xx and 429s: the matching alerts arrive
// with their labels and annotations, and a recording rule reads the ratio of the traffic sent.
// The gen_ai series come from tests/fixtures/rules-ai-provider-stand-in.mjs until agent/ai emits
// them. Short `for:` values come from the SLO file's overrides; the default output is unchanged.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generate, renderPrometheus } from '../rules/index.js';
import { expand } from '../rules/render.js';
import { type App, freePort, startApp, stopAll, waitForHttp } from './support/index.js';

interface Alert {
  status: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

const dir = mkdtempSync(join(tmpdir(), 'tapwire-rules-e2e-'));
const children: ChildProcess[] = [];
const received: Alert[] = [];
let hook: Server;
let app: App;
let provider: App;
let promUrl: string;
const sent = { ok: 0, error: 0 };

const SHORT = { for: '3s' };
const set = generate({
  alerts: {
    TapwireHTTPHighErrorRatio: SHORT,
    TapwireAIProviderRateLimited: SHORT,
    TapwireAIProviderHighErrorRatio: SHORT,
    TapwireHTTPAvailabilityFastBurn: SHORT,
  },
});
const rules = set.alerting.flatMap((g) => g.rules);

function start(cmd: string, args: string[]): ChildProcess {
  const child = spawn(cmd, args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => {
    err = (err + d).slice(-4000);
  });
  child.on('exit', (code) => {
    if (code !== null && code !== 0) console.error(`${cmd} exited ${code}:\n${err}`);
  });
  children.push(child);
  return child;
}

async function query(q: string): Promise<{ metric: Record<string, string>; value: [number, string] }[]> {
  const res = await fetch(`${promUrl}/api/v1/query?query=${encodeURIComponent(q)}`);
  const body = (await res.json()) as {
    data: { result: { metric: Record<string, string>; value: [number, string] }[] };
  };
  return body.data.result;
}

async function until<T>(what: string, fn: () => Promise<T | undefined>, ms = 60_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

async function get(url: string): Promise<number> {
  const res = await fetch(url);
  await res.arrayBuffer();
  return res.status;
}

/** `n` rounds of: one healthy request, one AI call through the app, and `errors` 5xx. */
async function traffic(n: number, errors: number): Promise<void> {
  const chat = app.url(`/fetch?url=${encodeURIComponent(provider.url('/v1/chat/completions'))}`);
  for (let i = 0; i < n; i++) {
    for (const url of [app.url('/'), chat]) if ((await get(url)) === 200) sent.ok++;
    for (let e = 0; e < errors; e++) if ((await get(app.url('/status/500'))) === 500) sent.error++;
    await new Promise((r) => setTimeout(r, 100));
  }
}

beforeAll(async () => {
  hook = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8').on('data', (d: string) => {
      body += d;
    });
    req.on('end', () => {
      received.push(...(JSON.parse(body) as { alerts: Alert[] }).alerts);
      res.end();
    });
  });
  hook.listen(0, '127.0.0.1');
  await once(hook, 'listening');
  const hookPort = (hook.address() as { port: number }).port;

  app = await startApp({ runtime: 'node', file: 'http-app.mjs', env: { OTEL_SERVICE_NAME: 'shop' } });
  provider = await startApp({ runtime: 'node', file: 'rules-ai-provider-stand-in.mjs', preload: false });
  // Every series exists before the first scrape, so Prometheus sees each later request as an
  // increase (a counter's first sample is never counted by rate()).
  expect(await get(app.url('/status/500'))).toBe(500);
  expect(await get(app.url('/'))).toBe(200);

  const [promPort, amPort] = [await freePort(), await freePort()];
  writeFileSync(join(dir, 'tapwire-rules.yaml'), renderPrometheus(set));
  writeFileSync(
    join(dir, 'prometheus.yml'),
    `global: { scrape_interval: 1s, evaluation_interval: 1s }
rule_files: [tapwire-rules.yaml]
alerting:
  alertmanagers: [{ static_configs: [{ targets: ['127.0.0.1:${amPort}'] }] }]
scrape_configs:
  - job_name: shop
    static_configs: [{ targets: ['127.0.0.1:${app.metricsPort}', '127.0.0.1:${provider.metricsPort}'] }]
`,
  );
  writeFileSync(
    join(dir, 'alertmanager.yml'),
    `route: { receiver: hook, group_by: [alertname, job], group_wait: 1s, group_interval: 1s, repeat_interval: 1h }
receivers:
  - name: hook
    webhook_configs: [{ url: 'http://127.0.0.1:${hookPort}/', send_resolved: false }]
`,
  );
  start('prometheus-alertmanager', [
    `--config.file=${join(dir, 'alertmanager.yml')}`,
    `--storage.path=${join(dir, 'am')}`,
    `--web.listen-address=127.0.0.1:${amPort}`,
    '--cluster.listen-address=',
  ]);
  start('prometheus', [
    `--config.file=${join(dir, 'prometheus.yml')}`,
    `--storage.tsdb.path=${join(dir, 'tsdb')}`,
    `--web.listen-address=127.0.0.1:${promPort}`,
  ]);
  promUrl = `http://127.0.0.1:${promPort}`;
  await waitForHttp(`http://127.0.0.1:${amPort}/-/ready`, 30_000);
  await waitForHttp(`${promUrl}/-/ready`, 30_000);
  await until(
    'both targets up',
    async () => ((await query('up == 1')).length === 2 ? true : undefined),
    30_000,
  );
}, 90_000);

afterAll(async () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  await stopAll();
  hook?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('generated rules in a real Prometheus and Alertmanager', () => {
  it('stay quiet on healthy traffic', async () => {
    await traffic(30, 0);
    await new Promise((r) => setTimeout(r, 6000));
    const res = await fetch(`${promUrl}/api/v1/alerts`);
    const alerts = ((await res.json()) as { data: { alerts: Alert[] } }).data.alerts;
    expect(alerts).toEqual([]);
    expect(received).toEqual([]);
    // The rules loaded and evaluate: the error ratio is 0, not missing.
    const ratio = await query('job:http_server_request_errors:ratio_rate5m{job="shop"}');
    expect(ratio.map((r) => Number(r.value[1]))).toEqual([0]);
  }, 60_000);

  it('fire on 5xx and 429s, reach the webhook with labels and annotations', async () => {
    expect(await get(provider.url('/mode/429'))).toBe(200);
    await traffic(30, 2);
    const want = [
      ['TapwireHTTPHighErrorRatio', { job: 'shop' }],
      ['TapwireHTTPAvailabilityFastBurn', { job: 'shop' }],
      ['TapwireAIProviderRateLimited', { job: 'shop', gen_ai_provider_name: 'openai' }],
      ['TapwireAIProviderHighErrorRatio', { job: 'shop', gen_ai_provider_name: 'openai' }],
    ] as const;
    for (const [name, labels] of want) {
      const rule = rules.find((r) => r.alert === name)!;
      const alert = await until(`${name} at the webhook`, async () =>
        received.find((a) => a.labels.alertname === name),
      );
      const expected = { alertname: name, severity: rule.severity, ...labels };
      expect(alert.status).toBe('firing');
      expect(alert.labels).toEqual(expected);
      expect(alert.annotations).toEqual({
        summary: expand(rule.summary, expected),
        description: expand(rule.description, expected),
        runbook_url: `docs/runbooks.md#${name.toLowerCase()}`,
      });
    }
    // Nothing else fired: no latency, DB, budget or agent alerts from this traffic.
    expect([...new Set(received.map((a) => a.labels.alertname))].sort()).toEqual(want.map(([n]) => n).sort());
  }, 90_000);

  it('a recording rule reads the error ratio of the traffic sent', async () => {
    // Let the last requests be scraped and the rules evaluated.
    await new Promise((r) => setTimeout(r, 3000));
    const [ratio] = await query('job:http_server_request_errors:ratio_rate5m{job="shop"}');
    const expected = sent.error / (sent.error + sent.ok);
    expect(sent.error).toBe(60);
    expect(Number(ratio!.value[1])).toBeCloseTo(expected, 2);
  });
});
