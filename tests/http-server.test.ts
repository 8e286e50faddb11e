// Inbound and outbound HTTP metrics for plain node:http apps (ESM and CommonJS) under the real
// runtimes, read from /metrics as a user would.
import { createServer, type Server } from 'node:http';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  type App,
  find,
  freePort,
  hit,
  parseMetrics,
  promtoolCheckMetrics,
  RUNTIMES,
  startApp,
  stopAll,
  value,
} from './support/index.js';

const COUNT = 'http_server_request_duration_seconds_count';
const CLIENT_COUNT = 'http_client_request_duration_seconds_count';

let upstream: Server;
let upstreamPort: number;

beforeAll(async () => {
  // A downstream service the apps call; answers 200 on /ok, 404 elsewhere.
  upstream = createServer((req, res) => {
    res.statusCode = req.url === '/ok' ? 200 : 404;
    res.end('x');
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  upstreamPort = (upstream.address() as { port: number }).port;
});
afterAll(() => new Promise<void>((r) => upstream.close(() => r())));
afterEach(stopAll);

const APPS = [
  { runtime: 'node', file: 'http-app.mjs', label: 'node ESM' },
  { runtime: 'node', file: 'http-app.cjs', label: 'node CommonJS' },
  { runtime: 'bun', file: 'http-app.mjs', label: 'bun ESM (node:http)' },
  { runtime: 'bun', file: 'http-app.cjs', label: 'bun CommonJS (node:http)' },
] as const;

describe.each(APPS)('$label', ({ runtime, file }) => {
  it('counts inbound requests per method and status, with error_type on 5xx only', async () => {
    const app = await startApp({ runtime, file, ready: false });
    await waitUp(app);
    await hit(app.url('/'), 3);
    await hit(app.url('/status/404'), 2);
    await hit(app.url('/status/503'), 1);
    await hit(app.url('/'), 2, { method: 'POST', body: 'x' });
    await hit(app.url('/'), 1, { method: 'PURGE' });
    const text = await app.metrics();
    const s = parseMetrics(text);
    const base = { url_scheme: 'http' };
    // waitUp made one GET / request too.
    expect(value(s, COUNT, { ...base, http_request_method: 'GET', http_response_status_code: '200' })).toBe(
      4,
    );
    expect(value(s, COUNT, { ...base, http_request_method: 'GET', http_response_status_code: '404' })).toBe(
      2,
    );
    expect(
      value(s, COUNT, {
        ...base,
        http_request_method: 'GET',
        http_response_status_code: '503',
        error_type: '503',
      }),
    ).toBe(1);
    expect(value(s, COUNT, { ...base, http_request_method: 'POST', http_response_status_code: '200' })).toBe(
      2,
    );
    expect(
      value(s, COUNT, { ...base, http_request_method: '_OTHER', http_response_status_code: '200' }),
    ).toBe(1);
    expect(find(s, COUNT).reduce((a, x) => a + x.value, 0)).toBe(10);
    // The histogram is consistent: +Inf bucket equals the count, sums are positive and small.
    const inf = find(s, 'http_server_request_duration_seconds_bucket', {
      le: '+Inf',
      http_request_method: 'GET',
    });
    expect(inf.reduce((a, x) => a + x.value, 0)).toBe(7);
    for (const x of find(s, 'http_server_request_duration_seconds_sum')) {
      expect(x.value).toBeGreaterThan(0);
      expect(x.value).toBeLessThan(5);
    }
    // Nothing is in flight once the responses are read; scrapes of /metrics are not counted.
    for (const x of find(s, 'http_server_active_requests')) expect(x.value).toBe(0);
    expect(promtoolCheckMetrics(text)).toEqual({ status: 0, output: '' });
  });

  it('measures a slow request and shows it in flight meanwhile', async () => {
    const app = await startApp({ runtime, file, ready: false });
    await waitUp(app);
    const slow = hit(app.url('/slow/400'));
    await new Promise((r) => setTimeout(r, 150));
    const during = parseMetrics(await app.metrics());
    expect(
      value(during, 'http_server_active_requests', { http_request_method: 'GET', url_scheme: 'http' }),
    ).toBe(1);
    await slow;
    const s = parseMetrics(await app.metrics());
    expect(value(s, 'http_server_active_requests', { http_request_method: 'GET', url_scheme: 'http' })).toBe(
      0,
    );
    // 400 ms lands in the (0.25, 0.5] bucket: le=0.25 holds only the quick readiness probe.
    const bucket = (le: string) =>
      value(s, 'http_server_request_duration_seconds_bucket', {
        http_request_method: 'GET',
        http_response_status_code: '200',
        url_scheme: 'http',
        le,
      });
    expect(bucket('0.25')).toBe(1);
    expect(bucket('0.5')).toBe(2);
  });

  it('marks a request whose client went away as aborted', async () => {
    const app = await startApp({ runtime, file, ready: false });
    await waitUp(app);
    const controller = new AbortController();
    const pending = fetch(app.url('/hang'), { signal: controller.signal }).catch(() => undefined);
    await new Promise((r) => setTimeout(r, 200));
    controller.abort();
    await pending;
    await new Promise((r) => setTimeout(r, 200));
    const s = parseMetrics(await app.metrics());
    expect(value(s, COUNT, { http_request_method: 'GET', url_scheme: 'http', error_type: 'aborted' })).toBe(
      1,
    );
    expect(value(s, 'http_server_active_requests', { http_request_method: 'GET', url_scheme: 'http' })).toBe(
      0,
    );
  });

  it('counts outbound fetch and node:http requests per server and status, and connection errors', async () => {
    const app = await startApp({ runtime, file, ready: false });
    await waitUp(app);
    const ok = encodeURIComponent(`http://127.0.0.1:${upstreamPort}/ok`);
    const missing = encodeURIComponent(`http://127.0.0.1:${upstreamPort}/missing`);
    // A port nothing listens on (not port 1: fetch refuses "bad ports" before connecting).
    const closedPort = await freePort();
    const refused = encodeURIComponent(`http://127.0.0.1:${closedPort}/`);
    expect(await hit(app.url(`/fetch?url=${ok}`), 2)).toEqual([200, 200]);
    expect(await hit(app.url(`/fetch?url=${missing}`), 1)).toEqual([200]);
    expect(await hit(app.url(`/get?url=${ok}`), 3)).toEqual([200, 200, 200]);
    expect(await hit(app.url(`/get?url=${missing}`), 1)).toEqual([200]);
    expect(await hit(app.url(`/fetch?url=${refused}`), 1)).toEqual([502]);
    expect(await hit(app.url(`/get?url=${refused}`), 1)).toEqual([502]);
    const s = parseMetrics(await app.metrics());
    const target = { server_address: '127.0.0.1', server_port: String(upstreamPort), url_scheme: 'http' };
    expect(
      value(s, CLIENT_COUNT, { ...target, http_request_method: 'GET', http_response_status_code: '200' }),
    ).toBe(5);
    expect(
      value(s, CLIENT_COUNT, {
        ...target,
        http_request_method: 'GET',
        http_response_status_code: '404',
        error_type: '404',
      }),
    ).toBe(2);
    expect(
      value(s, CLIENT_COUNT, {
        server_address: '127.0.0.1',
        server_port: String(closedPort),
        url_scheme: 'http',
        http_request_method: 'GET',
        error_type: 'ECONNREFUSED',
      }),
    ).toBe(2);
    expect(find(s, CLIENT_COUNT).reduce((a, x) => a + x.value, 0)).toBe(9);
  });
});

/** The HTTP app with TAPWIRE_CARDINALITY_LIMIT=3, not yet asked whether it is up. */
function limitedTo3(runtime: (typeof RUNTIMES)[number]) {
  return startApp({ runtime, file: 'http-app.mjs', ready: false, env: { TAPWIRE_CARDINALITY_LIMIT: '3' } });
}

it.each(RUNTIMES)(
  '%s: keeps at most TAPWIRE_CARDINALITY_LIMIT label sets and counts the overflow',
  async (runtime) => {
    const app = await limitedTo3(runtime);
    await waitUp(app); // GET 200
    for (const code of [201, 202, 203, 204, 205]) await hit(app.url(`/status/${code}`));
    const text = await app.metrics();
    const s = parseMetrics(text);
    // Three label sets kept (GET 200, 201, 202); 203, 204, 205 land in the overflow series.
    expect(find(s, COUNT).length).toBe(4);
    expect(value(s, COUNT, { otel_metric_overflow: 'true' })).toBe(3);
    expect(
      value(s, 'tapwire_cardinality_overflow_total', { metric: 'http_server_request_duration_seconds' }),
    ).toBe(3);
    expect(promtoolCheckMetrics(text)).toEqual({ status: 0, output: '' });
  },
);

// The in-flight counts are capped the same way: a fourth method goes to the overflow series, each
// such request counted once in the overflow counter, and the series reads 0 once they have ended.
it.each(RUNTIMES)(
  '%s: in-flight label sets past TAPWIRE_CARDINALITY_LIMIT go to the overflow series',
  async (runtime) => {
    const app = await limitedTo3(runtime);
    await waitUp(app); // GET
    await hit(app.url('/'), 1, { method: 'POST' });
    await hit(app.url('/'), 1, { method: 'PUT' });
    await hit(app.url('/'), 2, { method: 'DELETE' });
    await hit(app.url('/'), 1, { method: 'PATCH' });
    const s = parseMetrics(await app.metrics());
    const ACTIVE = 'http_server_active_requests';
    expect(find(s, ACTIVE).length).toBe(4);
    expect(value(s, ACTIVE, { otel_metric_overflow: 'true' })).toBe(0);
    expect(value(s, 'tapwire_cardinality_overflow_total', { metric: ACTIVE })).toBe(3);
  },
);

/** Bun's node:http and the preload start quickly; poll the app until it answers. */
async function waitUp(app: App): Promise<void> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    try {
      await hit(app.url('/'));
      return;
    } catch (error) {
      if (Date.now() > deadline) throw new Error(`app did not start: ${app.stderr()}`, { cause: error });
      await new Promise((r) => setTimeout(r, 25));
    }
  }
}
