// Outbound fetch on Bun, and the AI provider calls among those requests.
//
// detect: `globalThis.fetch` is Bun's own (native, no `undici:*` channels; measured on Bun 1.4.5,
//   tests/bun-research.md). node:http clients do not go through it (no double counting; they
//   publish channels, ../node-client.ts). NOT seen: `Bun.fetch` and `import { fetch } from 'bun'`
//   (a distinct, non-writable, non-configurable function). The `undici` module, which Bun
//   replaces with a built-in shim that calls the native fetch directly, is ./undici.ts's (its
//   `fetch` export gets the wrapper made here).
// hook: the writable `globalThis.fetch` is replaced by one wrapper that does both roles: the
//   HTTP client operation and, for a provider call, its AI body (../../ai/bun.ts).
// record: one ClientOp per call from the origin classifier (core/http/origins.ts), made just after
//   the call is sent (timed from just before). Duration runs until the response headers arrive
//   (the fetch promise settles), or the failure. With tracing
//   on, Bun gets a NEW init object carrying a NEW Headers with `traceparent`: the caller's init,
//   Request and Headers objects are never written to.
import { fail, type Guard } from '../../../core/guard.js';
import type { ClientOp } from '../../../core/http/client.js';
import type { Origins } from '../../../core/http/origins.js';
import { pathOfUrl } from '../../../core/http/origins.js';
import type { HttpRecorder } from '../../../core/http/recorder.js';
import { clientStatusErrorType } from '../../../core/http/semconv.js';
import { now, tracing } from '../../../core/operation.js';
import { around, type Fn } from '../../../core/patch.js';
import { observeRequest, observeResponse } from '../../ai/bun.js';
import type { HookContext } from '../../context.js';
import { bunGlobal, NativeResponse } from './types.js';

/** What a measured client call needs from its hook. */
export interface Hooked {
  http: HttpRecorder;
  origins: Origins;
  guard: Guard;
}

/** The URL of a fetch input: a string, a URL or a Request. */
export function urlOf(input: unknown): string | undefined {
  if (typeof input === 'string') return input;
  if (input instanceof URL) return input.href;
  if (input instanceof Request) return input.url;
  return undefined;
}

function methodOf(input: unknown, init: unknown): string {
  const m = typeof init === 'object' && init !== null ? (init as { method?: unknown }).method : undefined;
  if (typeof m === 'string') return m;
  return input instanceof Request ? input.method : 'GET';
}

/** A new init inheriting every field of `init` (Bun reads them through the prototype chain), with its own headers. */
function initWith(input: unknown, init: unknown, trace: Record<string, string>): object | undefined {
  // An init that is not a plain options object (a Request used as init, a primitive) would not
  // survive being inherited from: such calls go out without trace context rather than changed.
  if (init !== undefined && init !== null && (typeof init !== 'object' || init instanceof Request)) {
    return undefined;
  }
  // init.headers, when given, replaces the Request's headers (Fetch standard); copy the one that
  // applies so the call sends what it would have sent, plus the trace context.
  const own = init === undefined || init === null ? undefined : (init as { headers?: unknown }).headers;
  const source = own !== undefined ? own : input instanceof Request ? input.headers : undefined;
  const headers = new Headers(source as ConstructorParameters<typeof Headers>[0]);
  for (const k in trace) headers.set(k, trace[k]!);
  return init === undefined || init === null ? { headers } : inheritWith(init as object, headers);
}

/**
 * New options inheriting every field of the app's `options` (fetch and undici read them by
 * destructuring, so inherited fields count), with `headers` of their own: the app's object stays
 * as it was.
 */
export function inheritWith(options: object, headers: Headers): object {
  const out = Object.create(options) as object;
  Object.defineProperty(out, 'headers', {
    value: headers,
    writable: true,
    enumerable: true,
    configurable: true,
  });
  return out;
}

/** The status of a fetch Response (0 for anything else). */
const responseStatus = (result: unknown): number => (result instanceof NativeResponse ? result.status : 0);

/**
 * Ends `op` when the call's promise settles: fails it with the error (rethrown to the app as it
 * came) or ends it with the status `statusOf` reads from the result. A provider call answered by a
 * fetch Response gets the pass-through body that reads its stream (../../ai/bun.ts).
 */
