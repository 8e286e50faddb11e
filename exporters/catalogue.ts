// The metric catalogue: every metric tapwire emits, once. Instruments, the Prometheus names,
// docs/metrics.md and (later) the alert rules all read this list, so they cannot drift apart.
//
// Names follow the OpenTelemetry semantic conventions (stable HTTP and DB conventions, GenAI
// conventions 1.41+); the Prometheus name is what Prometheus itself produces when it ingests the
// same OTLP: dots to underscores, the unit as a suffix, `_total` on counters (see ./prometheus/naming.ts).

/** The instrumentation scope of tapwire's own metrics: on a name clash with the app's, tapwire's is served. */
export const AGENT_SCOPE = 'tapwire';
/** The scope prom-client's metrics travel in: their names are the app's and are served unchanged. */
export const PROM_CLIENT_SCOPE = 'prom-client';

export type InstrumentKind = 'histogram' | 'counter' | 'updowncounter' | 'gauge';

export interface MetricDef {
  /** OpenTelemetry instrument name. */
  name: string;
  /** UCUM unit as the semantic conventions give it. */
  unit: string;
  kind: InstrumentKind;
  description: string;
  /** Attribute keys in OpenTelemetry form (dots). */
  attributes: readonly string[];
  /** When each attribute is present, where not always. */
  conditional?: Readonly<Record<string, string>>;
  /** Explicit bucket boundaries (histograms). */
  buckets?: readonly number[];
  /**
   * A per-process value where a sum over a host's processes means nothing (heap, event-loop
   * delay): served per process with `tapwire.process` rather than summed (./merge.ts).
   */
  perProcess?: true;
  /** Which issue / capability emits it (docs). */
  source: string;
}

// Semantic-convention bucket advice.
// https://opentelemetry.io/docs/specs/semconv/http/http-metrics/#metric-httpserverrequestduration
export const HTTP_BUCKETS = [
  0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10,
] as const;
// https://opentelemetry.io/docs/specs/semconv/database/database-metrics/
export const DB_BUCKETS = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10] as const;
// https://opentelemetry.io/docs/specs/semconv/gen-ai/gen-ai-metrics/
export const GEN_AI_DURATION_BUCKETS = [
  0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
] as const;
export const GEN_AI_TOKEN_BUCKETS = [
  1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864,
] as const;
/** Output tokens per second of a stream: from a slow reasoning model to a fast small one. */
export const GEN_AI_SPEED_BUCKETS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000] as const;
// https://opentelemetry.io/docs/specs/semconv/runtime/v8js-metrics/#metric-v8jsgcduration
// Coarse on purpose (most V8 pauses land in the first bucket); _sum/_count still give the mean
// pause and the GC time per second, which is what dashboards and alerts use.
export const GC_BUCKETS = [0.01, 0.1, 1, 10] as const;

const HTTP_SERVER_ATTRS = [
  'http.request.method',
  'http.response.status_code',
  'http.route',
  'url.scheme',
  'error.type',
] as const;
const HTTP_CLIENT_ATTRS = [
  'http.request.method',
  'http.response.status_code',
  'server.address',
  'server.port',
  'url.scheme',
  'error.type',
] as const;
const DB_ATTRS = [
  'db.system.name',
  'db.operation.name',
  'db.collection.name',
  'db.namespace',
  'server.address',
  'server.port',
  'error.type',
] as const;
const GEN_AI_ATTRS = [
  'gen_ai.operation.name',
  'gen_ai.provider.name',
  'gen_ai.request.model',
  'gen_ai.response.model',
  'server.address',
  'error.type',
] as const;

// https://github.com/open-telemetry/semantic-conventions-genai/blob/main/docs/gen-ai/gen-ai-token-metrics.md
const GEN_AI_USAGE_ATTRS = [
  'gen_ai.operation.name',
  'gen_ai.provider.name',
  'gen_ai.token.modality',
  'gen_ai.request.model',
  'gen_ai.response.model',
  'server.address',
  'server.port',
] as const;
const USAGE_OPT_IN =
  ' Experimental (GenAI conventions in development): only with OTEL_SEMCONV_STABILITY_OPT_IN=gen_ai_latest_experimental.';
