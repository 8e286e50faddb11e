// `tapwire config [--json]`: the configuration the preload would run with, read from this
// environment by the same loadConfig, so a deployment can check it before the app starts.
// Exit 1 when any value is bad (the preload would report it and fall back to the default).
import {
  AI_PROVIDERS,
  type Config,
  type ConfigProblem,
  loadConfig,
  mask,
  VARIABLES,
} from '../config/index.js';
import type { AiEndpoint, GatewayProvider, VariableName } from '../config/variables.js';

type Env = Record<string, string | undefined>;

// Which Config field each variable sets. `satisfies` makes a new variable without a row a type
// error, so `tapwire config` can never silently skip one. OTEL_EXPORTER_OTLP_ENDPOINT, _PROTOCOL and
// _COMPRESSION have no field of their own: they only seed the three per-signal settings.
const FIELDS = {
  OTEL_SDK_DISABLED: 'disabled',
  OTEL_SERVICE_NAME: 'serviceName',
  OTEL_RESOURCE_ATTRIBUTES: 'resourceAttributes',
  TAPWIRE_ENV: 'profile',
  LOG_LEVEL: 'logLevel',
  OTEL_METRICS_EXPORTER: 'metricsExporters',
  OTEL_TRACES_EXPORTER: 'tracesExporters',
  OTEL_LOGS_EXPORTER: 'logsExporters',
  TAPWIRE_LOG_STDOUT: 'logStdout',
  OTEL_EXPORTER_PROMETHEUS_HOST: 'prometheusHost',
  OTEL_EXPORTER_PROMETHEUS_PORT: 'prometheusPort',
  OTEL_EXPORTER_OTLP_ENDPOINT: undefined,
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'otlpTracesEndpoint',
  OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: 'otlpMetricsEndpoint',
  OTEL_EXPORTER_OTLP_LOGS_ENDPOINT: 'otlpLogsEndpoint',
  OTEL_EXPORTER_OTLP_PROTOCOL: undefined,
  OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'otlpTracesProtocol',
  OTEL_EXPORTER_OTLP_METRICS_PROTOCOL: 'otlpMetricsProtocol',
  OTEL_EXPORTER_OTLP_LOGS_PROTOCOL: 'otlpLogsProtocol',
  OTEL_EXPORTER_OTLP_COMPRESSION: undefined,
  OTEL_EXPORTER_OTLP_TRACES_COMPRESSION: 'otlpTracesCompression',
  OTEL_EXPORTER_OTLP_METRICS_COMPRESSION: 'otlpMetricsCompression',
  OTEL_EXPORTER_OTLP_LOGS_COMPRESSION: 'otlpLogsCompression',
  OTEL_EXPORTER_OTLP_HEADERS: 'otlpHeaders',
  OTEL_EXPORTER_OTLP_TRACES_HEADERS: 'otlpTracesHeaders',
  OTEL_EXPORTER_OTLP_METRICS_HEADERS: 'otlpMetricsHeaders',
  OTEL_EXPORTER_OTLP_LOGS_HEADERS: 'otlpLogsHeaders',
  OTEL_EXPORTER_OTLP_TIMEOUT: 'otlpTimeoutMs',
  OTEL_EXPORTER_OTLP_TRACES_TIMEOUT: 'otlpTracesTimeoutMs',
  OTEL_EXPORTER_OTLP_METRICS_TIMEOUT: 'otlpMetricsTimeoutMs',
  OTEL_EXPORTER_OTLP_LOGS_TIMEOUT: 'otlpLogsTimeoutMs',
  OTEL_METRIC_EXPORT_INTERVAL: 'metricExportIntervalMs',
  OTEL_BLRP_SCHEDULE_DELAY: 'logsBatchDelayMs',
  OTEL_BLRP_MAX_QUEUE_SIZE: 'logsQueueSize',
  OTEL_BLRP_MAX_EXPORT_BATCH_SIZE: 'logsBatchSize',
  OTEL_BSP_SCHEDULE_DELAY: 'spanBatchDelayMs',
  OTEL_BSP_EXPORT_TIMEOUT: 'spanExportTimeoutMs',
  OTEL_BSP_MAX_QUEUE_SIZE: 'spanQueueSize',
  OTEL_BSP_MAX_EXPORT_BATCH_SIZE: 'spanBatchSize',
  // The general limits are re-read as set; the span-specific rows show what spans get.
  OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT: undefined,
  OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT: 'spanAttributeValueLengthLimit',
  OTEL_ATTRIBUTE_COUNT_LIMIT: undefined,
  OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT: 'spanAttributeCountLimit',
  OTEL_SPAN_EVENT_COUNT_LIMIT: 'spanEventCountLimit',
  OTEL_SPAN_LINK_COUNT_LIMIT: 'spanLinkCountLimit',
  // The JS SDK's names are re-read as set; the specification's show what spans get.
  OTEL_SPAN_ATTRIBUTE_PER_EVENT_COUNT_LIMIT: undefined,
  OTEL_SPAN_ATTRIBUTE_PER_LINK_COUNT_LIMIT: undefined,
  OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT: 'spanAttributePerEventCountLimit',
  OTEL_LINK_ATTRIBUTE_COUNT_LIMIT: 'spanAttributePerLinkCountLimit',
  OTEL_TRACES_SAMPLER: 'sampler',
  OTEL_TRACES_SAMPLER_ARG: 'samplerArg',
  TAPWIRE_CARDINALITY_LIMIT: 'cardinalityLimit',
  TAPWIRE_RUNTIME_METRICS: 'runtimeMetrics',
  TAPWIRE_DASHBOARD: 'dashboard',
  TAPWIRE_AI_ENDPOINTS: 'aiEndpoints',
  TAPWIRE_DB_SLOW_MS: 'dbSlowMs',
  TAPWIRE_PROXY_PORT: 'proxyPort',
  TAPWIRE_UPSTREAM: 'upstream',
  TAPWIRE_ROUTES: 'routes',
  TAPWIRE_PROXY_TIMEOUT_SECONDS: 'proxyTimeoutSeconds',
  TAPWIRE_DRAIN_SECONDS: 'drainSeconds',
  TAPWIRE_GATEWAY_PORT: 'gatewayPort',
  TAPWIRE_GATEWAY_PROVIDERS: 'gatewayProviders',
  TAPWIRE_GATEWAY_INCLUDE_USAGE: 'gatewayIncludeUsage',
  TAPWIRE_AI_PRICES: 'aiPrices',
  TAPWIRE_AI_ATTRIBUTES: 'aiAttributes',
  TAPWIRE_AI_ATTRIBUTE_VALUES: 'aiAttributeValues',
  OTEL_SEMCONV_STABILITY_OPT_IN: 'semconvOptIn',
  OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT: 'aiCaptureContent',
} as const satisfies Record<VariableName, keyof Config | undefined>;

