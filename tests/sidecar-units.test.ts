// Small pure pieces of the sidecar: route templates, OTLP JSON into the serializer, the bounded
// worker store, the merged page (HELP/TYPE once per family, promtool-clean), and the gateway's
// include_usage edits.
import { describe, expect, it } from 'vitest';
import { replyTo } from '../cli/demo/standin/route.js';
import { convertResourceMetrics } from '../exporters/otlp-json.js';
import { serializeAll } from '../exporters/prometheus/serialize.js';
import { instanceOf, MAX_WORKERS, WorkerStore } from '../exporters/workers.js';
import { MAX_EVENT_BYTES, memberValue, UsageStripper, withIncludeUsage } from '../sidecar/include-usage.js';
import { compileRoutes } from '../sidecar/routes.js';
import { parseMetrics, promtoolCheckMetrics, value } from './support/index.js';

describe('compileRoutes', () => {
  const routeOf = compileRoutes(['/', '/users/:id', '/users/:id/orders/:order', '/static/*', '/a.b']);
  it.each([
    ['/', '/'],
    ['/users/42', '/users/:id'],
    ['/users/42/', '/users/:id'],
    ['/users/42?full=1', '/users/:id'],
    ['/users/42/orders/7', '/users/:id/orders/:order'],
    ['/static', '/static/*'],
    ['/static/css/site.css', '/static/*'],
    ['/a.b', '/a.b'],
    ['/aXb', undefined],
    ['/users', undefined],
    ['/users/42/orders', undefined],
    ['/other', undefined],
  ])('%s -> %s', (path, route) => {
    expect(routeOf(path)).toBe(route);
  });
  it('matches nothing without patterns', () => {
    expect(compileRoutes([])('/users/1')).toBeUndefined();
  });
});

const kv = (key: string, v: string | number) => ({
  key,
  value: typeof v === 'number' ? { intValue: String(v) } : { stringValue: v },
});

function push(pid: number, count: number) {
  return {
    resourceMetrics: [
      {
        resource: { attributes: [kv('service.name', 'api'), kv('process.pid', pid)] },
        scopeMetrics: [
          {
            metrics: [
              {
                name: 'http.server.request.duration',
                unit: 's',
                description: 'Duration of inbound HTTP requests.',
                histogram: {
                  aggregationTemporality: 2,
                  dataPoints: [
                    {
                      attributes: [kv('http.request.method', 'GET'), kv('http.response.status_code', 200)],
                      count: String(count),
                      sum: 0.5,
                      bucketCounts: [String(count), '0'],
                      explicitBounds: [0.1],
                    },
                  ],
                },
              },
              {
                name: 'tapwire.log.records',
                unit: '{record}',
                sum: {
                  aggregationTemporality: 2,
                  isMonotonic: true,
                  dataPoints: [{ attributes: [kv('level', 'info')], asInt: '3' }],
                },
              },
              {
                name: 'delta.thing',
                sum: { aggregationTemporality: 1, isMonotonic: true, dataPoints: [{ asInt: '3' }] },
              },
            ],
          },
        ],
      },
    ],
  };
}

