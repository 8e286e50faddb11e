// AI providers: calls, errors and 429s, duration and time to first chunk, tokens by type, and the
// estimated cost per provider and model per hour and per day (the budget alerts' daily pace read
// from the recording rules).

import { label, metric } from '../../rules/names.js';
import { R } from '../../rules/recording.js';
import type { BoardContext } from '../context.js';
import type { Board } from '../model.js';
import { BY_SERVICE_JOB, increase, legend, quantile, rate, ratio, sumBy } from '../promql.js';

const CALLS = metric('genAiDuration');
const FIRST_CHUNK = metric('genAiTimeToFirstChunk');
const TOKENS = metric('genAiTokens');
const COST = metric('genAiCost');
const PROVIDER = label('genAiDuration', 'gen_ai.provider.name');
const MODEL = label('genAiDuration', 'gen_ai.request.model');
const ERROR = label('genAiDuration', 'error.type');
const TOKEN_TYPE = label('genAiTokens', 'gen_ai.token.type');
const COST_MODEL = label('genAiCost', 'gen_ai.request.model');

const calls = (by: string[], matchers: string[] = []) => sumBy(by, rate(`${CALLS}_count`, matchers));
const cost = (range: string) => sumBy([PROVIDER, COST_MODEL], increase(COST, [], range));

