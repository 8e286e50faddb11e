// OTLP/HTTP metric push, loaded only when OTEL_METRICS_EXPORTER includes otlp: the exporter
// brings https, http2, zlib and more, ~20 ms of start-up nobody else should pay.
import {
  AggregationTemporalityPreference,
  OTLPMetricExporter,
} from '@opentelemetry/exporter-metrics-otlp-http';
import { OTLPMetricExporter as OTLPMetricProtoExporter } from '@opentelemetry/exporter-metrics-otlp-proto';
import type { CompressionAlgorithm } from '@opentelemetry/otlp-exporter-base';
import { type MetricProducer, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import type { Config } from '../config/index.js';

/** OTLP/HTTP push every OTEL_METRIC_EXPORT_INTERVAL, cumulative like Prometheus; the SDK unrefs its timer. */
export function otlpReader(
  config: Config,
  metricProducers: MetricProducer[] = [],
): PeriodicExportingMetricReader {
  return new PeriodicExportingMetricReader({
    metricProducers,
    exporter: new (config.otlpMetricsProtocol === 'http/json' ? OTLPMetricExporter : OTLPMetricProtoExporter)(
      {
        url: config.otlpMetricsEndpoint,
        headers: config.otlpHeaders,
        compression: config.otlpMetricsCompression as CompressionAlgorithm,
        temporalityPreference: AggregationTemporalityPreference.CUMULATIVE,
      },
    ),
    exportIntervalMillis: config.metricExportIntervalMs,
    exportTimeoutMillis: Math.min(30_000, config.metricExportIntervalMs),
    // As in the Prometheus reader (./prometheus/reader.ts): the app's instruments capped at the limit.
    cardinalityLimits: { default: config.cardinalityLimit + 1 },
  });
}

/**
 * Pushes what is buffered (OTLP metrics, spans) when the event loop empties on a normal exit.
 * 'beforeExit' fires again once the flush's requests finish; `once` lets the process end then.
 * No signal handlers: a signal's exit belongs to the app. process.exit() skips this (Node emits
 * no 'beforeExit' then). The flush lasts at most the exporters' timeout (OTEL_EXPORTER_OTLP_TIMEOUT,
 * 10 s) when the receiver is unreachable, because the SDK retries. Returns the undo.
 */
export function flushOnExit(
  flushers: readonly (() => Promise<unknown>)[],
  onError: (error: unknown) => void,
): () => void {
  const flush = () => {
    Promise.all(flushers.map((f) => f())).catch(onError);
  };
  process.once('beforeExit', flush);
  return () => process.removeListener('beforeExit', flush);
}
