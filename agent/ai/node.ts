// AI calls on Node's outgoing HTTP, read from the side without changing what the app receives.
//
// fetch / undici: `undici:request:create` decides once per request whether it is a provider call
// (one Map lookup on the origin). Only while at least one provider call is in flight does tapwire
// subscribe to the per-chunk channels (`undici:request:bodyChunkSent`, `bodyChunkReceived`,
// `trailers`): undici checks `hasSubscribers` before building each chunk message, so ordinary
// requests pay nothing for them the rest of the time. Node 24's bundled undici publishes all
// four; chunks arrive as the socket delivers them, before the app reads them.
//
// node:http / node:https: `http.client.request.created` (Node >= 24) gives the request before its
// body is written; for provider calls only, the instance's write/end are wrapped to see the body.
// The response's chunks are seen by wrapping the IncomingMessage instance's push(), which the
// HTTP parser calls for every body chunk and with null at the end. A 'data' listener would switch
// the stream to flowing mode and could hand chunks out before the app listens, so tapwire never
// adds one; a 'close' listener (which does not change the flow mode) catches responses cut short.
import dc from 'node:diagnostics_channel';
import type { ClientRequest, IncomingMessage } from 'node:http';
import { subscribe } from '../channels.js';
import { target as nodeTarget } from '../http/node-client.js';
import { errorClass } from '../http/semconv.js';
import { fail, hook } from '../safe.js';
import { AiCall } from './call.js';
import type { Providers } from './providers.js';

const kCall: unique symbol = Symbol('tapwire.ai.call');
const kWrite: unique symbol = Symbol('tapwire.ai.write');
const kEnd: unique symbol = Symbol('tapwire.ai.end');
const kPush: unique symbol = Symbol('tapwire.ai.push');
const kEnded: unique symbol = Symbol('tapwire.ai.ended');

interface UndiciRequest {
  origin: string | URL;
  path: string;
  [kCall]?: AiCall;
}

type AiRequest = ClientRequest & {
  [kCall]?: AiCall;
  [kWrite]?: ClientRequest['write'];
  [kEnd]?: ClientRequest['end'];
};
type AiResponse = IncomingMessage & {
  [kCall]?: AiCall;
  [kPush]?: IncomingMessage['push'];
  [kEnded]?: boolean;
};

const u = hook('ai (undici)');
const n = hook('ai (node:http)');
let providers: Providers | undefined;

// Per-chunk channels are subscribed only while provider calls are in flight.
let inFlight = 0;
function opened(): void {
  if (inFlight++ === 0) {
    dc.subscribe('undici:request:bodyChunkSent', onBodyChunkSent);
    dc.subscribe('undici:request:bodyChunkReceived', onBodyChunkReceived);
    dc.subscribe('undici:request:trailers', onTrailers);
  }
}
function closed(): void {
  if (--inFlight === 0) {
    dc.unsubscribe('undici:request:bodyChunkSent', onBodyChunkSent);
    dc.unsubscribe('undici:request:bodyChunkReceived', onBodyChunkReceived);
    dc.unsubscribe('undici:request:trailers', onTrailers);
  }
}

function address(host: string): string {
  return host.startsWith('[') ? host.slice(1, -1) : host;
}

function onCreate(message: unknown): void {
  if (!u.enabled || providers === undefined) return;
  try {
    const req = (message as { request: UndiciRequest }).request;
    const origin = typeof req.origin === 'string' ? req.origin : req.origin.origin;
    const https = origin.startsWith('https:');
    if (!https && !origin.startsWith('http:')) return;
    let authority = origin.slice(https ? 8 : 7);
    if (authority.endsWith('/')) authority = authority.slice(0, -1);
    const t = providers.matchAuthority(authority, https, req.path);
    if (t === undefined) return;
    const colon = authority.lastIndexOf(':');
    const host = colon > authority.lastIndexOf(']') ? authority.slice(0, colon) : authority;
    req[kCall] = new AiCall(t, address(host));
    opened();
  } catch (error) {
    fail(u, error);
  }
}

function onBodyChunkSent(message: unknown): void {
  const { request, chunk } = message as { request: UndiciRequest; chunk: unknown };
  const call = request[kCall];
  if (call === undefined || !u.enabled) return;
  try {
    call.requestChunk(chunk);
  } catch (error) {
    fail(u, error);
  }
}

function onHeaders(message: unknown): void {
  const { request, response } = message as {
    request: UndiciRequest;
    response: { statusCode: number; headers: unknown[] };
  };
  const call = request[kCall];
  if (call === undefined || !u.enabled) return;
  try {
    call.head(response.statusCode, headerValue(response.headers, 'content-type'));
  } catch (error) {
    fail(u, error);
  }
}

function onBodyChunkReceived(message: unknown): void {
  const { request, chunk } = message as { request: UndiciRequest; chunk: Uint8Array };
  const call = request[kCall];
  if (call === undefined || !u.enabled) return;
  try {
    call.chunk(chunk);
  } catch (error) {
    fail(u, error);
  }
}

