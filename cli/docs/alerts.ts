// docs/alerts.md from the generated rule set (default configuration) and the component table,
// so the page shows exactly the expressions `tapwire rules` writes. rules/ only produces the data;
// the page is rendered here with the other generated docs. tests/rules.test.ts fails when the
// committed page is stale (TAPWIRE_UPDATE_GOLDEN=1 rewrites it); `tapwire docs` does not write it.
import { BUDGET_ALERTS, BUDGET_RECORDS, budgetAlertRules } from '../../rules/budgets.js';
import { COMPONENT_ALERTS } from '../../rules/components.js';
import { SCOPED_KEYS, validate } from '../../rules/config.js';
import type { AlertRule, RuleSet } from '../../rules/model.js';
import { BURN_TIERS, burnFactor } from '../../rules/windows.js';
import { code, table } from './markdown.js';

const SLO_WHY: Readonly<Record<string, string>> = {
  FastBurn:
    'Pages when the error budget would be gone in days: 2% of it spent in 1h (or 5% in 6h), confirmed by a short window so it resets quickly once the problem stops (SRE workbook, multiwindow multi-burn-rate).',
  SlowBurn:
    'Opens a ticket for a slow leak the fast tier never sees: 10% of the budget spent in 1d or 3d, confirmed by a 2h or 6h window.',
};

function threshold(r: AlertRule): string {
  const c = COMPONENT_ALERTS.find((a) => a.alert === r.alert);
  if (c) return c.thresholdText(c.threshold);
  const tier = BURN_TIERS.find((t) => r.alert.endsWith(t.tier))!;
  const o = validate(undefined).scopes[0]!.objectives;
  const factors = tier.windows
    .map((w) => `${burnFactor(w, o.window)}x over ${w.long} and ${w.short}`)
    .join(', or ');
  return r.alert.includes('Availability')
    ? `5xx ratio above ${factors} the budget of ${o.availability * 100}%`
    : `share slower than ${o.latency.threshold} s above ${factors} the budget of ${o.latency.objective * 100}%`;
}

function why(r: AlertRule): string {
  return (
    COMPONENT_ALERTS.find((a) => a.alert === r.alert)?.why ??
    SLO_WHY[BURN_TIERS.find((t) => r.alert.endsWith(t.tier))!.tier]!
  );
}

