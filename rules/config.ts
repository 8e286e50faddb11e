// Step 1 of the pipeline: the SLO file (already parsed from YAML) -> a validated, complete config.
// Everything has a default, so `tapwire rules` without a file produces the shipped example.
//
//   slo:                        # defaults for every service (Prometheus `job`)
//     window: 30d
//     availability: 99.9        # % of requests that are not 5xx
//     latency: { objective: 99, threshold: 0.5 }   # % of requests faster than threshold seconds
//   services:
//     shop:                     # a job with its own objectives
//       availability: 99.5
//       routes:
//         /checkout: { availability: 99.95 }       # an `http_route` template
//   providers:                  # per gen_ai_provider_name: thresholds of the AI provider alerts
//     openai: { error_ratio: 0.2, rate_limited_ratio: 0.1, rate_limit_headroom: 0.2, first_chunk_p95: 10 }
//   db_systems:                 # per db_system_name: thresholds of the DB alerts
//     postgresql: { error_ratio: 0.01, latency_p99: 0.25 }
//   budgets:                    # AI spend limits: USD per day or month, by provider, model, service, attribution
//     openai-monthly: { usd: 500, per: month, provider: openai }
//     acme-daily: { usd: 20, per: day, attributes: { tenant: acme } }
//   alerts:                     # any alert, by name: threshold, for, severity, enabled
//     TapwireHTTPHighErrorRatio: { threshold: 0.02, for: 10m }
//   runbook_base: https://example.com/runbooks.md
import { BUCKETS, L } from './names.js';
import { BURN_TIERS, burnFactor, seconds } from './windows.js';

export const RULES_ERROR_CODE = 'TAPWIRE_ERR_RULES';

export class RulesConfigError extends Error {
  readonly code = RULES_ERROR_CODE;
}

export type Severity = 'critical' | 'warning' | 'info';
export const SEVERITIES: readonly Severity[] = ['critical', 'warning', 'info'];

export interface Objectives {
  window: string;
  /** Fraction, e.g. 0.999. */
  availability: number;
  latency: { objective: number; threshold: number };
}

/** One set of SLO alerts: a selection of HTTP series and its objectives. */
export interface SloScope {
  /** Readable name for summaries: `all services`, `shop`, `shop /checkout`. */
  title: string;
  /** Recording-rule level: `job` or `job_http_route`. */
  level: 'job' | 'job_http_route';
  /** Label matchers selecting the scope's series, PromQL form (`job="shop"`). */
  matchers: readonly string[];
  /** Labels a series of this scope carries in promtool tests. */
  testLabels: Readonly<Record<string, string>>;
  objectives: Objectives;
}

export interface AlertOverride {
  threshold?: number;
  for?: string;
  severity?: Severity;
  enabled?: boolean;
}

/** A component alert's threshold for one provider or db system (`providers`, `db_systems`). */
export interface ScopedThreshold {
  /** The label the value selects: `gen_ai_provider_name` or `db_system_name`. */
  label: string;
  value: string;
  threshold: number;
}

/**
 * The per-provider and per-db-system keys of the SLO file: each sets the threshold of one component
 * alert for the series carrying that label value; the alert's global rule then excludes them, as
 * the default SLO scope excludes services with their own objectives.
 */
export const SCOPED_KEYS: Readonly<
  Record<
    'providers' | 'db_systems',
    {
      label: string;
      keys: Readonly<
        Record<string, { alert: string; unit: 'ratio' | 'seconds'; buckets?: readonly number[] }>
      >;
    }
  >
> = {
  providers: {
    label: L.provider,
    keys: {
      error_ratio: { alert: 'TapwireAIProviderHighErrorRatio', unit: 'ratio' },
      rate_limited_ratio: { alert: 'TapwireAIProviderRateLimited', unit: 'ratio' },
      rate_limit_headroom: { alert: 'TapwireAIRateLimitHeadroomLow', unit: 'ratio' },
      first_chunk_p95: {
        alert: 'TapwireAIProviderSlowFirstChunk',
        unit: 'seconds',
        buckets: BUCKETS.aiFirstChunk,
      },
    },
  },
  db_systems: {
    label: L.dbSystem,
    keys: {
      error_ratio: { alert: 'TapwireDBHighErrorRatio', unit: 'ratio' },
      latency_p99: { alert: 'TapwireDBHighLatency', unit: 'seconds', buckets: BUCKETS.db },
    },
  },
};

