// The app's own telemetry under the preload: metrics made with the standard @opentelemetry/api and
// with prom-client's default registry appear on tapwire's /metrics (Prometheus names for the
// former, the app's names for the latter, the same cap), and the app's own spans sit in tapwire's
// traces between the server span and the client span. Node and Bun, real packages.
import { copyFileSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  FIXTURES,
  find,
  jsonLines,
  parseMetrics,
  promtoolCheckMetrics,
  ROOT,
  RUNTIMES,
  type Sample,
  startApp,
  stopAll,
  sum,
  value,
} from './support/index.js';
import { OtlpReceiver, SPAN_KIND } from './support/otlp.js';
import { readJson, removeTemporaries, temporary } from './support/package.js';

afterEach(stopAll);

const P0 = { tapwire_process: '0' };

function order(app: { url(p: string): string }, kind: string) {
  return fetch(app.url(`/order?kind=${kind}`)).then((r) => r.text());
}

describe.each(RUNTIMES)('%s', (runtime) => {
  it("serves the app's @opentelemetry/api instruments with Prometheus names, exact", async () => {
    const app = await startApp({ runtime, file: 'app-metrics.mjs', env: { LOG_LEVEL: 'info' } });
    for (const kind of ['book', 'book', 'pen']) await order(app, kind);
    const text = await app.metrics();
    const s = parseMetrics(text);
    expect(value(s, 'shop_orders_total', { kind: 'book' })).toBe(2);
    expect(value(s, 'shop_orders_total', { kind: 'pen' })).toBe(1);
    // The advice buckets, upper-inclusive; 0.3 s each.
    const les = find(s, 'shop_checkout_duration_seconds_bucket', { kind: 'book' }).map((x) => [
      x.labels.le,
      x.value,
    ]);
    expect(les).toEqual([
      ['0.1', 0],
      ['0.5', 2],
      ['1', 2],
      ['+Inf', 2],
    ]);
    expect(value(s, 'shop_checkout_duration_seconds_count', { kind: 'pen' })).toBe(1);
    expect(value(s, 'shop_checkout_duration_seconds_sum', { kind: 'pen' })).toBeCloseTo(0.3, 10);
    // An up-down counter is a gauge: +2 -1 per order.
    expect(value(s, 'shop_basket_items', {})).toBe(3);
    // A gauge is per process.
    expect(value(s, 'shop_stock', { ...P0, item: 'apple' })).toBe(39);
    expect(text).toContain('# TYPE shop_orders_total counter');
    expect(text).toContain('# TYPE shop_checkout_duration_seconds histogram');
    expect(text).toContain('# TYPE shop_stock gauge');
    // The app's histogram named like tapwire's is left out (said once); tapwire's counts the
    // requests: the readiness GET / and the three orders.
    expect(sum(s, 'http_server_request_duration_seconds_count')).toBe(4);
    expect(sum(s, 'http_server_request_duration_seconds_sum')).toBeLessThan(5);
    expect(promtoolCheckMetrics(text)).toEqual({ status: 0, output: '' });
    await app.metrics();
    const clash = jsonLines(app.stderr()).filter((l) => l.code === 'TAPWIRE_APP_METRIC_CLASH');
    expect(clash.map((l) => [l.metric, l.scope])).toEqual([['http_server_request_duration_seconds', 'shop']]);
  });

  it("serves prom-client's default registry with the app's names, exact", async () => {
    const app = await startApp({ runtime, file: 'app-metrics.mjs' });
    for (const kind of ['book', 'book', 'pen']) await order(app, kind);
    const text = await app.metrics();
    const s = parseMetrics(text);
    expect(value(s, 'legacy_orders_total', { kind: 'book' })).toBe(2);
    expect(value(s, 'legacy_orders_total', { kind: 'pen' })).toBe(1);
    expect(find(s, 'legacy_latency_seconds_bucket').map((x) => [x.labels.le, x.value])).toEqual([
      ['0.1', 0],
      ['1', 3],
      ['+Inf', 3],
    ]);
    expect(value(s, 'legacy_latency_seconds_sum', {})).toBe(1.5);
    expect(value(s, 'legacy_latency_seconds_count', {})).toBe(3);
    expect(text).toContain('# HELP legacy_orders_total Orders (prom-client)');
    expect(text).toContain('# TYPE legacy_orders_total counter');
    expect(promtoolCheckMetrics(text)).toEqual({ status: 0, output: '' });
  });

  it("caps the label sets of the app's metrics like tapwire's own, the rest in the overflow series", async () => {
    const app = await startApp({ runtime, file: 'app-metrics.mjs', env: { TAPWIRE_CARDINALITY_LIMIT: '5' } });
    for (let v = 1; v <= 8; v++) await fetch(app.url(`/label?v=${v}`)).then((r) => r.text());
    const s = parseMetrics(await app.metrics());
    for (const name of ['shop_labelled_total', 'legacy_labelled_total']) {
      const series = find(s, name);
      expect(
        series
          .filter((x) => x.labels.v !== undefined)
          .map((x) => x.labels.v)
          .sort(),
      ).toEqual(['1', '2', '3', '4', '5']);
      expect(value(s, name, { otel_metric_overflow: 'true' })).toBe(3);
      expect(sum(s, name)).toBe(8);
    }
  });

  it("leaves prom-client's default metrics out while tapwire's runtime metrics are on, and says so once", async () => {
    const app = await startApp({
      runtime,
      file: 'app-metrics.mjs',
      env: { DEFAULTS: '1', LOG_LEVEL: 'info' },
    });
    await order(app, 'book');
    const s: Sample[] = parseMetrics(await app.metrics());
    await app.metrics();
    expect(find(s, 'process_cpu_user_seconds_total')).toEqual([]);
    expect(find(s, 'nodejs_eventloop_lag_seconds')).toEqual([]);
    expect(find(s, 'nodejs_version_info')).toEqual([]);
    expect(value(s, 'legacy_orders_total', { kind: 'book' })).toBe(1);
    expect(find(s, 'process_cpu_time_seconds_total').length).toBeGreaterThan(0);
    const said = jsonLines(app.stderr()).filter((l) => l.code === 'TAPWIRE_PROM_CLIENT_DEFAULTS');
    expect(said).toHaveLength(1);
    expect(said[0]!.level).toBe('info');

    const off = await startApp({
      runtime,
      file: 'app-metrics.mjs',
      env: { DEFAULTS: '1', TAPWIRE_RUNTIME_METRICS: 'false' },
    });
    const t = parseMetrics(await off.metrics());
    expect(find(t, 'process_cpu_user_seconds_total')).toHaveLength(1);
    expect(find(t, 'nodejs_version_info')).toHaveLength(1);
    expect(find(t, 'process_cpu_time_seconds_total')).toEqual([]);
  });
});

