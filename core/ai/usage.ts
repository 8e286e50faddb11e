// Token usage and the response model, read from each API shape's JSON as the provider reports it.
//
// What counts as input/output follows the GenAI semantic conventions
// (https://opentelemetry.io/docs/specs/semconv/gen-ai/gen-ai-metrics/#metric-gen_aiclienttokenusage):
// input includes cached input tokens, output includes reasoning tokens. OpenAI and Gemini already
// report prompt tokens that way; Anthropic reports cache reads and cache writes beside
// `input_tokens`, so they are added in (and cache writes split by TTL where it reports
// `cache_creation`). Gemini reports thinking tokens beside the candidates' tokens (and bills them
// as output), so they are added to output. DeepSeek reports cache hits as `prompt_cache_hit_tokens`.
//
// Streams: the parser calls streamEvent() for every event; a cheap substring test decides whether
// an event can carry usage or the model before it is JSON-parsed, so the thousands of
// content-delta events of a long stream cost a string search each, not a JSON.parse.
//
// A reported count is believed only when it is a non-negative safe integer no larger than
// MAX_TOKENS. Anything else (1e308, 9007199254740993, -3, 1.5, "12") is no count of tokens: one
// such value made the cost counter +Inf for the life of the process, another recorded $90 billion.
// It is dropped (the call is recorded without it, and without what is summed from it) and counted
// in tapwire_gen_ai_usage_dropped_total.
import type { Shape } from './providers.js';

/**
 * The most tokens one count of one call may hold: ten times the largest context window on sale
 * (10M tokens), and far above any batch of embeddings a provider accepts in one request.
 */
export const MAX_TOKENS = 100_000_000;

const INPUT = 1;
const OUTPUT = 2;
const CACHED = 4;
const REASONING = 8;
const CACHE_WRITE = 16;
const CACHE_WRITE_1H = 32;

export class Usage {
  input: number | undefined = undefined;
  output: number | undefined = undefined;
  /** Cached input tokens (inside `input`). */
  cached: number | undefined = undefined;
  /** Reasoning/thinking tokens (inside `output`). */
  reasoning: number | undefined = undefined;
  /** Input tokens written to the prompt cache, every TTL (inside `input`). */
  cacheWrite: number | undefined = undefined;
  /** The part of `cacheWrite` written with a 1-hour TTL. */
  cacheWrite1h: number | undefined = undefined;
  responseModel: string | undefined = undefined;
  /** The counts whose last report was impossible, one bit each (a later good report clears it). */
  #bad = 0;

  /** How many of the call's counts were reported but not believed. */
  get dropped(): number {
    const b = this.#bad;
    let n = 0;
    for (let bit = b; bit !== 0; bit &= bit - 1) n++;
    return n;
  }

  setInput(v: number | undefined): void {
    if (v !== undefined) this.input = this.check(v, INPUT);
  }
  setOutput(v: number | undefined): void {
    if (v !== undefined) this.output = this.check(v, OUTPUT);
  }
  setCached(v: number | undefined): void {
    if (v !== undefined) this.cached = this.check(v, CACHED);
  }
  setReasoning(v: number | undefined): void {
    if (v !== undefined) this.reasoning = this.check(v, REASONING);
  }
  setCacheWrite(v: number | undefined): void {
    if (v !== undefined) this.cacheWrite = this.check(v, CACHE_WRITE);
  }
  setCacheWrite1h(v: number | undefined): void {
    if (v !== undefined) this.cacheWrite1h = this.check(v, CACHE_WRITE_1H);
  }

  private check(v: number, bit: number): number | undefined {
    if (v === BAD) {
      this.#bad |= bit;
      return undefined;
    }
    this.#bad &= ~bit;
    return v;
  }
}

type Json = Record<string, unknown>;

/** A count that was reported but cannot be one. */
const BAD = -1;

function obj(v: unknown): Json | undefined {
  return typeof v === 'object' && v !== null ? (v as Json) : undefined;
}

/** A reported token count: the count, BAD when impossible, undefined when absent (or null). */
function count(v: unknown): number | undefined {
  if (v === undefined || v === null) return undefined;
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 && v <= MAX_TOKENS ? v : BAD;
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

/** A sum of counts: BAD when either is (or when the sum is past the ceiling). */
function add(a: number | undefined, b: number | undefined): number | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  if (a === BAD || b === BAD || a + b > MAX_TOKENS) return BAD;
  return a + b;
}

function parse(text: string): Json | undefined {
  try {
    return obj(JSON.parse(text));
  } catch {
    return undefined;
  }
}

/** OpenAI chat/completions/embeddings (`prompt_tokens`) and the Responses API (`input_tokens`). */
function openaiUsage(u: Json | undefined, out: Usage): void {
  if (u === undefined) return;
  out.setInput(count(u.prompt_tokens) ?? count(u.input_tokens));
  out.setOutput(count(u.completion_tokens) ?? count(u.output_tokens));
  out.setCached(
    count(obj(u.prompt_tokens_details)?.cached_tokens) ??
      count(obj(u.input_tokens_details)?.cached_tokens) ??
      count(u.prompt_cache_hit_tokens),
  );
  out.setReasoning(
    count(obj(u.completion_tokens_details)?.reasoning_tokens) ??
      count(obj(u.output_tokens_details)?.reasoning_tokens),
  );
}

