// GenAI spans under the preload with tracing on (OTEL_TRACES_EXPORTER=otlp), Node and Bun: a small
// app calls the provider stand-in (cli/demo/standin/) through fetch and node:http while
// serving a request; a real OTLP/HTTP receiver collects the spans. Each provider call must yield
// one CLIENT span carrying the GenAI semantic-convention attributes with exactly the usage the
// stand-in served (cached and reasoning tokens included), a child of the request's server span,
// and nothing of the prompt, the completion or the API key.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type Served, type Standin, startStandin } from '../cli/demo/standin/index.js';
import { RUNTIMES, startApp, stopAll } from './support/index.js';
import { OtlpReceiver, type OtlpSpan, SPAN_KIND } from './support/otlp.js';

// GET /call?via=fetch|http&path=…&model=…&stream=1 makes one provider call and answers what came
// back (status and byte count); it needs nothing but the runtime.
const APP = `import http from 'node:http';
const OPENAI = process.env.OPENAI_URL;
const KEY = 'sk-standin-secret-key-1234567890';
function viaHttp(url, body) {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'POST', headers: { 'content-type': 'application/json' } }, (res) => {
      let n = 0;
      res.on('data', (c) => (n += c.length));
      res.on('end', () => resolve({ status: res.statusCode, bytes: n }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}
async function viaFetch(url, body) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Bearer ' + KEY },
    body,
  });
  return { status: res.status, bytes: (await res.arrayBuffer()).byteLength };
}
http
  .createServer(async (req, res) => {
    const u = new URL(req.url, 'http://app');
    if (u.pathname !== '/call') return res.end('ok');
    const stream = u.searchParams.get('stream') === '1';
    const body = JSON.stringify({
      model: u.searchParams.get('model'),
      messages: [{ role: 'user', content: 'Say hello to the span' }],
      ...(stream ? { stream: true, stream_options: { include_usage: true } } : {}),
    });
    const call = u.searchParams.get('via') === 'http' ? viaHttp : viaFetch;
    try {
      res.end(JSON.stringify(await call(OPENAI + u.searchParams.get('path'), body)));
    } catch (e) {
      res.statusCode = 500;
      res.end(String(e));
    }
  })
  .listen(Number(process.env.PORT), '127.0.0.1');
`;

const dir = mkdtempSync(join(tmpdir(), 'tapwire-ai-trace-'));
const APP_FILE = join(dir, 'app.mjs');
writeFileSync(APP_FILE, APP);

const receiver = new OtlpReceiver();
let standin: Standin;
beforeAll(async () => {
  await receiver.start();
  standin = await startStandin();
});
afterAll(async () => {
  await standin.close();
  await receiver.close();
});
afterEach(stopAll);

const isGenAi = (s: OtlpSpan) => s.attributes['gen_ai.operation.name'] !== undefined;

