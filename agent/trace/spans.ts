// HTTP spans, independent of the runtime. The Node hooks (./node.ts) and the Bun patches
// (../http/bun/) gather raw values and call these functions; nothing else creates spans.
//
// For runtime hooks — every function is a no-op returning undefined while tracing is off, so a
// hook can decide once at install time with `tracingOn()` and never pay per request:
//
//   tracingOn(): boolean
//       Whether tracing is on in this process (decided at start-up, never changes to true later).
//   startServerSpan(method, url: URL, headers): { span, ctx } | undefined
//       An inbound request arrived. Continues the trace in `traceparent` / `tracestate`
//       (`headers`: a Fetch `Headers`, anything with `get(name)`, or a plain lower-case record).
//       Run the handler with `runInContext(ctx, handler, thisArg, ...args)`.
//   endServerSpan(span, method, status, route, errorType): void
//       The response ended. `status` 0 when none was sent; `route` a router template or
//       undefined; `errorType` as the metrics record it (5xx status, `aborted`, error class).
//   runInContext(ctx, fn, thisArg, ...args): ReturnType<fn>
//       Calls fn with ctx active for it and everything it awaits or schedules.
//   applyInContext(ctx, fn, thisArg, args: ArrayLike): unknown
//       The same with an argument list (a hook's `arguments`), without a spread.
//   startClientSpan(method, url: URL, headers): Span | undefined
//       An outgoing request is about to be sent from the active context. Writes `traceparent`
//       (and `tracestate`) into `headers` (a Fetch `Headers` or a plain record) — call it before
//       the headers are sent. Returns undefined inside tapwire's own exports (suppressed).
//   endClientSpan(span, status, errorType): void
//       Response headers arrived (status > 0) or the request failed (status 0, errorType set).
//
// Span shape follows the stable HTTP semantic conventions
// (https://opentelemetry.io/docs/specs/semconv/http/http-spans/): name `METHOD` or
// `METHOD route`, `HTTP` for unknown methods; status ERROR exactly when error.type is set (server:
// 5xx or aborted, client: 4xx/5xx or a network error). url.full carries no query string: a
// query often holds tokens, and spans leave the process.
import {
  type Attributes,
  type Context,
  defaultTextMapGetter,
  defaultTextMapSetter,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  type TextMapGetter,
  type TextMapSetter,
  type Tracer,
  trace,
} from '@opentelemetry/api';
import { isTracingSuppressed, W3CTraceContextPropagator } from '@opentelemetry/core';
import { normalizeMethod } from '../http/semconv.js';
import { fail, hook } from '../safe.js';
import type { AlsContextManager } from './context.js';

export interface ServerSpan {
  span: Span;
  ctx: Context;
}

interface HeaderGet {
  get(name: string): string | null | undefined;
}
interface HeaderSet {
  set(name: string, value: string): void;
}

const h = hook('tracing');
const propagator = new W3CTraceContextPropagator();
let tracer: Tracer | undefined;
let manager: AlsContextManager | undefined;

/** Called once by ./provider.ts when tracing is on. */
export function enableSpans(t: Tracer, m: AlsContextManager): void {
  tracer = t;
  manager = m;
}

export function tracingOn(): boolean {
  return tracer !== undefined && h.enabled;
}

const headersGetter: TextMapGetter<HeaderGet> = {
  get: (carrier, key) => carrier.get(key) ?? undefined,
  keys: () => [],
};
const headersSetter: TextMapSetter<HeaderSet> = {
  set: (carrier, key, value) => carrier.set(key, value),
};

function spanName(method: string, route: string | undefined): string {
  const m = method === '_OTHER' ? 'HTTP' : method;
  return route === undefined ? m : `${m} ${route}`;
}

function methodAttributes(raw: string | undefined): Attributes {
  const method = normalizeMethod(raw);
  const a: Attributes = { 'http.request.method': method };
  if (method === '_OTHER' && raw !== undefined) a['http.request.method_original'] = raw;
  return a;
}

/** Node and Bun share this; `path` without the query string. */
export function serverSpan<C>(
  rawMethod: string | undefined,
  path: string,
  scheme: string,
  carrier: C,
  getter: TextMapGetter<C>,
): ServerSpan | undefined {
  if (tracer === undefined || !h.enabled) return undefined;
  try {
    const parent = propagator.extract(ROOT_CONTEXT, carrier, getter);
    const attributes = methodAttributes(rawMethod);
    attributes['url.path'] = path;
    attributes['url.scheme'] = scheme;
    const name = spanName(attributes['http.request.method'] as string, undefined);
    const span = tracer.startSpan(name, { kind: SpanKind.SERVER, attributes }, parent);
    return { span, ctx: trace.setSpan(parent, span) };
  } catch (error) {
    fail(h, error);
    return undefined;
  }
}

