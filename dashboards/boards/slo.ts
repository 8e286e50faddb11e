// SLO: one row per SLO scope of the rule configuration (every service, each service of the SLO file,
// each of its routes): error budget left over the SLO window, and the burn rates the recording rules
// record, as the burn-rate alerts read them. Then the tapwire alerts firing now.

import type { SloScope } from '../../rules/config.js';
import { ALERT_NAMES } from '../../rules/index.js';
import { label, le, metric } from '../../rules/names.js';
import { R } from '../../rules/recording.js';
import { BURN_TIERS, burnFactor, SLO_WINDOWS } from '../../rules/windows.js';
import type { BoardContext } from '../context.js';
import type { Board, Panel, Row } from '../model.js';
import { BY_SERVICE, BY_SERVICE_JOB, legend, ratio, sumBy } from '../promql.js';

const SERVER = metric('httpServerDuration');
const ROUTE = label('httpServerDuration', 'http.route');
const STATUS = label('httpServerDuration', 'http.response.status_code');
const pct = (f: number): string => `${Math.round(f * 1e6) / 1e4}%`;

/** The scope's series of the chosen jobs and services, over the whole SLO window. */
function windowIncrease(scope: SloScope, series: string, extra: readonly string[] = []): string {
  const matchers = ['job=~"$job"', ...scope.matchers, ...extra].join(', ');
  const by = scope.level === 'job' ? ['job'] : ['job', ROUTE];
  return sumBy(by, `increase(${series}{${matchers}}[${scope.objectives.window}]) ${BY_SERVICE}`);
}

function scopeRow(scope: SloScope, ctx: BoardContext): Row {
  const o = scope.objectives;
  const who = scope.level === 'job' ? legend('job') : legend('job', ROUTE);
  const recorded = (name: string) => `${name}{${['job=~"$job"', ...scope.matchers].join(', ')}}`;
  const total = windowIncrease(scope, `${SERVER}_count`);
  const errors = windowIncrease(scope, `${SERVER}_count`, [`${STATUS}=~"5.."`]);
  const fast = windowIncrease(scope, `${SERVER}_bucket`, [`le="${le(o.latency.threshold)}"`]);
  const kinds = [
    {
      kind: 'Availability',
      objective: `${pct(o.availability)} of requests not answered 5xx`,
      budget: Math.round((1 - o.availability) * 1e9) / 1e9,
      bad: ratio(errors, total),
      ratio: R.httpErrors,
    },
    {
      kind: 'Latency',
      objective: `${pct(o.latency.objective)} of requests within ${o.latency.threshold} s`,
      budget: Math.round((1 - o.latency.objective) * 1e9) / 1e9,
      bad: `(1 - ${fast} / ${total})`,
      ratio: R.httpSlow,
    },
  ];
  const factors = BURN_TIERS.map(
    (t) =>
      `${t.tier} ${t.windows.map((w) => `${burnFactor(w, o.window)} (${w.long} and ${w.short})`).join(', ')}`,
  ).join('; ');
  const panels: Panel[] = [];
  for (const k of kinds) {
    const alerts = BURN_TIERS.map((t) => `TapwireHTTP${k.kind}${t.tier}`);
    panels.push({
      title: `${k.kind} error budget left`,
      description: `Objective: ${k.objective} over ${o.window}. The share of the error budget (${pct(k.budget)} of requests) not yet spent over the last ${o.window}; below 0 the objective is missed.`,
      kind: 'stat',
      unit: 'percentunit',
      width: 6,
      queries: [{ expr: `1 - ${k.bad} / ${k.budget}`, legend: who, instant: true }],
      links: ctx.runbooks(alerts),
    });
  }
  for (const k of kinds) {
    const alerts = BURN_TIERS.map((t) => `TapwireHTTP${k.kind}${t.tier}`);
    panels.push({
      title: `${k.kind} burn rate`,
      description: `How fast the ${k.kind.toLowerCase()} budget burns over each window, from the recording rules the burn-rate alerts read: 1 spends exactly the budget over ${o.window}. The alerts fire when a long and its short window both exceed: ${factors}.`,
      kind: 'timeseries',
      unit: 'short',
      width: 12,
      queries: SLO_WINDOWS.map((w) => ({
        expr: `${recorded(k.ratio(scope.level, w))} / ${k.budget} ${BY_SERVICE_JOB}`,
        legend: `${w} ${who}`,
      })),
      links: ctx.runbooks(alerts),
      threshold: 1,
    });
  }
  // Two stats then two series: the stats take half a row, so the series start a row of their own.
  panels.splice(2, 0, {
    title: 'Requests over the SLO window',
    description: `Requests counted for this objective over the last ${o.window}.`,
    kind: 'stat',
    unit: 'short',
    width: 12,
    queries: [{ expr: total, legend: who, instant: true }],
  });
  return {
    title: `SLO: ${scope.title} (${pct(o.availability)} available, ${pct(o.latency.objective)} within ${o.latency.threshold} s, ${o.window})`,
    panels,
  };
}

export function sloBoard(ctx: BoardContext): Board {
  const names = ALERT_NAMES.filter((a) => ctx.alerts.has(a));
  const firing = `ALERTS{alertstate="firing", alertname=~"${names.join('|')}", job=~"$job"}`;
  return {
    name: 'slo',
    uid: 'tapwire-slo',
    title: 'tapwire / SLO',
    description:
      'Error budgets and burn rates of the HTTP objectives in the SLO file (`tapwire rules --slo`), and the tapwire alerts firing.',
    rows: [
      ...ctx.config.scopes.map((scope) => scopeRow(scope, ctx)),
      {
        title: 'Alerts',
        panels: [
          {
            title: 'Firing alerts',
            description:
              'tapwire’s alerts firing now, from Prometheus’ ALERTS series (filtered by job, not by service: some alerts have no target).',
            kind: 'table',
            unit: 'short',
            queries: [
              {
                expr: `sum by (alertname, severity, job) (${firing})`,
                legend: legend('alertname'),
                instant: true,
              },
            ],
            links: [{ title: 'Runbooks', url: ctx.config.runbookBase }],
          },
          {
            title: 'Firing alerts over time',
            description: 'How many of each alert fired, over the time range.',
            kind: 'timeseries',
            unit: 'short',
            stacked: true,
            queries: [{ expr: `sum by (alertname) (${firing})`, legend: legend('alertname') }],
          },
        ],
      },
    ],
  };
}