describe.each(RUNTIMES)('GenAI spans under %s', (runtime) => {
  it('one CLIENT span per provider call, with the served usage as semconv attributes', async () => {
    const service = `ai-trace-${runtime}`;
    const app = await startApp({
      runtime,
      file: APP_FILE,
      env: {
        OTEL_SERVICE_NAME: service,
        OTEL_TRACES_EXPORTER: 'otlp',
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
        OTEL_BSP_SCHEDULE_DELAY: '50',
        TAPWIRE_AI_ENDPOINTS: standin.endpoints,
        OPENAI_URL: `http://127.0.0.1:${standin.ports.openai}`,
      },
    });
    const calls = [
      // A streamed chat completion whose usage reports cached and reasoning tokens.
      'via=fetch&stream=1&model=gpt-4o-mini&path=/cached7/reasoning3/v1/chat/completions',
      // Not streamed, through node:http.
      'via=http&model=gpt-4o&path=/cached2/v1/chat/completions',
      // Rate-limited: no usage, error.type 429.
      'via=fetch&model=gpt-4o&path=/e429/v1/chat/completions',
    ];
    standin.served.length = 0;
    const answers: number[] = [];
    for (const c of calls) {
      const res = await fetch(app.url(`/call?${c}`));
      answers.push(((await res.json()) as { status: number }).status);
    }
    expect(answers).toEqual([200, 200, 429]);
    const served = (pick: (s: Served) => boolean) => standin.served.find(pick)!;
    const streamed = served((s) => s.stream);
    const plain = served((s) => !s.stream && s.outcome === '200');
    const limited = served((s) => s.outcome === '429');
    expect(standin.served).toHaveLength(3);
    expect([streamed.stream, streamed.cached, streamed.reasoning, plain.cached]).toEqual([true, 7, 3, 2]);

    const spansOf = () => receiver.spans().filter((s) => s.service === service);
    await receiver.waitFor(`3 GenAI spans from ${service}`, () => spansOf().filter(isGenAi).length >= 3);
    // The server spans end after the GenAI spans; their batch can come a moment later.
    const serverSpans = () => spansOf().filter((s) => s.kind === SPAN_KIND.SERVER && s.name === 'GET');
    await receiver.waitFor(`server spans from ${service}`, () =>
      spansOf()
        .filter(isGenAi)
        .every((g) => serverSpans().some((s) => s.spanId === g.parentSpanId)),
    );
    const spans = spansOf();
    const genAi = spans.filter(isGenAi);
    expect(genAi).toHaveLength(3);
    const byModel = (model: string, error: boolean) =>
      genAi.find(
        (s) =>
          s.attributes['gen_ai.request.model'] === model &&
          (s.attributes['error.type'] !== undefined) === error,
      )!;

    const s1 = byModel('gpt-4o-mini', false);
    expect([s1.name, s1.kind, s1.status]).toEqual(['chat gpt-4o-mini', SPAN_KIND.CLIENT, 0]);
    expect(s1.attributes).toEqual({
      'gen_ai.operation.name': 'chat',
      'gen_ai.provider.name': 'openai',
      'server.address': '127.0.0.1',
      'gen_ai.request.model': 'gpt-4o-mini',
      'gen_ai.response.model': 'gpt-4o-mini-2024-07-18',
      'gen_ai.usage.input_tokens': streamed.input,
      'gen_ai.usage.output_tokens': streamed.output,
      'gen_ai.usage.cache_read.input_tokens': 7,
      'gen_ai.usage.reasoning.output_tokens': 3,
      'gen_ai.response.time_to_first_chunk': expect.any(Number),
    });
    const ttft = s1.attributes['gen_ai.response.time_to_first_chunk'] as number;
    expect(ttft).toBeGreaterThan(0);
    expect(ttft).toBeLessThan(60);

    const s2 = byModel('gpt-4o', false);
    expect([s2.name, s2.kind, s2.status]).toEqual(['chat gpt-4o', SPAN_KIND.CLIENT, 0]);
    expect(s2.attributes).toEqual({
      'gen_ai.operation.name': 'chat',
      'gen_ai.provider.name': 'openai',
      'server.address': '127.0.0.1',
      'gen_ai.request.model': 'gpt-4o',
      'gen_ai.response.model': 'gpt-4o-2024-08-06',
      'gen_ai.usage.input_tokens': plain.input,
      'gen_ai.usage.output_tokens': plain.output,
      'gen_ai.usage.cache_read.input_tokens': 2,
      'gen_ai.usage.reasoning.output_tokens': 0,
    });

    const s3 = byModel('gpt-4o', true);
    expect(limited.outcome).toBe('429');
    expect([s3.name, s3.kind, s3.status]).toEqual(['chat gpt-4o', SPAN_KIND.CLIENT, 2]);
    expect(s3.attributes).toEqual({
      'gen_ai.operation.name': 'chat',
      'gen_ai.provider.name': 'openai',
      'server.address': '127.0.0.1',
      'gen_ai.request.model': 'gpt-4o',
      'error.type': '429',
    });

    // Each is a child of the request's server span, beside the HTTP client span of the same call.
    for (const g of genAi) {
      const parent = spans.find((s) => s.spanId === g.parentSpanId)!;
      expect([parent.kind, parent.traceId, parent.attributes['url.path']]).toEqual([
        SPAN_KIND.SERVER,
        g.traceId,
        '/call',
      ]);
      const http = spans.filter(
        (s) =>
          s.kind === SPAN_KIND.CLIENT &&
          !isGenAi(s) &&
          s.traceId === g.traceId &&
          s.attributes['server.port'] === standin.ports.openai,
      );
      expect(http.map((s) => [s.name, s.parentSpanId])).toEqual([['POST', g.parentSpanId]]);
    }

    // Nothing of the prompt, the completion or the key leaves the process.
    const all = JSON.stringify(spans);
    for (const secret of ['Say hello', 'sk-standin-secret', 'stand-in', 'ünïcödé']) {
      expect(all).not.toContain(secret);
    }
  }, 60_000);
});
