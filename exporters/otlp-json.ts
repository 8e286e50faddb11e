// OTLP/HTTP JSON metrics (https://opentelemetry.io/docs/specs/otlp/#json-protobuf-encoding) to and
// from the SDK's ResourceMetrics shape. Decoding lets the one Prometheus serializer
// (./prometheus/serialize.ts) render pushed metrics exactly as it renders a process's own: the
// sidecar's workers and the processes that push to the process holding a host's /metrics
// (./merge.ts). Only what the serializer and the merge read is filled in. Cumulative data only: a
// delta point would be a partial count rendered as a total, so delta sums and histograms are
// skipped (the preload pushes cumulative). Encoding is what the preload pushes to that process: a
// few lines here instead of the OTLP exporter package, which costs ~20 ms of start-up.
import type { Attributes } from '@opentelemetry/api';
import type { MetricData, ResourceMetrics, ScopeMetrics } from '@opentelemetry/sdk-metrics';
import { DataPointType } from '../core/metric-data.js';
import type { BucketExemplar, WithExemplars } from './prometheus/serialize.js';

const DELTA = 1;

interface AnyValue {
  stringValue?: string;
  boolValue?: boolean;
  intValue?: number | string;
  doubleValue?: number;
  arrayValue?: { values?: AnyValue[] };
}
interface KeyValue {
  key?: string;
  value?: AnyValue;
}
interface NumberPoint {
  attributes?: KeyValue[];
  asDouble?: number | string;
  asInt?: number | string;
}
interface OtlpExemplar {
  timeUnixNano?: string | number;
  asDouble?: number;
  traceId?: string;
  spanId?: string;
}
interface HistogramPoint {
  attributes?: KeyValue[];
  count?: number | string;
  sum?: number | string;
  bucketCounts?: (number | string)[];
  explicitBounds?: number[];
  exemplars?: OtlpExemplar[];
}
interface OtlpMetric {
  name?: string;
  unit?: string;
  description?: string;
  sum?: { dataPoints?: NumberPoint[]; aggregationTemporality?: number; isMonotonic?: boolean };
  gauge?: { dataPoints?: NumberPoint[] };
  histogram?: { dataPoints?: HistogramPoint[]; aggregationTemporality?: number };
}
export interface OtlpResourceMetrics {
  resource?: { attributes?: KeyValue[] };
  scopeMetrics?: { scope?: { name?: string; version?: string }; metrics?: OtlpMetric[] }[];
}

export class OtlpFormatError extends Error {
  readonly code = 'TAPWIRE_ERR_OTLP_FORMAT';
}

function scalar(v: AnyValue | undefined): string | number | boolean | undefined {
  if (v === undefined || v === null) return undefined;
  if (v.stringValue !== undefined) return String(v.stringValue);
  if (v.boolValue !== undefined) return Boolean(v.boolValue);
  if (v.intValue !== undefined) return Number(v.intValue);
  if (v.doubleValue !== undefined) return Number(v.doubleValue);
  if (v.arrayValue !== undefined) return JSON.stringify((v.arrayValue.values ?? []).map(scalar));
  return undefined;
}

export function attributesOf(list: KeyValue[] | undefined): Attributes {
  const out: Attributes = {};
  if (!Array.isArray(list)) return out;
  for (const kv of list) {
    if (typeof kv?.key !== 'string') continue;
    const v = scalar(kv.value);
    if (v !== undefined) out[kv.key] = v;
  }
  return out;
}

function num(v: number | string | undefined): number {
  if (v === undefined) return 0;
  const n = Number(v);
  return Number.isFinite(n) || Number.isNaN(n) ? n : 0;
}

const TRACE_ID = /^[0-9a-f]{32}$/;
const SPAN_ID = /^[0-9a-f]{16}$/;

/**
 * A pushed point's exemplars, per bucket (the newest where several fall in one). Ids that are not
 * lower-case hex of the right length are left out: they become label values on /metrics.
 */
