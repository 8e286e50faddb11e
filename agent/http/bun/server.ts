// Inbound HTTP on Bun. Two hooks, because Bun has two server front ends and neither publishes the
// `http.server.request.*` diagnostics channels (measured on Bun 1.4.5, tests/bun-research.md):
//
// - installBunServe: replaces the writable `Bun.serve` property. `import { serve } from 'bun'`,
//   `require('bun').serve` and the auto-serve of an entry point's `export default { fetch }` (also
//   under `--hot`) all read the property at call time, so a preload sees every call. The options
//   are never mutated: Bun gets `Object.create(options)` with own `fetch` / `routes` / `error`
//   wrappers (Bun reads options through the prototype chain, and calls handlers with
//   `this` = server, so inheritance changes nothing). `server.reload()` and `server.upgrade()`
//   are wrapped once per server prototype. Route handlers are wrapped per route at setup, which
//   gives http.route the template key ('/users/:id'); static routes (a Response value) are
//   answered natively by Bun without JS and are not measured.
//   The request ends when the handler's Response (or its promise) is available: that is time to
//   response headers; Bun offers no cheap signal for "body fully sent".
// - installBunNodeHttpServer: Bun's node:http server calls `Bun.serve` itself (with
//   `onNodeHTTPRequest` and no `fetch`, which installBunServe passes through untouched), then
//   emits 'request' through `this.emit`; patching `http.Server.prototype.emit` (https.Server
//   inherits from it) sees both ESM and CommonJS apps. The request ends at the response's
//   'close' event, which Bun fires after a complete response and when the client goes away first.
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { fail, hook } from '../../safe.js';
import { internalServers } from '../node-server.js';
import { kRoute, routeOf } from '../routes.js';
import { errorClass, serverErrorType } from '../semconv.js';
import { type BunServe, type BunServer, bunGlobal, type ServerRecorder } from './types.js';

// The runtime's own Response, taken when the preload loads: @hono/node-server (and others)
// replace globalThis.Response with their own class later, and Bun.serve and fetch deal in the
// native one.
const NativeResponse: typeof Response = globalThis.Response;

/** Marks tapwire's wrappers (shared across copies of the agent, so a second copy is a no-op). */
const kWrapped: unique symbol = Symbol.for('tapwire.bun.wrapped') as never;
type Marked = { [kWrapped]?: true };

/** Token standing for "not measured" (hook disabled, or start() failed): end() is skipped. */
const NONE: unique symbol = Symbol('tapwire.none');

/**
 * Tracing (agent/trace/bun.ts), set once at start-up only when tracing is on; while it is
 * undefined the hooks below do no tracing work. It wraps the recorder's token, so the span
 * travels with the request through the same start/end paths as the metrics. Must not throw.
 */
export interface BunServerTracing {
  /** Starts the SERVER span of `req` (a Fetch Request or an IncomingMessage); returns a token wrapping `token`. */
  start(token: unknown, req: unknown, scheme: string): unknown;
  /** Calls fn with the span of `token` active (a plain call for a token start() did not make). */
  run(token: unknown, fn: Handler, thisArg: unknown, args: ArrayLike<unknown>): unknown;
  /** Ends the span of `token`; returns the recorder's own token. */
  end(token: unknown, status: number, route: string | undefined, errorType: string | undefined): unknown;
}

let tracing: BunServerTracing | undefined;

export function setBunServerTracing(t: BunServerTracing): void {
  tracing = t;
}

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

// ---------------------------------------------------------------------------------------------
// Bun.serve

const hs = hook('http.server (Bun.serve)');
let serveRec: ServerRecorder | undefined;

type Handler = (this: unknown, ...args: unknown[]) => unknown;

interface Pending {
  token: unknown;
  route: string | undefined;
  errorType: string;
}

/** One per Bun.serve() / server.reload() options object. */
interface Config {
  scheme: string;
  /** Requests whose handler threw, waiting for the app's `error` handler to produce the response. */
  pending: Map<unknown, Pending> | undefined;
}

