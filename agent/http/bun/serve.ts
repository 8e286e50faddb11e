// Inbound HTTP on Bun.serve.
//
// detect: `Bun.serve` exists (Bun publishes no `http.server.request.*` channel; measured on Bun
//   1.4.5, tests/bun-research.md).
// hook: the writable `Bun.serve` property is replaced. `import { serve } from 'bun'`,
//   `require('bun').serve` and the auto-serve of an entry point's `export default { fetch }` (also
//   under `--hot`) all read the property at call time, so a preload sees every call. The options
//   are never mutated: Bun gets `Object.create(options)` with own `fetch` / `routes` / `error`
//   wrappers (Bun reads options through the prototype chain, and calls handlers with
//   `this` = server, so inheritance changes nothing). `server.reload()` and `server.upgrade()`
//   are wrapped once per server prototype. Route handlers are wrapped per route at setup, which
//   gives http.route the template key ('/users/:id'); static routes (a Response value) are
//   answered natively by Bun without JS and are not measured. Bun's node:http server calls
//   Bun.serve itself (with `onNodeHTTPRequest` and no `fetch`): those options pass untouched and
//   ./node-http.ts measures them.
// record: the request ends when the handler's Response (or its promise) is available: that is time
//   to response headers; Bun offers no cheap signal for "body fully sent".
import { fail, type Guard } from '../../../core/guard.js';
import type { HttpRecorder } from '../../../core/http/recorder.js';
import { errorClass, serverErrorType } from '../../../core/http/semconv.js';
import type { ServerOp } from '../../../core/http/server.js';
import { type Fn, mark, originalOf, type Patches } from '../../../core/patch.js';
import type { HookContext } from '../../context.js';
import { appListens } from '../listen.js';
import { kRoute } from '../routes.js';
import { nodeHttpServerStarting } from './node-http.js';
import { PendingErrors } from './serve-errors.js';
import { type BunServer, bunGlobal, type Handler, NativeResponse, thenable } from './types.js';

const HTTP_METHODS = new Set([
  'GET',
  'HEAD',
  'POST',
  'PUT',
  'DELETE',
  'CONNECT',
  'OPTIONS',
  'TRACE',
  'PATCH',
]);

/** One per Bun.serve() / server.reload() options object. */
interface Serving {
  scheme: string;
  /** Requests whose handler threw, waiting for the app's `error` handler (when it has one). */
  errors: PendingErrors | undefined;
}

/** One per wrapped handler: the fallback `fetch` (route undefined) or one route's handler. */
interface Site {
  serving: Serving;
  route: string | undefined;
}

let http: HttpRecorder | undefined;
let guard: Guard | undefined;
let patches: Patches | undefined;
/** Requests that `server.upgrade()` accepted: their handler returns undefined, Bun answers 101. */
const upgraded = new WeakSet<object>();
const patchedProtos = new WeakSet<object>();

function end(op: ServerOp, status: number, route: string | undefined, errorType: string | undefined): void {
  try {
    op.end(status, route, errorType);
  } catch (error) {
    fail(guard!, error);
  }
}

/** A template a framework stored on the Request itself (Hono, ../frameworks/hono.ts). */
function requestRoute(req: unknown): string | undefined {
  return typeof req === 'object' && req !== null ? (req as { [kRoute]?: string })[kRoute] : undefined;
}

/** A handler's final (non-promise) value: a Response, or undefined after a successful upgrade. */
function settled(site: Site, op: ServerOp, req: unknown, value: unknown): void {
  let status = 0;
  let errorType: string | undefined = '_OTHER';
  if (value instanceof NativeResponse) {
    status = value.status;
    errorType = serverErrorType(status, true);
  } else if (typeof req === 'object' && req !== null && upgraded.has(req)) {
    status = 101;
    errorType = undefined;
  }
  // Otherwise not a Response: Bun logs "Expected a Response object" and answers on its own.
  end(op, status, site.route ?? requestRoute(req), errorType);
}