export function startServerSpan(
  method: string,
  url: URL,
  headers: HeaderGet | Record<string, string | string[] | undefined>,
): ServerSpan | undefined {
  if (tracer === undefined || !h.enabled) return undefined;
  const scheme = url.protocol === 'https:' ? 'https' : 'http';
  return typeof headers.get === 'function'
    ? serverSpan(method, url.pathname, scheme, headers as HeaderGet, headersGetter)
    : serverSpan(
        method,
        url.pathname,
        scheme,
        headers as Record<string, string | string[] | undefined>,
        defaultTextMapGetter,
      );
}

export function endServerSpan(
  span: Span,
  rawMethod: string | undefined,
  status: number,
  route: string | undefined,
  errorType: string | undefined,
): void {
  try {
    if (status > 0) span.setAttribute('http.response.status_code', status);
    if (route !== undefined) {
      span.setAttribute('http.route', route);
      span.updateName(spanName(normalizeMethod(rawMethod), route));
    }
    if (errorType !== undefined) {
      span.setAttribute('error.type', errorType);
      span.setStatus({ code: SpanStatusCode.ERROR });
    }
    span.end();
  } catch (error) {
    fail(h, error);
  }
}

/** Makes ctx active for the rest of this synchronous execution (Node's server channel). */
export function enterContext(ctx: Context): void {
  manager?.enterWith(ctx);
}

export function runInContext<A extends unknown[], F extends (...args: A) => ReturnType<F>>(
  ctx: Context,
  fn: F,
  thisArg?: ThisParameterType<F>,
  ...args: A
): ReturnType<F> {
  if (manager === undefined) return Reflect.apply(fn, thisArg, args) as ReturnType<F>;
  return manager.with(ctx, fn, thisArg, ...args);
}

/** runInContext for hooks that hold an `arguments` object: no rest array, no spread. */
export function applyInContext(
  ctx: Context,
  fn: (...args: never[]) => unknown,
  thisArg: unknown,
  args: ArrayLike<unknown>,
): unknown {
  if (manager === undefined) return Reflect.apply(fn, thisArg, args);
  return manager.with(ctx, Reflect.apply, undefined, fn, thisArg, args);
}

/** `scheme://host[:port]/path`, the query string dropped (see the header comment). */
export function fullUrl(scheme: string, address: string, port: number, path: string): string {
  const q = path.indexOf('?');
  const p = q < 0 ? path : path.slice(0, q);
  const host = address.includes(':') ? `[${address}]` : address;
  const defaultPort = scheme === 'https' ? 443 : 80;
  return port === defaultPort ? `${scheme}://${host}${p}` : `${scheme}://${host}:${port}${p}`;
}

/**
 * Node and Bun share this. Starts a CLIENT span as a child of the active context and writes its
 * trace context into the carrier through `setter`. Undefined inside a suppressed context (the
 * OTLP exporters run in one) and while tracing is off.
 */
export function clientSpan<C>(
  rawMethod: string | undefined,
  scheme: string,
  address: string,
  port: number,
  path: string,
  carrier: C,
  setter: TextMapSetter<C>,
): Span | undefined {
  if (tracer === undefined || manager === undefined || !h.enabled) return undefined;
  try {
    const parent = manager.active();
    if (isTracingSuppressed(parent)) return undefined;
    const attributes = methodAttributes(rawMethod);
    attributes['server.address'] = address;
    attributes['server.port'] = port;
    attributes['url.full'] = fullUrl(scheme, address, port, path);
    const name = spanName(attributes['http.request.method'] as string, undefined);
    const span = tracer.startSpan(name, { kind: SpanKind.CLIENT, attributes }, parent);
    propagator.inject(trace.setSpan(parent, span), carrier, setter);
    return span;
  } catch (error) {
    fail(h, error);
    return undefined;
  }
}

export function startClientSpan(
  method: string,
  url: URL,
  headers: HeaderSet | Record<string, string>,
): Span | undefined {
  if (tracer === undefined || !h.enabled) return undefined;
  const scheme = url.protocol === 'https:' ? 'https' : 'http';
  const address = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  const port = url.port === '' ? (scheme === 'https' ? 443 : 80) : Number(url.port);
  return typeof headers.set === 'function'
    ? clientSpan(method, scheme, address, port, url.pathname, headers as HeaderSet, headersSetter)
    : clientSpan(
        method,
        scheme,
        address,
        port,
        url.pathname,
        headers as Record<string, string>,
        defaultTextMapSetter,
      );
}

