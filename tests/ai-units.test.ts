// Pure helpers of core/ai: provider recognition (through the outbound-request classifier), the
// incremental SSE/NDJSON parser (events split anywhere, multi-byte characters included), usage
// extraction per API shape, price lookup.
import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import { AiCall, type AiOutcome } from '../core/ai/call.js';
import { newCosts, PRICE_FIELDS, priceCall, type TokenCounts } from '../core/ai/cost.js';
import { type Price, Prices } from '../core/ai/prices.js';
import { operationOf, Providers, type Target } from '../core/ai/providers.js';
import {
  apiKeyOf,
  durationMs,
  HeaderList,
  HeaderRecord,
  keyFingerprint,
  modelFamily,
  readLimits,
} from '../core/ai/ratelimit.js';
import type { AiRecorder } from '../core/ai/recorder.js';
import { type EventSink, MAX_EVENT_CHARS, StreamParser } from '../core/ai/sse.js';
import { bodyUsage, MAX_TOKENS, requestInfo, streamEvent, Usage } from '../core/ai/usage.js';
import { Origins } from '../core/http/origins.js';

describe('providers', () => {
  const p = new Providers([
    { host: '127.0.0.1', port: 8080, provider: 'anthropic', shape: 'anthropic' },
    { host: 'llm.internal', port: undefined, provider: 'vllm', shape: 'openai' },
  ]);
  const origins = new Origins(p, []);
  const m = (authority: string, path: string, https = true) => {
    const provider = origins.of(https, authority).provider;
    const t = provider && operationOf(provider, path);
    return t && [t.provider.name, t.provider.shape, t.operation, t.pathStream, t.pathModel];
  };

  it('recognises the public providers by host and path', () => {
    expect(m('api.openai.com', '/v1/chat/completions')).toEqual([
      'openai',
      'openai',
      'chat',
      false,
      undefined,
    ]);
    expect(m('api.openai.com', '/v1/responses')).toEqual(['openai', 'openai', 'chat', false, undefined]);
    expect(m('api.openai.com', '/v1/completions')).toEqual([
      'openai',
      'openai',
      'text_completion',
      false,
      undefined,
    ]);
    expect(m('api.openai.com', '/v1/embeddings')).toEqual([
      'openai',
      'openai',
      'embeddings',
      false,
      undefined,
    ]);
    expect(m('api.openai.com', '/v1/models')).toBeUndefined();
    expect(m('api.anthropic.com', '/v1/messages')).toEqual([
      'anthropic',
      'anthropic',
      'chat',
      false,
      undefined,
    ]);
    expect(m('api.anthropic.com', '/v1/messages/count_tokens')).toBeUndefined();
    expect(
      m('generativelanguage.googleapis.com', '/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse'),
    ).toEqual(['gcp.gemini', 'gemini', 'generate_content', true, 'gemini-2.5-flash']);
    expect(m('generativelanguage.googleapis.com', '/v1beta/models/gemini-2.5-flash:generateContent')).toEqual(
      ['gcp.gemini', 'gemini', 'generate_content', false, 'gemini-2.5-flash'],
    );
    expect(
      m('myres.openai.azure.com', '/openai/deployments/prod-4o/chat/completions?api-version=2024-10-21'),
    ).toEqual(['azure.ai.openai', 'openai', 'chat', false, 'prod-4o']);
    expect(m('api.groq.com', '/openai/v1/chat/completions')?.[0]).toBe('groq');
    expect(m('api.mistral.ai', '/v1/chat/completions')?.[0]).toBe('mistral_ai');
    expect(m('api.deepseek.com', '/chat/completions')?.[0]).toBe('deepseek');
    expect(m('api.x.ai', '/v1/chat/completions')?.[0]).toBe('x_ai');
    expect(m('openrouter.ai', '/api/v1/chat/completions')?.[0]).toBe('openrouter');
    expect(m('api.together.xyz', '/v1/chat/completions')?.[0]).toBe('together_ai');
    expect(m('api.fireworks.ai', '/inference/v1/chat/completions')?.[0]).toBe('fireworks');
    expect(m('api.perplexity.ai', '/chat/completions')?.[0]).toBe('perplexity');
    expect(m('localhost:11434', '/api/chat', false)).toEqual(['ollama', 'ollama', 'chat', false, undefined]);
    expect(m('localhost:11434', '/v1/chat/completions', false)).toEqual([
      'ollama',
      'openai',
      'chat',
      false,
      undefined,
    ]);
    expect(m('example.com', '/v1/chat/completions')).toBeUndefined();
  });

  it('recognises TAPWIRE_AI_ENDPOINTS hosts, with and without a port', () => {
    expect(m('127.0.0.1:8080', '/v1/messages', false)?.slice(0, 3)).toEqual([
      'anthropic',
      'anthropic',
      'chat',
    ]);
    expect(m('127.0.0.1:8081', '/v1/messages', false)).toBeUndefined();
    expect(m('llm.internal:8000', '/v1/chat/completions', false)?.slice(0, 2)).toEqual(['vllm', 'openai']);
    expect(m('llm.internal', '/v1/embeddings')?.[2]).toBe('embeddings');
  });

  it('reads a path with a malformed percent-escape as a call without a path model, never a throw', () => {
    expect(m('generativelanguage.googleapis.com', '/v1beta/models/gemini%E0%A4%A:generateContent')).toEqual([
      'gcp.gemini',
      'gemini',
      'generate_content',
      false,
      undefined,
    ]);
    expect(m('myres.openai.azure.com', '/openai/deployments/prod%ZZ4o/chat/completions')).toEqual([
      'azure.ai.openai',
      'openai',
      'chat',
      false,
      undefined,
    ]);
    expect(m('myres.openai.azure.com', '/openai/deployments/prod%2D4o/chat/completions')?.[4]).toBe(
      'prod-4o',
    );
  });
});

