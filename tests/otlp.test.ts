// OTLP/HTTP export from the preload into a real receiver: metrics pushed on the interval
// (cumulative), spans batched, tapwire's own export traffic neither traced nor measured, and a
// normal exit flushing what is buffered without delaying the exit or adding signal handlers.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { FIXTURES, freePort, hit, type Runtime, runtimeCommand, startApp, stopAll } from './support/index.js';
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

async function runScript(
  args: string[],
  env: Record<string, string>,
  runtime: Runtime = 'node',
): Promise<{ code: number | null; ms: number; stdout: string; stderr: string }> {
  const started = performance.now();
  const [cmd, ...argv] = runtimeCommand(runtime, true, args[0]!, args.slice(1));
  const child = spawn(cmd!, argv, {
    cwd: FIXTURES,
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      TAPWIRE_ENV: 'test',
      OTEL_EXPORTER_PROMETHEUS_HOST: '127.0.0.1',
      OTEL_EXPORTER_PROMETHEUS_PORT: String(await freePort()),
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    stdout += d;
  });
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
  });
  const [code] = (await once(child, 'exit')) as [number | null];
  return { code, ms: performance.now() - started, stdout, stderr };
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
      const r = await runScript(['-e', '0'], ON(`exit-e0-${runtime}`), runtime);
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
      const r = await runScript(
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
    const r = await runScript(['-e', '0'], {
      OTEL_TRACES_EXPORTER: 'otlp',
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${closed}`,
    });
    expect(r.code, r.stderr).toBe(0);
    expect(r.ms).toBeLessThan(5000); // "at once": a process held open would run into the 10 s spawn timeout; slack for a loaded machine
  });

  it('keeps the app exit code', async () => {
    const r = await runScript(['-e', 'process.exitCode = 3'], ON('exit-code'));
    expect(r.code).toBe(3);
    expect(r.ms).toBeLessThan(5000); // "at once": a process held open would run into the 10 s spawn timeout; slack for a loaded machine
  });
});
