// What the stand-in answers, as data: a reply is built from the request alone (provider, path,
// body), so the server can build it once and send it again (index.ts). The wire formats are in
// openai.ts, anthropic.ts and gemini.ts; this file holds what they share.

/** One provider call as the stand-in saw it, so tests compare /metrics with what was sent. */
export interface Served {
  /** Port name: openai, anthropic, gcp.gemini. */
  provider: string;
  operation: string;
  model: string;
  stream: boolean;
  input: number | undefined;
  output: number | undefined;
  /** Cached input tokens (inside `input`). */
  cached: number;
  /** Input tokens written to the prompt cache, every TTL (inside `input`). */
  cacheWrite: number;
  /** The part of cacheWrite with a 1-hour TTL. */
  cacheWrite1h: number;
  /** Reasoning tokens (inside `output`), as reported; undefined where the API has none. */
  reasoning: number | undefined;
  /** Stream events written (a `[DONE]` line not counted); 0 for a reply that is no stream. */
  events: number;
  /** What the client should see: a status code, or 'cut'. */
  outcome: string;
}

/** What a call served, given the input and output tokens it reported and its outcome. */
export type ServedFn = (input: number | undefined, output: number | undefined, outcome: string) => Served;

export type Reply =
  | {
      status: number;
      headers: Record<string, string | number>;
      body: Buffer;
      /** Undefined when the request was no provider call (404). */
      served: Served | undefined;
    }
  | {
      /** Server-sent events, one write each. */
      events: Buffer[];
      /** `/cut`: the socket is destroyed after half of the events. */
      cut: boolean;
      served: Served;
      /** What a stream cut short (by `/cut` or by the client) served. */
      servedIfCut: Served;
    };

/** A provider call, as the wire formats see it. */
export interface Call {
  body: Record<string, unknown>;
  /** The model the reply names: the dated version of the requested one. */
  model: string;
  /** Input tokens, cached ones included (OpenAI, Gemini); Anthropic's `input_tokens`. */
  input: number;
  /** Output tokens, reasoning ones included. */
  output: number;
  /** Cache reads: inside input (OpenAI, Gemini), beside it (Anthropic). */
  cached: number;
  reasoning: number;
  /** Anthropic cache writes (beside input_tokens), every TTL, and the 1-hour part of them. */
  cacheWrite: number;
  cacheWrite1h: number;
  /** Content chunks of a stream. */
  chunks: number;
  cut: boolean;
  served: ServedFn;
}

export const WORDS = ['Hello', ' from', ' the', ' stand', '-in', ' — ', 'ünïcödé', ' ✓', ' done', '.'];

export function piece(i: number): string {
  return WORDS[i % WORDS.length]!;
}

export function json(
  status: number,
  body: unknown,
  served: Served | undefined,
  headers: Record<string, string> = {},
): Reply {
  const text = JSON.stringify(body);
  return {
    status,
    headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers },
    body: Buffer.from(text),
    served,
  };
}

export function stream(events: string[], call: Call, served: Served, servedIfCut: Served): Reply {
  const counted = events.filter((e) => !e.startsWith('data: [DONE]')).length;
  return {
    events: events.map((e) => Buffer.from(e)),
    cut: call.cut,
    served: { ...served, events: counted },
    servedIfCut: { ...servedIfCut, events: Math.floor(events.length / 2) },
  };
}

/** Written in pieces of this size: a TLS record's worth, as a provider's connection delivers a long line. */
const LONG_PIECE = 16 * 1024;

/**
 * A stream of one ordinary event, then one `data:` line of `bytes` bytes (JSON that never closes)
 * without a line break before the end of the response. It reports no usage.
 */
export function longLine(call: Call, bytes: number): Reply {
  const first = Buffer.from(`data: ${JSON.stringify({ model: call.model, choices: [] })}\n\n`);
  const line = Buffer.alloc(bytes, 0x61); // 'a'
  line.write('data: {"x":"');
  const events = [first];
  for (let at = 0; at < bytes; at += LONG_PIECE) events.push(line.subarray(at, at + LONG_PIECE));
  const served = call.served(undefined, undefined, '200');
  return { events, cut: call.cut, served, servedIfCut: call.served(undefined, undefined, 'cut') };
}

function replaceBytes(buf: Buffer, from: Buffer, to: Buffer): Buffer {
  const parts: Buffer[] = [];
  let at = 0;
  for (let i = buf.indexOf(from); i !== -1; i = buf.indexOf(from, at)) {
    parts.push(buf.subarray(at, i), to);
    at = i + from.length;
  }
  if (at === 0) return buf;
  parts.push(buf.subarray(at));
  return Buffer.concat(parts);
}

/** The reply with every `from` in its bytes replaced by `to`: bytes no JSON encoder would write. */
export function rewrite(reply: Reply, from: string, to: Buffer): Reply {
  const mark = Buffer.from(from);
  if (!('events' in reply)) {
    const body = replaceBytes(reply.body, mark, to);
    const headers = { ...reply.headers };
    if ('content-length' in headers) headers['content-length'] = body.length;
    return { ...reply, headers, body };
  }
  return { ...reply, events: reply.events.map((e) => replaceBytes(e, mark, to)) };
}