/** One AI spend budget (`budgets:`): USD over a rolling day or 30 days, for the series it selects. */
export interface Budget {
  /** The `budget` label of its recorded series and alerts. */
  name: string;
  usd: number;
  per: 'day' | 'month';
  /** Label matchers on tapwire_gen_ai_cost_usd_total, PromQL form (`gen_ai_provider_name="openai"`). */
  matchers: readonly string[];
  /** The labels a cost series of this budget carries in promtool tests. */
  testLabels: Readonly<Record<string, string>>;
  /** The forecast alert fires when, at the last hour's pace, the rest lasts fewer hours than this. */
  forecastHours: number;
}

/** The range a budget's spend is counted over: a rolling day, or 30 days for a month. */
export const BUDGET_RANGE: Readonly<Record<Budget['per'], string>> = { day: '1d', month: '30d' };
/** Default forecast horizons: a quarter of a day, three days of a month. */
const FORECAST_HOURS: Readonly<Record<Budget['per'], number>> = { day: 6, month: 72 };

export interface RulesConfig {
  scopes: readonly SloScope[];
  /** Services named in the file (absence alerts per service). */
  services: readonly string[];
  /** Per-provider / per-db-system thresholds, by alert name, in file order. */
  scoped: Readonly<Record<string, readonly ScopedThreshold[]>>;
  alerts: Readonly<Record<string, AlertOverride>>;
  budgets: readonly Budget[];
  runbookBase: string;
}

export const DEFAULT_OBJECTIVES: Objectives = {
  window: '30d',
  availability: 0.999,
  latency: { objective: 0.99, threshold: 0.5 },
};
export const DEFAULT_RUNBOOK_BASE = 'docs/runbooks.md';
/** The job a default-scope series carries in promtool tests (any job not named in the file). */
const TEST_JOB = 'app';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

function fail(where: string, message: string): never {
  throw new RulesConfigError(`${where}: ${message}`);
}

function only(where: string, value: unknown, keys: readonly string[]): Obj {
  if (value === undefined || value === null) return {};
  if (!isObj(value)) fail(where, 'expected a mapping');
  for (const k of Object.keys(value)) {
    if (!keys.includes(k)) fail(where, `unknown key ${JSON.stringify(k)} (accepted: ${keys.join(', ')})`);
  }
  return value;
}

/** A percentage in the file (99.9) -> a fraction (0.999). */
function percent(where: string, v: unknown, fallback: number): number {
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || !(v > 0 && v < 100))
    fail(where, `expected a percentage between 0 and 100, got ${JSON.stringify(v)}`);
  return Math.round(v * 1e6) / 1e8;
}

function duration(where: string, v: unknown, fallback: string): string {
  if (v === undefined) return fallback;
  if (typeof v !== 'string' || Number.isNaN(seconds(v)))
    fail(where, `expected a duration such as 30s, 5m, 1h or 30d, got ${JSON.stringify(v)}`);
  return v;
}

function objectives(where: string, raw: unknown, base: Objectives): Objectives {
  const o = only(where, raw, ['window', 'availability', 'latency', 'routes']);
  const lat = only(`${where}.latency`, o.latency, ['objective', 'threshold']);
  const threshold = lat.threshold ?? base.latency.threshold;
  if (typeof threshold !== 'number' || !(BUCKETS.http as readonly number[]).includes(threshold))
    fail(
      `${where}.latency.threshold`,
      `expected one of the HTTP bucket boundaries (${BUCKETS.http.join(', ')}) in seconds, got ${JSON.stringify(threshold)}`,
    );
  const out: Objectives = {
    window: duration(`${where}.window`, o.window, base.window),
    availability: percent(`${where}.availability`, o.availability, base.availability),
    latency: {
      objective: percent(`${where}.latency.objective`, lat.objective, base.latency.objective),
      threshold,
    },
  };
  const days = seconds(out.window) / 86400;
  if (!(days >= 7 && days <= 90)) fail(`${where}.window`, `expected between 7d and 90d, got ${out.window}`);
  // Each tier must be able to fire: some factor × budget below 1 (a 100% error ratio).
  for (const [name, objective] of [
    ['availability', out.availability],
    ['latency.objective', out.latency.objective],
  ] as const) {
    for (const tier of BURN_TIERS) {
      const lowest = Math.min(...tier.windows.map((w) => burnFactor(w, out.window)));
      if (lowest * (1 - objective) >= 1)
        fail(
          `${where}.${name}`,
          `${objective * 100}% leaves too large an error budget for burn-rate alerts (${tier.tier} could never fire)`,
        );
    }
  }
  return out;
}