function bucketExemplars(
  list: OtlpExemplar[] | undefined,
  bounds: number[],
): (BucketExemplar | undefined)[] | undefined {
  if (!Array.isArray(list) || list.length === 0) return undefined;
  const out: (BucketExemplar | undefined)[] = new Array(bounds.length + 1).fill(undefined);
  for (const e of list) {
    if (typeof e?.traceId !== 'string' || !TRACE_ID.test(e.traceId)) continue;
    if (typeof e.spanId !== 'string' || !SPAN_ID.test(e.spanId)) continue;
    const value = Number(e.asDouble);
    if (!Number.isFinite(value)) continue;
    let timeMs = 0;
    try {
      timeMs = Number(BigInt(e.timeUnixNano ?? 0) / 1_000_000n);
    } catch {
      continue;
    }
    let i = 0;
    while (i < bounds.length && value > bounds[i]!) i++;
    const known = out[i];
    if (known === undefined || timeMs > known.timeMs)
      out[i] = { traceId: e.traceId, spanId: e.spanId, value, timeMs };
  }
  return out.some((e) => e !== undefined) ? out : undefined;
}

export interface Converted {
  resourceMetrics: ResourceMetrics;
  points: number;
}

/**
 * One OTLP ResourceMetrics into the SDK shape, keeping at most `maxPoints` data points (the rest
 * are counted in `dropped`). Throws OtlpFormatError when the body is not OTLP at all.
 */
export function convertResourceMetrics(
  input: OtlpResourceMetrics,
  maxPoints: number,
): Converted & { dropped: number } {
  if (input === null || typeof input !== 'object')
    throw new OtlpFormatError('resourceMetrics entry is not an object');
  let points = 0;
  let dropped = 0;
  // Scopes are kept: the Prometheus names of prom-client's metrics (scope `prom-client`) are the
  // app's own and are not translated (./prometheus/serialize.ts).
  const scopeMetrics: ScopeMetrics[] = [];
  for (const scope of Array.isArray(input.scopeMetrics) ? input.scopeMetrics : []) {
    const name = typeof scope?.scope?.name === 'string' ? scope.scope.name : 'otlp';
    const metrics: MetricData[] = [];
    scopeMetrics.push({ scope: { name }, metrics });
    for (const m of scope?.metrics ?? []) {
      if (typeof m?.name !== 'string') continue;
      const descriptor = {
        name: m.name,
        unit: typeof m.unit === 'string' ? m.unit : '',
        description: typeof m.description === 'string' ? m.description : '',
        type: 'COUNTER',
        valueType: 1,
      };
      const take = (n: number): number => {
        const room = Math.max(0, Math.min(n, maxPoints - points));
        points += room;
        dropped += n - room;
        return room;
      };
      if (m.histogram) {
        if (m.histogram.aggregationTemporality === DELTA) continue;
        const list = (m.histogram.dataPoints ?? []).slice(0, take(m.histogram.dataPoints?.length ?? 0));
        metrics.push({
          descriptor,
          dataPointType: DataPointType.HISTOGRAM,
          aggregationTemporality: 1,
          dataPoints: list.map((p) => {
            const boundaries = (p.explicitBounds ?? []).map(num);
            const value: WithExemplars = {
              buckets: { boundaries, counts: (p.bucketCounts ?? []).map(num) },
              count: num(p.count),
              sum: num(p.sum),
            };
            const exemplars = bucketExemplars(p.exemplars, boundaries);
            if (exemplars !== undefined) value.exemplars = exemplars;
            return { attributes: attributesOf(p.attributes), startTime: [0, 0], endTime: [0, 0], value };
          }),
        } as unknown as MetricData);
      } else if (m.sum || m.gauge) {
        const isSum = m.sum !== undefined;
        if (isSum && m.sum!.aggregationTemporality === DELTA) continue;
        const src = (isSum ? m.sum!.dataPoints : m.gauge!.dataPoints) ?? [];
        const list = src.slice(0, take(src.length));
        metrics.push({
          descriptor,
          dataPointType: isSum ? DataPointType.SUM : DataPointType.GAUGE,
          isMonotonic: isSum ? m.sum!.isMonotonic === true : false,
          aggregationTemporality: 1,
          dataPoints: list.map((p) => ({
            attributes: attributesOf(p.attributes),
            startTime: [0, 0],
            endTime: [0, 0],
            value: num(p.asDouble ?? p.asInt),
          })),
        } as unknown as MetricData);
      }
    }
  }
  const resourceMetrics = {
    resource: { attributes: attributesOf(input.resource?.attributes) },
    scopeMetrics,
  } as unknown as ResourceMetrics;
  return { resourceMetrics, points, dropped };
}

