// Several processes of one service on one host, served as one: what the process holding the host's
// /metrics port renders from its own metrics and those its siblings push (agent/endpoint.ts).
//
// - Counters and histograms are summed over the processes, and a process that is gone stays in the
//   sums with its last values (retire()). A worker that exits or is replaced therefore never makes a
//   summed counter go backwards — the flaw of summing only the live processes (prom-client's
//   AggregatorRegistry), where a restarted worker reads as a counter reset.
// - Up-down counters (requests in flight, pool connections) are summed over the live processes
//   only: a process that is gone has nothing in flight.
// - Gauges, and the catalogue's per-process metrics (event loop, heap, GC, RSS, agent info), where a
//   sum means nothing, stay per process with one label, `tapwire_process`: a slot number the holder
//   hands out (0 for itself) and reuses when a process goes, so it stays bounded as workers come and
//   go.
// Every summed metric keeps at most `limit` label sets, the same cap as one process.
import type { Attributes, HrTime } from '@opentelemetry/api';
import type { InstrumentationScope } from '@opentelemetry/core';
import type {
  DataPoint,
  Histogram,
  MetricData,
  ResourceMetrics,
  ScopeMetrics,
} from '@opentelemetry/sdk-metrics';
import { canonical, hrNow } from '../core/histogram.js';
import { DataPointType } from '../core/metric-data.js';
import type { WithExemplars } from './prometheus/serialize.js';

/** The attribute that tells per-process series apart (Prometheus label `tapwire_process`). */
export const PROCESS_ATTRIBUTE = 'tapwire.process';

const OVERFLOW: Attributes = Object.freeze({ 'otel.metric.overflow': true });

export interface ProcessSource {
  /** 0 for the process that serves /metrics, 1.. for the others. */
  slot: number;
  resourceMetrics: ResourceMetrics;
}

interface Point {
  attributes: Attributes;
  startTime: HrTime;
  value: number | Histogram;
}

/** One metric's points summed by label set. */
class Sum {
  readonly points = new Map<string, Point>();

  constructor(
    readonly scope: InstrumentationScope,
    readonly metric: MetricData,
    private readonly limit: number,
  ) {}

  add(p: DataPoint<number | Histogram>): void {
    let key = canonical(p.attributes);
    let attributes = p.attributes;
    if (!this.points.has(key) && this.points.size >= this.limit) {
      key = canonical(OVERFLOW);
      attributes = OVERFLOW;
    }
    const known = this.points.get(key);
    if (known === undefined) {
      this.points.set(key, { attributes, startTime: p.startTime, value: copy(p.value) });
      return;
    }
    if (earlier(p.startTime, known.startTime)) known.startTime = p.startTime;
    if (typeof known.value === 'number') known.value += p.value as number;
    else addHistogram(known.value, p.value as Histogram);
  }

  /**
   * Takes back what add(p) added, where it went: its label set, else the overflow series (it went
   * there when the label sets were full). Minimum and maximum stay (they cannot be taken back; the
   * Prometheus page shows neither).
   */
  subtract(p: DataPoint<number | Histogram>): void {
    const known = this.points.get(canonical(p.attributes)) ?? this.points.get(canonical(OVERFLOW));
    if (known === undefined) return;
    if (typeof known.value === 'number') {
      known.value -= p.value as number;
      return;
    }
    const into = known.value;
    const h = p.value as Histogram;
    const a = into.buckets.boundaries;
    const b = h.buckets.boundaries;
    if (a.length !== b.length || a.some((x, i) => x !== b[i])) return; // it was left out (addHistogram)
    for (let i = 0; i < into.buckets.counts.length; i++) into.buckets.counts[i]! -= h.buckets.counts[i] ?? 0;
    into.count -= h.count;
    into.sum = (into.sum ?? 0) - (h.sum ?? 0);
  }

  /** A copy of these sums (the retired ones are the start of every merge). */
  clone(): Sum {
    const c = new Sum(this.scope, this.metric, this.limit);
    for (const [k, p] of this.points) c.points.set(k, { ...p, value: copy(p.value) });
    return c;
  }

  data(end: HrTime): MetricData {
    const dataPoints = [...this.points.values()].map((p) => ({
      attributes: p.attributes,
      startTime: p.startTime,
      endTime: end,
      value: p.value,
    }));
    return { ...this.metric, dataPoints } as MetricData;
  }
}

/** Metrics are told apart by scope and name: the app's `orders` is not prom-client's `orders`. */
function keyOf(scope: string, m: MetricData): string {
  return `${scope}\u0000${m.descriptor.name}`;
}

function copy(v: number | Histogram): number | Histogram {
  if (typeof v === 'number') return v;
  return { ...v, buckets: { boundaries: v.buckets.boundaries, counts: [...v.buckets.counts] } };
}

function earlier(a: HrTime, b: HrTime): boolean {
  return a[0] < b[0] || (a[0] === b[0] && a[1] < b[1]);
}

