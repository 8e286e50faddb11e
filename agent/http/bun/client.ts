// Outbound fetch on Bun: Bun's fetch is native and publishes no `undici:*` diagnostics channels,
// so the writable `globalThis.fetch` is replaced. Measured on Bun 1.4.5 (tests/bun-research.md):
// - node:http / node:https clients do not go through globalThis.fetch (no double counting); they
//   publish `http.client.request.*` channels, which ../node-client.ts already handles.
// - NOT seen: `Bun.fetch` and `import { fetch } from 'bun'` (a distinct, non-writable,
//   non-configurable function), and the `undici` module, which Bun replaces with a built-in shim
//   whose fetch is Bun.fetch and whose request() calls the native fetch directly.
// Duration runs until the response headers arrive (the fetch promise settles), or the failure.
//
// Tracing (agent/trace/bun.ts) plugs in through setBunFetchTracing() at start-up, only when it is
// on; with tracing off the wrapper pays one `undefined` check per call. When on, it starts a
// CLIENT span and hands Bun a NEW init object carrying a NEW Headers with `traceparent`: the
// caller's init, Request and Headers objects are never written to.
import { fail, hook } from '../../safe.js';
import { clientStatusErrorType, errorClass } from '../semconv.js';
import { bunGlobal, type ClientRecorder } from './types.js';

// The runtime's own Response, taken when the preload loads: @hono/node-server (and others)
// replace globalThis.Response with their own class later, and Bun.serve and fetch deal in the
// native one.
const NativeResponse: typeof Response = globalThis.Response;

const kWrapped: unique symbol = Symbol.for('tapwire.bun.wrapped') as never;
type Marked = { [kWrapped]?: true };
type Fetch = ((this: unknown, ...args: unknown[]) => unknown) & Marked;

/** Token standing for "not measured" (hook disabled, or start() failed): end() is skipped. */
const NONE: unique symbol = Symbol('tapwire.none');

/** Tracing of outgoing fetch calls (agent/trace/bun.ts); every method must not throw. */
export interface FetchTracing {
  /**
   * Starts the CLIENT span of a call about to be made from the active context: the span, and the
   * init to pass on instead of `init` (a new object with new Headers). Undefined: not traced.
   */
  start(method: string, url: URL | string, input: unknown, init: unknown): TracedFetch | undefined;
  end(span: unknown, status: number, errorType: string | undefined): void;
}

export interface TracedFetch {
  span: unknown;
  init: unknown;
}

const h = hook('fetch (bun)');
let recorder: ClientRecorder | undefined;
let tracing: FetchTracing | undefined;

/** Set once at start-up by agent/trace/bun.ts when tracing is on. */
export function setBunFetchTracing(t: FetchTracing): void {
  tracing = t;
}

// The current call's method and URL, written by target() and read right after (no allocation).
let method = 'GET';
let url: URL | string = '';

function target(input: unknown, init: unknown): void {
  let m: unknown;
  if (typeof init === 'object' && init !== null) m = (init as { method?: unknown }).method;
  if (typeof input === 'string' || input instanceof URL) {
    url = input;
  } else if (input instanceof Request) {
    url = input.url;
    if (typeof m !== 'string') m = input.method;
  } else {
    url = String(input);
  }
  method = typeof m === 'string' ? m : 'GET';
}

function begin(input: unknown, init: unknown): unknown {
  if (!h.enabled || recorder === undefined) return NONE;
  try {
    target(input, init);
    return recorder.start(method, url);
  } catch (error) {
    fail(h, error);
    return NONE;
  }
}

function finish(token: unknown, span: unknown, status: number, errorType: string | undefined): void {
  if (span !== undefined && tracing !== undefined) tracing.end(span, status, errorType);
  if (token === NONE || recorder === undefined) return;
  try {
    recorder.end(token, status, errorType);
  } catch (error) {
    fail(h, error);
  }
}

function failed(token: unknown, span: unknown, error: unknown): void {
  let errorType = '_OTHER';
  try {
    errorType = errorClass(error);
  } catch (e) {
    fail(h, e);
  }
  finish(token, span, 0, errorType);
}

async function track(token: unknown, span: unknown, promise: unknown) {
  let response: unknown;
  try {
    response = await promise;
  } catch (error) {
    failed(token, span, error);
    throw error;
  }
  const status = response instanceof NativeResponse ? response.status : 0;
  finish(token, span, status, clientStatusErrorType(status));
  return response;
}

function traceTarget(input: unknown, init: unknown): void {
  try {
    target(input, init);
  } catch {
    url = ''; // not traced: agent/trace/bun.ts skips what is not an http(s) URL
  }
}

function wrapFetch(original: Fetch): Fetch {
  const fetch = function fetch(this: unknown, input: unknown, init?: unknown): unknown {
    const token = begin(input, init);
    let args = init;
    let span: unknown;
    if (tracing !== undefined) {
      // begin() already read method and URL unless the metrics hook is off.
      if (token === NONE) traceTarget(input, init);
      const traced = tracing.start(method, url, input, init);
      if (traced !== undefined) {
        args = traced.init;
        span = traced.span;
      }
    }
    if (token === NONE && span === undefined) return original.call(this, input, init);
    let promise: unknown;
    try {
      promise = original.call(this, input, args);
    } catch (error) {
      failed(token, span, error);
      throw error;
    }
    return track(token, span, promise);
  } as Fetch;
  // Keep Bun's extras (fetch.preconnect) reachable on the replacement.
  for (const key of Reflect.ownKeys(original)) {
    if (key === 'length' || key === 'name' || key === 'prototype') continue;
    const d = Object.getOwnPropertyDescriptor(original, key);
    if (d !== undefined) Object.defineProperty(fetch, key, d);
  }
  fetch[kWrapped] = true;
  return fetch;
}

export function installBunFetch(rec: ClientRecorder): boolean {
  // On Node, fetch is undici and its diagnostics channels (../node-client.ts) already see it.
  if (recorder !== undefined || bunGlobal() === undefined) return false;
  try {
    const g = globalThis as unknown as { fetch: Fetch };
    const original = g.fetch;
    if (typeof original !== 'function' || original[kWrapped] === true) return false;
    const wrapped = wrapFetch(original);
    recorder = rec;
    g.fetch = wrapped;
    if (g.fetch !== wrapped) {
      recorder = undefined;
      return false;
    }
    return true;
  } catch (error) {
    recorder = undefined;
    fail(h, error);
    return false;
  }
}
