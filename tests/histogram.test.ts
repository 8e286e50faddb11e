// tapwire's request-path histogram must report exactly what the OpenTelemetry SDK's own
// histogram reports for the same measurements (buckets, sum, count, min, max), through the same
// reader and serializer.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { Meter } from '@opentelemetry/api';
import { AggregationTemporality, DataPointType, MeterProvider } from '@opentelemetry/sdk-metrics';
import { describe, expect, it } from 'vitest';
import { FastHistograms, Observations } from '../core/histogram.js';
import { OwnMeter } from '../core/meter.js';
import {
  DataPointType as OwnDataPointType,
  AggregationTemporality as OwnTemporality,
} from '../core/metric-data.js';
import { HTTP_BUCKETS, METRICS } from '../exporters/catalogue.js';
import { prometheusName } from '../exporters/prometheus/naming.js';
import { PullReader } from '../exporters/prometheus/reader.js';
import { serialize } from '../exporters/prometheus/serialize.js';
import { wantsOpenMetrics } from '../exporters/prometheus/server.js';

async function render(
  recordings: [number, Record<string, string | number>][],
  fast: boolean,
): Promise<string> {
  const histograms = new FastHistograms({ name: 'tapwire', version: 'test' });
  const reader = new PullReader(2000, fast ? [histograms] : []);
  const provider = new MeterProvider({ readers: [reader] });
  const def = METRICS.httpServerDuration;
  const h = fast
    ? histograms.create(def)
    : provider.getMeter('tapwire', 'test').createHistogram(def.name, {
        unit: def.unit,
        description: def.description,
        advice: { explicitBucketBoundaries: [...HTTP_BUCKETS] },
      });
  for (const [v, attrs] of recordings) h.record(v, attrs);
  const { resourceMetrics } = await reader.scrape();
  return serialize(resourceMetrics, { withoutTargetInfo: true });
}

describe('FastHistogram', () => {
  it('matches the SDK histogram: bucket edges inclusive, sums, counts, per-attribute series', async () => {
    const a = { 'http.request.method': 'GET', 'http.response.status_code': 200 };
    const b = { 'http.request.method': 'POST', 'http.response.status_code': 500, 'error.type': '500' };
    const recordings: [number, Record<string, string | number>][] = [
      [0.005, a], // exactly on a boundary: belongs to le="0.005"
      [0.0051, a],
      [0, a],
      [0.3, { ...a }], // an equal attribute set in a new object: the same series
      [10, b],
      [11, b], // above the last boundary: only +Inf
      [Number.NaN, b], // dropped
      [-1, b], // dropped
    ];
    const sdk = await render(recordings, false);
    const fast = await render(recordings, true);
    expect(fast).toBe(sdk);
    expect(fast).toContain(
      'http_server_request_duration_seconds_bucket{http_request_method="GET",http_response_status_code="200",le="0.005"} 2',
    );
    expect(fast).toContain(
      'http_server_request_duration_seconds_count{http_request_method="POST",http_response_status_code="500",error_type="500"} 2',
    );
  });

  it('reports nothing before the first measurement', async () => {
    expect(await render([], true)).toBe(await render([], false));
  });
});

describe('Observations', () => {
  it('merged into a histogram read exactly as the same values recorded one by one', async () => {
    const values = [0.001, 0.005, 0.0051, 0.3, 10, 11, -1, Number.NaN];
    const a = { 'http.request.method': 'GET' };
    const one = new FastHistograms({ name: 'tapwire', version: 'test' });
    const merged = new FastHistograms({ name: 'tapwire', version: 'test' });
    const h1 = one.create(METRICS.httpServerDuration);
    const h2 = merged.create(METRICS.httpServerDuration);
    for (const v of values) h1.record(v, a);
    h1.record(2, a);
    const o = new Observations(HTTP_BUCKETS);
    for (const v of values) o.add(v);
    h2.record(2, a);
    h2.merge(o, a);
    h2.merge(new Observations(HTTP_BUCKETS), a); // nothing gathered: nothing changes
    const strip = (m: ReturnType<FastHistograms['collectNow']>) =>
      m.map((x) => x.dataPoints.map((p) => [p.attributes, p.value]));
    expect(strip(merged.collectNow())).toEqual(strip(one.collectNow()));
  });
});

describe('Prometheus names', () => {
  it('an annotation over a time reads per_<unit>, as Prometheus names OTLP', () => {
    expect(prometheusName('tapwire.gen_ai.client.output_tokens_per_second', '{token}/s', 'histogram')).toBe(
      'tapwire_gen_ai_client_output_tokens_per_second',
    );
    expect(prometheusName('shop.orders.rate', '{order}/d', 'gauge')).toBe('shop_orders_rate_per_day');
    expect(prometheusName('net.io', 'By/s', 'gauge')).toBe('net_io_bytes_per_second');
  });
});

