// TAPWIRE_GATEWAY_INCLUDE_USAGE: OpenAI-shaped streamed chat completions report their tokens only
// when the request asks (`stream_options.include_usage`). For a request that does not, the gateway
// can ask on the app's behalf, read the usage, and give the app the stream it would have got:
// without the extra last chunk (`"choices":[]` with the usage) and without the `"usage":null` that
// every other chunk then carries
// (https://platform.openai.com/docs/api-reference/chat/create#chat-create-stream_options).
//
// Both edits are textual, never a JSON round trip: a parse and re-serialisation would change what
// the provider reads (integers past 2^53 in `seed` or `logit_bias`) and what the app reads (number
// and escape formatting). The request gets `"stream_options":{"include_usage":true}` (or
// `"include_usage":true` inside the app's own `stream_options`) after its opening brace; each event
// of the answer is held until its blank line, then passed on as it was, without its top-level
// `"usage":null` member, or not at all. An event that outgrows MAX_EVENT_BYTES ends the editing:
// that stream is passed on unchanged from there.

/** The most bytes one held event may take (the stream parser's own bound, core/ai/sse.ts). */
export const MAX_EVENT_BYTES = 8 * 1024 * 1024;

/** Where the value of the top-level member `key` of the JSON object `text` starts, or -1. */
export function memberValue(text: string, key: string): { keyStart: number; valueStart: number } | undefined {
  let depth = 0;
  let i = 0;
  const n = text.length;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === 34 /* " */) {
      const start = i;
      i++;
      while (i < n) {
        const d = text.charCodeAt(i);
        if (d === 92 /* \ */) i += 2;
        else if (d === 34) break;
        else i++;
      }
      const end = i; // the closing quote
      i++;
      if (depth !== 1) continue;
      // A key is followed by a colon.
      let j = i;
      while (j < n && isSpace(text.charCodeAt(j))) j++;
      if (text.charCodeAt(j) !== 58 /* : */) continue;
      if (text.slice(start + 1, end) === key) {
        j++;
        while (j < n && isSpace(text.charCodeAt(j))) j++;
        return { keyStart: start, valueStart: j };
      }
      continue;
    }
    if (c === 123 /* { */ || c === 91 /* [ */) depth++;
    else if (c === 125 /* } */ || c === 93 /* ] */) depth--;
    i++;
  }
  return undefined;
}

function isSpace(c: number): boolean {
  return c === 32 || c === 9 || c === 10 || c === 13;
}

/**
 * The request body with `include_usage` asked for, or undefined when it is to be sent as it is:
 * not a JSON object, not `stream: true`, or already saying what it wants (`include_usage` set,
 * true or false: an explicit false is the app's choice).
 */
export function withIncludeUsage(body: string): string | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return undefined;
  const j = parsed as Record<string, unknown>;
  if (j.stream !== true) return undefined;
  const options = j.stream_options;
  if (options === undefined || options === null) {
    const open = body.indexOf('{');
    const rest = body.slice(open + 1);
    const empty = /^\s*\}/.test(rest);
    return `${body.slice(0, open + 1)}"stream_options":{"include_usage":true}${empty ? '' : ','}${rest}`;
  }
  if (typeof options !== 'object' || Array.isArray(options)) return undefined;
  if ('include_usage' in (options as object)) return undefined;
  const at = memberValue(body, 'stream_options');
  if (at === undefined || body.charCodeAt(at.valueStart) !== 123) return undefined;
  const inner = body.slice(at.valueStart + 1);
  const empty = /^\s*\}/.test(inner);
  return `${body.slice(0, at.valueStart + 1)}"include_usage":true${empty ? '' : ','}${inner}`;
}

const LF = 10;
const CR = 13;

/**
 * Takes the chunks of an event stream answered to a request the gateway added `include_usage`
 * to, and gives back the bytes the app would have got without it.
 */
export class UsageStripper {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** false once an event outgrew the bound: the rest passes unchanged. */
  private editing = true;

  /** The bytes to send for `chunk` (possibly none yet). */
  feed(chunk: Buffer): Buffer {
    if (!this.editing) return chunk;
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    const held = this.pending.length === 1 ? chunk : Buffer.concat(this.pending, this.pendingBytes);
    const out: Buffer[] = [];
    let start = 0;
    for (;;) {
      const end = eventEnd(held, start);
      if (end === -1) break;
      const edited = editEvent(held.subarray(start, end));
      if (edited !== undefined) out.push(edited);
      start = end;
    }
    const rest = held.subarray(start);
    if (rest.length > MAX_EVENT_BYTES) {
      this.editing = false;
      out.push(rest);
      this.pending = [];
      this.pendingBytes = 0;
    } else {
      this.pending = rest.length === 0 ? [] : [rest];
      this.pendingBytes = rest.length;
    }
    return out.length === 1 ? out[0]! : Buffer.concat(out);
  }

  /** The stream ended: what is still held (an event without its blank line), edited the same way. */
  end(): Buffer {
    const rest = this.pending.length === 0 ? Buffer.alloc(0) : Buffer.concat(this.pending, this.pendingBytes);
    this.pending = [];
    this.pendingBytes = 0;
    if (!this.editing || rest.length === 0) return rest;
    return editEvent(rest) ?? Buffer.alloc(0);
  }
}

/** The end (after its blank line) of the first event at or after `from`, or -1 while incomplete. */
function eventEnd(b: Buffer, from: number): number {
  for (let i = b.indexOf(LF, from); i !== -1; i = b.indexOf(LF, i + 1)) {
    // A line break followed by an empty line: \n\n or \n\r\n.
    if (b[i + 1] === LF) return i + 2;
    if (b[i + 1] === CR && b[i + 2] === LF) return i + 3;
  }
  return -1;
}

/** One whole event (its blank line included): as it is, without `"usage":null`, or undefined to drop it. */
function editEvent(event: Buffer): Buffer | undefined {
  const text = event.toString('utf8');
  // Bytes that are not UTF-8 would not survive an edit: such an event passes as it came.
  if (Buffer.byteLength(text) !== event.length) return event;
  // One `data:` line holding a JSON object: OpenAI's chunks. Anything else passes.
  const m = /^([\s\S]*?(?:^|\n)data: ?)(\{.*\})(\r?\n[\s\S]*)$/.exec(text);
  if (m === null || text.indexOf('\ndata:', m[1]!.length) !== -1) return event;
  const json = m[2]!;
  const usage = memberValue(json, 'usage');
  if (usage === undefined) return event;
  if (json.startsWith('null', usage.valueStart)) {
    return Buffer.from(m[1]! + withoutMember(json, usage.keyStart, usage.valueStart + 4) + m[3]!);
  }
  // The extra chunk: usage with no choices.
  const choices = memberValue(json, 'choices');
  if (choices !== undefined && /^\[\s*\]/.test(json.slice(choices.valueStart))) return undefined;
  return event;
}

/** `json` without the member from `keyStart` to `valueEnd`, and one comma beside it. */
function withoutMember(json: string, keyStart: number, valueEnd: number): string {
  let before = keyStart;
  while (before > 0 && isSpace(json.charCodeAt(before - 1))) before--;
  if (json.charCodeAt(before - 1) === 44 /* , */) return json.slice(0, before - 1) + json.slice(valueEnd);
  let after = valueEnd;
  while (after < json.length && isSpace(json.charCodeAt(after))) after++;
  if (json.charCodeAt(after) === 44) after++;
  return json.slice(0, keyStart) + json.slice(after);
}
