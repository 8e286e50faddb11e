// Step 4: alerts on single components — HTTP, DB, AI provider, runtime and tapwire itself. Each
// is data: a default threshold, `for`, severity, the why (docs/alerts.md), the expression, and the
// promtool cases (cases.ts) that prove it fires above the threshold and stays quiet below it and at
// zero traffic. Ratios require traffic in the same window (`… > 0`), so 0/0 never alerts.

import { CASES, type CaseBuilder } from './cases.js';
import type { RulesConfig, Severity } from './config.js';
import { L, M } from './names.js';
import { R } from './recording.js';

export interface ComponentAlert {
  alert: string;
  severity: Severity;
  for: string;
  /** Default threshold; undefined for alerts without one. */
  threshold?: number;
  /** How the threshold reads in docs: `5%`, `1 s (p99)`. */
  thresholdText: (t: number | undefined) => string;
  why: string;
  /** `scope`: a selector (`{db_system_name="postgresql"}`) on the alert's ratio or quantile. */
  expr: (t: number, config: RulesConfig, scope?: string) => string;
  summary: string;
  description: (t: number) => string;
  cases: CaseBuilder;
}

const pct = (f: number): string => `${Math.round(f * 1e6) / 1e4}%`;
const secs = (t: number | undefined): string => `${t} s`;

