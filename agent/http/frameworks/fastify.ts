// Fastify 5: http.route from the framework's own diagnostics channel.
//
// detect: nothing to load. Fastify publishes the TracingChannel `fastify.request.handler` around
//   each route handler (lib/handle-request.js) with `{ request, reply, route: { url, method } }`;
//   `route.url` is the template the route was declared with, plugin prefix included
//   ('/api/users/:id'). Its 404 handler is not published, so an unmatched request has no route.
//   Subscribing costs nothing until Fastify publishes.
// hook: `tracing:fastify.request.handler:start` (after onRequest/preHandler hooks, before the
//   handler; a request answered by a hook never reaches a handler and has no route).
//   Bun (1.4) implements TracingChannel without its `hasSubscribers` getter, and Fastify publishes
//   only when `hasSubscribers` is true, so under Bun it never would: the getter is defined on Bun's
//   TracingChannel prototype exactly as Node defines it, only where it is missing — once the
//   channels are open (core/channels.ts: on Bun when Fastify, or anything, first takes
//   node:diagnostics_channel).
// record: the template on the raw Node request (`request.raw`), read at the response's end.
import { fail } from '../../../core/guard.js';
import type { HookContext } from '../../context.js';
import { setRoute } from '../routes.js';

interface StartMessage {
  request: { raw: object };
  route: { url: unknown };
}

interface TracingChannelLike {
  start: { hasSubscribers: boolean };
  end: { hasSubscribers: boolean };
  asyncStart: { hasSubscribers: boolean };
  asyncEnd: { hasSubscribers: boolean };
  error: { hasSubscribers: boolean };
}

/** Node's TracingChannel#hasSubscribers (lib/diagnostics_channel.js), for runtimes without it. */
function hasSubscribers(this: TracingChannelLike): boolean {
  return (
    this.start.hasSubscribers ||
    this.end.hasSubscribers ||
    this.asyncStart.hasSubscribers ||
    this.asyncEnd.hasSubscribers ||
    this.error.hasSubscribers
  );
}

export function install(ctx: HookContext): void {
  let installing = true;
  ctx.channels.whenOpen((dc) => {
    try {
      const proto = Object.getPrototypeOf(dc.tracingChannel('tapwire.probe')) as object;
      if (!('hasSubscribers' in proto)) ctx.patches.defineGetter(proto, 'hasSubscribers', hasSubscribers);
    } catch (error) {
      // During the install, the install fails (its part taken back); later, the hook goes off.
      if (installing) throw error;
      fail(ctx.guard, error);
    }
  });
  ctx.on('fastifyHandlerStart', (message) => {
    const { request, route } = message as StartMessage;
    if (typeof route.url === 'string') setRoute(request.raw, route.url);
  });
  installing = false;
}
