// The PromQL every panel is made of: the dashboard variables' selectors, rates over Grafana's
// `$__rate_interval`, quantiles and ratios. One place, so every panel filters the same way.
//
// `service_name` is a resource attribute: tapwire's endpoint puts resource attributes on one
// `target_info` series per target (and per worker the sidecar merges), as Prometheus' own OTLP
// ingestion does, never on each series. A panel keeps the series of the chosen services by
// joining on the target: `… and on (job, instance) target_info{service_name=~"$service_name"}`.
// `and` keeps the left side's labels and tolerates several target_info series per target.

/** Matchers of the `job` and `instance` variables (multi-value: Grafana writes a regex). */
const TARGET = ['job=~"$job"', 'instance=~"$instance"'] as const;

/** Keeps the series of targets whose service is chosen in `service_name`. */
export const BY_SERVICE = 'and on (job, instance) target_info{service_name=~"$service_name"}';
/** The same for series aggregated per job (recording rules). */
export const BY_SERVICE_JOB = 'and on (job) target_info{service_name=~"$service_name"}';
/**
 * Series a scrape target serves as its own: their `instance` is the target's. Workers that push to
 * the sidecar keep an `instance` of their own (`<service>/<pid>`, scraped with honor_labels), so
 * `unless` this selects exactly the pushed workers.
 */
export const OWN = 'and on (job, instance) up';
export const PUSHED = 'unless on (job, instance) up';

/** `metric{job=~"$job", instance=~"$instance", …}`. */
export const sel = (metric: string, matchers: readonly string[] = []): string =>
  `${metric}{${[...TARGET, ...matchers].join(', ')}}`;

/** A gauge or up-down counter of the chosen targets and services. */
export const gauge = (metric: string, matchers: readonly string[] = []): string =>
  `${sel(metric, matchers)} ${BY_SERVICE}`;

/** Per-second rate of a counter (or a histogram's `_count`, `_sum`, `_bucket`). */
export const rate = (metric: string, matchers: readonly string[] = [], range = '$__rate_interval'): string =>
  `rate(${sel(metric, matchers)}[${range}]) ${BY_SERVICE}`;

/** How much a counter grew over `range`. */
export const increase = (metric: string, matchers: readonly string[], range: string): string =>
  `increase(${sel(metric, matchers)}[${range}]) ${BY_SERVICE}`;

export const sumBy = (labels: readonly string[], inner: string): string =>
  labels.length === 0 ? `sum(${inner})` : `sum by (${labels.join(', ')}) (${inner})`;

/** The `q` quantile of a histogram over `$__rate_interval`, per `by`. */
export const quantile = (
  q: number,
  histogram: string,
  by: readonly string[],
  matchers: readonly string[] = [],
  suffix = '',
): string =>
  `histogram_quantile(${q}, sum by (${['le', ...by].join(', ')}) (${rate(`${histogram}_bucket`, matchers)}${suffix === '' ? '' : ` ${suffix}`}))`;

/**
 * part / whole, where part is a subset of whole with the same grouping. No part (no errors at all)
 * reads 0, not nothing, as the recording rules do; no traffic reads nothing rather than 0/0.
 */
export const ratio = (part: string, whole: string): string => `(${part} or 0 * ${whole}) / ${whole}`;

/** A legend of label values: `{{http_route}} {{http_response_status_code}}`. */
export const legend = (...labels: string[]): string => labels.map((l) => `{{${l}}}`).join(' ');

/**
 * The query variables every board has (after `datasource`), each narrowing the next. Their values
 * come from tapwire's own series, so only targets that run tapwire are offered.
 */
export const VARIABLES: readonly { name: string; label: string; query: string }[] = [
  { name: 'job', label: 'job', query: 'label_values(tapwire_agent_info, job)' },
  { name: 'instance', label: 'instance', query: 'label_values(tapwire_agent_info{job=~"$job"}, instance)' },
  {
    name: 'service_name',
    label: 'service',
    query: 'label_values(target_info{job=~"$job", instance=~"$instance"}, service_name)',
  },
];
