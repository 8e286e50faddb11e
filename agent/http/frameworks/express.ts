// Express 5: http.route from the router's own matching.
//
// detect: the app loads express or router (../../load.ts; on Bun, when the app declares express or
//   router). `router` >= 2.3 (Express 5's router) keeps, on each request, the pattern that matched at
//   the current router level (`req[matchedRoute]`, a symbol of its lib/symbols.js:
//   '/users/:id/posts' for `app.use('/users/:id/posts', router)`, '/:postId' for
//   `router.get('/:postId')` inside it). An older router has none; a route reader (../routes.ts)
//   then falls back to `req.route` (top-level routes only, see expressFallbackRoute).
// hook: `Layer.prototype.handleRequest` of that router copy, wrapped to read the layer and the
//   pattern before the layer runs — the same moments the router's `express.router.request`
//   TracingChannel publishes. The channel itself is not subscribed: with a subscriber, router 2.3
//   takes its traced path and hands middleware a wrapped `next` that is not `req.next`, which
//   changed what apps do (express's own res.format tests fail under a no-op subscriber).
// record: the template is the chain of patterns from the app's router down to the route's. The raw
//   prefix the chain matched (`req.baseUrl`, '/users/1/posts') is never used. A router level is
//   told apart by `req.next`: Router#handle sets it to its own `next` for as long as its stack
//   runs and restores the parent's on exit, so the first layer seen with a new `req.next` belongs
//   to the router the preceding `use` layer entered.
//   A route registered for every method (`all()`) that answers 404 is a not-found handler, not a
//   route the request matched: NestJS on Express registers its own that way (`router.all('*path')`
//   under the global prefix, `app.all(path)` on the paths excluded from it), as do apps
//   (`app.all('*path', notFound)`). Its template is kept aside and used only when the response
//   is not a 404 (expressRoute), so such requests carry no route, as Fastify's not-found handler's
//   do.
import { createRequire } from 'node:module';
import { fail, type Guard } from '../../../core/guard.js';
import { before } from '../../../core/patch.js';
import type { HookContext } from '../../context.js';
import { addRouteReader, setRoute } from '../routes.js';

/** Per-request chain of router levels: their `next` functions and template prefixes. */
export const kChain: unique symbol = Symbol('tapwire.express.chain');

// The prefix a `use` layer hands to a router it enters; NONE once another event consumed it.
const NONE = Symbol('none');

interface Chain {
  nexts: unknown[];
  /** Template prefix per level; undefined when a level was entered through a RegExp path. */
  bases: (string | undefined)[];
  pending: string | undefined | typeof NONE;
  /** The template of the `all()` route whose handler ran last, if no method route ran after it. */
  anyMethod: string | undefined;
}

interface Layer {
  route?: unknown;
  method?: unknown;
}

interface StartMessage {
  /** `route` is the Route whose handler this is (the router sets it before dispatching). */
  req: { next?: unknown; route?: unknown; [kChain]?: Chain };
  layer: Layer;
  route: unknown;
  param?: string;
}

/** The hook's guard while installed; the pure helpers below also run without one (tests). */
let guard: Guard | undefined;

// Joining strings per request is avoidable: a layer almost always sits under the same prefix, so
// each layer keeps its last (prefix, pattern) -> template.
interface Joined {
  base: string;
  pattern: string;
  value: string;
}
const joined = new WeakMap<object, Joined>();

function routeTemplate(base: string, pattern: string): string {
  if (base === '') return pattern;
  return pattern === '/' ? base : base + pattern;
}

function mountTemplate(base: string, pattern: string): string {
  if (pattern === '/') return base;
  return base + (pattern.endsWith('/') ? pattern.replace(/\/+$/, '') : pattern);
}

function join(
  layer: object,
  base: string | undefined,
  pattern: unknown,
  how: (base: string, pattern: string) => string,
): string | undefined {
  // A RegExp (or anything but a string) has no template to show.
  if (base === undefined || typeof pattern !== 'string') return undefined;
  const last = joined.get(layer);
  if (last !== undefined && last.base === base && last.pattern === pattern) return last.value;
  const value = how(base, pattern);
  joined.set(layer, { base, pattern, value });
  return value;
}

// Whether a Route was registered for every method: `router.all()` marks it `_all`; Express'
// `app.all()` registers each of node:http's METHODS on it instead. Decided once per Route.
let lowerMethods: string[] | undefined;
const everyMethod = new WeakMap<object, boolean>();

function forEveryMethod(route: unknown): boolean {
  if (typeof route !== 'object' || route === null) return false;
  let every = everyMethod.get(route);
  if (every === undefined) {
    const methods = (route as { methods?: Record<string, unknown> }).methods;
    lowerMethods ??= (process.getBuiltinModule('node:http') as typeof import('node:http')).METHODS.map((m) =>
      m.toLowerCase(),
    );
    every =
      typeof methods === 'object' &&
      methods !== null &&
      (methods._all === true || lowerMethods.every((m) => methods[m] === true));
    everyMethod.set(route, every);
  }
  return every;
}

