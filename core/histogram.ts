// Histograms on the request path, aggregated by tapwire and handed to OpenTelemetry at
// collection time (a MetricProducer on every reader: Prometheus pull and OTLP push alike).
//
// Why not the SDK's Histogram.record(): each call hashes the attribute object (sorted keys,
// JSON) to find its series, ~1 µs a call on this machine; a hello-world request records one
// server and possibly several client measurements, and the requests/s target is >= 0.90 of the
// bare app. tapwire's attribute objects come from capped caches (./series.ts), so the series is
// found by object identity (a WeakMap hit, ~20 ns) and recording is a bucket scan and four
// increments. An attribute object that is not from a cache (a caller building its own) still
// works: it is matched by value once, then remembered by identity.
//
// Semantics are the SDK's: explicit buckets with upper-inclusive bounds, cumulative temporality,
// min/max/sum/count per point, start time = when the series first saw a value.
//
// Exemplars: recordSpan() keeps, per bucket, the latest value recorded in a sampled span with that
// span's ids (what OpenMetrics scrapes show, ../exporters/prometheus/serialize.ts). They live in
// arrays made when a series first sees a sampled span; recording one stores two strings the span
// already holds and two numbers.
import type {
  Counter as ApiCounter,
  Histogram as ApiHistogram,
  Attributes,
  HrTime,
  Span,
  ValueType,
} from '@opentelemetry/api';
import type {
  CollectionResult,
  DataPoint,
  Histogram,
  HistogramMetricData,
  MetricData,
  MetricDescriptor,
  MetricProducer,
  SumMetricData,
} from '@opentelemetry/sdk-metrics';
import type { MetricDef } from '../exporters/catalogue.js';
import type { BucketExemplar, WithExemplars } from '../exporters/prometheus/serialize.js';
import { AggregationTemporality, DataPointType } from './metric-data.js';

/** Latest sampled recording per bucket: parallel arrays, one slot per bucket. */
interface Exemplars {
  traceIds: (string | undefined)[];
  spanIds: string[];
  values: Float64Array;
  /** Milliseconds since the epoch. */
  times: Float64Array;
}

interface Point {
  attributes: Attributes;
  counts: Float64Array;
  sum: number;
  count: number;
  min: number;
  max: number;
  start: HrTime;
  exemplars: Exemplars | undefined;
}

const SAMPLED = 1; // W3C trace-flags: the span is recorded and exported

/** The API's ValueType.DOUBLE, without loading the API at start (./otel-global.ts says why). */
const DOUBLE = 1 as ValueType.DOUBLE;

/**
 * The wall clock now, as an OpenTelemetry HrTime, to the millisecond: series' start times and
 * collections' end times, which nobody reads finer. Reading the `performance` global instead would
 * load node:perf_hooks (~1.4 ms and ~1.1 MB on Node 24) in a process whose durations never need it
 * (they come from process.hrtime() on Node, ./operation.ts), once at its first recording and once
 * more at its end.
 */
export function hrNow(): HrTime {
  const ms = Date.now();
  return [Math.floor(ms / 1000), (ms % 1000) * 1e6];
}

/**
 * Attribute object -> canonical string (sorted keys): one key per label set whatever the order of
 * its keys. Used where a label set is met as a new object (not from a cache of ./series.ts).
 */
export function canonical(attributes: Attributes): string {
  const keys = Object.keys(attributes).sort();
  let out = '';
  for (const k of keys) out += `${JSON.stringify(k)}:${JSON.stringify(attributes[k])},`;
  return out;
}

/** The SDK's descriptor of an instrument, made once per instrument rather than at each collection. */
export function descriptorOf(
  def: Pick<MetricDef, 'name' | 'description' | 'unit'>,
  valueType: ValueType = DOUBLE,
): MetricDescriptor {
  return { name: def.name, description: def.description, unit: def.unit, valueType };
}

export class FastHistogram implements ApiHistogram {
  private readonly boundaries: number[];
  private readonly descriptor: MetricDescriptor;
  private readonly byRef = new WeakMap<Attributes, Point>();
  private readonly byValue = new Map<string, Point>();
  private readonly points: Point[] = [];

