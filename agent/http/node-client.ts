// Outbound HTTP on Node (and node:http clients on Bun), and the AI provider calls among them.
//
// detect: nothing to load. node:http / node:https clients publish `http.client.request.created`
//   (the request before its headers are sent; Node >= 22.14 / 23.2 and Bun), `.start` (older
//   Node), `http.client.response.finish` (response headers) and `http.client.request.error`;
//   undici — Node's global fetch and the npm package — publishes `undici:request:create`,
//   `:headers` and `:error` (Bun's fetch is not undici: ./bun/fetch.ts).
// hook: those channels; no module is patched and nothing is paid until a request is made.
// record: one ClientOp per request from the origin classifier (core/http/origins.ts): the client
//   metrics, the span and `traceparent` when tracing is on, and for a provider call its AiCall,
//   whose body ../ai/node.ts follows. Duration runs until the response headers arrive (or the
//   request fails), the same on every client and runtime.
import type { ClientRequest, IncomingMessage } from 'node:http';
import { fail } from '../../core/guard.js';
import type { ClientOp } from '../../core/http/client.js';
import { clientStatusErrorType } from '../../core/http/semconv.js';
import { kOperation } from '../../core/operation.js';
import { aiBodies, headerValue, type UndiciRequest } from '../ai/node.js';
import type { HookContext } from '../context.js';

type Slot = { [kOperation]?: ClientOp | null };
type NodeRequest = ClientRequest & Slot;

export function install(ctx: HookContext): void {
  const { http, origins, guard, channels } = ctx;
  const bodies = aiBodies(ctx);

  /** A node:http request: the origin from its Host header, as the server will see it. */
  function beginNode(req: NodeRequest): void {
    const host = req.getHeader('host');
    const authority = typeof host === 'string' ? host : req.host.includes(':') ? `[${req.host}]` : req.host;
    const origin = origins.of(req.protocol === 'https:', authority);
    if (origin.internal) {
      req[kOperation] = null;
      return;
    }
    const op = http.client(req.method, origin, req.path);
    req[kOperation] = op;
    const headers = op.headers;
    // `created` is published before the headers are rendered; where it came late, add nothing
    // rather than throw ERR_HTTP_HEADERS_SENT inside the app's call.
    if (headers !== undefined && !req.headersSent) for (const k in headers) req.setHeader(k, headers[k]!);
    if (op.ai !== undefined) bodies.nodeRequest(req, op.ai);
  }

  channels.subscribe('httpClientRequestCreated', (message) => {
    if (!guard.enabled) return;
    try {
      beginNode((message as { request: NodeRequest }).request);
    } catch (error) {
      fail(guard, error);
    }
  });

  channels.subscribe('httpClientRequestStart', (message) => {
    if (!guard.enabled) return;
    try {
      const req = (message as { request: NodeRequest }).request;
      if (req[kOperation] === undefined) beginNode(req); // no `created` on this runtime
    } catch (error) {
      fail(guard, error);
    }
  });

  channels.subscribe('httpClientResponseFinish', (message) => {
    const { request, response } = message as { request: NodeRequest; response: IncomingMessage };
    const op = request[kOperation];
    if (!op || !guard.enabled) return;
    try {
      const status = response.statusCode ?? 0;
      op.end(status, clientStatusErrorType(status));
      if (op.ai !== undefined) bodies.nodeResponse(response, op.ai);
    } catch (error) {
      fail(guard, error);
    }
  });

  channels.subscribe('httpClientRequestError', (message) => {
    const { request, error } = message as { request: NodeRequest; error: unknown };
    const op = request[kOperation];
    if (!op || !guard.enabled) return;
    try {
      op.fail(error);
    } catch (e) {
      fail(guard, e);
    }
  });

  channels.subscribe('undiciRequestCreate', (message) => {
    if (!guard.enabled) return;
    try {
      const req = (message as { request: UndiciRequest & Slot }).request;
      const origin = origins.ofOrigin(req.origin);
      if (origin === undefined || origin.internal) return;
      const op = http.client(req.method, origin, req.path);
      req[kOperation] = op;
      const headers = op.headers;
      if (headers !== undefined) for (const k in headers) req.addHeader(k, headers[k]!);
      if (op.ai !== undefined) bodies.undici(op.ai);
    } catch (error) {
      fail(guard, error);
    }
  });

  channels.subscribe('undiciRequestHeaders', (message) => {
    const { request, response } = message as {
      request: UndiciRequest & Slot;
      response: { statusCode: number; headers: unknown[] };
    };
    const op = request[kOperation];
    if (!op || !guard.enabled) return;
    try {
      op.end(response.statusCode, clientStatusErrorType(response.statusCode));
      op.ai?.head(response.statusCode, headerValue(response.headers, 'content-type'));
    } catch (error) {
      fail(guard, error);
    }
  });

  channels.subscribe('undiciRequestError', (message) => {
    const { request, error } = message as { request: UndiciRequest & Slot; error: unknown };
    const op = request[kOperation];
    if (!op || !guard.enabled) return;
    try {
      op.fail(error);
      if (op.ai !== undefined) bodies.undiciSettled(op.ai);
    } catch (e) {
      fail(guard, e);
    }
  });
}
