// The environment variables tapwire reads, as data: one table drives parsing, validation,
// `tapwire config` and docs/configuration.md, so the three can never disagree. The value parsers
// the rows name are in parse.ts.

import {
  AI_PROVIDERS,
  AI_SHAPES,
  type AiAttribute,
  type AiEndpoint,
  aiAttributes,
  aiEndpoints,
  boolean,
  boundedText,
  type GatewayProvider,
  gatewayProviders,
  host,
  httpHeaders,
  integer,
  keyValues,
  list,
  maskHeaders,
  maskUrl,
  number,
  oneOf,
  onOff,
  optIns,
  origin,
  type Parsed,
  RUNTIME_PARTS,
  type RuntimePart,
  routePatterns,
  runtimeParts,
  text,
  url,
} from './parse.js';

// The parsed shapes of the list-valued variables, for the code that reads them.
export type { AiAttribute, AiEndpoint, GatewayProvider, RuntimePart } from './parse.js';

export interface Variable<T> {
  /** The environment variable. */
  name: string;
  /** What a user reads in the docs. */
  doc: string;
  /** What values are accepted, in words, for error messages and docs. */
  accepted: string;
  /** The value used when unset (or invalid). */
  fallback: T;
  /** How the default reads in the docs, when it is not simply the fallback. */
  fallbackDoc?: string;
  /** Mask the value in `tapwire config` and in messages. */
  secret?: boolean;
  /** How a raw value is shown in messages when parts of it are secret (credentials, header values). */
  display?: (raw: string) => string;
  /** What happens on a bad value when it is not simply the default (a clause of the message). */
  instead?: string;
  parse(raw: string): Parsed<T>;
}

/** The longest service name kept; longer ones are cut (and reported). */
export const SERVICE_NAME_MAX = 255;

/**
 * The highest price a TAPWIRE_AI_PRICES file may give, in USD per million tokens: far above any
 * provider's list price, far below the values that make the cost counter overflow to +Inf.
 */
export const AI_PRICE_MAX = 10_000;

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export const PROFILES = ['development', 'test', 'staging', 'production'] as const;
export type Profile = (typeof PROFILES)[number];

export const SAMPLERS = [
  'always_on',
  'always_off',
  'traceidratio',
  'parentbased_always_on',
  'parentbased_always_off',
  'parentbased_traceidratio',
] as const;
export type SamplerName = (typeof SAMPLERS)[number];

export const METRICS_EXPORTERS = ['prometheus', 'otlp'] as const;
export const SIGNAL_EXPORTERS = ['otlp', 'console'] as const;

/** `grpc`, the specification's third protocol, is not among them: it is reported like any bad value. */
export const OTLP_PROTOCOLS = ['http/protobuf', 'http/json'] as const;
export type OtlpProtocol = (typeof OTLP_PROTOCOLS)[number];
export const OTLP_COMPRESSIONS = ['gzip', 'none'] as const;
export type OtlpCompression = (typeof OTLP_COMPRESSIONS)[number];

const PROTOCOL_ACCEPTED = '`http/protobuf` or `http/json` (`grpc` is not supported)';

/** The per-signal form of the protocol and compression variables: unset, the general one applies. */
function perSignal<T extends string>(
  name: string,
  signal: string,
  general: string,
  accepted: string,
  values: readonly T[],
) {
  return {
    name,
    doc: `As \`${general}\`, for ${signal} only.`,
    accepted,
    fallback: '' as T | '',
    fallbackDoc: `\`${general}\``,
    parse: oneOf(values) as (raw: string) => Parsed<T | ''>,
  } satisfies Variable<T | ''>;
}

/**
 * A signal's own OTLP headers (the specification's OTEL_EXPORTER_OTLP_{SIGNAL}_HEADERS): added to
 * the general ones, a header named in both taken from here, as the OpenTelemetry SDKs do. A bad
 * value turns that signal's OTLP export off, for the reason the general variable's row gives.
 */
function signalHeaders(name: string, signal: string, exporters: string) {
  return {
    name,
    doc: `Headers sent with OTLP requests of ${signal} only, besides \`OTEL_EXPORTER_OTLP_HEADERS\`; a header named in both is taken from this one. Masked like it.`,
    accepted: 'comma-separated `name=value` pairs, each name an HTTP header name and each value non-empty',
    fallback: {} as Record<string, string>,
    fallbackDoc: 'none',
    secret: true,
    display: maskHeaders,
    instead: `OTLP export of ${signal} is off (otlp is left out of ${exporters}): nothing is sent without the headers`,
    parse: httpHeaders,
  } satisfies Variable<Record<string, string>>;
}

