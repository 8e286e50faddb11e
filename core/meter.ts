// tapwire's own instruments, without the OpenTelemetry SDK: a Meter whose histograms and counters
// are the request-path ones of ./histogram.ts and whose observable instruments run their callbacks
// when metrics are collected, as the SDK's do.
//
// Why not the SDK's MeterProvider: loading and setting it up was the largest part of the preload's
// start-up after the endpoint (measured ~6 ms of CPU on Node 24, ~11 ms and ~9 MB on Bun 1.4.5),
// paid by every process under NODE_OPTIONS, the short ones included. The SDK is still what the
// app's own @opentelemetry/api instruments get (./telemetry.ts); it loads when the app first asks
// for a meter, or at start when metrics go out over OTLP.
//
// Semantics are the SDK's for what tapwire uses: observable counters are cumulative sums (monotonic),
// up-down counters non-monotonic sums, gauges the last value; a callback observing one label set
// twice keeps the last value; a callback that throws loses its own values only.
import type {
  Attributes,
  BatchObservableCallback,
  Counter,
  Gauge,
  Histogram,
  HrTime,
  Meter,
  MetricOptions,
  Observable,
  ObservableCallback,
  ObservableCounter,
  ObservableGauge,
  ObservableResult,
  ObservableUpDownCounter,
  UpDownCounter,
} from '@opentelemetry/api';
import type {
  CollectionResult,
  DataPoint,
  MetricData,
  MetricDescriptor,
  MetricProducer,
} from '@opentelemetry/sdk-metrics';
import type { MetricDef } from '../exporters/catalogue.js';
import { canonical, descriptorOf, type FastHistograms, hrNow } from './histogram.js';
import { AggregationTemporality, DataPointType } from './metric-data.js';

type Kind = 'counter' | 'updown' | 'gauge';

/** One observable instrument: its callbacks, and the values of the collection under way. */
class OwnObservable implements ObservableCounter, ObservableGauge, ObservableUpDownCounter {
  readonly callbacks: ObservableCallback[] = [];
  /**
   * Label set (canonical form) -> value, filled by this collection's callbacks and let go once
   * data() has read it: kept from one scrape to the next, the values and their label sets lived
   * long enough for V8 to copy and then promote them (~8 kB a scrape of a hello app's runtime
   * series, --trace-gc-nvp on Node 24), and V8 grows the young generation by what survives it.
   */
  values: Map<string, { attributes: Attributes; value: number }> | undefined = undefined;
  readonly start: HrTime = hrNow();
  private readonly descriptor: MetricDescriptor;

  constructor(
    readonly kind: Kind,
    name: string,
    options: MetricOptions,
    private readonly limit: number,
  ) {
    this.descriptor = descriptorOf(def(name, options), options.valueType);
  }

  addCallback(callback: ObservableCallback): void {
    if (!this.callbacks.includes(callback)) this.callbacks.push(callback);
  }

  removeCallback(callback: ObservableCallback): void {
    const i = this.callbacks.indexOf(callback);
    if (i >= 0) this.callbacks.splice(i, 1);
  }

  observe(value: number, attributes: Attributes = {}): void {
    if (typeof value !== 'number') return; // as the SDK: a non-number is not a value
    const key = canonical(attributes);
    this.values ??= new Map();
    const values = this.values;
    const seen = values.get(key);
    if (seen !== undefined) seen.value = value;
    // Bounded like every instrument: label sets past the cap are dropped (tapwire's own callbacks
    // observe bounded sets: pools, providers, heap spaces).
    else if (values.size < this.limit) values.set(key, { attributes, value });
  }

  /** This collection's values as a metric; the values are let go (see `values`). */
  data(end: HrTime): MetricData | undefined {
    const values = this.values;
    this.values = undefined;
    if (values === undefined || values.size === 0) return undefined;
    const dataPoints: DataPoint<number>[] = [];
    for (const { attributes, value } of values.values()) {
      dataPoints.push({
        attributes,
        startTime: this.kind === 'gauge' ? end : this.start,
        endTime: end,
        value,
      });
    }
    const descriptor = this.descriptor;
    if (this.kind === 'gauge') {
      return {
        descriptor,
        aggregationTemporality: AggregationTemporality.CUMULATIVE,
        dataPointType: DataPointType.GAUGE,
        dataPoints,
      };
    }
    return {
      descriptor,
      aggregationTemporality: AggregationTemporality.CUMULATIVE,
      dataPointType: DataPointType.SUM,
      isMonotonic: this.kind === 'counter',
      dataPoints,
    };
  }
}

