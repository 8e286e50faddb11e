// End to end: a real app under the preload (tests/fixtures/rules-app.mjs) that calls a stand-in
// OpenAI-compatible provider (cli/demo/standin/, mapped by TAPWIRE_AI_ENDPOINTS), scraped
// by a real Prometheus 2.42 that loads the generated rules and sends to a real Alertmanager 0.25,
// which posts to a webhook served here. Prometheus scrapes only the app: every gen_ai series comes
// from the preload's AI instrumentation. Healthy traffic: no alert. 5xx and 429s: the matching
// alerts arrive with their labels and annotations, and recording rules read the ratios of the
// traffic sent. Short `for:` values come from the SLO file's overrides, and a per-provider
// threshold (`providers: openai`) is exercised too; the default output is unchanged.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Standin, startStandin } from '../cli/demo/standin/index.js';
import { generate, renderPrometheus } from '../rules/index.js';
import { expand } from '../rules/render.js';
import { type App, find, parseMetrics, startApp, stopAll } from './support/index.js';
import { type Alert, type AlertingStack, startAlerting, until } from './support/prometheus.js';

let app: App;
let provider: Standin;
let alerting: AlertingStack;
let promUrl: string;
let received: Alert[];
const sent = { ok: 0, error: 0 };
/** AI calls the app made after the first scrape, by the status the provider answered. */
const calls = { ok: 0, limited: 0 };
/** Path prefix of the stand-in: '' answers 200 with usage, '/e429' answers 429 with retry-after. */
let mode = '';

const SHORT = { for: '3s' };
const set = generate({
  alerts: {
    TapwireHTTPHighErrorRatio: SHORT,
    TapwireAIProviderRateLimited: SHORT,
    TapwireAIProviderHighErrorRatio: SHORT,
    TapwireHTTPAvailabilityFastBurn: SHORT,
  },
  // openai's error-ratio alert comes from its own rule (30%), the global one (10%) excludes it.
  providers: { openai: { error_ratio: 0.3 } },
});
const rules = set.alerting.flatMap((g) => g.rules);

async function get(url: string): Promise<number> {
  const res = await fetch(url);
  await res.arrayBuffer();
  return res.status;
}

/** One AI call made by the app; resolves with the status the provider answered. */
async function chat(): Promise<string> {
  const target = `http://127.0.0.1:${provider.ports.openai}${mode}/v1/chat/completions`;
  const res = await fetch(app.url(`/chat?url=${encodeURIComponent(target)}`));
  const body = await res.text();
  expect(res.status, body).toBe(200);
  return body;
}

/** `n` rounds of: one healthy request, one AI call through the app, and `errors` 5xx. */
async function traffic(n: number, errors: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    if ((await get(app.url('/'))) === 200) sent.ok++;
    const status = await chat();
    sent.ok++; // the app answers 200 either way
    if (status === '200') calls.ok++;
    else if (status === '429') calls.limited++;
    for (let e = 0; e < errors; e++) if ((await get(app.url('/status/500'))) === 500) sent.error++;
    await new Promise((r) => setTimeout(r, 100));
  }
}

beforeAll(async () => {
  provider = await startStandin();
  app = await startApp({
    runtime: 'node',
    file: 'rules-app.mjs',
    env: { OTEL_SERVICE_NAME: 'shop', TAPWIRE_AI_ENDPOINTS: provider.endpoints },
  });
  // Every series exists before the first scrape, so Prometheus sees each later request as an
  // increase (a counter's first sample is never counted by rate()).
  expect(await get(app.url('/status/500'))).toBe(500);
  expect(await get(app.url('/'))).toBe(200);
  expect(await chat()).toBe('200');
  mode = '/e429';
  expect(await chat()).toBe('429');
  mode = '';
  // The preload recorded both calls as the provider's, with the model from the request body.
  const samples = parseMetrics(await app.metrics());
  const calls0 = find(samples, 'gen_ai_client_operation_duration_seconds_count', {
    gen_ai_operation_name: 'chat',
    gen_ai_provider_name: 'openai',
    gen_ai_request_model: 'gpt-4o-mini',
    server_address: '127.0.0.1',
  });
  expect(calls0.map((c) => `${c.labels.error_type ?? 'ok'} ${c.value}`).sort()).toEqual(['429 1', 'ok 1']);

  alerting = await startAlerting({
    rules: renderPrometheus(set),
    job: 'shop',
    metricsPort: app.metricsPort,
    groupBy: ['alertname', 'job'],
  });
  ({ promUrl, received } = alerting);
  await until(
    'the app scraped',
    async () => ((await query('up == 1')).length === 1 ? true : undefined),
    30_000,
  );
}, 90_000);

afterAll(async () => {
  alerting?.close();
  await stopAll();
  await provider?.close();
});

const query = (q: string) => alerting.query(q);

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
    mode = '/e429';
    await traffic(30, 2);
    const want = [
      ['TapwireHTTPHighErrorRatio', { job: 'shop' }],
      ['TapwireHTTPAvailabilityFastBurn', { job: 'shop' }],
      ['TapwireAIProviderRateLimited', { job: 'shop', gen_ai_provider_name: 'openai' }],
      ['TapwireAIProviderHighErrorRatio', { job: 'shop', gen_ai_provider_name: 'openai' }],
    ] as const;
    for (const [name, labels] of want) {
      // The rule for openai when the SLO file gives it its own threshold, else the only one.
      const named = rules.filter((r) => r.alert === name);
      const rule = named.find((r) => r.expr.includes('gen_ai_provider_name="openai"')) ?? named[0]!;
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
    // openai's own error-ratio threshold is the one that fired.
    expect(
      received.find((a) => a.labels.alertname === 'TapwireAIProviderHighErrorRatio')?.annotations.description,
    ).toMatch(/^More than 30% of the calls shop made to openai /);
    // Nothing else fired: no latency, DB, budget or agent alerts from this traffic.
    expect([...new Set(received.map((a) => a.labels.alertname))].sort()).toEqual(want.map(([n]) => n).sort());
  }, 90_000);

  it('recording rules read the error and 429 ratios of the traffic sent', async () => {
    // Let the last requests be scraped and the rules evaluated.
    await new Promise((r) => setTimeout(r, 3000));
    const [ratio] = await query('job:http_server_request_errors:ratio_rate5m{job="shop"}');
    const expected = sent.error / (sent.error + sent.ok);
    expect(sent.error).toBe(60);
    expect(Number(ratio!.value[1])).toBeCloseTo(expected, 2);
    // The AI recording rules read the preload's series: 429s over all calls to openai.
    expect([calls.ok, calls.limited]).toEqual([30, 30]);
    // What the stand-in served, including the two calls made before the first scrape.
    expect(provider.served.map((c) => `${c.model} ${c.outcome}`).sort()).toEqual([
      ...Array(calls.ok + 1).fill('gpt-4o-mini 200'),
      ...Array(calls.limited + 1).fill('gpt-4o-mini 429'),
    ]);
    const limited = await query('job_gen_ai_provider:gen_ai_client_operation_rate_limited:ratio_rate5m');
    expect(limited.map((r) => r.metric)).toEqual([
      {
        __name__: 'job_gen_ai_provider:gen_ai_client_operation_rate_limited:ratio_rate5m',
        job: 'shop',
        gen_ai_provider_name: 'openai',
      },
    ]);
    expect(Number(limited[0]!.value[1])).toBeCloseTo(calls.limited / (calls.ok + calls.limited), 2);
  });
});
