// One MeterProvider per process, its instruments created from the catalogue, and the exporters
// the configuration asks for. Everything an instrumentation records goes through the instruments
// here; nothing else creates instruments.
import type { Counter, Histogram, Meter, ObservableResult } from '@opentelemetry/api';
import { type Resource, resourceFromAttributes } from '@opentelemetry/resources';
import {
  MeterProvider,
  type MetricProducer,
  type MetricReader,
  type PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics';
import type { Config } from '../config/index.js';
import { METRICS, type MetricDef } from '../exporters/catalogue.js';
import { PullReader } from '../exporters/prometheus/reader.js';
import { serialize } from '../exporters/prometheus/serialize.js';
import { type FastCounter, type FastHistogram, FastHistograms } from './histogram.js';
import { logCounts, logDrops } from './log-counts.js';
import { RUNTIME, RUNTIME_VERSION, SCOPE, VERSION } from './runtime.js';
import { overflowCounts } from './series.js';

export interface GenAiUsageCounters {
  input: Counter;
  output: Counter;
  cacheRead: Counter;
  cacheWrite: Counter;
  reasoning: Counter;
}

/** The OTEL_SEMCONV_STABILITY_OPT_IN value that turns on the latest experimental GenAI conventions. */
export const GEN_AI_LATEST = 'gen_ai_latest_experimental';

export interface Telemetry {
  provider: MeterProvider;
  /** The process's identity, as every reader reports it. */
  resource: Resource;
  meter: Meter;
  pull: PullReader | undefined;
  /** The OTLP push reader when OTEL_METRICS_EXPORTER includes otlp. */
  otlp: PeriodicExportingMetricReader | undefined;
  /** Request-path histograms (./histogram.ts); create further ones with histograms.create(def). */
  histograms: FastHistograms;
  /** The durations keep exemplars (FastHistogram.recordSpan). */
  httpServerDuration: FastHistogram;
  httpClientDuration: FastHistogram;
  dbDuration: FastHistogram;
  genAiDuration: FastHistogram;
  genAiTokens: Histogram;
  genAiTimeToFirstChunk: Histogram;
  genAiTimePerOutputChunk: FastHistogram;
  genAiOutputSpeed: Histogram;
  genAiCost: FastCounter;
  genAiUnparsedStreams: FastCounter;
  genAiUsageDropped: FastCounter;
  /** The newer per-type usage counters (OTEL_SEMCONV_STABILITY_OPT_IN=gen_ai_latest_experimental). */
  genAiUsage: GenAiUsageCounters | undefined;
  /** Prometheus exposition of everything collected now. */
  render(): Promise<string>;
}

/** The process's identity, shared by metrics and traces. */
export function agentResource(config: Config): Resource {
  return resourceFromAttributes({
    ...config.resourceAttributes,
    'service.name': config.serviceName,
    'deployment.environment.name': config.environment,
    'telemetry.sdk.name': 'tapwire',
    'telemetry.sdk.language': 'nodejs',
    'telemetry.sdk.version': VERSION,
    'process.runtime.name': RUNTIME,
    'process.runtime.version': RUNTIME_VERSION,
    // Tells apart the worker processes of one service (the sidecar's merge labels them by it).
    'process.pid': process.pid,
  });
}

/** `otlp`: the push reader when OTEL_METRICS_EXPORTER includes otlp (../exporters/otlp.ts, loaded on demand). */
export function createTelemetry(
  config: Config,
  otlp: PeriodicExportingMetricReader | undefined,
  resource?: Resource,
  histograms: FastHistograms = new FastHistograms(SCOPE),
  /** Further producers for the Prometheus reader (the app's prom-client registry). */
  producers: readonly MetricProducer[] = [],
): Telemetry {
  const pull = config.metricsExporters.includes('prometheus')
    ? new PullReader(config.cardinalityLimit, [histograms, ...producers])
    : undefined;
  const all: MetricReader[] = [];
  if (pull) all.push(pull);
  if (otlp) all.push(otlp);
  const identity = resource ?? agentResource(config);
  const provider = new MeterProvider({
    resource: identity,
    readers: all,
    // The readers cap the app's instruments (registered globally, agent/start.ts) at the limit
    // like tapwire's own; tapwire's own instruments cap themselves (./series.ts, so overflow is
    // counted exactly), and the SDK's limit for them sits above that so it never cuts in first.
    views: [
      {
        meterName: SCOPE.name,
        instrumentName: '*',
        aggregationCardinalityLimit: config.cardinalityLimit + 16,
      },
    ],
  });
  const meter = provider.getMeter(SCOPE.name, SCOPE.version);

  const info = { version: VERSION, runtime: RUNTIME, 'runtime.version': RUNTIME_VERSION };
  meter
    .createObservableGauge(METRICS.agentInfo.name, { description: METRICS.agentInfo.description })
    .addCallback((r: ObservableResult) => r.observe(1, info));

  meter
    .createObservableCounter(METRICS.logRecords.name, {
      unit: METRICS.logRecords.unit,
      description: METRICS.logRecords.description,
    })
    .addCallback((r: ObservableResult) => {
      for (const level of Object.keys(logCounts)) r.observe(logCounts[level]!, { level });
    });

  meter
    .createObservableCounter(METRICS.logRecordsDropped.name, {
      unit: METRICS.logRecordsDropped.unit,
      description: METRICS.logRecordsDropped.description,
    })
    .addCallback((r: ObservableResult) => {
      for (const reason of Object.keys(logDrops)) r.observe(logDrops[reason]!, { reason });
    });

  meter
    .createObservableCounter(METRICS.cardinalityOverflow.name, {
      unit: METRICS.cardinalityOverflow.unit,
      description: METRICS.cardinalityOverflow.description,
    })
    .addCallback((r: ObservableResult) => {
      for (const [metric, n] of overflowCounts) r.observe(n, { metric });
    });

  return {
    provider,
    resource: identity,
    meter,
    pull,
    otlp,
    histograms,
    httpServerDuration: histograms.create(METRICS.httpServerDuration),
    httpClientDuration: histograms.create(METRICS.httpClientDuration),
    dbDuration: histograms.create(METRICS.dbDuration),
    genAiDuration: histograms.create(METRICS.genAiDuration),
    genAiTokens: histograms.create(METRICS.genAiTokens),
    genAiTimeToFirstChunk: histograms.create(METRICS.genAiTimeToFirstChunk),
    // Counters of the AI path, kept beside the histograms so they read without a collection.
    genAiCost: histograms.counter(METRICS.genAiCost),
    genAiUnparsedStreams: histograms.counter(METRICS.genAiUnparsedStreams),
    genAiUsageDropped: histograms.counter(METRICS.genAiUsageDropped),
    genAiTimePerOutputChunk: histograms.create(METRICS.genAiTimePerOutputChunk),
    genAiOutputSpeed: histograms.create(METRICS.genAiOutputSpeed),
    genAiUsage: config.semconvOptIn.includes(GEN_AI_LATEST)
      ? {
          input: counter(meter, METRICS.genAiUsageInput),
          output: counter(meter, METRICS.genAiUsageOutput),
          cacheRead: counter(meter, METRICS.genAiUsageCacheRead),
          cacheWrite: counter(meter, METRICS.genAiUsageCacheWrite),
          reasoning: counter(meter, METRICS.genAiUsageReasoning),
        }
      : undefined,
    async render() {
      if (!pull) return '';
      const { resourceMetrics } = await pull.scrape();
      return serialize(resourceMetrics);
    },
  };
}

function counter(meter: Meter, def: MetricDef): Counter {
  return meter.createCounter(def.name, { unit: def.unit, description: def.description });
}
