// Reads the environment once into a plain, frozen Config. Never throws: a bad value becomes a
// ConfigProblem (variable, value, what is accepted, what tapwire does instead) and the setting
// keeps its default (or what the variable's row says happens instead), so the preload can report
// it once and keep the app running; `tapwire config` turns problems into a non-zero exit code and
// the sidecar refuses to start.
import { readText } from './files.js';
import { PROFILE_DEFAULTS } from './profiles.js';
import {
  type AiAttribute,
  type AiEndpoint,
  type GatewayProvider,
  LOG_LEVELS,
  type LogLevel,
  type OtlpCompression,
  type OtlpProtocol,
  PROFILES,
  type Profile,
  type RuntimePart,
  type SamplerName,
  SERVICE_NAME_MAX,
  VARIABLES,
  type Variable,
  type VariableName,
} from './variables.js';

export const CONFIG_ERROR_CODE = 'TAPWIRE_ERR_CONFIG';

export interface ConfigProblem {
  code: typeof CONFIG_ERROR_CODE;
  variable: string;
  /** The value as shown: secrets masked, long values shortened. */
  value: string;
  /** Characters in the value as set, when `value` is shortened. */
  length?: number;
  /** What is wrong, when more can be said than `accepted`. */
  why?: string;
  accepted: string;
  /** What the preload does instead, as a clause: "using the default (9464)". */
  instead: string;
  /** `VARIABLE="value" is not valid (why): expected …; instead`, the preload's line. */
  message: string;
}

/** Values longer than this are shortened in messages (a 10,000-character value is no message). */
const SHOWN_MAX = 64;

/** The problem's line with another ending, for a process that reacts differently (the sidecar). */
export function problemMessage(
  p: Pick<ConfigProblem, 'variable' | 'value' | 'length' | 'why' | 'accepted' | 'instead'>,
  instead = p.instead,
): string {
  const length = p.length === undefined ? '' : ` (${p.length} characters)`;
  const why = p.why === undefined ? '' : ` (${p.why})`;
  return `${p.variable}=${JSON.stringify(p.value)}${length} is not valid${why}: expected ${p.accepted}; ${instead}`;
}

