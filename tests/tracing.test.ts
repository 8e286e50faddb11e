// W3C trace-context propagation under the preload: real apps (ESM and CommonJS node:http apps on
// Node and on Bun, a Bun.serve app with `routes` and `fetch`) on free ports, a downstream app that
// is itself preloaded (same runtime), and a real OTLP/HTTP receiver collecting the spans.
// What is asserted is what a user reads in their tracing backend and in their log lines.
import { connect } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type App, jsonLines, type Runtime, startApp, stopAll } from './support/index.js';
import { OtlpReceiver, type OtlpSpan, SPAN_KIND } from './support/otlp.js';

const TRACE_ID = '0af7651916cd43dd8448eb211c80319c';
const PARENT_ID = 'b7ad6b7169203331';
const TRACEPARENT = `00-${TRACE_ID}-${PARENT_ID}-01`;
const ERROR = 2; // OTLP STATUS_CODE_ERROR

const receiver = new OtlpReceiver();
beforeAll(() => receiver.start().then(() => undefined));
afterEach(stopAll);
afterAll(() => receiver.close());

/** Waits until the app accepts TCP connections, without sending an HTTP request (no span). */
async function waitPort(app: App, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(app.port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline || app.child.exitCode !== null) {
      throw new Error(`app did not listen on ${app.port}\nstderr:\n${app.stderr()}`);
    }
    await new Promise((r) => setTimeout(r, 25));
  }
}

let serial = 0;
function tracedEnv(service: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    OTEL_SERVICE_NAME: service,
    OTEL_TRACES_EXPORTER: 'otlp',
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
    OTEL_BSP_SCHEDULE_DELAY: '50',
    LOG_LEVEL: 'info',
    ...extra,
  };
}

interface AppCase {
  runtime: Runtime;
  file: string;
  /** The downstream app (same runtime). */
  down: string;
  /** How /call reaches the downstream: fetch(url), fetch(Request, init), node:http.get. */
  vias: readonly string[];
  label: string;
}

async function startPair(
  app: AppCase,
  env: (service: string) => Record<string, string>,
): Promise<{ front: App; down: App; frontName: string; downName: string }> {
  serial++;
  const frontName = `front-${serial}`;
  const downName = `down-${serial}`;
  const [front, down] = await Promise.all([
    startApp({ runtime: app.runtime, file: app.file, ready: false, env: env(frontName) }),
    startApp({ runtime: app.runtime, file: app.down, ready: false, env: env(downName) }),
  ]);
  await Promise.all([waitPort(front), waitPort(down)]);
  return { front, down, frontName, downName };
}

async function getJson(url: string, headers: Record<string, string> = {}) {
  const res = await fetch(url, { headers });
  expect(res.status).toBe(200);
  return (await res.json()) as { status: number; body: string; untouched?: boolean };
}

function spansOf(service: string): OtlpSpan[] {
  return receiver.spans().filter((s) => s.service === service);
}

/** Waits for exactly `n` spans from `service` (and a little longer, to catch extra ones). */
async function expectSpanCount(service: string, n: number): Promise<OtlpSpan[]> {
  await receiver.waitFor(`${n} spans from ${service}`, () => spansOf(service).length >= n);
  await new Promise((r) => setTimeout(r, 300));
  const spans = spansOf(service);
  expect(spans).toHaveLength(n);
  return spans;
}

function parseTraceparent(tp: string): { traceId: string; parentId: string; flags: string } {
  const m = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/.exec(tp);
  if (!m) throw new Error(`not a traceparent: ${tp}`);
  return { traceId: m[1]!, parentId: m[2]!, flags: m[3]! };
}

const NODE_VIAS = ['fetch', 'get'] as const;
const BUN_SERVE_VIAS = ['fetch', 'request', 'get'] as const;