describe("the app's spans in tapwire's traces", () => {
  const receiver = new OtlpReceiver();
  beforeAll(() => receiver.start().then(() => undefined));
  afterAll(() => receiver.close());

  it.each(RUNTIMES)('%s: server span -> app span -> client span, one trace', async (runtime) => {
    const down = await startApp({ runtime: 'node', file: 'http-app.mjs', preload: false });
    const service = `shop-${runtime}`;
    const app = await startApp({
      runtime,
      file: 'app-metrics.mjs',
      env: {
        OTEL_SERVICE_NAME: service,
        OTEL_TRACES_EXPORTER: 'otlp',
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
        OTEL_BSP_SCHEDULE_DELAY: '50',
        DOWNSTREAM: down.url('/status/200'),
      },
    });
    expect(await fetch(app.url('/traced')).then((r) => r.text())).toBe('ok');
    const mine = () => receiver.spans().filter((x) => x.service === service);
    await receiver.waitFor('three spans of /traced', () => {
      const spans = mine();
      return (
        spans.some((x) => x.name === 'shop.checkout') &&
        spans.filter((x) => x.kind === SPAN_KIND.CLIENT).length >= 1
      );
    });
    const spans = mine();
    const appSpan = spans.find((x) => x.name === 'shop.checkout')!;
    const server = spans.find((x) => x.kind === SPAN_KIND.SERVER && x.attributes['url.path'] === '/traced')!;
    const client = spans.find((x) => x.kind === SPAN_KIND.CLIENT)!;
    expect(server).toBeDefined();
    expect(appSpan.traceId).toBe(server.traceId);
    expect(appSpan.parentSpanId).toBe(server.spanId);
    expect(appSpan.attributes['shop.items']).toBe(3);
    expect(client.traceId).toBe(server.traceId);
    expect(client.parentSpanId).toBe(appSpan.spanId);
  });
});