export interface Config {
  disabled: boolean;
  serviceName: string;
  resourceAttributes: Record<string, string>;
  environment: string;
  profile: Profile;
  logLevel: LogLevel;
  /**
   * The preload's own lines on the app's stderr: LOG_LEVEL when it is set, else warn — a line
   * below warn (metrics listening, following a sibling) is no business of the app's stderr unless
   * someone asked for it. The sidecar, a process of its own, uses logLevel.
   */
  agentLogLevel: LogLevel;
  /**
   * Pretty output only for development on a TTY; JSON everywhere else. Read when the app's logger
   * is made: whether stdout is a terminal is asked then, not at start-up.
   */
  readonly logPretty: boolean;
  metricsExporters: ('prometheus' | 'otlp')[];
  tracesExporters: ('otlp' | 'console')[];
  logsExporters: ('otlp' | 'console')[];
  /** TAPWIRE_LOG_STDOUT: whether the app's logger writes its JSON lines on stdout. */
  logStdout: 'on' | 'off';
  /** OTEL_BLRP_*: how log records are batched for OTLP. */
  logsBatchDelayMs: number;
  logsQueueSize: number;
  logsBatchSize: number;
  prometheusHost: string;
  prometheusPort: number;
  otlpTracesEndpoint: string;
  otlpMetricsEndpoint: string;
  otlpLogsEndpoint: string;
  otlpTracesProtocol: OtlpProtocol;
  otlpMetricsProtocol: OtlpProtocol;
  otlpLogsProtocol: OtlpProtocol;
  otlpTracesCompression: OtlpCompression;
  otlpMetricsCompression: OtlpCompression;
  otlpLogsCompression: OtlpCompression;
  /** OTEL_EXPORTER_OTLP_HEADERS; each signal sends these with its own on top (otlpTracesHeaders, ...). */
  otlpHeaders: Record<string, string>;
  otlpTracesHeaders: Record<string, string>;
  otlpMetricsHeaders: Record<string, string>;
  otlpLogsHeaders: Record<string, string>;
  otlpTimeoutMs: number;
  otlpTracesTimeoutMs: number;
  otlpMetricsTimeoutMs: number;
  otlpLogsTimeoutMs: number;
  metricExportIntervalMs: number;
  sampler: SamplerName;
  samplerArg: number;
  /** OTEL_BSP_*: how spans are batched for OTLP. */
  spanBatchDelayMs: number;
  spanExportTimeoutMs: number;
  spanQueueSize: number;
  spanBatchSize: number;
  /** Span limits (the span-specific variable where set, else the general one); undefined: no limit. */
  spanAttributeValueLengthLimit: number | undefined;
  spanAttributeCountLimit: number;
  spanEventCountLimit: number;
  spanLinkCountLimit: number;
  spanAttributePerEventCountLimit: number;
  spanAttributePerLinkCountLimit: number;
  cardinalityLimit: number;
  /** The runtime metrics' parts turned on (TAPWIRE_RUNTIME_METRICS); empty: none. */
  runtimeMetrics: RuntimePart[];
  /** The live page at `/` of the metrics port: TAPWIRE_DASHBOARD, else the profile's default. */
  dashboard: boolean;
  aiEndpoints: AiEndpoint[];
  /** TAPWIRE_AI_PRICES: price file overriding core/ai/prices.json. */
  aiPrices: string | undefined;
  /** TAPWIRE_AI_ATTRIBUTES: attribution labels of the AI token and cost series. */
  aiAttributes: AiAttribute[];
  /** TAPWIRE_AI_ATTRIBUTE_VALUES: distinct values kept per attribution label. */
  aiAttributeValues: number;
  aiCaptureContent: boolean;
  /** OTEL_SEMCONV_STABILITY_OPT_IN: `gen_ai_latest_experimental` adds the newer GenAI usage counters. */
  semconvOptIn: string[];
  dbSlowMs: number;
  /** `tapwire sidecar` settings. */
  proxyPort: number;
  upstream: string;
  routes: string[];
  proxyTimeoutSeconds: number;
  drainSeconds: number;
  gatewayPort: number;
  gatewayProviders: GatewayProvider[];
  /** TAPWIRE_GATEWAY_INCLUDE_USAGE: ask for the usage of streams that do not. */
  gatewayIncludeUsage: boolean;
  /** Where each value came from, for `tapwire config`. */
  sources: Partial<Record<keyof Config, string>>;
}

export interface LoadedConfig {
  config: Config;
  problems: ConfigProblem[];
}

export interface LoadOptions {
  /** Directory whose package.json names the service when nothing else does. */
  cwd?: string;
  /** Whether stdout is a terminal (pretty logs in development). */
  isTTY?: boolean;
}

type Env = Record<string, string | undefined>;