const NODE_ESM: AppCase = {
  runtime: 'node',
  file: 'trace-app.mjs',
  down: 'trace-app.mjs',
  vias: NODE_VIAS,
  label: 'node ESM',
};
const BUN_SERVE: AppCase = {
  runtime: 'bun',
  file: 'trace-bun-serve.mjs',
  down: 'trace-bun-serve.mjs',
  vias: BUN_SERVE_VIAS,
  label: 'bun Bun.serve (routes + fetch)',
};
const APPS: AppCase[] = [
  NODE_ESM,
  { runtime: 'node', file: 'trace-app.cjs', down: 'trace-app.mjs', vias: NODE_VIAS, label: 'node CommonJS' },
  {
    runtime: 'bun',
    file: 'trace-app.mjs',
    down: 'trace-app.mjs',
    vias: NODE_VIAS,
    label: 'bun ESM (node:http)',
  },
  {
    runtime: 'bun',
    file: 'trace-app.cjs',
    down: 'trace-app.mjs',
    vias: NODE_VIAS,
    label: 'bun CommonJS (node:http)',
  },
  BUN_SERVE,
];

describe.each(APPS)('$label', (app) => {
  it('continues an incoming trace through the handler, fetch and http.get to a preloaded downstream app', async () => {
    const { front, down, frontName, downName } = await startPair(app, (s) => tracedEnv(s));
    const headers = { traceparent: TRACEPARENT, tracestate: 'vendor=1' };
    const answers: [string, { status: number; body: string; untouched?: boolean }][] = [];
    for (const via of app.vias) {
      answers.push([via, await getJson(front.url(`/call?via=${via}&url=${down.url('/echo')}`), headers)]);
    }
    const n = app.vias.length;

    // n inbound requests, each with 1 outgoing call, on the front; n inbound on the downstream.
    const frontSpans = await expectSpanCount(frontName, 2 * n);
    const downSpans = await expectSpanCount(downName, n);
    const servers = frontSpans.filter((s) => s.kind === SPAN_KIND.SERVER);
    const clients = frontSpans.filter((s) => s.kind === SPAN_KIND.CLIENT);
    expect(servers).toHaveLength(n);
    expect(clients).toHaveLength(n);

    for (const s of servers) {
      expect(s.traceId).toBe(TRACE_ID);
      expect(s.parentSpanId).toBe(PARENT_ID);
      expect(s.name).toBe('GET');
      expect(s.status).toBe(0);
      expect(s.attributes).toEqual({
        'http.request.method': 'GET',
        'url.path': '/call',
        'url.scheme': 'http',
        'http.response.status_code': 200,
      });
    }

    for (const [via, answer] of answers) {
      expect(answer.status, via).toBe(200);
      // The app's own Request / init / Headers objects were not written to (Bun.serve fixture).
      if (answer.untouched !== undefined) expect(answer.untouched, via).toBe(true);
      const received = JSON.parse(answer.body) as { traceparent: string | null; tracestate: string | null };
      // What the downstream app received: same trace, parent = the front's client span.
      const tp = parseTraceparent(received.traceparent!);
      expect(tp.traceId, via).toBe(TRACE_ID);
      expect(tp.flags, via).toBe('01');
      expect(received.tracestate, via).toBe('vendor=1');
      const client = clients.find((c) => c.spanId === tp.parentId);
      expect(client, `${via}: client span ${tp.parentId}`).toBeDefined();
      expect(client!.traceId).toBe(TRACE_ID);
      expect(client!.name).toBe('GET');
      expect(client!.attributes).toEqual({
        'http.request.method': 'GET',
        'server.address': '127.0.0.1',
        'server.port': down.port,
        'url.full': `http://127.0.0.1:${down.port}/echo`,
        'http.response.status_code': 200,
      });
      // ... whose parent is one of the front's server spans ...
      const server = servers.find((s) => s.spanId === client!.parentSpanId);
      expect(server, `${via}: parent of the client span`).toBeDefined();
      // ... and the downstream continued the trace from that client span.
      const downServer = downSpans.find((s) => s.parentSpanId === client!.spanId);
      expect(downServer, `${via}: downstream server span`).toBeDefined();
      expect(downServer!.traceId).toBe(TRACE_ID);
      expect(downServer!.kind).toBe(SPAN_KIND.SERVER);
      expect(downServer!.attributes['url.path']).toBe('/echo');

      // Log lines written inside the request (before and after awaits and the call) carry the
      // server span's ids.
      const lines = jsonLines(front.stdout()).filter((l) => l.via === via);
      expect(lines.map((l) => l.step)).toEqual(['before-await', 'after-await', 'after-call']);
      for (const l of lines) {
        expect(l.trace_id).toBe(TRACE_ID);
        expect(l.span_id).toBe(server!.spanId);
      }
      const downLines = jsonLines(down.stdout()).filter((l) => l.span_id === downServer!.spanId);
      expect(downLines.map((l) => [l.step, l.trace_id])).toEqual([['echo', TRACE_ID]]);
    }
    // The requests were different server spans.
    expect(new Set(clients.map((c) => c.parentSpanId)).size).toBe(n);

    // Nothing about tapwire's own OTLP exports: no span points at the receiver.
    for (const s of receiver.spans()) {
      expect(s.attributes['server.port']).not.toBe(receiver.port);
      expect(String(s.attributes['url.path'] ?? '')).not.toMatch(/^\/v1\//);
    }
    // Log lines outside any request carry no trace context.
    for (const l of jsonLines(front.stderr())) expect(l.trace_id).toBeUndefined();
  });

  it('starts a new trace without traceparent, names routed spans, marks 5xx as errors', async () => {
    const { front, down, frontName, downName } = await startPair(app, (s) => tracedEnv(s));
    const answer = await getJson(front.url(`/call?via=fetch&url=${down.url('/users/42')}`));
    expect(answer.body).toBe('user 42');
    expect((await fetch(front.url('/status/503'))).status).toBe(503);
    expect((await fetch(front.url('/users/7?secret=x'))).status).toBe(200);

    const frontSpans = await expectSpanCount(frontName, 4);
    const [downServer] = await expectSpanCount(downName, 1);
    const call = frontSpans.find((s) => s.attributes['url.path'] === '/call')!;
    expect(call.parentSpanId).toBeUndefined();
    expect(call.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(call.traceId).not.toBe(TRACE_ID);
    const client = frontSpans.find((s) => s.kind === SPAN_KIND.CLIENT)!;
    expect(client.parentSpanId).toBe(call.spanId);
    expect(downServer!.traceId).toBe(call.traceId);
    expect(downServer!.parentSpanId).toBe(client.spanId);
    // The downstream's route template names its span.
    expect(downServer!.name).toBe('GET /users/:id');
    expect(downServer!.attributes['http.route']).toBe('/users/:id');

    const failed = frontSpans.find((s) => s.attributes['url.path'] === '/status/503')!;
    expect(failed.status).toBe(ERROR);
    expect(failed.attributes['error.type']).toBe('503');
    expect(failed.attributes['http.response.status_code']).toBe(503);

    const routed = frontSpans.find((s) => s.attributes['url.path'] === '/users/7')!;
    expect(routed.name).toBe('GET /users/:id');
    expect(routed.status).toBe(0);
    // Each request outside a trace is its own trace.
    expect(new Set(frontSpans.filter((s) => s.kind === SPAN_KIND.SERVER).map((s) => s.traceId)).size).toBe(3);
  });
});

describe.each([NODE_ESM, BUN_SERVE])('sampling, $label', (app) => {
  it('propagates an unsampled incoming trace without recording spans (parentbased_always_on)', async () => {
    const { front, down, frontName, downName } = await startPair(app, (s) => tracedEnv(s));
    const answer = await getJson(front.url(`/call?via=fetch&url=${down.url('/echo')}`), {
      traceparent: `00-${TRACE_ID}-${PARENT_ID}-00`,
    });
    const tp = parseTraceparent(JSON.parse(answer.body).traceparent);
    expect(tp.traceId).toBe(TRACE_ID);
    expect(tp.flags).toBe('00');
    // A sampled request afterwards arrives, the unsampled one never does.
    await getJson(front.url('/echo'), { traceparent: TRACEPARENT });
    const spans = await expectSpanCount(frontName, 1);
    expect(spans[0]!.attributes['url.path']).toBe('/echo');
    expect(spansOf(downName)).toHaveLength(0);
  });

  it('always_off records nothing but the app still answers', async () => {
    const { front, down, frontName } = await startPair(app, (s) =>
      tracedEnv(s, { OTEL_TRACES_SAMPLER: 'always_off' }),
    );
    const answer = await getJson(front.url(`/call?via=get&url=${down.url('/echo')}`));
    expect(parseTraceparent(JSON.parse(answer.body).traceparent).flags).toBe('00');
    await new Promise((r) => setTimeout(r, 400));
    expect(spansOf(frontName)).toHaveLength(0);
  });
});

// The trace SDK reads no environment since SDK 3; tapwire reads the specification's batch and
// span-limit variables for it (agent/trace/provider.ts), as the SDK 2 packages did.
describe.each([NODE_ESM, BUN_SERVE])('batch and span-limit variables, $label', (app) => {
  it('OTEL_BSP_MAX_EXPORT_BATCH_SIZE=1 sends one span per export, OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT=3 cuts values', async () => {
    const { front, down, frontName } = await startPair(app, (s) =>
      tracedEnv(s, { OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '1', OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT: '3' }),
    );
    await getJson(front.url(`/call?via=fetch&url=${down.url('/echo')}`));
    const spans = await expectSpanCount(frontName, 2);
    const perExport = receiver.requests
      .filter((r) => r.path === '/v1/traces')
      .flatMap((r) => r.body.resourceSpans ?? [])
      .filter((rs) =>
        rs.resource?.attributes?.some(
          (a: { value: { stringValue?: string } }) => a.value.stringValue === frontName,
        ),
      )
      .map((rs) => rs.scopeSpans.reduce((n: number, ss: { spans: unknown[] }) => n + ss.spans.length, 0));
    expect(perExport).toEqual([1, 1]);
    const server = spans.find((s) => s.kind === SPAN_KIND.SERVER)!;
    expect(server.attributes['url.path']).toBe('/ca');
    expect(server.attributes['http.request.method']).toBe('GET');
  });
});

describe('tracing off (default)', () => {
  it.each(APPS)('$label: adds no traceparent, exports nothing, logs no trace ids', async (app) => {
    const { front, down, frontName, downName } = await startPair(app, (s) => ({
      OTEL_SERVICE_NAME: s,
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
      LOG_LEVEL: 'info',
    }));
    for (const via of app.vias) {
      const answer = await getJson(front.url(`/call?via=${via}&url=${down.url('/echo')}`), {
        traceparent: TRACEPARENT,
      });
      expect(answer.status).toBe(200);
      // `request` sends the app's own tracestate header, and only that.
      const tracestate = via === 'request' ? 'app=1' : null;
      expect(JSON.parse(answer.body), via).toEqual({ traceparent: null, tracestate });
      if (answer.untouched !== undefined) expect(answer.untouched, via).toBe(true);
    }
    const lines = jsonLines(front.stdout()).filter((l) => l.step !== undefined);
    expect(lines).toHaveLength(3 * app.vias.length);
    for (const l of lines) {
      expect(l.trace_id).toBeUndefined();
      expect(l.span_id).toBeUndefined();
    }
    await new Promise((r) => setTimeout(r, 300));
    expect(spansOf(frontName)).toHaveLength(0);
    expect(spansOf(downName)).toHaveLength(0);
  });
});

describe('bun Bun.serve', () => {
  it('runs route and error handlers in the span, names spans by the route template, keeps concurrent traces apart', async () => {
    const { front, down, frontName, downName } = await startPair(BUN_SERVE, (s) => tracedEnv(s));
    // The handler throws; the app's error handler logs and answers 500.
    const boom = await fetch(front.url('/boom'), { headers: { traceparent: TRACEPARENT } });
    expect(boom.status).toBe(500);
    expect(await boom.text()).toBe('failed');
    // A method-table route, answered with the incoming trace context.
    const echo = await getJson(front.url('/echo'), { traceparent: TRACEPARENT });
    expect(echo).toEqual({ traceparent: TRACEPARENT, tracestate: null });
    // Concurrent requests of different traces, each calling the downstream app.
    const ids = ['1', '2', '3', '4', '5'].map((d) => d.repeat(32));
    const answers = await Promise.all(
      ids.map((id) =>
        getJson(front.url(`/call?via=fetch&url=${down.url('/echo')}`), {
          traceparent: `00-${id}-${PARENT_ID}-01`,
        }),
      ),
    );
    answers.forEach((a, i) => {
      expect(parseTraceparent(JSON.parse(a.body).traceparent).traceId).toBe(ids[i]);
    });

    const frontSpans = await expectSpanCount(frontName, 2 + 2 * ids.length);
    await expectSpanCount(downName, ids.length);
    const failed = frontSpans.find((s) => s.attributes['url.path'] === '/boom')!;
    expect(failed.traceId).toBe(TRACE_ID);
    expect(failed.parentSpanId).toBe(PARENT_ID);
    expect(failed.name).toBe('GET');
    expect(failed.status).toBe(ERROR);
    expect(failed.attributes).toEqual({
      'http.request.method': 'GET',
      'url.path': '/boom',
      'url.scheme': 'http',
      'http.response.status_code': 500,
      'error.type': 'Error',
    });
    const [errorLine] = jsonLines(front.stdout()).filter((l) => l.step === 'error-handler');
    expect(errorLine).toMatchObject({ trace_id: TRACE_ID, span_id: failed.spanId, msg: 'boom' });

    const routed = frontSpans.find((s) => s.attributes['url.path'] === '/echo')!;
    expect(routed.name).toBe('GET /echo');
    expect(routed.attributes['http.route']).toBe('/echo');
    expect(routed.status).toBe(0);
    const echoLine = jsonLines(front.stdout()).find((l) => l.step === 'echo');
    expect(echoLine).toMatchObject({ trace_id: TRACE_ID, span_id: routed.spanId });

    // Each concurrent request: server span of its own trace -> client span -> its log lines.
    for (const id of ids) {
      const server = frontSpans.find((s) => s.kind === SPAN_KIND.SERVER && s.traceId === id)!;
      const client = frontSpans.find((s) => s.kind === SPAN_KIND.CLIENT && s.traceId === id)!;
      expect(client.parentSpanId).toBe(server.spanId);
      const lines = jsonLines(front.stdout()).filter((l) => l.trace_id === id);
      expect(lines.map((l) => [l.step, l.span_id])).toEqual([
        ['before-await', server.spanId],
        ['after-await', server.spanId],
        ['after-call', server.spanId],
      ]);
    }
  });
});

describe('bun Bun.serve at start-up', () => {
  it('traces an app that calls Bun.serve first thing (no tapwire import)', async () => {
    serial++;
    const service = `plain-${serial}`;
    const app = await startApp({
      runtime: 'bun',
      file: 'trace-bun-plain.mjs',
      ready: false,
      env: tracedEnv(service),
    });
    await waitPort(app);
    const res = await fetch(app.url('/a/b?token=x'), { headers: { traceparent: TRACEPARENT } });
    expect(await res.text()).toBe('plain /a/b');
    const [span] = await expectSpanCount(service, 1);
    expect(span).toMatchObject({ traceId: TRACE_ID, parentSpanId: PARENT_ID, kind: SPAN_KIND.SERVER });
    expect(span!.attributes).toEqual({
      'http.request.method': 'GET',
      'url.path': '/a/b',
      'url.scheme': 'http',
      'http.response.status_code': 200,
    });
  });
});
