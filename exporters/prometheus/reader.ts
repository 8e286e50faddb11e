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
      // tapwire caps label sets itself (core/series.ts) so it can count overflow exactly; the
      // SDK's own limit sits above ours so it never cuts in first.
      cardinalitySelector: (_type: InstrumentType) => cardinalityLimit + 16,
    });
  }

  protected override async onShutdown(): Promise<void> {}
  protected override async onForceFlush(): Promise<void> {}

  scrape(): Promise<CollectionResult> {
    return this.collect();
  }
}
