// Incremental readers for streamed AI responses: server-sent events (OpenAI, Anthropic, Gemini
// with alt=sse, every OpenAI-compatible provider) and newline-delimited JSON (Ollama's native
// API). Bytes are fed as they arrive, in whatever pieces the network delivers: an event, a line,
// even a multi-byte UTF-8 character may be split across chunks. The parser only reads; the bytes
// the app receives are never touched (it is handed the same chunks, see agent/ai/).
// https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation

export interface EventSink {
  /** One SSE event's data (data lines joined by "\n"), or one NDJSON line. */
  event(data: string): void;
}

export class StreamParser {
  private readonly decoder = new TextDecoder();
  /** Text after the last line break seen. */
  private pending = '';
  /** Data lines of the SSE event being read. */
  private data: string | undefined;

  constructor(
    private readonly sink: EventSink,
    /** true: every line is an event (NDJSON); false: server-sent events. */
    private readonly ndjson: boolean,
  ) {}

  feed(chunk: Uint8Array): void {
    const decoded = this.decoder.decode(chunk, { stream: true });
    const text = this.pending === '' ? decoded : this.pending + decoded;
    let start = 0;
    for (;;) {
      const nl = text.indexOf('\n', start);
      if (nl === -1) break;
      let end = nl;
      if (end > start && text.charCodeAt(end - 1) === 13) end--;
      this.line(text, start, end);
      start = nl + 1;
    }
    this.pending = start === 0 ? text : text.slice(start);
  }

  /** The stream ended: a last event without its closing blank line still counts. */
  end(): void {
    const rest = this.pending + this.decoder.decode();
    this.pending = '';
    if (rest !== '') this.line(rest, 0, rest.endsWith('\r') ? rest.length - 1 : rest.length);
    if (!this.ndjson && this.data !== undefined) this.dispatch();
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
