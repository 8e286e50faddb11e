// AI calls through Bun's fetch. Bun's fetch publishes no diagnostics channels, so the writable
// `globalThis.fetch` is wrapped (on top of ../http/bun/client.ts's wrapper, if installed). A call
// that is not to a provider costs one string scan of its URL and goes straight through.
//
// For provider calls the app gets a Response whose body is a pass-through stream over the
// original: each chunk is handed on as the same Uint8Array, when the app asks for it (highWaterMark
// 0: nothing is read ahead or buffered), after the parser has looked at it. Cancelling it cancels
// the original (the connection is released as before) and records the call as abandoned.
// status, statusText, headers, url, redirected and type are those of the original response.
import { errorClass } from '../http/semconv.js';
import { fail, hook } from '../safe.js';
import { AiCall } from './call.js';
import type { Providers } from './providers.js';

// The runtime's own Response, taken when the preload loads: @hono/node-server (and others)
// replace globalThis.Response with their own class later, and Bun.serve and fetch deal in the
// native one.
const NativeResponse: typeof Response = globalThis.Response;

const kWrapped: unique symbol = Symbol.for('tapwire.ai.bun.wrapped') as never;
type Fetch = ((this: unknown, ...args: unknown[]) => unknown) & { [kWrapped]?: true };

const h = hook('ai (bun fetch)');
let providers: Providers | undefined;

/** error.type of a stream the app cancelled before its end (same class Node's fetch reports). */
export const ABANDONED = 'AbortError';

function urlOf(input: unknown): string | undefined {
  if (typeof input === 'string') return input;
  if (input instanceof URL) return input.href;
  if (input instanceof Request) return input.url;
  return undefined;
}

function begin(input: unknown, init: unknown): AiCall | undefined {
  if (!h.enabled || providers === undefined) return undefined;
  try {
    const url = urlOf(input);
    if (url === undefined) return undefined;
    const https = url.startsWith('https://');
    if (!https && !url.startsWith('http://')) return undefined;
    const from = https ? 8 : 7;
    let end = from;
    while (end < url.length) {
      const c = url.charCodeAt(end);
      if (c === 47 || c === 63 || c === 35) break; // / ? #
      end++;
    }
    const authority = url.slice(from, end).toLowerCase();
    const t = providers.matchAuthority(authority, https, end < url.length ? url.slice(end) : '/');
    if (t === undefined) return undefined;
    const colon = authority.lastIndexOf(':');
    let host = colon > authority.lastIndexOf(']') ? authority.slice(0, colon) : authority;
    if (host.startsWith('[')) host = host.slice(1, -1);
    const call = new AiCall(t, host);
    const body = typeof init === 'object' && init !== null ? (init as { body?: unknown }).body : undefined;
    if (typeof body === 'string' || body instanceof Uint8Array) call.requestChunk(body);
    else if (body instanceof ArrayBuffer) call.requestChunk(new Uint8Array(body));
    return call;
  } catch (error) {
    fail(h, error);
    return undefined;
  }
}

/** The pass-through body: pulls one chunk from the original per read of the app. */
class Source {
  constructor(
    private readonly reader: ReadableStreamDefaultReader<Uint8Array>,
    private readonly call: AiCall,
  ) {}

  async pull(controller: ReadableStreamDefaultController<Uint8Array>): Promise<void> {
    let r: { done: boolean; value?: Uint8Array };
    try {
      r = await this.reader.read();
    } catch (error) {
      this.observe(undefined, errorClass(error));
      controller.error(error);
      return;
    }
    if (r.done) {
      this.observe(undefined, undefined);
      controller.close();
      return;
    }
    this.observe(r.value!, undefined);
    controller.enqueue(r.value!);
  }

  cancel(reason: unknown): Promise<void> {
    this.observe(undefined, ABANDONED);
    return this.reader.cancel(reason);
  }

  private observe(chunk: Uint8Array | undefined, errorType: string | undefined): void {
    if (!h.enabled) return;
    try {
      if (chunk !== undefined) this.call.chunk(chunk);
      else if (errorType === undefined) this.call.end();
      else this.call.fail(errorType);
    } catch (error) {
      fail(h, error);
    }
  }
}

function passThrough(response: Response, call: AiCall): Response {
  const body = response.body;
  if (body === null) {
    call.end();
    return response;
  }
  const stream = new ReadableStream<Uint8Array>(new Source(body.getReader(), call), { highWaterMark: 0 });
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

async function track(call: AiCall, promise: unknown): Promise<unknown> {
  let response: unknown;
  try {
    response = await promise;
  } catch (error) {
    if (h.enabled) {
      try {
        call.fail(errorClass(error));
      } catch (e) {
        fail(h, e);
      }
    }
    throw error;
  }
  if (!h.enabled || !(response instanceof NativeResponse)) return response;
  try {
    call.head(response.status, response.headers.get('content-type') ?? undefined);
    if (response.status >= 400) return response;
    return passThrough(response, call);
  } catch (error) {
    fail(h, error);
    return response;
  }
}

function wrap(original: Fetch): Fetch {
  const fetch = function fetch(this: unknown, input: unknown, init?: unknown): unknown {
    const call = begin(input, init);
    if (call === undefined) return original.call(this, input, init);
    let promise: unknown;
    try {
      promise = original.call(this, input, init);
    } catch (error) {
      call.fail(errorClass(error));
      throw error;
    }
    return track(call, promise);
  } as Fetch;
  for (const key of Reflect.ownKeys(original)) {
    if (key === 'length' || key === 'name' || key === 'prototype') continue;
    const d = Object.getOwnPropertyDescriptor(original, key);
    if (d !== undefined) Object.defineProperty(fetch, key, d);
  }
  fetch[kWrapped] = true;
  return fetch;
}

export function installBunAi(p: Providers): boolean {
  if (providers !== undefined) return false;
  try {
    const g = globalThis as unknown as { fetch: Fetch };
    const original = g.fetch;
    if (typeof original !== 'function' || original[kWrapped] === true) return false;
    const wrapped = wrap(original);
    providers = p;
    g.fetch = wrapped;
    return g.fetch === wrapped;
  } catch (error) {
    fail(h, error);
    return false;
  }
}
