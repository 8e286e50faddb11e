// Attribution of AI provider calls (TAPWIRE_AI_ATTRIBUTES), Node and Bun: concurrent requests of
// different tenants, each call reached through await, a timer, a stream callback or a streamed
// response, or attributed with withAttributes(); exact tokens and cost per tenant and feature, on
// the token and cost series only; the per-label cap with its `_other` value.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type Standin, startStandin } from '../cli/demo/standin/index.js';
import {
  type App,
  find,
  jsonLines,
  parseMetrics,
  RUNTIMES,
  type Sample,
  startApp,
  stopAll,
  sum,
  value,
} from './support/index.js';

const TOKENS = 'gen_ai_client_token_usage_sum';
const COST = 'tapwire_gen_ai_cost_usd_total';
const CALLS = 'gen_ai_client_operation_duration_seconds_count';
const OVERFLOW = 'tapwire_cardinality_overflow_total';
/** USD per 1M tokens (core/ai/prices.json). */
const PRICE = {
  openai: { input: 0.15, cached: 0.075, output: 0.6 },
  anthropic: { input: 1, cached: 0.1, output: 5 },
} as const;

interface Got {
  provider: 'openai' | 'anthropic';
  input: number;
  output: number;
  cached: number;
}

let standin: Standin;
beforeAll(async () => {
  standin = await startStandin();
});
afterAll(async () => {
  await standin.close();
});
afterEach(stopAll);

function env(extra: Record<string, string> = {}): Record<string, string> {
  return {
    TAPWIRE_AI_ENDPOINTS: standin.endpoints,
    OPENAI_URL: `http://127.0.0.1:${standin.ports.openai}`,
    ANTHROPIC_URL: `http://127.0.0.1:${standin.ports.anthropic}`,
    TAPWIRE_AI_ATTRIBUTES: 'tenant:x-tenant-id,feature:x-feature',
    ...extra,
  };
}

async function call(app: App, query: string, headers: Record<string, string> = {}): Promise<Got> {
  const res = await fetch(app.url(`/call?${query}`), { headers });
  const body = (await res.json()) as Got & { error?: string };
  expect(body.error, query).toBeUndefined();
  return body;
}

function usd(g: Got): number {
  const p = PRICE[g.provider];
  return ((g.input - g.cached) * p.input + g.cached * p.cached + g.output * p.output) / 1e6;
}

const label = (s: Sample) => `${s.labels.tenant ?? '-'}/${s.labels.feature ?? '-'}`;

function bySet(samples: Sample[], name: string, match: Record<string, string> = {}): Map<string, number> {
  const m = new Map<string, number>();
  for (const s of find(samples, name, match)) m.set(label(s), (m.get(label(s)) ?? 0) + s.value);
  return m;
}

const TENANTS = ['acme', 'globex', 'initech'];
const HOWS = ['await', 'timer', 'stream', 'pipe'];

