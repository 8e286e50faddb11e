// One AI provider call, from the request to the end of the response body, whatever client made
// it: the client hooks of the preload (agent/ai/) and the sidecar's gateway feed it the request
// body, the response head, each response chunk and the end or the failure, and it hands one
// outcome to the recorder (and to tracing, when on). Only requests recognised as provider calls
// (./providers.ts, asked by ../http/recorder.ts) ever get one of these.
//
// What is kept: the request body until just after the response head arrives (to read `model` and
// `stream`, then dropped), a non-streamed response body until it ends (to read `usage`), and for streams
// only the parser's partial event (bounded, ./sse.ts). Prompt and completion text is never stored
// past that.
import { METRICS } from '../../exporters/catalogue.js';
import { Observations } from '../histogram.js';
import { now, Operation, tracing } from '../operation.js';
import { labelValue } from '../series.js';
import { type AttributionSet, attribution } from './attribution.js';
import type { TokenCounts } from './cost.js';
import type { Target } from './providers.js';
import { apiKeyOf, type HeaderLookup } from './ratelimit.js';
import type { AiRecorder } from './recorder.js';
import { type EventSink, StreamParser } from './sse.js';
import { bodyUsage, requestInfo, streamEvent, Usage } from './usage.js';

/** Request bodies larger than this are not read for the model (an upload, not a prompt). */
const MAX_REQUEST_BYTES = 4 * 1024 * 1024;
/** Non-streamed responses larger than this are passed on without reading usage. */
const MAX_RESPONSE_BYTES = 32 * 1024 * 1024;

/** What one call produced, as the hooks gathered it: its token counts (./cost.ts) and the rest. */
export interface AiOutcome extends TokenCounts {
  operation: string;
  provider: string;
  requestModel: string | undefined;
  responseModel: string | undefined;
  address: string;
  /** server.port of the provider (the new usage counters carry it). */
  port: number;
  errorType: string | undefined;
  seconds: number;
  /** Seconds to the first response chunk; undefined for calls that were not streamed. */
  firstChunk: number | undefined;
  /** The gaps between a stream's chunks (events), one per chunk after the first. */
  chunkGaps: Observations | undefined;
  /** Seconds from a stream's first chunk (event) to its last; undefined with fewer than two. */
  generation: number | undefined;
  /** A stream the parser gave up on (an event past its bound): counted, its tokens unknown. */
  unparsed: boolean;
  /** Token counts the provider reported that cannot be true (./usage.ts): left out, counted. */
  dropped: number;
  /** Who the call was made for (./attribution.ts): labels of the token and cost series. */
  attrs: AttributionSet | undefined;
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
const CHUNK_BUCKETS = METRICS.genAiTimePerOutputChunk.buckets;

export class AiCall extends Operation implements EventSink {
  private requestChunks: Uint8Array[] | undefined = [];
  private requestBytes = 0;
  private requestModel: string | undefined;
  private streamed = false;
  private parser: StreamParser | undefined;
  private bodyChunks: Uint8Array[] | undefined;
  private bodyBytes = 0;
  private firstChunk: number | undefined;
  /** now() when the latest piece of the body came: the time of the events read from it. */
  private readAt = 0;
  /** now() at a stream's first and latest events, and the gaps between them. */
  private firstEvent: number | undefined;
  private lastEvent: number | undefined;
  private gaps: Observations | undefined;
  private unparsed = false;
  private usage = new Usage();
  /** The attribution active where the call started; the sidecar's gateway sets it from the request. */
  attrs: AttributionSet | undefined = attribution?.current();
  /**
   * The request's API key, held from the request until the response head's rate-limit headers are
   * read (settle(), ./ratelimit.ts) only to fingerprint it; never recorded.
   */
  private key: string | undefined;
  /** The answer's headers and when they came, until settle() reads them. */
  private headers: HeaderLookup | undefined;
  private headAt = 0;
  /** The model the call asked for, once the request was read. */
  get model(): string | undefined {
    return this.requestModel;
  }

