// Spans from Node's HTTP diagnostics channels, hooked through the metrics instrumentations'
// tracing extension points (../http/node-server.ts, ../http/node-client.ts) so every channel
// has one subscriber and error.type is classified in one place. Installed only when tracing is
// on; otherwise those extension points stay undefined and no request pays for tracing.
//
// Server: the span starts in `http.server.request.start` (synchronously before the app's
// 'request' listener) and its context is entered there, so the handler and everything it awaits
// run inside it; it ends at the response's 'close'. Client: node:http requests get their span and
// `traceparent` at `http.client.request.created` (headers not yet sent), undici/fetch requests
// at `undici:request:create` (request.addHeader); both end when response headers arrive.
import type { ClientRequest, IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { defaultTextMapGetter, type Span, type TextMapSetter } from '@opentelemetry/api';
import { setClientTracing, target, type UndiciRequest, undiciTarget } from '../http/node-client.js';
import { setServerTracing } from '../http/node-server.js';
import { routeOf } from '../http/routes.js';
import { fail, hook } from '../safe.js';
import { clientSpan, endClientSpan, endServerSpan, enterContext, serverSpan } from './spans.js';

const h = hook('tracing (node http)');
const kSpan: unique symbol = Symbol('tapwire.trace.span');

type WithSpan = { [kSpan]?: Span | undefined };

const nodeSetter: TextMapSetter<ClientRequest> = {
  set: (req, key, value) => {
    req.setHeader(key, value);
  },
};
const undiciSetter: TextMapSetter<UndiciRequest> = {
  set: (req, key, value) => {
    req.addHeader(key, value);
  },
};

function onServerStart(req: IncomingMessage & WithSpan, _res: ServerResponse): void {
  if (!h.enabled) return;
  try {
    const scheme = (req.socket as TLSSocket).encrypted ? 'https' : 'http';
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    const s = serverSpan(req.method, path, scheme, req.headers, defaultTextMapGetter);
    if (s === undefined) return;
    req[kSpan] = s.span;
    enterContext(s.ctx);
  } catch (error) {
    fail(h, error);
  }
}

function onServerEnd(req: IncomingMessage & WithSpan, res: ServerResponse, errorType: string | undefined) {
  const span = req[kSpan];
  if (span === undefined) return;
  req[kSpan] = undefined;
  try {
    endServerSpan(span, req.method, res.headersSent ? res.statusCode : 0, routeOf(req), errorType);
  } catch (error) {
    fail(h, error);
  }
}

function nodeCreated(req: ClientRequest & WithSpan): void {
  // Where `created` were published after the headers went out (not on Node 24), do nothing
  // rather than throw ERR_HTTP_HEADERS_SENT inside the app's call.
  if (!h.enabled || req.headersSent) return;
  try {
    const { scheme, address, port } = target(req);
    req[kSpan] = clientSpan(req.method, scheme, address, port, req.path, req, nodeSetter);
  } catch (error) {
    fail(h, error);
  }
}

function undiciCreated(req: UndiciRequest & WithSpan): void {
  if (!h.enabled) return;
  try {
    const { scheme, address, port } = undiciTarget(req);
    req[kSpan] = clientSpan(req.method, scheme, address, port, req.path, req, undiciSetter);
  } catch (error) {
    fail(h, error);
  }
}

function ended(req: object, status: number, errorType: string | undefined): void {
  const span = (req as WithSpan)[kSpan];
  if (span === undefined) return;
  (req as WithSpan)[kSpan] = undefined;
  endClientSpan(span, status, errorType);
}

export function installNodeServerTracing(): void {
  setServerTracing(onServerStart, onServerEnd);
}

export function installNodeClientTracing(): void {
  setClientTracing({ nodeCreated, undiciCreated, ended });
}