class Collect implements EventSink {
  events: string[] = [];
  event(data: string): void {
    this.events.push(data);
  }
}

/** The events a server-sent-events parser reads from `bytes` fed in two pieces, cut at `cut`. */
function eventsCutAt(bytes: Uint8Array, cut: number): string[] {
  const c = new Collect();
  const p = new StreamParser(c, false);
  p.feed(bytes.subarray(0, cut));
  p.feed(bytes.subarray(cut));
  p.end();
  return c.events;
}

const STREAM =
  ': comment\r\n' +
  'event: message_start\r\ndata: {"type":"message_start","text":"ünïcödé ✓"}\r\n\r\n' +
  'data: line one\ndata: line two\n\n' +
  'data:{"no":"space"}\n\n' +
  'data: [DONE]\n\n' +
  'data: last without blank line';

describe('StreamParser', () => {
  const want = [
    '{"type":"message_start","text":"ünïcödé ✓"}',
    'line one\nline two',
    '{"no":"space"}',
    '[DONE]',
    'last without blank line',
  ];
  const bytes = new TextEncoder().encode(STREAM);

  it('reads events whole', () => {
    const c = new Collect();
    const p = new StreamParser(c, false);
    p.feed(bytes);
    p.end();
    expect(c.events).toEqual(want);
  });

  it('reads events split at every byte boundary, multi-byte characters included', () => {
    for (let cut = 1; cut < bytes.length; cut++)
      expect(eventsCutAt(bytes, cut), `cut at ${cut}`).toEqual(want);
    const c = new Collect();
    const p = new StreamParser(c, false);
    for (let i = 0; i < bytes.length; i++) p.feed(bytes.subarray(i, i + 1));
    p.end();
    expect(c.events).toEqual(want);
  });

  it("drops the stream's byte-order mark, once, wherever its bytes fall; later ones stay", () => {
    // A chunk that ends inside a character is decoded in streaming mode, one that ends with an
    // ASCII byte outright: the mark is the stream's only at its very start.
    const marked = new TextEncoder().encode('\uFEFFdata: a\n\n\uFEFFdata: b\n\ndata: \uFEFFc\n\n');
    // The second line's field name is '\uFEFFdata', not `data`: no event, whatever the cut.
    const want = ['a', '\uFEFFc'];
    for (let cut = 0; cut <= marked.length; cut++) {
      expect(eventsCutAt(marked, cut), `cut at ${cut}`).toEqual(want);
    }
  });

  const PIECE = 16 * 1024;
  const ascii = (text: string) => new TextEncoder().encode(text);

  it('keeps at most MAX_EVENT_CHARS for a line that never ends, then stops reading the stream', () => {
    const c = new Collect();
    const p = new StreamParser(c, false);
    expect(p.feed(ascii('data: {"first":1}\n\n'))).toBe(true);
    const line = ascii(`data: {"x":"${'a'.repeat(10_000_000)}`);
    let most = 0;
    let refused = -1;
    for (let at = 0; at < line.length; at += PIECE) {
      const read = p.feed(line.subarray(at, at + PIECE));
      most = Math.max(most, p.buffered);
      if (!read && refused === -1) refused = at;
    }
    // Refused at the first piece that would take the kept text past the bound, and from then on.
    expect(refused).toBe(Math.floor(MAX_EVENT_CHARS / PIECE) * PIECE);
    expect(most).toBeLessThanOrEqual(MAX_EVENT_CHARS);
    expect(most).toBeGreaterThan(MAX_EVENT_CHARS - PIECE);
    expect(p.buffered).toBe(0);
    // Nothing after the refusal is read, even a well-formed event, and the end reports it.
    expect(p.feed(ascii('"}\n\ndata: {"usage":{}}\n\n'))).toBe(false);
    expect(p.end()).toBe(false);
    expect(c.events).toEqual(['{"first":1}']);
  });

  it('reads an event of MAX_EVENT_CHARS (its line with the CR before the LF), split anywhere', () => {
    const value = 'b'.repeat(MAX_EVENT_CHARS - 'data: '.length - 1);
    const bytes = ascii(`data: ${value}\r\n\r\ndata: after\n\n`);
    for (const piece of [PIECE, 1_000_003, bytes.length]) {
      const c = new Collect();
      const p = new StreamParser(c, false);
      for (let at = 0; at < bytes.length; at += piece) {
        expect(p.feed(bytes.subarray(at, at + piece))).toBe(true);
        expect(p.buffered).toBeLessThanOrEqual(MAX_EVENT_CHARS);
      }
      expect(p.end()).toBe(true);
      expect(c.events.map((e) => e.length)).toEqual([value.length, 5]);
    }
  });

  it('counts the data lines of one event together against the bound', () => {
    const c = new Collect();
    const p = new StreamParser(c, false);
    const line = ascii(`data: ${'c'.repeat(1024 * 1024 - 1)}\n`);
    const lines = MAX_EVENT_CHARS / (1024 * 1024);
    for (let i = 0; i < lines; i++) expect(p.feed(line)).toBe(true);
    expect(p.buffered).toBe(MAX_EVENT_CHARS - 1);
    expect(p.feed(line)).toBe(false);
    expect(p.buffered).toBe(0);
    expect(c.events).toEqual([]);
  });

  it('bounds an NDJSON line the same way', () => {
    const c = new Collect();
    const p = new StreamParser(c, true);
    const piece = ascii('d'.repeat(PIECE));
    let fed = 0;
    while (p.feed(piece)) fed++;
    expect(fed).toBe(MAX_EVENT_CHARS / PIECE);
    expect(p.buffered).toBe(0);
    expect(p.end()).toBe(false);
    expect(c.events).toEqual([]);
  });

  it('reads NDJSON lines', () => {
    const c = new Collect();
    const p = new StreamParser(c, true);
    p.feed(new TextEncoder().encode('{"a":1}\n{"b"'));
    p.feed(new TextEncoder().encode(':2}\n{"c":3}'));
    p.end();
    expect(c.events).toEqual(['{"a":1}', '{"b":2}', '{"c":3}']);
  });
});

