// Incremental readers for streamed AI responses: server-sent events (OpenAI, Anthropic, Gemini
// with alt=sse, every OpenAI-compatible provider) and newline-delimited JSON (Ollama's native
// API). Bytes are fed as they arrive, in whatever pieces the network delivers: an event, a line,
// even a multi-byte UTF-8 character may be split across chunks. The parser only reads; the bytes
// the app receives are never touched (it is handed the same chunks, see agent/ai/).
// https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation
//
// Bounded in time and memory whatever the provider sends. Each character is scanned once: the
// text of a line still waiting for its line break is kept as a list of pieces and joined once,
// when the break arrives (re-scanning a growing string on every chunk made one 10 MB line cost
// seconds). And an event may hold at most MAX_EVENT_CHARS characters (the line being read plus
// the event's data lines so far): one that grows past it is no usage report, so the parser stops
// reading that stream, lets go of what it kept, and says so (feed() returns false).

export interface EventSink {
  /** One SSE event's data (data lines joined by "\n"), or one NDJSON line. */
  event(data: string): void;
}

/**
 * The most characters one event may hold while it is read. Usage reports are a few hundred bytes;
 * the largest legitimate events carry a generated image in base64 (a few MB, and the Responses
 * API's `response.completed` repeats it beside the usage), so the bound sits well above those.
 */
export const MAX_EVENT_CHARS = 8 * 1024 * 1024;

export class StreamParser {
  private readonly decoder = new TextDecoder('utf-8', { ignoreBOM: true });
  /** Whether the last chunk was decoded in streaming mode (it may have ended inside a character). */
  private split = false;
  /** Whether any text was read yet (the byte-order mark is looked for before the first). */
  private started = false;
  /**
   * The line being read, the text after the last line break: its first piece, and the further
   * ones when it spans more than two chunks (rare: a line longer than a network read).
   */
  private pending = '';
  private more: string[] | undefined = undefined;
  private pendingChars = 0;
  /** Data lines of the SSE event being read. */
  private data: string | undefined;
  /** false once an event outgrew the bound: nothing more is read. */
  private parsing = true;

  constructor(
    private readonly sink: EventSink,
    /** true: every line is an event (NDJSON); false: server-sent events. */
    private readonly ndjson: boolean,
  ) {}

  /** Characters kept for the event being read: never more than MAX_EVENT_CHARS. */
  get buffered(): number {
    return this.pendingChars + (this.data === undefined ? 0 : this.data.length);
  }

  /** false when the stream has outgrown the bound: it is not read any further. */
  feed(chunk: Uint8Array): boolean {
    if (!this.parsing) return false;
    const text = this.decode(chunk);
    let nl = text.indexOf('\n');
    if (nl === -1) return this.keep(text);
    let start = 0;
    if (this.pendingChars > 0) {
      // The line that waited for this break: joined once, here.
      if (this.buffered + nl > MAX_EVENT_CHARS) return this.stop();
      const line = this.take() + text.slice(0, nl);
      this.line(line, 0, line.charCodeAt(line.length - 1) === 13 ? line.length - 1 : line.length);
      start = nl + 1;
      nl = text.indexOf('\n', start);
    }
    const ndjson = this.ndjson;
    while (nl !== -1 && this.parsing) {
      // A one-line event (its data line, then the blank line): the shape every provider sends,
      // handed on without reading the blank line as a line of its own.
      if (
        !ndjson &&
        this.data === undefined &&
        text.charCodeAt(nl + 1) === 10 &&
        nl > start &&
        text.charCodeAt(nl - 1) !== 13 &&
        text.startsWith('data:', start) &&
        nl - start <= MAX_EVENT_CHARS
      ) {
        this.sink.event(text.slice(text.charCodeAt(start + 5) === 32 ? start + 6 : start + 5, nl));
        start = nl + 2;
        nl = text.indexOf('\n', start);
        continue;
      }
      let end = nl;
      if (end > start && text.charCodeAt(end - 1) === 13) end--;
      this.line(text, start, end);
      start = nl + 1;
      nl = text.indexOf('\n', start);
    }
    if (!this.parsing) return false;
    return start === text.length || this.keep(start === 0 ? text : text.slice(start));
  }

  /**
   * The stream ended: a last event without its closing blank line still counts. false when the
   * stream outgrew the bound (now or before).
   */
  end(): boolean {
    if (!this.parsing) return false;
    const tail = this.split ? this.decoder.decode() : '';
    if (tail !== '' && !this.keep(tail)) return false;
    const rest = this.take();
    if (rest !== '') this.line(rest, 0, rest.endsWith('\r') ? rest.length - 1 : rest.length);
    if (!this.parsing) return false;
    if (!this.ndjson && this.data !== undefined) this.dispatch();
    return true;
  }

  /**
   * The chunk's text. Decoded in streaming mode only when a character may be split across chunks
   * (the chunk ends inside a multi-byte one, or the last one did): a chunk that ends with an ASCII
   * byte is decoded outright, the same text for ~30 % less on Bun (a 770 kB stream in 4 kB
   * pieces: 60-73 µs against 95). The stream's byte-order mark is dropped once, at its start
   * (the decoder keeps every other one).
   */
  private decode(chunk: Uint8Array): string {
    const n = chunk.byteLength;
    if (n === 0) return '';
    let text: string;
    if (chunk[n - 1]! < 0x80) {
      text = this.decoder.decode(chunk);
      this.split = false;
    } else {
      text = this.decoder.decode(chunk, { stream: true });
      this.split = true;
    }
    if (!this.started && text !== '') {
      this.started = true;
      if (text.charCodeAt(0) === 0xfeff) return text.slice(1);
    }
    return text;
  }

  /** Keeps `text` (no line break in it) for the line being read, within the bound. */
  private keep(text: string): boolean {
    if (text === '') return true;
    if (this.buffered + text.length > MAX_EVENT_CHARS) return this.stop();
    if (this.pendingChars === 0) this.pending = text;
    else if (this.more === undefined) this.more = [text];
    else this.more.push(text);
    this.pendingChars += text.length;
    return true;
  }

  /** The kept text of the line being read, joined once; the parser keeps none after. */
  private take(): string {
    const text = this.more === undefined ? this.pending : this.pending + this.more.join('');
    this.pending = '';
    this.more = undefined;
    this.pendingChars = 0;
    return text;
  }

  private stop(): false {
    this.parsing = false;
    this.pending = '';
    this.more = undefined;
    this.pendingChars = 0;
    this.data = undefined;
    return false;
  }

  private line(text: string, start: number, end: number): void {
    if (this.ndjson) {
      if (end > start) this.sink.event(text.slice(start, end));
      return;
    }
    if (end === start) {
      if (this.data !== undefined) this.dispatch();
      return;
    }
    // Only `data` fields matter: every provider repeats the event type inside the JSON.
    if (text.startsWith('data:', start)) {
      const from = text.charCodeAt(start + 5) === 32 ? start + 6 : start + 5;
      const size = (this.data === undefined ? 0 : this.data.length + 1) + (end - from);
      if (size > MAX_EVENT_CHARS) {
        this.stop();
        return;
      }
      const value = text.slice(from, end);
      this.data = this.data === undefined ? value : `${this.data}\n${value}`;
    }
  }

  private dispatch(): void {
    const data = this.data!;
    this.data = undefined;
    this.sink.event(data);
  }
}
