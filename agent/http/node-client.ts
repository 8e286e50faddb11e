// Outbound HTTP on Node: node:http/node:https clients publish `http.client.request.start`,
// `http.client.response.finish` (when the response headers arrive) and
// `http.client.request.error`; undici — both Node's global fetch and the npm package — publishes
// `undici:request:create`, `undici:request:headers` and `undici:request:error`. Subscribing costs
// nothing until a request is made, and no module is patched. Duration is measured until the
// response headers arrive (or the request fails), the same on every client and runtime.

import type { ClientRequest, IncomingMessage } from 'node:http';
import { subscribe } from '../channels.js';
import { fail, hook } from '../safe.js';
import type { HttpRecorder } from './record.js';
import { clientStatusErrorType, defaultPort, errorClass } from './semconv.js';

const kStart: unique symbol = Symbol('tapwire.http.client');

type Req = ClientRequest & { [kStart]?: number };

const h = hook('http.client (node)');
const u = hook('undici');
let recorder: HttpRecorder | undefined;

/** Destinations tapwire itself talks to (OTLP), excluded from the app's client metrics. */
export const internalOrigins = new Set<string>();

/**
 * Tracing hooks (agent/trace/node.ts), set at start-up only when tracing is on; they guard
 * themselves. node:http publishes `http.client.request.start` from `_finish()`, after the headers
 * are rendered, so trace context is injected at `http.client.request.created` (end of the
 * ClientRequest constructor; Node 24 publishes it), subscribed only when tracing is on.
 */
export interface ClientTracing {
  nodeCreated(req: ClientRequest): void;
  undiciCreated(req: UndiciRequest): void;
  /** Response headers arrived (status > 0) or the request failed (status 0). */
  ended(req: object, status: number, errorType: string | undefined): void;
}
let tracing: ClientTracing | undefined;
export function setClientTracing(t: ClientTracing): void {
  if (tracing === undefined) subscribe('http.client.request.created', onNodeCreated);
  tracing = t;
}

function onNodeCreated(message: unknown): void {
  try {
    if (tracing !== undefined) tracing.nodeCreated((message as { request: ClientRequest }).request);
  } catch (error) {
    fail(h, error);
  }
}

export function target(req: ClientRequest): { scheme: string; address: string; port: number } {
  const scheme = req.protocol === 'https:' ? 'https' : 'http';
  const hostHeader = req.getHeader('host');
  let address = req.host;
  let port = defaultPort(scheme);
  if (typeof hostHeader === 'string') {
    const m = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(hostHeader);
    if (m) {
      address = m[1]!.startsWith('[') ? m[1]!.slice(1, -1) : m[1]!;
      if (m[2] !== undefined) port = Number(m[2]);
    }
  }
  return { scheme, address, port };
}

function finishNode(req: Req, status: number, errorType: string | undefined): void {
  const start = req[kStart];
  if (start === undefined || recorder === undefined) return;
  req[kStart] = undefined;
  const { scheme, address, port } = target(req);
  recorder.client(req.method, (performance.now() - start) / 1000, status, address, port, scheme, errorType);
}

function onNodeStart(message: unknown): void {
  if (!h.enabled) return;
  try {
    const req = (message as { request: Req }).request;
    if (internalOrigins.size > 0) {
      const { scheme, address, port } = target(req);
      if (internalOrigins.has(`${scheme}://${address}:${port}`)) return;
    }
    req[kStart] = performance.now();
  } catch (error) {
    fail(h, error);
  }
}

function onNodeResponse(message: unknown): void {
  if (!h.enabled) return;
  try {
    const { request, response } = message as { request: Req; response: IncomingMessage };
    const status = response.statusCode ?? 0;
    const errorType = clientStatusErrorType(status);
    finishNode(request, status, errorType);
    if (tracing !== undefined) tracing.ended(request, status, errorType);
  } catch (error) {
    fail(h, error);
  }
}

function onNodeError(message: unknown): void {
  if (!h.enabled) return;
  try {
    const { request, error } = message as { request: Req; error: unknown };
    const errorType = errorClass(error);
    finishNode(request, 0, errorType);
    if (tracing !== undefined) tracing.ended(request, 0, errorType);
  } catch (e) {
    fail(h, e);
  }
}

// undici's request object (lib/core/request.js): origin, method, path, addHeader().
export interface UndiciRequest {
  origin: string | URL;
  method: string;
  path: string;
  addHeader(name: string, value: string): unknown;
  [kStart]?: number;
}

export function undiciTarget(req: UndiciRequest): { scheme: string; address: string; port: number } {
  const origin = typeof req.origin === 'string' ? new URL(req.origin) : req.origin;
  const scheme = origin.protocol === 'https:' ? 'https' : 'http';
  const address = origin.hostname.startsWith('[') ? origin.hostname.slice(1, -1) : origin.hostname;
  const port = origin.port === '' ? defaultPort(scheme) : Number(origin.port);
  return { scheme, address, port };
}

function finishUndici(req: UndiciRequest, status: number, errorType: string | undefined): void {
  const start = req[kStart];
  if (start === undefined || recorder === undefined) return;
  req[kStart] = undefined;
  const { scheme, address, port } = undiciTarget(req);
  recorder.client(req.method, (performance.now() - start) / 1000, status, address, port, scheme, errorType);
}

function onUndiciCreate(message: unknown): void {
  if (!u.enabled) return;
  try {
    const req = (message as { request: UndiciRequest }).request;
    if (internalOrigins.size > 0) {
      const { scheme, address, port } = undiciTarget(req);
      if (internalOrigins.has(`${scheme}://${address}:${port}`)) return;
    }
    req[kStart] = performance.now();
    if (tracing !== undefined) tracing.undiciCreated(req);
  } catch (error) {
    fail(u, error);
  }
}

function onUndiciHeaders(message: unknown): void {
  if (!u.enabled) return;
  try {
    const { request, response } = message as { request: UndiciRequest; response: { statusCode: number } };
    const errorType = clientStatusErrorType(response.statusCode);
    finishUndici(request, response.statusCode, errorType);
    if (tracing !== undefined) tracing.ended(request, response.statusCode, errorType);
  } catch (error) {
    fail(u, error);
  }
}

function onUndiciError(message: unknown): void {
  if (!u.enabled) return;
  try {
    const { request, error } = message as { request: UndiciRequest; error: unknown };
    const errorType = errorClass(error);
    finishUndici(request, 0, errorType);
    if (tracing !== undefined) tracing.ended(request, 0, errorType);
  } catch (e) {
    fail(u, e);
  }
}

export function installNodeHttpClient(rec: HttpRecorder): boolean {
  if (recorder !== undefined) return false;
  recorder = rec;
  subscribe('http.client.request.start', onNodeStart);
  subscribe('http.client.response.finish', onNodeResponse);
  subscribe('http.client.request.error', onNodeError);
  subscribe('undici:request:create', onUndiciCreate);
  subscribe('undici:request:headers', onUndiciHeaders);
  subscribe('undici:request:error', onUndiciError);
  return true;
}
