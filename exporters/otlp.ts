// OTLP/HTTP metric push, loaded only when OTEL_METRICS_EXPORTER includes otlp: the exporter
// brings https, http2, zlib and more, ~20 ms of start-up nobody else should pay.
import {
  AggregationTemporalityPreference,
  OTLPMetricExporter,
} from '@opentelemetry/exporter-metrics-otlp-http';
import { type MetricProducer, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import type { Config } from '../config/index.js';

/** OTLP/HTTP (JSON) push every OTEL_METRIC_EXPORT_INTERVAL, cumulative like Prometheus; the SDK unrefs its timer. */
export function otlpReader(
  config: Config,
  metricProducers: MetricProducer[] = [],
): PeriodicExportingMetricReader {
  return new PeriodicExportingMetricReader({
    metricProducers,
    exporter: new OTLPMetricExporter({
      url: config.otlpMetricsEndpoint,
      headers: config.otlpHeaders,
      temporalityPreference: AggregationTemporalityPreference.CUMULATIVE,
    }),
    exportIntervalMillis: config.metricExportIntervalMs,
    exportTimeoutMillis: Math.min(30_000, config.metricExportIntervalMs),
    // As in PullReader: tapwire's own caps (agent/series.ts) cut in first.
    cardinalityLimits: { default: config.cardinalityLimit + 16 },
  });
}