const USAGE_CONDITIONS = {
  'gen_ai.token.modality': '`unknown`: providers do not break usage down by modality',
} as const;

export const METRICS = {
  httpServerDuration: {
    name: 'http.server.request.duration',
    unit: 's',
    kind: 'histogram',
    description: 'Duration of inbound HTTP requests, from the request line to the end of the response.',
    attributes: HTTP_SERVER_ATTRS,
    conditional: {
      'http.route': 'when a router (Express, Fastify, Hono, Bun.serve routes) gives the template',
      'error.type': 'on 5xx responses (the status code) or when the request ends without a response',
    },
    buckets: HTTP_BUCKETS,
    source: 'agent/http',
  },
  httpServerActive: {
    name: 'http.server.active_requests',
    unit: '{request}',
    kind: 'updowncounter',
    description: 'Inbound HTTP requests in flight.',
    attributes: ['http.request.method', 'url.scheme'],
    source: 'agent/http',
  },
  httpClientDuration: {
    name: 'http.client.request.duration',
    unit: 's',
    kind: 'histogram',
    description:
      'Duration of outbound HTTP requests, until the response headers arrive (or the request fails).',
    attributes: HTTP_CLIENT_ATTRS,
    conditional: {
      'http.response.status_code': 'when a response arrived',
      'error.type': 'on 4xx/5xx responses (the status code) or the error class when no response arrived',
    },
    buckets: HTTP_BUCKETS,
    source: 'agent/http',
  },
  dbDuration: {
    name: 'db.client.operation.duration',
    unit: 's',
    kind: 'histogram',
    description: 'Duration of database client operations.',
    attributes: DB_ATTRS,
    buckets: DB_BUCKETS,
    source: 'agent/db (planned)',
  },
  dbConnectionCount: {
    name: 'db.client.connection.count',
    unit: '{connection}',
    kind: 'updowncounter',
    description: 'Connections of the app\u2019s database pools (pg-pool, mysql2), by state.',
    attributes: [
      'db.system.name',
      'db.namespace',
      'server.address',
      'server.port',
      'db.client.connection.state',
    ],
    source: 'agent/db',
  },
  dbConnectionPending: {
    name: 'db.client.connection.pending_requests',
    unit: '{request}',
    kind: 'updowncounter',
    description: 'Requests waiting for a connection from the app\u2019s database pools (pg-pool, mysql2).',
    attributes: ['db.system.name', 'db.namespace', 'server.address', 'server.port'],
    source: 'agent/db',
  },
  genAiDuration: {
    name: 'gen_ai.client.operation.duration',
    unit: 's',
    kind: 'histogram',
    description: 'Duration of AI provider calls.',
    attributes: GEN_AI_ATTRS,
    buckets: GEN_AI_DURATION_BUCKETS,
    source: 'agent/ai (planned)',
  },
  genAiTokens: {
    name: 'gen_ai.client.token.usage',
    unit: '{token}',
    kind: 'histogram',
    description: 'Tokens per AI provider call, as the provider reported them.',
    attributes: [...GEN_AI_ATTRS, 'gen_ai.token.type'],
    buckets: GEN_AI_TOKEN_BUCKETS,
    source: 'agent/ai (planned)',
  },
  genAiUsageInput: {
    name: 'gen_ai.client.inference.usage.input_tokens',
    unit: '{token}',
    kind: 'counter',
    description: `Input tokens of AI provider calls, cached ones included; 0 for a call that reported none.${USAGE_OPT_IN}`,
    attributes: GEN_AI_USAGE_ATTRS,
    conditional: USAGE_CONDITIONS,
    source: 'agent/ai',
  },
  genAiUsageOutput: {
    name: 'gen_ai.client.inference.usage.output_tokens',
    unit: '{token}',
    kind: 'counter',
    description: `Output tokens of AI provider calls (not embeddings), reasoning ones included; 0 for a call that reported none.${USAGE_OPT_IN}`,
    attributes: GEN_AI_USAGE_ATTRS,
    conditional: USAGE_CONDITIONS,
    source: 'agent/ai',
  },
  genAiUsageCacheRead: {
    name: 'gen_ai.client.inference.usage.cache_read.input_tokens',
    unit: '{token}',
    kind: 'counter',
    description: `Input tokens read from the provider\u2019s prompt cache (part of the input tokens), where the provider reports them.${USAGE_OPT_IN}`,
    attributes: GEN_AI_USAGE_ATTRS,
    conditional: USAGE_CONDITIONS,
    source: 'agent/ai',
  },
  genAiUsageCacheWrite: {
    name: 'gen_ai.client.inference.usage.cache_write.input_tokens',
    unit: '{token}',
    kind: 'counter',
    description: `Input tokens written to the provider\u2019s prompt cache (part of the input tokens), where the provider reports them (Anthropic).${USAGE_OPT_IN}`,
    attributes: GEN_AI_USAGE_ATTRS,
    conditional: USAGE_CONDITIONS,
    source: 'agent/ai',
  },
  genAiUsageReasoning: {
    name: 'gen_ai.client.inference.usage.reasoning.output_tokens',
    unit: '{token}',
    kind: 'counter',
    description: `Reasoning output tokens (part of the output tokens), where the provider reports them.${USAGE_OPT_IN}`,
    attributes: GEN_AI_USAGE_ATTRS,
    conditional: USAGE_CONDITIONS,
    source: 'agent/ai',
  },
  genAiTimeToFirstChunk: {
    name: 'gen_ai.client.operation.time_to_first_chunk',
    unit: 's',
    kind: 'histogram',
    description: 'Time from the request to the first chunk of a streamed AI response.',
    attributes: GEN_AI_ATTRS,
    buckets: GEN_AI_DURATION_BUCKETS,
    source: 'agent/ai (planned)',
  },
  genAiTimePerOutputChunk: {
    name: 'gen_ai.client.operation.time_per_output_chunk',
    unit: 's',
    kind: 'histogram',
    description:
      'Time between consecutive chunks (server-sent events, NDJSON lines) of a streamed AI response, one value per chunk after the first; chunks that come in one network read come at its time (0 apart).',
    attributes: GEN_AI_ATTRS,
    buckets: GEN_AI_DURATION_BUCKETS,
    source: 'agent/ai',
  },
  genAiOutputSpeed: {
    name: 'tapwire.gen_ai.client.output_tokens_per_second',
    unit: '{token}/s',
    kind: 'histogram',
    description:
      'Output tokens per second of a streamed AI response read to its end whose usage is known: the output tokens the provider reported (reasoning included) over the time from its first chunk to its last; none for a stream whose chunks all came in one network read.',
    attributes: GEN_AI_ATTRS,
    buckets: GEN_AI_SPEED_BUCKETS,
    source: 'agent/ai',
  },
  genAiCost: {
    name: 'tapwire.gen_ai.cost',
    unit: 'USD',
    kind: 'counter',
    description:
      'Estimated cost of AI provider calls from the price table: each kind of token (cache reads, cache writes by TTL, reasoning) at its own price, under the table entry that priced it.',
    attributes: [
      'gen_ai.provider.name',
      'gen_ai.request.model',
      'gen_ai.token.type',
      'tapwire.price',
      'tapwire.price.source',
      'tapwire.price.version',
    ],
    conditional: {
      'tapwire.price':
        'the price-table entry that priced the tokens: `input`, `cached_input`, `cache_write` (5-minute TTL), `cache_write_1h`, `output`, `reasoning`; a part the table has no entry for is priced, and labelled, at its base entry',
      'tapwire.price.source': '`builtin` (core/ai/prices.json) or `override` (the TAPWIRE_AI_PRICES file)',
      'tapwire.price.version': 'the `version` of the table the price came from',
    },
    source: 'agent/ai',
  },
  genAiUnparsedStreams: {
    name: 'tapwire.gen_ai.unparsed_streams',
    unit: '{stream}',
    kind: 'counter',
    description:
      'Streamed AI responses not read to their end: one event outgrew the parser\u2019s bound (8 MiB). The app gets every byte; the call is recorded without tokens.',
    attributes: ['gen_ai.provider.name'],
    source: 'agent/ai',
  },
  genAiUsageDropped: {
    name: 'tapwire.gen_ai.usage.dropped',
    unit: '{count}',
    kind: 'counter',
    description:
      'Token counts a provider reported that cannot be true (not a non-negative safe integer, or above 100,000,000 for one call): left out of the token usage and the cost, the call recorded without them.',
    attributes: ['gen_ai.provider.name'],
    source: 'agent/ai',
  },
  genAiRateLimitRemaining: {
    name: 'tapwire.gen_ai.rate_limit.remaining',
    unit: '{count}',
    kind: 'gauge',
    description:
      'Requests or tokens left in the provider\u2019s current rate-limit window, as its last answer reported them (`x-ratelimit-remaining-*`, `anthropic-ratelimit-*-remaining`); the limit again once the reported reset time has passed.',
    attributes: [
      'gen_ai.provider.name',
      'tapwire.gen_ai.model_family',
      'tapwire.gen_ai.api_key.fingerprint',
      'tapwire.gen_ai.rate_limit.type',
      'tapwire.process',
    ],
    conditional: {
      'tapwire.gen_ai.model_family':
        'the requested model without its release date (`gpt-4o-mini`, `claude-sonnet-4-5`)',
      'tapwire.gen_ai.api_key.fingerprint':
        'the first 12 hex digits of the SHA-256 of the API key the call sent (never the key); absent without one',
      'tapwire.gen_ai.rate_limit.type': '`requests`, `tokens`, `input_tokens`, `output_tokens` (Anthropic)',
    },
    perProcess: true,
    source: 'agent/ai',
  },
  genAiRateLimitLimit: {
    name: 'tapwire.gen_ai.rate_limit.limit',
    unit: '{count}',
    kind: 'gauge',
    description:
      'Requests or tokens the provider allows per rate-limit window, as its last answer reported them (`x-ratelimit-limit-*`, `anthropic-ratelimit-*-limit`).',
    attributes: [
      'gen_ai.provider.name',
      'tapwire.gen_ai.model_family',
      'tapwire.gen_ai.api_key.fingerprint',
      'tapwire.gen_ai.rate_limit.type',
      'tapwire.process',
    ],
    perProcess: true,
    source: 'agent/ai',
  },
  genAiRateLimitReset: {
    name: 'tapwire.gen_ai.rate_limit.reset_time',
    unit: 's',
    kind: 'gauge',
    description:
      'When the provider\u2019s current rate-limit window resets, as Unix time in seconds (`x-ratelimit-reset-*` durations from the answer\u2019s arrival, `anthropic-ratelimit-*-reset` times).',
    attributes: [
      'gen_ai.provider.name',
      'tapwire.gen_ai.model_family',
      'tapwire.gen_ai.api_key.fingerprint',
      'tapwire.gen_ai.rate_limit.type',
      'tapwire.process',
    ],
    perProcess: true,
    source: 'agent/ai',
  },
  logRecords: {
    name: 'tapwire.log.records',
    unit: '{record}',
    kind: 'counter',
    description: 'Log records written through the tapwire logger, by level.',
    attributes: ['level'],
    source: 'agent/log',
  },
  logRecordsDropped: {
    name: 'tapwire.log.records.dropped',
    unit: '{record}',
    kind: 'counter',
    description:
      'Log records that did not reach the OTLP logs receiver (OTEL_LOGS_EXPORTER=otlp): queue_full when the queue (OTEL_BLRP_MAX_QUEUE_SIZE) was full and the oldest record made room, export_failed when the receiver did not take a batch.',
    attributes: ['reason'],
    source: 'exporters/otlp-logs',
  },
  agentInfo: {
    name: 'tapwire.agent.info',
    unit: '',
    kind: 'gauge',
    description: 'Always 1; labels say which tapwire and runtime run.',
    attributes: ['version', 'runtime', 'runtime.version', 'tapwire.process'],
    perProcess: true,
    source: 'agent/runtime',
  },
  cardinalityOverflow: {
    name: 'tapwire.cardinality.overflow',
    unit: '{measurement}',
    kind: 'counter',
    description:
      'Measurements recorded into a metric\u2019s overflow series because its label-set limit was reached.',
    attributes: ['metric'],
    source: 'agent',
  },
  // Runtime metrics: OpenTelemetry runtime conventions (semconv 1.45, Development status):
  // https://opentelemetry.io/docs/specs/semconv/runtime/nodejs-metrics/
  // https://opentelemetry.io/docs/specs/semconv/runtime/v8js-metrics/
  // https://opentelemetry.io/docs/specs/semconv/system/process-metrics/
  // Which runtime emits which is measured in agent/runtime/support.ts.
  eventLoopDelayP50: {
    name: 'nodejs.eventloop.delay.p50',
    unit: 's',
    kind: 'gauge',
    description: 'Event-loop delay, median, since the previous collection.',
    attributes: ['tapwire.process'],
    perProcess: true,
    source: 'agent/runtime',
  },
  eventLoopDelayP99: {
    name: 'nodejs.eventloop.delay.p99',
    unit: 's',
    kind: 'gauge',
    description: 'Event-loop delay, 99th percentile, since the previous collection.',
    attributes: ['tapwire.process'],
    perProcess: true,
    source: 'agent/runtime',
  },
  eventLoopDelayMax: {
    name: 'nodejs.eventloop.delay.max',
    unit: 's',
    kind: 'gauge',
    description: 'Event-loop delay, maximum, since the previous collection.',
    attributes: ['tapwire.process'],
    perProcess: true,
    source: 'agent/runtime',
  },
  eventLoopUtilization: {
    name: 'nodejs.eventloop.utilization',
    unit: '1',
    kind: 'gauge',
    description: 'Fraction of time the event loop was busy since the previous collection.',
    attributes: ['tapwire.process'],
    perProcess: true,
    source: 'agent/runtime (Node only)',
  },
  heapUsed: {
    name: 'v8js.memory.heap.used',
    unit: 'By',
    kind: 'updowncounter',
    description: 'JavaScript heap in use, by heap space.',
    attributes: ['v8js.heap.space.name', 'tapwire.process'],
    perProcess: true,
    source: 'agent/runtime',
  },
  // Was `v8js.memory.heap.limit`, deprecated in semconv in favour of this name (same value:
  // `space_size` of v8.getHeapSpaceStatistics(), not V8's heap_size_limit).
  heapSpaceSize: {
    name: 'v8js.memory.heap.space.size',
    unit: 'By',
    kind: 'updowncounter',
    description: 'JavaScript heap reserved, by heap space.',
    attributes: ['v8js.heap.space.name', 'tapwire.process'],
    perProcess: true,
    source: 'agent/runtime',
  },
  gcDuration: {
    name: 'v8js.gc.duration',
    unit: 's',
    kind: 'histogram',
    description: 'Garbage-collection pauses, by kind.',
    attributes: ['v8js.gc.type', 'tapwire.process'],
    perProcess: true,
    buckets: GC_BUCKETS,
    source: 'agent/runtime (Node only)',
  },
  cpuTime: {
    name: 'process.cpu.time',
    unit: 's',
    kind: 'counter',
    description: 'CPU time used by the process, by mode.',
    attributes: ['cpu.mode'],
    source: 'agent/runtime',
  },
  memoryRss: {
    name: 'process.memory.usage',
    unit: 'By',
    kind: 'updowncounter',
    description: 'Resident set size of the process.',
    attributes: ['tapwire.process'],
    perProcess: true,
    source: 'agent/runtime',
  },
} as const satisfies Record<string, MetricDef>;

export type MetricKey = keyof typeof METRICS;
export const METRIC_LIST: readonly MetricDef[] = Object.values(METRICS);

/** OpenTelemetry names of the metrics served per process on a host with several (./merge.ts). */
export const PER_PROCESS: ReadonlySet<string> = new Set(
  METRIC_LIST.filter((m) => m.perProcess === true).map((m) => m.name),
);