describe('AiCall', () => {
  const TARGET: Target = {
    provider: { name: 'openai', shape: 'openai' },
    operation: 'chat',
    pathStream: false,
    pathModel: undefined,
  };
  const event = (content: string) =>
    `data: {"model":"gpt-4o-mini","choices":[{"delta":{"content":"${content}"}}],"usage":null}\n\n`;

  /** What a streamed call hands its recorder, fed `reads` (a network read's text, when it came: now() ms). */
  function streamed(reads: [string, number][]): AiOutcome {
    const outcomes: AiOutcome[] = [];
    const recorder = { record: (o: AiOutcome) => outcomes.push(o), settle() {} } as unknown as AiRecorder;
    const call = new AiCall(recorder, TARGET, 'api.openai.com', 443);
    call.head(200, 'text/event-stream');
    for (const [text, at] of reads) call.chunk(new TextEncoder().encode(text), at);
    call.end();
    expect(outcomes).toHaveLength(1);
    return outcomes[0]!;
  }

  it('times the events of one network read by that read: 0 apart, no generation time in one read', () => {
    const done = 'data: [DONE]\n\n';
    const gaps = (o: AiOutcome) => [o.chunkGaps?.count, o.chunkGaps?.sum, o.generation];
    // Three chunks in one read: two gaps of 0, and no time from the first to the last (so no speed).
    expect(gaps(streamed([[event('a') + event('b') + event('c') + done, 1000]]))).toEqual([2, 0, 0]);
    // The third a quarter of a second later, in a read of its own: the gaps sum to it.
    expect(
      gaps(
        streamed([
          [event('a') + event('b'), 1000],
          [event('c') + done, 1250],
        ]),
      ),
    ).toEqual([2, 0.25, 0.25]);
  });
});

