// `tapwire rules` as a pipeline of small pure steps, in the manner of sloth:
//   validate (config.ts) → recording rules (recording.ts) → SLO burn-rate alerts (slo.ts)
//   → component alerts (components.ts) → render (render.ts).
// Nothing here reads files or the environment; the CLI does that.
import { BUDGET_ALERTS, budgetAlertRules } from './budgets.js';
import { COMPONENT_ALERTS } from './components.js';
import { type RulesConfig, RulesConfigError, regexAlt, validate } from './config.js';
import type { AlertRule, Group, RuleSet } from './model.js';
import { L } from './names.js';
import { recordingRules } from './recording.js';
import { SLO_KINDS, sloAlertName, sloAlertRules } from './slo.js';
import { BURN_TIERS } from './windows.js';

export { RULES_ERROR_CODE, type RulesConfig, RulesConfigError, validate } from './config.js';
export type { AlertRule, RuleSet } from './model.js';
export { renderOperator, renderPrometheus, renderTests } from './render.js';

export const ALERT_NAMES: readonly string[] = [
  ...SLO_KINDS.flatMap((k) => BURN_TIERS.map((t) => sloAlertName(k, t))),
  ...COMPONENT_ALERTS.map((a) => a.alert),
];
/** Alerts generated once per budget of the SLO file (none without `budgets:`). */
export const BUDGET_ALERT_NAMES: readonly string[] = BUDGET_ALERTS.map((a) => a.alert);

/** `docs/runbooks.md#tapwirehttphigherrorratio`: the anchor GitHub gives a `## Name` heading. */
export const runbookUrl =
  (config: RulesConfig) =>
  (alert: string): string =>
    `${config.runbookBase}#${alert.toLowerCase()}`;

/** Applies the file's per-alert overrides; drops disabled alerts. */
function override(rule: AlertRule, config: RulesConfig): AlertRule | undefined {
  const o = config.alerts[rule.alert];
  if (o === undefined) return rule;
  if (o.enabled === false) return undefined;
  return { ...rule, for: o.for ?? rule.for, severity: o.severity ?? rule.severity };
}

export function alertingRules(config: RulesConfig): Group<AlertRule>[] {
  const known = [...ALERT_NAMES, ...BUDGET_ALERT_NAMES];
  for (const name of Object.keys(config.alerts)) {
    if (!known.includes(name))
      throw new RulesConfigError(
        `alerts: unknown alert ${JSON.stringify(name)} (known: ${known.join(', ')})`,
      );
    if (
      config.alerts[name]!.threshold !== undefined &&
      ![...COMPONENT_ALERTS, ...BUDGET_ALERTS].some((a) => a.alert === name && a.threshold !== undefined)
    )
      throw new RulesConfigError(
        `alerts.${name}.threshold: this alert has no threshold (SLO alerts take their objectives from slo/services)`,
      );
  }
  const runbook = runbookUrl(config);
  const slo = config.scopes.flatMap((scope) => sloAlertRules(scope, runbook));
  const groups: { name: string; prefix: string }[] = [
    { name: 'tapwire.http.alerts', prefix: 'TapwireHTTP' },
    { name: 'tapwire.db.alerts', prefix: 'TapwireDB' },
    { name: 'tapwire.gen_ai.alerts', prefix: 'TapwireAI' },
    { name: 'tapwire.agent.alerts', prefix: 'Tapwire' },
  ];
  const components = COMPONENT_ALERTS.flatMap((a): AlertRule[] => {
    const t = config.alerts[a.alert]?.threshold ?? a.threshold ?? 0;
    const rule = (threshold: number, scope?: string, value?: string): AlertRule => ({
      alert: a.alert,
      expr: a.expr(threshold, config, scope),
      for: a.for,
      severity: a.severity,
      summary: a.summary,
      description: a.description(threshold),
      runbookUrl: runbook(a.alert),
      cases: a.cases(threshold, config, value),
    });
    const scoped = config.scoped[a.alert] ?? [];
    if (scoped.length === 0) return [rule(t)];
    // As for SLO scopes: the global rule excludes the values with their own threshold, whose rules
    // follow it under the same alert name. Its promtool cases use a value nobody named.
    const label = scoped[0]!.label;
    const names = scoped.map((s) => s.value);
    let other = label === L.provider ? 'openai' : 'postgresql';
    while (names.includes(other)) other += '_';
    return [
      rule(t, `{${label}!~${JSON.stringify(regexAlt(names))}}`, other),
      ...scoped.map((s) => rule(s.threshold, `{${label}=${JSON.stringify(s.value)}}`, s.value)),
    ];
  });
  const taken = new Set<AlertRule>();
  const out: Group<AlertRule>[] = [{ name: 'tapwire.slo.alerts', rules: slo }];
  for (const g of groups) {
    const rules = components.filter((r) => !taken.has(r) && r.alert.startsWith(g.prefix));
    for (const r of rules) taken.add(r);
    out.push({ name: g.name, rules });
  }
  out.push({ name: 'tapwire.gen_ai.budget.alerts', rules: budgetAlertRules(config, runbook) });
  return out
    .map((g) => ({ name: g.name, rules: g.rules.flatMap((r) => override(r, config) ?? []) }))
    .filter((g) => g.rules.length > 0);
}

/** The whole pipeline: a parsed SLO file (or undefined) to the rule set. */
export function generate(raw: unknown): RuleSet {
  const config = validate(raw);
  return { recording: recordingRules(config), alerting: alertingRules(config) };
}
