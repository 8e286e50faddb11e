// What the pipeline passes between steps. Alerts carry their own promtool cases; render.ts drops
// them from the rule file and turns them into the test file.
import type { Severity } from './config.js';

export interface RecordingRule {
  record: string;
  expr: string;
  /** Labels the recorded series gets besides the expression's. */
  labels?: Readonly<Record<string, string>>;
}

/** Input series for one promtool case: `values` in promtool's expanding notation, 1m apart. */
export interface TestSeries {
  series: string;
  values: string;
}

export interface AlertCase {
  series: readonly TestSeries[];
  /** Minutes after the start at which promtool evaluates. */
  at: number;
  /** Labels of the expected alert besides `severity` (fire cases). */
  labels?: Readonly<Record<string, string>>;
  /**
   * Further alerts of the same name the series fire through other rules (a budget over all spend
   * fires with the budget a case spends from), with their own labels and annotations.
   */
  also?: readonly { labels: Readonly<Record<string, string>>; summary: string; description: string }[];
}

export interface AlertRule {
  alert: string;
  expr: string;
  for: string;
  severity: Severity;
  summary: string;
  description: string;
  runbookUrl: string;
  /** One case where it fires, one where it must not (and zero traffic, for ratios). */
  cases: { fires: AlertCase; quiet: AlertCase; idle?: AlertCase };
}

export interface Group<R> {
  name: string;
  rules: readonly R[];
}

export interface RuleSet {
  recording: readonly Group<RecordingRule>[];
  alerting: readonly Group<AlertRule>[];
}