/** Runs behind the hook's guard (ctx.on). */
function onStart(message: unknown): void {
  const { req, layer, route, param } = message as StartMessage;
  const next = req.next;
  let chain = req[kChain];
  let base: string | undefined;
  if (chain === undefined) {
    // The first event of a request is always at the app's own router: a nested router is only
    // reached through a traced `use` layer (or a traced handler) of its parent.
    chain = { nexts: [next], bases: [''], pending: NONE, anyMethod: undefined };
    req[kChain] = chain;
    base = '';
  } else {
    const i = chain.nexts.lastIndexOf(next);
    if (i !== -1) {
      base = chain.bases[i];
    } else {
      base = chain.pending === NONE ? undefined : chain.pending;
      chain.nexts.push(next);
      chain.bases.push(base);
    }
    chain.pending = NONE;
  }
  if (param !== undefined) return; // a router.param() callback: no layer runs yet
  if ('method' in layer) {
    // A handler inside a Route (Route#<method>/all give their layers a `method`).
    const template = join(layer, base, route, routeTemplate);
    if (forEveryMethod(req.route)) {
      setRoute(req, undefined);
      chain.anyMethod = template;
    } else {
      setRoute(req, template);
      chain.anyMethod = undefined;
    }
  } else if (layer.route === undefined) {
    // A `use` layer: the router (or sub-app) it may enter sits under this prefix.
    chain.pending = join(layer, base, route, mountTemplate);
  }
}

interface ExpressRequest {
  route?: { path?: unknown } | null;
  /** Set by Express for every request it handles. */
  res?: { statusCode?: unknown };
  baseUrl?: unknown;
  app?: { router?: { stack?: { route?: unknown }[] } };
  [kChain]?: Chain;
}

/**
 * For routers that publish nothing (router < 2.3): `req.route.path` is the template only for a
 * route of the app's own router seen with an empty `baseUrl`. A route of a nested router or
 * sub-app gives its own pattern ('/:postId'), which would be a wrong label, so it stays absent.
 * An `all()` route that answered 404 has none either (see the header).
 */
export function expressFallbackRoute(req: object): string | undefined {
  if (guard !== undefined && !guard.enabled) return undefined;
  try {
    const r = req as ExpressRequest;
    const route = r.route;
    if (route === undefined || route === null || r[kChain] !== undefined || r.baseUrl !== '')
      return undefined;
    const path = route.path;
    if (typeof path !== 'string' || (r.res?.statusCode === 404 && forEveryMethod(route))) return undefined;
    const stack = r.app?.router?.stack;
    if (!Array.isArray(stack)) return undefined;
    for (let i = 0; i < stack.length; i++) if (stack[i]!.route === route) return path;
    return undefined;
  } catch (error) {
    if (guard !== undefined) fail(guard, error);
    return undefined;
  }
}

/**
 * The route of a request no method route stored one for: an `all()` route's unless the response
 * is a 404 (see the header), else, for routers that publish nothing, expressFallbackRoute.
 */
function expressRoute(req: object): string | undefined {
  const r = req as ExpressRequest;
  const chain = r[kChain];
  if (chain === undefined) return expressFallbackRoute(req);
  if (guard !== undefined && !guard.enabled) return undefined;
  const template = chain.anyMethod;
  return template !== undefined && r.res?.statusCode !== 404 ? template : undefined;
}

interface RouterLayer {
  handle?: { length?: number };
  route?: unknown;
}

export function install(ctx: HookContext): void {
  guard = ctx.guard;
  const g = ctx.guard;
  const patched = new WeakSet<object>();
  /** Wraps Layer#handleRequest of the router copy `require` resolves from (once per copy). */
  const hookRouter = (require: NodeJS.Require) => {
    let Layer: { prototype?: object };
    let symbols: { matchedRoute?: unknown };
    try {
      Layer = require('./lib/layer.js');
      symbols = require('./lib/symbols.js');
    } catch {
      return; // router < 2.3 keeps no matched pattern: the req.route fallback serves it
    }
    const matched = symbols.matchedRoute;
    const proto = Layer.prototype;
    if (typeof matched !== 'symbol' || proto === undefined || patched.has(proto)) return;
    patched.add(proto);
    ctx.patches.wrap(proto, 'handleRequest', (original) =>
      before(g, original, (self, args) => {
        const layer = self as RouterLayer;
        // As the router's own tracing: not a route's dispatch layer, not an error handler.
        if (layer.route || (layer.handle?.length ?? 0) > 3) return;
        const req = args[0] as StartMessage['req'] & Record<symbol, unknown>;
        if (typeof req !== 'object' || req === null) return;
        onStart({ req, layer: layer as Layer, route: req[matched] });
      }),
    );
  };
  ctx.loads.on('router', (_exports, file) => hookRouter(createRequire(file)), g);
  // Express requires its router from its own folder; on Bun only a declared package is seen.
  ctx.loads.on(
    'express',
    (_exports, file) => {
      const fromExpress = createRequire(file);
      hookRouter(createRequire(fromExpress.resolve('router/package.json')));
    },
    g,
  );
  ctx.patches.onRestore(addRouteReader(expressRoute));
  ctx.patches.onRestore(() => {
    guard = undefined;
  });
}
