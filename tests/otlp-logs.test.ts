// OTEL_LOGS_EXPORTER=otlp: the app's `logger` records and tapwire's own lines reach a real OTLP
// receiver, decoded there with the official OTLP protobuf definitions (./support/otlp_decode.py):
// exact bodies, severities, attributes, timestamps, trace and span ids and resource, on Node and
// Bun; stdout as without it unless TAPWIRE_LOG_STDOUT=off; a full queue drops the oldest and
// counts it; an unreachable receiver does not keep the process from exiting.
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jsonLines, RUNTIMES, runFixture } from './support/index.js';
import { attributes, OtlpReceiver, SPAN_KIND } from './support/otlp.js';

const receiver = new OtlpReceiver();
beforeAll(() => receiver.start().then(() => undefined));
afterAll(() => receiver.close());

const WARN = 13;
const ERROR = 17;

function env(service: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    OTEL_SERVICE_NAME: service,
    OTEL_LOGS_EXPORTER: 'otlp',
    OTEL_TRACES_EXPORTER: 'otlp',
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
    // Only the exit flush delivers: what arrives is what a normal exit sends.
    OTEL_BLRP_SCHEDULE_DELAY: '60000',
    OTEL_BSP_SCHEDULE_DELAY: '60000',
    ...extra,
  };
}

function logsOf(service: string) {
  return receiver.logs().filter((l) => l.resource['service.name'] === service);
}

/** The resource sent with the spans of `service`, as plain attributes. */
function spanResource(service: string) {
  for (const r of receiver.requests) {
    if (r.path !== '/v1/traces') continue;
    for (const rs of r.body.resourceSpans ?? []) {
      const a = attributes(rs.resource?.attributes);
      if (a['service.name'] === service) return a;
    }
  }
  return undefined;
}

const nanos = (ms: unknown) => String(BigInt(ms as number) * 1_000_000n);