describe('usage', () => {
  it('OpenAI chat, with cached and reasoning tokens inside input/output', () => {
    const u = new Usage();
    bodyUsage(
      'openai',
      JSON.stringify({
        model: 'o4-mini-2025-04-16',
        usage: {
          prompt_tokens: 100,
          completion_tokens: 50,
          prompt_tokens_details: { cached_tokens: 40 },
          completion_tokens_details: { reasoning_tokens: 30 },
        },
      }),
      u,
    );
    expect({ ...u }).toEqual({
      input: 100,
      output: 50,
      cached: 40,
      reasoning: 30,
      responseModel: 'o4-mini-2025-04-16',
    });
  });

  it('OpenAI streams: usage only from the include_usage chunk, not from "usage":null', () => {
    const u = new Usage();
    streamEvent('openai', '{"model":"gpt-4o-mini-2024-07-18","choices":[],"usage":null}', u);
    streamEvent('openai', '{"model":"x","choices":[{"delta":{"content":"\\"usage\\": {"}}],"usage":null}', u);
    expect(u.input).toBeUndefined();
    streamEvent('openai', '{"model":"x","choices":[],"usage": {"prompt_tokens":3,"completion_tokens":4}}', u);
    streamEvent('openai', '[DONE]', u);
    expect([u.input, u.output, u.responseModel]).toEqual([3, 4, 'gpt-4o-mini-2024-07-18']);
  });

  // Every chat chunk repeats `"usage":null`: a string search decides, and only the first chunk (the
  // response model) and the usage chunk are parsed, however long the stream.
  it('OpenAI streams: 1,000 content chunks with "usage":null are not JSON-parsed', () => {
    const u = new Usage();
    const parse = vi.spyOn(JSON, 'parse');
    try {
      const chunk =
        '{"id":"c","object":"chat.completion.chunk","model":"gpt-4o","choices":[{"delta":{"content":"hi"}}],"usage":null}';
      for (let i = 0; i < 1000; i++) streamEvent('openai', chunk, u);
      streamEvent(
        'openai',
        '{"model":"gpt-4o","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":4}}',
        u,
      );
      streamEvent('openai', '[DONE]', u);
      expect(parse).toHaveBeenCalledTimes(2);
    } finally {
      parse.mockRestore();
    }
    expect([u.input, u.output, u.responseModel]).toEqual([3, 4, 'gpt-4o']);
  });

  it('Responses API stream: usage from response.completed', () => {
    const u = new Usage();
    streamEvent('openai', '{"type":"response.created","response":{"model":"gpt-4o","usage":null}}', u);
    streamEvent('openai', '{"type":"response.output_text.delta","delta":"hi"}', u);
    streamEvent(
      'openai',
      '{"type":"response.completed","response":{"model":"gpt-4o","usage":{"input_tokens":9,"output_tokens":2,"input_tokens_details":{"cached_tokens":1}}}}',
      u,
    );
    expect([u.input, u.output, u.cached, u.responseModel]).toEqual([9, 2, 1, 'gpt-4o']);
  });

  it('Anthropic: cache reads and writes count inside input; output from message_delta', () => {
    const u = new Usage();
    streamEvent(
      'anthropic',
      '{"type":"message_start","message":{"model":"claude-x","usage":{"input_tokens":10,"cache_read_input_tokens":20,"cache_creation_input_tokens":5,"output_tokens":1}}}',
      u,
    );
    streamEvent('anthropic', '{"type":"content_block_delta","delta":{"text":"\\"message_delta\\""}}', u);
    expect([u.input, u.output, u.cached]).toEqual([35, 1, 20]);
    streamEvent('anthropic', '{"type":"message_delta","usage":{"output_tokens":42}}', u);
    expect([u.input, u.output, u.responseModel]).toEqual([35, 42, 'claude-x']);
  });

  it('Anthropic: cache writes split by TTL (cache_creation), or the total alone from older answers', () => {
    const u = new Usage();
    bodyUsage(
      'anthropic',
      JSON.stringify({
        model: 'claude-sonnet-4-5-20250929',
        usage: {
          input_tokens: 10,
          cache_read_input_tokens: 20,
          cache_creation_input_tokens: 40,
          cache_creation: { ephemeral_5m_input_tokens: 30, ephemeral_1h_input_tokens: 10 },
          output_tokens: 7,
        },
      }),
      u,
    );
    expect([u.input, u.cached, u.cacheWrite, u.cacheWrite1h, u.output, u.dropped]).toEqual([
      70, 20, 40, 10, 7, 0,
    ]);
    const old = new Usage();
    bodyUsage(
      'anthropic',
      '{"usage":{"input_tokens":3,"cache_creation_input_tokens":9,"output_tokens":1}}',
      old,
    );
    expect([old.input, old.cacheWrite, old.cacheWrite1h]).toEqual([12, 9, undefined]);
    // The split alone (no total) still counts.
    const split = new Usage();
    bodyUsage(
      'anthropic',
      '{"usage":{"input_tokens":1,"cache_creation":{"ephemeral_5m_input_tokens":2,"ephemeral_1h_input_tokens":4}}}',
      split,
    );
    expect([split.input, split.cacheWrite, split.cacheWrite1h]).toEqual([7, 6, 4]);
    // An impossible 1-hour count is dropped and counted like any other.
    const bad = new Usage();
    bodyUsage(
      'anthropic',
      '{"usage":{"input_tokens":1,"cache_creation_input_tokens":5,"cache_creation":{"ephemeral_1h_input_tokens":-2}}}',
      bad,
    );
    expect([bad.input, bad.cacheWrite, bad.cacheWrite1h, bad.dropped]).toEqual([6, 5, undefined, 1]);
  });

  it('DeepSeek: cache hits from prompt_cache_hit_tokens; reasoning from completion_tokens_details', () => {
    const u = new Usage();
    bodyUsage(
      'openai',
      JSON.stringify({
        model: 'deepseek-reasoner',
        usage: {
          prompt_tokens: 50,
          completion_tokens: 30,
          prompt_cache_hit_tokens: 32,
          prompt_cache_miss_tokens: 18,
          completion_tokens_details: { reasoning_tokens: 21 },
        },
      }),
      u,
    );
    expect([u.input, u.cached, u.output, u.reasoning]).toEqual([50, 32, 30, 21]);
  });

  it('Gemini: thinking tokens count as output; last cumulative usageMetadata wins; JSON-array streams', () => {
    const u = new Usage();
    streamEvent(
      'gemini',
      '{"modelVersion":"gemini-2.5-pro","usageMetadata":{"promptTokenCount":5,"candidatesTokenCount":1}}',
      u,
    );
    streamEvent(
      'gemini',
      '{"usageMetadata":{"promptTokenCount":5,"candidatesTokenCount":7,"thoughtsTokenCount":3,"cachedContentTokenCount":2}}',
      u,
    );
    expect({ ...u }).toEqual({
      input: 5,
      output: 10,
      cached: 2,
      reasoning: 3,
      responseModel: 'gemini-2.5-pro',
    });
    const a = new Usage();
    bodyUsage(
      'gemini',
      '[{"modelVersion":"m","usageMetadata":{"promptTokenCount":1}},{"usageMetadata":{"promptTokenCount":4,"candidatesTokenCount":6}}]',
      a,
    );
    expect([a.input, a.output, a.responseModel]).toEqual([4, 6, 'm']);
  });

  it('believes only non-negative safe integers up to MAX_TOKENS; drops and counts the rest', () => {
    expect(MAX_TOKENS).toBe(100_000_000);
    const openai = (prompt: string, completion = '5') => {
      const u = new Usage();
      bodyUsage('openai', `{"usage":{"prompt_tokens":${prompt},"completion_tokens":${completion}}}`, u);
      return [u.input, u.output, u.dropped];
    };
    expect(openai('0')).toEqual([0, 5, 0]);
    expect(openai(String(MAX_TOKENS))).toEqual([MAX_TOKENS, 5, 0]);
    for (const bad of [
      String(MAX_TOKENS + 1),
      '1e308',
      '9007199254740993',
      '-3',
      '1.5',
      '"12"',
      'true',
      '{}',
    ]) {
      expect(openai(bad), bad).toEqual([undefined, 5, 1]);
    }
    expect(openai('1e308', '-1')).toEqual([undefined, undefined, 2]);
    // Absent or null: nothing reported, nothing dropped.
    expect(openai('null')).toEqual([undefined, 5, 0]);
  });

  it('drops a count summed from an impossible one, and one whose sum passes the ceiling', () => {
    const a = new Usage();
    bodyUsage(
      'anthropic',
      '{"model":"claude-x","usage":{"input_tokens":10,"cache_read_input_tokens":1e308,"output_tokens":3}}',
      a,
    );
    expect([a.input, a.cached, a.output, a.dropped]).toEqual([undefined, undefined, 3, 2]);
    const g = new Usage();
    bodyUsage(
      'gemini',
      `{"usageMetadata":{"promptTokenCount":1,"candidatesTokenCount":${MAX_TOKENS},"thoughtsTokenCount":1}}`,
      g,
    );
    expect([g.input, g.output, g.reasoning, g.dropped]).toEqual([1, undefined, 1, 1]);
  });

  it('a later good report of a cumulative count replaces an impossible one', () => {
    const u = new Usage();
    streamEvent('gemini', '{"modelVersion":"g","usageMetadata":{"promptTokenCount":-1}}', u);
    expect([u.input, u.dropped]).toEqual([undefined, 1]);
    streamEvent('gemini', '{"usageMetadata":{"promptTokenCount":7,"candidatesTokenCount":2}}', u);
    expect([u.input, u.output, u.dropped]).toEqual([7, 2, 0]);
  });

  it('Ollama native: prompt_eval_count / eval_count from the done line', () => {
    const u = new Usage();
    streamEvent('ollama', '{"model":"llama3.2","done":false,"message":{"content":"hi"}}', u);
    streamEvent('ollama', '{"model":"llama3.2","done":true,"prompt_eval_count":26,"eval_count":290}', u);
    expect([u.input, u.output, u.responseModel]).toEqual([26, 290, 'llama3.2']);
  });

  it('reads only model and stream from a request body', () => {
    expect(requestInfo('openai', '{"model":"gpt-4o","stream":true,"messages":[]}')).toEqual({
      model: 'gpt-4o',
      stream: true,
    });
    expect(requestInfo('ollama', '{"model":"llama3.2"}')).toEqual({ model: 'llama3.2', stream: true });
    expect(requestInfo('openai', 'not json')).toEqual({ model: undefined, stream: false });
  });
});

