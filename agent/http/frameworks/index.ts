// Route templates (http.route) from web frameworks, one file per framework, each the same shape:
// detect -> hook -> record (a setRoute() on the raw Node request, read by ../routes.ts routeOf()
// when the response ends). Every hook is a diagnostics-channel subscription the framework itself
// publishes, so ESM and CommonJS apps work alike with no module patching and no loader hook.
//
// Hono has no hook here. Hono (4.13) publishes nothing, and the matched route lives only in
// state private to one request: `Hono#dispatch` passes `router.match()`'s result into
// `new Context(...)` (private `#matchResult`), and `c.req.routePath` reads it from there. None of
// it is reachable without patching Hono's ESM module: `app.fetch` is an arrow function captured by
// @hono/node-server's request listener (the Hono instance, its router and Context are not
// reachable from the server, the IncomingMessage or the Request/Response objects), Hono writes
// nothing back to the request or to the `{ incoming, outgoing }` env, and `Context.prototype` or
// the router's prototype are reachable only from an instance the agent never sees. So Hono
// requests carry no http_route (never the raw path) until Hono publishes a channel or the app
// opts in with code.
import { installExpress } from './express.js';
import { installFastify } from './fastify.js';

export function installFrameworkRoutes(): void {
  installExpress();
  installFastify();
}
