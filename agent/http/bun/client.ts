// Outbound fetch on Bun: Bun's fetch is native and publishes no `undici:*` diagnostics channels,
// so the writable `globalThis.fetch` is replaced. Measured on Bun 1.4.5 (tests/bun-research.md):
// - node:http / node:https clients do not go through globalThis.fetch (no double counting); they
//   publish `http.client.request.*` channels, which ../node-client.ts already handles.
// - NOT seen: `Bun.fetch` and `import { fetch } from 'bun'` (a distinct, non-writable,
//   non-configurable function), and the `undici` module, which Bun replaces with a built-in shim
//   whose fetch is Bun.fetch and whose request() calls the native fetch directly.
// Duration runs until the response headers arrive (the fetch promise settles), or the failure.
import { fail, hook } from '../../safe.js';
import { clientStatusErrorType, errorClass } from '../semconv.js';
import { bunGlobal, type ClientRecorder } from './types.js';

const kWrapped: unique symbol = Symbol.for('tapwire.bun.wrapped') as never;
type Marked = { [kWrapped]?: true };
type Fetch = ((this: unknown, ...args: unknown[]) => unknown) & Marked;

/** Token standing for "not measured" (hook disabled, or start() failed): end() is skipped. */
const NONE: unique symbol = Symbol('tapwire.none');

const h = hook('fetch (bun)');
let recorder: ClientRecorder | undefined;

function begin(input: unknown, init: unknown): unknown {
  if (!h.enabled || recorder === undefined) return NONE;
  try {
    let method: unknown;
    if (typeof init === 'object' && init !== null) method = (init as { method?: unknown }).method;
    let url: URL | string;
    if (typeof input === 'string' || input instanceof URL) {
      url = input;
    } else if (input instanceof Request) {
      url = input.url;
      if (typeof method !== 'string') method = input.method;
    } else {
      url = String(input);
    }
    return recorder.start(typeof method === 'string' ? method : 'GET', url);
  } catch (error) {
    fail(h, error);
    return NONE;
  }
}

function finish(token: unknown, status: number, errorType: string | undefined): void {
  if (recorder === undefined) return;
  try {
    recorder.end(token, status, errorType);
  } catch (error) {
    fail(h, error);
  }
}

function failed(token: unknown, error: unknown): void {
  let errorType = '_OTHER';
  try {
    errorType = errorClass(error);
  } catch (e) {
    fail(h, e);
  }
  finish(token, 0, errorType);
}

async function track(token: unknown, promise: unknown) {
  let response: unknown;
  try {
    response = await promise;
  } catch (error) {
    failed(token, error);
    throw error;
  }
  const status = response instanceof Response ? response.status : 0;
  finish(token, status, clientStatusErrorType(status));
  return response;
}

function wrapFetch(original: Fetch): Fetch {
  const fetch = function fetch(this: unknown, input: unknown, init?: unknown): unknown {
    const token = begin(input, init);
    if (token === NONE) return original.call(this, input, init);
    let promise: unknown;
    try {
      promise = original.call(this, input, init);
    } catch (error) {
      failed(token, error);
      throw error;
    }
    return track(token, promise);
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