describe('prices', () => {
  it('prices dated model ids as their longest table entry; unknown models have none', () => {
    const p = new Prices();
    expect(p.lookup('openai', 'gpt-4o-mini-2024-07-18')).toEqual({
      input: 0.15,
      cachedInput: 0.075,
      cacheWrite: undefined,
      cacheWrite1h: undefined,
      output: 0.6,
      reasoning: undefined,
      origin: { source: 'builtin', version: '2026-12-01' },
    });
    expect(p.lookup('anthropic', 'claude-sonnet-4-5-20250929')).toMatchObject({
      input: 3,
      cachedInput: 0.3,
      cacheWrite: 3.75,
      cacheWrite1h: 6,
      output: 15,
    });
    expect(p.lookup('gcp.gemini', 'gemini-2.5-flash')?.reasoning).toBe(2.5);
    expect(p.lookup('openai', 'gpt-4o-2024-08-06')?.input).toBe(2.5);
    expect(p.lookup('anthropic', 'claude-sonnet-4-5-20250929')?.output).toBe(15);
    expect(p.lookup('gcp.gemini', 'models/gemini-2.5-flash')?.input).toBe(0.3);
    expect(p.lookup('openai', 'mystery-model')).toBeUndefined();
    expect(p.lookup('nobody', 'gpt-4o')).toBeUndefined();
  });

  it('an override file replaces entries per model', () => {
    const p = new Prices({
      version: 'mine',
      providers: { openai: { 'gpt-4o': { input: 1, output: 2 } }, vllm: { llama: { input: 0.5 } } },
    });
    expect(p.version).toBe('mine');
    expect(p.lookup('openai', 'gpt-4o')).toMatchObject({
      input: 1,
      cachedInput: undefined,
      output: 2,
      origin: { source: 'override', version: 'mine' },
    });
    expect(p.lookup('openai', 'gpt-4o-mini')?.origin).toEqual({ source: 'builtin', version: '2026-12-01' });
    expect(new Prices({ providers: { openai: { x: { input: 1 } } } }).lookup('openai', 'x')?.origin).toEqual({
      source: 'override',
      version: 'unversioned',
    });
    expect(p.lookup('openai', 'gpt-4o-mini')?.input).toBe(0.15);
    expect(p.lookup('vllm', 'llama')?.input).toBe(0.5);
  });
});