  constructor(readonly def: MetricDef) {
    this.boundaries = [...(def.buckets ?? [])];
    this.descriptor = descriptorOf(def);
  }

  record(value: number, attributes: Attributes = {}): void {
    this.recordSpan(value, attributes, undefined);
  }

  /** record(), and, when `span` is sampled, the value as its bucket's exemplar. */
  recordSpan(value: number, attributes: Attributes, span: Span | undefined): void {
    if (!(value >= 0) || value === Number.POSITIVE_INFINITY) return; // NaN, negative, infinite: dropped like the SDK
    let p = this.byRef.get(attributes);
    if (p === undefined) p = this.lookup(attributes);
    const b = this.boundaries;
    let i = 0;
    while (i < b.length && value > b[i]!) i++;
    p.counts[i]!++;
    p.sum += value;
    p.count++;
    if (value < p.min) p.min = value;
    if (value > p.max) p.max = value;
    if (span === undefined) return;
    const sc = span.spanContext();
    if ((sc.traceFlags & SAMPLED) === 0) return;
    let e = p.exemplars;
    if (e === undefined) {
      e = {
        traceIds: new Array(b.length + 1),
        spanIds: new Array(b.length + 1),
        values: new Float64Array(b.length + 1),
        times: new Float64Array(b.length + 1),
      };
      p.exemplars = e;
    }
    e.traceIds[i] = sc.traceId;
    e.spanIds[i] = sc.spanId;
    e.values[i] = value;
    e.times[i] = Date.now();
  }

  /** Adds what `o` gathered (boundaries of this histogram) as if each value had been recorded. */
  merge(o: Observations, attributes: Attributes): void {
    if (o.count === 0) return;
    let p = this.byRef.get(attributes);
    if (p === undefined) p = this.lookup(attributes);
    const n = Math.min(p.counts.length, o.counts.length);
    for (let i = 0; i < n; i++) p.counts[i]! += o.counts[i]!;
    p.sum += o.sum;
    p.count += o.count;
    if (o.min < p.min) p.min = o.min;
    if (o.max > p.max) p.max = o.max;
  }

  private lookup(attributes: Attributes): Point {
    const key = canonical(attributes);
    let p = this.byValue.get(key);
    if (p === undefined) {
      p = {
        attributes: Object.freeze({ ...attributes }),
        counts: new Float64Array(this.boundaries.length + 1),
        sum: 0,
        count: 0,
        min: Number.POSITIVE_INFINITY,
        max: Number.NEGATIVE_INFINITY,
        start: hrNow(),
        exemplars: undefined,
      };
      this.byValue.set(key, p);
      this.points.push(p);
    }
    this.byRef.set(attributes, p);
    return p;
  }

  /** Cumulative data points as the SDK would report them; undefined when nothing was recorded. */
  collect(end: HrTime): HistogramMetricData | undefined {
    if (this.points.length === 0) return undefined;
    const dataPoints: DataPoint<Histogram>[] = [];
    for (const p of this.points) {
      if (p.count === 0) continue;
      const value: WithExemplars = {
        buckets: { boundaries: this.boundaries, counts: Array.from(p.counts) },
        sum: p.sum,
        count: p.count,
        min: p.min,
        max: p.max,
      };
      if (p.exemplars !== undefined) value.exemplars = exemplarList(p.exemplars);
      dataPoints.push({ attributes: p.attributes, startTime: p.start, endTime: end, value });
    }
    return {
      descriptor: this.descriptor,
      aggregationTemporality: AggregationTemporality.CUMULATIVE,
      dataPointType: DataPointType.HISTOGRAM,
      dataPoints,
    };
  }
}

function exemplarList(e: Exemplars): (BucketExemplar | undefined)[] {
  const out: (BucketExemplar | undefined)[] = [];
  for (let i = 0; i < e.values.length; i++) {
    const traceId = e.traceIds[i];
    out.push(
      traceId === undefined
        ? undefined
        : { traceId, spanId: e.spanIds[i]!, value: e.values[i]!, timeMs: e.times[i]! },
    );
  }
  return out;
}

