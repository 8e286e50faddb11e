// Route templates (http.route) from web frameworks, one file per framework, each the same shape:
// detect -> hook -> record (a setRoute() on the raw Node request, read by ../routes.ts routeOf()
// when the response ends). Express and Fastify publish diagnostics channels, so their hooks are
// subscriptions: ESM and CommonJS apps work alike with no module patching and no loader hook.
//
// Hono publishes nothing, so its hook (./hono.ts) is the exception: a guarded one-call rewrite of
// its dispatcher at module load (Node: module.registerHooks; Bun: a runtime plugin). It must be
// installed before the app loads Hono: register.ts awaits start(), and Node and Bun both wait for
// a preload's top-level await before loading the app.
import { installExpress } from './express.js';
import { installFastify } from './fastify.js';
import { installHono } from './hono.js';

export function installFrameworkRoutes(): void {
  installExpress();
  installFastify();
  installHono();
}