export function endClientSpan(span: Span, status: number, errorType: string | undefined): void {
  try {
    if (status > 0) span.setAttribute('http.response.status_code', status);
    if (errorType !== undefined) {
      span.setAttribute('error.type', errorType);
      span.setStatus({ code: SpanStatusCode.ERROR });
    }
    span.end();
  } catch (error) {
    fail(h, error);
  }
}

/**
 * Database client spans (https://opentelemetry.io/docs/specs/semconv/database/database-spans/),
 * shared by the hooks in ../db/. A CLIENT span child of the active context, named by
 * db.query.summary ("SELECT users") or the system name; db.query.text is the sanitised statement
 * (literals replaced, never parameter values). Undefined while tracing is off or suppressed.
 */
export function startDbSpan(
  system: string,
  summary: string | undefined,
  text: string | undefined,
  namespace: string | undefined,
  address: string | undefined,
  port: number | undefined,
): Span | undefined {
  if (tracer === undefined || manager === undefined || !h.enabled) return undefined;
  try {
    const parent = manager.active();
    if (isTracingSuppressed(parent)) return undefined;
    const attributes: Attributes = { 'db.system.name': system };
    if (summary !== undefined) attributes['db.query.summary'] = summary;
    if (text !== undefined) attributes['db.query.text'] = text;
    if (namespace !== undefined) attributes['db.namespace'] = namespace;
    if (address !== undefined) attributes['server.address'] = address;
    if (port !== undefined) attributes['server.port'] = port;
    return tracer.startSpan(summary ?? system, { kind: SpanKind.CLIENT, attributes }, parent);
  } catch (error) {
    fail(h, error);
    return undefined;
  }
}

export function endDbSpan(span: Span, errorType: string | undefined): void {
  try {
    if (errorType !== undefined) {
      span.setAttribute('error.type', errorType);
      span.setStatus({ code: SpanStatusCode.ERROR });
    }
    span.end();
  } catch (error) {
    fail(h, error);
  }
}

/** What ../ai/call.ts knows when a provider call ends (its AiOutcome has this shape). */
export interface GenAiResult {
  operation: string;
  requestModel: string | undefined;
  responseModel: string | undefined;
  errorType: string | undefined;
  /** Seconds to the first response chunk (streams only). */
  firstChunk: number | undefined;
  input: number | undefined;
  output: number | undefined;
  /** Cached input tokens (inside `input`). */
  cached: number | undefined;
  /** Reasoning tokens (inside `output`). */
  reasoning: number | undefined;
}

/**
 * GenAI client spans (https://opentelemetry.io/docs/specs/semconv/gen-ai/gen-ai-spans/), one per
 * provider call ../ai/ recognises, from the request to the end of the response body (a stream's
 * last event carries the usage, long after the HTTP span ended at the response head). A CLIENT
 * span child of the active context, so it sits beside the call's HTTP client span under the same
 * parent. Only low-cardinality values and counts: never prompt or completion content.
 * Undefined while tracing is off or suppressed.
 */
export function startGenAiSpan(operation: string, provider: string, address: string): Span | undefined {
  if (tracer === undefined || manager === undefined || !h.enabled) return undefined;
  try {
    const parent = manager.active();
    if (isTracingSuppressed(parent)) return undefined;
    const attributes: Attributes = {
      'gen_ai.operation.name': operation,
      'gen_ai.provider.name': provider,
      'server.address': address,
    };
    return tracer.startSpan(operation, { kind: SpanKind.CLIENT, attributes }, parent);
  } catch (error) {
    fail(h, error);
    return undefined;
  }
}

/** Names the span `{operation} {request model}` and adds the model, usage and error.type. */
export function endGenAiSpan(span: Span, r: GenAiResult): void {
  try {
    if (r.requestModel !== undefined) {
      span.updateName(`${r.operation} ${r.requestModel}`);
      span.setAttribute('gen_ai.request.model', r.requestModel);
    }
    if (r.responseModel !== undefined) span.setAttribute('gen_ai.response.model', r.responseModel);
    if (r.input !== undefined) span.setAttribute('gen_ai.usage.input_tokens', r.input);
    if (r.output !== undefined) span.setAttribute('gen_ai.usage.output_tokens', r.output);
    if (r.cached !== undefined) span.setAttribute('gen_ai.usage.cache_read.input_tokens', r.cached);
    if (r.reasoning !== undefined) span.setAttribute('gen_ai.usage.reasoning.output_tokens', r.reasoning);
    if (r.firstChunk !== undefined) span.setAttribute('gen_ai.response.time_to_first_chunk', r.firstChunk);
    if (r.errorType !== undefined) {
      span.setAttribute('error.type', r.errorType);
      span.setStatus({ code: SpanStatusCode.ERROR });
    }
    span.end();
  } catch (error) {
    fail(h, error);
  }
}
