// OTLP/HTTP export from the preload into a real receiver: metrics pushed on the interval
// (cumulative), spans batched, tapwire's own export traffic neither traced nor measured, and a
// normal exit flushing what is buffered without delaying the exit or adding signal handlers.
import { once } from 'node:events';
import { createServer as createTcpServer, type Socket, type Server as TcpServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  FIXTURES,
  freePort,
  hit,
  jsonLines,
  RUNTIMES,
  type Runtime,
  runScript,
  startApp,
  stopAll,
} from './support/index.js';
import { OtlpReceiver, SPAN_KIND } from './support/otlp.js';

const DURATION = 'http.server.request.duration';
const CLIENT_DURATION = 'http.client.request.duration';
const CUMULATIVE = 2; // OTLP AGGREGATION_TEMPORALITY_CUMULATIVE

const receiver = new OtlpReceiver();
beforeAll(() => receiver.start().then(() => undefined));
afterEach(stopAll);
afterAll(() => receiver.close());

function sumCount(points: { count: number }[]): number {
  return points.reduce((a, p) => a + p.count, 0);
}

describe.each([
  { runtime: 'node', file: 'trace-app.mjs', label: 'node ESM' },
  { runtime: 'node', file: 'trace-app.cjs', label: 'node CommonJS' },
  { runtime: 'bun', file: 'trace-app.mjs', label: 'bun ESM (node:http)' },
  { runtime: 'bun', file: 'trace-bun-serve.mjs', label: 'bun Bun.serve' },
] as const)('$label', ({ runtime, file }) => {
  it('pushes cumulative OTLP metrics whose request counts match, without measuring or tracing its own exports', async () => {
    const service = `otlp-metrics-${runtime}-${file}`;
    const down = await startApp({
      runtime: 'node',
      file: 'trace-app.mjs',
      env: { OTEL_SERVICE_NAME: `${service}-down` },
    });
    const app = await startApp({
      runtime,
      file,
      env: {
        OTEL_SERVICE_NAME: service,
        OTEL_METRICS_EXPORTER: 'otlp',
        OTEL_METRIC_EXPORT_INTERVAL: '200',
        OTEL_TRACES_EXPORTER: 'otlp',
        OTEL_BSP_SCHEDULE_DELAY: '50',
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
        OTEL_EXPORTER_OTLP_HEADERS: 'x-api-key=k3y',
      },
    });
    // startApp's readiness probe made one GET / (200) before these.
    expect(await hit(app.url('/'), 3)).toEqual([200, 200, 200]);
    expect(await hit(app.url('/status/404'), 2)).toEqual([404, 404]);
    expect(await hit(app.url(`/call?via=fetch&url=${down.url('/echo')}`), 1)).toEqual([200]);
    const sent = 7;

    await receiver.waitFor(`${sent} requests in ${DURATION}`, () => {
      return sumCount(receiver.latestHistogram(DURATION, service)) === sent;
    });
    const points = receiver.latestHistogram(DURATION, service);
    const byKey = Object.fromEntries(
      points.map((p) => [
        `${p.attributes['http.request.method']} ${p.attributes['http.response.status_code']}`,
        p,
      ]),
    );
    expect(byKey['GET 200']!.count).toBe(5);
    expect(byKey['GET 404']!.count).toBe(2);
    expect(byKey['GET 200']!.attributes).toEqual({
      'http.request.method': 'GET',
      'http.response.status_code': 200,
      'url.scheme': 'http',
    });

    // Cumulative: later pushes never count fewer requests than earlier ones.
    const metricBodies = receiver.requests.filter(
      (r) =>
        r.path === '/v1/metrics' &&
        r.body.resourceMetrics[0].resource.attributes.some(
          (a: { key: string; value: { stringValue?: string } }) =>
            a.key === 'service.name' && a.value.stringValue === service,
        ),
    );
    expect(metricBodies.length).toBeGreaterThan(0);
    for (const body of metricBodies) {
      for (const sm of body.body.resourceMetrics[0].scopeMetrics) {
        for (const m of sm.metrics ?? []) {
          if (m.histogram) expect(m.histogram.aggregationTemporality).toBe(CUMULATIVE);
        }
      }
      expect(body.headers['x-api-key']).toBe('k3y');
    }

    // Client metrics hold the app's call to the downstream app, nothing towards the receiver,
    // although the app has pushed metrics and spans there many times by now.
    // 7 server spans and 1 client span.
    await receiver.waitFor(
      'spans from the app',
      () => receiver.spans().filter((s) => s.service === service).length >= sent + 1,
    );
    const client = receiver.latestHistogram(CLIENT_DURATION, service);
    expect(client.map((p) => [p.attributes['server.port'], p.count])).toEqual([[down.port, 1]]);
    const traceBodies = receiver.requests.filter((r) => r.path === '/v1/traces');
    expect(traceBodies.every((r) => r.headers['x-api-key'] === 'k3y')).toBe(true);
    const spans = receiver.spans().filter((s) => s.service === service);
    expect(spans.filter((s) => s.kind === SPAN_KIND.CLIENT).map((s) => s.attributes['server.port'])).toEqual([
      down.port,
    ]);
    expect(spans.filter((s) => s.kind === SPAN_KIND.SERVER)).toHaveLength(sent);
  });
});