/** The handler threw or rejected with `error` (rethrown unchanged by the caller). */
function threw(site: Site, op: ServerOp, error: unknown): void {
  const errorType = errorClass(error);
  const errors = site.serving.errors;
  if (errors === undefined) end(op, 500, site.route, errorType);
  else errors.add(error, op, site.route, errorType);
}

async function settleLater(site: Site, op: ServerOp, req: unknown, promise: PromiseLike<unknown>) {
  let value: unknown;
  try {
    value = await promise;
  } catch (error) {
    threw(site, op, error);
    throw error;
  }
  settled(site, op, req, value);
  return value;
}

/**
 * One request through a wrapped handler. Bun calls handlers as handler.call(server, request,
 * server); they get the same two arguments here, passed on without an `arguments` object or a
 * Reflect.apply (the request path of every Bun.serve app), unless the span or the AI attribution
 * needs the handler run inside it (ServerOp.run).
 */
function handle(site: Site, handler: Handler, self: unknown, req: unknown, server: unknown): unknown {
  let op: ServerOp;
  try {
    op = http!.server(req as Request, site.serving.scheme);
  } catch (error) {
    fail(guard!, error);
    return handler.call(self, req, server);
  }
  let result: unknown;
  try {
    result =
      op.context === undefined && op.attrs === undefined
        ? handler.call(self, req, server)
        : op.run(handler as Fn, self, [req, server]);
  } catch (error) {
    threw(site, op, error);
    throw error;
  }
  if (thenable(result)) return settleLater(site, op, req, result);
  settled(site, op, req, result);
  return result;
}

function wrapHandler(site: Site, handler: Handler): Handler {
  const g = guard!;
  return mark(
    function (this: unknown, req: unknown, server: unknown): unknown {
      // Bun passes two; any other call is passed on as it came, unmeasured.
      // biome-ignore lint/complexity/noArguments: the count of the caller's arguments, without a rest array per call
      if (!g.enabled || arguments.length !== 2) return Reflect.apply(handler, this, arguments);
      return handle(site, handler, this, req, server);
    } as Handler,
    handler as Fn,
  );
}

/** `{ GET: fn, POST: fn }`: a plain object whose keys are all HTTP methods. */
function isMethodTable(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return false;
  const keys = Object.keys(value);
  if (keys.length === 0) return false;
  for (const k of keys) if (!HTTP_METHODS.has(k)) return false;
  return true;
}

function asHandler(value: unknown): Handler | undefined {
  // A handler tapwire wrapped already (options passed to Bun.serve twice) stays as it is.
  return typeof value === 'function' && originalOf(value) === undefined ? (value as Handler) : undefined;
}

/** A copy of `routes` with every function handler wrapped, or undefined when there is none. */
function wrapRoutes(routes: Record<string, unknown>, serving: Serving): Record<string, unknown> | undefined {
  let changed = false;
  const out: Record<string, unknown> = {};
  for (const route of Object.keys(routes)) {
    const value = routes[route];
    const fn = asHandler(value);
    if (fn !== undefined) {
      out[route] = wrapHandler({ serving, route }, fn);
      changed = true;
    } else if (isMethodTable(value)) {
      const table: Record<string, unknown> = {};
      for (const method of Object.keys(value)) {
        const h = asHandler(value[method]);
        if (h !== undefined) changed = true;
        table[method] = h !== undefined ? wrapHandler({ serving, route }, h) : value[method];
      }
      out[route] = table;
    } else {
      out[route] = value; // static Response, Bun.file(), HTML import, false: served natively
    }
  }
  return changed ? out : undefined;
}