  constructor(
    private readonly recorder: AiRecorder,
    readonly target: Target,
    readonly address: string,
    readonly port: number,
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

  /** The request's headers, for its API key (read where the client shows them, before the response). */
  requestHeaders(headers: HeaderLookup): void {
    this.key = apiKeyOf(headers);
  }

  /**
   * The response head arrived. `contentType` may be undefined; `headers`, where the client gives
   * them, are read for the provider's rate-limit headroom.
   *
   * The app is waiting for this response: reading the request body (the model) and the rate-limit
   * headers is left for after it has it (settle(), from an unref'd immediate, or at the end of the
   * call if that comes first). Done here, that work (~40-70 µs of code that runs cold, as AI calls
   * are few) was added to the app's time to first chunk.
   */
  head(status: number, contentType: string | undefined, headers?: HeaderLookup): void {
    if (this.done) return;
    this.headers = headers;
    this.headAt = Date.now();
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
    setImmediate(settleLater, this.recorder, this).unref();
  }

  /** The request's model and the answer's rate-limit headers, read once (see head()). */
  settle(): void {
    this.readRequest();
    const headers = this.headers;
    if (headers === undefined) return;
    this.headers = undefined;
    const key = this.key;
    this.key = undefined;
    this.recorder.limits(this, headers, key, this.headAt);
  }

  /**
   * A piece of the response body, exactly as the client received it (not copied, not changed).
   * `at`: now() when it arrived, for a hook that reads it a moment later (agent/ai/bun.ts). The
   * time to first chunk is taken from it, and every event in it is timed by it: events that came
   * in one network read came at once (a clock read per event cost a 3,000-event stream ~0.1 ms).
   */
  chunk(chunk: Uint8Array, at?: number): void {
    if (this.done) return;
    const t = at ?? now();
    this.readAt = t;
    // Kept for every call: whether it was streamed is known for sure once the request is read.
    if (this.firstChunk === undefined) this.firstChunk = (t - this.start) / 1000;
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

  /**
   * A piece of a stream went by unread: the app took its buffer (transferred it) before the hook
   * read it. Its usage cannot be known: the call is recorded without tokens, as unparsed.
   */
  missed(): void {
    if (!this.done && this.parser !== undefined) this.giveUp();
  }

  /** The call failed or was abandoned: record what was seen, marked by `errorType`. */
  fail(errorType: string): void {
    if (this.done) return;
    this.finish(errorType);
  }

  /** SSE / NDJSON event from the parser: one chunk of the stream (OpenAI's `[DONE]` is none). */
  event(data: string): void {
    if (data !== '[DONE]') this.chunkSeen();
    streamEvent(this.target.provider.shape, data, this.usage);
  }

  private chunkSeen(): void {
    const t = this.readAt;
    const last = this.lastEvent;
    this.lastEvent = t;
    if (last === undefined) {
      this.firstEvent = t;
      return;
    }
    if (this.gaps === undefined) this.gaps = new Observations(CHUNK_BUCKETS);
    this.gaps.add((t - last) / 1000);
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
    this.settle();
    this.key = undefined;
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
      port: this.port,
      errorType,
      seconds: (now() - this.start) / 1000,
      firstChunk: this.streamed ? this.firstChunk : undefined,
      chunkGaps: this.gaps,
      generation:
        this.gaps !== undefined && this.firstEvent !== undefined
          ? (this.lastEvent! - this.firstEvent) / 1000
          : undefined,
      input: u.input,
      output: u.output,
      cached: u.cached,
      cacheWrite: u.cacheWrite,
      cacheWrite1h: u.cacheWrite1h,
      reasoning: u.reasoning,
      unparsed: this.unparsed,
      dropped: u.dropped,
      attrs: this.attrs,
    };
    this.recorder.record(outcome, this.span);
    if (this.span !== undefined && tracing !== undefined) tracing.endAi(this, outcome);
  }
}

function settleLater(recorder: AiRecorder, call: AiCall): void {
  if (!call.done) recorder.settle(call);
}

const decoder = new TextDecoder();
function decode(chunks: Uint8Array[]): string {
  if (chunks.length === 1) return decoder.decode(chunks[0]);
  return Buffer.concat(chunks).toString('utf8');
}
