// The `undici` package as an app imports it (`import { request, fetch, Agent } from 'undici'`, and
// require): on Node the npm package, measured through undici's diagnostics channels; on Bun the
// runtime's own built-in `undici` (it never loads the npm package), whose `request` and `fetch`
// tapwire wraps when the app declares undici. Real servers on free ports, exact counts from
// /metrics, the app's answers compared with a run without the preload.
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type Standin, startStandin } from '../cli/demo/standin/index.js';
import {
  FIXTURES,
  find,
  freePort,
  parseMetrics,
  RUNTIMES,
  type Sample,
  startApp,
  stopAll,
  sum,
  value,
} from './support/index.js';
import { OtlpReceiver } from './support/otlp.js';

const CLIENT_COUNT = 'http_client_request_duration_seconds_count';
const AI_CALLS = 'gen_ai_client_operation_duration_seconds_count';

let upstream: Server;
let upstreamPort: number;
let standin: Standin;

beforeAll(async () => {
  // The service the apps call: 200 on /ok, 404 elsewhere; /echo answers the trace id of the
  // traceparent it received and the app's own header.
  upstream = createServer((req, res) => {
    if (req.url === '/echo') {
      res.end(`${String(req.headers.traceparent).split('-')[1]} ${req.headers['x-app']}`);
      return;
    }
    res.statusCode = req.url === '/ok' ? 200 : 404;
    res.end(req.method === 'POST' ? 'posted' : 'x');
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  upstreamPort = (upstream.address() as { port: number }).port;
  standin = await startStandin();
});
afterAll(async () => {
  await new Promise<void>((r) => upstream.close(() => r()));
  await standin.close();
});
afterEach(stopAll);

/** Sends each path `times` times; what the app answered, per request. */
async function send(url: (path: string) => string, paths: [string, number][]): Promise<string[]> {
  const seen: string[] = [];
  for (const [path, times] of paths) {
    for (let i = 0; i < times; i++) {
      const res = await fetch(url(path));
      seen.push(`${path} -> ${res.status} ${await res.text()}`);
    }
  }
  return seen;
}

const q = (route: string, target: string) => `${route}?url=${encodeURIComponent(target)}`;

function client(s: Sample[], labels: Record<string, string>): number | undefined {
  return value(s, CLIENT_COUNT, { server_address: '127.0.0.1', url_scheme: 'http', ...labels });
}

const CASES = RUNTIMES.flatMap((runtime) =>
  ['undici-app.mjs', 'undici-app.cjs'].map((file) => ({ runtime, file })),
);

describe.each(CASES)('undici under $runtime ($file)', ({ runtime, file }) => {
  it('counts request(), request() with an Agent and fetch() per status, and refused connections', async () => {
    const ok = `http://127.0.0.1:${upstreamPort}/ok`;
    const missing = `http://127.0.0.1:${upstreamPort}/missing`;
    const closedPort = await freePort();
    const refused = `http://127.0.0.1:${closedPort}/`;
    const traffic: [string, number][] = [
      [q('/request', ok), 2],
      [q('/request', missing), 1],
      [q('/request-agent', ok), 1],
      [q('/request-post', ok), 1],
      [q('/fetch', ok), 2],
      [q('/fetch', missing), 1],
      [q('/request', refused), 1],
      [q('/fetch', refused), 1],
    ];
    const bare = await startApp({ runtime, file, preload: false });
    const baseline = await send(bare.url, traffic);
    await bare.stop();
    // The app's own view: Bun before 1.4.3 names the refused connection ConnectionRefused.
    expect(baseline.at(-1)).toMatch(/ -> 502 (ECONNREFUSED|ConnectionRefused)$/);

    const app = await startApp({ runtime, file });
    expect(await send(app.url, traffic)).toEqual(baseline);
    const s = parseMetrics(await app.metrics());
    const port = String(upstreamPort);
    expect(
      client(s, { server_port: port, http_request_method: 'GET', http_response_status_code: '200' }),
    ).toBe(5);
    expect(
      client(s, { server_port: port, http_request_method: 'POST', http_response_status_code: '200' }),
    ).toBe(1);
    expect(
      client(s, {
        server_port: port,
        http_request_method: 'GET',
        http_response_status_code: '404',
        error_type: '404',
      }),
    ).toBe(2);
    expect(
      client(s, { server_port: String(closedPort), http_request_method: 'GET', error_type: 'ECONNREFUSED' }),
    ).toBe(2);
    expect(sum(s, CLIENT_COUNT)).toBe(10);
    expect(find(s, CLIENT_COUNT).length).toBe(4);
    expect([app.stdout(), app.stderr()]).toEqual([bare.stdout(), bare.stderr()]);
  });
});

describe.each(RUNTIMES)('AI provider calls through undici under %s', (runtime) => {
  it('fetch() is followed for gen_ai metrics; request() is on Node, and is an HTTP call only on Bun', async () => {
    const base = `http://127.0.0.1:${standin.ports.openai}/v1/chat/completions`;
    const app = await startApp({
      runtime,
      file: 'undici-app.mjs',
      env: { TAPWIRE_AI_ENDPOINTS: standin.endpoints },
    });
    standin.served.length = 0;
    const seen = await send(app.url, [
      [q('/ai-fetch', base), 1],
      [q('/ai-request', base), 1],
    ]);
    expect(seen.map((l) => l.split(' -> ')[1]!.slice(0, 7))).toEqual(['200 200', '200 200']);
    expect(standin.served.length).toBe(2);
    const s = parseMetrics(await app.metrics());
    const target = { server_port: String(standin.ports.openai), http_request_method: 'POST' };
    expect(client(s, { ...target, http_response_status_code: '200' })).toBe(2);
    const calls = { gen_ai_provider_name: 'openai', gen_ai_request_model: 'gpt-4o-mini' };
    expect(sum(s, AI_CALLS, calls)).toBe(runtime === 'node' ? 2 : 1);
    expect(sum(s, AI_CALLS)).toBe(runtime === 'node' ? 2 : 1);
  });
});

describe.each(RUNTIMES)('trace context through undici under %s', (runtime) => {
  const receiver = new OtlpReceiver();
  beforeAll(() => receiver.start().then(() => undefined));
  afterAll(() => receiver.close());

  it('request() and fetch() send traceparent beside the app headers, its objects untouched', async () => {
    const app = await startApp({
      runtime,
      file: 'undici-app.mjs',
      env: { OTEL_TRACES_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint },
    });
    const echo = `http://127.0.0.1:${upstreamPort}/echo`;
    const traceId = '0af7651916cd43dd8448eb211c80319c';
    const seen: string[] = [];
    for (const route of ['/request-headers', '/fetch-headers']) {
      const res = await fetch(app.url(q(route, echo)), {
        headers: { traceparent: `00-${traceId}-b7ad6b7169203331-01` },
      });
      seen.push(`${res.status} ${await res.text()}`);
    }
    // The app's frozen options and headers would make any write to them throw.
    expect(seen).toEqual([`200 200 ${traceId} undici`, `200 200 ${traceId} undici`]);
  });
});

describe('Bun: an app that does not declare undici', () => {
  // Bun serves its built-in undici whether or not the app installed it; tapwire loads and wraps it
  // only for apps whose package.json declares it (loading it costs start-up time).
  const dir = mkdtempSync(join(tmpdir(), 'tapwire-undici-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('is not measured through it (documented)', async () => {
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'no-undici', type: 'module' }));
    for (const f of ['undici-app.mjs', 'undici-handler.cjs']) cpSync(join(FIXTURES, f), join(dir, f));
    const app = await startApp({ runtime: 'bun', file: join(dir, 'undici-app.mjs'), cwd: dir });
    const ok = `http://127.0.0.1:${upstreamPort}/ok`;
    expect(await send(app.url, [[q('/request', ok), 1]])).toEqual([`${q('/request', ok)} -> 200 200 x`]);
    const s = parseMetrics(await app.metrics());
    expect(find(s, CLIENT_COUNT)).toEqual([]);
    // The app itself is measured as always.
    expect(sum(s, 'http_server_request_duration_seconds_count')).toBe(2);
  });
});
