// The app's prom-client registry as OpenTelemetry metric data, so that it is served on tapwire's
// /metrics and travels with a process's other metrics to the host's endpoint (../agent/endpoint.ts)
// like everything else. A MetricProducer on every reader; it reads the registry only when a reader
// collects (a scrape, a push), through prom-client's own `getMetricsAsJSON()`.
//
// - Names stay the app's: the data travels in the scope `prom-client`, which the serializer
//   renders without translation (./prometheus/serialize.ts).
// - Counters -> monotonic sums, gauges -> gauges, histograms -> histograms (prom-client's cumulative
//   `le` buckets become per-bucket counts again). A summary has no OpenTelemetry form: its
//   quantiles are served as a gauge of the summary's name with the `quantile` label, `_sum` and
//   `_count` as counters, so every series keeps its name (the TYPE lines say gauge and counter).
// - prom-client's default metrics (`collectDefaultMetrics()`: process_cpu_*, nodejs_eventloop_lag_*,
//   nodejs_heap_*, ...) measure what tapwire's runtime metrics measure; while tapwire's are on,
//   prom-client's are left out (`keepDefaults`), said once by the agent.
// - Every metric keeps at most `limit` label sets, like tapwire's own; the rest is added into one
//   series labelled `otel_metric_overflow="true"`.
import type { Attributes, HrTime } from '@opentelemetry/api';
import type {
  CollectionResult,
  DataPoint,
  Histogram,
  MetricData,
  MetricProducer,
} from '@opentelemetry/sdk-metrics';
import { hrNow } from '../core/histogram.js';
import { AggregationTemporality, DataPointType } from '../core/metric-data.js';
import { PROM_CLIENT_SCOPE } from './catalogue.js';

/** One metric of prom-client's `registry.getMetricsAsJSON()`. */
export interface PromMetricJson {
  name: string;
  help?: string;
  type: string;
  values?: { value: number; labels?: Record<string, string | number>; metricName?: string }[];
}

/** What tapwire needs of a prom-client Registry. */
export interface PromRegistry {
  getMetricsAsJSON(): Promise<PromMetricJson[]> | PromMetricJson[];
}

const OVERFLOW: Attributes = Object.freeze({ 'otel.metric.overflow': true });

function key(labels: Record<string, string | number> | undefined, skip?: string): string {
  if (labels === undefined) return '';
  let out = '';
  for (const k of Object.keys(labels).sort()) {
    if (k !== skip) out += `${JSON.stringify(k)}:${JSON.stringify(String(labels[k]))},`;
  }
  return out;
}

function attributes(labels: Record<string, string | number> | undefined, skip?: string): Attributes {
  const out: Attributes = {};
  if (labels === undefined) return out;
  for (const k of Object.keys(labels)) if (k !== skip) out[k] = String(labels[k]);
  return out;
}

/** Label sets of one metric, at most `limit` of them; later ones share the overflow entry. */
class Capped<T> {
  readonly entries = new Map<string, { attributes: Attributes; value: T }>();

  constructor(
    private readonly limit: number,
    private readonly fresh: () => T,
  ) {}

  get(labels: Record<string, string | number> | undefined, skip?: string): T {
    let k = key(labels, skip);
    let attrs: Attributes | undefined;
    if (!this.entries.has(k) && this.entries.size >= this.limit) {
      k = '\u0000overflow';
      attrs = OVERFLOW;
    }
    let entry = this.entries.get(k);
    if (entry === undefined) {
      entry = { attributes: attrs ?? attributes(labels, skip), value: this.fresh() };
      this.entries.set(k, entry);
    }
    return entry.value;
  }
}

function descriptor(name: string, help: string | undefined) {
  // `type` and `valueType` are not read by the serializer or the merge; unit is empty: the name is final.
  return {
    name,
    description: help ?? '',
    unit: '',
    type: 'COUNTER',
    valueType: 1,
  } as MetricData['descriptor'];
}

/** A prom-client metric as OpenTelemetry metric data (one or, for a summary, three metrics). */
export function convertPromMetric(
  m: PromMetricJson,
  limit: number,
  start: HrTime,
  end: HrTime,
): MetricData[] {
  const values = Array.isArray(m.values) ? m.values : [];
  const point = <V>(attributes: Attributes, value: V): DataPoint<V> => ({
    attributes,
    startTime: start,
    endTime: end,
    value,
  });
  const numbers = (list: typeof values, add: boolean) => {
    const capped = new Capped(limit, () => ({ v: 0 }));
    for (const v of list) {
      const cell = capped.get(v.labels);
      cell.v = add ? cell.v + v.value : v.value;
    }
    return [...capped.entries.values()].map((e) => point(e.attributes, e.value.v));
  };
  const sum = (name: string, list: typeof values): MetricData =>
    ({
      descriptor: descriptor(name, m.help),
      aggregationTemporality: AggregationTemporality.CUMULATIVE,
      dataPointType: DataPointType.SUM,
      isMonotonic: true,
      dataPoints: numbers(list, true),
    }) as MetricData;
  const gauge = (name: string, list: typeof values): MetricData =>
    ({
      descriptor: descriptor(name, m.help),
      aggregationTemporality: AggregationTemporality.CUMULATIVE,
      dataPointType: DataPointType.GAUGE,
      dataPoints: numbers(list, false),
    }) as MetricData;

  switch (m.type) {
    case 'counter':
      return [sum(m.name, values)];
    case 'gauge':
      return [gauge(m.name, values)];
    case 'histogram':
      return [histogram(m, values, limit, point)];
    case 'summary': {
      const of = (suffix: string) => values.filter((v) => v.metricName === `${m.name}${suffix}`);
      return [
        gauge(
          m.name,
          values.filter((v) => v.metricName === undefined || v.metricName === m.name),
        ),
        sum(`${m.name}_sum`, of('_sum')),
        sum(`${m.name}_count`, of('_count')),
      ];
    }
    default:
      return [];
  }
}