export function renderAlertsDoc(set: RuleSet): string {
  const rules = set.alerting.flatMap((g) => g.rules);
  const summary = table(
    ['alert', 'severity', 'for', 'threshold'],
    rules.map((r) => [`[${r.alert}](#${r.alert.toLowerCase()})`, r.severity, r.for, threshold(r)]),
  );
  const sections = rules.map(
    (r) => `## ${r.alert}

${why(r)}

- Severity: ${code(r.severity)}; for: ${code(r.for)}
- Threshold: ${threshold(r)}
- Summary: ${r.summary}
- Runbook: [runbooks.md#${r.alert.toLowerCase()}](runbooks.md#${r.alert.toLowerCase()})

\`\`\`promql
${r.expr}
\`\`\`
`,
  );
  const scopedTable = table(
    ['section', 'key', 'label', 'sets the threshold of', 'unit'],
    Object.entries(SCOPED_KEYS).flatMap(([section, spec]) =>
      Object.entries(spec.keys).map(([key, k]) => [
        code(section),
        code(key),
        code(spec.label),
        `[${k.alert}](#${k.alert.toLowerCase()})`,
        k.unit === 'ratio' ? 'fraction (0.05 = 5%)' : 'seconds',
      ]),
    ),
  );
  const recorded = [...new Set(set.recording.flatMap((g) => g.rules.map((r) => r.record)))];
  const example = validate({ budgets: { 'openai-monthly': { usd: 500, per: 'month', provider: 'openai' } } });
  const budgetRules = budgetAlertRules(example, (a) => `runbooks.md#${a.toLowerCase()}`);
  const budgetTable = table(
    ['alert', 'severity', 'for', 'threshold'],
    BUDGET_ALERTS.map((a) => [
      `[${a.alert}](#${a.alert.toLowerCase()})`,
      a.severity,
      a.for,
      a.thresholdText(a.threshold),
    ]),
  );
  const budgetSections = BUDGET_ALERTS.map(
    (a) => `### ${a.alert}

${a.why}

- Severity: ${code(a.severity)}; for: ${code(a.for)}
- Threshold: ${a.thresholdText(a.threshold)}
- Summary: ${a.summary}
- Runbook: [runbooks.md#${a.alert.toLowerCase()}](runbooks.md#${a.alert.toLowerCase()})

For \`openai-monthly\` above:

\`\`\`promql
${budgetRules.find((r) => r.alert === a.alert)!.expr}
\`\`\`
`,
  );
  return `# Alerts

<!-- Generated from rules/ by \`tapwire rules\` (tests/rules.test.ts: TAPWIRE_UPDATE_GOLDEN=1 rewrites it). Edit rules/, not this file; the test fails when it is stale. -->

\`tapwire rules\` writes Prometheus recording and alerting rules for exactly the metrics tapwire
emits (names from the metric catalogue), plus \`promtool test rules\` cases: for every alert one
where it fires and one where it stays quiet (and, for ratios, one without traffic). The example
output for the default configuration is in \`deploy/rules/\`. Below: the default configuration.

    tapwire rules > tapwire-rules.yaml                       # Prometheus rule file
    tapwire rules --format operator > prometheusrule.yaml    # Kubernetes PrometheusRule
    tapwire rules --tests > tapwire-rules.test.yaml          # promtool test rules
    tapwire rules --slo slo.yaml --out deploy/rules          # all three, from an SLO file

Every ratio alert also requires traffic in its window (\`… > 0\`), so a service without requests
never alerts on 0/0. Every alert carries \`severity\` (\`critical\`, \`warning\`, \`info\`),
\`summary\`, \`description\` and \`runbook_url\` (see [runbooks.md](runbooks.md)). Services are
Prometheus \`job\`s.

## SLO file

All keys are optional; percentages are in percent.

\`\`\`yaml
slo: # defaults for every service
  window: 30d # 7d to 90d; the burn factors scale with it
  availability: 99.9 # % of requests not answered 5xx
  latency: { objective: 99, threshold: 0.5 } # % of requests within threshold seconds (an HTTP bucket bound)
services:
  shop: # a job with its own objectives
    availability: 99.5
    routes:
      /checkout: { availability: 99.95 } # an http_route template
providers: # per gen_ai_provider_name: thresholds of the AI provider alerts (ratios as fractions)
  openai: { error_ratio: 0.2, rate_limited_ratio: 0.1, rate_limit_headroom: 0.2, first_chunk_p95: 10 }
db_systems: # per db_system_name: thresholds of the DB alerts
  postgresql: { error_ratio: 0.01, latency_p99: 0.25 }
budgets: # AI spend in USD (tapwire's price table) per rolling day or 30 days; see Budgets below
  openai-monthly: { usd: 500, per: month, provider: openai }
  acme-daily: { usd: 20, per: day, attributes: { tenant: acme }, forecast_hours: 4 }
alerts: # any alert below, by name
  TapwireHTTPHighErrorRatio: { threshold: 0.02, for: 10m, severity: critical }
  TapwireCardinalityOverflow: { enabled: false }
runbook_base: https://example.com/runbooks.md # runbook_url = runbook_base#<alert in lower case>
\`\`\`

A service with its own objectives gets its own burn-rate rules, and the default scope excludes it
(\`job!~"shop"\`); a route's rules come on top of its service's. \`providers\` and \`db_systems\`
do the same for component alerts: each key sets one alert's threshold for that label value, and
the alert then has one rule per named value (\`{gen_ai_provider_name="openai"}\`) plus one for all
others (\`{gen_ai_provider_name!~"openai"}\`, with the default or \`alerts:\` threshold), under the
same name. Ratios are fractions between 0 and 1, like \`alerts:\` thresholds; seconds must leave a
histogram bucket above them.

${scopedTable}
## Summary

${summary}
${sections.join('\n')}
## Budgets

Each entry of \`budgets:\` is a limit on estimated AI spend (\`tapwire_gen_ai_cost_usd_total\`, from
tapwire's price table) over a rolling day (\`per: day\`, the last 24 hours) or month (\`per: month\`,
the last 30 days; the default), for the cost series it selects: \`provider\`
(\`gen_ai_provider_name\`), \`model\` (\`gen_ai_request_model\`), \`service\` (\`job\`) and
\`attributes\` (labels of \`TAPWIRE_AI_ATTRIBUTES\`, e.g. \`{ tenant: acme }\`); without them, all
AI spend. It sums over every instance and service it selects: a provider bills an account. Each
budget gets three recorded series, labelled \`budget\` and \`period\` (\`${BUDGET_RECORDS.spent}\`,
\`${BUDGET_RECORDS.limit}\`, \`${BUDGET_RECORDS.rate1h}\` in USD per second) and the three alerts
below, with promtool cases. \`forecast_hours\` (default 6 for a day, 72 for a month) sets when the
forecast alert fires; \`alerts: { TapwireAIBudgetNearlySpent: { threshold: 0.9 } }\` moves the
warning from 80%. A counter's first sample is not counted by \`increase()\`: spend made before
Prometheus first scraped a process is not in the budget.

${budgetTable}
${budgetSections.join('\n')}
## Recording rules

${recorded.map((r) => `- ${code(r)}`).join('\n')}
`;
}
