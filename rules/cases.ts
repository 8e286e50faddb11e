// The promtool cases of the component alerts (components.ts): for each alert, input series that
// make it fire above its threshold, series that keep it quiet below, and for ratios and quantiles
// series without traffic. Metric names come from the catalogue (names.ts); labels are written as
// tapwire exposes them.
import type { RulesConfig } from './config.js';
import type { AlertRule } from './model.js';
import { BUCKETS, M } from './names.js';
import { above, counter, gauge, histogram, type Labels, selector } from './series.js';

/**
 * The cases for an alert at `threshold`. `value` is the provider or db system a per-value rule of
 * an SLO file names; its series carry that value, so they reach the rule's selector.
 */
export type CaseBuilder = (threshold: number, config: RulesConfig, value?: string) => AlertRule['cases'];

/** An hour of series, evaluated at its end: longer than any 5m or 10m window plus the `for`. */
const MIN = 60;
const APP: Labels = { job: 'app', instance: 'app:9464' };
const HTTP: Labels = { ...APP, http_request_method: 'GET', url_scheme: 'http' };
const DB: Labels = {
  ...APP,
  db_system_name: 'postgresql',
  db_operation_name: 'SELECT',
  db_namespace: 'shop',
};
const AI: Labels = {
  ...APP,
  gen_ai_operation_name: 'chat',
  gen_ai_provider_name: 'openai',
  gen_ai_request_model: 'gpt-4o-mini',
};
const db = (v = 'postgresql'): Labels => ({ ...DB, db_system_name: v });
const ai = (v = 'openai'): Labels => ({ ...AI, gen_ai_provider_name: v });

/** A ratio alert: `errorLabels` series against `okLabels` series of `metric`_count. */
function ratioCases(
  t: number,
  metric: string,
  okLabels: Labels,
  errorLabels: Labels,
  expect: Labels,
): AlertRule['cases'] {
  const run = (ratio: number, per = 1000) => [
    counter(`${metric}_count`, okLabels, per - Math.round(per * ratio), MIN),
    counter(`${metric}_count`, errorLabels, Math.round(per * ratio), MIN),
  ];
  return {
    fires: { series: run(Math.min(1, 2 * t)), at: MIN, labels: expect },
    quiet: { series: run(t / 2), at: MIN },
    idle: { series: run(0, 0), at: MIN },
  };
}

/** A quantile alert over `metric`'s histogram (plus the guard's request counter). */
function quantileCases(
  t: number,
  metric: string,
  buckets: readonly number[],
  labels: Labels,
  expect: Labels,
  guard?: string,
): AlertRule['cases'] {
  const run = (value: number, per = 100) => [
    ...histogram(metric, labels, buckets, value, per, MIN),
    ...(guard ? [counter(`${guard}_count`, labels, per, MIN)] : []),
  ];
  return {
    fires: { series: run(above(buckets, t)), at: MIN, labels: expect },
    quiet: { series: run(buckets[0]!), at: MIN },
    idle: { series: run(buckets[0]!, 0), at: MIN },
  };
}

/** A per-day budget burned over 1h and 6h, from a counter-like series. */
function budgetCases(t: number, series: string, labels: Labels): AlertRule['cases'] {
  // rate() over 6h divides by 6h: the series must cover the whole long window.
  const minutes = 7 * MIN;
  const run = (perDay: number) => [counter(series, labels, perDay / 1440, minutes)];
  return {
    fires: { series: run(2 * t), at: minutes, labels: { job: APP.job! } },
    quiet: { series: run(t / 2), at: minutes },
  };
}

