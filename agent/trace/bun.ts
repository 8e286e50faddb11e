// Spans from Bun's HTTP hooks (../http/bun/), plugged into their tracing extension points at
// start-up, only when tracing is on; otherwise those stay undefined and the hooks do no tracing
// work. The hooks call these functions; every one of them is guarded and never throws.
//
// Server (Bun.serve fetch/route handlers, node:http servers under Bun): the span starts when the
// hook starts the request, travels wrapped around the metrics token, the handler runs inside it
// (run), and it ends where the hook ends the request, with the same status, route and error.type.
// Client (globalThis.fetch): the span is a child of the active context; `traceparent` and
// `tracestate` go into a NEW Headers inside a NEW init object; the caller's init, Request and
// Headers are left as they were. Bun reads init fields through the prototype chain (measured on
// 1.4.5), so the new init inherits from the caller's and keeps Bun's own options (tls, proxy,
// unix, verbose, ...).
import { type Context, defaultTextMapGetter, type Span, type TextMapGetter } from '@opentelemetry/api';
import { type FetchTracing, setBunFetchTracing, type TracedFetch } from '../http/bun/client.js';
import { type BunServerTracing, setBunServerTracing } from '../http/bun/server.js';
import { fail, hook } from '../safe.js';
import {
  applyInContext,
  endClientSpan,
  endServerSpan,
  serverSpan,
  startClientSpan,
  tracingOn,
} from './spans.js';

const h = hook('tracing (bun http)');

/** The metrics token of one traced request, with its span. */
class Traced {
  constructor(
    readonly token: unknown,
    readonly span: Span,
    readonly ctx: Context,
    readonly method: string | undefined,
  ) {}
}

interface HeaderGet {
  get(name: string): string | null;
}

const fetchHeadersGetter: TextMapGetter<HeaderGet> = {
  get: (carrier, key) => carrier.get(key) ?? undefined,
  keys: () => [],
};

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

interface AnyRequest {
  method?: string;
  url?: string;
  headers: HeaderGet | Record<string, string | string[] | undefined>;
}

const server: BunServerTracing = {
  start(token, req, scheme) {
    if (!h.enabled) return token;
    try {
      const r = req as AnyRequest;
      const headers = r.headers;
      const path = pathOf(r.url ?? '/');
      const s =
        typeof headers.get === 'function'
          ? serverSpan(r.method, path, scheme, headers as HeaderGet, fetchHeadersGetter)
          : serverSpan(
              r.method,
              path,
              scheme,
              headers as Record<string, string | string[] | undefined>,
              defaultTextMapGetter,
            );
      return s === undefined ? token : new Traced(token, s.span, s.ctx, r.method);
    } catch (error) {
      fail(h, error);
      return token;
    }
  },
  run(token, fn, thisArg, args) {
    if (token instanceof Traced) return applyInContext(token.ctx, fn, thisArg, args);
    return Reflect.apply(fn, thisArg, args);
  },
  end(token, status, route, errorType) {
    if (!(token instanceof Traced)) return token;
    endServerSpan(token.span, token.method, status, route, errorType);
    return token.token;
  },
};

function isRequest(value: unknown): value is Request {
  return value instanceof Request;
}

/** A new init inheriting every field of `init`, with its own `headers`. */
function initWith(init: unknown, headers: Headers): object {
  if (init === undefined || init === null) return { headers };
  const out = Object.create(init as object) as object;
  Object.defineProperty(out, 'headers', {
    value: headers,
    writable: true,
    enumerable: true,
    configurable: true,
  });
  return out;
}

const client: FetchTracing = {
  start(method, url, input, init): TracedFetch | undefined {
    if (!h.enabled) return undefined;
    try {
      // An init that is not a plain options object (a Request used as init, a primitive) would
      // not survive being inherited from: such calls go out untraced rather than changed.
      if (init !== undefined && init !== null && (typeof init !== 'object' || isRequest(init))) {
        return undefined;
      }
      const u = typeof url === 'string' ? URL.parse(url) : url;
      if (u === null || (u.protocol !== 'http:' && u.protocol !== 'https:')) return undefined;
      // init.headers, when given, replaces the Request's headers (Fetch standard); copy the one
      // that applies so the call sends what it would have sent, plus the trace context.
      const own = init === undefined || init === null ? undefined : (init as { headers?: unknown }).headers;
      const source = own !== undefined ? own : isRequest(input) ? input.headers : undefined;
      const headers = new Headers(source as ConstructorParameters<typeof Headers>[0]);
      const span = startClientSpan(method, u, headers);
      if (span === undefined) return undefined;
      return { span, init: initWith(init, headers) };
    } catch (error) {
      fail(h, error);
      return undefined;
    }
  },
  end(span, status, errorType) {
    endClientSpan(span as Span, status, errorType);
  },
};

/** Called by ./index.ts under Bun once tracing is on. */
export function installBunTracing(): void {
  if (!tracingOn()) return;
  setBunServerTracing(server);
  setBunFetchTracing(client);
}