// The app's @opentelemetry/api is whichever version it installed, not tapwire's. The API uses a
// global only when it was registered by its own minor version or a newer one (api's
// internal/semver.ts), so the API tapwire registers with must be the newest minor an app may have:
// an app on the minor before (1.9, installed before October 2026) and one on npm's latest (1.10)
// both see their metrics served and their spans in tapwire's traces. Each runs the fixture in an
// app directory of its own whose node_modules holds that version, from the repository's
// node_modules (no network): `opentelemetry-api-1.9` is @opentelemetry/api 1.9.0 under an alias.
describe.each([
  ['1.9', 'opentelemetry-api-1.9'],
  ['1.10', '@opentelemetry/api'],
])("an app on @opentelemetry/api %s: its metrics and spans with tapwire's", (minor, installed) => {
  const receiver = new OtlpReceiver();
  let dir: string;
  beforeAll(async () => {
    dir = temporary(`tapwire-api-${minor}-`);
    writeFileSync(
      join(dir, 'package.json'),
      `${JSON.stringify({ name: 'shop', private: true, type: 'module' })}\n`,
    );
    copyFileSync(join(FIXTURES, 'app-metrics.mjs'), join(dir, 'app-metrics.mjs'));
    mkdirSync(join(dir, 'node_modules/@opentelemetry'), { recursive: true });
    symlinkSync(join(ROOT, 'node_modules', installed), join(dir, 'node_modules/@opentelemetry/api'), 'dir');
    symlinkSync(join(ROOT, 'node_modules/prom-client'), join(dir, 'node_modules/prom-client'), 'dir');
    await receiver.start();
  });
  afterAll(async () => {
    await receiver.close();
    removeTemporaries();
  });

  it('is the version the app has', () => {
    const { version } = readJson<{ version: string }>(
      join(dir, 'node_modules/@opentelemetry/api/package.json'),
    );
    expect(version.startsWith(`${minor}.`), version).toBe(true);
  });

  it.each(RUNTIMES)(
    '%s: its counter on /metrics, its spans between the server and client spans',
    async (runtime) => {
      const down = await startApp({ runtime: 'node', file: 'http-app.mjs', preload: false });
      const service = `shop-${minor}-${runtime}`;
      const app = await startApp({
        runtime,
        file: join(dir, 'app-metrics.mjs'),
        cwd: dir,
        env: {
          OTEL_SERVICE_NAME: service,
          OTEL_TRACES_EXPORTER: 'otlp',
          OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
          OTEL_BSP_SCHEDULE_DELAY: '50',
          DOWNSTREAM: down.url('/status/200'),
        },
      });
      for (const kind of ['book', 'book', 'pen']) await order(app, kind);
      const s = parseMetrics(await app.metrics());
      expect(value(s, 'shop_orders_total', { kind: 'book' })).toBe(2);
      expect(value(s, 'shop_orders_total', { kind: 'pen' })).toBe(1);
      expect(value(s, 'shop_basket_items', {})).toBe(3);

      expect(await fetch(app.url('/traced')).then((r) => r.text())).toBe('ok');
      // context.attach() is new in 1.10: the app on 1.9 has none (and says so with a 501).
      const attached = await fetch(app.url('/attached')).then((r) => r.status);
      expect(attached).toBe(minor === '1.9' ? 501 : 200);
      const names = minor === '1.9' ? ['shop.checkout'] : ['shop.checkout', 'shop.attached'];
      const mine = () => receiver.spans().filter((x) => x.service === service);
      await receiver.waitFor(`the spans of /traced${minor === '1.9' ? '' : ' and /attached'}`, () => {
        const spans = mine();
        return (
          names.every((n) => spans.some((x) => x.name === n)) &&
          spans.filter((x) => x.kind === SPAN_KIND.CLIENT).length === names.length
        );
      });
      const spans = mine();
      for (const [name, path] of [
        ['shop.checkout', '/traced'],
        ['shop.attached', '/attached'],
      ] as const) {
        if (!names.includes(name)) continue;
        const server = spans.find((x) => x.kind === SPAN_KIND.SERVER && x.attributes['url.path'] === path)!;
        const appSpan = spans.find((x) => x.name === name)!;
        const client = spans.find((x) => x.kind === SPAN_KIND.CLIENT && x.parentSpanId === appSpan.spanId);
        expect(server, path).toBeDefined();
        expect([appSpan.traceId, appSpan.parentSpanId], name).toEqual([server.traceId, server.spanId]);
        expect(client?.traceId, name).toBe(server.traceId);
      }
    },
  );
});
