// loadConfig: the defaults, every variable's bad value, profiles, secrets and TAPWIRE_AI_ENDPOINTS.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CONFIG_ERROR_CODE, type Config, loadConfig, mask, VARIABLES } from '../config/index.js';
import type { VariableName } from '../config/variables.js';
import { readPriceFile } from '../core/ai/prices.js';

// No package.json here, so the service name does not depend on where the tests run.
const empty = mkdtempSync(join(tmpdir(), 'tapwire-config-'));
const load = (env: Record<string, string>, isTTY = false) => loadConfig(env, { cwd: empty, isTTY });
const withoutSources = ({ sources: _, ...rest }: Config) => rest;

describe('defaults', () => {
  it('an empty environment gives the documented defaults and no problems', () => {
    const { config, problems } = load({});
    expect(problems).toEqual([]);
    expect(withoutSources(config)).toEqual({
      disabled: false,
      serviceName: 'unknown_service',
      resourceAttributes: {},
      environment: 'development',
      profile: 'development',
      logLevel: 'debug',
      agentLogLevel: 'warn',
      logPretty: false,
      metricsExporters: ['prometheus'],
      tracesExporters: [],
      logsExporters: [],
      logStdout: 'on',
      logsBatchDelayMs: 1000,
      logsQueueSize: 2048,
      logsBatchSize: 512,
      prometheusHost: '0.0.0.0',
      prometheusPort: 9464,
      otlpTracesEndpoint: 'http://localhost:4318/v1/traces',
      otlpMetricsEndpoint: 'http://localhost:4318/v1/metrics',
      otlpLogsEndpoint: 'http://localhost:4318/v1/logs',
      otlpTracesProtocol: 'http/protobuf',
      otlpMetricsProtocol: 'http/protobuf',
      otlpLogsProtocol: 'http/protobuf',
      otlpTracesCompression: 'none',
      otlpMetricsCompression: 'none',
      otlpLogsCompression: 'none',
      otlpHeaders: {},
      otlpTracesHeaders: {},
      otlpMetricsHeaders: {},
      otlpLogsHeaders: {},
      otlpTimeoutMs: 10000,
      otlpTracesTimeoutMs: 10000,
      otlpMetricsTimeoutMs: 10000,
      otlpLogsTimeoutMs: 10000,
      metricExportIntervalMs: 60000,
      sampler: 'parentbased_always_on',
      samplerArg: 1,
      spanBatchDelayMs: 5000,
      spanExportTimeoutMs: 30000,
      spanQueueSize: 2048,
      spanBatchSize: 512,
      spanAttributeValueLengthLimit: undefined,
      spanAttributeCountLimit: 128,
      spanEventCountLimit: 128,
      spanLinkCountLimit: 128,
      spanAttributePerEventCountLimit: 128,
      spanAttributePerLinkCountLimit: 128,
      cardinalityLimit: 2000,
      runtimeMetrics: ['eventloop', 'heap', 'gc', 'cpu', 'memory'],
      dashboard: true,
      aiEndpoints: [],
      aiPrices: undefined,
      aiAttributes: [],
      aiAttributeValues: 100,
      aiCaptureContent: false,
      semconvOptIn: [],
      dbSlowMs: 500,
      proxyPort: 8080,
      upstream: 'http://127.0.0.1:3000/',
      routes: [],
      proxyTimeoutSeconds: 60,
      drainSeconds: 20,
      gatewayPort: 9465,
      gatewayProviders: [],
      gatewayIncludeUsage: false,
    });
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('an empty string counts as unset', () => {
    expect(load({ OTEL_EXPORTER_PROMETHEUS_PORT: '' }).problems).toEqual([]);
  });

  it('names the service from OTEL_SERVICE_NAME, else resource attributes, else package.json', () => {
    const app = mkdtempSync(join(tmpdir(), 'tapwire-app-'));
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'shop' }));
    const from = (env: Record<string, string>) => {
      const { config } = loadConfig(env, { cwd: app, isTTY: false });
      return [config.serviceName, config.sources.serviceName];
    };
    expect(from({})).toEqual(['shop', 'package.json']);
    expect(from({ OTEL_RESOURCE_ATTRIBUTES: 'service.name=cart' })).toEqual([
      'cart',
      'OTEL_RESOURCE_ATTRIBUTES',
    ]);
    expect(from({ OTEL_SERVICE_NAME: 'api', OTEL_RESOURCE_ATTRIBUTES: 'service.name=cart' })).toEqual([
      'api',
      'OTEL_SERVICE_NAME',
    ]);
  });

  it('derives the per-signal OTLP endpoints from the base unless they are set', () => {
    const { config } = load({
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318',
      OTEL_EXPORTER_OTLP_LOGS_ENDPOINT: 'https://logs.example/ingest',
    });
    expect(config.otlpTracesEndpoint).toBe('http://collector:4318/v1/traces');
    expect(config.otlpMetricsEndpoint).toBe('http://collector:4318/v1/metrics');
    expect(config.otlpLogsEndpoint).toBe('https://logs.example/ingest');
  });

  it('takes the OTLP protocol and compression per signal, else from the general variable', () => {
    const pick = (env: Record<string, string>) => {
      const { config, problems } = load(env);
      expect(problems).toEqual([]);
      return [
        config.otlpTracesProtocol,
        config.otlpMetricsProtocol,
        config.otlpLogsProtocol,
        config.otlpTracesCompression,
        config.otlpMetricsCompression,
        config.otlpLogsCompression,
        config.sources.otlpMetricsProtocol,
        config.sources.otlpLogsCompression,
      ];
    };
    expect(
      pick({ OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json', OTEL_EXPORTER_OTLP_COMPRESSION: 'gzip' }),
    ).toEqual([
      'http/json',
      'http/json',
      'http/json',
      'gzip',
      'gzip',
      'gzip',
      'OTEL_EXPORTER_OTLP_PROTOCOL',
      'OTEL_EXPORTER_OTLP_COMPRESSION',
    ]);
    expect(
      pick({
        OTEL_EXPORTER_OTLP_PROTOCOL: 'HTTP/JSON',
        OTEL_EXPORTER_OTLP_METRICS_PROTOCOL: 'http/protobuf',
        OTEL_EXPORTER_OTLP_LOGS_COMPRESSION: 'gzip',
      }),
    ).toEqual([
      'http/json',
      'http/protobuf',
      'http/json',
      'none',
      'none',
      'gzip',
      'OTEL_EXPORTER_OTLP_METRICS_PROTOCOL',
      'OTEL_EXPORTER_OTLP_LOGS_COMPRESSION',
    ]);
  });

  it('reports grpc once and sends http/protobuf', () => {
    const { config, problems } = load({ OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' });
    expect(problems.map((p) => p.message)).toEqual([
      'OTEL_EXPORTER_OTLP_PROTOCOL="grpc" is not valid: expected `http/protobuf` or `http/json` (`grpc` is not supported); using the default ("http/protobuf")',
    ]);
    expect([config.otlpTracesProtocol, config.otlpMetricsProtocol, config.otlpLogsProtocol]).toEqual([
      'http/protobuf',
      'http/protobuf',
      'http/protobuf',
    ]);
  });

  it('percent-decodes resource attribute values', () => {
    const { config } = load({ OTEL_RESOURCE_ATTRIBUTES: 'team=pay%20ments, region=eu-west-1' });
    expect(config.resourceAttributes).toEqual({ team: 'pay ments', region: 'eu-west-1' });
  });
});

// One bad value per variable. `satisfies` makes a new variable without a row here a type error.
const BAD = {
  OTEL_SDK_DISABLED: 'yes',
  OTEL_SERVICE_NAME: '   ',
  OTEL_RESOURCE_ATTRIBUTES: 'team',
  TAPWIRE_ENV: 'prod',
  LOG_LEVEL: 'verbose',
  OTEL_METRICS_EXPORTER: 'statsd',
  OTEL_TRACES_EXPORTER: 'jaeger',
  OTEL_LOGS_EXPORTER: 'otlp,none',
  TAPWIRE_LOG_STDOUT: 'no',
  OTEL_EXPORTER_PROMETHEUS_HOST: 'my host',
  OTEL_EXPORTER_PROMETHEUS_PORT: '70000',
  OTEL_EXPORTER_OTLP_ENDPOINT: 'ftp://collector',
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'collector:4318',
  OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: 'not a url',
  OTEL_EXPORTER_OTLP_LOGS_ENDPOINT: 'file:///tmp/logs',
  OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc',
  OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/thrift',
  OTEL_EXPORTER_OTLP_METRICS_PROTOCOL: 'json',
  OTEL_EXPORTER_OTLP_LOGS_PROTOCOL: 'grpc',
  OTEL_EXPORTER_OTLP_COMPRESSION: 'zstd',
  OTEL_EXPORTER_OTLP_TRACES_COMPRESSION: 'deflate',
  OTEL_EXPORTER_OTLP_METRICS_COMPRESSION: 'yes',
  OTEL_EXPORTER_OTLP_LOGS_COMPRESSION: 'br',
  OTEL_EXPORTER_OTLP_HEADERS: 'supersecretkey',
  OTEL_EXPORTER_OTLP_TRACES_HEADERS: 'tracesecret',
  OTEL_EXPORTER_OTLP_METRICS_HEADERS: 'x-key',
  OTEL_EXPORTER_OTLP_LOGS_HEADERS: '=logsecret',
  OTEL_EXPORTER_OTLP_TIMEOUT: '0',
  OTEL_EXPORTER_OTLP_TRACES_TIMEOUT: '0',
  OTEL_EXPORTER_OTLP_METRICS_TIMEOUT: '600001',
  OTEL_EXPORTER_OTLP_LOGS_TIMEOUT: 'soon',
  OTEL_METRIC_EXPORT_INTERVAL: '50',
  OTEL_BLRP_SCHEDULE_DELAY: '-5',
  OTEL_BLRP_MAX_QUEUE_SIZE: '0',
  OTEL_BLRP_MAX_EXPORT_BATCH_SIZE: 'lots',
  OTEL_BSP_SCHEDULE_DELAY: '1.5',
  OTEL_BSP_EXPORT_TIMEOUT: '0',
  OTEL_BSP_MAX_QUEUE_SIZE: '-1',
  OTEL_BSP_MAX_EXPORT_BATCH_SIZE: 'all',
  OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT: 'short',
  OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT: '-3',
  OTEL_ATTRIBUTE_COUNT_LIMIT: '1e3',
  OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT: 'many',
  OTEL_SPAN_EVENT_COUNT_LIMIT: '10 events',
  OTEL_SPAN_LINK_COUNT_LIMIT: '2000000',
  OTEL_SPAN_ATTRIBUTE_PER_EVENT_COUNT_LIMIT: 'x',
  OTEL_SPAN_ATTRIBUTE_PER_LINK_COUNT_LIMIT: 'none',
  OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT: '-1',
  OTEL_LINK_ATTRIBUTE_COUNT_LIMIT: '1.5',
  OTEL_TRACES_SAMPLER: 'sometimes',
  OTEL_TRACES_SAMPLER_ARG: '1.5',
  TAPWIRE_CARDINALITY_LIMIT: '0',
  TAPWIRE_RUNTIME_METRICS: 'maybe',
  TAPWIRE_DASHBOARD: 'yes',
  TAPWIRE_AI_ENDPOINTS: 'openai',
  TAPWIRE_AI_PRICES: '   ',
  TAPWIRE_AI_ATTRIBUTES: 'tenant:x-tenant,feature:x-feature,team:x-team',
  TAPWIRE_AI_ATTRIBUTE_VALUES: '0',
  OTEL_SEMCONV_STABILITY_OPT_IN: 'gen_ai_latest_experimental;http',
  OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT: 'maybe',
  TAPWIRE_DB_SLOW_MS: '-1',
  TAPWIRE_PROXY_PORT: '99999',
  TAPWIRE_UPSTREAM: 'localhost:3000',
  TAPWIRE_ROUTES: 'users/:id',
  TAPWIRE_PROXY_TIMEOUT_SECONDS: '0',
  TAPWIRE_DRAIN_SECONDS: 'soon',
  TAPWIRE_GATEWAY_PORT: '-1',
  TAPWIRE_GATEWAY_PROVIDERS: 'mistral=https://api.mistral.ai',
  TAPWIRE_GATEWAY_INCLUDE_USAGE: 'sometimes',
} as const satisfies Record<VariableName, string>;

describe('a bad value', () => {
  const defaults = withoutSources(load({}).config);

  it.each(Object.entries(BAD) as [VariableName, string][])(
    '%s=%j is reported and the default used',
    (name, raw) => {
      const v = VARIABLES[name];
      const { config, problems } = load({ [name]: raw });
      const shown = 'display' in v ? v.display(raw) : 'secret' in v && v.secret ? mask(raw) : raw;
      const instead =
        'instead' in v
          ? v.instead
          : `using the default (${'fallbackDoc' in v ? v.fallbackDoc : JSON.stringify(v.fallback)})`;
      expect(problems).toHaveLength(1);
      const { why, ...rest } = problems[0]!;
      expect(rest).toEqual({
        code: CONFIG_ERROR_CODE,
        variable: name,
        value: shown,
        accepted: v.accepted,
        instead,
        message: `${name}=${JSON.stringify(shown)} is not valid${why === undefined ? '' : ` (${why})`}: expected ${v.accepted}; ${instead}`,
      });
      // The whole configuration is what it would be without the bad variable.
      expect(withoutSources(config)).toEqual(defaults);
    },
  );

  it('is reported once per variable, all of them together', () => {
    expect(
      load(BAD)
        .problems.map((p) => p.variable)
        .sort(),
    ).toEqual(Object.keys(BAD).sort());
  });

  it('records where the default came from', () => {
    expect(load({ OTEL_EXPORTER_PROMETHEUS_PORT: 'abc' }).config.sources.prometheusPort).toBe(
      'default (OTEL_EXPORTER_PROMETHEUS_PORT invalid)',
    );
  });
});

describe('span limits', () => {
  const limits = (env: Record<string, string>) => {
    const { config, problems } = load(env);
    return {
      length: config.spanAttributeValueLengthLimit,
      count: config.spanAttributeCountLimit,
      lengthSource: config.sources.spanAttributeValueLengthLimit,
      countSource: config.sources.spanAttributeCountLimit,
      problems: problems.map((p) => p.variable),
    };
  };

  it("are the SDK's defaults when unset: no length limit, 128 attributes", () => {
    expect(limits({})).toEqual({
      length: undefined,
      count: 128,
      lengthSource: 'default',
      countSource: 'default',
      problems: [],
    });
  });

  it('take the general variable when the span one is unset, and the span one over it', () => {
    expect(limits({ OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT: '40', OTEL_ATTRIBUTE_COUNT_LIMIT: '16' })).toEqual({
      length: 40,
      count: 16,
      lengthSource: 'OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT',
      countSource: 'OTEL_ATTRIBUTE_COUNT_LIMIT',
      problems: [],
    });
    expect(
      limits({
        OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT: '40',
        OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT: '8',
        OTEL_ATTRIBUTE_COUNT_LIMIT: '16',
        OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT: '0',
      }),
    ).toEqual({
      length: 8,
      count: 0,
      lengthSource: 'OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT',
      countSource: 'OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT',
      problems: [],
    });
  });

  it("take the specification's names for event and link attributes over the JS SDK's", () => {
    const perEvent = (env: Record<string, string>) => {
      const { config, problems } = load(env);
      return [
        config.spanAttributePerEventCountLimit,
        config.spanAttributePerLinkCountLimit,
        config.sources.spanAttributePerEventCountLimit,
        config.sources.spanAttributePerLinkCountLimit,
        problems.length,
      ];
    };
    expect(perEvent({})).toEqual([128, 128, 'default', 'default', 0]);
    expect(
      perEvent({
        OTEL_SPAN_ATTRIBUTE_PER_EVENT_COUNT_LIMIT: '8',
        OTEL_SPAN_ATTRIBUTE_PER_LINK_COUNT_LIMIT: '9',
      }),
    ).toEqual([
      8,
      9,
      'OTEL_SPAN_ATTRIBUTE_PER_EVENT_COUNT_LIMIT',
      'OTEL_SPAN_ATTRIBUTE_PER_LINK_COUNT_LIMIT',
      0,
    ]);
    expect(
      perEvent({
        OTEL_SPAN_ATTRIBUTE_PER_EVENT_COUNT_LIMIT: '8',
        OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT: '3',
        OTEL_LINK_ATTRIBUTE_COUNT_LIMIT: '0',
      }),
    ).toEqual([3, 0, 'OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT', 'OTEL_LINK_ATTRIBUTE_COUNT_LIMIT', 0]);
  });

  it('report a bad general value even when the span one is set', () => {
    expect(
      limits({ OTEL_ATTRIBUTE_COUNT_LIMIT: 'lots', OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT: '4' }),
    ).toMatchObject({
      count: 4,
      problems: ['OTEL_ATTRIBUTE_COUNT_LIMIT'],
    });
  });
});

describe('profiles', () => {
  const pick = (env: Record<string, string>, isTTY = false) => {
    const { config, problems } = load(env, isTTY);
    return {
      environment: config.environment,
      profile: config.profile,
      logLevel: config.logLevel,
      pretty: config.logPretty,
      source: config.sources.profile,
      problems: problems.length,
    };
  };

  it.each([
    ['development', 'debug'],
    ['test', 'warn'],
    ['staging', 'info'],
    ['production', 'warn'],
  ])('TAPWIRE_ENV=%s logs at %s in JSON', (profile, level) => {
    expect(pick({ TAPWIRE_ENV: profile })).toEqual({
      environment: profile,
      profile,
      logLevel: level,
      pretty: false,
      source: 'TAPWIRE_ENV',
      problems: 0,
    });
  });

  it('falls back to NODE_ENV when it names a profile, in any case', () => {
    expect(pick({ NODE_ENV: 'Production' })).toMatchObject({ profile: 'production', source: 'NODE_ENV' });
    expect(pick({ NODE_ENV: 'staging' })).toMatchObject({ profile: 'staging', logLevel: 'info' });
  });

  it('TAPWIRE_ENV wins over NODE_ENV', () => {
    expect(pick({ TAPWIRE_ENV: 'staging', NODE_ENV: 'production' })).toMatchObject({
      environment: 'staging',
      profile: 'staging',
    });
  });

  it('an unknown NODE_ENV runs development, keeps its name, and is not an error', () => {
    expect(pick({ NODE_ENV: 'local' })).toEqual({
      environment: 'local',
      profile: 'development',
      logLevel: 'debug',
      pretty: false,
      source: 'default (NODE_ENV=local is not a profile)',
      problems: 0,
    });
  });

  it('the live page is on in development only; TAPWIRE_DASHBOARD overrides the profile', () => {
    const dashboard = (env: Record<string, string>) => {
      const { config } = load(env);
      return [config.dashboard, config.sources.dashboard];
    };
    expect(dashboard({})).toEqual([true, 'profile development']);
    expect(dashboard({ TAPWIRE_ENV: 'test' })).toEqual([false, 'profile test']);
    expect(dashboard({ TAPWIRE_ENV: 'staging' })).toEqual([false, 'profile staging']);
    expect(dashboard({ NODE_ENV: 'production' })).toEqual([false, 'profile production']);
    expect(dashboard({ TAPWIRE_ENV: 'production', TAPWIRE_DASHBOARD: 'ON' })).toEqual([
      true,
      'TAPWIRE_DASHBOARD',
    ]);
    expect(dashboard({ TAPWIRE_DASHBOARD: 'off' })).toEqual([false, 'TAPWIRE_DASHBOARD']);
    expect(dashboard({ TAPWIRE_ENV: 'production', TAPWIRE_DASHBOARD: 'true' })).toEqual([
      true,
      'TAPWIRE_DASHBOARD',
    ]);
    expect(dashboard({ TAPWIRE_ENV: 'production', TAPWIRE_DASHBOARD: 'yes' })).toEqual([
      false,
      'default (TAPWIRE_DASHBOARD invalid)',
    ]);
  });

  it("tapwire's own switches take on/off as well as true/false", () => {
    const read = (env: Record<string, string>) => {
      const { config, problems } = load(env);
      return [config.runtimeMetrics.length, config.gatewayIncludeUsage, problems.length];
    };
    expect(read({ TAPWIRE_RUNTIME_METRICS: 'off', TAPWIRE_GATEWAY_INCLUDE_USAGE: 'on' })).toEqual([
      0,
      true,
      0,
    ]);
    expect(read({ TAPWIRE_RUNTIME_METRICS: 'false', TAPWIRE_GATEWAY_INCLUDE_USAGE: 'TRUE' })).toEqual([
      0,
      true,
      0,
    ]);
    expect(read({ TAPWIRE_RUNTIME_METRICS: 'On', TAPWIRE_GATEWAY_INCLUDE_USAGE: 'Off' })).toEqual([
      5,
      false,
      0,
    ]);
    expect(read({ TAPWIRE_RUNTIME_METRICS: 'yes' })).toEqual([5, false, 1]);
  });

  it('TAPWIRE_RUNTIME_METRICS takes a list of parts; a bad one is reported and every part stays on', () => {
    const read = (raw: string) => {
      const { config, problems } = load({ TAPWIRE_RUNTIME_METRICS: raw });
      return [config.runtimeMetrics, config.sources.runtimeMetrics, problems.map((p) => p.message)];
    };
    expect(read('eventloop,heap,cpu,memory')).toEqual([
      ['eventloop', 'heap', 'cpu', 'memory'],
      'TAPWIRE_RUNTIME_METRICS',
      [],
    ]);
    // Written in any order and case, repeated: kept in the table's order, once.
    expect(read(' Memory, gc ,memory')).toEqual([['gc', 'memory'], 'TAPWIRE_RUNTIME_METRICS', []]);
    expect(read('none')).toEqual([[], 'TAPWIRE_RUNTIME_METRICS', []]);
    const [parts, source, messages] = read('eventloop,gc-pauses');
    expect([parts, source]).toEqual([
      ['eventloop', 'heap', 'gc', 'cpu', 'memory'],
      'default (TAPWIRE_RUNTIME_METRICS invalid)',
    ]);
    expect(messages).toEqual([
      'TAPWIRE_RUNTIME_METRICS="eventloop,gc-pauses" is not valid: expected `on` or `off` (`true`, `false` too), or a comma-separated list of `eventloop`, `heap`, `gc`, `cpu`, `memory`; using the default (`on`, every part)',
    ]);
  });

  it('LOG_LEVEL overrides the profile', () => {
    const { config } = load({ TAPWIRE_ENV: 'production', LOG_LEVEL: 'DEBUG' });
    expect([config.logLevel, config.sources.logLevel]).toEqual(['debug', 'LOG_LEVEL']);
    expect(load({ TAPWIRE_ENV: 'production' }).config.sources.logLevel).toBe('profile production');
  });

  it("the preload's own lines: LOG_LEVEL when set, else warn whatever the profile logs the app at", () => {
    const agent = (env: Record<string, string>) => load(env).config.agentLogLevel;
    expect(agent({})).toBe('warn');
    expect(agent({ TAPWIRE_ENV: 'staging' })).toBe('warn');
    expect(agent({ TAPWIRE_ENV: 'production' })).toBe('warn');
    expect(agent({ LOG_LEVEL: 'debug' })).toBe('debug');
    expect(agent({ LOG_LEVEL: 'error' })).toBe('error');
  });

  it('pretty logs only in development on a TTY', () => {
    expect(pick({}, true).pretty).toBe(true);
    expect(pick({ TAPWIRE_ENV: 'staging' }, true).pretty).toBe(false);
    expect(pick({}, false).pretty).toBe(false);
  });
});

describe('secrets', () => {
  it('mask keeps two characters of long values and nothing of short ones', () => {
    expect(mask('sk-abcdef123')).toBe('sk****');
    expect(mask('abcd')).toBe('****');
  });

  it('a bad secret value is masked in the problem', () => {
    const [problem] = load({ OTEL_EXPORTER_OTLP_HEADERS: 'supersecretkey' }).problems;
    expect(problem?.value).toBe('****');
    expect(problem?.message).not.toContain('supersecret');
  });

  it('good header values are parsed (masking them is the printer\u2019s job)', () => {
    const { config } = load({ OTEL_EXPORTER_OTLP_HEADERS: 'api-key=sk-123,x-team=pay' });
    expect(config.otlpHeaders).toEqual({ 'api-key': 'sk-123', 'x-team': 'pay' });
  });
});

describe('TAPWIRE_AI_ENDPOINTS', () => {
  const endpoints = (raw: string) => load({ TAPWIRE_AI_ENDPOINTS: raw });

  it('parses HOST[:PORT]=PROVIDER lists', () => {
    const { config, problems } = endpoints(
      '127.0.0.1:8080=openai, LLM.internal=anthropic,10.0.0.5:11434=ollama,',
    );
    expect(problems).toEqual([]);
    expect(config.aiEndpoints).toEqual([
      { host: '127.0.0.1', port: 8080, provider: 'openai', shape: 'openai' },
      { host: 'llm.internal', port: undefined, provider: 'anthropic', shape: 'anthropic' },
      { host: '10.0.0.5', port: 11434, provider: 'ollama', shape: 'ollama' },
    ]);
  });

  it('accepts bracketed IPv6 hosts and dotted provider names', () => {
    expect(endpoints('[::1]:9000=gcp.gemini').config.aiEndpoints).toEqual([
      { host: '[::1]', port: 9000, provider: 'gcp.gemini', shape: 'gemini' },
    ]);
  });

  it.each([
    'openai',
    'host:0=openai',
    'host:70000=openai',
    'host=',
    'host=OpenAI',
    'http://host=openai',
    'host=soap@vllm',
    ',',
  ])('rejects %j as a whole', (raw) => {
    const { config, problems } = endpoints(raw);
    expect(problems.map((p) => p.variable)).toEqual(['TAPWIRE_AI_ENDPOINTS']);
    expect(config.aiEndpoints).toEqual([]);
  });
});

// The values a hardening review found accepted in silence: each is now one problem naming the
// variable, the value (secrets masked), what is accepted and what happens instead, and what
// happens is what the problem says.
describe('values once accepted in silence', () => {
  const only = (env: Record<string, string>) => {
    const { config, problems } = load(env);
    expect(problems).toHaveLength(1);
    return { config, problem: problems[0]!, message: problems[0]!.message };
  };
  const HEADERS_ACCEPTED = VARIABLES.OTEL_EXPORTER_OTLP_HEADERS.accepted;
  const HEADERS_OFF =
    'OTLP export is off (otlp is left out of OTEL_TRACES_EXPORTER, OTEL_METRICS_EXPORTER and OTEL_LOGS_EXPORTER): nothing is sent without the headers';

  it.each([
    ['Authorization: Bearer sk-live-abcdef', '****', 'entry 1 has no `=`'],
    ['api key=sk-live-abcdef', '****', 'entry 1 does not start with a header name'],
    ['x-api-key=sk-live-abcdef,team', 'x-api-key=****,****', 'entry 2 has no `=`'],
    ['x-api-key=', 'x-api-key=****', 'x-api-key has an empty value'],
    [
      'x-api-key=sk-live%0Aabcdef',
      'x-api-key=****',
      'the value of x-api-key has a character a header cannot carry',
    ],
    ['x-api-key=sk-live%zzabcdef', 'x-api-key=****', 'the value of x-api-key has a bad percent-escape'],
  ])('OTEL_EXPORTER_OTLP_HEADERS=%j turns OTLP export off, the value masked', (raw, shown, why) => {
    const { config, message } = only({
      OTEL_EXPORTER_OTLP_HEADERS: raw,
      OTEL_TRACES_EXPORTER: 'otlp,console',
      OTEL_METRICS_EXPORTER: 'prometheus,otlp',
    });
    expect(message).toBe(
      `OTEL_EXPORTER_OTLP_HEADERS=${JSON.stringify(shown)} is not valid (${why}): expected ${HEADERS_ACCEPTED}; ${HEADERS_OFF}`,
    );
    expect(message).not.toContain('live');
    expect([config.tracesExporters, config.metricsExporters, config.otlpHeaders]).toEqual([
      ['console'],
      ['prometheus'],
      {},
    ]);
    expect(config.sources.tracesExporters).toBe(
      'OTEL_TRACES_EXPORTER without otlp (OTEL_EXPORTER_OTLP_HEADERS invalid)',
    );
  });

  it('each signal sends the general headers with its own on top, and its own timeout', () => {
    const { config, problems } = load({
      OTEL_EXPORTER_OTLP_HEADERS: 'x-team=pay,x-key=general',
      OTEL_EXPORTER_OTLP_TRACES_HEADERS: 'x-key=traces',
      OTEL_EXPORTER_OTLP_LOGS_HEADERS: 'x-logs=1',
      OTEL_EXPORTER_OTLP_TIMEOUT: '3000',
      OTEL_EXPORTER_OTLP_METRICS_TIMEOUT: '500',
    });
    expect(problems).toEqual([]);
    expect([config.otlpTracesHeaders, config.otlpMetricsHeaders, config.otlpLogsHeaders]).toEqual([
      { 'x-team': 'pay', 'x-key': 'traces' },
      { 'x-team': 'pay', 'x-key': 'general' },
      { 'x-team': 'pay', 'x-key': 'general', 'x-logs': '1' },
    ]);
    expect([config.otlpTracesTimeoutMs, config.otlpMetricsTimeoutMs, config.otlpLogsTimeoutMs]).toEqual([
      3000, 500, 3000,
    ]);
  });

  it("a bad signal's headers turn off that signal's OTLP export only, the value masked", () => {
    const { config, problems } = load({
      OTEL_EXPORTER_OTLP_TRACES_HEADERS: 'Authorization: Bearer sk-live-abcdef',
      OTEL_TRACES_EXPORTER: 'otlp',
      OTEL_METRICS_EXPORTER: 'prometheus,otlp',
    });
    expect(problems.map((p) => p.message)).toEqual([
      `OTEL_EXPORTER_OTLP_TRACES_HEADERS="****" is not valid (entry 1 has no \`=\`): expected ${HEADERS_ACCEPTED}; OTLP export of spans is off (otlp is left out of OTEL_TRACES_EXPORTER): nothing is sent without the headers`,
    ]);
    expect([config.tracesExporters, config.metricsExporters]).toEqual([[], ['prometheus', 'otlp']]);
  });

  it('good OTLP headers keep their names as written and their decoded values', () => {
    const { config, problems } = load({ OTEL_EXPORTER_OTLP_HEADERS: 'Authorization=Bearer%20k,x-team=a=b' });
    expect(problems).toEqual([]);
    expect(config.otlpHeaders).toEqual({ Authorization: 'Bearer k', 'x-team': 'a=b' });
  });

  it('OTEL_EXPORTER_PROMETHEUS_HOST=999.999.999.999 names the host and uses 0.0.0.0', () => {
    const { config, message } = only({ OTEL_EXPORTER_PROMETHEUS_HOST: '999.999.999.999' });
    expect(message).toBe(
      'OTEL_EXPORTER_PROMETHEUS_HOST="999.999.999.999" is not valid (not an IPv4 address: four numbers from 0 to 255): expected a host name or IP address; using the default ("0.0.0.0")',
    );
    expect(config.prometheusHost).toBe('0.0.0.0');
  });

  it.each([
    ['127.0.0.1', '127.0.0.1'],
    ['::', '::'],
    ['[::1]', '::1'],
    ['localhost', 'localhost'],
    ['metrics_sidecar', 'metrics_sidecar'],
    ['pod-1.svc.cluster.local', 'pod-1.svc.cluster.local'],
  ])('OTEL_EXPORTER_PROMETHEUS_HOST=%j is accepted as %j', (raw, host) => {
    const { config, problems } = load({ OTEL_EXPORTER_PROMETHEUS_HOST: raw });
    expect([problems, config.prometheusHost]).toEqual([[], host]);
  });

  it.each(['256.1.1.1', '1.2.3', '::g', '-bad-.example', 'a..b'])(
    'OTEL_EXPORTER_PROMETHEUS_HOST=%j is refused',
    (raw) => {
      expect(load({ OTEL_EXPORTER_PROMETHEUS_HOST: raw }).problems.map((p) => p.variable)).toEqual([
        'OTEL_EXPORTER_PROMETHEUS_HOST',
      ]);
    },
  );

  it('TAPWIRE_AI_ENDPOINTS=host=madeupprovider is read as OpenAI-compatible and says so', () => {
    const { config, message } = only({ TAPWIRE_AI_ENDPOINTS: 'llm.internal=anthropic,host=madeupprovider' });
    expect(message).toBe(
      `TAPWIRE_AI_ENDPOINTS="llm.internal=anthropic,host=madeupprovider" is not valid (madeupprovider is not a provider tapwire knows): expected ${VARIABLES.TAPWIRE_AI_ENDPOINTS.accepted}; calls to host are recorded under madeupprovider and read as the OpenAI API (write host=openai@madeupprovider to say so)`,
    );
    expect(config.aiEndpoints).toEqual([
      { host: 'llm.internal', port: undefined, provider: 'anthropic', shape: 'anthropic' },
      { host: 'host', port: undefined, provider: 'madeupprovider', shape: 'openai' },
    ]);
    expect(config.sources.aiEndpoints).toBe('TAPWIRE_AI_ENDPOINTS (adjusted)');
  });

  it('TAPWIRE_AI_ENDPOINTS names an unknown provider without a problem when it says its API', () => {
    const { config, problems } = load({
      TAPWIRE_AI_ENDPOINTS: 'vllm.internal:8000=openai@vllm,gw=anthropic@corp',
    });
    expect(problems).toEqual([]);
    expect(config.aiEndpoints).toEqual([
      { host: 'vllm.internal', port: 8000, provider: 'vllm', shape: 'openai' },
      { host: 'gw', port: undefined, provider: 'corp', shape: 'anthropic' },
    ]);
  });

  it('a 10,000-character OTEL_SERVICE_NAME is cut to 255 characters, and the message is short', () => {
    const long = 'svc-'.repeat(2500);
    const { config, message } = only({ OTEL_SERVICE_NAME: long });
    expect(config.serviceName).toBe(long.slice(0, 255));
    expect(message).toBe(
      `OTEL_SERVICE_NAME="${long.slice(0, 64)}\u2026" (10000 characters) is not valid (10000 characters): expected a non-empty string of at most 255 characters (a longer one is cut to that length); using its first 255 characters`,
    );
    expect(message.length).toBeLessThan(300);
  });

  it('a long service.name in OTEL_RESOURCE_ATTRIBUTES is cut the same way', () => {
    const { config, message } = only({ OTEL_RESOURCE_ATTRIBUTES: `service.name=${'x'.repeat(300)}` });
    expect(config.serviceName).toBe('x'.repeat(255));
    expect(message).toMatch(
      /^OTEL_RESOURCE_ATTRIBUTES="service\.name=x{51}\u2026" \(313 characters\) is not valid \(service\.name has 300 characters\): expected .*; service\.name is its first 255 characters$/,
    );
  });

  it.each([
    ['http://127.0.0.1:3000/api', 'http://127.0.0.1:3000/api', 'it has a path (/api)'],
    ['http://127.0.0.1:3000/?tenant=a', 'http://127.0.0.1:3000/?tenant=a', 'it has a query or fragment'],
    ['http://admin:hunter2@127.0.0.1:3000', 'http://****@127.0.0.1:3000', 'it holds credentials'],
  ])('TAPWIRE_UPSTREAM=%j is refused, credentials masked', (raw, shown, why) => {
    const { config, message } = only({ TAPWIRE_UPSTREAM: raw });
    expect(message).toBe(
      `TAPWIRE_UPSTREAM=${JSON.stringify(shown)} is not valid (${why}): expected ${VARIABLES.TAPWIRE_UPSTREAM.accepted}; using the default ("http://127.0.0.1:3000/")`,
    );
    expect(config.upstream).toBe('http://127.0.0.1:3000/');
  });

  it('TAPWIRE_UPSTREAM keeps an origin with or without its slash', () => {
    expect(load({ TAPWIRE_UPSTREAM: 'https://app:8443' }).config.upstream).toBe('https://app:8443/');
    expect(load({ TAPWIRE_UPSTREAM: 'http://app/' }).problems).toEqual([]);
  });

  it('URL credentials are masked in any URL variable', () => {
    const { message } = only({ OTEL_EXPORTER_OTLP_ENDPOINT: 'ftp://user:pa55@collector' });
    expect(message).toContain('"ftp://****@collector"');
    expect(message).not.toContain('pa55');
  });
});

describe('TAPWIRE_AI_PRICES file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tapwire-prices-'));
  const file = (name: string, text: string) => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };
  const priceOf = (price: string) =>
    file(`p-${Math.random()}.json`, `{"providers": {"openai": {"gpt-x": {"input": 1, "output": ${price}}}}}`);

  it.each([
    ['-1', 'providers["openai"]["gpt-x"].output is -1'],
    ['"2.5"', 'providers["openai"]["gpt-x"].output is "2.5"'],
    ['1e308', 'providers["openai"]["gpt-x"].output is 1e+308'],
    ['1e999', 'providers["openai"]["gpt-x"].output is Infinity'],
    ['10000.5', 'providers["openai"]["gpt-x"].output is 10000.5'],
    ['null', 'providers["openai"]["gpt-x"].output is null'],
  ])('a price of %s makes the file unusable', (price, reason) => {
    expect(() => readPriceFile(priceOf(price))).toThrow(new Error(reason));
  });

  it('names unknown price keys and non-objects, three at most', () => {
    const path = file(
      'many.json',
      JSON.stringify({
        providers: {
          openai: { a: { inputt: 1 }, b: 3, c: { input: -1 }, d: { output: -2 } },
          anthropic: [],
        },
      }),
    );
    expect(() => readPriceFile(path)).toThrow(
      new Error(
        'providers["openai"]["a"] has "inputt", not a price name, providers["openai"]["b"] is not an object of prices, providers["openai"]["c"].input is -1 and 2 more',
      ),
    );
  });

  it('accepts the built-in table and partial entries', () => {
    expect(() => readPriceFile(join(import.meta.dirname, '../core/ai/prices.json'))).not.toThrow();
    expect(readPriceFile(priceOf('0')).providers.openai!['gpt-x']).toEqual({ input: 1, output: 0 });
  });

  it('a missing file says so', () => {
    expect(() => readPriceFile(join(dir, 'nope.json'))).toThrow(new Error('no such file'));
  });
});

describe('TAPWIRE_AI_ATTRIBUTES', () => {
  const attributes = (raw: string) => load({ TAPWIRE_AI_ATTRIBUTES: raw });

  it('parses NAME[:HEADER], headers lowercased, at most two', () => {
    const { config, problems } = attributes('tenant:X-Tenant-Id, feature');
    expect(problems).toEqual([]);
    expect(config.aiAttributes).toEqual([
      { name: 'tenant', header: 'x-tenant-id' },
      { name: 'feature', header: undefined },
    ]);
  });

  it.each([
    'a:x,b:y,c:z',
    'tenant:x,tenant:y',
    'Tenant:x',
    'job:x-job',
    'instance',
    'le',
    'gen_ai_tenant:x',
    'error_type:x',
    'tapwire_team:x',
    'tenant:x y',
    'tenant:',
    ':x-tenant',
    ',',
  ])('rejects %j as a whole', (raw) => {
    const { config, problems } = attributes(raw);
    expect(problems.map((p) => p.variable)).toEqual(['TAPWIRE_AI_ATTRIBUTES']);
    expect(config.aiAttributes).toEqual([]);
  });
});