function anthropicUsage(u: Json | undefined, out: Usage): void {
  if (u === undefined) return;
  const base = count(u.input_tokens);
  if (base !== undefined) {
    const read = count(u.cache_read_input_tokens);
    // `cache_creation` splits the writes by TTL (5 minutes, 1 hour); older answers give the total only.
    const ttl = obj(u.cache_creation);
    const hour = count(ttl?.ephemeral_1h_input_tokens);
    const write = count(u.cache_creation_input_tokens) ?? add(count(ttl?.ephemeral_5m_input_tokens), hour);
    out.setInput(add(add(base, read), write));
    out.setCached(read);
    out.setCacheWrite(write);
    out.setCacheWrite1h(hour);
  }
  out.setOutput(count(u.output_tokens));
}

function geminiUsage(u: Json | undefined, out: Usage): void {
  if (u === undefined) return;
  out.setInput(count(u.promptTokenCount));
  const thoughts = count(u.thoughtsTokenCount);
  out.setOutput(add(count(u.candidatesTokenCount), thoughts));
  out.setCached(count(u.cachedContentTokenCount));
  out.setReasoning(thoughts);
}

function ollamaUsage(j: Json, out: Usage): void {
  out.setInput(count(j.prompt_eval_count));
  out.setOutput(count(j.eval_count));
}

/** A whole (non-streamed) response body. */
export function bodyUsage(shape: Shape, text: string, out: Usage): void {
  const j = parse(text);
  // Gemini's streamGenerateContent without alt=sse answers one JSON array of chunks.
  if (Array.isArray(j)) {
    const chunks = j as unknown[];
    for (const c of chunks) if (obj(c) !== undefined) bodyUsage(shape, JSON.stringify(c), out);
    return;
  }
  if (j === undefined) return;
  switch (shape) {
    case 'openai': {
      const inner = obj(j.response); // Responses API background/retrieve shapes
      out.responseModel = str(j.model) ?? str(inner?.model);
      openaiUsage(obj(j.usage) ?? obj(inner?.usage), out);
      return;
    }
    case 'anthropic':
      out.responseModel = str(j.model);
      anthropicUsage(obj(j.usage), out);
      return;
    case 'gemini':
      out.responseModel = str(j.modelVersion) ?? out.responseModel;
      geminiUsage(obj(j.usageMetadata), out);
      return;
    case 'ollama':
      out.responseModel = str(j.model);
      ollamaUsage(j, out);
      if (j.embeddings !== undefined || j.embedding !== undefined) out.output = undefined;
      return;
  }
}

/**
 * Whether a key ending in `tail` (`usage"`: the name and its closing quote) is followed by an
 * object (`"usage":{`), not `null`. The opening quote is left out of the search: V8 looks for a
 * needle's first character first, and in JSON the quote is the most common one (`"usage"` took
 * Node 0.5 ms over the 2,800 events of a stream, `usage"` 0.1; Bun 0.1 either way). A longer key
 * that ends the same way (`"total_usage":{`) only costs a JSON.parse that finds no usage.
 */
function hasObject(data: string, tail: string): boolean {
  let i = data.indexOf(tail);
  while (i !== -1) {
    let k = i + tail.length;
    while (k < data.length) {
      const c = data.charCodeAt(k);
      if (c !== 32 && c !== 58 && c !== 9) break; // space, ':', tab
      k++;
    }
    if (data.charCodeAt(k) === 123) return true; // '{'
    i = data.indexOf(tail, k);
  }
  return false;
}

/** One event of a streamed response. */
export function streamEvent(shape: Shape, data: string, out: Usage): void {
  switch (shape) {
    case 'openai': {
      // Chat chunks repeat `"usage":null` until the last one (stream_options.include_usage);
      // the Responses API sends usage in `response.completed`.
      const first = out.responseModel === undefined;
      if (!first && !hasObject(data, 'usage"')) return;
      if (data === '[DONE]') return;
      const j = parse(data);
      if (j === undefined) return;
      const inner = obj(j.response);
      if (first) out.responseModel = str(j.model) ?? str(inner?.model);
      openaiUsage(obj(j.usage) ?? obj(inner?.usage), out);
      return;
    }
    case 'anthropic': {
      // Searched without their opening quotes, as in hasObject().
      const start = data.indexOf('message_start"') !== -1;
      if (!start && data.indexOf('message_delta"') === -1) return;
      const j = parse(data);
      if (j === undefined) return;
      if (j.type === 'message_start') {
        const m = obj(j.message);
        out.responseModel = str(m?.model);
        anthropicUsage(obj(m?.usage), out);
      } else if (j.type === 'message_delta') {
        anthropicUsage(obj(j.usage), out);
      }
      return;
    }
    case 'gemini': {
      // usageMetadata is cumulative; the last one seen wins.
      if (out.responseModel !== undefined && data.indexOf('usageMetadata"') === -1) return;
      const j = parse(data);
      if (j === undefined) return;
      if (out.responseModel === undefined) out.responseModel = str(j.modelVersion);
      geminiUsage(obj(j.usageMetadata), out);
      return;
    }
    case 'ollama': {
      if (out.responseModel !== undefined && !/"done"\s*:\s*true/.test(data)) return;
      const j = parse(data);
      if (j === undefined) return;
      if (out.responseModel === undefined) out.responseModel = str(j.model);
      if (j.done === true) ollamaUsage(j, out);
      return;
    }
  }
}

export interface RequestInfo {
  model: string | undefined;
  stream: boolean;
}

/** Model and stream flag from a request body (JSON); nothing else is kept. */
export function requestInfo(shape: Shape, text: string): RequestInfo {
  const j = parse(text);
  const model = str(j?.model);
  // Ollama's native API streams unless told not to.
  const stream = shape === 'ollama' ? j?.stream !== false : j?.stream === true;
  return { model, stream };
}
