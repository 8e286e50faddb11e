// Inbound HTTP on Node: the `http.server.request.start` diagnostics channel fires for every
// node:http / node:https server, whether the app is ESM or CommonJS and whichever framework sits
// on top, with no module patching. The request ends at the response's 'close' event, which fires
// both after a complete response and when the connection drops first (then error.type=aborted).

import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { Attributes } from '@opentelemetry/api';
import { subscribe } from '../channels.js';
import { fail, hook } from '../safe.js';
import type { HttpRecorder } from './record.js';
import { routeOf } from './routes.js';
import { serverErrorType } from './semconv.js';

const kState: unique symbol = Symbol('tapwire.http.server');

interface State {
  start: number;
  key: Attributes;
}

type Req = IncomingMessage & { [kState]?: State };

interface StartMessage {
  request: Req;
  response: ServerResponse;
  server: Server;
}

const h = hook('http.server (node)');
let recorder: HttpRecorder | undefined;
/** Servers tapwire runs itself (the /metrics endpoint) are not the app's traffic. */
export const internalServers = new WeakSet<Server>();

/** Extra work on each request start (tracing); set by the tracing module when enabled. */
export let onServerStart: ((req: IncomingMessage, res: ServerResponse) => void) | undefined;
export let onServerEnd:
  | ((req: IncomingMessage, res: ServerResponse, error: string | undefined) => void)
  | undefined;

export function setServerTracing(start: typeof onServerStart, end: typeof onServerEnd): void {
  onServerStart = start;
  onServerEnd = end;
}

function onStart(message: unknown): void {
  if (!h.enabled || recorder === undefined) return;
  try {
    const { request, response, server } = message as StartMessage;
    if (internalServers.has(server)) return;
    const scheme = (request.socket as TLSSocket).encrypted ? 'https' : 'http';
    request[kState] = { start: performance.now(), key: recorder.serverStart(request.method, scheme) };
    // `on`, not `once`: 'close' fires once per response, and `once` allocates a wrapper per call.
    response.on('close', onClose);
    if (onServerStart !== undefined) onServerStart(request, response);
  } catch (error) {
    fail(h, error);
  }
}

function onClose(this: ServerResponse): void {
  if (recorder === undefined) return;
  try {
    const req = this.req as Req;
    const state = req[kState];
    if (state === undefined) return;
    req[kState] = undefined;
    const seconds = (performance.now() - state.start) / 1000;
    const completed = this.writableFinished;
    const status = this.headersSent ? this.statusCode : 0;
    const errorType = serverErrorType(status, completed);
    recorder.serverEnd(state.key, seconds, status, routeOf(req), errorType);
    if (onServerEnd !== undefined) onServerEnd(req, this, errorType);
  } catch (error) {
    fail(h, error);
  }
}

export function installNodeHttpServer(rec: HttpRecorder): boolean {
  if (recorder !== undefined) return false;
  recorder = rec;
  subscribe('http.server.request.start', onStart);
  return true;
}