/**
 * A monotonic counter kept the same way (the AI cost): readable at any moment without a collection
 * of the SDK's, which would run every observable callback — the app's own among them — and start a
 * new event-loop window (agent/runtime/event-loop.ts). The live page reads it every second.
 */
export class FastCounter implements ApiCounter {
  private readonly byRef = new WeakMap<
    Attributes,
    { attributes: Attributes; value: number; start: HrTime }
  >();
  private readonly byValue = new Map<string, { attributes: Attributes; value: number; start: HrTime }>();

  private readonly descriptor: MetricDescriptor;

  constructor(readonly def: MetricDef) {
    this.descriptor = descriptorOf(def);
  }

  add(value: number, attributes: Attributes = {}): void {
    if (!(value >= 0) || value === Number.POSITIVE_INFINITY) return; // as the SDK: a counter only grows
    let p = this.byRef.get(attributes);
    if (p === undefined) {
      const key = canonical(attributes);
      p = this.byValue.get(key);
      if (p === undefined) {
        p = { attributes: Object.freeze({ ...attributes }), value: 0, start: hrNow() };
        this.byValue.set(key, p);
      }
      this.byRef.set(attributes, p);
    }
    p.value += value;
  }

  collect(end: HrTime): SumMetricData | undefined {
    if (this.byValue.size === 0) return undefined;
    const dataPoints: DataPoint<number>[] = [];
    for (const p of this.byValue.values()) {
      dataPoints.push({ attributes: p.attributes, startTime: p.start, endTime: end, value: p.value });
    }
    return {
      descriptor: this.descriptor,
      aggregationTemporality: AggregationTemporality.CUMULATIVE,
      dataPointType: DataPointType.SUM,
      isMonotonic: true,
      dataPoints,
    };
  }
}

/**
 * Values of one operation gathered before its label set is known (the gaps between a stream's
 * chunks, labelled with the call's outcome), merged into a histogram at its end: one bucket scan
 * per value and no label lookup until then.
 */
export class Observations {
  readonly counts: Float64Array;
  sum = 0;
  count = 0;
  min = Number.POSITIVE_INFINITY;
  max = Number.NEGATIVE_INFINITY;

  constructor(private readonly boundaries: readonly number[]) {
    this.counts = new Float64Array(boundaries.length + 1);
  }

  add(value: number): void {
    if (!(value >= 0) || value === Number.POSITIVE_INFINITY) return;
    const b = this.boundaries;
    let i = 0;
    while (i < b.length && value > b[i]!) i++;
    this.counts[i]!++;
    this.sum += value;
    this.count++;
    if (value < this.min) this.min = value;
    if (value > this.max) this.max = value;
  }
}

/** Hands tapwire's histograms (and its few counters of the same kind) to the SDK's readers at each collection. */
export class FastHistograms implements MetricProducer {
  private readonly all: (FastHistogram | FastCounter)[] = [];

  constructor(private readonly scope: { name: string; version: string }) {}

  create(def: MetricDef): FastHistogram {
    const h = new FastHistogram(def);
    this.all.push(h);
    return h;
  }

  counter(def: MetricDef): FastCounter {
    const c = new FastCounter(def);
    this.all.push(c);
    return c;
  }

  /**
   * Every instrument with a recorded value, collected now: synchronously, unlike collect(), and
   * without any side effect (no callback runs), so reading it as often as one likes changes nothing.
   */
  collectNow(): MetricData[] {
    const end = hrNow();
    const metrics: MetricData[] = [];
    for (const h of this.all) {
      const m = h.collect(end);
      if (m !== undefined) metrics.push(m);
    }
    return metrics;
  }

  async collect(): Promise<CollectionResult> {
    const metrics = this.collectNow();
    return {
      // The reader keeps the SDK's resource; this one is not used.
      resourceMetrics: {
        resource: undefined as never,
        scopeMetrics: metrics.length > 0 ? [{ scope: this.scope, metrics }] : [],
      },
      errors: [],
    };
  }
}
