// The bodies of AI provider calls through Bun's fetch (../http/bun/fetch.ts starts every call and
// hands provider calls here).
//
// The app gets a Response whose body is a pass-through stream over the original: each chunk is
// handed on as the same Uint8Array, when the app asks for it (highWaterMark 0: nothing is read
// ahead or buffered). The parser reads it a moment later (a microtask), with the time it came:
// read first, a provider's first chunk (a few hundred events when the answer comes at once) was
// added to the app's time to first chunk. Cancelling the body cancels the original (the
// connection is released as before) and records the call as abandoned. status, statusText,
// headers, url, redirected and type are those of the original response.
import { ABANDONED } from '../../core/ai/abandoned.js';
import type { AiCall } from '../../core/ai/call.js';
import { fail, type Guard } from '../../core/guard.js';
import { errorClass } from '../../core/http/semconv.js';
import { now } from '../../core/operation.js';
import { NativeResponse } from '../http/bun/types.js';

/**
 * The request body as the app passed it in `init` (a Request's own body is not read), and its
 * headers (init's, else the Request's: Fetch's rule), for the API key.
 */
export function observeRequest(call: AiCall, input: unknown, init: unknown): void {
  const own = typeof init === 'object' && init !== null ? (init as { headers?: unknown }).headers : undefined;
  if (own !== undefined) {
    try {
      call.requestHeaders(new Headers(own as ConstructorParameters<typeof Headers>[0]));
    } catch {
      // Headers the Fetch rules refuse: the app's own fetch call reports them.
    }
  } else if (input instanceof Request) {
    call.requestHeaders(input.headers);
  }
  const body = typeof init === 'object' && init !== null ? (init as { body?: unknown }).body : undefined;
  if (typeof body === 'string' || body instanceof Uint8Array) call.requestChunk(body);
  else if (body instanceof ArrayBuffer) call.requestChunk(new Uint8Array(body));
}

/** The pass-through body: pulls one chunk from the original per read of the app. */
class Source {
  /** The chunk last handed to the app until the parser reads it, its length then and when it came. */
  private unread: Uint8Array | undefined = undefined;
  private unreadLength = 0;
  private unreadAt = 0;
  private readonly readLater = (): void => this.readUnread();

  constructor(
    private readonly reader: ReadableStreamDefaultReader<Uint8Array>,
    private readonly call: AiCall,
    private readonly guard: Guard,
  ) {}

  async pull(controller: ReadableStreamDefaultController<Uint8Array>): Promise<void> {
    let r: { done: boolean; value?: Uint8Array };
    try {
      r = await this.reader.read();
    } catch (error) {
      this.readUnread();
      this.end(errorClass(error));
      controller.error(error);
      return;
    }
    this.readUnread();
    if (r.done) {
      this.end(undefined);
      controller.close();
      return;
    }
    const chunk = r.value!;
    this.unread = chunk;
    this.unreadLength = chunk.byteLength;
    this.unreadAt = now();
    controller.enqueue(chunk);
    // Queued after the app's read, which enqueue() has just answered.
    queueMicrotask(this.readLater);
  }

  cancel(reason: unknown): Promise<void> {
    this.readUnread();
    this.end(ABANDONED);
    return this.reader.cancel(reason);
  }

  /** The parser reads the chunk the app was handed, unless the app took its buffer (transferred it) first. */
  private readUnread(): void {
    const chunk = this.unread;
    if (chunk === undefined) return;
    this.unread = undefined;
    if (!this.guard.enabled) return;
    try {
      if (chunk.byteLength === this.unreadLength) this.call.chunk(chunk, this.unreadAt);
      else this.call.missed();
    } catch (error) {
      fail(this.guard, error);
    }
  }

  /** The body ended (errorType undefined), failed or was cancelled. */
  private end(errorType: string | undefined): void {
    if (!this.guard.enabled) return;
    try {
      if (errorType === undefined) this.call.end();
      else this.call.fail(errorType);
    } catch (error) {
      fail(this.guard, error);
    }
  }
}

/** The response the app receives for a provider call: the same one for errors and empty bodies. */
export function observeResponse(response: Response, call: AiCall, guard: Guard): Response {
  call.head(response.status, response.headers.get('content-type') ?? undefined, response.headers);
  if (response.status >= 400) return response;
  const body = response.body;
  if (body === null) {
    call.end();
    return response;
  }
  const stream = new ReadableStream<Uint8Array>(new Source(body.getReader(), call, guard), {
    highWaterMark: 0,
  });
  const out = new NativeResponse(stream, {
    status: response.status,
    statusText: response.statusText,
    headers: response.headers,
  });
  // Own properties shadow the constructor's defaults with the original's values.
  Object.defineProperty(out, 'url', { value: response.url, enumerable: true });
  Object.defineProperty(out, 'redirected', { value: response.redirected, enumerable: true });
  Object.defineProperty(out, 'type', { value: response.type, enumerable: true });
  return out;
}