describe('OTLP JSON merge', () => {
  it('renders workers apart by instance, HELP/TYPE once per family, delta data skipped', () => {
    let now = 0;
    const store = new WorkerStore(60_000, 1000, { now: () => now });
    expect(store.accept(push(11, 2))).toBe(0);
    expect(store.accept(push(12, 5))).toBe(0);
    now = 1000;
    store.accept(push(11, 3)); // cumulative: the latest replaces, nothing is added up
    const text = serializeAll(store.sources());
    const samples = parseMetrics(text);
    const labels = { http_request_method: 'GET', http_response_status_code: '200' };
    expect(
      value(samples, 'http_server_request_duration_seconds_count', { ...labels, instance: 'api/11' }),
    ).toBe(3);
    expect(
      value(samples, 'http_server_request_duration_seconds_count', { ...labels, instance: 'api/12' }),
    ).toBe(5);
    expect(value(samples, 'tapwire_log_records_total', { level: 'info', instance: 'api/12' })).toBe(3);
    expect(text.match(/^# TYPE http_server_request_duration_seconds histogram$/gm)).toHaveLength(1);
    expect(text).not.toContain('delta_thing');
    expect(promtoolCheckMetrics(text)).toEqual({ status: 0, output: '' });
  });

  it('forgets a worker after three of its intervals and caps workers and points', () => {
    let now = 0;
    const store = new WorkerStore(2_000, 1, { now: () => now });
    store.accept(push(1, 1));
    now = 2_000;
    // Two data points per push, one allowed: one rejected.
    expect(store.accept(push(1, 1))).toBe(1);
    expect(store.size).toBe(1);
    now = 2_000 + 3 * 2_000 + 1;
    expect(store.sources()).toEqual([]);
    for (let pid = 0; pid < MAX_WORKERS; pid++) store.accept(push(100 + pid, 1));
    expect(store.size).toBe(MAX_WORKERS);
    expect(store.accept(push(999, 1))).toBeGreaterThan(0);
    expect(store.size).toBe(MAX_WORKERS);
  });

  it("keeps only its own service's pushes when told one (the holder of a host's /metrics port)", () => {
    const store = new WorkerStore(1000, 1000, { service: 'other' });
    // The push's two cumulative metrics count as rejected (the delta one is skipped anyway); nothing is kept.
    expect(store.accept(push(11, 2), true)).toBe(2);
    expect(store.size).toBe(0);
    const own = new WorkerStore(1000, 1000, { service: 'api' });
    expect(own.accept(push(11, 2))).toBe(0);
    expect(own.size).toBe(1);
  });

  it('names a worker by service.instance.id, else service name and pid', () => {
    expect(instanceOf({ 'service.instance.id': 'w-1', 'service.name': 'api', 'process.pid': 7 })).toBe('w-1');
    expect(instanceOf({ 'service.name': 'api', 'process.pid': 7 })).toBe('api/7');
    expect(instanceOf({})).toBe('unknown_service');
  });

  it('rejects what is not OTLP', () => {
    const store = new WorkerStore(1000, 10);
    expect(() => store.accept({} as never)).toThrow('resourceMetrics');
    expect(() => convertResourceMetrics(null as never, 10)).toThrow();
  });
});

describe('include_usage (TAPWIRE_GATEWAY_INCLUDE_USAGE)', () => {
  it('asks for usage by editing the text of a streamed request that does not', () => {
    expect(withIncludeUsage('{"model":"m","stream":true,"seed":12345678901234567890}')).toBe(
      '{"stream_options":{"include_usage":true},"model":"m","stream":true,"seed":12345678901234567890}',
    );
    expect(withIncludeUsage(' { "stream" : true , "stream_options" : { } } ')).toBe(
      ' { "stream" : true , "stream_options" : {"include_usage":true } } ',
    );
    expect(withIncludeUsage('{"stream":true,"stream_options":{"x":{"include_usage":1}}}')).toBe(
      '{"stream":true,"stream_options":{"include_usage":true,"x":{"include_usage":1}}}',
    );
    // Left alone: no stream, an explicit choice either way, not an object, not JSON.
    for (const body of [
      '{"model":"m"}',
      '{"stream":false}',
      '{"stream":true,"stream_options":{"include_usage":false}}',
      '{"stream":true,"stream_options":{"include_usage":true}}',
      '{"stream":true,"stream_options":"x"}',
      '[{"stream":true}]',
      '{"stream":true',
    ]) {
      expect(withIncludeUsage(body), body).toBeUndefined();
    }
  });

  it('finds top-level members only, past strings holding braces and quotes', () => {
    const json = '{"a":{"usage":1},"s":"{\\"usage\\":2}","usage" : null}';
    expect(memberValue(json, 'usage')).toEqual({
      keyStart: json.lastIndexOf('"usage"'),
      valueStart: json.length - 5,
    });
    expect(memberValue('{"a":{"usage":1}}', 'usage')).toBeUndefined();
  });

  it('gives back the stream the app would get without include_usage, split anywhere', () => {
    const body = (includeUsage: boolean) =>
      JSON.stringify({
        model: 'gpt-4o-mini',
        stream: true,
        messages: [{ role: 'user', content: 'ünïcödé' }],
        ...(includeUsage ? { stream_options: { include_usage: true } } : {}),
      });
    const events = (raw: string) => {
      const reply = replyTo('openai', '/n7/v1/chat/completions', raw, [
        { model: 'gpt-4o-mini', responseModel: 'gpt-4o-mini-2024-07-18', input: 12, cached: 0, output: 5 },
      ]);
      if (!('events' in reply)) throw new Error('not a stream');
      return Buffer.concat(reply.events);
    };
    const withUsage = events(body(true));
    const without = events(body(false));
    expect(withUsage.toString()).toContain('"usage":null');
    expect(withUsage.toString()).toContain('"choices":[],"usage":{');
    for (const step of [1, 7, 64, withUsage.length]) {
      const s = new UsageStripper();
      const out: Buffer[] = [];
      for (let at = 0; at < withUsage.length; at += step) out.push(s.feed(withUsage.subarray(at, at + step)));
      out.push(s.end());
      expect(Buffer.concat(out).toString(), `pieces of ${step}`).toBe(without.toString());
    }
  });

  it('passes other events as they came, and a stream with an event past the bound unchanged from there', () => {
    const s = new UsageStripper();
    const other = 'event: ping\ndata: {"usage":{"x":1},"choices":[{}]}\r\n\r\n: comment\n\n';
    expect(s.feed(Buffer.from(other)).toString()).toBe(other);
    const big = Buffer.from(`data: {"usage":null,"x":"${'a'.repeat(MAX_EVENT_BYTES)}`);
    expect(s.feed(big).equals(big)).toBe(true);
    const after = Buffer.from('"}\n\ndata: {"choices":[],"usage":{"total_tokens":1}}\n\n');
    expect(s.feed(after).equals(after)).toBe(true);
    expect(s.end().length).toBe(0);
  });
});