export function loadConfig(env: Env = process.env, options: LoadOptions = {}): LoadedConfig {
  const problems: ConfigProblem[] = [];
  const sources: Config['sources'] = {};
  const invalid = new Set<VariableName>();

  function report(v: Variable<unknown>, raw: string, why: string | undefined, instead: string): void {
    let shown = v.display ? v.display(raw) : v.secret ? mask(raw) : raw;
    const long = shown.length > SHOWN_MAX;
    if (long) shown = `${shown.slice(0, SHOWN_MAX)}\u2026`;
    const problem: Omit<ConfigProblem, 'message'> = {
      code: CONFIG_ERROR_CODE,
      variable: v.name,
      value: shown,
      ...(long ? { length: raw.length } : {}),
      ...(why === undefined ? {} : { why }),
      accepted: v.accepted,
      instead,
    };
    problems.push({ ...problem, message: problemMessage(problem) });
  }

  /**
   * A span limit: the span-specific variable where set, else the general one. Both are read, so a
   * bad value of either is reported.
   */
  function spanOr<T extends number | undefined>(
    specific: VariableName,
    general: VariableName,
    key: keyof Config,
  ): T {
    const fallback = read<T>(general, key);
    const source = sources[key];
    const value = read<T | undefined>(specific, key);
    if (value !== undefined) return value;
    sources[key] = source;
    return fallback;
  }

  function read<T>(name: VariableName, key: keyof Config): T {
    const v = VARIABLES[name] as unknown as Variable<T>;
    const raw = env[v.name];
    if (raw === undefined || raw === '') {
      sources[key] = 'default';
      return v.fallback;
    }
    const parsed = v.parse(raw);
    if (parsed.ok) {
      sources[key] = v.name;
      if (parsed.adjusted !== undefined) {
        report(v as Variable<unknown>, raw, parsed.why, parsed.adjusted);
        sources[key] = `${v.name} (adjusted)`;
      }
      return parsed.value;
    }
    invalid.add(name);
    report(
      v as Variable<unknown>,
      raw,
      parsed.why,
      v.instead ?? `using the default (${v.fallbackDoc ?? JSON.stringify(v.fallback)})`,
    );
    sources[key] = `default (${v.name} invalid)`;
    return v.fallback;
  }

  const disabled = read<boolean>('OTEL_SDK_DISABLED', 'disabled');
  const resourceAttributes = read<Record<string, string>>('OTEL_RESOURCE_ATTRIBUTES', 'resourceAttributes');

  let serviceName = read<string>('OTEL_SERVICE_NAME', 'serviceName');
  if (serviceName === '') {
    let fromResource = resourceAttributes['service.name'];
    if (fromResource !== undefined && fromResource.length > SERVICE_NAME_MAX) {
      // The same bound as OTEL_SERVICE_NAME, reported under the variable it came from.
      const cut = VARIABLES.OTEL_SERVICE_NAME.parse(fromResource);
      if (cut.ok && cut.adjusted !== undefined) {
        report(
          VARIABLES.OTEL_RESOURCE_ATTRIBUTES as Variable<unknown>,
          env.OTEL_RESOURCE_ATTRIBUTES ?? '',
          `service.name has ${cut.why}`,
          `service.name is ${cut.adjusted.replace('using ', '')}`,
        );
        fromResource = cut.value;
      }
    }
    const fromPackage = fromResource ? undefined : packageName(options.cwd ?? process.cwd());
    serviceName = fromResource || fromPackage?.slice(0, SERVICE_NAME_MAX) || 'unknown_service';
    sources.serviceName = fromResource
      ? 'OTEL_RESOURCE_ATTRIBUTES'
      : fromPackage
        ? 'package.json'
        : 'default';
  }

  // TAPWIRE_ENV, else NODE_ENV, else development. NODE_ENV belongs to the app and is often set to
  // values that are not profiles ("local", "qa"); those fall back to development without an error.
  let profile = read<Profile>('TAPWIRE_ENV', 'profile');
  let environment: string = profile;
  if (sources.profile === 'default') {
    const nodeEnv = env.NODE_ENV?.trim();
    if (nodeEnv) {
      environment = nodeEnv;
      if ((PROFILES as readonly string[]).includes(nodeEnv.toLowerCase())) {
        profile = nodeEnv.toLowerCase() as Profile;
        sources.profile = 'NODE_ENV';
      } else {
        sources.profile = `default (NODE_ENV=${nodeEnv} is not a profile)`;
      }
    }
  } else {
    environment = profile;
  }
  sources.environment = sources.profile;

  const defaults = PROFILE_DEFAULTS[profile];
  let logLevel = read<LogLevel>('LOG_LEVEL', 'logLevel');
  let agentLogLevel = logLevel;
  if (!sources.logLevel?.startsWith('LOG_LEVEL')) {
    logLevel = defaults.logLevel;
    agentLogLevel = LOG_LEVELS.indexOf(logLevel) > LOG_LEVELS.indexOf('warn') ? logLevel : 'warn';
    sources.logLevel = `profile ${profile}`;
  }

  const dashboard = (set: boolean | undefined): boolean => {
    if (set !== undefined) return set;
    if (sources.dashboard === 'default') sources.dashboard = `profile ${profile}`;
    return defaults.dashboard;
  };

  const otlpEndpoint = read<string>('OTEL_EXPORTER_OTLP_ENDPOINT', 'otlpTracesEndpoint');
  const base = otlpEndpoint.endsWith('/') ? otlpEndpoint : `${otlpEndpoint}/`;
  const signal = (name: VariableName, key: keyof Config, path: string): string => {
    const specific = read<string>(name, key);
    return specific === '' ? base + path : specific;
  };
  // The per-signal protocol and compression fall back to the general variable, not to its default.
  const fromGeneral = <T extends string>(general: VariableName, key: keyof Config) => {
    const value = read<T>(general, key);
    const from = sources[key] ?? 'default';
    return (name: VariableName, own: keyof Config): T => {
      const specific = read<T | ''>(name, own);
      if (specific !== '') return specific;
      if (sources[own] === 'default') sources[own] = from;
      return value;
    };
  };
  const protocol = fromGeneral<OtlpProtocol>('OTEL_EXPORTER_OTLP_PROTOCOL', 'otlpTracesProtocol');
  const compression = fromGeneral<OtlpCompression>('OTEL_EXPORTER_OTLP_COMPRESSION', 'otlpTracesCompression');

  // Headers that cannot be sent (or that the user got wrong) turn OTLP export off rather than
  // send without them: they usually carry the credentials or the tenant (VARIABLES says so).
  const otlpHeaders = read<Record<string, string>>('OTEL_EXPORTER_OTLP_HEADERS', 'otlpHeaders');
  const headersOf = (name: VariableName, key: keyof Config) => {
    const own = read<Record<string, string>>(name, key);
    if (sources[key] === 'default') sources[key] = 'from OTEL_EXPORTER_OTLP_HEADERS';
    return { ...otlpHeaders, ...own };
  };
  const otlpTracesHeaders = headersOf('OTEL_EXPORTER_OTLP_TRACES_HEADERS', 'otlpTracesHeaders');
  const otlpMetricsHeaders = headersOf('OTEL_EXPORTER_OTLP_METRICS_HEADERS', 'otlpMetricsHeaders');
  const otlpLogsHeaders = headersOf('OTEL_EXPORTER_OTLP_LOGS_HEADERS', 'otlpLogsHeaders');
  const withoutOtlp = <T extends string>(name: VariableName, key: keyof Config, own: VariableName): T[] => {
    const exporters = read<T[]>(name, key);
    const bad = ['OTEL_EXPORTER_OTLP_HEADERS', own].find((h) => invalid.has(h as VariableName));
    if (bad === undefined || !exporters.includes('otlp' as T)) return exporters;
    sources[key] = `${sources[key]} without otlp (${bad} invalid)`;
    return exporters.filter((e) => e !== 'otlp');
  };
  const otlpTimeoutMs = read<number>('OTEL_EXPORTER_OTLP_TIMEOUT', 'otlpTimeoutMs');
  const timeoutOf = (name: VariableName, key: keyof Config) => {
    const own = read<number>(name, key);
    if (own !== 0) return own;
    if (sources[key] === 'default') sources[key] = 'from OTEL_EXPORTER_OTLP_TIMEOUT';
    return otlpTimeoutMs;
  };

  let pretty: boolean | undefined;
  const config: Config = {
    disabled,
    serviceName,
    resourceAttributes,
    environment,
    profile,
    logLevel,
    agentLogLevel,
    // A getter: asking whether stdout is a terminal loads node:tty (measured 2.6 ms of a Node
    // preload's start in development), and only the app's logger needs the answer.
    get logPretty() {
      pretty ??= defaults.prettyOnTTY && (options.isTTY ?? stdoutIsTTY());
      return pretty;
    },
    metricsExporters: withoutOtlp(
      'OTEL_METRICS_EXPORTER',
      'metricsExporters',
      'OTEL_EXPORTER_OTLP_METRICS_HEADERS',
    ),
    tracesExporters: withoutOtlp(
      'OTEL_TRACES_EXPORTER',
      'tracesExporters',
      'OTEL_EXPORTER_OTLP_TRACES_HEADERS',
    ),
    logsExporters: withoutOtlp('OTEL_LOGS_EXPORTER', 'logsExporters', 'OTEL_EXPORTER_OTLP_LOGS_HEADERS'),
    logStdout: read('TAPWIRE_LOG_STDOUT', 'logStdout'),
    logsBatchDelayMs: read('OTEL_BLRP_SCHEDULE_DELAY', 'logsBatchDelayMs'),
    logsQueueSize: read('OTEL_BLRP_MAX_QUEUE_SIZE', 'logsQueueSize'),
    logsBatchSize: read('OTEL_BLRP_MAX_EXPORT_BATCH_SIZE', 'logsBatchSize'),
    prometheusHost: read('OTEL_EXPORTER_PROMETHEUS_HOST', 'prometheusHost'),
    prometheusPort: read('OTEL_EXPORTER_PROMETHEUS_PORT', 'prometheusPort'),
    otlpTracesEndpoint: signal('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', 'otlpTracesEndpoint', 'v1/traces'),
    otlpMetricsEndpoint: signal('OTEL_EXPORTER_OTLP_METRICS_ENDPOINT', 'otlpMetricsEndpoint', 'v1/metrics'),
    otlpLogsEndpoint: signal('OTEL_EXPORTER_OTLP_LOGS_ENDPOINT', 'otlpLogsEndpoint', 'v1/logs'),
    otlpTracesProtocol: protocol('OTEL_EXPORTER_OTLP_TRACES_PROTOCOL', 'otlpTracesProtocol'),
    otlpMetricsProtocol: protocol('OTEL_EXPORTER_OTLP_METRICS_PROTOCOL', 'otlpMetricsProtocol'),
    otlpLogsProtocol: protocol('OTEL_EXPORTER_OTLP_LOGS_PROTOCOL', 'otlpLogsProtocol'),
    otlpTracesCompression: compression('OTEL_EXPORTER_OTLP_TRACES_COMPRESSION', 'otlpTracesCompression'),
    otlpMetricsCompression: compression('OTEL_EXPORTER_OTLP_METRICS_COMPRESSION', 'otlpMetricsCompression'),
    otlpLogsCompression: compression('OTEL_EXPORTER_OTLP_LOGS_COMPRESSION', 'otlpLogsCompression'),
    otlpHeaders,
    otlpTracesHeaders,
    otlpMetricsHeaders,
    otlpLogsHeaders,
    otlpTimeoutMs,
    otlpTracesTimeoutMs: timeoutOf('OTEL_EXPORTER_OTLP_TRACES_TIMEOUT', 'otlpTracesTimeoutMs'),
    otlpMetricsTimeoutMs: timeoutOf('OTEL_EXPORTER_OTLP_METRICS_TIMEOUT', 'otlpMetricsTimeoutMs'),
    otlpLogsTimeoutMs: timeoutOf('OTEL_EXPORTER_OTLP_LOGS_TIMEOUT', 'otlpLogsTimeoutMs'),
    metricExportIntervalMs: read('OTEL_METRIC_EXPORT_INTERVAL', 'metricExportIntervalMs'),
    sampler: read('OTEL_TRACES_SAMPLER', 'sampler'),
    samplerArg: read('OTEL_TRACES_SAMPLER_ARG', 'samplerArg'),
    spanBatchDelayMs: read('OTEL_BSP_SCHEDULE_DELAY', 'spanBatchDelayMs'),
    spanExportTimeoutMs: read('OTEL_BSP_EXPORT_TIMEOUT', 'spanExportTimeoutMs'),
    spanQueueSize: read('OTEL_BSP_MAX_QUEUE_SIZE', 'spanQueueSize'),
    spanBatchSize: read('OTEL_BSP_MAX_EXPORT_BATCH_SIZE', 'spanBatchSize'),
    spanAttributeValueLengthLimit: spanOr<number | undefined>(
      'OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT',
      'OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT',
      'spanAttributeValueLengthLimit',
    ),
    spanAttributeCountLimit: spanOr<number>(
      'OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT',
      'OTEL_ATTRIBUTE_COUNT_LIMIT',
      'spanAttributeCountLimit',
    ),
    spanEventCountLimit: read('OTEL_SPAN_EVENT_COUNT_LIMIT', 'spanEventCountLimit'),
    spanLinkCountLimit: read('OTEL_SPAN_LINK_COUNT_LIMIT', 'spanLinkCountLimit'),
    spanAttributePerEventCountLimit: spanOr<number>(
      'OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT',
      'OTEL_SPAN_ATTRIBUTE_PER_EVENT_COUNT_LIMIT',
      'spanAttributePerEventCountLimit',
    ),
    spanAttributePerLinkCountLimit: spanOr<number>(
      'OTEL_LINK_ATTRIBUTE_COUNT_LIMIT',
      'OTEL_SPAN_ATTRIBUTE_PER_LINK_COUNT_LIMIT',
      'spanAttributePerLinkCountLimit',
    ),
    cardinalityLimit: read('TAPWIRE_CARDINALITY_LIMIT', 'cardinalityLimit'),
    runtimeMetrics: read('TAPWIRE_RUNTIME_METRICS', 'runtimeMetrics'),
    dashboard: dashboard(read<boolean | undefined>('TAPWIRE_DASHBOARD', 'dashboard')),
    aiEndpoints: read('TAPWIRE_AI_ENDPOINTS', 'aiEndpoints'),
    aiPrices: read('TAPWIRE_AI_PRICES', 'aiPrices'),
    aiAttributes: read('TAPWIRE_AI_ATTRIBUTES', 'aiAttributes'),
    aiAttributeValues: read('TAPWIRE_AI_ATTRIBUTE_VALUES', 'aiAttributeValues'),
    aiCaptureContent: read('OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT', 'aiCaptureContent'),
    semconvOptIn: read('OTEL_SEMCONV_STABILITY_OPT_IN', 'semconvOptIn'),
    dbSlowMs: read('TAPWIRE_DB_SLOW_MS', 'dbSlowMs'),
    proxyPort: read('TAPWIRE_PROXY_PORT', 'proxyPort'),
    upstream: read('TAPWIRE_UPSTREAM', 'upstream'),
    routes: read('TAPWIRE_ROUTES', 'routes'),
    proxyTimeoutSeconds: read('TAPWIRE_PROXY_TIMEOUT_SECONDS', 'proxyTimeoutSeconds'),
    drainSeconds: read('TAPWIRE_DRAIN_SECONDS', 'drainSeconds'),
    gatewayPort: read('TAPWIRE_GATEWAY_PORT', 'gatewayPort'),
    gatewayProviders: read('TAPWIRE_GATEWAY_PROVIDERS', 'gatewayProviders'),
    gatewayIncludeUsage: read('TAPWIRE_GATEWAY_INCLUDE_USAGE', 'gatewayIncludeUsage'),
    sources,
  };
  // In the table's order, whatever order the values were read in.
  const order = Object.keys(VARIABLES);
  problems.sort((a, b) => order.indexOf(a.variable) - order.indexOf(b.variable));
  return { config: Object.freeze(config), problems };
}

/** Keeps the first two characters of a secret so a user can tell which one is set. */
export function mask(value: string): string {
  if (value.length <= 4) return '****';
  return `${value.slice(0, 2)}****`;
}

// Only asked in development. isatty(1) rather than process.stdout.isTTY: Bun builds the whole
// stdout stream on first access (~9 ms); node:tty is loaded here, not at start-up (~15 ms on Bun).
function stdoutIsTTY(): boolean {
  try {
    return (process.getBuiltinModule('node:tty') as typeof import('node:tty')).isatty(1);
  } catch {
    return false;
  }
}

function packageName(cwd: string): string | undefined {
  try {
    // Not node:path's join: it would load node:path at every start (~1.7 ms on Bun, 1.4.5).
    const pkg = JSON.parse(readText(`${cwd.replace(/[\\/]$/, '')}/package.json`)) as { name?: unknown };
    return typeof pkg.name === 'string' && pkg.name !== '' ? pkg.name : undefined;
  } catch {
    return undefined;
  }
}
