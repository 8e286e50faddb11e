// Step 3: multi-window multi-burn-rate SLO alerts for HTTP availability and latency, per scope and
// tier (windows.ts). Each window pair also requires traffic in its short window, so a quiet
// service never pages on a 0/0.
import type { SloScope } from './config.js';
import type { AlertRule } from './model.js';
import { BUCKETS, M } from './names.js';
import { R } from './recording.js';
import { above, histogram, type Labels } from './series.js';
import { BURN_TIERS, type BurnTier, burnFactor, seconds } from './windows.js';

export type SloKind = 'Availability' | 'Latency';
export const SLO_KINDS: readonly SloKind[] = ['Availability', 'Latency'];

const pct = (f: number): string => `${Math.round(f * 1e6) / 1e4}%`;
const sel = (m: readonly string[]): string => (m.length === 0 ? '' : `{${m.join(', ')}}`);

export const sloAlertName = (kind: SloKind, tier: BurnTier): string => `TapwireHTTP${kind}${tier.tier}`;

/** Per minute, in promtool cases: enough requests that small budgets stay whole numbers. */
const PER_MINUTE = 100000;

function cases(
  kind: SloKind,
  scope: SloScope,
  tier: BurnTier,
  budget: number,
  minutes: number,
): AlertRule['cases'] {
  const factors = tier.windows.map((w) => burnFactor(w, scope.objectives.window));
  const lowest = Math.min(...factors);
  const threshold = scope.objectives.latency.threshold;
  const labels: Labels = {
    ...scope.testLabels,
    instance: 'app:9464',
    http_request_method: 'GET',
    url_scheme: 'http',
  };
  // `perMinute` requests a minute with `extra` labels, each taking `seconds`.
  const requests = (extra: Labels, seconds: number, perMinute: number) =>
    histogram(M.httpServer, { ...labels, ...extra }, BUCKETS.http, seconds, perMinute, minutes);
  const fast = BUCKETS.http[0];
  // A route scope's service scope sees the same requests; plenty of good traffic on another route
  // keeps the service's own alert quiet, so each case shows only the scope under test.
  const other =
    scope.level === 'job_http_route'
      ? requests(
          { http_route: '/tapwire-test-other', http_response_status_code: '200' },
          fast,
          PER_MINUTE * 100000,
        )
      : [];
  const traffic = (badRatio: number) => {
    const bad = Math.round(PER_MINUTE * badRatio);
    const failing =
      kind === 'Availability'
        ? requests({ http_response_status_code: '500', error_type: '500' }, fast, bad)
        : requests({ http_response_status_code: '201' }, above(BUCKETS.http, threshold), bad);
    return [...other, ...requests({ http_response_status_code: '200' }, fast, PER_MINUTE - bad), ...failing];
  };
  return {
    // Twice the lowest factor of the tier fires its long-window pair; half of it fires nothing.
    fires: { series: traffic(Math.min(1, 2 * lowest * budget)), at: minutes, labels: scope.testLabels },
    quiet: { series: traffic(0.5 * lowest * budget), at: minutes },
    idle: { series: traffic(0).map((s) => ({ series: s.series, values: '0x' + minutes })), at: minutes },
  };
}

export function sloAlerts(
  scope: SloScope,
  kind: SloKind,
  tier: BurnTier,
  runbook: (a: string) => string,
): AlertRule {
  const o = scope.objectives;
  const objective = kind === 'Availability' ? o.availability : o.latency.objective;
  const budget = Math.round((1 - objective) * 1e9) / 1e9;
  const ratio = kind === 'Availability' ? R.httpErrors : R.httpSlow;
  const m = sel(scope.matchers);
  const pairs = tier.windows.map((w) => {
    const f = burnFactor(w, o.window);
    const t = `(${f} * ${budget})`;
    return `(\n  ${ratio(scope.level, w.long)}${m} > ${t}\n  and ${ratio(scope.level, w.short)}${m} > ${t}\n  and ${R.httpRequests(scope.level, w.short)}${m} > 0\n)`;
  });
  const alert = sloAlertName(kind, tier);
  const what = kind === 'Availability' ? 'answering 5xx' : `slower than ${o.latency.threshold}s`;
  const windows = tier.windows
    .map((w) => `${w.long} and ${w.short} above ${burnFactor(w, o.window)}x`)
    .join(', or ');
  const who = scope.level === 'job' ? '{{ $labels.job }}' : '{{ $labels.job }} {{ $labels.http_route }}';
  const objectiveText =
    kind === 'Availability'
      ? `${pct(objective)} availability`
      : `${pct(objective)} of requests within ${o.latency.threshold}s`;
  const longest = Math.max(...tier.windows.map((w) => burnFactor(w, o.window)));
  const daysLeft = Math.round((seconds(o.window) / 86400 / longest) * 10) / 10;
  return {
    alert,
    expr: pairs.join('\nor\n'),
    for: tier.for,
    severity: tier.severity,
    summary: `${who} is burning its HTTP ${kind.toLowerCase()} error budget ${tier.tier === 'FastBurn' ? 'fast' : 'steadily'}`,
    description:
      `Requests ${what} are using up the error budget of the ${objectiveText} objective over ${o.window} ` +
      `(${windows} the budget rate of ${pct(budget)}). At ${longest}x the whole budget lasts about ${daysLeft} days.`,
    runbookUrl: runbook(alert),
    cases: cases(kind, scope, tier, budget, 120),
  };
}

export function sloAlertRules(scope: SloScope, runbook: (a: string) => string): AlertRule[] {
  return SLO_KINDS.flatMap((kind) => BURN_TIERS.map((tier) => sloAlerts(scope, kind, tier, runbook)));
}