/** The options Bun should see: `options` itself when there is nothing to measure. */
function wrapOptions(options: unknown, serving: Serving): unknown {
  if (typeof options !== 'object' || options === null) return options;
  const o = options as Record<string, unknown>;
  if ('onNodeHTTPRequest' in o) {
    nodeHttpServerStarting();
    return options;
  }
  const fetch = asHandler(o['fetch']);
  const routes = o['routes'];
  const wrappedRoutes =
    typeof routes === 'object' && routes !== null
      ? wrapRoutes(routes as Record<string, unknown>, serving)
      : undefined;
  if (fetch === undefined && wrappedRoutes === undefined) return options;
  const out = Object.create(o) as Record<string, unknown>;
  if (fetch !== undefined) out['fetch'] = wrapHandler({ serving, route: undefined }, fetch);
  if (wrappedRoutes !== undefined) out['routes'] = wrappedRoutes;
  const error = asHandler(o['error']);
  if (error !== undefined) {
    serving.errors = new PendingErrors(guard!);
    out['error'] = serving.errors.wrap(error);
  }
  return out;
}

function schemeOf(server: BunServer): string | undefined {
  const p = server.protocol;
  return p === 'https' ? 'https' : p === 'http' ? 'http' : undefined;
}

/** Options wrapped for Bun, or the same options when the hook is off or fails. */
function measured(options: unknown, scheme: string): { options: unknown; serving: Serving | undefined } {
  if (!guard!.enabled) return { options, serving: undefined };
  try {
    const serving: Serving = { scheme, errors: undefined };
    return { options: wrapOptions(options, serving), serving };
  } catch (error) {
    fail(guard!, error);
    return { options, serving: undefined };
  }
}

/** Wraps `reload` and `upgrade` once per server class (development/production/TLS differ). */
function patchPrototype(server: BunServer): void {
  const proto = Object.getPrototypeOf(server) as BunServer | null;
  if (proto === null || patchedProtos.has(proto)) return;
  patchedProtos.add(proto);
  patches!.wrap(proto, 'reload', (reload) =>
    mark(function reloadMeasured(this: BunServer, options: unknown, ...rest: unknown[]): unknown {
      const { options: opts } = measured(options, schemeOf(this) ?? 'http');
      return Reflect.apply(reload, this, [opts, ...rest]);
    }, reload),
  );
  patches!.wrap(proto, 'upgrade', (upgrade) =>
    mark(function upgradeMeasured(this: BunServer, req: Request, ...rest: unknown[]): boolean {
      const ok = Reflect.apply(upgrade, this, [req, ...rest]) as boolean;
      if (ok === true && typeof req === 'object' && req !== null) upgraded.add(req);
      return ok;
    }, upgrade),
  );
}

/** The port Bun.serve will bind: options.port, else Bun's defaults (BUN_PORT, PORT, NODE_PORT, 3000). */
function servePort(options: unknown): unknown {
  const port = (options as { port?: unknown; unix?: unknown } | null)?.port;
  if (port !== undefined || (options as { unix?: unknown } | null)?.unix !== undefined) return port;
  const env = process.env;
  return env.BUN_PORT ?? env.PORT ?? env.NODE_PORT ?? 3000;
}

function wrapServe(original: Fn): Fn {
  return mark(function serve(this: unknown, options: unknown, ...rest: unknown[]): BunServer {
    const tls = (options as { tls?: unknown } | null)?.tls;
    try {
      appListens(servePort(options));
    } catch (error) {
      fail(guard!, error);
    }
    const m = measured(options, tls ? 'https' : 'http');
    // Bun's own errors (bad options, port in use) reach the app unchanged.
    const server = Reflect.apply(original, this, [m.options, ...rest]) as BunServer;
    if (m.options === options || m.serving === undefined) return server;
    try {
      const scheme = schemeOf(server);
      if (scheme !== undefined) m.serving.scheme = scheme;
      patchPrototype(server);
    } catch (error) {
      fail(guard!, error);
    }
    return server;
  }, original);
}

export function install(ctx: HookContext): void {
  const bun = bunGlobal();
  if (bun === undefined) return;
  http = ctx.http;
  guard = ctx.guard;
  patches = ctx.patches;
  ctx.patches.onRestore(() => {
    http = undefined;
    patches = undefined;
  });
  // Bun 1.4.5: a writable, non-configurable data property of the Bun object.
  ctx.patches.wrap(bun, 'serve', wrapServe);
}
