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
import { HeaderList } from '../../core/ai/ratelimit.js';
import type { ClientOp } from '../../core/http/client.js';
import { clientStatusErrorType } from '../../core/http/semconv.js';
import { kOperation } from '../../core/operation.js';
import { aiBodies, headerValue, type UndiciRequest } from '../ai/node.js';
import type { HookContext } from '../context.js';

type Slot = { [kOperation]?: ClientOp | null };
type NodeRequest = ClientRequest & Slot;

export function install(ctx: HookContext): void {
  const { http, origins } = ctx;
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

  const { on } = ctx;
  const opOf = (message: unknown) => (message as { request: Slot }).request[kOperation];

  on('httpClientRequestCreated', (message) => beginNode((message as { request: NodeRequest }).request));
  on('httpClientRequestStart', (message) => {
    const req = (message as { request: NodeRequest }).request;
    if (req[kOperation] === undefined) beginNode(req); // no `created` on this runtime
  });
  on('httpClientResponseFinish', (message) => {
    const op = opOf(message);
    if (!op) return;
    const response = (message as { response: IncomingMessage }).response;
    const status = response.statusCode ?? 0;
    op.end(status, clientStatusErrorType(status));
    if (op.ai !== undefined) bodies.nodeResponse(response, op.ai);
  });
  on('httpClientRequestError', (message) => opOf(message)?.fail((message as { error: unknown }).error));

  on('undiciRequestCreate', (message) => {
    const req = (message as { request: UndiciRequest & Slot }).request;
    const origin = origins.ofOrigin(req.origin);
    if (origin === undefined || origin.internal) return;
    const op = http.client(req.method, origin, req.path);
    req[kOperation] = op;
    const headers = op.headers;
    if (headers !== undefined) for (const k in headers) req.addHeader(k, headers[k]!);
    if (op.ai !== undefined) {
      // undici keeps the request's headers as a flat [name, value, ...] list.
      if (Array.isArray(req.headers)) op.ai.requestHeaders(new HeaderList(req.headers));
      bodies.undici(op.ai);
    }
  });
  on('undiciRequestHeaders', (message) => {
    const op = opOf(message);
    if (!op) return;
    const { statusCode, headers } = (message as { response: { statusCode: number; headers: unknown[] } })
      .response;
    op.end(statusCode, clientStatusErrorType(statusCode));
    op.ai?.head(statusCode, headerValue(headers, 'content-type'), new HeaderList(headers));
  });
  on('undiciRequestError', (message) => {
    const op = opOf(message);
    if (!op) return;
    op.fail((message as { error: unknown }).error);
    if (op.ai !== undefined) bodies.undiciSettled(op.ai);
  });
}