export interface ConfigRow {
  variable: VariableName;
  /** The effective value; secrets masked. */
  value: unknown;
  /** The variable itself, `default`, a profile, or whatever else decided the value. */
  source: string;
}

export interface ConfigReport {
  ok: boolean;
  environment: string;
  profile: string;
  variables: ConfigRow[];
  problems: ConfigProblem[];
}

export function configReport(env: Env, cwd?: string): ConfigReport {
  const { config, problems } = loadConfig(env, { cwd, isTTY: false });
  const variables = (Object.keys(VARIABLES) as VariableName[]).map((name) => row(name, config, env));
  return {
    ok: problems.length === 0,
    environment: config.environment,
    profile: config.profile,
    variables,
    problems,
  };
}

function row(name: VariableName, config: Config, env: Env): ConfigRow {
  const v = VARIABLES[name];
  const field = FIELDS[name];
  if (field === undefined) {
    // Not kept in Config: re-read it the way loadConfig does.
    const raw = env[name] ?? '';
    const parsed = raw === '' ? undefined : v.parse(raw);
    if (parsed === undefined) return { variable: name, value: v.fallback, source: 'default' };
    if (!parsed.ok) return { variable: name, value: v.fallback, source: `default (${name} invalid)` };
    return { variable: name, value: parsed.value, source: name };
  }
  let source = config.sources[field] ?? 'default';
  // An unset per-signal endpoint, protocol or compression is the general one's, not a default of its own.
  const general = /^OTEL_EXPORTER_OTLP_(?:TRACES|METRICS|LOGS)_(ENDPOINT|PROTOCOL|COMPRESSION)$/.exec(name);
  if (source === 'default' && general !== null) source = `from OTEL_EXPORTER_OTLP_${general[1]}`;
  let value: unknown = config[field];
  if ('secret' in v && v.secret) value = maskValues(value as Record<string, string>);
  else if ('display' in v && typeof value === 'string') value = v.display(value);
  return { variable: name, value, source };
}