/** A signal's own export timeout; unset, `OTEL_EXPORTER_OTLP_TIMEOUT` applies. */
function signalTimeout(name: string, signal: string) {
  return {
    name,
    doc: `As \`OTEL_EXPORTER_OTLP_TIMEOUT\`, for ${signal} only.`,
    accepted: 'an integer from 1 to 600000',
    fallback: 0,
    fallbackDoc: '`OTEL_EXPORTER_OTLP_TIMEOUT`',
    parse: integer(1, 600_000),
  } satisfies Variable<number>;
}

/** The span-specific form of a general limit: unset, the general one applies. */
function spanOverride(name: string, general: string, max: number, doc?: string) {
  return {
    name,
    doc: doc ?? `As \`${general}\`, for spans; set, it is used instead.`,
    accepted: `an integer from 0 to ${max}`,
    fallback: undefined as number | undefined,
    fallbackDoc: `\`${general}\``,
    parse: integer(0, max),
  } satisfies Variable<number | undefined>;
}

/** A span count limit: the SDK's default, 128. */
function countLimit(name: string, doc: string) {
  return {
    name,
    doc,
    accepted: 'an integer from 0 to 1000000',
    fallback: 128,
    parse: integer(0, 1_000_000),
  } satisfies Variable<number>;
}