/** One per wrapped handler: the fallback `fetch` (route undefined) or one route's handler. */
interface Site {
  cfg: Config;
  route: string | undefined;
  handler: Handler;
}

/** Requests that `server.upgrade()` accepted: their handler returns undefined, Bun answers 101. */
const upgraded = new WeakSet<object>();
const patchedProtos = new WeakSet<object>();
const MAX_PENDING = 256;

function begin(req: unknown, cfg: Config): unknown {
  if (!hs.enabled || serveRec === undefined) return NONE;
  try {
    const token = serveRec.start((req as Request).method, cfg.scheme);
    return tracing === undefined ? token : tracing.start(token, req, cfg.scheme);
  } catch (error) {
    fail(hs, error);
    return NONE;
  }
}

function finish(
  token: unknown,
  status: number,
  route: string | undefined,
  errorType: string | undefined,
): void {
  if (token === NONE || serveRec === undefined) return;
  try {
    const t = tracing === undefined ? token : tracing.end(token, status, route, errorType);
    serveRec.end(t, status, route, errorType);
  } catch (error) {
    fail(hs, error);
  }
}

function thenable(value: unknown): value is PromiseLike<unknown> {
  if (value instanceof Promise) return true;
  if (value instanceof NativeResponse || value === undefined) return false;
  try {
    return (
      value !== null &&
      (typeof value === 'object' || typeof value === 'function') &&
      typeof (value as { then?: unknown }).then === 'function'
    );
  } catch (error) {
    fail(hs, error);
    return false;
  }
}

/** A handler's final (non-promise) value: a Response, or undefined after a successful upgrade. */
function settled(site: Site, token: unknown, req: unknown, value: unknown): void {
  let status = 0;
  let errorType: string | undefined = '_OTHER';
  try {
    if (value instanceof NativeResponse) {
      status = value.status;
      errorType = serverErrorType(status, true);
    } else if (typeof req === 'object' && req !== null && upgraded.has(req)) {
      status = 101;
      errorType = undefined;
    }
    // Otherwise not a Response: Bun logs "Expected a Response object" and answers on its own.
  } catch (error) {
    fail(hs, error);
  }
  finish(token, status, site.route ?? requestRoute(req), errorType);
}

/** A template a framework stored on the Request itself (Hono, ../frameworks/hono.ts). */
function requestRoute(req: unknown): string | undefined {
  return typeof req === 'object' && req !== null ? (req as { [kRoute]?: string })[kRoute] : undefined;
}

/** The handler threw or rejected with `error` (rethrown unchanged by the caller). */
function threw(site: Site, token: unknown, error: unknown): void {
  if (token === NONE) return;
  try {
    const errorType = errorClass(error);
    const pending = site.cfg.pending;
    // Without an app `error` handler Bun answers 500 (an error page in development).
    if (pending === undefined) {
      finish(token, 500, site.route, errorType);
      return;
    }
    // Otherwise Bun passes this same value to the app's error handler, which decides the status.
    if (pending.size >= MAX_PENDING) flushPending(pending);
    const previous = pending.get(error);
    if (previous !== undefined) finish(previous.token, 500, previous.route, previous.errorType);
    pending.set(error, { token, route: site.route, errorType });
  } catch (e) {
    fail(hs, e);
    finish(token, 500, site.route, '_OTHER');
  }
}

function flushPending(pending: Map<unknown, Pending>): void {
  for (const p of pending.values()) finish(p.token, 500, p.route, p.errorType);
  pending.clear();
}

async function settleLater(site: Site, token: unknown, req: unknown, promise: PromiseLike<unknown>) {
  let value: unknown;
  try {
    value = await promise;
  } catch (error) {
    threw(site, token, error);
    throw error;
  }
  settled(site, token, req, value);
  return value;
}

