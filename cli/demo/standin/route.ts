// From a request to its reply: path prefixes choose a behaviour, the path and body the wire format,
// and the usage comes from the request (or from the fixed table the demo and the bench pass).
//
// Path prefixes, e.g. baseURL http://127.0.0.1:PORT/e429/v1:
//   /e429  429 with retry-after      /e500  500      /e401  401 (a key the provider refuses)
//   /cut   a stream cut mid-way (socket destroyed after half the chunks)
//   /nN    N content chunks in a stream (default 5)
//   /cachedN, /reasoningN  usage reports N cached input / N reasoning output tokens: OpenAI and
//                          Gemini inside prompt/completion tokens (as they count them), Anthropic
//                          N cache reads beside input_tokens (default 5)
//   /writeN, /write1hN  Anthropic usage reports N cache writes with a 5-minute / 1-hour TTL
//                       (cache_creation_input_tokens and its cache_creation split)
//   /longN  a stream whose second event is one `data:` line of N bytes that never ends (no line
//           break before the end of the response), as a broken or hostile provider might send
//   /tokensX  the usage reports X as the input tokens, written into the JSON as it is in the path
//             (1e308, 9007199254740993, -5): counts no provider should send
//   /rlN, /resetN  the rate-limit headers' request limit and reset time (limits.ts)
//   /oddmodel  the reply names a model holding a control character, a bidirectional override, a
//              lone surrogate (JSON-escaped) and two bytes that are not UTF-8 (0xFF 0xFE)
import { anthropicMessages, CACHE_READ } from './anthropic.js';
import { geminiGenerate } from './gemini.js';
import { openaiChat, openaiEmbeddings, openaiResponses } from './openai.js';
import { type Call, json, longLine, type Reply, rewrite, type Served } from './reply.js';

/** Fixed usage for one request model, so the numbers a user sees are known in advance. */
export interface ModelUsage {
  model: string;
  /** The model the reply names. */
  responseModel: string;
  /** Input tokens, `cached` included. */
  input: number;
  cached: number;
  output: number;
}

const RESPONSE_MODEL: Record<string, string> = {
  'gpt-4o-mini': 'gpt-4o-mini-2024-07-18',
  'gpt-4o': 'gpt-4o-2024-08-06',
  'claude-sonnet-4-5': 'claude-sonnet-4-5-20250929',
  'claude-haiku-4-5': 'claude-haiku-4-5-20251001',
};

const OPENAI_ERRORS: Record<number, string> = { 401: 'invalid_request_error', 429: 'rate_limit_exceeded' };
const ANTHROPIC_ERRORS: Record<number, string> = { 401: 'authentication_error', 429: 'rate_limit_error' };

interface Flags {
  status: number;
  cut: boolean;
  chunks: number;
  /** Undefined when the path does not say (Anthropic then reports CACHE_READ). */
  cached: number | undefined;
  reasoning: number;
  write: number;
  write1h: number;
  long: number;
  oddModel: boolean;
  /** The input-token count to report, as JSON text. */
  tokens: string | undefined;
}

function flags(url: string): { flags: Flags; path: string } {
  const f: Flags = {
    status: 200,
    cut: false,
    chunks: 5,
    cached: undefined,
    reasoning: 0,
    write: 0,
    write1h: 0,
    long: 0,
    oddModel: false,
    tokens: undefined,
  };
  // The query (Gemini's alt=sse, Azure's api-version) chooses nothing here.
  const rawPath = url.split('?', 1)[0]!;
  const parts = rawPath.split('/');
  const rest: string[] = [];
  for (const p of parts) {
    if (p === 'e429') f.status = 429;
    else if (p === 'e500') f.status = 500;
    else if (p === 'e401') f.status = 401;
    else if (p === 'cut') f.cut = true;
    else if (/^n\d+$/.test(p)) f.chunks = Number(p.slice(1));
    else if (/^cached\d+$/.test(p)) f.cached = Number(p.slice(6));
    else if (/^reasoning\d+$/.test(p)) f.reasoning = Number(p.slice(9));
    else if (/^write\d+$/.test(p)) f.write = Number(p.slice(5));
    else if (/^write1h\d+$/.test(p)) f.write1h = Number(p.slice(7));
    else if (/^long\d+$/.test(p)) f.long = Number(p.slice(4));
    else if (p === 'oddmodel') f.oddModel = true;
    else if (/^tokens./.test(p)) f.tokens = p.slice(6);
    else if (/^(rl|reset)\d+$/.test(p))
      continue; // limits.ts reads these
    else rest.push(p);
  }
  return { flags: f, path: rest.join('/') };
}

/**
 * Deterministic token counts from the request, so different calls serve different numbers. Cached
 * and reasoning tokens are inside input and output: at least that many of each.
 */