export function aiBoard(ctx: BoardContext): Board {
  return {
    name: 'ai',
    uid: 'tapwire-ai',
    title: 'tapwire / AI providers',
    description:
      'Calls the services make to AI providers (OpenAI, Anthropic, Gemini and OpenAI-compatible endpoints): outcome, speed, tokens and estimated cost.',
    rows: [
      {
        title: 'Calls',
        panels: [
          {
            title: 'Calls per second by provider, model and error',
            description:
              'Per provider and request model; failed calls carry `error_type` (the status code or error class).',
            kind: 'timeseries',
            unit: 'reqps',
            stacked: true,
            queries: [{ expr: calls([PROVIDER, MODEL, ERROR]), legend: legend(PROVIDER, MODEL, ERROR) }],
          },
          {
            title: '429 ratio by provider',
            description:
              'Share of calls answered 429 Too Many Requests: a quota or rate limit, not an outage. The line is the rate-limit alert’s threshold.',
            kind: 'timeseries',
            unit: 'percentunit',
            queries: [
              {
                expr: ratio(calls([PROVIDER], [`${ERROR}="429"`]), calls([PROVIDER])),
                legend: legend(PROVIDER),
              },
            ],
            links: ctx.runbooks(['TapwireAIProviderRateLimited']),
            threshold: ctx.threshold('TapwireAIProviderRateLimited'),
          },
          {
            title: 'Error ratio by provider',
            description: 'Share of calls that failed in any way (429s included).',
            kind: 'timeseries',
            unit: 'percentunit',
            queries: [
              {
                expr: ratio(calls([PROVIDER], [`${ERROR}!=""`]), calls([PROVIDER])),
                legend: legend(PROVIDER),
              },
            ],
            links: ctx.runbooks(['TapwireAIProviderHighErrorRatio']),
            threshold: ctx.threshold('TapwireAIProviderHighErrorRatio'),
          },
          {
            title: 'Call duration by model (p50, p95)',
            description: 'Whole call, to the end of the response (the last chunk of a stream).',
            kind: 'timeseries',
            unit: 's',
            queries: [0.5, 0.95].map((q) => ({
              expr: quantile(q, CALLS, [PROVIDER, MODEL]),
              legend: `p${q * 100} ${legend(PROVIDER, MODEL)}`,
            })),
          },
          {
            title: 'Time to first chunk (p50, p95)',
            description:
              'Streamed calls only: how long a user waits for the first words. The line is the slow-first-chunk alert’s p95 threshold.',
            kind: 'timeseries',
            unit: 's',
            queries: [0.5, 0.95].map((q) => ({
              expr: quantile(q, FIRST_CHUNK, [PROVIDER, MODEL]),
              legend: `p${q * 100} ${legend(PROVIDER, MODEL)}`,
            })),
            links: ctx.runbooks(['TapwireAIProviderSlowFirstChunk']),
            threshold: ctx.threshold('TapwireAIProviderSlowFirstChunk'),
          },
        ],
      },
      {
        title: 'Tokens',
        panels: [
          {
            title: 'Tokens per second by type',
            description:
              'Tokens as the providers report them, per `gen_ai_token_type` (input, output). Cached input tokens are inside input and reasoning tokens inside output, as the providers count them; the cost panels price each kind at its own rate (`tapwire_price`), and `OTEL_SEMCONV_STABILITY_OPT_IN=gen_ai_latest_experimental` adds per-kind counters.',
            kind: 'timeseries',
            unit: 'short',
            stacked: true,
            queries: [{ expr: sumBy([TOKEN_TYPE], rate(`${TOKENS}_sum`)), legend: legend(TOKEN_TYPE) }],
          },
          {
            title: 'Tokens per second by model and type',
            description: 'The same per provider and request model.',
            kind: 'timeseries',
            unit: 'short',
            queries: [
              {
                expr: sumBy([PROVIDER, MODEL, TOKEN_TYPE], rate(`${TOKENS}_sum`)),
                legend: legend(PROVIDER, MODEL, TOKEN_TYPE),
              },
            ],
          },
          {
            title: 'Tokens per call (p95) by model and type',
            description: 'Large prompts and long answers, from the token-usage histogram.',
            kind: 'timeseries',
            unit: 'short',
            queries: [
              {
                expr: quantile(0.95, TOKENS, [PROVIDER, MODEL, TOKEN_TYPE]),
                legend: legend(PROVIDER, MODEL, TOKEN_TYPE),
              },
            ],
          },
          {
            title: 'Token pace per day',
            description:
              'Tokens a day at the pace of the last hour, per job, from the recording rule the token-budget alert reads; the line is its daily budget.',
            kind: 'timeseries',
            unit: 'short',
            queries: [
              { expr: `${R.tokens('1h')}{job=~"$job"} * 86400 ${BY_SERVICE_JOB}`, legend: legend('job') },
            ],
            links: ctx.runbooks(['TapwireAITokenBudgetBurn']),
            threshold: ctx.threshold('TapwireAITokenBudgetBurn'),
          },
        ],
      },
      {
        title: 'Cost (estimated from tapwire’s price table)',
        panels: [
          {
            title: 'Cost per hour by provider and model',
            description: 'USD an hour at the current pace.',
            kind: 'timeseries',
            unit: 'currencyUSD',
            stacked: true,
            queries: [
              {
                expr: `${sumBy([PROVIDER, COST_MODEL], rate(COST))} * 3600`,
                legend: legend(PROVIDER, COST_MODEL),
              },
            ],
          },
          {
            title: 'Cost per day by provider and model',
            description: 'USD a day at the current pace.',
            kind: 'timeseries',
            unit: 'currencyUSD',
            stacked: true,
            queries: [
              {
                expr: `${sumBy([PROVIDER, COST_MODEL], rate(COST))} * 86400`,
                legend: legend(PROVIDER, COST_MODEL),
              },
            ],
          },
          {
            title: 'Spent in the last hour',
            description: 'USD spent over the last hour, per provider and model.',
            kind: 'table',
            unit: 'currencyUSD',
            width: 6,
            queries: [{ expr: cost('1h'), legend: legend(PROVIDER, COST_MODEL), instant: true }],
          },
          {
            title: 'Spent in the last day',
            description: 'USD spent over the last 24 hours, per provider and model.',
            kind: 'table',
            unit: 'currencyUSD',
            width: 6,
            queries: [{ expr: cost('1d'), legend: legend(PROVIDER, COST_MODEL), instant: true }],
          },
          {
            title: 'Cost pace per day',
            description:
              'USD a day at the pace of the last hour, per job, from the recording rule the cost-budget alert reads; the line is its daily budget.',
            kind: 'timeseries',
            unit: 'currencyUSD',
            queries: [
              { expr: `${R.cost('1h')}{job=~"$job"} * 86400 ${BY_SERVICE_JOB}`, legend: legend('job') },
            ],
            links: ctx.runbooks(['TapwireAICostBudgetBurn']),
            threshold: ctx.threshold('TapwireAICostBudgetBurn'),
          },
        ],
      },
    ],
  };
}