export async function track(
  h: Hooked,
  op: ClientOp,
  promise: unknown,
  statusOf: (result: unknown) => number = responseStatus,
): Promise<unknown> {
  let result: unknown;
  try {
    result = await promise;
  } catch (error) {
    try {
      op.fail(error);
    } catch (e) {
      fail(h.guard, e);
    }
    throw error;
  }
  try {
    const status = statusOf(result);
    op.end(status, clientStatusErrorType(status));
    if (op.ai !== undefined && result instanceof NativeResponse && h.guard.enabled) {
      return observeResponse(result, op.ai, h.guard);
    }
  } catch (error) {
    fail(h.guard, error);
  }
  return result;
}

/**
 * The operation of a call the app is making, undefined when it is not measured (tapwire's own
 * traffic, an input that is not a URL). `start`: when it was sent, where it was sent first.
 */
function operationOf(h: Hooked, input: unknown, init: unknown, start?: number): ClientOp | undefined {
  try {
    const url = urlOf(input);
    const origin = url === undefined ? undefined : h.origins.ofUrl(url);
    if (origin === undefined || origin.internal) return undefined;
    return h.http.client(methodOf(input, init), origin, pathOfUrl(url!), start);
  } catch (error) {
    fail(h.guard, error);
    return undefined;
  }
}

/** The request body and headers of a provider call, for its model and API key. */
function observeAiRequest(h: Hooked, op: ClientOp, input: unknown, init: unknown): void {
  if (op.ai === undefined) return;
  try {
    observeRequest(op.ai, input, init);
  } catch (error) {
    fail(h.guard, error);
  }
}

/**
 * Without tracing, nothing is added to the request: it is sent first, and the operation made while
 * it travels (the origin, the operation and, for a provider call, the request's model and key:
 * ~50 µs of code that runs cold, which the app's wait for the response hides).
 */
function fetchMeasured(h: Hooked, original: Fn, self: unknown, args: IArguments): unknown {
  if (tracing !== undefined) return fetchTraced(h, original, self, args);
  const input = args[0];
  const init = args[1];
  const start = now();
  let promise: unknown;
  try {
    promise = Reflect.apply(original, self, args);
  } catch (error) {
    operationOf(h, input, init, start)?.fail(error);
    throw error;
  }
  const op = operationOf(h, input, init, start);
  if (op === undefined) return promise;
  observeAiRequest(h, op, input, init);
  return track(h, op, promise);
}

/** With tracing on, the operation comes first: its span's context is sent with the request. */
function fetchTraced(h: Hooked, original: Fn, self: unknown, args: IArguments): unknown {
  const input = args[0];
  const init = args[1];
  const op = operationOf(h, input, init);
  if (op === undefined) return Reflect.apply(original, self, args);
  let sent: unknown = init;
  try {
    if (op.headers !== undefined) sent = initWith(input, init, op.headers) ?? init;
  } catch (error) {
    fail(h.guard, error);
  }
  observeAiRequest(h, op, input, init);
  let promise: unknown;
  try {
    promise = sent === init ? Reflect.apply(original, self, args) : original.call(self, input, sent);
  } catch (error) {
    op.fail(error);
    throw error;
  }
  return track(h, op, promise);
}

/** A measured replacement for one of Bun's fetch functions (made once per patched property). */
export function measuredFetch(h: Hooked, original: Fn): Fn {
  const fetch = around(h.guard, original, (o, self, args) => fetchMeasured(h, o, self, args));
  // Keep Bun's extras (fetch.preconnect) reachable on the replacement.
  for (const key of Reflect.ownKeys(original)) {
    if (key === 'length' || key === 'name' || key === 'prototype') continue;
    const d = Object.getOwnPropertyDescriptor(original, key);
    if (d !== undefined) Object.defineProperty(fetch, key, d);
  }
  return fetch;
}

export function install(ctx: HookContext): void {
  if (bunGlobal() === undefined) return;
  const h: Hooked = { http: ctx.http, origins: ctx.origins, guard: ctx.guard };
  ctx.patches.wrap(globalThis, 'fetch', (original) => measuredFetch(h, original));
}
