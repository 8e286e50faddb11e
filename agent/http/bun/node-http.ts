// Inbound HTTP on node:http servers under Bun (Node publishes a channel for these:
// ../node-server.ts).
//
// detect: Bun's node:http server listens through Bun.serve with a private `onNodeHTTPRequest`
//   callback, which ./serve.ts sees and reports here (nodeHttpServerStarting). Loading node:http
//   costs ~13 ms on Bun, which an app that only uses Bun.serve should not pay, so nothing happens
//   before the app starts a node:http server.
// hook: `http.Server.prototype.emit` (https.Server inherits it): Bun emits 'request' through
//   `this.emit`, for ESM and CommonJS apps alike. The app's 'request' listeners run inside the
//   request's span when tracing is on.
// record: the request ends at the response's 'close' event, which Bun fires after a complete
//   response and when the client goes away first.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { fail, type Guard } from '../../../core/guard.js';
import type { HttpRecorder } from '../../../core/http/recorder.js';
import { serverErrorType } from '../../../core/http/semconv.js';
import { internalServers, type ServerOp } from '../../../core/http/server.js';
import { kOperation } from '../../../core/operation.js';
import { around, type Fn, type Patches } from '../../../core/patch.js';
import type { HookContext } from '../../context.js';
import { routeOf } from '../routes.js';

type Res = ServerResponse & { [kOperation]?: ServerOp };

interface Hooked {
  http: HttpRecorder;
  guard: Guard;
  patches: Patches;
  patched: boolean;
}

let hooked: Hooked | undefined;
/** One scheme per server: read once, not through `req.socket` per request (Bun builds it lazily). */
const schemes = new WeakMap<object, string>();

function onClose(this: Res): void {
  const op = this[kOperation];
  if (op === undefined) return;
  this[kOperation] = undefined;
  try {
    const status = this.headersSent ? this.statusCode : 0;
    op.end(status, routeOf(this.req, status), serverErrorType(status, this.writableFinished));
  } catch (error) {
    if (hooked !== undefined) fail(hooked.guard, error);
  }
}

function begin(h: Hooked, server: object, req: IncomingMessage, res: Res): ServerOp | undefined {
  if (internalServers.has(server) || res[kOperation] !== undefined) return undefined;
  let scheme = schemes.get(server);
  if (scheme === undefined) {
    scheme = (req.socket as TLSSocket | null)?.encrypted === true ? 'https' : 'http';
    schemes.set(server, scheme);
  }
  const op = h.http.server(req, scheme);
  res[kOperation] = op;
  // `on`, not `once`: 'close' fires once per response, and `once` allocates a wrapper per call.
  res.on('close', onClose);
  return op;
}

function emit(original: Fn, self: unknown, args: IArguments): unknown {
  const h = hooked;
  if (args[0] !== 'request' || h === undefined) return Reflect.apply(original, self, args);
  let op: ServerOp | undefined;
  try {
    op = begin(h, self as object, args[1] as IncomingMessage, args[2] as Res);
  } catch (error) {
    fail(h.guard, error);
  }
  return op === undefined ? Reflect.apply(original, self, args) : op.run(original, self, args);
}

/** Called by ./serve.ts when Bun.serve is asked to serve a node:http server. */
export function nodeHttpServerStarting(): void {
  const h = hooked;
  if (h === undefined || h.patched || !h.guard.enabled) return;
  h.patched = true;
  try {
    const { Server } = process.getBuiltinModule('node:http') as typeof import('node:http');
    h.patches.wrap(Server.prototype, 'emit', (original) => around(h.guard, original, emit));
  } catch (error) {
    fail(h.guard, error);
  }
}

export function install(ctx: HookContext): void {
  if (ctx.runtime !== 'bun') return;
  hooked = { http: ctx.http, guard: ctx.guard, patches: ctx.patches, patched: false };
  ctx.patches.onRestore(() => {
    hooked = undefined;
  });
}