describe('cost', () => {
  const price = (p: Partial<Price>): Price => ({
    input: undefined,
    cachedInput: undefined,
    cacheWrite: undefined,
    cacheWrite1h: undefined,
    output: undefined,
    reasoning: undefined,
    origin: { source: 'builtin', version: 'v' },
    ...p,
  });
  const counts = (c: Partial<TokenCounts>): TokenCounts => ({
    input: undefined,
    output: undefined,
    cached: undefined,
    cacheWrite: undefined,
    cacheWrite1h: undefined,
    reasoning: undefined,
    ...c,
  });
  /** The priced entries as {entry: USD × 1e6}, rounded to avoid float noise. */
  const priced = (c: Partial<TokenCounts>, p: Partial<Price>) => {
    const out = newCosts();
    priceCall(counts(c), price(p), out);
    const r: Record<string, number> = {};
    PRICE_FIELDS.forEach((f, i) => {
      if (!Number.isNaN(out[i]!)) r[f] = Math.round(out[i]! * 1e12) / 1e6;
    });
    return r;
  };
  const full = { input: 3, cachedInput: 0.3, cacheWrite: 3.75, cacheWrite1h: 6, output: 15, reasoning: 20 };

  it('prices each kind of token at its own entry', () => {
    expect(
      priced({ input: 100, cached: 20, cacheWrite: 40, cacheWrite1h: 10, output: 50, reasoning: 30 }, full),
    ).toEqual({
      input: 40 * 3,
      cached_input: 20 * 0.3,
      cache_write: 30 * 3.75,
      cache_write_1h: 10 * 6,
      output: 20 * 15,
      reasoning: 30 * 20,
    });
  });

  it('falls back to the base entry where the table has none, and says so by the entry', () => {
    expect(
      priced(
        { input: 100, cached: 20, cacheWrite: 40, cacheWrite1h: 10, output: 50, reasoning: 30 },
        {
          input: 2,
          output: 8,
        },
      ),
    ).toEqual({ input: 100 * 2, output: 50 * 8 });
    // A 1-hour write without its own price is priced as a 5-minute one.
    expect(priced({ input: 10, cacheWrite: 10, cacheWrite1h: 10 }, { input: 1, cacheWrite: 1.25 })).toEqual({
      input: 0,
      cache_write: 12.5,
    });
  });

  it('prices the base entries at zero tokens, the others only when they hold tokens', () => {
    expect(priced({ input: 0, output: 0, cached: 0, reasoning: 0 }, full)).toEqual({ input: 0, output: 0 });
    expect(priced({ input: 5 }, full)).toEqual({ input: 15 });
    expect(priced({ output: 5 }, { input: 1 })).toEqual({});
  });

  it('never prices a part twice: parts larger than their whole are cut to it', () => {
    expect(priced({ input: 10, cached: 25, cacheWrite: 5 }, full)).toEqual({ input: 0, cached_input: 3 });
    expect(priced({ input: 10, cacheWrite: 8, cacheWrite1h: 20 }, full)).toEqual({
      input: 2 * 3,
      cache_write_1h: 8 * 6,
    });
    expect(priced({ output: 4, reasoning: 9 }, full)).toEqual({ output: 0, reasoning: 4 * 20 });
  });
});