const quote = (s: string): string => JSON.stringify(s);
/** A regex alternation matching exactly `names` (for `!~` matchers). */
export const regexAlt = (names: readonly string[]): string =>
  names.map((n) => n.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|');

/** Validates a parsed SLO file (undefined: no file) into the complete config. */
export function validate(raw: unknown): RulesConfig {
  const top = only('SLO file', raw, [
    'slo',
    'services',
    'providers',
    'db_systems',
    'budgets',
    'alerts',
    'runbook_base',
  ]);
  const defaults = objectives('slo', top.slo, DEFAULT_OBJECTIVES);
  const services = only('services', top.services, Object.keys(isObj(top.services) ? top.services : {}));
  const names = Object.keys(services);
  const scopes: SloScope[] = [];
  let testJob = TEST_JOB;
  while (names.includes(testJob)) testJob += '_';
  scopes.push({
    title: names.length === 0 ? 'every service' : 'services without their own objectives',
    level: 'job',
    matchers: names.length === 0 ? [] : [`job!~${quote(regexAlt(names))}`],
    testLabels: { job: testJob },
    objectives: defaults,
  });
  for (const name of names) {
    const where = `services.${name}`;
    const own = objectives(where, services[name], defaults);
    scopes.push({
      title: name,
      level: 'job',
      matchers: [`job=${quote(name)}`],
      testLabels: { job: name },
      objectives: own,
    });
    const routes = only(
      `${where}.routes`,
      (services[name] as Obj | null)?.routes,
      Object.keys(
        isObj((services[name] as Obj | null)?.routes) ? ((services[name] as Obj).routes as Obj) : {},
      ),
    );
    for (const route of Object.keys(routes)) {
      if (!route.startsWith('/'))
        fail(`${where}.routes`, `expected a route template starting with /, got ${quote(route)}`);
      scopes.push({
        title: `${name} ${route}`,
        level: 'job_http_route',
        matchers: [`job=${quote(name)}`, `http_route=${quote(route)}`],
        testLabels: { job: name, http_route: route },
        objectives: objectives(`${where}.routes.${route}`, routes[route], own),
      });
    }
  }
  const scoped: Record<string, ScopedThreshold[]> = {};
  for (const [section, spec] of Object.entries(SCOPED_KEYS)) {
    const entries = only(section, top[section], Object.keys(isObj(top[section]) ? top[section] : {}));
    for (const [value, rawEntry] of Object.entries(entries)) {
      const where = `${section}.${value}`;
      if (!/^[A-Za-z0-9_.-]+$/.test(value))
        fail(section, `expected a ${spec.label} value (letters, digits, _ . -), got ${quote(value)}`);
      const entry = only(where, rawEntry, Object.keys(spec.keys));
      for (const [key, v] of Object.entries(entry)) {
        const k = spec.keys[key]!;
        if (k.unit === 'ratio') {
          if (typeof v !== 'number' || !(v > 0 && v < 1))
            fail(
              `${where}.${key}`,
              `expected a ratio between 0 and 1 (0.05 is 5%), got ${JSON.stringify(v)}`,
            );
        } else {
          // The quantile must be able to land above the threshold: a bucket bound above it remains.
          const highest = k.buckets![k.buckets!.length - 2]!;
          if (typeof v !== 'number' || !(v > 0 && v <= highest))
            fail(
              `${where}.${key}`,
              `expected seconds above 0 and at most ${highest}, got ${JSON.stringify(v)}`,
            );
        }
        const list = scoped[k.alert] ?? [];
        list.push({ label: spec.label, value, threshold: v as number });
        scoped[k.alert] = list;
      }
    }
  }
  const alerts: Record<string, AlertOverride> = {};
  const rawAlerts = only('alerts', top.alerts, Object.keys(isObj(top.alerts) ? top.alerts : {}));
  for (const [name, value] of Object.entries(rawAlerts)) {
    const where = `alerts.${name}`;
    const a = only(where, value, ['threshold', 'for', 'severity', 'enabled']);
    const o: AlertOverride = {};
    if (a.threshold !== undefined) {
      if (typeof a.threshold !== 'number' || !(a.threshold >= 0))
        fail(`${where}.threshold`, 'expected a number >= 0');
      o.threshold = a.threshold;
    }
    if (a.for !== undefined) o.for = duration(`${where}.for`, a.for, '0s');
    if (a.severity !== undefined) {
      if (!SEVERITIES.includes(a.severity as Severity))
        fail(`${where}.severity`, `expected one of ${SEVERITIES.join(', ')}`);
      o.severity = a.severity as Severity;
    }
    if (a.enabled !== undefined) {
      if (typeof a.enabled !== 'boolean') fail(`${where}.enabled`, 'expected true or false');
      o.enabled = a.enabled;
    }
    alerts[name] = o;
  }
  const runbookBase = top.runbook_base ?? DEFAULT_RUNBOOK_BASE;
  if (typeof runbookBase !== 'string' || runbookBase === '') fail('runbook_base', 'expected a URL');
  return { scopes, services: names, scoped, alerts, budgets: budgets(top.budgets), runbookBase };
}

/** Attribution label names a budget may select (TAPWIRE_AI_ATTRIBUTES' rule for them). */
const ATTRIBUTE_NAME = /^[a-z][a-z0-9_]{0,31}$/;
const RESERVED_ATTRIBUTE =
  /^(gen_ai_|server_|error_|tapwire_|otel_|service_|telemetry_|__)|^(job|instance|le|quantile)$/;
const LABEL_VALUE = /^[A-Za-z0-9_.:/@+-]{1,256}$/;

function budgets(raw: unknown): Budget[] {
  const entries = only('budgets', raw, Object.keys(isObj(raw) ? raw : {}));
  const out: Budget[] = [];
  for (const [name, value] of Object.entries(entries)) {
    const where = `budgets.${name}`;
    if (!/^[A-Za-z0-9_.-]+$/.test(name))
      fail('budgets', `expected a budget name (letters, digits, _ . -), got ${quote(name)}`);
    const b = only(where, value, [
      'usd',
      'per',
      'provider',
      'model',
      'service',
      'attributes',
      'forecast_hours',
    ]);
    if (typeof b.usd !== 'number' || !(b.usd > 0) || !Number.isFinite(b.usd))
      fail(`${where}.usd`, `expected an amount of US dollars above 0, got ${JSON.stringify(b.usd)}`);
    const per = b.per ?? 'month';
    if (per !== 'day' && per !== 'month')
      fail(`${where}.per`, `expected day or month, got ${JSON.stringify(per)}`);
    const matchers: string[] = [];
    const testLabels: Record<string, string> = {};
    const select = (key: string, label: string) => {
      const v = b[key];
      if (v === undefined) return;
      if (typeof v !== 'string' || !LABEL_VALUE.test(v))
        fail(`${where}.${key}`, `expected a ${label} value, got ${JSON.stringify(v)}`);
      matchers.push(`${label}=${quote(v)}`);
      testLabels[label] = v;
    };
    select('service', 'job');
    select('provider', L.provider);
    select('model', 'gen_ai_request_model');
    const attributes = only(
      `${where}.attributes`,
      b.attributes,
      Object.keys(isObj(b.attributes) ? b.attributes : {}),
    );
    for (const label of Object.keys(attributes)) {
      if (!ATTRIBUTE_NAME.test(label) || RESERVED_ATTRIBUTE.test(label))
        fail(`${where}.attributes`, `expected a TAPWIRE_AI_ATTRIBUTES name, got ${quote(label)}`);
      const v = attributes[label];
      if (typeof v !== 'string' || !LABEL_VALUE.test(v))
        fail(`${where}.attributes.${label}`, `expected a label value, got ${JSON.stringify(v)}`);
      matchers.push(`${label}=${quote(v)}`);
      testLabels[label] = v;
    }
    const forecastHours = b.forecast_hours ?? FORECAST_HOURS[per];
    if (typeof forecastHours !== 'number' || !(forecastHours > 0 && forecastHours <= 24 * 31))
      fail(
        `${where}.forecast_hours`,
        `expected hours above 0 and at most 744, got ${JSON.stringify(forecastHours)}`,
      );
    out.push({ name, usd: b.usd, per, matchers, testLabels, forecastHours });
  }
  return out;
}