function wrapHandler(site: Site): Handler {
  // Bun calls handlers as handler.call(server, request, server): exactly two arguments.
  const wrapped = function tapwireBunHandler(this: unknown, req: unknown, server: unknown): unknown {
    const token = begin(req, site.cfg);
    if (token === NONE) return site.handler.call(this, req, server);
    let result: unknown;
    try {
      result =
        tracing === undefined
          ? site.handler.call(this, req, server)
          : // biome-ignore lint/complexity/noArguments: the handler's exact arguments, no array
            tracing.run(token, site.handler, this, arguments);
    } catch (error) {
      threw(site, token, error);
      throw error;
    }
    if (thenable(result)) return settleLater(site, token, req, result);
    settled(site, token, req, result);
    return result;
  };
  (wrapped as Marked)[kWrapped] = true;
  return wrapped;
}

function errorSettled(p: Pending, value: unknown): void {
  // A non-Response from the error handler makes Bun fall back to its own 500.
  finish(p.token, value instanceof NativeResponse ? value.status : 500, p.route, p.errorType);
}

async function errorSettleLater(p: Pending, promise: PromiseLike<unknown>) {
  let value: unknown;
  try {
    value = await promise;
  } catch (error) {
    finish(p.token, 500, p.route, p.errorType);
    throw error;
  }
  errorSettled(p, value);
  return value;
}

function wrapErrorHandler(cfg: Config, handler: Handler): Handler {
  const wrapped = function tapwireBunError(this: unknown, error: unknown): unknown {
    let p: Pending | undefined;
    try {
      p = cfg.pending?.get(error);
      if (p !== undefined) cfg.pending!.delete(error);
    } catch (e) {
      fail(hs, e);
    }
    if (p === undefined) return handler.call(this, error);
    let result: unknown;
    try {
      result =
        tracing === undefined
          ? handler.call(this, error)
          : // biome-ignore lint/complexity/noArguments: the handler's exact arguments, no array
            tracing.run(p.token, handler, this, arguments);
    } catch (e) {
      finish(p.token, 500, p.route, p.errorType);
      throw e;
    }
    if (thenable(result)) return errorSettleLater(p, result);
    errorSettled(p, result);
    return result;
  };
  (wrapped as Marked)[kWrapped] = true;
  return wrapped;
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
  return typeof value === 'function' && (value as Marked)[kWrapped] !== true ? (value as Handler) : undefined;
}

/** A copy of `routes` with every function handler wrapped, or undefined when there is none. */
function wrapRoutes(routes: Record<string, unknown>, cfg: Config): Record<string, unknown> | undefined {
  let changed = false;
  const out: Record<string, unknown> = {};
  for (const route of Object.keys(routes)) {
    const value = routes[route];
    const fn = asHandler(value);
    if (fn !== undefined) {
      out[route] = wrapHandler({ cfg, route, handler: fn });
      changed = true;
    } else if (isMethodTable(value)) {
      const table: Record<string, unknown> = {};
      for (const method of Object.keys(value)) {
        const h = asHandler(value[method]);
        if (h !== undefined) changed = true;
        table[method] = h !== undefined ? wrapHandler({ cfg, route, handler: h }) : value[method];
      }
      out[route] = table;
    } else {
      out[route] = value; // static Response, Bun.file(), HTML import, false: served natively
    }
  }
  return changed ? out : undefined;
}

/** The options Bun should see: `options` itself when there is nothing to measure. */
function wrapOptions(options: unknown, cfg: Config): unknown {
  if (typeof options !== 'object' || options === null) return options;
  const o = options as Record<string, unknown>;
  // node:http's server runs on Bun.serve with this private callback; installBunNodeHttpServer
  // measures it, patching node:http now that the app has loaded it (see patchNodeHttp).
  if ('onNodeHTTPRequest' in o) {
    patchNodeHttp();
    return options;
  }
  const fetch = asHandler(o['fetch']);
  const routes = o['routes'];
  const wrappedRoutes =
    typeof routes === 'object' && routes !== null
      ? wrapRoutes(routes as Record<string, unknown>, cfg)
      : undefined;
  if (fetch === undefined && wrappedRoutes === undefined) return options;
  const out = Object.create(o) as Record<string, unknown>;
  if (fetch !== undefined) out['fetch'] = wrapHandler({ cfg, route: undefined, handler: fetch });
  if (wrappedRoutes !== undefined) out['routes'] = wrappedRoutes;
  const error = asHandler(o['error']);
  if (error !== undefined) {
    cfg.pending = new Map();
    out['error'] = wrapErrorHandler(cfg, error);
  }
  return out;
}

