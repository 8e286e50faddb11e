// Inbound HTTP on Node.
//
// detect: nothing to load. The `http.server.request.start` diagnostics channel fires for every
//   node:http / node:https server, whether the app is ESM or CommonJS and whichever framework sits
//   on top, with no module patching (Bun does not publish it: ./bun/node-http.ts).
// hook: the channel. It is published synchronously just before `server.emit('request')`, so the
//   handler (and all it awaits) runs inside the operation's trace context.
// record: the request ends at the response's 'close' event, which fires both after a complete
//   response and when the connection drops first (then error.type=aborted).
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { fail } from '../../core/guard.js';
import { serverErrorType } from '../../core/http/semconv.js';
import { internalServers, type ServerOp } from '../../core/http/server.js';
import { kOperation } from '../../core/operation.js';
import type { HookContext } from '../context.js';
import { routeOf } from './routes.js';

type Req = IncomingMessage & { [kOperation]?: ServerOp };

interface StartMessage {
  request: Req;
  response: ServerResponse;
  server: Server;
}

export function install(ctx: HookContext): void {
  const { http, guard } = ctx;

  function onClose(this: ServerResponse): void {
    const req = this.req as Req;
    const op = req[kOperation];
    if (op === undefined) return;
    req[kOperation] = undefined;
    try {
      const status = this.headersSent ? this.statusCode : 0;
      op.end(status, routeOf(req, status), serverErrorType(status, this.writableFinished));
    } catch (error) {
      fail(guard, error);
    }
  }

  ctx.on('httpServerRequestStart', (message) => {
    const { request, response, server } = message as StartMessage;
    if (internalServers.has(server)) return;
    const op = http.server(request, (request.socket as TLSSocket).encrypted ? 'https' : 'http');
    request[kOperation] = op;
    // `on`, not `once`: 'close' fires once per response, and `once` allocates a wrapper per call.
    response.on('close', onClose);
    op.enter();
  });
}
