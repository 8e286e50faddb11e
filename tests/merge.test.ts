// exporters/merge.ts, the sums a host's /metrics serves from several processes: counters and
// histograms summed and kept when a process goes, up-down counters summed over the live ones,
// per-process series labelled, label sets capped.

import type { Attributes } from '@opentelemetry/api';
import { DataPointType, type MetricData, type ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { describe, expect, it } from 'vitest';
import { ProcessMerge } from '../exporters/merge.js';
import { convertResourceMetrics, encodeResourceMetrics } from '../exporters/otlp-json.js';
import { serialize } from '../exporters/prometheus/serialize.js';
import { parseIdentity } from '../exporters/push.js';
import { WorkerStore } from '../exporters/workers.js';
import { parseMetrics, value } from './support/index.js';

const T: [number, number] = [1, 0];

function sum(name: string, monotonic: boolean, points: [Attributes, number][]): MetricData {
  return {
    descriptor: { name, unit: '', description: name, valueType: 1, type: 'COUNTER' },
    dataPointType: DataPointType.SUM,
    isMonotonic: monotonic,
    aggregationTemporality: 1,
    dataPoints: points.map(([attributes, v]) => ({ attributes, startTime: T, endTime: T, value: v })),
  } as unknown as MetricData;
}

function gauge(name: string, v: number): MetricData {
  return {
    descriptor: { name, unit: '', description: name, valueType: 1, type: 'GAUGE' },
    dataPointType: DataPointType.GAUGE,
    aggregationTemporality: 1,
    dataPoints: [{ attributes: {}, startTime: T, endTime: T, value: v }],
  } as unknown as MetricData;
}

function histogram(name: string, counts: number[], total: number): MetricData {
  return {
    descriptor: { name, unit: 's', description: name, valueType: 1, type: 'HISTOGRAM' },
    dataPointType: DataPointType.HISTOGRAM,
    aggregationTemporality: 1,
    dataPoints: [
      {
        attributes: { route: '/a' },
        startTime: T,
        endTime: T,
        value: { buckets: { boundaries: [1], counts }, count: counts[0]! + counts[1]!, sum: total },
      },
    ],
  } as unknown as MetricData;
}

function rm(...metrics: MetricData[]): ResourceMetrics {
  return {
    resource: { attributes: { 'service.name': 's' } },
    scopeMetrics: [{ scope: { name: 't' }, metrics }],
  } as unknown as ResourceMetrics;
}

const page = (m: ProcessMerge, sources: ResourceMetrics[]) =>
  parseMetrics(serialize(m.merge(sources.map((resourceMetrics, slot) => ({ slot, resourceMetrics })))));

describe('ProcessMerge', () => {
  it('sums counters and histograms, keeps a gone process in them, and sums in-flight over the live', () => {
    const m = new ProcessMerge(new Set(['heap']), 100);
    const a = rm(
      sum('req', true, [[{ code: 200 }, 5]]),
      sum('inflight', false, [[{}, 2]]),
      histogram('dur', [3, 1], 2.5),
    );
    const b = rm(
      sum('req', true, [[{ code: 200 }, 7]]),
      sum('inflight', false, [[{}, 1]]),
      histogram('dur', [2, 0], 0.5),
    );
    let s = page(m, [a, b]);
    expect(value(s, 'req_total', { code: '200' })).toBe(12);
    expect(value(s, 'inflight', {})).toBe(3);
    expect(value(s, 'dur_seconds_count', { route: '/a' })).toBe(6);
    expect(value(s, 'dur_seconds_bucket', { route: '/a', le: '1' })).toBe(5);
    expect(value(s, 'dur_seconds_sum', { route: '/a' })).toBe(3);
    // b exits; a replacement starts from zero: nothing goes backwards.
    m.retire(b);
    const c = rm(
      sum('req', true, [[{ code: 200 }, 1]]),
      sum('inflight', false, [[{}, 0]]),
      histogram('dur', [1, 0], 0.1),
    );
    s = page(m, [a, c]);
    expect(value(s, 'req_total', { code: '200' })).toBe(13);
    expect(value(s, 'inflight', {})).toBe(2);
    expect(value(s, 'dur_seconds_count', { route: '/a' })).toBe(7);
  });

  it('a process retired for its silence that reports again is counted once (WorkerStore onReturn)', () => {
    // Series start at T (1 s after the epoch); the clock of the store runs from 10 s.
    let now = 10_000;
    const m = new ProcessMerge(new Set(), 100);
    const store = new WorkerStore(1000, 1000, {
      now: () => now,
      onForget: (w) => m.retire(w.resourceMetrics),
      onReturn: (w) => m.unretire(w.resourceMetrics),
    });
    const of = (pid: number, n: number, counts: number[], total: number) => {
      const r = rm(sum('req', true, [[{ code: 200 }, n]]), histogram('dur', counts, total));
      (r.resource.attributes as Attributes)['process.pid'] = pid;
      return r;
    };
    const own = of(1, 5, [3, 1], 2.5);
    const push = (r: ResourceMetrics, final = false) => store.accept(encodeResourceMetrics(r), final);
    const view = () => page(m, [own, ...store.live().map((w) => w.resourceMetrics)]);
    expect(push(of(2, 4, [2, 0], 0.5))).toBe(0);
    expect(value(view(), 'req_total', { code: '200' })).toBe(9);
    // Silent for more than three intervals: forgotten, its totals kept.
    now = 13_001;
    expect(store.live()).toHaveLength(0);
    let s = view();
    expect(value(s, 'req_total', { code: '200' })).toBe(9);
    expect(value(s, 'dur_seconds_count', { route: '/a' })).toBe(6);
    // It was only blocked: it reports again, 2 more requests and 1 more in the first bucket.
    push(of(2, 6, [3, 0], 0.75));
    s = view();
    expect(value(s, 'req_total', { code: '200' })).toBe(11);
    expect(value(s, 'dur_seconds_count', { route: '/a' })).toBe(7);
    expect(value(s, 'dur_seconds_bucket', { route: '/a', le: '1' })).toBe(6);
    expect(value(s, 'dur_seconds_sum', { route: '/a' })).toBe(3.25);
    // It exits: its final totals stay, once.
    now = 13_500;
    push(of(2, 7, [4, 0], 1), true);
    s = view();
    expect(store.live()).toHaveLength(0);
    expect(value(s, 'req_total', { code: '200' })).toBe(12);
    expect(value(s, 'dur_seconds_count', { route: '/a' })).toBe(8);
    expect(value(s, 'dur_seconds_sum', { route: '/a' })).toBe(3.5);
    // Another goes silent and a new process gets its pid (its series start later): both count.
    push(of(3, 10, [1, 0], 0.25));
    now = 17_000;
    expect(store.live()).toHaveLength(0);
    const reused = of(3, 1, [1, 0], 0.25);
    for (const metric of reused.scopeMetrics[0]!.metrics) {
      for (const p of metric.dataPoints) (p as { startTime: [number, number] }).startTime = [16, 0];
    }
    push(reused);
    expect(value(view(), 'req_total', { code: '200' })).toBe(23);
  });

  it('keeps gauges and per-process metrics apart by tapwire_process', () => {
    const m = new ProcessMerge(new Set(['heap']), 100);
    const s = page(m, [
      rm(gauge('lag', 1), sum('heap', false, [[{}, 10]])),
      rm(gauge('lag', 2), sum('heap', false, [[{}, 20]])),
    ]);
    expect(value(s, 'lag', { tapwire_process: '0' })).toBe(1);
    expect(value(s, 'lag', { tapwire_process: '1' })).toBe(2);
    expect(value(s, 'heap', { tapwire_process: '1' })).toBe(20);
  });

  it('caps the summed label sets, the rest in the overflow series', () => {
    const m = new ProcessMerge(new Set(), 2);
    const s = page(m, [
      rm(
        sum('req', true, [
          [{ k: 'a' }, 1],
          [{ k: 'b' }, 1],
          [{ k: 'c' }, 1],
          [{ k: 'd' }, 1],
        ]),
      ),
    ]);
    expect(s.filter((x) => x.name === 'req_total').length).toBe(3);
    expect(value(s, 'req_total', { otel_metric_overflow: 'true' })).toBe(2);
  });
});

describe('parseIdentity (a sibling asks the port holder who it is)', () => {
  const body = JSON.stringify({ tapwire: '0.1.0', service: 'shop', pid: 7 });
  const answer = `HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`;

  it('reads a complete answer, and waits for one that is still arriving', () => {
    expect(parseIdentity(answer)).toEqual({ tapwire: '0.1.0', service: 'shop', pid: 7 });
    expect(parseIdentity(answer.slice(0, 20))).toBe('incomplete');
    expect(parseIdentity(answer.slice(0, -3))).toBe('incomplete');
  });

  it('calls anything else foreign', () => {
    expect(parseIdentity(answer.replace('200 OK', '404 Not Found'))).toBeUndefined();
    expect(parseIdentity(answer.replace(/Content-Length: \d+\r\n/, ''))).toBeUndefined();
    const other = JSON.stringify({ status: 'ok' });
    expect(
      parseIdentity(`HTTP/1.1 200 OK\r\ncontent-length: ${other.length}\r\n\r\n${other}`),
    ).toBeUndefined();
    expect(parseIdentity('SSH-2.0-OpenSSH_9.2\r\n')).toBe('incomplete');
    expect(parseIdentity('x'.repeat(5000))).toBeUndefined();
    expect(parseIdentity('HTTP/1.1 200 OK\r\ncontent-length: 999999\r\n\r\n{')).toBeUndefined();
  });
});

describe('exemplars across processes', () => {
  it('per bucket, the newer of the processes', () => {
    const at = (traceId: string, timeMs: number) => ({
      traceId,
      spanId: 'b7ad6b7169203331',
      value: 0.5,
      timeMs,
    });
    const one = histogram('d', [1, 0], 0.5);
    const two = histogram('d', [1, 1], 2.5);
    (one.dataPoints[0]!.value as { exemplars?: unknown }).exemplars = [at('a'.repeat(32), 2000), undefined];
    (two.dataPoints[0]!.value as { exemplars?: unknown }).exemplars = [
      at('b'.repeat(32), 1000),
      { ...at('c'.repeat(32), 1500), value: 2 },
    ];
    const merged = new ProcessMerge(new Set(), 100).merge([
      { slot: 0, resourceMetrics: rm(one) },
      { slot: 1, resourceMetrics: rm(two) },
    ]);
    const lines = serialize(merged, { withoutTargetInfo: true }, { openMetrics: true })
      .split('\n')
      .filter((l) => l.includes('_bucket'));
    expect(lines).toEqual([
      `d_seconds_bucket{route="/a",le="1"} 2 # {trace_id="${'a'.repeat(32)}",span_id="b7ad6b7169203331"} 0.5 2.000`,
      `d_seconds_bucket{route="/a",le="+Inf"} 3 # {trace_id="${'c'.repeat(32)}",span_id="b7ad6b7169203331"} 2 1.500`,
    ]);
    // The sources' own lists are left as they were.
    expect((one.dataPoints[0]!.value as unknown as { exemplars: unknown[] }).exemplars[1]).toBeUndefined();
  });
});

describe('exemplars in the pushes of sibling processes (OTLP JSON)', () => {
  it('travel per bucket and come back in their buckets; ids that are not hex ids are left out', () => {
    const h = histogram('d', [1, 1], 2.5);
    const T = '0af7651916cd43dd8448eb211c80319c';
    (h.dataPoints[0]!.value as { exemplars?: unknown }).exemplars = [
      { traceId: T, spanId: 'b7ad6b7169203331', value: 0.5, timeMs: 1796000000123 },
      { traceId: T, spanId: '00f067aa0ba902b7', value: 2, timeMs: 1796000000456 },
    ];
    const body = JSON.parse(JSON.stringify(encodeResourceMetrics(rm(h))));
    const sent = body.resourceMetrics[0].scopeMetrics[0].metrics[0].histogram.dataPoints[0].exemplars;
    expect(sent).toEqual([
      { timeUnixNano: '1796000000123000000', asDouble: 0.5, traceId: T, spanId: 'b7ad6b7169203331' },
      { timeUnixNano: '1796000000456000000', asDouble: 2, traceId: T, spanId: '00f067aa0ba902b7' },
    ]);
    sent.push({
      timeUnixNano: '1796000000999000000',
      asDouble: 0.7,
      traceId: 'x"} 1 # evil',
      spanId: 'b7ad6b7169203331',
    });
    const back = convertResourceMetrics(body.resourceMetrics[0], 100).resourceMetrics;
    const page = serialize(back, { withoutTargetInfo: true }, { openMetrics: true });
    expect(page.split('\n').filter((l) => l.includes('_bucket'))).toEqual([
      `d_seconds_bucket{route="/a",le="1"} 1 # {trace_id="${T}",span_id="b7ad6b7169203331"} 0.5 1796000000.123`,
      `d_seconds_bucket{route="/a",le="+Inf"} 2 # {trace_id="${T}",span_id="00f067aa0ba902b7"} 2 1796000000.456`,
    ]);
  });
});
