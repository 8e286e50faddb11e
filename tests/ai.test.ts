// AI provider calls under the preload, Node and Bun: the official SDKs (openai, @anthropic-ai/sdk,
// @google/genai, Vercel ai with @ai-sdk/openai and @ai-sdk/anthropic), plain fetch and node:http
// call a local stand-in that speaks the providers' wire formats (cli/demo/standin/).
// What /metrics says is compared with what the stand-in served, and what the app received with a
// run without the preload.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type Served, type Standin, startStandin } from '../cli/demo/standin/index.js';
import {
  type App,
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
} from './support/index.js';

const CASES = [
  'openai-chat',
  'openai-chat-stream',
  'openai-tools',
  'openai-tools-stream',
  'openai-embeddings',
  'openai-responses',
  'openai-responses-stream',
  'openai-429',
  'openai-500',
  'openai-cached-reasoning',
  'openai-responses-cached',
  'anthropic-messages',
  'anthropic-stream',
  'anthropic-cache-write',
  'anthropic-cache-write-stream',
  'anthropic-429',
  'gemini-generate',
  'gemini-stream',
  'gemini-thinking',
  'gemini-thinking-stream',
  'vercel-openai',
  'vercel-openai-stream',
  'vercel-anthropic',
  'fetch-stream',
  'fetch-cut',
  'fetch-anthropic-cut',
  'fetch-abandon',
  'fetch-unknown-model',
  'fetch-gemini-sse',
  'node-http',
  'node-http-stream',
];
/** The model fetch-abandon asks for: the app cancels after the first chunk. */
const ABANDONED_MODEL = 'claude-3-5-haiku';
const UNKNOWN_MODEL = 'mystery-model-7';

const PRICES = JSON.parse(readFileSync(join(ROOT, 'core/ai/prices.json'), 'utf8')) as {
  version: string;
  providers: Record<string, Record<string, RawPrice>>;
};

const TOKENS = 'gen_ai_client_token_usage_sum';
const TOKEN_COUNT = 'gen_ai_client_token_usage_count';
const CALLS = 'gen_ai_client_operation_duration_seconds_count';
const TTFT = 'gen_ai_client_operation_time_to_first_chunk_seconds_count';
const TPOC = 'gen_ai_client_operation_time_per_output_chunk_seconds';
const SPEED = 'tapwire_gen_ai_client_output_tokens_per_second';
const COST = 'tapwire_gen_ai_cost_usd_total';