/** Every variable tapwire reads. Order is the order of the docs. */
export const VARIABLES = {
  OTEL_SDK_DISABLED: {
    name: 'OTEL_SDK_DISABLED',
    doc: '`true` turns the agent off entirely: no hooks, no endpoint, nothing loaded beyond the check.',
    accepted: '`true` or `false`',
    fallback: false,
    parse: boolean,
  } satisfies Variable<boolean>,
  OTEL_SERVICE_NAME: {
    name: 'OTEL_SERVICE_NAME',
    doc: 'The service name (`service.name`) on every metric, span and log record.',
    accepted: `a non-empty string of at most ${SERVICE_NAME_MAX} characters (a longer one is cut to that length)`,
    fallback: '',
    fallbackDoc:
      '`service.name` from `OTEL_RESOURCE_ATTRIBUTES`, else the `name` in the app\u2019s package.json, else `unknown_service`',
    parse: boundedText(SERVICE_NAME_MAX),
  } satisfies Variable<string>,
  OTEL_RESOURCE_ATTRIBUTES: {
    name: 'OTEL_RESOURCE_ATTRIBUTES',
    doc: 'Extra resource attributes, shown on `target_info`.',
    accepted: 'comma-separated `key=value` pairs (values percent-encoded)',
    fallback: {},
    fallbackDoc: 'none',
    parse: keyValues,
  } satisfies Variable<Record<string, string>>,
  TAPWIRE_ENV: {
    name: 'TAPWIRE_ENV',
    doc: 'The deployment environment; picks the profile (log level and format). Falls back to `NODE_ENV` when that names a profile.',
    accepted: PROFILES.map((p) => `\`${p}\``).join(', '),
    fallback: 'development' as Profile,
    fallbackDoc: '`NODE_ENV` when it is one of the profiles, else `development`',
    parse: oneOf(PROFILES),
  } satisfies Variable<Profile>,
  LOG_LEVEL: {
    name: 'LOG_LEVEL',
    doc: "Overrides the profile's log level for `import { logger } from 'tapwire'` and tapwire's own messages. Unset, the preload writes only its warnings and errors on the app's stderr, whatever the profile (the sidecar follows the profile's level). At `debug`, the preload also says where its start went (`TAPWIRE_STARTED`, docs/log-codes.md).",
    accepted: LOG_LEVELS.map((l) => `\`${l}\``).join(', '),
    fallback: 'info' as LogLevel,
    fallbackDoc: 'the profile\u2019s level',
    parse: oneOf(LOG_LEVELS),
  } satisfies Variable<LogLevel>,
  OTEL_METRICS_EXPORTER: {
    name: 'OTEL_METRICS_EXPORTER',
    doc: 'Where metrics go. `prometheus` serves `/metrics`; `otlp` pushes OTLP/HTTP every `OTEL_METRIC_EXPORT_INTERVAL`.',
    accepted: '`prometheus`, `otlp` (comma-separated), or `none`',
    fallback: ['prometheus'] as ('prometheus' | 'otlp')[],
    parse: list(METRICS_EXPORTERS),
  } satisfies Variable<('prometheus' | 'otlp')[]>,
  OTEL_TRACES_EXPORTER: {
    name: 'OTEL_TRACES_EXPORTER',
    doc: 'Where spans go. When `none`, no span is created and no trace context is kept.',
    accepted: '`otlp`, `console`, or `none`',
    fallback: [] as ('otlp' | 'console')[],
    fallbackDoc: '`none`',
    parse: list(SIGNAL_EXPORTERS),
  } satisfies Variable<('otlp' | 'console')[]>,
  OTEL_LOGS_EXPORTER: {
    name: 'OTEL_LOGS_EXPORTER',
    doc: 'Log shipping besides the JSON lines on stdout. `otlp` sends the records of the app\u2019s `logger` and tapwire\u2019s own lines to the OTLP logs endpoint, batched (`OTEL_BLRP_*`), with trace and span ids and the resource of spans and metrics. `console` adds nothing to the lines on stdout and is reported once.',
    accepted: '`otlp`, `console`, or `none`',
    fallback: [] as ('otlp' | 'console')[],
    fallbackDoc: '`none`',
    parse: list(SIGNAL_EXPORTERS),
  } satisfies Variable<('otlp' | 'console')[]>,
  TAPWIRE_LOG_STDOUT: {
    name: 'TAPWIRE_LOG_STDOUT',
    doc: '`off`: the app\u2019s `logger` writes nothing on stdout, for when its records go to OTLP (`OTEL_LOGS_EXPORTER=otlp`); without that they go nowhere. tapwire\u2019s own lines stay on stderr.',
    accepted: '`on` or `off`',
    fallback: 'on' as 'on' | 'off',
    parse: oneOf(['on', 'off'] as const),
  } satisfies Variable<'on' | 'off'>,
  OTEL_EXPORTER_PROMETHEUS_HOST: {
    name: 'OTEL_EXPORTER_PROMETHEUS_HOST',
    doc: 'The address the `/metrics` endpoint listens on.',
    accepted: 'a host name or IP address',
    fallback: '0.0.0.0',
    parse: host,
  } satisfies Variable<string>,
  OTEL_EXPORTER_PROMETHEUS_PORT: {
    name: 'OTEL_EXPORTER_PROMETHEUS_PORT',
    doc: 'The port of the `/metrics` endpoint. `0` picks a free port (logged at start).',
    accepted: 'an integer from 0 to 65535',
    fallback: 9464,
    parse: integer(0, 65535),
  } satisfies Variable<number>,
  OTEL_EXPORTER_OTLP_ENDPOINT: {
    name: 'OTEL_EXPORTER_OTLP_ENDPOINT',
    doc: 'Base URL of the OTLP/HTTP receiver; `/v1/traces`, `/v1/metrics`, `/v1/logs` are appended.',
    accepted: 'an `http://` or `https://` URL',
    fallback: 'http://localhost:4318/',
    display: maskUrl,
    parse: url,
  } satisfies Variable<string>,
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: {
    name: 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT',
    doc: 'Full URL for spans, used as is.',
    accepted: 'an `http://` or `https://` URL',
    fallback: '',
    fallbackDoc: '`OTEL_EXPORTER_OTLP_ENDPOINT` + `v1/traces`',
    display: maskUrl,
    parse: url,
  } satisfies Variable<string>,
  OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: {
    name: 'OTEL_EXPORTER_OTLP_METRICS_ENDPOINT',
    doc: 'Full URL for metrics, used as is.',
    accepted: 'an `http://` or `https://` URL',
    fallback: '',
    fallbackDoc: '`OTEL_EXPORTER_OTLP_ENDPOINT` + `v1/metrics`',
    display: maskUrl,
    parse: url,
  } satisfies Variable<string>,
  OTEL_EXPORTER_OTLP_LOGS_ENDPOINT: {
    name: 'OTEL_EXPORTER_OTLP_LOGS_ENDPOINT',
    doc: 'Full URL for logs, used as is.',
    accepted: 'an `http://` or `https://` URL',
    fallback: '',
    fallbackDoc: '`OTEL_EXPORTER_OTLP_ENDPOINT` + `v1/logs`',
    display: maskUrl,
    parse: url,
  } satisfies Variable<string>,
  OTEL_EXPORTER_OTLP_PROTOCOL: {
    name: 'OTEL_EXPORTER_OTLP_PROTOCOL',
    doc: 'How OTLP is sent over HTTP: protobuf (`application/x-protobuf`, the specification\u2019s default; some receivers take nothing else) or JSON (`application/json`).',
    accepted: PROTOCOL_ACCEPTED,
    fallback: 'http/protobuf' as OtlpProtocol,
    parse: oneOf(OTLP_PROTOCOLS),
  } satisfies Variable<OtlpProtocol>,
  OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: perSignal(
    'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL',
    'spans',
    'OTEL_EXPORTER_OTLP_PROTOCOL',
    PROTOCOL_ACCEPTED,
    OTLP_PROTOCOLS,
  ),
  OTEL_EXPORTER_OTLP_METRICS_PROTOCOL: perSignal(
    'OTEL_EXPORTER_OTLP_METRICS_PROTOCOL',
    'metrics',
    'OTEL_EXPORTER_OTLP_PROTOCOL',
    PROTOCOL_ACCEPTED,
    OTLP_PROTOCOLS,
  ),
  OTEL_EXPORTER_OTLP_LOGS_PROTOCOL: perSignal(
    'OTEL_EXPORTER_OTLP_LOGS_PROTOCOL',
    'log records',
    'OTEL_EXPORTER_OTLP_PROTOCOL',
    PROTOCOL_ACCEPTED,
    OTLP_PROTOCOLS,
  ),
  OTEL_EXPORTER_OTLP_COMPRESSION: {
    name: 'OTEL_EXPORTER_OTLP_COMPRESSION',
    doc: '`gzip` compresses every OTLP request body (`Content-Encoding: gzip`).',
    accepted: '`gzip` or `none`',
    fallback: 'none' as OtlpCompression,
    parse: oneOf(OTLP_COMPRESSIONS),
  } satisfies Variable<OtlpCompression>,
  OTEL_EXPORTER_OTLP_TRACES_COMPRESSION: perSignal(
    'OTEL_EXPORTER_OTLP_TRACES_COMPRESSION',
    'spans',
    'OTEL_EXPORTER_OTLP_COMPRESSION',
    '`gzip` or `none`',
    OTLP_COMPRESSIONS,
  ),
  OTEL_EXPORTER_OTLP_METRICS_COMPRESSION: perSignal(
    'OTEL_EXPORTER_OTLP_METRICS_COMPRESSION',
    'metrics',
    'OTEL_EXPORTER_OTLP_COMPRESSION',
    '`gzip` or `none`',
    OTLP_COMPRESSIONS,
  ),
  OTEL_EXPORTER_OTLP_LOGS_COMPRESSION: perSignal(
    'OTEL_EXPORTER_OTLP_LOGS_COMPRESSION',
    'log records',
    'OTEL_EXPORTER_OTLP_COMPRESSION',
    '`gzip` or `none`',
    OTLP_COMPRESSIONS,
  ),
  OTEL_EXPORTER_OTLP_HEADERS: {
    name: 'OTEL_EXPORTER_OTLP_HEADERS',
    doc: 'Headers sent with every OTLP request (for example an API key), values percent-encoded. Masked in `tapwire config` and in messages. A bad value turns OTLP export off rather than send without the headers: they usually carry the credentials or the tenant, and data sent without them is refused or lands with the wrong tenant.',
    accepted: 'comma-separated `name=value` pairs, each name an HTTP header name and each value non-empty',
    fallback: {},
    fallbackDoc: 'none',
    secret: true,
    display: maskHeaders,
    instead:
      'OTLP export is off (otlp is left out of OTEL_TRACES_EXPORTER, OTEL_METRICS_EXPORTER and OTEL_LOGS_EXPORTER): nothing is sent without the headers',
    parse: httpHeaders,
  } satisfies Variable<Record<string, string>>,
  OTEL_EXPORTER_OTLP_TRACES_HEADERS: signalHeaders(
    'OTEL_EXPORTER_OTLP_TRACES_HEADERS',
    'spans',
    'OTEL_TRACES_EXPORTER',
  ),
  OTEL_EXPORTER_OTLP_METRICS_HEADERS: signalHeaders(
    'OTEL_EXPORTER_OTLP_METRICS_HEADERS',
    'metrics',
    'OTEL_METRICS_EXPORTER',
  ),
  OTEL_EXPORTER_OTLP_LOGS_HEADERS: signalHeaders(
    'OTEL_EXPORTER_OTLP_LOGS_HEADERS',
    'log records',
    'OTEL_LOGS_EXPORTER',
  ),
  OTEL_EXPORTER_OTLP_TIMEOUT: {
    name: 'OTEL_EXPORTER_OTLP_TIMEOUT',
    doc: 'Milliseconds one OTLP export may take, retries included; when the process ends, the last export waits at most this long for a receiver that does not answer.',
    accepted: 'an integer from 1 to 600000',
    fallback: 10000,
    parse: integer(1, 600_000),
  } satisfies Variable<number>,
  OTEL_EXPORTER_OTLP_TRACES_TIMEOUT: signalTimeout('OTEL_EXPORTER_OTLP_TRACES_TIMEOUT', 'spans'),
  OTEL_EXPORTER_OTLP_METRICS_TIMEOUT: signalTimeout('OTEL_EXPORTER_OTLP_METRICS_TIMEOUT', 'metrics'),
  OTEL_EXPORTER_OTLP_LOGS_TIMEOUT: signalTimeout('OTEL_EXPORTER_OTLP_LOGS_TIMEOUT', 'log records'),
  OTEL_METRIC_EXPORT_INTERVAL: {
    name: 'OTEL_METRIC_EXPORT_INTERVAL',
    doc: 'Milliseconds between OTLP metric pushes.',
    accepted: 'an integer from 100 to 3600000',
    fallback: 60000,
    parse: integer(100, 3_600_000),
  } satisfies Variable<number>,
  OTEL_BLRP_SCHEDULE_DELAY: {
    name: 'OTEL_BLRP_SCHEDULE_DELAY',
    doc: 'Milliseconds a log record may wait for its batch before it is sent (`OTEL_LOGS_EXPORTER=otlp`); a full batch goes at once.',
    accepted: 'an integer from 0 to 3600000',
    fallback: 1000,
    parse: integer(0, 3_600_000),
  } satisfies Variable<number>,
  OTEL_BLRP_MAX_QUEUE_SIZE: {
    name: 'OTEL_BLRP_MAX_QUEUE_SIZE',
    doc: 'Log records kept while waiting to be sent; when full the oldest is dropped and counted in `tapwire_log_records_dropped_total{reason="queue_full"}`.',
    accepted: 'an integer from 1 to 1000000',
    fallback: 2048,
    parse: integer(1, 1_000_000),
  } satisfies Variable<number>,
  OTEL_BLRP_MAX_EXPORT_BATCH_SIZE: {
    name: 'OTEL_BLRP_MAX_EXPORT_BATCH_SIZE',
    doc: 'Log records per OTLP request at most.',
    accepted: 'an integer from 1 to 1000000',
    fallback: 512,
    parse: integer(1, 1_000_000),
  } satisfies Variable<number>,
  OTEL_TRACES_SAMPLER: {
    name: 'OTEL_TRACES_SAMPLER',
    doc: 'Which spans are recorded when tracing is on.',
    accepted: SAMPLERS.map((s) => `\`${s}\``).join(', '),
    fallback: 'parentbased_always_on' as SamplerName,
    parse: oneOf(SAMPLERS),
  } satisfies Variable<SamplerName>,
  OTEL_TRACES_SAMPLER_ARG: {
    name: 'OTEL_TRACES_SAMPLER_ARG',
    doc: 'The ratio for the `traceidratio` samplers.',
    accepted: 'a number from 0 to 1',
    fallback: 1,
    parse: number(0, 1),
  } satisfies Variable<number>,
  OTEL_BSP_SCHEDULE_DELAY: {
    name: 'OTEL_BSP_SCHEDULE_DELAY',
    doc: 'Milliseconds a span may wait for its batch before it is sent (tracing on); a full batch goes at once.',
    accepted: 'an integer from 0 to 3600000',
    fallback: 5000,
    parse: integer(0, 3_600_000),
  } satisfies Variable<number>,
  OTEL_BSP_EXPORT_TIMEOUT: {
    name: 'OTEL_BSP_EXPORT_TIMEOUT',
    doc: 'Milliseconds one export of a batch of spans may take before it is given up.',
    accepted: 'an integer from 1 to 600000',
    fallback: 30000,
    parse: integer(1, 600_000),
  } satisfies Variable<number>,
  OTEL_BSP_MAX_QUEUE_SIZE: {
    name: 'OTEL_BSP_MAX_QUEUE_SIZE',
    doc: 'Ended spans kept while waiting to be sent; when full, further spans are dropped.',
    accepted: 'an integer from 1 to 1000000',
    fallback: 2048,
    parse: integer(1, 1_000_000),
  } satisfies Variable<number>,
  OTEL_BSP_MAX_EXPORT_BATCH_SIZE: {
    name: 'OTEL_BSP_MAX_EXPORT_BATCH_SIZE',
    doc: 'Spans per export at most; a value above `OTEL_BSP_MAX_QUEUE_SIZE` is taken as that size.',
    accepted: 'an integer from 1 to 1000000',
    fallback: 512,
    parse: integer(1, 1_000_000),
  } satisfies Variable<number>,
  OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT: {
    name: 'OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT',
    doc: 'Characters kept of a span attribute\u2019s string value; longer values are cut.',
    accepted: 'an integer from 0 to 1000000000',
    fallback: undefined as number | undefined,
    fallbackDoc: 'no limit',
    parse: integer(0, 1_000_000_000),
  } satisfies Variable<number | undefined>,
  OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT: spanOverride(
    'OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT',
    'OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT',
    1_000_000_000,
  ),
  OTEL_ATTRIBUTE_COUNT_LIMIT: {
    name: 'OTEL_ATTRIBUTE_COUNT_LIMIT',
    doc: 'Attributes kept per span; further ones are dropped.',
    accepted: 'an integer from 0 to 1000000',
    fallback: 128,
    parse: integer(0, 1_000_000),
  } satisfies Variable<number>,
  OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT: spanOverride(
    'OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT',
    'OTEL_ATTRIBUTE_COUNT_LIMIT',
    1_000_000,
  ),
  OTEL_SPAN_EVENT_COUNT_LIMIT: countLimit(
    'OTEL_SPAN_EVENT_COUNT_LIMIT',
    'Events kept per span (an exception recorded on a span is one).',
  ),
  OTEL_SPAN_LINK_COUNT_LIMIT: countLimit('OTEL_SPAN_LINK_COUNT_LIMIT', 'Links kept per span.'),
  OTEL_SPAN_ATTRIBUTE_PER_EVENT_COUNT_LIMIT: countLimit(
    'OTEL_SPAN_ATTRIBUTE_PER_EVENT_COUNT_LIMIT',
    'Attributes kept per span event (the OpenTelemetry JS SDK\u2019s name for it).',
  ),
  OTEL_SPAN_ATTRIBUTE_PER_LINK_COUNT_LIMIT: countLimit(
    'OTEL_SPAN_ATTRIBUTE_PER_LINK_COUNT_LIMIT',
    'Attributes kept per span link (the OpenTelemetry JS SDK\u2019s name for it).',
  ),
  // The specification's names for the two above (sdk-environment-variables, attribute limits).
  OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT: spanOverride(
    'OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT',
    'OTEL_SPAN_ATTRIBUTE_PER_EVENT_COUNT_LIMIT',
    1_000_000,
    'Attributes kept per span event (the specification\u2019s name); set, it is used instead of `OTEL_SPAN_ATTRIBUTE_PER_EVENT_COUNT_LIMIT`.',
  ),
  OTEL_LINK_ATTRIBUTE_COUNT_LIMIT: spanOverride(
    'OTEL_LINK_ATTRIBUTE_COUNT_LIMIT',
    'OTEL_SPAN_ATTRIBUTE_PER_LINK_COUNT_LIMIT',
    1_000_000,
    'Attributes kept per span link (the specification\u2019s name); set, it is used instead of `OTEL_SPAN_ATTRIBUTE_PER_LINK_COUNT_LIMIT`.',
  ),
  TAPWIRE_CARDINALITY_LIMIT: {
    name: 'TAPWIRE_CARDINALITY_LIMIT',
    doc: 'Label sets kept per metric; further ones go to one series labelled `otel_metric_overflow="true"` and count in `tapwire_cardinality_overflow_total`.',
    accepted: 'an integer from 1 to 100000',
    fallback: 2000,
    parse: integer(1, 100_000),
  } satisfies Variable<number>,
  TAPWIRE_DASHBOARD: {
    name: 'TAPWIRE_DASHBOARD',
    doc: 'The live page at `/` of the metrics port (docs/instrumentation.md): routes, database, AI and runtime from `/metrics`\u2019 own numbers, every second; its code loads when first asked for. Off, `/` answers `ok`.',
    accepted: '`on` or `off` (`true`, `false` too)',
    fallback: undefined as boolean | undefined,
    fallbackDoc: '`on` in the `development` profile, else `off`',
    parse: onOff,
  } satisfies Variable<boolean | undefined>,
  TAPWIRE_RUNTIME_METRICS: {
    name: 'TAPWIRE_RUNTIME_METRICS',
    doc: 'Event-loop (`eventloop`), heap (`heap`), GC (`gc`), CPU (`cpu`) and memory (`memory`) metrics. On Node the GC histogram costs memory under load (V8 grows its young generation sooner: 13\u201318 MB more RSS in the Express and Fastify benchmark apps); `eventloop,heap,cpu,memory` keeps the others without it (docs/instrumentation.md, Runtime).',
    accepted: `\`on\` or \`off\` (\`true\`, \`false\` too), or a comma-separated list of ${RUNTIME_PARTS.map((p) => `\`${p}\``).join(', ')}`,
    fallback: [...RUNTIME_PARTS] as RuntimePart[],
    fallbackDoc: '`on`, every part',
    parse: runtimeParts,
  } satisfies Variable<RuntimePart[]>,
  TAPWIRE_AI_ENDPOINTS: {
    name: 'TAPWIRE_AI_ENDPOINTS',
    doc: `Extra hosts recognised as AI providers (gateways, self-hosted models). PROVIDER is the \`gen_ai_provider_name\` their calls are recorded under and decides which API their bodies are read as; a provider tapwire does not know needs the API it speaks (SHAPE: ${AI_SHAPES.map((s) => `\`${s}\``).join(', ')}). Known providers: ${Object.keys(
      AI_PROVIDERS,
    )
      .map((p) => `\`${p}\``)
      .join(', ')}.`,
    accepted:
      'comma-separated `HOST[:PORT]=[SHAPE@]PROVIDER`, e.g. `127.0.0.1:8080=openai,llm.internal=anthropic,vllm.internal=openai@vllm`',
    fallback: [] as AiEndpoint[],
    fallbackDoc: 'none',
    parse: aiEndpoints,
  } satisfies Variable<AiEndpoint[]>,
  TAPWIRE_AI_PRICES: {
    name: 'TAPWIRE_AI_PRICES',
    doc: 'A JSON price file whose entries replace the built-in AI price table (`core/ai/prices.json`) per provider and model: `{"version": "…", "providers": {"openai": {"gpt-4o": {"input": 2.5, "cached_input": 1.25, "output": 10}}}}`, USD per million tokens. Entries: `input`, `cached_input`, `cache_write` (5-minute TTL), `cache_write_1h`, `output`, `reasoning`; a missing one falls back to its base entry. Costs priced from it carry `tapwire_price_source="override"` and its `version`.',
    accepted: `a path to a JSON price file; every price a number from 0 to ${AI_PRICE_MAX} (USD per million tokens) under \`input\`, \`cached_input\`, \`cache_write\`, \`cache_write_1h\`, \`output\` or \`reasoning\``,
    fallback: undefined as string | undefined,
    fallbackDoc: 'none (the built-in table)',
    parse: text,
  } satisfies Variable<string | undefined>,
  TAPWIRE_AI_ATTRIBUTES: {
    name: 'TAPWIRE_AI_ATTRIBUTES',
    doc: 'Attribution labels for the AI token and cost series (never the HTTP ones): each NAME is a label, read from the inbound request header HEADER that caused the provider call, or set by the app with `withAttributes({ NAME: value }, fn)` from `tapwire`. Each label keeps at most `TAPWIRE_AI_ATTRIBUTE_VALUES` values; further ones are recorded as `_other`.',
    accepted:
      'at most two comma-separated `NAME[:HEADER]`, NAME a lowercase label name (not `job`, `instance`, `le` or starting with `gen_ai_`, `server_`, `error_`, `tapwire_`, `otel_`), e.g. `tenant:x-tenant-id,feature:x-feature`',
    fallback: [] as AiAttribute[],
    fallbackDoc: 'none',
    parse: aiAttributes,
  } satisfies Variable<AiAttribute[]>,
  TAPWIRE_AI_ATTRIBUTE_VALUES: {
    name: 'TAPWIRE_AI_ATTRIBUTE_VALUES',
    doc: 'How many distinct values each attribution label keeps; further values are recorded as `_other` and counted in `tapwire_cardinality_overflow_total{metric="ai_attribute_NAME"}`.',
    accepted: 'an integer from 1 to 10000',
    fallback: 100,
    parse: integer(1, 10_000),
  } satisfies Variable<number>,
  OTEL_SEMCONV_STABILITY_OPT_IN: {
    name: 'OTEL_SEMCONV_STABILITY_OPT_IN',
    doc: 'Opt-in to newer semantic conventions. `gen_ai_latest_experimental` adds the per-type token counters `gen_ai.client.inference.usage.*` (experimental) beside `gen_ai_client_token_usage`, which stays (tapwire\u2019s rules and dashboards read it). Other values are for other instrumentations and are ignored.',
    accepted: 'comma-separated values such as `gen_ai_latest_experimental`',
    fallback: [] as string[],
    fallbackDoc: 'none',
    parse: optIns,
  } satisfies Variable<string[]>,
  OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT: {
    name: 'OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT',
    doc: 'Allow prompt and completion content in AI telemetry. Off: no content reaches metrics, logs or spans (tapwire records none today either way).',
    accepted: '`true` or `false`',
    fallback: false,
    parse: boolean,
  } satisfies Variable<boolean>,
  TAPWIRE_DB_SLOW_MS: {
    name: 'TAPWIRE_DB_SLOW_MS',
    doc: 'Database operations slower than this many milliseconds are logged at `warn` (`TAPWIRE_DB_SLOW`; at most 50 lines in 10 seconds, then one line with how many were left out).',
    accepted: 'an integer from 0 to 3600000',
    fallback: 500,
    parse: integer(0, 3_600_000),
  } satisfies Variable<number>,
  TAPWIRE_PROXY_PORT: {
    name: 'TAPWIRE_PROXY_PORT',
    doc: '`tapwire sidecar`: the port the inbound reverse proxy listens on (all interfaces); point the Service at it.',
    accepted: 'an integer from 0 to 65535',
    fallback: 8080,
    parse: integer(0, 65535),
  } satisfies Variable<number>,
  TAPWIRE_UPSTREAM: {
    name: 'TAPWIRE_UPSTREAM',
    doc: '`tapwire sidecar`: the app the proxy forwards to, usually its port on localhost in the same pod; `/readyz` answers 200 while it accepts connections.',
    accepted:
      'an `http://` or `https://` origin: scheme, host and optional port, no path, query or credentials',
    fallback: 'http://127.0.0.1:3000/',
    display: maskUrl,
    parse: origin,
  } satisfies Variable<string>,
  TAPWIRE_ROUTES: {
    name: 'TAPWIRE_ROUTES',
    doc: '`tapwire sidecar`: route templates for the `http_route` label, first match wins; a path that matches none gets no route label (raw paths never become labels).',
    accepted:
      'comma-separated paths whose segments are literals, `:name` parameters or a final `*`, e.g. `/users/:id,/static/*`',
    fallback: [] as string[],
    fallbackDoc: 'none',
    parse: routePatterns,
  } satisfies Variable<string[]>,
  TAPWIRE_PROXY_TIMEOUT_SECONDS: {
    name: 'TAPWIRE_PROXY_TIMEOUT_SECONDS',
    doc: '`tapwire sidecar`: how long the proxy and the AI gateway wait for the response headers before answering 504. Bodies (streams, server-sent events) have no idle limit.',
    accepted: 'an integer from 1 to 3600',
    fallback: 60,
    parse: integer(1, 3600),
  } satisfies Variable<number>,
  TAPWIRE_DRAIN_SECONDS: {
    name: 'TAPWIRE_DRAIN_SECONDS',
    doc: '`tapwire sidecar`: on SIGTERM, `/readyz` turns 503, new connections are refused, and requests in flight get this long to finish before the process exits. Keep it below the pod\u2019s `terminationGracePeriodSeconds`.',
    accepted: 'an integer from 0 to 3600',
    fallback: 20,
    parse: integer(0, 3600),
  } satisfies Variable<number>,
  TAPWIRE_GATEWAY_PORT: {
    name: 'TAPWIRE_GATEWAY_PORT',
    doc: '`tapwire sidecar`: the AI egress gateway\u2019s port, on 127.0.0.1 only (containers of a pod share it). Apps set e.g. `OPENAI_BASE_URL=http://127.0.0.1:9465/openai/v1`.',
    accepted: 'an integer from 0 to 65535',
    fallback: 9465,
    parse: integer(0, 65535),
  } satisfies Variable<number>,
  TAPWIRE_GATEWAY_PROVIDERS: {
    name: 'TAPWIRE_GATEWAY_PROVIDERS',
    doc: '`tapwire sidecar`: gateway prefixes besides (or replacing) the built-in `/openai` (https://api.openai.com), `/anthropic` (https://api.anthropic.com) and `/gemini` (https://generativelanguage.googleapis.com). The shape says which API the provider speaks.',
    accepted:
      'comma-separated `PREFIX=[SHAPE@]URL`, SHAPE one of `openai`, `anthropic`, `gemini` (default: the prefix), e.g. `groq=openai@https://api.groq.com/openai`',
    fallback: [] as GatewayProvider[],
    fallbackDoc: 'none',
    parse: gatewayProviders,
  } satisfies Variable<GatewayProvider[]>,
  TAPWIRE_GATEWAY_INCLUDE_USAGE: {
    name: 'TAPWIRE_GATEWAY_INCLUDE_USAGE',
    doc: '`tapwire sidecar`: for OpenAI-shaped streamed chat completions that do not ask for their usage, the gateway adds `stream_options.include_usage` so their tokens and cost are known, and takes the extra usage chunk (and the `"usage":null` of the other chunks) out of the stream the app gets, so it reads what it would have without. An explicit `include_usage: false` is left alone.',
    accepted: '`on` or `off` (`true`, `false` too)',
    fallback: false,
    parse: onOff,
  } satisfies Variable<boolean>,
} as const;

export type VariableName = keyof typeof VARIABLES;
