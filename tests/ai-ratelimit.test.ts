// Rate-limit headroom from the providers' response headers (the stand-in sends OpenAI's
// x-ratelimit-* and Anthropic's anthropic-ratelimit-*, counted per API key), Node and Bun, with the
// official SDKs, fetch and node:http: exact gauges per provider, model family, key fingerprint and
// limit type; a 429's empty window; a window past its reset reads whole; never the key.
import { createHash } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type Standin, startStandin } from '../cli/demo/standin/index.js';
import { DEFAULT_LIMITS } from '../cli/demo/standin/limits.js';
import {
  type App,
  find,
  parseMetrics,
  promtoolCheckMetrics,
  RUNTIMES,
  type Runtime,
  type Sample,
  startApp,
  stopAll,
} from './support/index.js';

const REMAINING = 'tapwire_gen_ai_rate_limit_remaining';
const LIMIT = 'tapwire_gen_ai_rate_limit_limit';
const RESET = 'tapwire_gen_ai_rate_limit_reset_time_seconds';

let standin: Standin;
beforeAll(async () => {
  standin = await startStandin();
});
afterAll(async () => {
  await standin.close();
});
afterEach(stopAll);
/** node:http calls sent without a key so far: the stand-in counts them together, across runtimes. */
let keyless = 0;

async function run(app: App, name: string): Promise<void> {
  const body = (await (await fetch(app.url(`/run?case=${name}`))).json()) as { error?: string };
  expect(body.error, name).toBeUndefined();
}

/** provider|family|fingerprint|type -> value of `name`. */
function gauges(samples: Sample[], name: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of find(samples, name)) {
    const l = s.labels;
    out[
      `${l.gen_ai_provider_name}|${l.tapwire_gen_ai_model_family}|${l.tapwire_gen_ai_api_key_fingerprint ?? '-'}|${l.tapwire_gen_ai_rate_limit_type}`
    ] = s.value;
  }
  return out;
}

/** The AI app against `s`, with an API key of its own (`prefix`-runtime-pid-time) and that key's fingerprint. */
async function aiApp(
  runtime: Runtime,
  s: Standin,
  prefix: string,
): Promise<{ app: App; key: string; print: string }> {
  const key = `${prefix}-${runtime}-${process.pid}-${Date.now()}`;
  const app = await startApp({
    runtime,
    file: 'ai-app.mjs',
    env: {
      TAPWIRE_AI_ENDPOINTS: s.endpoints,
      OPENAI_URL: `http://127.0.0.1:${s.ports.openai}`,
      ANTHROPIC_URL: `http://127.0.0.1:${s.ports.anthropic}`,
      GEMINI_URL: `http://127.0.0.1:${s.ports['gcp.gemini']}`,
      STANDIN_KEY: key,
    },
  });
  return { app, key, print: createHash('sha256').update(key).digest('hex').slice(0, 12) };
}

