// A pull MetricReader: Prometheus asks, we collect. Nothing runs between scrapes.
import {
  AggregationTemporality,
  type CollectionResult,
  type InstrumentType,
  type MetricProducer,
  MetricReader,
} from '@opentelemetry/sdk-metrics';

export class PullReader extends MetricReader {
  constructor(cardinalityLimit: number, metricProducers: MetricProducer[] = []) {
    super({
      metricProducers,
      aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE,
      // The app's instruments: `cardinalityLimit` label sets, then the overflow series (the SDK
      // counts the overflow series in its limit). tapwire's own instruments cap themselves and
      // get a higher limit through a view (core/telemetry.ts).
      cardinalitySelector: (_type: InstrumentType) => cardinalityLimit + 1,
    });
  }

  protected override async onShutdown(): Promise<void> {}
  protected override async onForceFlush(): Promise<void> {}

  scrape(): Promise<CollectionResult> {
    return this.collect();
  }
}
