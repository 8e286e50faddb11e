// One AI provider call, from the request to the end of the response body, whatever client made
// it: the client hooks of the preload (agent/ai/) and the sidecar's gateway feed it the request
// body, the response head, each response chunk and the end or the failure, and it hands one
// outcome to the recorder (and to tracing, when on). Only requests recognised as provider calls
// (./providers.ts, asked by ../http/recorder.ts) ever get one of these.
//
// What is kept: the request body until the response head arrives (to read `model` and `stream`,
// then dropped), a non-streamed response body until it ends (to read `usage`), and for streams
// only the parser's partial event (bounded, ./sse.ts). Prompt and completion text is never stored
// past that.
import { now, Operation, tracing } from '../operation.js';
import { labelValue } from '../series.js';
import type { Target } from './providers.js';
import type { AiRecorder } from './recorder.js';
import { type EventSink, StreamParser } from './sse.js';
import { bodyUsage, requestInfo, streamEvent, Usage } from './usage.js';

/** Request bodies larger than this are not read for the model (an upload, not a prompt). */
const MAX_REQUEST_BYTES = 4 * 1024 * 1024;
/** Non-streamed responses larger than this are passed on without reading usage. */
const MAX_RESPONSE_BYTES = 32 * 1024 * 1024;

/** error.type of a stream the app cancelled before its end (the class Node's fetch reports). */
export const ABANDONED = 'AbortError';

/** What one call produced, as the hooks gathered it. */
export interface AiOutcome {
  operation: string;
  provider: string;
  requestModel: string | undefined;
  responseModel: string | undefined;
  address: string;
  errorType: string | undefined;
  seconds: number;
  /** Seconds to the first response chunk; undefined for calls that were not streamed. */
  firstChunk: number | undefined;
  input: number | undefined;
  output: number | undefined;
  /** Cached input tokens (inside `input`): priced at the cached-input rate. */
  cached: number | undefined;
  /** Reasoning tokens (inside `output`): a span attribute only, no metric series of their own. */
  reasoning: number | undefined;
  /** A stream the parser gave up on (an event past its bound): counted, its tokens unknown. */
  unparsed: boolean;
  /** Token counts the provider reported that cannot be true (./usage.ts): left out, counted. */
  dropped: number;
}

const STATUS = new Map<number, string>();
function statusErrorType(status: number): string {
  let s = STATUS.get(status);
  if (s === undefined) {
    s = status >= 100 && status < 600 ? String(status) : '_OTHER';
    STATUS.set(status, s);
  }
  return s;
}

const encoder = new TextEncoder();

export class AiCall extends Operation implements EventSink {
  private requestChunks: Uint8Array[] | undefined = [];
  private requestBytes = 0;
  private requestModel: string | undefined;
  private streamed = false;
  private parser: StreamParser | undefined;
  private bodyChunks: Uint8Array[] | undefined;
  private bodyBytes = 0;
  private firstChunk: number | undefined;
  private unparsed = false;
  private usage = new Usage();

  constructor(
    private readonly recorder: AiRecorder,
    readonly target: Target,
    readonly address: string,
  ) {
    super();
    if (tracing !== undefined) tracing.startAi(this);
  }

  /** A piece of the request body as the client sent it. */
  requestChunk(chunk: unknown): void {
    const chunks = this.requestChunks;
    if (chunks === undefined) return;
    const bytes =
      typeof chunk === 'string' ? encoder.encode(chunk) : chunk instanceof Uint8Array ? chunk : undefined;
    if (bytes === undefined) return;
    this.requestBytes += bytes.byteLength;
    if (this.requestBytes > MAX_REQUEST_BYTES) this.requestChunks = undefined;
    else chunks.push(bytes);
  }