describe('exemplars', () => {
  const span = (traceId: string, spanId: string, traceFlags: number) =>
    ({
      spanContext: () => ({ traceId, spanId, traceFlags }),
    }) as unknown as import('@opentelemetry/api').Span;
  const T1 = '0af7651916cd43dd8448eb211c80319c';
  const T2 = '4bf92f3577b34da6a3ce929d0e0e4736';

  async function page(
    record: (h: import('../core/histogram.js').FastHistogram) => void,
    openMetrics: boolean,
  ) {
    const histograms = new FastHistograms({ name: 'tapwire', version: 'test' });
    const reader = new PullReader(2000, [histograms]);
    new MeterProvider({ readers: [reader] });
    record(histograms.create(METRICS.dbDuration));
    const { resourceMetrics } = await reader.scrape();
    return serialize(resourceMetrics, { withoutTargetInfo: true }, { openMetrics });
  }

  it('keeps the latest sampled recording per bucket and shows it on OpenMetrics pages only', async () => {
    const a = { 'db.system.name': 'sqlite' };
    const record = (h: import('../core/histogram.js').FastHistogram) => {
      h.recordSpan(0.003, a, span(T1, 'b7ad6b7169203331', 1));
      h.recordSpan(0.004, a, span(T2, '00f067aa0ba902b7', 1)); // same bucket, later: replaces it
      h.recordSpan(0.2, a, span(T1, '53995c3f42cd8ad8', 0)); // not sampled: counted, no exemplar
      h.recordSpan(20, a, span(T1, 'a3ce929d0e0e4736', 1)); // +Inf
      h.record(0.0001, a);
    };
    const text = await page(record, false);
    const om = await page(record, true);
    expect(text).not.toContain(' # {');
    const withExemplar = om
      .split('\n')
      .filter((l) => l.includes(' # {'))
      .map((l) => l.replace(/ \d+\.\d{3}$/, ' <time>'));
    expect(withExemplar).toEqual([
      `db_client_operation_duration_seconds_bucket{db_system_name="sqlite",le="0.005"} 3 # {trace_id="${T2}",span_id="00f067aa0ba902b7"} 0.004 <time>`,
      `db_client_operation_duration_seconds_bucket{db_system_name="sqlite",le="+Inf"} 5 # {trace_id="${T1}",span_id="a3ce929d0e0e4736"} 20 <time>`,
    ]);
    // The rest of the page is the text format's, plus the OpenMetrics end.
    expect(om.replace(/ # \{[^}]*\} \S+ \S+/g, '')).toBe(`${text}# EOF\n`);
  });
});

describe('OpenMetrics', () => {
  it('names counter families without _total; a counter without it is unknown, its series unchanged', async () => {
    const reader = new PullReader(2000);
    const provider = new MeterProvider({ readers: [reader] });
    const meter = provider.getMeter('app', '1');
    meter.createCounter('orders', { description: 'Orders "placed"' }).add(2);
    const { resourceMetrics } = await reader.scrape();
    // An app counter whose Prometheus name has _total (naming.ts adds it) and a prom-client one without.
    const promClient = {
      scope: { name: 'prom-client' },
      metrics: [
        {
          descriptor: { name: 'jobs_done', unit: '', description: 'Jobs', valueType: 1 },
          dataPointType: 3,
          isMonotonic: true,
          aggregationTemporality: 1,
          dataPoints: [{ attributes: {}, startTime: [0, 0], endTime: [0, 0], value: 4 }],
        },
      ],
    };
    resourceMetrics.scopeMetrics.push(promClient as never);
    const om = serialize(resourceMetrics, { withoutTargetInfo: true }, { openMetrics: true });
    expect(om).toBe(
      [
        '# HELP orders Orders \\"placed\\"',
        '# TYPE orders counter',
        'orders_total 2',
        '# HELP jobs_done Jobs',
        '# TYPE jobs_done unknown',
        'jobs_done 4',
        '# EOF',
        '',
      ].join('\n'),
    );
    expect(serialize(resourceMetrics, { withoutTargetInfo: true })).toBe(
      [
        '# HELP orders_total Orders "placed"',
        '# TYPE orders_total counter',
        'orders_total 2',
        '# HELP jobs_done Jobs',
        '# TYPE jobs_done counter',
        'jobs_done 4',
        '',
      ].join('\n'),
    );
  });

  it.each([
    [undefined, false],
    ['*/*', false],
    ['text/plain;version=0.0.4', false],
    [
      'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1',
      true,
    ],
    ['application/openmetrics-text; version=1.0.0', true],
    ['text/plain;q=0.9,application/openmetrics-text;q=0.5', false],
    ['application/openmetrics-text;q=0,text/plain', false],
  ])('Accept %j: OpenMetrics %s', (accept, want) => {
    expect(wantsOpenMetrics(accept)).toBe(want);
  });
});

describe("OwnMeter (tapwire's instruments without the SDK)", () => {
  /** The same instruments and callbacks on the SDK's meter and on OwnMeter, rendered by the same serializer. */
  async function both(define: (meter: Meter) => void): Promise<[string, string]> {
    const reader = new PullReader(2000);
    const provider = new MeterProvider({ readers: [reader] });
    define(provider.getMeter('tapwire', 'test'));
    const sdk = serialize((await reader.scrape()).resourceMetrics, { withoutTargetInfo: true });
    const own = new OwnMeter(
      new FastHistograms({ name: 'tapwire', version: 'test' }),
      { name: 'tapwire', version: 'test' },
      2000,
    );
    define(own);
    const ownReader = new PullReader(2000, [own]);
    new MeterProvider({ readers: [ownReader] });
    const ownText = serialize((await ownReader.scrape()).resourceMetrics, { withoutTargetInfo: true });
    return [families(ownText), families(sdk)];
  }

  /** The exposition's families in name order: OwnMeter lists its counters before its observables. */
  const families = (text: string): string =>
    text
      .split(/(?=^# HELP )/m)
      .sort()
      .join('');

  it('observable counters, up-down counters, gauges and batch callbacks render as the SDK renders them', async () => {
    const [own, sdk] = await both((meter) => {
      meter
        .createObservableCounter('agent.lines', { unit: '{record}', description: 'Lines' })
        .addCallback((r) => {
          r.observe(3, { level: 'info' });
          r.observe(5, { level: 'warn' });
          r.observe(7, { level: 'info' }); // the same label set twice: the last value counts
        });
      meter
        .createObservableGauge('agent.info', { description: 'Info' })
        .addCallback((r) => r.observe(1, { version: '1' }));
      const count = meter.createObservableUpDownCounter('db.client.connection.count', {
        unit: '{connection}',
      });
      const pending = meter.createObservableUpDownCounter('db.client.connection.pending_requests');
      meter.addBatchObservableCallback(
        (r) => {
          r.observe(count, 4, { pool: 'a' });
          r.observe(pending, 0, { pool: 'a' });
        },
        [count, pending],
      );
      // A callback that throws loses its own values only.
      meter.createObservableGauge('broken').addCallback(() => {
        throw new Error('boom');
      });
      meter.createCounter('usage', { unit: '{token}' }).add(12, { kind: 'input' });
    });
    expect(own).toBe(sdk);
    expect(own).toContain('agent_lines_total{level="info"} 7');
    expect(own).toContain('db_client_connection_count{pool="a"} 4');
  });

  it("lets a collection's values go once it has read them: what its callbacks observed is not kept until the next", async () => {
    // What a scrape collected and kept until the next lived long enough for V8 to promote it
    // (core/meter.ts, `values`). Node's gc() from a context of its own, as --expose-gc would give it.
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const scope = { name: 'tapwire', version: 'test' };
    const meter = new OwnMeter(new FastHistograms(scope), scope, 2000);
    let observed: WeakRef<object> | undefined;
    let value = 0;
    meter.createObservableGauge('heap.used').addCallback((r) => {
      const attributes = { 'v8js.heap.space.name': 'new_space' };
      observed = new WeakRef(attributes);
      r.observe(++value, attributes);
    });
    const read = (): unknown => meter.collectNowWithCallbacks().metrics[0]?.dataPoints[0];
    expect(read()).toMatchObject({ attributes: { 'v8js.heap.space.name': 'new_space' }, value: 1 });
    // A WeakRef's target stays alive until the job that made it ends.
    await new Promise((resolve) => setTimeout(resolve, 0));
    gc();
    expect(observed?.deref()).toBeUndefined();
    // The next collection observes anew.
    expect(read()).toMatchObject({ value: 2 });
  });

  it('its data-model enums are the SDK values', () => {
    expect(OwnDataPointType).toEqual({ HISTOGRAM: 0, EXPONENTIAL_HISTOGRAM: 1, GAUGE: 2, SUM: 3 });
    for (const k of Object.keys(OwnDataPointType) as (keyof typeof OwnDataPointType)[]) {
      expect(OwnDataPointType[k]).toBe(DataPointType[k]);
    }
    expect(OwnTemporality.CUMULATIVE).toBe(AggregationTemporality.CUMULATIVE);
    expect(OwnTemporality.DELTA).toBe(AggregationTemporality.DELTA);
  });
});