interface Buckets {
  cumulative: Map<number, number>;
  sum: number;
  count: number;
}

function histogram(
  m: PromMetricJson,
  values: NonNullable<PromMetricJson['values']>,
  limit: number,
  point: <V>(attributes: Attributes, value: V) => DataPoint<V>,
): MetricData {
  const capped = new Capped<Buckets>(limit, () => ({ cumulative: new Map(), sum: 0, count: 0 }));
  for (const v of values) {
    const b = capped.get(v.labels, 'le');
    if (v.metricName === `${m.name}_bucket`) {
      const le = Number(v.labels?.le);
      if (Number.isFinite(le)) b.cumulative.set(le, (b.cumulative.get(le) ?? 0) + v.value);
    } else if (v.metricName === `${m.name}_sum`) {
      b.sum += v.value;
    } else if (v.metricName === `${m.name}_count`) {
      b.count += v.value;
    }
  }
  const dataPoints = [...capped.entries.values()].map(({ attributes, value }) => {
    const boundaries = [...value.cumulative.keys()].sort((a, b) => a - b);
    const counts: number[] = [];
    let below = 0;
    for (const le of boundaries) {
      const c = value.cumulative.get(le)!;
      counts.push(c - below);
      below = c;
    }
    counts.push(value.count - below); // the +Inf bucket
    const h: Histogram = { buckets: { boundaries, counts }, sum: value.sum, count: value.count };
    return point(attributes, h);
  });
  return {
    descriptor: descriptor(m.name, m.help),
    aggregationTemporality: AggregationTemporality.CUMULATIVE,
    dataPointType: DataPointType.HISTOGRAM,
    dataPoints,
  } as MetricData;
}

export interface PromClientOptions {
  /** Label sets kept per metric. */
  limit: number;
  /** Serve prom-client's default metrics (false while tapwire's runtime metrics are on). */
  keepDefaults: boolean;
  /** A default metric was left out (the first time). */
  onDefaultsLeftOut?: () => void;
  /** prom-client failed to collect (once per failure streak). */
  onError?: (error: unknown) => void;
}

interface Source {
  registry: PromRegistry;
  /** Names collectDefaultMetrics() registers, unprefixed (a prefixed name ends with one). */
  defaults: readonly string[];
}

const EMPTY: CollectionResult = {
  resourceMetrics: { resource: undefined as never, scopeMetrics: [] },
  errors: [],
};

/** The registries of the app's prom-client copies (usually one), read at each collection. */
export class PromClientProducer implements MetricProducer {
  private readonly sources = new Set<Source>();
  private readonly start = hrNow();
  private failing = false;
  private saidDefaults = false;

  constructor(private readonly options: PromClientOptions) {}

  /** Serves `registry` from now on; returns the undo. */
  add(registry: PromRegistry, defaults: readonly string[]): () => void {
    const source = { registry, defaults };
    this.sources.add(source);
    return () => this.sources.delete(source);
  }

  /** No registry served yet (the app has not loaded prom-client). */
  idle(): boolean {
    return this.sources.size === 0;
  }

  private isDefault(source: Source, name: string): boolean {
    if (this.options.keepDefaults) return false;
    for (const d of source.defaults) {
      if (name.endsWith(d)) {
        if (!this.saidDefaults) {
          this.saidDefaults = true;
          this.options.onDefaultsLeftOut?.();
        }
        return true;
      }
    }
    return false;
  }

  async collect(): Promise<CollectionResult> {
    if (this.sources.size === 0) return EMPTY;
    const metrics: MetricData[] = [];
    const end = hrNow();
    try {
      for (const source of this.sources) {
        for (const m of await source.registry.getMetricsAsJSON()) {
          if (typeof m?.name !== 'string' || this.isDefault(source, m.name)) continue;
          metrics.push(...convertPromMetric(m, this.options.limit, this.start, end));
        }
      }
      this.failing = false;
    } catch (error) {
      if (!this.failing) this.options.onError?.(error);
      this.failing = true;
      return EMPTY;
    }
    return {
      resourceMetrics: {
        resource: undefined as never,
        scopeMetrics: [{ scope: { name: PROM_CLIENT_SCOPE }, metrics }],
      },
      errors: [],
    };
  }
}