function runScriptUnderPreload(args: string[], env: Record<string, string>, runtime: Runtime = 'node') {
  return runScript(runtime, true, args, env);
}

describe('exit', () => {
  const ON = (service: string) => ({
    OTEL_SERVICE_NAME: service,
    OTEL_TRACES_EXPORTER: 'otlp',
    OTEL_METRICS_EXPORTER: 'otlp',
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
  });

  it.each(['node', 'bun'] as const)(
    '`%s` with the preload, tracing and OTLP metrics on, `-e 0` exits at once with code 0',
    async (runtime) => {
      const r = await runScriptUnderPreload(['-e', '0'], ON(`exit-e0-${runtime}`), runtime);
      expect(r.code, r.stderr).toBe(0);
      expect(r.ms).toBeLessThan(5000); // "at once": a process held open would run into the 10 s spawn timeout; slack for a loaded machine
      expect(r.stderr).toBe('');
    },
  );

  it.each(['node', 'bun'] as const)(
    '%s: flushes buffered spans and OTLP metrics on a normal exit, adds no signal handlers',
    async (runtime) => {
      const service = `exit-flush-${runtime}`;
      // Long batch delay and export interval: only the exit flush can deliver anything in time.
      const r = await runScriptUnderPreload(
        [join(FIXTURES, 'trace-exit.mjs')],
        { ...ON(service), OTEL_BSP_SCHEDULE_DELAY: '60000', OTEL_METRIC_EXPORT_INTERVAL: '60000' },
        runtime,
      );
      expect(r.code, r.stderr).toBe(0);
      expect(r.ms).toBeLessThan(5000); // "at once": a process held open would run into the 10 s spawn timeout; slack for a loaded machine
      expect(JSON.parse(r.stdout)).toEqual({ status: 200, SIGTERM: 0, SIGINT: 0, beforeExit: 1 });
      // The receiver answered before the process exited, so everything is here now.
      const spans = receiver.spans().filter((s) => s.service === service);
      expect(spans.map((s) => s.kind).sort()).toEqual([SPAN_KIND.SERVER, SPAN_KIND.CLIENT]);
      const server = spans.find((s) => s.kind === SPAN_KIND.SERVER)!;
      const client = spans.find((s) => s.kind === SPAN_KIND.CLIENT)!;
      expect(server.parentSpanId).toBe(client.spanId);
      expect(server.traceId).toBe(client.traceId);
      expect(sumCount(receiver.latestHistogram(DURATION, service))).toBe(1);
    },
  );

  it('with tracing on but nothing to send, an unreachable receiver does not delay the exit', async () => {
    const closed = await freePort();
    const r = await runScriptUnderPreload(['-e', '0'], {
      OTEL_TRACES_EXPORTER: 'otlp',
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${closed}`,
    });
    expect(r.code, r.stderr).toBe(0);
    expect(r.ms).toBeLessThan(5000); // "at once": a process held open would run into the 10 s spawn timeout; slack for a loaded machine
  });

  it('keeps the app exit code', async () => {
    const r = await runScriptUnderPreload(['-e', 'process.exitCode = 3'], ON('exit-code'));
    expect(r.code).toBe(3);
    expect(r.ms).toBeLessThan(5000); // "at once": a process held open would run into the 10 s spawn timeout; slack for a loaded machine
  });
});

/** A TCP receiver that only counts connections: `reset` closes each at once, `hang` never answers. */
async function tcpReceiver(
  mode: 'reset' | 'hang',
): Promise<{ port: number; connections: () => number; close(): Promise<void> }> {
  let n = 0;
  const sockets = new Set<Socket>();
  const server: TcpServer = createTcpServer((socket) => {
    n++;
    socket.on('error', () => {});
    if (mode === 'reset') socket.resetAndDestroy();
    else {
      sockets.add(socket);
      socket.resume();
    }
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as { port: number }).port,
    connections: () => n,
    async close() {
      for (const s of sockets) s.destroy();
      server.close();
      await once(server, 'close');
    },
  };
}

// An unreachable receiver: the app's exit is not held by retries, its exit code and output are
// its own, and one line says what was not delivered. Delays are printed for the record only;
// the assertions are on lines, counts and connection attempts.
describe.each(RUNTIMES)('%s: exit with an unreachable OTLP receiver', (runtime) => {
  const ON = (endpoint: string) => ({
    OTEL_TRACES_EXPORTER: 'otlp',
    OTEL_METRICS_EXPORTER: 'otlp',
    OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
    OTEL_EXPORTER_OTLP_TIMEOUT: '2000',
    // Nothing leaves before the exit: only the exit flush sends.
    OTEL_BSP_SCHEDULE_DELAY: '60000',
    OTEL_METRIC_EXPORT_INTERVAL: '60000',
  });
  const APP = { status: 200, SIGTERM: 0, SIGINT: 0, beforeExit: 1 };

  function lost(stderr: string) {
    const lines = jsonLines(stderr);
    expect(lines.map((l) => l.code)).toEqual(['TAPWIRE_ERR_OTLP_FLUSH']);
    return lines[0]!;
  }

  it('refused: the app exit code and output unchanged, one line counting the 2 spans and the metric points', async () => {
    const refused = await freePort();
    const r = await runScriptUnderPreload(
      [join(FIXTURES, 'trace-exit.mjs')],
      ON(`http://127.0.0.1:${refused}`),
      runtime,
    );
    console.log(`${runtime} refused: exit ${Math.round(r.ms)} ms after start`);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual(APP);
    const line = lost(r.stderr);
    expect(line.spans).toBe(2);
    expect(line.metric_points).toBeGreaterThan(0);
    expect(line.msg).toBe(
      `2 spans, ${line.metric_points} metric points not exported: connection refused by 127.0.0.1:${refused}`,
    );
  });

  it('a receiver that resets every connection gets one attempt per signal when the process ends, no retries', async () => {
    const reset = await tcpReceiver('reset');
    try {
      const r = await runScriptUnderPreload(
        [join(FIXTURES, 'trace-exit.mjs')],
        ON(`http://127.0.0.1:${reset.port}`),
        runtime,
      );
      console.log(
        `${runtime} reset: exit ${Math.round(r.ms)} ms after start, ${reset.connections()} connections`,
      );
      expect(r.code, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout)).toEqual(APP);
      expect(reset.connections()).toBe(2);
      const line = lost(r.stderr);
      expect(line.spans).toBe(2);
      expect(line.msg).toMatch(
        new RegExp(
          `^2 spans, ${line.metric_points} metric points not exported: \\w+ from 127\\.0\\.0\\.1:${reset.port}$`,
        ),
      );
    } finally {
      await reset.close();
    }
  });

  it('never answers: one attempt per signal, the exit after OTEL_EXPORTER_OTLP_TIMEOUT, one line saying so', async () => {
    const hang = await tcpReceiver('hang');
    try {
      const r = await runScriptUnderPreload(
        [join(FIXTURES, 'trace-exit.mjs')],
        ON(`http://127.0.0.1:${hang.port}`),
        runtime,
      );
      console.log(`${runtime} hanging: exit ${Math.round(r.ms)} ms after start (timeout 2000 ms)`);
      expect(r.code, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout)).toEqual(APP);
      expect(hang.connections()).toBe(2);
      const line = lost(r.stderr);
      expect(line.msg).toBe(
        `2 spans, ${line.metric_points} metric points not exported: no answer from 127.0.0.1:${hang.port} within 2000 ms`,
      );
    } finally {
      await hang.close();
    }
  });

  it('failing while the app runs: said once then, and the totals once at the end', async () => {
    const refused = await freePort();
    const r = await runScriptUnderPreload(
      ['-e', 'setTimeout(() => {}, 1500)'],
      {
        OTEL_METRICS_EXPORTER: 'otlp',
        OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${refused}`,
        OTEL_METRIC_EXPORT_INTERVAL: '300',
        // Shorter than the first retry's backoff: each push is lost as soon as it is refused.
        OTEL_EXPORTER_OTLP_TIMEOUT: '500',
      },
      runtime,
    );
    expect(r.code, r.stderr).toBe(0);
    const lines = jsonLines(r.stderr);
    expect(lines.map((l) => l.code)).toEqual(['TAPWIRE_ERR_OTLP_EXPORT', 'TAPWIRE_ERR_OTLP_FLUSH']);
    const [first, total] = lines as [Record<string, number | string>, Record<string, number | string>];
    expect(first.msg).toBe(
      `OTLP export failing: ${first.metric_points} metric points not exported: connection refused by 127.0.0.1:${refused}; further losses are counted and said when the process ends`,
    );
    // Every push of the run was lost, the first among them.
    expect(total.metric_points).toBeGreaterThan(first.metric_points as number);
    expect(total.msg).toBe(
      `${total.metric_points} metric points not exported: connection refused by 127.0.0.1:${refused}`,
    );
  });
});