describe('rate-limit headers', () => {
  const NOW = Date.UTC(2026, 11, 1, 12, 0, 0);
  it('reads OpenAI-shaped limits, resets as durations from now', () => {
    const h = new Headers({
      'x-ratelimit-limit-requests': '10000',
      'x-ratelimit-remaining-requests': '9998',
      'x-ratelimit-reset-requests': '8.64s',
      'x-ratelimit-limit-tokens': '2000000',
      'x-ratelimit-remaining-tokens': '1999950',
      'x-ratelimit-reset-tokens': '6m0s',
    });
    expect(readLimits('openai', h, NOW)).toEqual([
      { type: 'requests', limit: 10000, remaining: 9998, resetAt: NOW / 1000 + 8.64 },
      { type: 'tokens', limit: 2000000, remaining: 1999950, resetAt: NOW / 1000 + 360 },
    ]);
  });

  it('reads Anthropic limits, resets as RFC 3339 times, from a node:http record or a raw list', () => {
    const reset = '2026-12-01T12:01:00Z';
    const record = {
      'anthropic-ratelimit-requests-limit': '4000',
      'anthropic-ratelimit-requests-remaining': '0',
      'anthropic-ratelimit-requests-reset': reset,
      'anthropic-ratelimit-output-tokens-limit': '80000',
      'anthropic-ratelimit-output-tokens-remaining': '79000',
    };
    const want = [
      { type: 'requests', limit: 4000, remaining: 0, resetAt: Date.parse(reset) / 1000 },
      { type: 'output_tokens', limit: 80000, remaining: 79000, resetAt: undefined },
    ];
    expect(readLimits('anthropic', new HeaderRecord(record), NOW)).toEqual(want);
    const raw = Object.entries(record).flatMap(([k, v]) => [Buffer.from(k.toUpperCase()), Buffer.from(v)]);
    expect(readLimits('anthropic', new HeaderList(raw), NOW)).toEqual(want);
  });

  it('believes only plain counts and readable resets; other shapes have none', () => {
    const h = new Headers({
      'x-ratelimit-limit-requests': '-1',
      'x-ratelimit-remaining-requests': '1e3',
      'x-ratelimit-limit-tokens': '100',
      'x-ratelimit-reset-tokens': 'soon',
    });
    expect(readLimits('openai', h, NOW)).toEqual([
      { type: 'tokens', limit: 100, remaining: undefined, resetAt: undefined },
    ]);
    expect(readLimits('gemini', h, NOW)).toEqual([]);
    expect([durationMs('20ms'), durationMs('1h2m3.5s'), durationMs('0.5'), durationMs('1d')]).toEqual([
      20,
      3_723_500,
      500,
      undefined,
    ]);
  });

  it('reads a reset duration exactly as the regular expressions it replaced did (fast-check)', () => {
    // The earlier reading, kept here as the reference.
    const UNIT: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1000, ms: 1 };
    const reference = (v: string): number | undefined => {
      const t = v.trim();
      if (/^\d+(\.\d+)?$/.test(t)) return Number(t) * 1000;
      if (!/^(\d+(\.\d+)?(ms|h|m|s))+$/.test(t)) return undefined;
      let ms = 0;
      for (const m of t.matchAll(/(\d+(?:\.\d+)?)(ms|h|m|s)/g)) ms += Number(m[1]) * UNIT[m[2]!]!;
      return ms;
    };
    const piece = fc.oneof(
      fc.constantFrom('h', 'm', 's', 'ms', '.', ' ', 'd', 'sm', '-', 'e'),
      fc.integer({ min: 0, max: 9999 }).map(String),
    );
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 8 }), (parts) => {
        const v = parts.join('');
        expect(durationMs(v)).toEqual(reference(v));
      }),
      { numRuns: 20_000 },
    );
    for (const v of ['', ' 6m0s ', '1ms5', '1.s', '.5s', '0.25', '1h', '1m30.5s', '20msms']) {
      expect(durationMs(v), v).toEqual(reference(v));
    }
  });

  it('fingerprints the key (never the key itself); model families drop the release date', () => {
    const key = apiKeyOf(new Headers({ authorization: 'Bearer sk-abc' }));
    expect(key).toBe('sk-abc');
    expect(apiKeyOf(new HeaderRecord({ 'x-api-key': 'ant-1' }))).toBe('ant-1');
    expect(apiKeyOf(new Headers({ 'x-goog-api-key': 'g-1' }))).toBe('g-1');
    expect(apiKeyOf(new Headers({}))).toBeUndefined();
    const print = keyFingerprint('sk-abc');
    expect(print).toMatch(/^[0-9a-f]{12}$/);
    expect(keyFingerprint('sk-abd')).not.toBe(print);
    expect(keyFingerprint('sk-abc')).toBe(print);
    expect(
      ['gpt-4o-mini-2024-07-18', 'claude-sonnet-4-5-20250929', 'models/gemini-2.5-flash', 'o3'].map(
        modelFamily,
      ),
    ).toEqual(['gpt-4o-mini', 'claude-sonnet-4-5', 'gemini-2.5-flash', 'o3']);
  });
});