function schemeOf(server: BunServer): string | undefined {
  const p = server.protocol;
  return p === 'https' ? 'https' : p === 'http' ? 'http' : undefined;
}

/** Wrap `reload` and `upgrade` once per server class (development/production/TLS differ). */
function patchPrototype(server: BunServer): void {
  const proto = Object.getPrototypeOf(server) as BunServer | null;
  if (proto === null || patchedProtos.has(proto)) return;
  patchedProtos.add(proto);

  const reload = proto.reload;
  if (typeof reload === 'function' && (reload as Marked)[kWrapped] !== true) {
    const wrappedReload = function reload(this: BunServer, options: unknown, ...rest: unknown[]): unknown {
      let opts = options;
      if (hs.enabled && serveRec !== undefined) {
        try {
          const cfg: Config = { scheme: schemeOf(this) ?? 'http', pending: undefined };
          opts = wrapOptions(options, cfg);
        } catch (error) {
          fail(hs, error);
          opts = options;
        }
      }
      return Reflect.apply(reloadFn, this, [opts, ...rest]);
    };
    const reloadFn = reload;
    (wrappedReload as Marked)[kWrapped] = true;
    proto.reload = wrappedReload;
  }

  const upgrade = proto.upgrade;
  if (typeof upgrade === 'function' && (upgrade as Marked)[kWrapped] !== true) {
    const wrappedUpgrade = function upgrade(this: BunServer, req: Request, ...rest: unknown[]): boolean {
      const ok = Reflect.apply(upgradeFn, this, [req, ...rest]) as boolean;
      if (ok === true && typeof req === 'object' && req !== null) {
        try {
          upgraded.add(req);
        } catch (error) {
          fail(hs, error);
        }
      }
      return ok;
    };
    const upgradeFn = upgrade;
    (wrappedUpgrade as Marked)[kWrapped] = true;
    proto.upgrade = wrappedUpgrade;
  }
}

function wrapServe(original: BunServe): BunServe {
  const serve = function serve(this: unknown, options: unknown, ...rest: unknown[]): BunServer {
    let opts = options;
    let cfg: Config | undefined;
    if (hs.enabled && serveRec !== undefined) {
      try {
        const tls = (options as { tls?: unknown } | null)?.tls;
        cfg = { scheme: tls ? 'https' : 'http', pending: undefined };
        opts = wrapOptions(options, cfg);
      } catch (error) {
        fail(hs, error);
        opts = options;
      }
    }
    // Bun's own errors (bad options, port in use) reach the app unchanged.
    const server = Reflect.apply(original, this, [opts, ...rest]) as BunServer;
    if (opts === options) return server;
    try {
      const scheme = schemeOf(server);
      if (cfg !== undefined && scheme !== undefined) cfg.scheme = scheme;
      patchPrototype(server);
    } catch (error) {
      fail(hs, error);
    }
    return server;
  };
  (serve as Marked)[kWrapped] = true;
  return serve as BunServe;
}

export function installBunServe(rec: ServerRecorder): boolean {
  if (serveRec !== undefined) return false;
  const bun = bunGlobal();
  if (bun === undefined) return false;
  try {
    const original = bun.serve;
    if (typeof original !== 'function' || (original as Marked)[kWrapped] === true) return false;
    const wrapped = wrapServe(original);
    serveRec = rec;
    // Bun 1.4.5: a writable, non-configurable data property of the Bun object.
    bun.serve = wrapped;
    if (bun.serve !== wrapped) {
      Object.defineProperty(bun, 'serve', { value: wrapped });
      if (bun.serve !== wrapped) {
        serveRec = undefined;
        return false;
      }
    }
    return true;
  } catch (error) {
    serveRec = undefined;
    fail(hs, error);
    return false;
  }
}

