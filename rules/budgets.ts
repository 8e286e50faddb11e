// AI spend budgets (`budgets:` in the SLO file): for each budget, recording rules for its spend over
// its period (a rolling day, or 30 days for a month), its limit and its pace over the last hour;
// alerts at 80% and 100% of it, and a forecast ("at this pace the rest is gone within N hours").
// Each budget selects tapwire_gen_ai_cost_usd_total by provider, model, service (`job`) and the
// attribution labels of TAPWIRE_AI_ATTRIBUTES, and sums over everything else (every instance and
// service), since a provider bills an account, not a process.
//
// Periods are rolling windows: PromQL has no calendar month, and `increase()` over a fixed range
// is what Prometheus can evaluate every minute. A day budget reads the last 24 hours; a month
// budget the last 30 days.
import { BUDGET_RANGE, type Budget, type RulesConfig } from './config.js';
import type { AlertRule, RecordingRule } from './model.js';
import { M } from './names.js';
import { type Labels, selector } from './series.js';

export const BUDGET_RECORDS = {
  spent: 'budget:tapwire_gen_ai_cost_usd:spent',
  limit: 'budget:tapwire_gen_ai_cost_usd:limit',
  rate1h: 'budget:tapwire_gen_ai_cost_usd:rate1h',
} as const;

export interface BudgetAlert {
  alert: string;
  severity: AlertRule['severity'];
  for: string;
  /** Default threshold, where the alert takes one. */
  threshold?: number;
  thresholdText: (t: number | undefined) => string;
  why: string;
  expr: (b: Budget, t: number) => string;
  summary: string;
  description: (b: Budget, t: number) => string;
  /** USD spent in the promtool cases: enough for the alert to hold, and too little. */
  cases: (b: Budget, t: number) => { fires: number; quiet: number };
  /** Whether the alert holds for budget `b` after `spent` USD within one hour (the cases' shape). */
  holds: (b: Budget, t: number, spent: number) => boolean;
}

const usd = (n: number): string => `${Math.round(n * 1e6) / 1e6}`;
/** Test amounts: more digits than thresholds, so a case never lands on one by rounding. */
const amount = (n: number): string => `${Math.round(n * 1e9) / 1e9}`;
const period = (b: Budget): string => (b.per === 'day' ? 'a day' : 'a month (30 days)');
const sel = (b: Budget): string => `{budget=${JSON.stringify(b.name)}}`;

export function budgetRecordingRules(budgets: readonly Budget[]): RecordingRule[] {
  return budgets.flatMap((b) => {
    const series = `${M.genAiCost}${b.matchers.length === 0 ? '' : `{${b.matchers.join(', ')}}`}`;
    const labels = { budget: b.name, period: b.per };
    return [
      // `or vector(0)`: a budget nothing has been spent from yet reads 0, not nothing.
      {
        record: BUDGET_RECORDS.spent,
        expr: `sum(increase(${series}[${BUDGET_RANGE[b.per]}])) or vector(0)`,
        labels,
      },
      { record: BUDGET_RECORDS.limit, expr: `vector(${usd(b.usd)})`, labels },
      { record: BUDGET_RECORDS.rate1h, expr: `sum(rate(${series}[1h])) or vector(0)`, labels },
    ];
  });
}

/** An hour of test series, evaluated at its end. */
const MIN = 60;

/** The labels of a cost series of budget `b` in the promtool cases. */
function seriesLabels(b: Budget): Labels {
  return {
    job: 'app',
    instance: 'app:9464',
    gen_ai_provider_name: 'openai',
    gen_ai_request_model: 'gpt-4o-mini',
    gen_ai_token_type: 'output',
    tapwire_price: 'output',
    ...b.testLabels,
  };
}

/** Whether budget `c` selects a series with `labels`. */
const selects = (c: Budget, labels: Labels): boolean =>
  Object.entries(c.testLabels).every(([k, v]) => labels[k] === v);