let standin: Standin;
beforeAll(async () => {
  // Streams paced as a model's are: 20 ms after the first event and every third one after it, so
  // each comes in more than one network read (one that comes in one read has no output speed).
  standin = await startStandin({ pace: { every: 3, first: 1, ms: 20 } });
});
afterAll(async () => {
  await standin.close();
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

async function runAll(app: App, cases: string[]): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  for (const name of cases) {
    const res = await fetch(app.url(`/run?case=${name}`));
    const body = (await res.json()) as { result?: unknown; error?: string };
    expect(body.error, `${name} failed in the app`).toBeUndefined();
    out[name] = body.result;
  }
  return out;
}

/** Served outcome → the error.type the metrics should carry. */
function errorTypeOf(s: Served, runtime: string): string | undefined {
  if (s.outcome === '200') return undefined;
  if (s.outcome === 'cut') {
    if (s.model === ABANDONED_MODEL) return 'AbortError';
    return runtime === 'node' ? 'UND_ERR_SOCKET' : 'ECONNRESET';
  }
  return s.outcome;
}

function key(s: Served, runtime: string): string {
  return [s.operation, s.provider, s.model, errorTypeOf(s, runtime) ?? ''].join('|');
}

function keyOf(sample: Sample): string {
  const l = sample.labels;
  return [l.gen_ai_operation_name, l.gen_ai_provider_name, l.gen_ai_request_model, l.error_type ?? ''].join(
    '|',
  );
}

function grouped(samples: Sample[], name: string, extra: Record<string, string> = {}): Map<string, number> {
  const m = new Map<string, number>();
  for (const s of find(samples, name, extra)) m.set(keyOf(s), (m.get(keyOf(s)) ?? 0) + s.value);
  return m;
}

function expected(
  served: Served[],
  runtime: string,
  pick: (s: Served) => number | undefined,
): Map<string, number> {
  const m = new Map<string, number>();
  for (const s of served) {
    const v = pick(s);
    if (v === undefined) continue;
    m.set(key(s, runtime), (m.get(key(s, runtime)) ?? 0) + v);
  }
  return m;
}

type RawPrice = Record<string, number | undefined>;

/**
 * What the served calls cost per provider|model|price entry|token type, from the served usage and
 * the price table (USD per 1M tokens): fresh input, cache reads, 5-minute and 1-hour cache writes,
 * visible output and reasoning each at their own entry, at the base entry where the table has none.
 */
function expectedCost(served: Served[], prices = PRICES.providers): Map<string, number> {
  const cost = new Map<string, number>();
  for (const s of served) {
    const price = prices[s.provider]?.[s.model] as RawPrice | undefined;
    if (price === undefined) continue;
    const put = (field: string | undefined, fallback: string, type: string, tokens: number) => {
      const entry = field !== undefined && price[field] !== undefined ? field : fallback;
      const k = `${s.provider}|${s.model}|${entry}|${type}`;
      cost.set(k, (cost.get(k) ?? 0) + (tokens * price[entry]!) / 1e6);
    };
    if (s.input !== undefined && price.input !== undefined) {
      put(undefined, 'input', 'input', s.input - s.cached - s.cacheWrite);
      if (s.cached > 0) put('cached_input', 'input', 'input', s.cached);
      const w5 = s.cacheWrite - s.cacheWrite1h;
      if (w5 > 0) put('cache_write', 'input', 'input', w5);
      if (s.cacheWrite1h > 0) {
        put(
          'cache_write_1h',
          price.cache_write !== undefined ? 'cache_write' : 'input',
          'input',
          s.cacheWrite1h,
        );
      }
    }
    if (s.output !== undefined && price.output !== undefined) {
      const r = s.reasoning ?? 0;
      put(undefined, 'output', 'output', s.output - r);
      if (r > 0) put('reasoning', 'output', 'output', r);
    }
  }
  return cost;
}

const sorted = (m: Map<string, number>) => [...m.entries()].sort(([a], [b]) => a.localeCompare(b));

describe.each(RUNTIMES)('AI provider calls under %s', (runtime) => {
  const cases = CASES;
  let withTapwire: Record<string, unknown>;

  it('records tokens, calls, time to first chunk and cost exactly as served', async () => {
    const app = await startApp({ runtime, file: 'ai-app.mjs', env: env() });
    standin.served.length = 0;
    withTapwire = await runAll(app, cases);
    // The stand-in records a cut stream once its socket is gone; give it a moment.
    await new Promise((r) => setTimeout(r, 100));
    const served = standin.served.slice();
    const text = await app.metrics();
    const samples = parseMetrics(text);

    // Calls per operation/provider/model/error_type: one per served request.
    expect(sorted(grouped(samples, CALLS))).toEqual(sorted(expected(served, runtime, () => 1)));
    // 429 is its own error_type.
    expect(sum(samples, CALLS, { gen_ai_provider_name: 'openai', error_type: '429' })).toBe(1);
    expect(sum(samples, CALLS, { gen_ai_provider_name: 'anthropic', error_type: '429' })).toBe(1);
    expect(sum(samples, CALLS, { error_type: '500' })).toBe(1);

    // Token sums equal the usage in the served responses, per type.
    expect(sorted(grouped(samples, TOKENS, { gen_ai_token_type: 'input' }))).toEqual(
      sorted(expected(served, runtime, (s) => s.input)),
    );
    expect(sorted(grouped(samples, TOKENS, { gen_ai_token_type: 'output' }))).toEqual(
      sorted(expected(served, runtime, (s) => s.output)),
    );
    expect(sum(samples, TOKEN_COUNT, { error_type: '429' })).toBe(0);

    // Time to first chunk: streams only, one per streamed call that got a 200.
    expect(sorted(grouped(samples, TTFT))).toEqual(
      sorted(
        expected(served, runtime, (s) =>
          s.stream && s.outcome !== '429' && s.outcome !== '500' ? 1 : undefined,
        ),
      ),
    );

    // Time per output chunk: one value per event after the first, for every stream read to its
    // end or cut by the provider (the app's own cancel is left out: how much it read is timing).
    const streamed = served.filter((s) => s.events > 0 && s.model !== ABANDONED_MODEL);
    const gaps = grouped(samples, `${TPOC}_count`);
    for (const k of gaps.keys()) if (k.includes(`|${ABANDONED_MODEL}|`)) gaps.delete(k);
    expect(sorted(gaps)).toEqual(
      sorted(expected(streamed, runtime, (s) => (s.events > 1 ? s.events - 1 : undefined))),
    );
    // Output speed: one value per complete stream whose usage told the output tokens.
    const speeds = expected(streamed, runtime, (s) =>
      s.outcome === '200' && s.output !== undefined && s.output > 0 ? 1 : undefined,
    );
    expect(sorted(grouped(samples, `${SPEED}_count`))).toEqual(sorted(speeds));
    // Where one stream is alone in its series, speed × (sum of its gaps) is its output tokens: the
    // gaps add up to the time from its first chunk to its last.
    const speedSums = grouped(samples, `${SPEED}_sum`);
    const gapSums = grouped(samples, `${TPOC}_sum`);
    const outputs = grouped(samples, TOKENS, { gen_ai_token_type: 'output' });
    let alone = 0;
    for (const [k, n] of speeds) {
      if (n !== 1 || expected(served, runtime, () => 1).get(k) !== 1) continue;
      alone++;
      expect(speedSums.get(k)! * gapSums.get(k)!, k).toBeCloseTo(outputs.get(k)!, 6);
    }
    expect(alone).toBeGreaterThan(0);

    // Response models come from the responses.
    expect(
      find(samples, CALLS, {
        gen_ai_request_model: 'gpt-4o-mini',
        gen_ai_response_model: 'gpt-4o-mini-2024-07-18',
      }).length,
    ).toBeGreaterThan(0);
    expect(find(samples, CALLS, { gen_ai_response_model: 'gemini-2.5-flash' }).length).toBeGreaterThan(0);

    // Cost = tokens × price (per 1M tokens), each kind of token at its own entry of the table,
    // per provider/model/entry, from the built-in table of this version.
    const cost = expectedCost(served);
    const costSamples = find(samples, COST);
    const costKey = (s: Sample) =>
      `${s.labels.gen_ai_provider_name}|${s.labels.gen_ai_request_model}|${s.labels.tapwire_price}|${s.labels.gen_ai_token_type}`;
    expect(costSamples.map(costKey).sort()).toEqual([...cost.keys()].sort());
    for (const s of costSamples) {
      expect(s.value, costKey(s)).toBeCloseTo(cost.get(costKey(s))!, 12);
      expect([s.labels.tapwire_price_source, s.labels.tapwire_price_version]).toEqual([
        'builtin',
        PRICES.version,
      ]);
    }
    // Every kind of token was priced at its own entry somewhere in this run.
    expect(new Set(costSamples.map((s) => s.labels.tapwire_price))).toEqual(
      new Set(['input', 'cached_input', 'cache_write', 'cache_write_1h', 'output', 'reasoning']),
    );

    // The newer per-type counters only when opted in.
    expect(samples.filter((s) => s.name.startsWith('gen_ai_client_inference_'))).toEqual([]);

    // Unknown model: tokens, no cost, one log line naming it.
    expect(sum(samples, TOKENS, { gen_ai_request_model: UNKNOWN_MODEL })).toBeGreaterThan(0);
    expect(find(samples, COST, { gen_ai_request_model: UNKNOWN_MODEL })).toEqual([]);
    const unknown = jsonLines(app.stderr()).filter((l) => l.code === 'TAPWIRE_AI_UNKNOWN_MODEL');
    expect(unknown).toHaveLength(1);
    expect(unknown[0]!['gen_ai.request.model']).toBe(UNKNOWN_MODEL);

    // Privacy: no prompt, completion or API key in metrics or logs.
    for (const out of [text, app.stderr(), app.stdout()]) {
      expect(out).not.toContain('sk-standin-secret');
      expect(out).not.toContain('Say hello');
      expect(out).not.toContain('stand-in');
    }
    expect(promtoolCheckMetrics(text).output).toBe('');
  }, 120_000);

  it('the app receives byte-identical responses with and without the preload', async () => {
    const bare = await startApp({ runtime, file: 'ai-app.mjs', env: env(), preload: false });
    const without = await runAll(bare, cases);
    expect(withTapwire).toBeDefined();
    expect(without).toEqual(withTapwire);
  }, 120_000);
});

describe.each(RUNTIMES)('OTEL_SEMCONV_STABILITY_OPT_IN=gen_ai_latest_experimental under %s', (runtime) => {
  it('adds the per-type usage counters, exactly as served, beside gen_ai_client_token_usage', async () => {
    const app = await startApp({
      runtime,
      file: 'ai-app.mjs',
      env: { ...env(), OTEL_SEMCONV_STABILITY_OPT_IN: 'http,gen_ai_latest_experimental' },
    });
    standin.served.length = 0;
    await runAll(app, CASES);
    await new Promise((r) => setTimeout(r, 100));
    const served = standin.served.slice();
    const samples = parseMetrics(await app.metrics());
    // Per operation|provider|model; series that sum to 0 left out on both sides.
    const got = (name: string) => {
      const m = new Map<string, number>();
      for (const s of find(samples, name)) {
        const k = `${s.labels.gen_ai_operation_name}|${s.labels.gen_ai_provider_name}|${s.labels.gen_ai_request_model}`;
        m.set(k, (m.get(k) ?? 0) + s.value);
      }
      return sorted(new Map([...m].filter(([, v]) => v !== 0)));
    };
    const want = (pick: (s: Served) => number | undefined) => {
      const m = new Map<string, number>();
      for (const s of served) {
        const k = `${s.operation}|${s.provider}|${s.model}`;
        m.set(k, (m.get(k) ?? 0) + (pick(s) ?? 0));
      }
      return sorted(new Map([...m].filter(([, v]) => v !== 0)));
    };
    const P = 'gen_ai_client_inference_usage_';
    expect(got(`${P}input_tokens_total`)).toEqual(want((s) => s.input));
    expect(got(`${P}output_tokens_total`)).toEqual(
      want((s) => (s.operation === 'embeddings' ? 0 : s.output)),
    );
    expect(got(`${P}cache_read_input_tokens_total`)).toEqual(want((s) => s.cached));
    expect(got(`${P}cache_write_input_tokens_total`)).toEqual(want((s) => s.cacheWrite));
    expect(got(`${P}reasoning_output_tokens_total`)).toEqual(want((s) => s.reasoning));
    expect(got(`${P}cache_write_input_tokens_total`).length).toBeGreaterThan(0);
    // Every call counts (a 429 with 0 tokens too), with the conventions' labels.
    const labels = find(samples, `${P}input_tokens_total`, { gen_ai_request_model: 'gpt-4o-mini' })[0]!
      .labels;
    expect(Object.keys(labels).sort()).toEqual([
      'gen_ai_operation_name',
      'gen_ai_provider_name',
      'gen_ai_request_model',
      'gen_ai_response_model',
      'gen_ai_token_modality',
      'server_address',
      'server_port',
    ]);
    expect([labels.gen_ai_token_modality, labels.server_port]).toEqual([
      'unknown',
      String(standin.ports.openai),
    ]);
    // The established histogram stays.
    expect(sum(samples, TOKENS, { gen_ai_token_type: 'input' })).toBe(
      served.reduce((n, s) => n + (s.input ?? 0), 0),
    );
  }, 120_000);
});

describe('TAPWIRE_AI_PRICES', () => {
  it('prices models from the override file, beside the built-in table', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tapwire-prices-'));
    const file = join(dir, 'prices.json');
    writeFileSync(
      file,
      JSON.stringify({
        version: 'test-1',
        providers: { openai: { [UNKNOWN_MODEL]: { input: 3, output: 7 } } },
      }),
    );
    const app = await startApp({
      runtime: 'node',
      file: 'ai-app.mjs',
      env: { ...env(), TAPWIRE_AI_PRICES: file },
    });
    standin.served.length = 0;
    await runAll(app, ['fetch-unknown-model', 'openai-chat']);
    const served = standin.served.slice();
    const samples = parseMetrics(await app.metrics());
    const mystery = served.find((s) => s.model === UNKNOWN_MODEL)!;
    const cost = (type: string) =>
      sum(samples, COST, { gen_ai_request_model: UNKNOWN_MODEL, gen_ai_token_type: type });
    expect(cost('input')).toBeCloseTo((mystery.input! * 3) / 1e6, 12);
    expect(cost('output')).toBeCloseTo((mystery.output! * 7) / 1e6, 12);
    // Each cost series says which table priced it.
    const origins = (model: string) => [
      ...new Set(
        find(samples, COST, { gen_ai_request_model: model }).map(
          (s) => `${s.labels.tapwire_price_source} ${s.labels.tapwire_price_version}`,
        ),
      ),
    ];
    expect(origins(UNKNOWN_MODEL)).toEqual(['override test-1']);
    expect(origins('gpt-4o-mini')).toEqual([`builtin ${PRICES.version}`]);
    // The built-in table still prices the rest.
    const chat = served.find((s) => s.model === 'gpt-4o-mini')!;
    expect(
      sum(samples, COST, { gen_ai_request_model: 'gpt-4o-mini', gen_ai_token_type: 'output' }),
    ).toBeCloseTo((chat.output! * 0.6) / 1e6, 12);
    expect(jsonLines(app.stderr()).filter((l) => l.code === 'TAPWIRE_AI_UNKNOWN_MODEL')).toEqual([]);
  }, 60_000);
});
