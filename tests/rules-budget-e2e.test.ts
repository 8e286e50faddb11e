// End to end, AI budgets: an app under the preload (tests/fixtures/ai-attribution-app.mjs) calls
// the stand-in through the openai SDK for two tenants (TAPWIRE_AI_ATTRIBUTES), scraped by a real
// Prometheus 2.42 that loads the rules `tapwire rules` generates for an SLO file with budgets, and
// sends to a real Alertmanager, which posts to a webhook here. The tenant with a small daily budget
// spends past 80% (the warning and the forecast fire), then past 100% (the critical alert fires);
// the other tenant's budget and one nobody spends from stay quiet, and the recorded spend reads
// what the calls cost at the price table. Short `for:` values come from the SLO file's overrides.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Standin, startStandin } from '../cli/demo/standin/index.js';
import { generate, renderPrometheus } from '../rules/index.js';
import { expand } from '../rules/render.js';
import { type App, startApp, stopAll } from './support/index.js';
import { type Alert, type AlertingStack, startAlerting, until } from './support/prometheus.js';

/** USD per 1M tokens of gpt-4o-mini (core/ai/prices.json). */
const PRICE = { input: 0.15, output: 0.6 };
/** acme's daily budget: about fifty calls' worth. */
const BUDGET = 0.001;

let app: App;
let provider: Standin;
let alerting: AlertingStack;
let received: Alert[];
/** What acme's calls cost since the first scrape (the first call's cost is the counter's first sample). */
let spent = 0;

const SHORT = { for: '1s' };
const set = generate({
  budgets: {
    'acme-daily': { usd: BUDGET, per: 'day', attributes: { tenant: 'acme' } },
    'globex-monthly': { usd: 5, attributes: { tenant: 'globex' } },
    'initech-daily': { usd: 1, per: 'day', provider: 'openai', attributes: { tenant: 'initech' } },
  },
  alerts: {
    TapwireAIBudgetNearlySpent: SHORT,
    TapwireAIBudgetSpent: SHORT,
    TapwireAIBudgetRunningOut: SHORT,
  },
});
const rules = set.alerting.flatMap((g) => g.rules);

/** One chat completion for `tenant` through the app; its cost at the price table. */
async function call(tenant: string, i: number): Promise<number> {
  const res = await fetch(app.url(`/call?how=await&i=${i}`), { headers: { 'x-tenant-id': tenant } });
  const got = (await res.json()) as { input: number; output: number; error?: string };
  expect(got.error).toBeUndefined();
  return (got.input * PRICE.input + got.output * PRICE.output) / 1e6;
}

/** acme calls until its spend since the first scrape reaches `fraction` of the budget. */
async function spendTo(fraction: number): Promise<void> {
  for (let i = 0; spent < BUDGET * fraction; i++) {
    spent += await call('acme', i);
    // Spread over many scrapes: increase() extrapolates up to half a scrape interval at each end
    // of its samples, a share of the total that shrinks as the samples span longer.
    await new Promise((r) => setTimeout(r, 300));
  }
}

const firing = () => [...new Set(received.map((a) => `${a.labels.alertname} ${a.labels.budget}`))].sort();

beforeAll(async () => {
  provider = await startStandin();
  app = await startApp({
    runtime: 'node',
    file: 'ai-attribution-app.mjs',
    env: {
      OTEL_SERVICE_NAME: 'shop',
      TAPWIRE_AI_ENDPOINTS: provider.endpoints,
      OPENAI_URL: `http://127.0.0.1:${provider.ports.openai}`,
      ANTHROPIC_URL: `http://127.0.0.1:${provider.ports.anthropic}`,
      TAPWIRE_AI_ATTRIBUTES: 'tenant:x-tenant-id',
    },
  });
  // Each tenant's cost series exists before the first scrape: increase() never counts a
  // counter's first sample.
  await call('acme', 1000);
  await call('globex', 1001);

  alerting = await startAlerting({
    rules: renderPrometheus(set),
    job: 'shop',
    metricsPort: app.metricsPort,
    groupBy: ['alertname', 'budget'],
  });
  received = alerting.received;
  // Scraped, with both tenants' cost series, and the budget rules evaluated.
  await until(
    'the cost series scraped',
    async () =>
      (await query('count(tapwire_gen_ai_cost_usd_total{gen_ai_token_type="output"}) by (tenant)')).length ===
      2
        ? true
        : undefined,
    30_000,
  );
  await until(
    'the budget rules evaluated',
    async () => ((await query('budget:tapwire_gen_ai_cost_usd:limit')).length === 3 ? true : undefined),
    30_000,
  );
  // Some flat samples before the spending starts (see spendTo).
  await new Promise((r) => setTimeout(r, 8000));
}, 120_000);