/** The cases of each component alert, by the alert they prove. */
export const CASES = {
  httpErrors: (t) =>
    ratioCases(
      t,
      M.httpServer,
      { ...HTTP, http_response_status_code: '200' },
      { ...HTTP, http_response_status_code: '503', error_type: '503' },
      { job: 'app' },
    ),
  httpLatency: (t) =>
    quantileCases(
      t,
      M.httpServer,
      BUCKETS.http,
      { ...HTTP, http_response_status_code: '200' },
      { job: 'app' },
    ),
  dbErrors: (t, _c, v = 'postgresql') =>
    ratioCases(t, M.db, db(v), { ...db(v), error_type: 'ECONNRESET' }, { job: 'app', db_system_name: v }),
  dbLatency: (t, _c, v = 'postgresql') =>
    quantileCases(t, M.db, BUCKETS.db, db(v), { job: 'app', db_system_name: v }),
  aiErrors: (t, _c, v = 'openai') =>
    ratioCases(t, M.genAi, ai(v), { ...ai(v), error_type: '500' }, { job: 'app', gen_ai_provider_name: v }),
  aiRateLimited: (t, _c, v = 'openai') =>
    ratioCases(t, M.genAi, ai(v), { ...ai(v), error_type: '429' }, { job: 'app', gen_ai_provider_name: v }),
  aiHeadroom: (t, _c, v = 'openai') => {
    const l: Labels = {
      ...APP,
      gen_ai_provider_name: v,
      tapwire_gen_ai_model_family: 'gpt-4o-mini',
      tapwire_gen_ai_api_key_fingerprint: '3f9a1c2b7d4e',
      tapwire_gen_ai_rate_limit_type: 'tokens',
    };
    const run = (ratio: number) => [
      gauge(M.genAiLimit, l, 1_000_000, MIN),
      gauge(M.genAiLimitRemaining, l, Math.round(1_000_000 * ratio), MIN),
    ];
    const { instance: _, ...expect } = l;
    return {
      fires: { series: run(t / 2), at: MIN, labels: expect },
      quiet: { series: run(Math.min(1, 2 * t)), at: MIN },
    };
  },
  aiFirstChunk: (t, _c, v = 'openai') =>
    quantileCases(
      t,
      M.genAiTtfc,
      BUCKETS.aiFirstChunk,
      ai(v),
      { job: 'app', gen_ai_provider_name: v },
      M.genAi,
    ),
  tokenBudget: (t) => budgetCases(t, `${M.genAiTokens}_sum`, { ...AI, gen_ai_token_type: 'input' }),
  costBudget: (t) =>
    budgetCases(t, M.genAiCost, {
      ...APP,
      gen_ai_provider_name: 'openai',
      gen_ai_request_model: 'gpt-4o-mini',
      gen_ai_token_type: 'output',
    }),
  eventLoopDelay: (t) => ({
    fires: { series: [gauge(M.eventLoopP99, APP, 2 * t, MIN)], at: MIN, labels: APP },
    quiet: { series: [gauge(M.eventLoopP99, APP, t / 10, MIN)], at: MIN },
  }),
  targetDown: () => {
    const info = { ...APP, version: '0.1.0', runtime: 'node', runtime_version: '24.21.0' };
    return {
      fires: {
        // Up, then down for half an hour; the agent's info series goes with the scrape and the
        // alert still matches it through max_over_time.
        series: [
          { series: selector('up', APP), values: '1x30 0x30' },
          { series: selector(M.agentInfo, info), values: '1x30' },
        ],
        at: MIN,
        labels: APP,
      },
      quiet: { series: [gauge('up', APP, 1, MIN), gauge(M.agentInfo, info, 1, MIN)], at: MIN },
    };
  },
  agentAbsent: (_t, config) => {
    const present = (job: string) =>
      gauge(M.agentInfo, { job, instance: `${job}:9464`, version: '0.1.0' }, 1, MIN);
    const [first, ...others] = config.services;
    return {
      fires: {
        series: [gauge('up', { job: 'other', instance: 'other:80' }, 1, MIN), ...others.map(present)],
        at: MIN,
        labels: (first === undefined ? {} : { job: first }) as Labels,
      },
      quiet: { series: (config.services.length === 0 ? ['app'] : config.services).map(present), at: MIN },
    };
  },
  cardinalityOverflow: () => {
    const l = { ...APP, metric: M.httpServer };
    return {
      fires: {
        series: [counter(M.overflow, l, 1, MIN)],
        at: MIN,
        labels: { job: 'app', metric: M.httpServer },
      },
      quiet: { series: [gauge(M.overflow, l, 5, MIN)], at: MIN },
    };
  },
} satisfies Record<string, CaseBuilder>;