export const COMPONENT_ALERTS: readonly ComponentAlert[] = [
  {
    alert: 'TapwireHTTPHighErrorRatio',
    severity: 'warning',
    for: '5m',
    threshold: 0.05,
    thresholdText: (t) => `${pct(t!)} of requests answered 5xx over 5m`,
    why: 'A blunt, objective-free signal that a service is failing now; useful before SLOs are agreed and as a cross-check of them.',
    expr: (t) => `${R.httpErrors('job', '5m')} > ${t}\nand ${R.httpRequests('job', '5m')} > 0`,
    summary: '{{ $labels.job }} answers too many requests with 5xx',
    description: (t) =>
      `More than ${pct(t)} of the HTTP requests {{ $labels.job }} served over the last 5 minutes ended in a 5xx response.`,
    cases: CASES.httpErrors,
  },
  {
    alert: 'TapwireHTTPHighLatency',
    severity: 'warning',
    for: '10m',
    threshold: 1,
    thresholdText: (t) => `p99 above ${secs(t)} over 5m`,
    why: 'The slowest 1% of requests are the ones users notice and retry; a p99 above a second usually means a saturated dependency or event loop.',
    expr: (t) => `${R.httpP99} > ${t}\nand ${R.httpRequests('job', '5m')} > 0`,
    summary: '{{ $labels.job }} answers slowly (p99)',
    description: (t) =>
      `The 99th percentile of HTTP request duration of {{ $labels.job }} over the last 5 minutes is above ${t} s.`,
    cases: CASES.httpLatency,
  },
  {
    alert: 'TapwireDBHighErrorRatio',
    severity: 'warning',
    for: '5m',
    threshold: 0.05,
    thresholdText: (t) => `${pct(t!)} of operations failed over 5m`,
    why: 'Database errors (lost connections, deadlocks, constraint storms) surface as 5xx later; this names the database system that fails.',
    expr: (t, _c, scope = '') => `${R.dbErrors}${scope} > ${t}\nand ${R.dbRequests} > 0`,
    summary: '{{ $labels.job }}: {{ $labels.db_system_name }} operations fail',
    description: (t) =>
      `More than ${pct(t)} of the {{ $labels.db_system_name }} operations of {{ $labels.job }} over the last 5 minutes failed.`,
    cases: CASES.dbErrors,
  },
  {
    alert: 'TapwireDBHighLatency',
    severity: 'warning',
    for: '10m',
    threshold: 0.5,
    thresholdText: (t) => `p99 above ${secs(t)} over 5m`,
    why: 'Slow queries hold connections and pile up requests; p99 by database system points at the store, not the handler.',
    expr: (t, _c, scope = '') => `${R.dbP99}${scope} > ${t}\nand ${R.dbRequests} > 0`,
    summary: '{{ $labels.job }}: {{ $labels.db_system_name }} operations are slow (p99)',
    description: (t) =>
      `The 99th percentile of {{ $labels.db_system_name }} operation duration of {{ $labels.job }} over the last 5 minutes is above ${t} s.`,
    cases: CASES.dbLatency,
  },
  {
    alert: 'TapwireAIProviderHighErrorRatio',
    severity: 'warning',
    for: '5m',
    threshold: 0.1,
    thresholdText: (t) => `${pct(t!)} of calls failed over 5m`,
    why: 'AI providers fail more often than other dependencies (overload, timeouts, 5xx); a high error ratio means degraded features or retries that cost money.',
    expr: (t, _c, scope = '') => `${R.aiErrors}${scope} > ${t}\nand ${R.aiRequests} > 0`,
    summary: '{{ $labels.job }}: calls to {{ $labels.gen_ai_provider_name }} fail',
    description: (t) =>
      `More than ${pct(t)} of the calls {{ $labels.job }} made to {{ $labels.gen_ai_provider_name }} over the last 5 minutes failed.`,
    cases: CASES.aiErrors,
  },
  {
    alert: 'TapwireAIProviderRateLimited',
    severity: 'warning',
    for: '5m',
    threshold: 0.05,
    thresholdText: (t) => `${pct(t!)} of calls answered 429 over 5m`,
    why: 'A 429 means the account or model quota is exhausted: retries make it worse, and the fix (quota, backoff, another model) is different from an outage.',
    expr: (t, _c, scope = '') => `${R.aiRateLimited}${scope} > ${t}\nand ${R.aiRequests} > 0`,
    summary: '{{ $labels.job }} is rate-limited by {{ $labels.gen_ai_provider_name }}',
    description: (t) =>
      `More than ${pct(t)} of the calls {{ $labels.job }} made to {{ $labels.gen_ai_provider_name }} over the last 5 minutes were answered 429 Too Many Requests.`,
    cases: CASES.aiRateLimited,
  },
  {
    alert: 'TapwireAIRateLimitHeadroomLow',
    severity: 'warning',
    for: '10m',
    threshold: 0.1,
    thresholdText: (t) => `less than ${pct(t!)} of a rate limit left, for 10m`,
    why: 'The provider says how much of its rate limit is left with every answer; headroom that stays low means 429s are next. It names the key (by fingerprint), the model family and the limit that runs out, before the first call is refused.',
    expr: (t, _c, scope = '') =>
      `min by (job, ${L.provider}, ${L.modelFamily}, ${L.keyFingerprint}, ${L.limitType}) (
  ${M.genAiLimitRemaining}${scope} / ${M.genAiLimit}${scope}
) < ${t}`,
    summary:
      '{{ $labels.job }}: the {{ $labels.gen_ai_provider_name }} {{ $labels.tapwire_gen_ai_rate_limit_type }} limit of {{ $labels.tapwire_gen_ai_model_family }} is nearly used up',
    description: (t) =>
      `Less than ${pct(t)} of the {{ $labels.tapwire_gen_ai_rate_limit_type }} rate limit for {{ $labels.tapwire_gen_ai_model_family }} (key {{ $labels.tapwire_gen_ai_api_key_fingerprint }}) at {{ $labels.gen_ai_provider_name }} has been left for 10 minutes, as the provider's answers to {{ $labels.job }} report it.`,
    cases: CASES.aiHeadroom,
  },
  {
    alert: 'TapwireAIProviderSlowFirstChunk',
    severity: 'warning',
    for: '10m',
    threshold: 5,
    thresholdText: (t) => `p95 time to first chunk above ${secs(t)} over 5m`,
    why: 'For streamed answers the time to the first chunk is what a user waits for; it rises with provider load before errors do.',
    expr: (t, _c, scope = '') => `${R.aiTtfcP95}${scope} > ${t}\nand ${R.aiRequests} > 0`,
    summary: '{{ $labels.job }}: {{ $labels.gen_ai_provider_name }} is slow to start streaming (p95)',
    description: (t) =>
      `The 95th percentile of the time to the first chunk of streamed {{ $labels.gen_ai_provider_name }} responses of {{ $labels.job }} over the last 5 minutes is above ${t} s.`,
    cases: CASES.aiFirstChunk,
  },
  {
    alert: 'TapwireAITokenBudgetBurn',
    severity: 'warning',
    for: '15m',
    threshold: 10_000_000,
    thresholdText: (t) => `tokens at a pace above ${t} per day over both 1h and 6h`,
    why: 'Token use is spend; a loop or a prompt change can multiply it within hours. Both windows must exceed the pace, so a short burst does not alert and a sustained one does.',
    expr: (t) => `${R.tokens('1h')} * 86400 > ${t}\nand ${R.tokens('6h')} * 86400 > ${t}`,
    summary: '{{ $labels.job }} is using AI tokens faster than its daily budget',
    description: (t) =>
      `At the pace of the last hour and of the last 6 hours, {{ $labels.job }} would use more than ${t} tokens in a day.`,
    cases: CASES.tokenBudget,
  },
  {
    alert: 'TapwireAICostBudgetBurn',
    severity: 'warning',
    for: '15m',
    threshold: 100,
    thresholdText: (t) => `estimated cost at a pace above ${t} USD per day over both 1h and 6h`,
    why: 'The same as the token budget, in money, from tapwire’s price table; catches an expensive model swapped in as well as more calls.',
    expr: (t) => `${R.cost('1h')} * 86400 > ${t}\nand ${R.cost('6h')} * 86400 > ${t}`,
    summary: '{{ $labels.job }} is spending on AI faster than its daily budget',
    description: (t) =>
      `At the pace of the last hour and of the last 6 hours, {{ $labels.job }} would spend more than ${t} USD a day on AI calls.`,
    cases: CASES.costBudget,
  },
  {
    alert: 'TapwireEventLoopDelayHigh',
    severity: 'warning',
    for: '10m',
    threshold: 0.25,
    thresholdText: (t) => `p99 event-loop delay above ${secs(t)}, averaged over 5m`,
    why: 'A blocked event loop delays every request of the process at once. The threshold is far above the timer resolution (about 10 ms), so an idle or healthy process never fires it.',
    expr: (t) => `avg_over_time(${M.eventLoopP99}[5m]) > ${t}`,
    summary: '{{ $labels.job }} {{ $labels.instance }}: the event loop is blocked',
    description: (t) =>
      `The 99th percentile event-loop delay of {{ $labels.instance }} has averaged more than ${t} s over the last 5 minutes; CPU-bound work or synchronous I/O is holding the loop.`,
    cases: CASES.eventLoopDelay,
  },
  {
    alert: 'TapwireTargetDown',
    severity: 'critical',
    for: '5m',
    thresholdText: () => 'scrape failing (`up == 0`) on a target that exposed tapwire in the last day',
    why: 'The service (or its metrics endpoint) is down. Restricting to targets that exposed `tapwire_agent_info` keeps the alert to tapwire targets without naming jobs.',
    expr: () => `up == 0\nand on (job, instance) max_over_time(${M.agentInfo}[1d])`,
    summary: '{{ $labels.job }} {{ $labels.instance }} is down',
    description: () =>
      'Prometheus cannot scrape {{ $labels.instance }} of {{ $labels.job }}, which exposed tapwire metrics within the last day.',
    cases: CASES.targetDown,
  },
  {
    alert: 'TapwireAgentAbsent',
    severity: 'warning',
    for: '10m',
    thresholdText: () => 'no `tapwire_agent_info` series (per service named in the SLO file, else at all)',
    why: 'Catches what `TapwireTargetDown` cannot: a target that vanished from service discovery, a preload that was dropped from the start command, or `OTEL_SDK_DISABLED=true` shipped by mistake.',
    expr: (_t, config) =>
      config.services.length === 0
        ? `absent(${M.agentInfo})`
        : config.services.map((s) => `absent(${M.agentInfo}{job=${JSON.stringify(s)}})`).join('\nor '),
    summary: 'No tapwire agent reports{{ if $labels.job }} for {{ $labels.job }}{{ end }}',
    description: () =>
      'Prometheus has no tapwire_agent_info series{{ if $labels.job }} for {{ $labels.job }}{{ end }}: the service is gone, unscraped, or runs without the tapwire preload.',
    cases: CASES.agentAbsent,
  },
  {
    alert: 'TapwireCardinalityOverflow',
    severity: 'info',
    for: '0s',
    thresholdText: () => 'any measurement into an overflow series within 10m',
    why: 'A metric hit its label-set limit, so new label sets are merged into one `otel_metric_overflow="true"` series and lose their detail; usually an unbounded value reached a label.',
    expr: () => `sum by (job, ${L.overflowMetric}) (increase(${M.overflow}[10m])) > 0`,
    summary: '{{ $labels.job }}: {{ $labels.metric }} reached its label-set limit',
    description: () =>
      'Measurements of {{ $labels.metric }} in {{ $labels.job }} are going to the overflow series; raise TAPWIRE_CARDINALITY_LIMIT or find the label with unbounded values.',
    cases: CASES.cardinalityOverflow,
  },
];
