// Bad input from an AI provider (or from the URL an app calls) costs the app nothing and tapwire a
// bounded amount, Node and Bun: real SDKs and fetch against the stand-in (cli/demo/standin/),
// which serves the bad input on request (route.ts lists the path prefixes).
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type Standin, startStandin } from '../cli/demo/standin/index.js';
import { replyTo } from '../cli/demo/standin/route.js';
import { PRICES_VERSION } from '../core/ai/prices.js';
import {
  type App,
  find,
  freePort,
  jsonLines,
  NODE,
  parseMetrics,
  promtoolCheckMetrics,
  ROOT,
  RUNTIMES,
  type Sample,
  scrape,
  startApp,
  stopAll,
  sum,
  value,
  waitForHttp,
} from './support/index.js';

const CALLS = 'gen_ai_client_operation_duration_seconds_count';
const TOKEN_COUNT = 'gen_ai_client_token_usage_count';
const TOKENS = 'gen_ai_client_token_usage_sum';
const UNPARSED = 'tapwire_gen_ai_unparsed_streams_total';
const COST = 'tapwire_gen_ai_cost_usd_total';
const DROPPED = 'tapwire_gen_ai_usage_dropped_total';

let standin: Standin;
/** A second stand-in, whose OpenAI port is mapped as Azure OpenAI. */
let azure: Standin;
beforeAll(async () => {
  standin = await startStandin();
  azure = await startStandin();
});
afterAll(async () => {
  await Promise.all([standin.close(), azure.close()]);
});
afterEach(stopAll);

function env(): Record<string, string> {
  return {
    TAPWIRE_AI_ENDPOINTS: standin.endpoints,
    OPENAI_URL: `http://127.0.0.1:${standin.ports.openai}`,
    ANTHROPIC_URL: `http://127.0.0.1:${standin.ports.anthropic}`,
    GEMINI_URL: `http://127.0.0.1:${standin.ports['gcp.gemini']}`,
  };
}

function withAzure(): Record<string, string> {
  const e = env();
  return {
    ...e,
    TAPWIRE_AI_ENDPOINTS: `${e.TAPWIRE_AI_ENDPOINTS},127.0.0.1:${azure.ports.openai}=azure.ai.openai`,
    AZURE_URL: `http://127.0.0.1:${azure.ports.openai}`,
  };
}

async function run(app: App, name: string): Promise<unknown> {
  const res = await fetch(app.url(`/run?case=${name}`));
  const body = (await res.json()) as { result?: unknown; error?: string };
  expect(body.error, `${name} failed in the app`).toBeUndefined();
  return body.result;
}

function agentErrors(app: App): Record<string, unknown>[] {
  return jsonLines(app.stderr()).filter((l) => String(l.code).startsWith('TAPWIRE_ERR'));
}

/** sha256 of everything the stand-in sends for this request, as the app should receive it. */
function servedHash(path: string, body: unknown): string {
  const reply = replyTo('openai', path, JSON.stringify(body), undefined);
  if (!('events' in reply)) throw new Error('expected a stream');
  return createHash('sha256').update(Buffer.concat(reply.events)).digest('hex');
}