/** Adds `h` into `into`; a histogram with other bucket boundaries cannot be added and is left out. */
function addHistogram(into: Histogram, h: Histogram): void {
  const a = into.buckets.boundaries;
  const b = h.buckets.boundaries;
  if (a.length !== b.length || a.some((x, i) => x !== b[i])) return;
  for (let i = 0; i < into.buckets.counts.length; i++) into.buckets.counts[i]! += h.buckets.counts[i] ?? 0;
  into.count += h.count;
  into.sum = (into.sum ?? 0) + (h.sum ?? 0);
  if (h.min !== undefined) into.min = into.min === undefined ? h.min : Math.min(into.min, h.min);
  if (h.max !== undefined) into.max = into.max === undefined ? h.max : Math.max(into.max, h.max);
  // Per bucket, the newer exemplar of the two; a new list, as `into` may share its list with a source.
  const theirs = (h as WithExemplars).exemplars;
  if (theirs !== undefined) {
    const merged = [...((into as WithExemplars).exemplars ?? [])];
    theirs.forEach((e, i) => {
      const mine = merged[i];
      if (e !== undefined && (mine === undefined || e.timeMs > mine.timeMs)) merged[i] = e;
    });
    (into as WithExemplars).exemplars = merged;
  }
}

export class ProcessMerge {
  /** Counters and histograms of the processes that are gone, by scope and metric name. */
  private readonly retired = new Map<string, Sum>();

  constructor(
    /** OpenTelemetry names of the metrics that stay per process (the catalogue's `perProcess`). */
    private readonly perProcess: ReadonlySet<string>,
    private readonly limit: number,
  ) {}

  private kindOf(m: MetricData): 'process' | 'kept' | 'live' {
    if (m.dataPointType === DataPointType.GAUGE || this.perProcess.has(m.descriptor.name)) return 'process';
    if (m.dataPointType === DataPointType.HISTOGRAM) return 'kept';
    if (m.dataPointType === DataPointType.SUM) return m.isMonotonic ? 'kept' : 'live';
    return 'process'; // exponential histograms: never made by tapwire, kept apart rather than summed
  }

  /** A process that is gone: its counters and histograms stay in the sums from now on. */
  retire(rm: ResourceMetrics): void {
    for (const scope of rm.scopeMetrics) {
      for (const m of scope.metrics) {
        if (this.kindOf(m) !== 'kept') continue;
        const key = keyOf(scope.scope.name, m);
        let sum = this.retired.get(key);
        if (sum === undefined) {
          sum = new Sum(scope.scope, m, this.limit);
          this.retired.set(key, sum);
        }
        for (const p of m.dataPoints as DataPoint<number | Histogram>[]) sum.add(p);
      }
    }
  }

  /**
   * A process retired (retire()) that turns out to be alive (it was silent, not gone) and reports
   * again: what it was retired with leaves the sums, since its own reports count from now on.
   */
  unretire(rm: ResourceMetrics): void {
    for (const scope of rm.scopeMetrics) {
      for (const m of scope.metrics) {
        if (this.kindOf(m) !== 'kept') continue;
        const sum = this.retired.get(keyOf(scope.scope.name, m));
        if (sum === undefined) continue;
        for (const p of m.dataPoints as DataPoint<number | Histogram>[]) sum.subtract(p);
      }
    }
  }

  /** The host's view: `sources` (slot 0 first) merged, the retired sums included, scope by scope. */
  merge(sources: readonly ProcessSource[]): ResourceMetrics {
    const order: string[] = [];
    const sums = new Map<string, Sum>();
    const apart = new Map<string, { scope: InstrumentationScope; data: MetricData }>();
    for (const [key, sum] of this.retired) {
      sums.set(key, sum.clone());
      order.push(key);
    }
    for (const { slot, resourceMetrics } of sources) {
      for (const scope of resourceMetrics.scopeMetrics) {
        for (const m of scope.metrics) {
          const key = keyOf(scope.scope.name, m);
          const kind = this.kindOf(m);
          if (!sums.has(key) && !apart.has(key)) order.push(key);
          if (kind === 'process') {
            let kept = apart.get(key);
            if (kept === undefined) {
              kept = { scope: scope.scope, data: { ...m, dataPoints: [] } as MetricData };
              apart.set(key, kept);
            }
            const label = String(slot);
            for (const p of m.dataPoints as DataPoint<unknown>[]) {
              (kept.data.dataPoints as DataPoint<unknown>[]).push({
                ...p,
                attributes: { ...p.attributes, [PROCESS_ATTRIBUTE]: label },
              });
            }
            continue;
          }
          let sum = sums.get(key);
          if (sum === undefined) {
            sum = new Sum(scope.scope, m, this.limit);
            sums.set(key, sum);
          }
          for (const p of m.dataPoints as DataPoint<number | Histogram>[]) sum.add(p);
        }
      }
    }
    const end = hrNow();
    // One ScopeMetrics per scope name, in the order the scopes first appear.
    const scopes = new Map<string, ScopeMetrics>();
    for (const key of order) {
      const sum = sums.get(key);
      const kept = apart.get(key);
      const scope = sum?.scope ?? kept?.scope;
      const data = sum !== undefined ? sum.data(end) : kept?.data;
      if (scope === undefined || data === undefined) continue;
      let group = scopes.get(scope.name);
      if (group === undefined) {
        group = { scope, metrics: [] };
        scopes.set(scope.name, group);
      }
      group.metrics.push(data);
    }
    const own = sources[0]?.resourceMetrics;
    return {
      resource: own?.resource as ResourceMetrics['resource'],
      scopeMetrics: [...scopes.values()],
    };
  }
}