describe.each(RUNTIMES)('rate-limit headroom under %s', (runtime) => {
  it('gauges the requests and tokens left, the limits and the reset time, per provider, model family and key fingerprint', async () => {
    const { app, key, print } = await aiApp(runtime, standin, 'sk-ratelimit');
    standin.served.length = 0;
    const before = Date.now() / 1000;
    // gpt-4o-mini through the SDK (plain and streamed) and fetch; claude-sonnet-4-5 twice.
    for (const name of [
      'openai-chat',
      'openai-chat-stream',
      'fetch-stream',
      'anthropic-messages',
      'anthropic-messages',
    ]) {
      await run(app, name);
    }
    const after = Date.now() / 1000;
    const served = standin.served.slice();
    const openaiIn = served.filter((s) => s.provider === 'openai').reduce((n, s) => n + (s.input ?? 0), 0);
    const claude = served.filter((s) => s.provider === 'anthropic');
    const claudeIn = claude.reduce((n, s) => n + s.input!, 0);
    const claudeOut = claude.reduce((n, s) => n + s.output!, 0);
    const o = DEFAULT_LIMITS.openai;
    const a = DEFAULT_LIMITS.anthropic;
    const mini = `openai|gpt-4o-mini|${print}`;
    const sonnet = `anthropic|claude-sonnet-4-5|${print}`;

    let samples = parseMetrics(await app.metrics());
    expect(gauges(samples, REMAINING)).toEqual({
      [`${mini}|requests`]: o.requests - 3,
      [`${mini}|tokens`]: o.tokens - openaiIn,
      [`${sonnet}|requests`]: a.requests - 2,
      [`${sonnet}|tokens`]: a.tokens - claudeIn - claudeOut,
      [`${sonnet}|input_tokens`]: a.input - claudeIn,
      [`${sonnet}|output_tokens`]: a.output - claudeOut,
    });
    expect(gauges(samples, LIMIT)).toEqual({
      [`${mini}|requests`]: o.requests,
      [`${mini}|tokens`]: o.tokens,
      [`${sonnet}|requests`]: a.requests,
      [`${sonnet}|tokens`]: a.tokens,
      [`${sonnet}|input_tokens`]: a.input,
      [`${sonnet}|output_tokens`]: a.output,
    });
    // Resets: a minute (requests) and six minutes (tokens) after each answer arrived.
    const resets = gauges(samples, RESET);
    for (const [k, v] of Object.entries(resets)) {
      const within = k.endsWith('|requests') ? 60 : 360;
      // Anthropic's RFC 3339 times carry milliseconds; OpenAI's durations count from the answer.
      expect(v, k).toBeGreaterThanOrEqual(before + within - 0.001);
      expect(v, k).toBeLessThanOrEqual(after + within + 0.001);
    }
    expect(Object.keys(resets).sort()).toEqual(Object.keys(gauges(samples, LIMIT)).sort());

    // A 429 empties the request window; node:http without a key gets a series without a fingerprint;
    // a window past its reset (1 ms here) reads whole again.
    for (const name of ['openai-429', 'node-http', 'openai-chat-reset']) await run(app, name);
    keyless++;
    const text = await app.metrics();
    samples = parseMetrics(text);
    const remaining = gauges(samples, REMAINING);
    expect(remaining[`${mini}|requests`]).toBe(0);
    // node:http sends no key: the stand-in counts it apart.
    expect(remaining['openai|gpt-4o-mini|-|requests']).toBe(o.requests - keyless);
    expect([
      remaining[`openai|gpt-4o|${print}|requests`],
      gauges(samples, LIMIT)[`openai|gpt-4o|${print}|requests`],
    ]).toEqual([50, 50]);
    // Never the key, nor a piece of it longer than its prefix.
    expect(text).not.toContain(key);
    expect(text).not.toContain(key.slice(-12));
    expect(app.stderr()).not.toContain(key);
    expect(promtoolCheckMetrics(text).output).toBe('');
  }, 120_000);

  // The headroom is read just after the app has the response (an unref'd immediate), not when the
  // call ends: during a long stream /metrics already shows it. A call's end settles it too, so the
  // test above would pass without the early read.
  it('shows the headroom while the stream is still arriving', async () => {
    const slow = await startStandin({ pace: { first: 0, every: 1, ms: 600 } });
    try {
      const { app, print } = await aiApp(runtime, slow, 'sk-ratelimit-slow');
      // Every event 600 ms after the one before: the stream takes about five seconds.
      const call = run(app, 'openai-chat-stream');
      const mini = `openai|gpt-4o-mini|${print}`;
      let remaining: Record<string, number> = {};
      let samples: Sample[] = [];
      for (let i = 0; i < 40 && remaining[`${mini}|requests`] === undefined; i++) {
        await new Promise((r) => setTimeout(r, 25));
        samples = parseMetrics(await app.metrics());
        remaining = gauges(samples, REMAINING);
      }
      expect(remaining[`${mini}|requests`]).toBe(DEFAULT_LIMITS.openai.requests - 1);
      // Mid-stream: the call has not ended (no duration recorded) and the stand-in has not finished.
      expect(find(samples, 'gen_ai_client_operation_duration_seconds_count')).toEqual([]);
      expect(slow.served).toEqual([]);
      await call;
      const after = parseMetrics(await app.metrics());
      expect(find(after, 'gen_ai_client_operation_duration_seconds_count').map((s) => s.value)).toEqual([1]);
      expect(gauges(after, REMAINING)[`${mini}|requests`]).toBe(DEFAULT_LIMITS.openai.requests - 1);
    } finally {
      await stopAll();
      await slow.close();
    }
  }, 60_000);
});