function derivedUsage(raw: string, f: Flags): { input: number; cached: number; output: number } {
  let h = 0;
  for (let i = 0; i < raw.length; i++) h = (h * 31 + raw.charCodeAt(i)) >>> 0;
  const cached = f.cached ?? 0;
  return { input: 7 + (raw.length % 50) + cached, cached, output: 3 + (h % 40) + f.reasoning };
}

/** A path segment decoded; as it is when its escapes are malformed (the reply names it so). */
function decoded(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

/** The reply to `raw` sent to `url` on the provider's port; throws on a body that is not JSON. */
export function replyTo(
  provider: string,
  url: string,
  raw: string,
  models: readonly ModelUsage[] | undefined,
): Reply {
  const { flags: f, path } = flags(url);
  const body = (raw ? JSON.parse(raw) : {}) as Record<string, unknown>;
  const gemini = /\/models\/([^/:]+):(generateContent|streamGenerateContent|embedContent)/.exec(path);
  const model = gemini ? decoded(gemini[1]!) : String(body.model ?? '');
  const fixed = models?.find((m) => m.model === model);
  if (models !== undefined && fixed === undefined)
    return json(404, { error: { message: `stand-in has no model ${model}` } }, undefined);
  const usage = fixed ?? derivedUsage(raw, f);
  const { cached, output } = usage;
  const input = f.tokens === undefined ? usage.input : TOKENS_MARK;
  const openaiUsage = path.endsWith('/chat/completions') || path.endsWith('/responses');
  const stream = gemini ? gemini[2] === 'streamGenerateContent' : body.stream === true;
  let operation = 'chat';
  if (path.endsWith('/embeddings') || gemini?.[2] === 'embedContent') operation = 'embeddings';
  else if (gemini) operation = 'generate_content';
  const anthropic = path.endsWith('/messages');
  const cacheRead = anthropic ? (f.cached ?? CACHE_READ) : cached;
  const served = (i: number | undefined, o: number | undefined, outcome: string): Served => ({
    provider,
    operation,
    model,
    stream,
    input: i,
    output: o,
    cached: i === undefined ? 0 : cacheRead,
    cacheWrite: i === undefined || !anthropic ? 0 : f.write + f.write1h,
    cacheWrite1h: i === undefined || !anthropic ? 0 : f.write1h,
    reasoning: (openaiUsage || gemini) && o !== undefined ? f.reasoning : undefined,
    events: 0,
    outcome,
  });

  if (f.status !== 200) {
    const err =
      provider === 'anthropic'
        ? {
            type: 'error',
            error: { type: ANTHROPIC_ERRORS[f.status] ?? 'api_error', message: 'stand-in' },
          }
        : {
            error: {
              message: 'stand-in',
              type: OPENAI_ERRORS[f.status] ?? 'server_error',
              code: null,
            },
          };
    return json(
      f.status,
      err,
      served(undefined, undefined, String(f.status)),
      f.status === 429 ? { 'retry-after': '1' } : {},
    );
  }

  const call: Call = {
    body,
    model: f.oddModel ? ODD_MODEL : (fixed?.responseModel ?? RESPONSE_MODEL[model] ?? model),
    input,
    output,
    cached: cacheRead,
    reasoning: f.reasoning,
    cacheWrite: f.write + f.write1h,
    cacheWrite1h: f.write1h,
    chunks: f.chunks,
    cut: f.cut,
    served,
  };
  let reply = answer(call, path, gemini?.[2], f);
  if (f.oddModel) reply = rewrite(reply, NOT_UTF8_MARK, NOT_UTF8);
  if (f.tokens !== undefined) reply = rewrite(reply, String(TOKENS_MARK), Buffer.from(f.tokens));
  return reply;
}

/** The input-token count /tokensX replies carry until the bytes of X replace it. */
const TOKENS_MARK = 987_654_321;

/** The model /oddmodel replies name; NOT_UTF8_MARK becomes the bytes NOT_UTF8 on the wire. */
const NOT_UTF8_MARK = '<not-utf-8>';
const NOT_UTF8 = Buffer.from([0xff, 0xfe]);
export const ODD_MODEL = `odd-\u0007-\u202e-\ud800-${NOT_UTF8_MARK}-end`;

function answer(call: Call, path: string, geminiMethod: string | undefined, f: Flags): Reply {
  if (f.long > 0) return longLine(call, f.long);
  if (path.endsWith('/chat/completions')) return openaiChat(call);
  if (path.endsWith('/embeddings')) return openaiEmbeddings(call);
  if (path.endsWith('/responses')) return openaiResponses(call);
  if (path.endsWith('/messages')) return anthropicMessages(call);
  if (geminiMethod !== undefined) return geminiGenerate(call, geminiMethod);
  return json(404, { error: { message: `stand-in has no ${path}` } }, undefined);
}