export const BUDGET_ALERTS: readonly BudgetAlert[] = [
  {
    alert: 'TapwireAIBudgetNearlySpent',
    severity: 'warning',
    for: '5m',
    threshold: 0.8,
    thresholdText: (t) => `${Math.round(t! * 100)}% of a budget spent within its period`,
    why: 'Time to act while some budget is left: cap a feature, switch a model, or raise the budget on purpose rather than by surprise.',
    expr: (b, t) => `${BUDGET_RECORDS.spent}${sel(b)} >= ${usd(b.usd * t)}`,
    summary: 'AI budget {{ $labels.budget }} is nearly spent',
    description: (b, t) =>
      `More than ${Math.round(t * 100)}% of the AI budget {{ $labels.budget }} (${usd(b.usd)} USD ${period(b)}) has been spent, from tapwire's price table.`,
    cases: (b, t) => ({ fires: b.usd * (t < 1 ? (t + 1) / 2 : t * 1.1), quiet: (b.usd * t) / 2 }),
    holds: (b, t, spent) => spent >= b.usd * t,
  },
  {
    alert: 'TapwireAIBudgetSpent',
    severity: 'critical',
    for: '1m',
    thresholdText: () => '100% of a budget spent within its period',
    why: 'The money planned for the period is gone; every further call is spend nobody agreed to.',
    expr: (b) => `${BUDGET_RECORDS.spent}${sel(b)} >= ${usd(b.usd)}`,
    summary: 'AI budget {{ $labels.budget }} is spent',
    description: (b) =>
      `The AI budget {{ $labels.budget }} (${usd(b.usd)} USD ${period(b)}) has been spent, from tapwire's price table.`,
    cases: (b) => ({ fires: b.usd * 1.5, quiet: b.usd / 2 }),
    holds: (b, _t, spent) => spent >= b.usd,
  },
  {
    alert: 'TapwireAIBudgetRunningOut',
    severity: 'warning',
    for: '15m',
    thresholdText: () => 'at the last hour’s pace, the rest of a budget lasts less than its `forecast_hours`',
    why: 'The percentage alerts come late for a spike; the pace tells early that a loop, a retry storm or a new feature will spend the rest of the budget within hours.',
    expr: (b) =>
      `(${usd(b.usd)} - ${BUDGET_RECORDS.spent}${sel(b)})\n  / (${BUDGET_RECORDS.rate1h}${sel(b)} * 3600) < ${b.forecastHours}\nand ${BUDGET_RECORDS.spent}${sel(b)} < ${usd(b.usd)}`,
    summary: 'AI budget {{ $labels.budget }} runs out within hours at this pace',
    description: (b) =>
      `At the pace of the last hour, the rest of the AI budget {{ $labels.budget }} (${usd(b.usd)} USD ${period(b)}) is spent within ${b.forecastHours} hours.`,
    // The cases spend S within their hour: (L - S) / S hours are left at that pace.
    cases: (b) => {
      const h = b.forecastHours;
      return { fires: (b.usd * (1 / (1 + h) + 1)) / 2, quiet: b.usd / (2 * (1 + h)) };
    },
    holds: (b, _t, spent) => spent > 0 && spent < b.usd && (b.usd - spent) / spent < b.forecastHours,
  },
];

export function budgetAlertRules(config: RulesConfig, runbook: (alert: string) => string): AlertRule[] {
  return config.budgets.flatMap((b) =>
    BUDGET_ALERTS.map((a): AlertRule => {
      const t = config.alerts[a.alert]?.threshold ?? a.threshold ?? 0;
      const labels = seriesLabels(b);
      const spent = a.cases(b, t);
      // The cases' series spend their amount in the first minute and keep it: every window sees it all.
      const series = (usd: number) => [
        { series: selector(M.genAiCost, labels), values: `0 ${amount(usd)}x${MIN - 1}` },
      ];
      // Other budgets that select the same series, and whose alert holds at that spend, fire too.
      const also = (usd: number) =>
        config.budgets
          .filter((c) => c !== b && selects(c, labels) && a.holds(c, t, usd))
          .map((c) => ({
            labels: { budget: c.name, period: c.per },
            summary: a.summary,
            description: a.description(c, t),
          }));
      return {
        alert: a.alert,
        expr: a.expr(b, t),
        for: a.for,
        severity: a.severity,
        summary: a.summary,
        description: a.description(b, t),
        runbookUrl: runbook(a.alert),
        cases: {
          fires: {
            series: series(spent.fires),
            at: MIN,
            labels: { budget: b.name, period: b.per },
            also: also(spent.fires),
          },
          quiet: { series: series(spent.quiet), at: MIN, also: also(spent.quiet) },
        },
      };
    }),
  );
}