// ---------------------------------------------------------------------------------------------
// node:http servers under Bun

const hn = hook('http.server (bun node:http)');
let nodeRec: ServerRecorder | undefined;
const kToken: unique symbol = Symbol('tapwire.bun.http.token');
/** Stored when the recorder's token is itself undefined (undefined in kToken means "not measured"). */
const UNDEFINED_TOKEN: unique symbol = Symbol('tapwire.undefined');
type Res = ServerResponse & { [kToken]?: unknown };
const schemes = new WeakMap<object, string>();

function onRequest(server: unknown, req: IncomingMessage, res: Res): void {
  if (nodeRec === undefined || internalServers.has(server as Server)) return;
  try {
    if (res[kToken] !== undefined) return; // already measured
    // One scheme per server: read once, not through `req.socket` on every request (Bun builds
    // the socket object lazily).
    let scheme = schemes.get(server as object);
    if (scheme === undefined) {
      scheme = (req.socket as TLSSocket | null)?.encrypted === true ? 'https' : 'http';
      schemes.set(server as object, scheme);
    }
    const token = nodeRec.start(req.method ?? 'GET', scheme);
    res[kToken] = (tracing === undefined ? token : tracing.start(token, req, scheme)) ?? UNDEFINED_TOKEN;
    // `on`, not `once`: 'close' fires once per response, and `once` allocates a wrapper per call.
    res.on('close', onClose);
  } catch (error) {
    fail(hn, error);
  }
}

function onClose(this: Res): void {
  const token = this[kToken];
  if (token === undefined || nodeRec === undefined) return;
  try {
    this[kToken] = undefined;
    const status = this.headersSent ? this.statusCode : 0;
    const errorType = serverErrorType(status, this.writableFinished);
    const route = routeOf(this.req);
    const t = tracing === undefined ? token : tracing.end(token, status, route, errorType);
    nodeRec.end(t === UNDEFINED_TOKEN ? undefined : t, status, route, errorType);
  } catch (error) {
    fail(hn, error);
  }
}

/**
 * Records node:http requests under Bun. The patch itself waits until the app starts a node:http
 * server (Bun's node:http listens through Bun.serve, which wrapOptions sees): loading node:http
 * costs ~13 ms on Bun, which an app that only uses Bun.serve should not pay.
 */
export function installBunNodeHttpServer(rec: ServerRecorder): boolean {
  // On Node the diagnostics channel (../node-server.ts) already sees these requests.
  if (nodeRec !== undefined || bunGlobal() === undefined) return false;
  nodeRec = rec;
  return true;
}

let nodeHttpPatched = false;

function patchNodeHttp(): void {
  if (nodeHttpPatched || nodeRec === undefined || !hn.enabled) return;
  nodeHttpPatched = true;
  try {
    const { Server } = process.getBuiltinModule('node:http') as typeof import('node:http');
    const proto = Server.prototype as unknown as { emit: Handler };
    const original = proto.emit;
    if (typeof original !== 'function' || (original as Marked)[kWrapped] === true) return;
    const emit = function emit(this: unknown, event: unknown, req?: unknown, res?: unknown): unknown {
      if (event === 'request' && hn.enabled) {
        onRequest(this, req as IncomingMessage, res as Res);
        // The 'request' listeners (the app) run inside the request's span.
        // biome-ignore lint/complexity/noArguments: see below
        if (tracing !== undefined) return tracing.run((res as Res)[kToken], original, this, arguments);
      }
      // `arguments` keeps every emit's exact arity without a rest array per call.
      // biome-ignore lint/complexity/noArguments: see above
      return Reflect.apply(original, this, arguments);
    };
    (emit as Marked)[kWrapped] = true;
    proto.emit = emit;
  } catch (error) {
    fail(hn, error);
  }
}
