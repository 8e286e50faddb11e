// OTEL_EXPORTER_OTLP_PROTOCOL and OTEL_EXPORTER_OTLP_COMPRESSION and their per-signal forms: what
// reaches a real receiver (content type, content encoding) from a script that serves one request
// and exits, decoded there with the official OTLP protobuf definitions (./support/otlp_decode.py).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jsonLines, RUNTIMES, runFixture } from './support/index.js';
import { OtlpReceiver, SPAN_KIND } from './support/otlp.js';

const receiver = new OtlpReceiver();
beforeAll(() => receiver.start().then(() => undefined));
afterAll(() => receiver.close());

function signals(service: string, extra: Record<string, string>): Record<string, string> {
  return {
    OTEL_SERVICE_NAME: service,
    OTEL_TRACES_EXPORTER: 'otlp',
    OTEL_METRICS_EXPORTER: 'otlp',
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
    // Only the exit flush delivers: one body per signal.
    OTEL_BSP_SCHEDULE_DELAY: '60000',
    OTEL_METRIC_EXPORT_INTERVAL: '60000',
    ...extra,
  };
}

/** How each signal's bodies from `service` arrived: `format encoding`, one entry per body. */
function arrivals(service: string): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const r of receiver.requests) {
    const resources = r.body.resourceSpans ?? r.body.resourceMetrics ?? r.body.resourceLogs ?? [];
    const mine = resources.some(
      (x: { resource?: { attributes?: { key: string; value: { stringValue?: string } }[] } }) =>
        x.resource?.attributes?.some((a) => a.key === 'service.name' && a.value.stringValue === service),
    );
    if (!mine) continue;
    const list = out[r.path] ?? [];
    list.push(`${r.format} ${r.headers['content-encoding'] ?? 'identity'}`);
    out[r.path] = list;
  }
  return out;
}

/** What the receiver got from the script's one request: the spans and the server histogram count. */
function content(service: string) {
  const spans = receiver.spans().filter((s) => s.service === service);
  const server = spans.find((s) => s.kind === SPAN_KIND.SERVER);
  const client = spans.find((s) => s.kind === SPAN_KIND.CLIENT);
  return {
    kinds: spans.map((s) => s.kind).sort(),
    server: server && { name: server.name, attributes: server.attributes, parent: server.parentSpanId },
    clientSpanId: client?.spanId,
    sameTrace: server?.traceId === client?.traceId && /^[0-9a-f]{32}$/.test(server?.traceId ?? ''),
    requests: receiver
      .latestHistogram('http.server.request.duration', service)
      .reduce((a, p) => a + p.count, 0),
  };
}

describe.each(RUNTIMES)('%s', (runtime) => {
  it.each<{ label: string; env: Record<string, string>; want: Record<string, string> }>([
    {
      label: 'http/protobuf by default, uncompressed',
      env: {},
      want: { '/v1/traces': 'protobuf identity', '/v1/metrics': 'protobuf identity' },
    },
    {
      label: 'http/json and gzip when asked',
      env: { OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json', OTEL_EXPORTER_OTLP_COMPRESSION: 'gzip' },
      want: { '/v1/traces': 'json gzip', '/v1/metrics': 'json gzip' },
    },
    {
      label: 'the per-signal forms over the general ones',
      env: {
        OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
        OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/protobuf',
        OTEL_EXPORTER_OTLP_COMPRESSION: 'gzip',
        OTEL_EXPORTER_OTLP_TRACES_COMPRESSION: 'none',
      },
      want: { '/v1/traces': 'protobuf identity', '/v1/metrics': 'json gzip' },
    },
  ])('$label', async ({ env, want }) => {
    const service = `protocol-${runtime}-${Object.values(env).join('-') || 'default'}`;
    const r = await runFixture(runtime, 'otlp-signals.mjs', signals(service, env));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout.split('\n').find((l) => l.startsWith('{"status"'))!)).toEqual({ status: 200 });
    expect(receiver.errors).toEqual([]);
    const got = arrivals(service);
    expect(Object.keys(got).sort()).toEqual(Object.keys(want).sort());
    for (const [path, how] of Object.entries(want)) expect(new Set(got[path]), path).toEqual(new Set([how]));
    const c = content(service);
    expect(c).toEqual({
      kinds: [SPAN_KIND.SERVER, SPAN_KIND.CLIENT],
      server: {
        name: 'GET',
        attributes: {
          'http.request.method': 'GET',
          'http.response.status_code': 200,
          'url.path': '/once',
          'url.scheme': 'http',
        },
        parent: c.clientSpanId,
      },
      clientSpanId: expect.stringMatching(/^[0-9a-f]{16}$/),
      sameTrace: true,
      requests: 1,
    });
  });

  it("each signal's requests carry OTEL_EXPORTER_OTLP_HEADERS with the signal's own headers on top", async () => {
    const service = `protocol-${runtime}-headers`;
    const r = await runFixture(
      runtime,
      'otlp-signals.mjs',
      signals(service, {
        OTEL_EXPORTER_OTLP_HEADERS: 'x-team=pay,x-key=general',
        OTEL_EXPORTER_OTLP_TRACES_HEADERS: 'x-key=traces%20only',
        OTEL_EXPORTER_OTLP_METRICS_HEADERS: 'x-metrics=1',
      }),
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    const seen: Record<string, string[]> = {};
    for (const q of receiver.requests) {
      if (!JSON.stringify(q.body).includes(service)) continue;
      const h = q.headers;
      seen[q.path] = [...(seen[q.path] ?? []), `${h['x-team']} ${h['x-key']} ${h['x-metrics'] ?? '-'}`];
    }
    expect(seen).toEqual({ '/v1/traces': ['pay traces only -'], '/v1/metrics': ['pay general 1'] });
  });

  it('grpc is reported once, naming the variable, and http/protobuf is sent', async () => {
    const service = `protocol-${runtime}-grpc`;
    const r = await runFixture(
      runtime,
      'otlp-signals.mjs',
      signals(service, { OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'grpc' }),
    );
    expect(r.code, r.stderr).toBe(0);
    const lines = jsonLines(r.stderr);
    expect(lines.map((l) => [l.code, l.variable, l.value, l.msg])).toEqual([
      [
        'TAPWIRE_ERR_CONFIG',
        'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL',
        'grpc',
        'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL="grpc" is not valid: expected `http/protobuf` or `http/json` (`grpc` is not supported); using the default (`OTEL_EXPORTER_OTLP_PROTOCOL`)',
      ],
    ]);
    expect(arrivals(service)).toEqual({
      '/v1/traces': ['protobuf identity'],
      '/v1/metrics': ['protobuf identity'],
    });
    expect(content(service).requests).toBe(1);
  });
});
