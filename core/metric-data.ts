// The two enums of the SDK's metric data model (@opentelemetry/sdk-metrics, export/MetricData and
// export/AggregationTemporality), as values of tapwire's own. Importing them from the SDK put its
// whole MeterProvider into the preload's start-up graph: esbuild placed the enums in the chunk
// with the rest of the SDK (measured: 104 kB loaded by every process). The types are the SDK's,
// so data made here is the SDK's data; tests/histogram.test.ts checks the values match.
import type {
  DataPointType as SdkPointType,
  AggregationTemporality as SdkTemporality,
} from '@opentelemetry/sdk-metrics';

export const DataPointType = {
  HISTOGRAM: 0 as SdkPointType.HISTOGRAM,
  EXPONENTIAL_HISTOGRAM: 1 as SdkPointType.EXPONENTIAL_HISTOGRAM,
  GAUGE: 2 as SdkPointType.GAUGE,
  SUM: 3 as SdkPointType.SUM,
} as const;

export const AggregationTemporality = {
  DELTA: 0 as SdkTemporality.DELTA,
  CUMULATIVE: 1 as SdkTemporality.CUMULATIVE,
} as const;