describe.each(RUNTIMES)('%s', (runtime) => {
  it.each<{ label: string; extra: Record<string, string>; format: string }>([
    { label: 'http/protobuf', extra: {}, format: 'protobuf identity' },
    {
      label: 'http/json, gzip',
      extra: { OTEL_EXPORTER_OTLP_LOGS_PROTOCOL: 'http/json', OTEL_EXPORTER_OTLP_LOGS_COMPRESSION: 'gzip' },
      format: 'json gzip',
    },
  ])('ships the app records and its own lines, exactly ($label)', async ({ extra, format }) => {
    const service = `logs-${runtime}-${format.replace(' ', '-')}`;
    // A bad value gives tapwire a line of its own to ship.
    const r = await runFixture(
      runtime,
      'otlp-signals.mjs',
      env(service, { TAPWIRE_DB_SLOW_MS: 'abc', ...extra }),
    );
    expect(r.code, r.stderr).toBe(0);
    expect(receiver.errors).toEqual([]);

    // stdout is what it is without OTLP: the two records and the script's own line.
    const out = jsonLines(r.stdout);
    expect(out.map((l) => l.msg ?? l.status)).toEqual(['handling', 'after the request', 200]);
    const [handling, after] = out as Record<string, unknown>[];
    const err = jsonLines(r.stderr);
    expect(err.map((l) => l.code)).toEqual(['TAPWIRE_ERR_CONFIG']);

    const spans = receiver.spans().filter((s) => s.service === service);
    const server = spans.find((s) => s.kind === SPAN_KIND.SERVER)!;
    expect([handling!.trace_id, handling!.span_id]).toEqual([server.traceId, server.spanId]);

    const bodies = receiver.requests.filter(
      (q) =>
        q.path === '/v1/logs' &&
        attributes(q.body.resourceLogs[0].resource.attributes)['service.name'] === service,
    );
    expect(bodies.map((q) => `${q.format} ${q.headers['content-encoding'] ?? 'identity'}`)).toEqual([format]);

    const logs = logsOf(service);
    // The resource is the one spans carry (service, environment, SDK, runtime, pid).
    const resource = spanResource(service);
    expect(resource).toMatchObject({
      'service.name': service,
      'process.pid': handling!.pid,
      'telemetry.sdk.name': 'tapwire',
    });
    for (const l of logs) expect(l.resource).toEqual(resource);
    expect(logs.map(({ resource: _, ...rest }) => rest)).toEqual([
      {
        scope: 'tapwire',
        timeUnixNano: nanos(err[0]!.time),
        observedTimeUnixNano: nanos(err[0]!.time),
        severityNumber: WARN,
        severityText: 'warn',
        body: err[0]!.msg,
        attributes: {
          component: 'tapwire',
          code: 'TAPWIRE_ERR_CONFIG',
          variable: 'TAPWIRE_DB_SLOW_MS',
          value: 'abc',
          accepted: 'an integer from 0 to 3600000',
        },
        traceId: undefined,
        spanId: undefined,
        flags: 0,
      },
      {
        scope: 'tapwire',
        timeUnixNano: nanos(handling!.time),
        observedTimeUnixNano: nanos(handling!.time),
        severityNumber: WARN,
        severityText: 'warn',
        body: 'handling',
        attributes: { path: '/once', user: { id: 7, roles: ['a', 'b'] }, ok: true, ratio: 0.5 },
        traceId: server.traceId,
        spanId: server.spanId,
        flags: 1,
      },
      {
        scope: 'tapwire',
        timeUnixNano: nanos(after!.time),
        observedTimeUnixNano: nanos(after!.time),
        severityNumber: ERROR,
        severityText: 'error',
        body: 'after the request',
        attributes: {
          'exception.type': 'Error',
          'exception.message': 'boom',
          'exception.stacktrace': (after!.err as { stack: string }).stack,
        },
        traceId: undefined,
        spanId: undefined,
        flags: 0,
      },
    ]);
  });

  it('TAPWIRE_LOG_STDOUT=off: nothing on stdout from the logger, the records still shipped', async () => {
    const service = `logs-${runtime}-quiet`;
    const r = await runFixture(runtime, 'otlp-signals.mjs', env(service, { TAPWIRE_LOG_STDOUT: 'off' }));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('{"status":200}\n');
    expect(r.stderr).toBe('');
    expect(logsOf(service).map((l) => l.body)).toEqual(['handling', 'after the request']);
  });

  it('a full queue drops the oldest records, says so once and counts every one', async () => {
    const service = `logs-${runtime}-burst`;
    const r = await runFixture(
      runtime,
      'otlp-signals.mjs',
      env(service, {
        BURST: '100',
        OTEL_BLRP_MAX_QUEUE_SIZE: '10',
        // The count arrives over OTLP too: the process is gone before anyone could scrape it.
        OTEL_METRICS_EXPORTER: 'otlp',
        OTEL_METRIC_EXPORT_INTERVAL: '60000',
      }),
    );
    expect(r.code, r.stderr).toBe(0);
    expect(jsonLines(r.stdout)).toHaveLength(100);
    const said = jsonLines(r.stderr);
    expect(said.map((l) => [l.code, l.reason, l.msg])).toEqual([
      [
        'TAPWIRE_OTLP_LOGS_DROPPED',
        'queue_full',
        'the OTLP log queue is full (OTEL_BLRP_MAX_QUEUE_SIZE=10): the oldest records are dropped',
      ],
    ]);
    // 101 records (the burst and tapwire's line about it) through a queue of 10: the newest 10 arrive.
    expect(logsOf(service).map((l) => l.body)).toEqual(
      Array.from({ length: 10 }, (_, i) => `burst ${90 + i}`),
    );
    const dropped = receiver
      .sumPoints('tapwire.log.records.dropped', service)
      .map((p) => [p.attributes.reason, p.value]);
    expect(dropped).toEqual([['queue_full', 91]]);
  });

  it('an unreachable receiver: the exit does not wait for it, the loss is said and the app is unchanged', async () => {
    // Takes the connection and the request, never answers.
    const held: import('node:http').ServerResponse[] = [];
    const silent: Server = createServer((_req, res) => held.push(res));
    silent.listen(0, '127.0.0.1');
    await once(silent, 'listening');
    const port = (silent.address() as { port: number }).port;
    try {
      const r = await runFixture(runtime, 'otlp-signals.mjs', {
        OTEL_SERVICE_NAME: `logs-${runtime}-silent`,
        OTEL_LOGS_EXPORTER: 'otlp',
        OTEL_EXPORTER_OTLP_LOGS_ENDPOINT: `http://127.0.0.1:${port}/v1/logs`,
        OTEL_EXPORTER_OTLP_TIMEOUT: '1000',
      });
      expect(r.code, r.stderr).toBe(0);
      expect(jsonLines(r.stdout).map((l) => l.msg ?? l.status)).toEqual([
        'handling',
        'after the request',
        200,
      ]);
      // The request reached the receiver, which never answered: the process ended regardless.
      expect(held.length).toBeGreaterThan(0);
      expect(held.every((res) => !res.headersSent)).toBe(true);
      expect(jsonLines(r.stderr).map((l) => [l.code, l.reason])).toEqual([
        ['TAPWIRE_OTLP_LOGS_DROPPED', 'export_failed'],
      ]);
    } finally {
      silent.closeAllConnections();
      silent.close();
    }
  });
});