afterAll(async () => {
  alerting?.close();
  await stopAll();
  await provider?.close();
});

const query = (q: string) => alerting.query(q);

/** The alert as the webhook got it, checked against its generated rule. */
async function arrived(name: string, budget: string): Promise<void> {
  const alert = await until(`${name} for ${budget} at the webhook`, async () =>
    received.find((a) => a.labels.alertname === name && a.labels.budget === budget),
  );
  const rule = rules.find((r) => r.alert === name && r.expr.includes(`budget="${budget}"`))!;
  const labels = { alertname: name, budget, period: 'day', severity: rule.severity };
  expect(alert.status).toBe('firing');
  expect(alert.labels).toEqual(labels);
  expect(alert.annotations).toEqual({
    summary: expand(rule.summary, labels),
    description: expand(rule.description, labels),
    runbook_url: `docs/runbooks.md#${name.toLowerCase()}`,
  });
}

describe('AI budgets in a real Prometheus and Alertmanager', () => {
  it('past 80% of a daily tenant budget: the warning and the forecast fire, nothing else', async () => {
    await spendTo(0.85);
    await arrived('TapwireAIBudgetNearlySpent', 'acme-daily');
    // At this pace (all of it within the last minutes) the rest lasts far less than 6 hours.
    await arrived('TapwireAIBudgetRunningOut', 'acme-daily');
    await new Promise((r) => setTimeout(r, 3000));
    expect(firing()).toEqual([
      'TapwireAIBudgetNearlySpent acme-daily',
      'TapwireAIBudgetRunningOut acme-daily',
    ]);
    // The recorded spend is what the calls cost (increase() extrapolates at most half a scrape
    // interval at each end of the samples), and a budget nobody spent from reads 0.
    const [acme] = await query('budget:tapwire_gen_ai_cost_usd:spent{budget="acme-daily"}');
    expect(Number(acme!.value[1])).toBeGreaterThanOrEqual(spent * 0.98);
    expect(Number(acme!.value[1])).toBeLessThanOrEqual(spent * 1.1);
    expect(acme!.metric).toEqual({
      __name__: 'budget:tapwire_gen_ai_cost_usd:spent',
      budget: 'acme-daily',
      period: 'day',
    });
    const [initech] = await query('budget:tapwire_gen_ai_cost_usd:spent{budget="initech-daily"}');
    expect(Number(initech!.value[1])).toBe(0);
    const limits = await query('budget:tapwire_gen_ai_cost_usd:limit');
    expect(limits.map((l) => `${l.metric.budget} ${l.metric.period} ${l.value[1]}`).sort()).toEqual([
      `acme-daily day ${BUDGET}`,
      'globex-monthly month 5',
      'initech-daily day 1',
    ]);
  }, 120_000);

  it('past 100%: the budget is spent (critical); the other tenant spends and stays within its own', async () => {
    await spendTo(1.2);
    for (let i = 0; i < 5; i++) await call('globex', 2000 + i);
    await arrived('TapwireAIBudgetSpent', 'acme-daily');
    await new Promise((r) => setTimeout(r, 3000));
    expect(firing()).toEqual([
      'TapwireAIBudgetNearlySpent acme-daily',
      'TapwireAIBudgetRunningOut acme-daily',
      'TapwireAIBudgetSpent acme-daily',
    ]);
    const [globex] = await query('budget:tapwire_gen_ai_cost_usd:spent{budget="globex-monthly"}');
    expect(Number(globex!.value[1])).toBeGreaterThan(0);
    expect(Number(globex!.value[1])).toBeLessThan(0.001);
  }, 120_000);
});
