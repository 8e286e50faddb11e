// Token usage and the response model, read from each API shape's JSON as the provider reports it.
//
// What counts as input/output follows the GenAI semantic conventions
// (https://opentelemetry.io/docs/specs/semconv/gen-ai/gen-ai-metrics/#metric-gen_aiclienttokenusage):
// input includes cached input tokens, output includes reasoning tokens. OpenAI and Gemini already
// report prompt tokens that way; Anthropic reports cache reads and cache writes beside
// `input_tokens`, so they are added in. Gemini reports thinking tokens beside the candidates'
// tokens (and bills them as output), so they are added to output.
//
// Streams: the parser calls streamEvent() for every event; a cheap substring test decides whether
// an event can carry usage or the model before it is JSON-parsed, so the thousands of
// content-delta events of a long stream cost a string search each, not a JSON.parse.
import type { Shape } from './providers.js';

export class Usage {
  input: number | undefined = undefined;
  output: number | undefined = undefined;
  /** Cached input tokens (inside `input`). */
  cached: number | undefined = undefined;
  /** Reasoning/thinking tokens (inside `output`). */
  reasoning: number | undefined = undefined;
  responseModel: string | undefined = undefined;
}

type Json = Record<string, unknown>;

function obj(v: unknown): Json | undefined {
  return typeof v === 'object' && v !== null ? (v as Json) : undefined;
}

function num(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : undefined;
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

function add(a: number | undefined, b: number | undefined): number | undefined {
  return a === undefined ? b : b === undefined ? a : a + b;
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
  const input = num(u.prompt_tokens) ?? num(u.input_tokens);
  if (input !== undefined) out.input = input;
  const output = num(u.completion_tokens) ?? num(u.output_tokens);
  if (output !== undefined) out.output = output;
  const cached =
    num(obj(u.prompt_tokens_details)?.cached_tokens) ?? num(obj(u.input_tokens_details)?.cached_tokens);
  if (cached !== undefined) out.cached = cached;
  const reasoning =
    num(obj(u.completion_tokens_details)?.reasoning_tokens) ??
    num(obj(u.output_tokens_details)?.reasoning_tokens);
  if (reasoning !== undefined) out.reasoning = reasoning;
}

function anthropicUsage(u: Json | undefined, out: Usage): void {
  if (u === undefined) return;
  const base = num(u.input_tokens);
  if (base !== undefined) {
    const read = num(u.cache_read_input_tokens);
    const created = num(u.cache_creation_input_tokens);
    out.input = add(add(base, read), created);
    if (read !== undefined) out.cached = read;
  }
  const output = num(u.output_tokens);
  if (output !== undefined) out.output = output;
}

function geminiUsage(u: Json | undefined, out: Usage): void {
  if (u === undefined) return;
  const input = num(u.promptTokenCount);
  if (input !== undefined) out.input = input;
  const thoughts = num(u.thoughtsTokenCount);
  const output = add(num(u.candidatesTokenCount), thoughts);
  if (output !== undefined) out.output = output;
  const cached = num(u.cachedContentTokenCount);
  if (cached !== undefined) out.cached = cached;
  if (thoughts !== undefined) out.reasoning = thoughts;
}

function ollamaUsage(j: Json, out: Usage): void {
  const input = num(j.prompt_eval_count);
  if (input !== undefined) out.input = input;
  const output = num(j.eval_count);
  if (output !== undefined) out.output = output;
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

/** Whether `"key"` is followed by an object (`"usage":{`), not `null`. */
function hasObject(data: string, key: string): boolean {
  let i = data.indexOf(key);
  while (i !== -1) {
    let k = i + key.length;
    while (k < data.length) {
      const c = data.charCodeAt(k);
      if (c !== 32 && c !== 58 && c !== 9) break; // space, ':', tab
      k++;
    }
    if (data.charCodeAt(k) === 123) return true; // '{'
    i = data.indexOf(key, k);
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
      if (!first && !hasObject(data, '"usage"')) return;
      if (data === '[DONE]') return;
      const j = parse(data);
      if (j === undefined) return;
      const inner = obj(j.response);
      if (first) out.responseModel = str(j.model) ?? str(inner?.model);
      openaiUsage(obj(j.usage) ?? obj(inner?.usage), out);
      return;
    }
    case 'anthropic': {
      const start = data.indexOf('"message_start"') !== -1;
      if (!start && data.indexOf('"message_delta"') === -1) return;
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
      if (out.responseModel !== undefined && data.indexOf('"usageMetadata"') === -1) return;
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