function settle(request: UndiciRequest, errorType: string | undefined): void {
  const call = request[kCall];
  if (call === undefined) return;
  request[kCall] = undefined;
  closed();
  if (!u.enabled) return;
  try {
    if (errorType === undefined) call.end();
    else call.fail(errorType);
  } catch (error) {
    fail(u, error);
  }
}

function onTrailers(message: unknown): void {
  settle((message as { request: UndiciRequest }).request, undefined);
}

function onError(message: unknown): void {
  const { request, error } = message as { request: UndiciRequest; error: unknown };
  if (request[kCall] === undefined) return;
  settle(request, errorClass(error));
}

/** undici hands raw headers as [name, value, name, value, ...] Buffers (or strings). */
function headerValue(raw: unknown[], name: string): string | undefined {
  if (!Array.isArray(raw)) return undefined;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const key = String(raw[i]);
    if (key.length === name.length && key.toLowerCase() === name) return String(raw[i + 1]);
  }
  return undefined;
}

// node:http / node:https ------------------------------------------------------------------------

function onNodeCreated(message: unknown): void {
  if (!n.enabled || providers === undefined) return;
  try {
    const req = (message as { request: AiRequest }).request;
    const { scheme, address: host, port } = nodeTarget(req);
    const t = providers.match(host.toLowerCase(), port, scheme, req.path);
    if (t === undefined) return;
    req[kCall] = new AiCall(t, host);
    req[kWrite] = req.write;
    req[kEnd] = req.end;
    req.write = aiWrite as ClientRequest['write'];
    req.end = aiEnd as ClientRequest['end'];
  } catch (error) {
    fail(n, error);
  }
}

function observeWrite(req: AiRequest, chunk: unknown): void {
  const call = req[kCall];
  if (
    call === undefined ||
    !n.enabled ||
    chunk === undefined ||
    chunk === null ||
    typeof chunk === 'function'
  ) {
    return;
  }
  try {
    call.requestChunk(chunk);
  } catch (error) {
    fail(n, error);
  }
}

function aiWrite(this: AiRequest, chunk: unknown, ...rest: unknown[]): boolean {
  observeWrite(this, chunk);
  return (this[kWrite] as (...a: unknown[]) => boolean).call(this, chunk, ...rest);
}

function aiEnd(this: AiRequest, chunk?: unknown, ...rest: unknown[]): AiRequest {
  observeWrite(this, chunk);
  return (this[kEnd] as (...a: unknown[]) => AiRequest).call(this, chunk, ...rest);
}

function onNodeResponse(message: unknown): void {
  const { request, response } = message as { request: AiRequest; response: AiResponse };
  const call = request[kCall];
  if (call === undefined || !n.enabled) return;
  try {
    request[kCall] = undefined;
    const type = response.headers['content-type'];
    call.head(response.statusCode ?? 0, typeof type === 'string' ? type : undefined);
    response[kCall] = call;
    response[kPush] = response.push;
    response.push = aiPush as IncomingMessage['push'];
    response.once('close', onResponseClose);
  } catch (error) {
    fail(n, error);
  }
}

function aiPush(this: AiResponse, chunk: unknown, encoding?: BufferEncoding): boolean {
  const call = this[kCall];
  if (call !== undefined && n.enabled) {
    try {
      if (chunk === null) {
        this[kEnded] = true;
        this[kCall] = undefined;
        call.end();
      } else if (chunk instanceof Uint8Array) {
        call.chunk(chunk);
      }
    } catch (error) {
      fail(n, error);
    }
  }
  return (this[kPush] as IncomingMessage['push']).call(this, chunk, encoding);
}

function onResponseClose(this: AiResponse): void {
  const call = this[kCall];
  if (call === undefined) return;
  this[kCall] = undefined;
  try {
    // Closed before the parser pushed the end: the connection broke or the app destroyed it.
    call.fail(this.errored ? errorClass(this.errored) : 'aborted');
  } catch (error) {
    fail(n, error);
  }
}

function onNodeError(message: unknown): void {
  const { request, error } = message as { request: AiRequest; error: unknown };
  const call = request[kCall];
  if (call === undefined) return;
  request[kCall] = undefined;
  try {
    call.fail(errorClass(error));
  } catch (e) {
    fail(n, e);
  }
}

export function installNodeAi(p: Providers): void {
  if (providers !== undefined) return;
  providers = p;
  // Held subscriptions (../channels.ts): on Bun, node:http creates these channels only when the
  // app loads it, and a channel nobody holds can be collected with its subscribers.
  subscribe('undici:request:create', onCreate);
  subscribe('undici:request:headers', onHeaders);
  subscribe('undici:request:error', onError);
  subscribe('http.client.request.created', onNodeCreated);
  subscribe('http.client.response.finish', onNodeResponse);
  subscribe('http.client.request.error', onNodeError);
}
