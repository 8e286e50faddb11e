// tapwire's request-path histogram must report exactly what the OpenTelemetry SDK's own
// histogram reports for the same measurements (buckets, sum, count, min, max), through the same
// reader and serializer.
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { describe, expect, it } from 'vitest';
import { FastHistograms, Observations } from '../core/histogram.js';
import { HTTP_BUCKETS, METRICS } from '../exporters/catalogue.js';
import { prometheusName } from '../exporters/prometheus/naming.js';
import { PullReader } from '../exporters/prometheus/reader.js';
import { serialize } from '../exporters/prometheus/serialize.js';

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