// ---------------------------------------------------------------------------------------------
// encode

const CUMULATIVE = 2;

function anyValue(v: unknown): AnyValue {
  if (typeof v === 'string') return { stringValue: v };
  if (typeof v === 'boolean') return { boolValue: v };
  if (typeof v === 'number') return Number.isInteger(v) ? { intValue: v } : { doubleValue: v };
  if (Array.isArray(v)) return { arrayValue: { values: v.map(anyValue) } };
  return { stringValue: String(v) };
}

function keyValues(attributes: Attributes): KeyValue[] {
  const out: KeyValue[] = [];
  for (const key of Object.keys(attributes)) {
    const v = attributes[key];
    if (v !== undefined && v !== null) out.push({ key, value: anyValue(v) });
  }
  return out;
}

function nanos(t: [number, number]): string {
  return (BigInt(t[0]) * 1_000_000_000n + BigInt(t[1])).toString();
}

/** One ResourceMetrics as an OTLP JSON ExportMetricsServiceRequest body (cumulative, as collected). */
export function encodeResourceMetrics(rm: ResourceMetrics): { resourceMetrics: OtlpResourceMetrics[] } {
  const scopeMetrics = rm.scopeMetrics.map((scope) => ({
    scope: { name: scope.scope.name },
    metrics: scope.metrics.map((m): OtlpMetric & Record<string, unknown> => {
      const base = {
        name: m.descriptor.name,
        unit: m.descriptor.unit,
        description: m.descriptor.description,
      };
      if (m.dataPointType === DataPointType.HISTOGRAM) {
        return {
          ...base,
          histogram: {
            aggregationTemporality: CUMULATIVE,
            dataPoints: m.dataPoints.map((p) => {
              const h = p.value as WithExemplars;
              const exemplars: OtlpExemplar[] = [];
              for (const e of h.exemplars ?? []) {
                if (e === undefined) continue;
                exemplars.push({
                  timeUnixNano: (BigInt(Math.round(e.timeMs)) * 1_000_000n).toString(),
                  asDouble: e.value,
                  traceId: e.traceId,
                  spanId: e.spanId,
                });
              }
              return {
                attributes: keyValues(p.attributes),
                startTimeUnixNano: nanos(p.startTime),
                timeUnixNano: nanos(p.endTime),
                count: h.count,
                sum: h.sum ?? 0,
                bucketCounts: h.buckets.counts,
                explicitBounds: h.buckets.boundaries,
                ...(exemplars.length > 0 ? { exemplars } : {}),
              };
            }),
          },
        };
      }
      const dataPoints = (
        m.dataPoints as {
          attributes: Attributes;
          startTime: [number, number];
          endTime: [number, number];
          value: number;
        }[]
      ).map((p) => ({
        attributes: keyValues(p.attributes),
        startTimeUnixNano: nanos(p.startTime),
        timeUnixNano: nanos(p.endTime),
        asDouble: p.value,
      }));
      if (m.dataPointType === DataPointType.SUM) {
        return {
          ...base,
          sum: { aggregationTemporality: CUMULATIVE, isMonotonic: m.isMonotonic, dataPoints },
        };
      }
      return { ...base, gauge: { dataPoints } };
    }),
  }));
  return { resourceMetrics: [{ resource: { attributes: keyValues(rm.resource.attributes) }, scopeMetrics }] };
}
