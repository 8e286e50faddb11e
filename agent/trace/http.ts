// HTTP spans, the same for every hook on both runtimes, following the stable HTTP semantic
// conventions (https://opentelemetry.io/docs/specs/semconv/http/http-spans/): name `METHOD` or
// `METHOD route`, `HTTP` for unknown methods; status ERROR exactly when error.type is set (server:
// 5xx or aborted, client: 4xx/5xx or a network error). url.path and url.full carry no query
// string: a query often holds tokens, and spans leave the process.
import {
  type Attributes,
  defaultTextMapSetter,
  ROOT_CONTEXT,
  SpanKind,
  type TextMapGetter,
  trace,
} from '@opentelemetry/api';
import { fail } from '../../core/guard.js';
import type { ClientOp } from '../../core/http/client.js';
import { defaultPort, normalizeMethod } from '../../core/http/semconv.js';
import type { ServerOp } from '../../core/http/server.js';
import type { InboundRequest } from '../../core/operation.js';
import { contextManager, endSpan, propagator, startSpan, tracingGuard } from './tracer.js';

interface HeaderGet {
  get(name: string): string | null;
}

/** Fetch `Headers` (Bun.serve) and node:http's plain lower-case record alike. */
const headerGetter: TextMapGetter<unknown> = {
  get(carrier, key) {
    const c = carrier as HeaderGet | Record<string, string | string[] | undefined>;
    if (typeof c.get === 'function') return (c as HeaderGet).get(key) ?? undefined;
    return (c as Record<string, string | string[] | undefined>)[key];
  },
  keys: () => [],
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

/** The path of `/p?q` (node:http) or `http://host/p?q` (Fetch Request), without the query. */
export function pathOf(url: string): string {
  let start = 0;
  if (url.charCodeAt(0) !== 47 /* / */) {
    const scheme = url.indexOf('://');
    start = scheme < 0 ? -1 : url.indexOf('/', scheme + 3);
    if (start < 0) return '/';
  }
  let end = url.indexOf('?', start);
  const hash = url.indexOf('#', start);
  if (hash >= 0 && (end < 0 || hash < end)) end = hash;
  return end < 0 ? (start === 0 ? url : url.slice(start)) : url.slice(start, end);
}

/** `scheme://host[:port]/path`, the query string dropped (see the header comment). */
export function fullUrl(scheme: string, address: string, port: number, path: string): string {
  const q = path.indexOf('?');
  const p = q < 0 ? path : path.slice(0, q);
  const host = address.includes(':') ? `[${address}]` : address;
  return port === defaultPort(scheme) ? `${scheme}://${host}${p}` : `${scheme}://${host}:${port}${p}`;
}

/** Continues the trace context the request arrived with (traceparent, tracestate). */
export function startServer(op: ServerOp, request: InboundRequest, scheme: string): void {
  if (!tracingGuard.enabled) return;
  try {
    const parent = propagator.extract(ROOT_CONTEXT, request.headers, headerGetter);
    const attributes = methodAttributes(request.method);
    attributes['url.path'] = pathOf(request.url ?? '/');
    attributes['url.scheme'] = scheme;
    const name = spanName(attributes['http.request.method'] as string, undefined);
    const span = startSpan(name, SpanKind.SERVER, attributes, parent);
    if (span === undefined) return;
    op.span = span;
    op.context = trace.setSpan(parent, span);
  } catch (error) {
    fail(tracingGuard, error);
  }
}

export function endServer(
  op: ServerOp,
  status: number,
  route: string | undefined,
  errorType: string | undefined,
): void {
  const span = op.span!;
  try {
    if (status > 0) span.setAttribute('http.response.status_code', status);
    if (route !== undefined) {
      span.setAttribute('http.route', route);
      span.updateName(spanName(normalizeMethod(op.rawMethod), route));
    }
  } catch (error) {
    fail(tracingGuard, error);
  }
  endSpan(span, errorType);
}

/** A CLIENT span child of the active context; op.headers gets the trace context to send. */
export function startClient(op: ClientOp, path: string): void {
  if (!tracingGuard.enabled) return;
  try {
    const o = op.origin;
    const attributes = methodAttributes(op.rawMethod);
    attributes['server.address'] = o.address;
    attributes['server.port'] = o.port;
    attributes['url.full'] = fullUrl(o.scheme, o.address, o.port, path);
    const span = startSpan(spanName(op.method, undefined), SpanKind.CLIENT, attributes);
    if (span === undefined) return;
    op.span = span;
    const headers: Record<string, string> = {};
    const parent = contextManager()?.active() ?? ROOT_CONTEXT;
    propagator.inject(trace.setSpan(parent, span), headers, defaultTextMapSetter);
    op.headers = headers;
  } catch (error) {
    fail(tracingGuard, error);
  }
}

export function endClient(op: ClientOp, status: number, errorType: string | undefined): void {
  endSpan(op.span!, errorType, status > 0 ? { 'http.response.status_code': status } : undefined);
}
