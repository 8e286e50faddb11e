// Koa 3 with @koa/router: http.route from the route the router matched.
//
// detect: the app loads `koa` (../../load.ts; Koa's ESM entry imports its CommonJS build, so ESM
//   and CommonJS apps load the same file; on Bun, when the app declares koa). Koa publishes no
//   diagnostics channel, and @koa/router ships separate ESM and CommonJS builds, so the router
//   itself is not patched: it keeps the matched route on Koa's context (`ctx._matchedRoute`, the
//   layer's path with every router prefix: '/users/:id/posts/:postId'), which Koa never links
//   back from the raw request.
// hook: `Application.prototype.createContext` is wrapped to keep each request's context on its
//   raw request (one property per request); a route reader (../routes.ts) takes the template
//   from it when the response ends. A RegExp route has no template and stays absent, as does a
//   request no route matched.
import { after } from '../../../core/patch.js';
import type { HookContext } from '../../context.js';
import { addRouteReader } from '../routes.js';

const kContext: unique symbol = Symbol('tapwire.koa.context');

type Request = { [kContext]?: { _matchedRoute?: unknown } };

function koaRoute(req: object): string | undefined {
  const route = (req as Request)[kContext]?._matchedRoute;
  return typeof route === 'string' ? route : undefined;
}

export function install(ctx: HookContext): void {
  const { guard, patches } = ctx;
  ctx.loads.on(
    'koa',
    (exports) => {
      const proto = (exports as { prototype?: object }).prototype;
      if (proto === undefined) return;
      patches.wrap(proto, 'createContext', (original) =>
        after(guard, original, (_self, args, context) => {
          const req = args[0];
          if (typeof req === 'object' && req !== null)
            (req as Request)[kContext] = context as Request[typeof kContext];
        }),
      );
    },
    guard,
  );
  patches.onRestore(addRouteReader(koaRoute));
}
