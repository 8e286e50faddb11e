// tapwire's instruments, created from the catalogue, and the exporters the configuration asks
// for. Everything an instrumentation records goes through the instruments here; nothing else
// creates instruments. They are tapwire's own (./meter.ts, ./histogram.ts); the OpenTelemetry SDK's
// MeterProvider (./sdk.ts) is created only for the app's own @opentelemetry/api instruments, when
// the app first asks for a meter, or at start when metrics go out over OTLP (its reader is the SDK's).
import type { Attributes, AttributeValue, Counter, Histogram, ObservableResult } from '@opentelemetry/api';
import type { Resource } from '@opentelemetry/resources';
import type { MetricProducer, MetricReader, ResourceMetrics, ScopeMetrics } from '@opentelemetry/sdk-metrics';
import type { Config } from '../config/index.js';
import { METRICS, type MetricDef } from '../exporters/catalogue.js';
import { requireEntry } from './entries.js';
import { type FastCounter, type FastHistogram, FastHistograms } from './histogram.js';
import { logCounts, logDrops } from './log-counts.js';
import { OwnMeter, observable } from './meter.js';
import { RUNTIME, RUNTIME_VERSION, SCOPE, VERSION } from './runtime.js';
import type { AppMeters } from './sdk.js';
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
  /** The process's identity, as every reader reports it. */
  resource: Resource;
  /** tapwire's own instruments (./meter.ts). */
  meter: OwnMeter;
  /** OTEL_METRICS_EXPORTER includes prometheus: the endpoint reads collect(). */
  prometheus: boolean;
  /** The SDK's MeterProvider for the app's own instruments, created (and the SDK loaded) on the first call. */
  app(): AppMeters;
  /** The same, when it exists already: flushed and shut down with the agent. */
  appIfCreated(): AppMeters | undefined;
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
  /**
   * Everything collected now, for the Prometheus endpoint: tapwire's instruments (their callbacks
   * run), the further producers (the app's prom-client registry) and the app's own instruments.
   */
  collect(): Promise<ResourceMetrics>;
  /**
   * Nothing recorded yet that would outlive the process: no point in tapwire's request histograms
   * and counters, no instrument of the app's own (the SDK's provider not created, no prom-client
   * registry served). Runtime metrics do not count: they describe the process alone.
   */
  quiet(): boolean;
}

/** A further producer (the app's prom-client registry); `idle()`: it has nothing to serve yet. */
export interface Producer extends MetricProducer {
  idle?(): boolean;
}

/**
 * A resource whose attributes are all known at start (none detected later). Not the SDK's
 * resourceFromAttributes: @opentelemetry/resources brings @opentelemetry/core with it (propagators,
 * baggage, timers; ~1.4 ms of start-up on Node 24, measured), and a process that never loads the SDK
 * reads only the attributes. The SDK takes this one as it is (the Resource interface).
 */
class PlainResource implements Resource {
  readonly asyncAttributesPending = false;
  readonly attributes: Attributes;

  constructor(attributes: Attributes) {
    // The SDK's resource drops what is not an attribute value (config.resourceAttributes are
    // strings, the rest ours; kept as a rule so the two never differ).
    const kept: Attributes = {};
    for (const [k, v] of Object.entries(attributes)) if (k !== '' && isAttributeValue(v)) kept[k] = v;
    this.attributes = Object.freeze(kept);
  }

  async waitForAsyncAttributes(): Promise<void> {}

  getRawAttributes(): [string, AttributeValue | undefined][] {
    return Object.entries(this.attributes);
  }

  /** As the SDK's merge: `other`'s attributes win. */
  merge(other: Resource | null): Resource {
    if (other == null) return this;
    return new PlainResource({ ...this.attributes, ...other.attributes });
  }
}

/** The SDK's rule (@opentelemetry/core isAttributeValue): a primitive, or an array of one primitive type and nulls. */
function isAttributeValue(v: unknown): v is AttributeValue {
  const t = typeof v;
  if (t === 'string' || t === 'number' || t === 'boolean') return true;
  if (!Array.isArray(v)) return false;
  let type: string | undefined;
  for (const x of v) {
    if (x == null) continue;
    const tx = typeof x;
    if (tx !== 'string' && tx !== 'number' && tx !== 'boolean') return false;
    if (type === undefined) type = tx;
    else if (tx !== type) return false;
  }
  return true;
}

/** The process's identity, shared by metrics and traces. */
export function agentResource(config: Config): Resource {
  return new PlainResource({
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
  otlp: MetricReader | undefined,
  resource?: Resource,
  histograms: FastHistograms = new FastHistograms(SCOPE),
  /** Further producers for the Prometheus endpoint (the app's prom-client registry). */
  producers: readonly Producer[] = [],
  meter: OwnMeter = new OwnMeter(histograms, SCOPE, config.cardinalityLimit + 16),
): Telemetry {
  const prometheus = config.metricsExporters.includes('prometheus');
  const identity = resource ?? agentResource(config);
  let app: AppMeters | undefined;
  const createApp = (): AppMeters => {
    app ??= requireEntry('sdk').appMeters(identity, config.cardinalityLimit, prometheus, otlp);
    return app;
  };
  // The OTLP push reader is the SDK's: it needs its provider from the start.
  if (otlp !== undefined) createApp();

  const info = { version: VERSION, runtime: RUNTIME, 'runtime.version': RUNTIME_VERSION };
  observable(meter, METRICS.agentInfo).addCallback((r: ObservableResult) => r.observe(1, info));
  observable(meter, METRICS.logRecords).addCallback((r: ObservableResult) => {
    for (const level of Object.keys(logCounts)) r.observe(logCounts[level]!, { level });
  });
  observable(meter, METRICS.logRecordsDropped).addCallback((r: ObservableResult) => {
    for (const reason of Object.keys(logDrops)) r.observe(logDrops[reason]!, { reason });
  });
  observable(meter, METRICS.cardinalityOverflow).addCallback((r: ObservableResult) => {
    for (const [metric, n] of overflowCounts) r.observe(n, { metric });
  });

  async function collect(): Promise<ResourceMetrics> {
    const { metrics } = meter.collectNowWithCallbacks();
    const scopeMetrics: ScopeMetrics[] = metrics.length > 0 ? [{ scope: SCOPE, metrics }] : [];
    if (app?.pull !== undefined) scopeMetrics.push(...(await app.pull.scrape()).resourceMetrics.scopeMetrics);
    for (const p of producers) scopeMetrics.push(...(await p.collect()).resourceMetrics.scopeMetrics);
    return { resource: identity, scopeMetrics };
  }

  return {
    resource: identity,
    meter,
    prometheus,
    app: createApp,
    appIfCreated: () => app,
    collect,
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
    quiet: () =>
      app === undefined &&
      producers.every((p) => p.idle?.() === true) &&
      histograms.collectNow().length === 0,
  };
}

function counter(meter: OwnMeter, def: MetricDef): Counter {
  return meter.createCounter(def.name, { unit: def.unit, description: def.description });
}