function maskValues(record: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(record).map(([k, v]) => [k, mask(v)]));
}

/** One line per value, for people: lists joined by commas, empty ones as `none`. */
export function formatValue(value: unknown): string {
  if (value === undefined) return 'none';
  if (Array.isArray(value)) {
    if (value.length === 0) return 'none';
    return value
      .map((item) =>
        typeof item === 'object' ? formatItem(item as AiEndpoint | GatewayProvider) : String(item),
      )
      .join(',');
  }
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value);
    return entries.length === 0 ? 'none' : entries.map(([k, v]) => `${k}=${String(v)}`).join(',');
  }
  return String(value);
}

function formatItem(e: AiEndpoint | GatewayProvider): string {
  if ('prefix' in e) return `${e.prefix}=${e.shape}@${e.url}`;
  return formatEndpoint(e);
}

function formatEndpoint(e: AiEndpoint): string {
  const shape = AI_PROVIDERS[e.provider] === e.shape ? '' : `${e.shape}@`;
  return `${e.host}${e.port === undefined ? '' : `:${e.port}`}=${shape}${e.provider}`;
}

// Docs-flavoured text (`true` or `false`) reads better without the backticks in a terminal.
const plain = (s: string): string => s.replace(/`/g, '');

export function formatReport(report: ConfigReport): string {
  const rows = report.variables.map((r) => [r.variable, formatValue(r.value), r.source] as const);
  const w0 = Math.max(8, ...rows.map((r) => r[0].length)) + 2;
  const w1 = Math.max(5, ...rows.map((r) => r[1].length)) + 2;
  const line = (a: string, b: string, c: string) => `${a.padEnd(w0)}${b.padEnd(w1)}${c}\n`;
  let out = `environment ${report.environment}, profile ${report.profile}\n\n`;
  out += line('VARIABLE', 'VALUE', 'SOURCE');
  for (const r of rows) out += line(r[0], r[1], r[2]);
  return out;
}

export function formatProblems(problems: readonly ConfigProblem[]): string {
  let out = `tapwire config: ${problems.length} bad value${problems.length === 1 ? '' : 's'} (${problems[0]?.code})\n`;
  for (const p of problems) {
    out += `  ${p.variable}=${JSON.stringify(p.value)}${p.length === undefined ? '' : ` (${p.length} characters)`}\n`;
    if (p.why !== undefined) out += `    problem:  ${plain(p.why)}\n`;
    out += `    accepted: ${plain(p.accepted)}\n`;
    out += `    instead:  ${plain(p.instead)}\n`;
  }
  return out;
}

export function runConfig(args: string[]): number {
  const json = args.includes('--json');
  const unknown = args.filter((a) => a !== '--json');
  if (unknown.length > 0) {
    process.stderr.write(`tapwire config: unknown option ${unknown[0]}\nUsage: tapwire config [--json]\n`);
    return 2;
  }
  const report = configReport(process.env);
  if (json) {
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  } else {
    process.stdout.write(formatReport(report));
    if (!report.ok) process.stderr.write(formatProblems(report.problems));
  }
  return report.ok ? 0 : 1;
}
