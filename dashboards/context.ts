// What a board builder reads of the rule configuration (the SLO file `tapwire rules` reads): the
// alerts the rule set has (a panel links only to their runbooks), the thresholds they fire at (drawn
// on the panels), the SLO scopes and the runbook base.
import { COMPONENT_ALERTS } from '../rules/components.js';
import { alertingRules, type RulesConfig, runbookUrl } from '../rules/index.js';
import type { Link } from './model.js';

export interface BoardContext {
  config: RulesConfig;
  /** Names of the alerts the rule set has (disabled ones left out). */
  alerts: ReadonlySet<string>;
  /** The threshold a component alert fires at, as configured; undefined if it has none or is off. */
  threshold(alert: string): number | undefined;
  /** Links to the runbooks of those of `alerts` the rule set has. */
  runbooks(alerts: readonly string[]): Link[];
}

export function boardContext(config: RulesConfig): BoardContext {
  const alerts = new Set(alertingRules(config).flatMap((g) => g.rules.map((r) => r.alert)));
  return {
    config,
    alerts,
    threshold(alert) {
      if (!alerts.has(alert)) return undefined;
      const a = COMPONENT_ALERTS.find((c) => c.alert === alert);
      return config.alerts[alert]?.threshold ?? a?.threshold;
    },
    runbooks(names) {
      const url = runbookUrl(config);
      return names.filter((a) => alerts.has(a)).map((a) => ({ title: `Runbook: ${a}`, url: url(a) }));
    },
  };
}