  /** The response head arrived. `contentType` may be undefined. */
  head(status: number, contentType: string | undefined): void {
    if (this.done) return;
    this.readRequest();
    if (status >= 400) {
      // Error bodies are not read: the call is over for the metrics when the status is known.
      this.finish(statusErrorType(status));
      return;
    }
    const sse = contentType?.includes('text/event-stream') === true;
    const ndjson = contentType?.includes('ndjson') === true;
    this.streamed = sse || ndjson || this.target.pathStream;
    if (sse || ndjson) this.parser = new StreamParser(this, ndjson);
    else this.bodyChunks = [];
  }

  /** A piece of the response body, exactly as the client received it (not copied, not changed). */
  chunk(chunk: Uint8Array): void {
    if (this.done) return;
    if (this.firstChunk === undefined && this.streamed) this.firstChunk = this.elapsed();
    if (this.parser !== undefined) {
      if (!this.parser.feed(chunk)) this.giveUp();
      return;
    }
    const body = this.bodyChunks;
    if (body === undefined) return;
    this.bodyBytes += chunk.byteLength;
    if (this.bodyBytes > MAX_RESPONSE_BYTES) this.bodyChunks = undefined;
    else body.push(chunk);
  }

  /** The response body ended normally. */
  end(): void {
    if (this.done) return;
    if (this.parser !== undefined) {
      if (!this.parser.end()) this.giveUp();
    } else if (this.bodyChunks !== undefined) this.readBody(this.bodyChunks);
    this.finish(undefined);
  }

  /** The call failed or was abandoned: record what was seen, marked by `errorType`. */
  fail(errorType: string): void {
    if (this.done) return;
    this.readRequest();
    this.finish(errorType);
  }

  /** SSE / NDJSON event from the parser. */
  event(data: string): void {
    streamEvent(this.target.provider.shape, data, this.usage);
  }

  /**
   * The stream outgrew the parser's bound: it is not read further. What usage it reported so far
   * is dropped too, since the rest (the final count, as a rule) was never seen: the call is
   * recorded without tokens rather than with a partial count that looks whole.
   */
  private giveUp(): void {
    this.parser = undefined;
    this.unparsed = true;
    const model = this.usage.responseModel;
    this.usage = new Usage();
    this.usage.responseModel = model;
  }

  private readRequest(): void {
    const chunks = this.requestChunks;
    if (chunks === undefined) return;
    this.requestChunks = undefined;
    if (chunks.length > 0) {
      const info = requestInfo(this.target.provider.shape, decode(chunks));
      this.requestModel = info.model;
      if (info.stream) this.streamed = true;
    }
    if (this.requestModel === undefined) this.requestModel = this.target.pathModel;
  }

  private readBody(chunks: Uint8Array[]): void {
    this.bodyChunks = undefined;
    if (chunks.length > 0) bodyUsage(this.target.provider.shape, decode(chunks), this.usage);
  }

  private finish(errorType: string | undefined): void {
    this.done = true;
    this.parser = undefined;
    this.bodyChunks = undefined;
    const u = this.usage;
    const outcome: AiOutcome = {
      operation: this.target.operation,
      provider: this.target.provider.name,
      // Names from the app's body and the provider's answer: bounded here, once, so the price
      // lookup, the log line naming an unknown model and the span hold no more than the labels do.
      requestModel: this.requestModel === undefined ? undefined : labelValue(this.requestModel),
      responseModel: u.responseModel === undefined ? undefined : labelValue(u.responseModel),
      address: this.address,
      errorType,
      seconds: (now() - this.start) / 1000,
      firstChunk: this.streamed ? this.firstChunk : undefined,
      input: u.input,
      output: u.output,
      cached: u.cached,
      reasoning: u.reasoning,
      unparsed: this.unparsed,
      dropped: u.dropped,
    };
    this.recorder.record(outcome, this.span);
    if (this.span !== undefined && tracing !== undefined) tracing.endAi(this, outcome);
  }
}

const decoder = new TextDecoder();
function decode(chunks: Uint8Array[]): string {
  if (chunks.length === 1) return decoder.decode(chunks[0]);
  return Buffer.concat(chunks).toString('utf8');
}