describe.each(RUNTIMES)('bad provider input under %s', (runtime) => {
  it('a 10 MB data line without a line break reaches the app unchanged and is counted as unparsed', async () => {
    const app = await startApp({ runtime, file: 'ai-app.mjs', env: env() });
    standin.served.length = 0;
    expect(await run(app, 'fetch-long-line')).toEqual({
      status: 200,
      type: 'text/event-stream',
      hash: servedHash('/long10000000/v1/chat/completions', { model: 'gpt-4o-mini' }),
    });
    // The next stream is read as usual.
    await run(app, 'openai-chat-stream');
    const chat = standin.served.find((s) => s.stream && s.input !== undefined)!;
    const samples = parseMetrics(await app.metrics());

    expect(value(samples, UNPARSED, { gen_ai_provider_name: 'openai' })).toBe(1);
    // Both calls recorded; tokens only for the one read to its end.
    expect(sum(samples, CALLS, { gen_ai_request_model: 'gpt-4o-mini' })).toBe(2);
    expect(find(samples, CALLS).filter((s) => s.labels.error_type !== undefined)).toEqual([]);
    expect(sum(samples, TOKEN_COUNT, { gen_ai_token_type: 'input' })).toBe(1);
    expect(sum(samples, TOKENS, { gen_ai_token_type: 'input' })).toBe(chat.input);
    expect(sum(samples, TOKENS, { gen_ai_token_type: 'output' })).toBe(chat.output);
    expect(agentErrors(app)).toEqual([]);
  }, 60_000);

  it('a stream whose chunks the app transfers as it reads them reaches it unchanged; on Bun it is counted as unparsed', async () => {
    const app = await startApp({ runtime, file: 'ai-app.mjs', env: env() });
    standin.served.length = 0;
    const body = { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Say hello' }] };
    expect(await run(app, 'fetch-transfer')).toEqual({
      status: 200,
      type: 'text/event-stream',
      hash: servedHash('/n30/v1/chat/completions', {
        ...body,
        stream: true,
        stream_options: { include_usage: true },
      }),
    });
    const served = standin.served.find((s) => s.stream)!;
    const samples = parseMetrics(await app.metrics());
    expect(sum(samples, CALLS, { gen_ai_request_model: 'gpt-4o-mini' })).toBe(1);
    expect(find(samples, CALLS).filter((s) => s.labels.error_type !== undefined)).toEqual([]);
    if (runtime === 'bun') {
      // Bun's fetch: the app gets each chunk before the parser reads it (a microtask later), and a
      // transferred chunk is gone by then: the call is recorded without tokens rather than short.
      expect(value(samples, UNPARSED, { gen_ai_provider_name: 'openai' })).toBe(1);
      expect(find(samples, TOKEN_COUNT)).toEqual([]);
    } else {
      // Node's fetch: undici hands tapwire each chunk before the app can read it.
      expect(find(samples, UNPARSED)).toEqual([]);
      expect(sum(samples, TOKENS, { gen_ai_token_type: 'input' })).toBe(served.input);
      expect(sum(samples, TOKENS, { gen_ai_token_type: 'output' })).toBe(served.output);
    }
    expect(agentErrors(app)).toEqual([]);
  }, 60_000);

  it('a malformed percent-escape in a Gemini model or Azure deployment path costs that call its path model, never the hook', async () => {
    const app = await startApp({ runtime, file: 'ai-app.mjs', env: withAzure() });
    const bare = await startApp({ runtime, file: 'ai-app.mjs', env: withAzure(), preload: false });
    for (const name of ['gemini-bad-escape', 'gemini-generate', 'azure-bad-escape', 'azure-chat']) {
      expect(await run(app, name), name).toEqual(await run(bare, name));
    }
    const samples = parseMetrics(await app.metrics());
    const calls = (provider: string) =>
      find(samples, CALLS, { gen_ai_provider_name: provider })
        .map((s) => `${s.labels.gen_ai_request_model ?? '(no model)'} ${s.value}`)
        .sort();
    // Gemini names the model only in the path: the bad call has none, the next one its own.
    expect(calls('gcp.gemini')).toEqual(['(no model) 1', 'gemini-2.5-flash 1']);
    // Azure's body names the model too: both calls keep theirs.
    expect(calls('azure.ai.openai')).toEqual(['prod%ZZ4o 1', 'prod-4o 1']);
    // The client hook measured every request.
    const client = (port: number) =>
      sum(samples, 'http_client_request_duration_seconds_count', { server_port: String(port) });
    expect(client(standin.ports['gcp.gemini'])).toBe(2);
    expect(client(azure.ports.openai)).toBe(2);
    expect(agentErrors(app)).toEqual([]);
  }, 60_000);

  it('a 100,000-character model name and one with odd characters become label values the rule allows', async () => {
    const app = await startApp({ runtime, file: 'ai-app.mjs', env: env() });
    const bare = await startApp({ runtime, file: 'ai-app.mjs', env: env(), preload: false });
    for (const name of ['openai-long-model', 'openai-odd-model']) {
      expect(await run(app, name), name).toEqual(await run(bare, name));
    }
    const text = await app.metrics();
    const samples = parseMetrics(text);
    expect(sum(samples, CALLS, { gen_ai_request_model: LONG, gen_ai_response_model: LONG })).toBe(1);
    expect(sum(samples, CALLS, { gen_ai_request_model: 'gpt-4o-mini', gen_ai_response_model: ODD })).toBe(1);
    expect(find(samples, COST, { gen_ai_request_model: 'gpt-4o-mini' }).length).toBe(2);
    checkLabels(samples);
    expect(text.length).toBeLessThan(100_000);
    expect(promtoolCheckMetrics(text).output).toBe('');
    // The log line naming the unpriced model names it as the labels do.
    const unknown = jsonLines(app.stderr()).filter((l) => l.code === 'TAPWIRE_AI_UNKNOWN_MODEL');
    expect(unknown.map((l) => l['gen_ai.request.model'])).toEqual([LONG]);
    expect(agentErrors(app)).toEqual([]);
  }, 60_000);

  it('impossible token counts are dropped and counted; the cost stays finite', async () => {
    const app = await startApp({ runtime, file: 'ai-app.mjs', env: env() });
    const bare = await startApp({ runtime, file: 'ai-app.mjs', env: env(), preload: false });
    const cases = [
      'openai-tokens-huge',
      'openai-tokens-unsafe-stream',
      'openai-tokens-ceiling',
      'openai-chat',
    ];
    standin.served.length = 0;
    for (const name of cases) expect(await run(app, name), name).toEqual(await run(bare, name));
    // Served twice each (with and without the preload): the first of each is the measured one.
    const served = standin.served.filter((_, i) => i % 2 === 0);
    expect(served.map((s) => s.model)).toEqual(['gpt-4o', 'gpt-4o-mini', 'gpt-4o-mini', 'gpt-4o-mini']);
    const good = served[3]!;
    const text = await app.metrics();
    const samples = parseMetrics(text);

    expect(value(samples, DROPPED, { gen_ai_provider_name: 'openai' })).toBe(3);
    // Every call recorded; input tokens only from the one whose count was possible.
    expect(sum(samples, CALLS)).toBe(4);
    expect(sum(samples, TOKEN_COUNT, { gen_ai_token_type: 'input' })).toBe(1);
    expect(sum(samples, TOKENS, { gen_ai_token_type: 'input' })).toBe(good.input);
    expect(sum(samples, TOKEN_COUNT, { gen_ai_token_type: 'output' })).toBe(4);
    expect(sum(samples, TOKENS, { gen_ai_token_type: 'output' })).toBe(
      served.reduce((n, s) => n + s.output!, 0),
    );
    // Cost: output for every call, input only for the good one.
    const cost = (model: string, type: string) =>
      value(samples, COST, {
        gen_ai_provider_name: 'openai',
        gen_ai_request_model: model,
        gen_ai_token_type: type,
        tapwire_price: type,
        tapwire_price_source: 'builtin',
        tapwire_price_version: PRICES_VERSION,
      });
    expect(cost('gpt-4o', 'input')).toBeUndefined();
    expect(cost('gpt-4o', 'output')).toBeCloseTo((served[0]!.output! * 10) / 1e6, 12);
    expect(cost('gpt-4o-mini', 'input')).toBeCloseTo((good.input! * 0.15) / 1e6, 12);
    expect(cost('gpt-4o-mini', 'output')).toBeCloseTo(
      (served.slice(1).reduce((n, s) => n + s.output!, 0) * 0.6) / 1e6,
      12,
    );
    for (const s of find(samples, COST)) expect(Number.isFinite(s.value), JSON.stringify(s)).toBe(true);
    expect(agentErrors(app)).toEqual([]);
  }, 60_000);
});

const R = '\uFFFD';
/** What the label rule makes of the 100,000-character model name and of the stand-in's odd one. */
const LONG = `${'m'.repeat(253)}...`;
const ODD = `odd-${R}-${R}-${R}-${R}${R}-end`;

/** Every label value on the page keeps the rule. */
function checkLabels(samples: Sample[]): void {
  for (const s of samples) {
    for (const v of Object.values(s.labels)) {
      expect([...v].length).toBeLessThanOrEqual(256);
      expect(v).not.toMatch(/\p{Cc}|[\u202a-\u202e\u2066-\u2069]/u);
    }
  }
}

describe('bad provider input through the sidecar gateway', () => {
  it('a 100,000-character model name and one with odd characters become label values the rule allows', async () => {
    const sidecar = await startSidecar(`openai=http://127.0.0.1:${standin.ports.openai}`);
    const call = async (prefix: string, model: string) => {
      const res = await fetch(`http://127.0.0.1:${sidecar.gatewayPort}/openai${prefix}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }] }),
      });
      expect(res.status).toBe(200);
      return Buffer.from(await res.arrayBuffer());
    };
    const long = await call('', 'm'.repeat(100_000));
    expect(JSON.parse(long.toString('utf8')).model).toHaveLength(100_000);
    const odd = await call('/oddmodel', 'gpt-4o-mini');
    expect(odd.includes(Buffer.from([0xff, 0xfe]))).toBe(true);
    const text = await scrape(sidecar.metricsPort);
    const samples = parseMetrics(text);
    expect(sum(samples, CALLS, { gen_ai_request_model: LONG, gen_ai_response_model: LONG })).toBe(1);
    expect(sum(samples, CALLS, { gen_ai_request_model: 'gpt-4o-mini', gen_ai_response_model: ODD })).toBe(1);
    checkLabels(samples);
    expect(text.length).toBeLessThan(100_000);
    expect(promtoolCheckMetrics(text).output).toBe('');
  }, 60_000);
});

interface Sidecar {
  gatewayPort: number;
  metricsPort: number;
  output: () => string;
}

const sidecars = new Set<ChildProcess>();
afterEach(async () => {
  for (const child of sidecars) {
    sidecars.delete(child);
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await once(child, 'exit');
    }
  }
});

/** `tapwire sidecar` with its AI gateway (TAPWIRE_GATEWAY_PROVIDERS) in front of the stand-in. */
async function startSidecar(providers: string): Promise<Sidecar> {
  const [proxyPort, upstreamPort, gatewayPort, metricsPort] = [
    await freePort(),
    await freePort(),
    await freePort(),
    await freePort(),
  ];
  const child = spawn(NODE, [join(ROOT, 'dist/cli/main.js'), 'sidecar'], {
    env: {
      PATH: process.env.PATH,
      TMPDIR: process.env.TMPDIR,
      TAPWIRE_ENV: 'test',
      OTEL_SERVICE_NAME: 'bounds',
      TAPWIRE_PROXY_PORT: String(proxyPort),
      TAPWIRE_UPSTREAM: `http://127.0.0.1:${upstreamPort}`,
      TAPWIRE_GATEWAY_PORT: String(gatewayPort),
      TAPWIRE_GATEWAY_PROVIDERS: providers,
      OTEL_EXPORTER_PROMETHEUS_PORT: String(metricsPort),
      OTEL_EXPORTER_PROMETHEUS_HOST: '127.0.0.1',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  sidecars.add(child);
  let out = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => {
    out += d;
  });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => {
    out += d;
  });
  await waitForHttp(`http://127.0.0.1:${metricsPort}/healthz`, 15_000, once(child, 'exit'));
  return { gatewayPort, metricsPort, output: () => out };
}