describe.each(RUNTIMES)('AI attribution under %s', (runtime) => {
  it('gives concurrent calls of different tenants their own exact tokens and cost, on the AI token and cost series only', async () => {
    const app = await startApp({ runtime, file: 'ai-attribution-app.mjs', env: env() });
    // 24 requests in flight together: every tenant × feature × way of reaching the call.
    type Planned = { query: string; headers: Record<string, string>; set: string };
    const plan: Planned[] = [];
    for (let i = 0; i < 24; i++) {
      const tenant = TENANTS[i % 3]!;
      const feature = i % 2 === 0 ? 'search' : 'summary';
      plan.push({
        query: `how=${HOWS[i % 4]}&i=${i}`,
        headers: { 'x-tenant-id': tenant, 'x-feature': feature },
        set: `${tenant}/${feature}`,
      });
    }
    // Set through the API: both labels, or the feature over the header's tenant; a request with
    // neither gets no labels.
    plan.push({ query: 'how=await&i=100&api=umbrella:batch', headers: {}, set: 'umbrella/batch' });
    plan.push({ query: 'how=stream&i=101&api=umbrella:batch', headers: {}, set: 'umbrella/batch' });
    plan.push({
      query: 'how=timer&i=102&api=:rerank',
      headers: { 'x-tenant-id': 'acme' },
      set: 'acme/rerank',
    });
    plan.push({ query: 'how=await&i=103', headers: {}, set: '-/-' });
    await fetch(app.url(`/arm?n=${plan.length}`)).then((r) => r.text());
    const got = await Promise.all(plan.map((p) => call(app, p.query, p.headers)));

    // One keep-alive connection, one request after another: the second, without headers, must not
    // inherit the first's tenant.
    for (const p of <Planned[]>[
      {
        query: 'how=await&i=200',
        headers: { 'x-tenant-id': 'acme', 'x-feature': 'search' },
        set: 'acme/search',
      },
      { query: 'how=stream&i=201', headers: {}, set: '-/-' },
    ]) {
      plan.push(p);
      got.push(await call(app, p.query, p.headers));
    }
    const tokens = new Map<string, number>();
    const cost = new Map<string, number>();
    plan.forEach((p, i) => {
      const g = got[i]!;
      tokens.set(p.set, (tokens.get(p.set) ?? 0) + g.input + g.output);
      cost.set(p.set, (cost.get(p.set) ?? 0) + usd(g));
    });
    const samples = parseMetrics(await app.metrics());
    const sorted = (m: Map<string, number>) => [...m.entries()].sort(([a], [b]) => a.localeCompare(b));
    expect(sorted(bySet(samples, TOKENS))).toEqual(sorted(tokens));
    const costs = bySet(samples, COST);
    expect([...costs.keys()].sort()).toEqual([...cost.keys()].sort());
    for (const [set, v] of cost) expect(costs.get(set), set).toBeCloseTo(v, 12);

    // Nowhere else: not on the HTTP series, not on the call durations.
    for (const s of samples) {
      if (s.name.startsWith(TOKENS.slice(0, -4)) || s.name === COST) continue;
      expect(s.labels.tenant, s.name).toBeUndefined();
      expect(s.labels.feature, s.name).toBeUndefined();
    }
    expect(sum(samples, CALLS)).toBe(plan.length);
    expect(jsonLines(app.stderr()).filter((l) => l.level !== 'debug')).toEqual([]);
    expect(app.stderr()).not.toContain('sk-standin-secret');
  }, 120_000);

  it('keeps at most TAPWIRE_AI_ATTRIBUTE_VALUES values per label; later ones are _other, counted', async () => {
    const app = await startApp({
      runtime,
      file: 'ai-attribution-app.mjs',
      env: env({ TAPWIRE_AI_ATTRIBUTE_VALUES: '2' }),
    });
    const got: [string, Got][] = [];
    for (const tenant of ['t1', 't2', 't3', 't4', 't1', 't5']) {
      got.push([tenant, await call(app, 'how=await&i=1', { 'x-tenant-id': tenant, 'x-feature': 'f' })]);
    }
    const samples = parseMetrics(await app.metrics());
    const want = new Map<string, number>();
    for (const [tenant, g] of got) {
      const t = tenant === 't1' || tenant === 't2' ? tenant : '_other';
      want.set(`${t}/f`, (want.get(`${t}/f`) ?? 0) + g.input + g.output);
    }
    expect([...bySet(samples, TOKENS).entries()].sort()).toEqual([...want.entries()].sort());
    // t3, t4, t5: three values past the cap; the feature label holds one value.
    expect(value(samples, OVERFLOW, { metric: 'ai_attribute_tenant' })).toBe(3);
    expect(find(samples, OVERFLOW, { metric: 'ai_attribute_feature' })).toEqual([]);
  }, 60_000);
});

describe('withAttributes', () => {
  it('names a label TAPWIRE_AI_ATTRIBUTES does not list once, leaves it out, and records the rest', async () => {
    const app = await startApp({
      runtime: 'node',
      file: 'ai-attribution-app.mjs',
      env: env({ TAPWIRE_AI_ATTRIBUTES: 'tenant:x-tenant-id' }),
    });
    await call(app, 'how=await&i=1&api=acme:batch');
    await call(app, 'how=await&i=2&api=acme:batch');
    const samples = parseMetrics(await app.metrics());
    expect([...bySet(samples, TOKENS).keys()]).toEqual(['acme/-']);
    const lines = jsonLines(app.stderr()).filter((l) => l.code === 'TAPWIRE_AI_ATTRIBUTE_UNKNOWN');
    expect(lines.map((l) => [l.level, l.attribute])).toEqual([['warn', 'feature']]);
  }, 60_000);

  it('just calls the function without the preload', async () => {
    const app = await startApp({
      runtime: 'node',
      file: 'ai-attribution-app.mjs',
      env: env(),
      preload: false,
    });
    const g = await call(app, 'how=await&i=1&api=acme:batch');
    expect(g.provider).toBe('openai');
  }, 60_000);
});