function unused(what: string): never {
  throw new TypeError(`tapwire's own meter has no ${what}: use the app's meter (@opentelemetry/api) for it`);
}

/**
 * The Meter tapwire's instrumentations record with, and the producer that hands what they recorded
 * to every reader (the Prometheus endpoint, the OTLP push).
 */
export class OwnMeter implements Meter, MetricProducer {
  private readonly observables: OwnObservable[] = [];
  private readonly batches: { callback: BatchObservableCallback; observables: Observable[] }[] = [];

  constructor(
    readonly histograms: FastHistograms,
    readonly scope: { name: string; version: string },
    /** Label sets per observable instrument. */
    private readonly limit: number,
  ) {}

  createHistogram(name: string, options: MetricOptions = {}): Histogram {
    return this.histograms.create(
      def(name, options, options.advice?.explicitBucketBoundaries ?? SDK_BUCKETS),
    );
  }

  createCounter(name: string, options: MetricOptions = {}): Counter {
    return this.histograms.counter(def(name, options));
  }

  createUpDownCounter(): UpDownCounter {
    return unused('up-down counter');
  }

  createGauge(): Gauge {
    return unused('synchronous gauge');
  }

  createObservableCounter(name: string, options: MetricOptions = {}): ObservableCounter {
    return this.observable('counter', name, options);
  }

  createObservableUpDownCounter(name: string, options: MetricOptions = {}): ObservableUpDownCounter {
    return this.observable('updown', name, options);
  }

  createObservableGauge(name: string, options: MetricOptions = {}): ObservableGauge {
    return this.observable('gauge', name, options);
  }

  addBatchObservableCallback(callback: BatchObservableCallback, observables: Observable[]): void {
    this.batches.push({ callback, observables });
  }

  removeBatchObservableCallback(callback: BatchObservableCallback): void {
    const i = this.batches.findIndex((b) => b.callback === callback);
    if (i >= 0) this.batches.splice(i, 1);
  }

  private observable(kind: Kind, name: string, options: MetricOptions): OwnObservable {
    const o = new OwnObservable(kind, name, options, this.limit);
    this.observables.push(o);
    return o;
  }

  /**
   * Everything recorded, with every observable callback run now (a collection: the event-loop
   * windows start anew, agent/runtime/event-loop.ts). `errors`: what callbacks threw.
   */
  collectNowWithCallbacks(): { metrics: MetricData[]; errors: unknown[] } {
    const errors: unknown[] = [];
    for (const o of this.observables) {
      o.values = undefined; // what was observed outside a collection is not this collection's
      for (const cb of o.callbacks) {
        try {
          const r = cb(o as ObservableResult);
          if (r instanceof Promise) r.catch(() => {}); // tapwire's callbacks are synchronous
        } catch (error) {
          errors.push(error);
        }
      }
    }
    for (const { callback, observables } of this.batches) {
      try {
        callback({
          observe: (o: Observable, value: number, attributes?: Attributes) => {
            if (observables.includes(o)) (o as OwnObservable).observe(value, attributes);
          },
        });
      } catch (error) {
        errors.push(error);
      }
    }
    const end = hrNow();
    const metrics = this.histograms.collectNow();
    for (const o of this.observables) {
      const m = o.data(end);
      if (m !== undefined) metrics.push(m);
    }
    return { metrics, errors };
  }

  async collect(): Promise<CollectionResult> {
    const { metrics, errors } = this.collectNowWithCallbacks();
    return {
      // The reader keeps its own resource; this one is not used.
      resourceMetrics: {
        resource: undefined as never,
        scopeMetrics: metrics.length > 0 ? [{ scope: this.scope, metrics }] : [],
      },
      errors,
    };
  }
}

/** The SDK's default explicit buckets, for a histogram created without advice. */
const SDK_BUCKETS = [0, 5, 10, 25, 50, 75, 100, 250, 500, 750, 1000, 2500, 5000, 7500, 10000];

function def(name: string, options: MetricOptions, buckets?: readonly number[]): MetricDef {
  return {
    name,
    description: options.description ?? '',
    unit: options.unit ?? '',
    ...(buckets !== undefined ? { buckets } : {}),
  } as MetricDef;
}

/** An observable instrument made from its catalogue entry, so names, units and descriptions are the ones docs and rules read. */
export function observable(meter: Meter, def: MetricDef): Observable {
  const options = { unit: def.unit, description: def.description };
  switch (def.kind) {
    case 'counter':
      return meter.createObservableCounter(def.name, options);
    case 'updowncounter':
      return meter.createObservableUpDownCounter(def.name, options);
    default:
      return meter.createObservableGauge(def.name, options);
  }
}
