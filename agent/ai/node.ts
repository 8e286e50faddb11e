// The bodies of AI provider calls on Node's clients, read from the side without changing what the
// app receives. ../http/node-client.ts starts every call (one ClientOp whose AiCall this follows);
// only provider calls ever reach here.
//
// undici (fetch): the per-chunk channels `undici:request:bodyChunkSent`, `bodyChunkReceived` and
// `trailers` are subscribed only while at least one provider call is in flight: undici checks
// `hasSubscribers` before building each chunk message, so ordinary requests pay nothing for them
// the rest of the time. Node 24's bundled undici publishes all three; chunks arrive as the socket
// delivers them, before the app reads them.
//
// node:http / node:https: `http.client.request.created` gives the request before its body is
// written; the instance's write/end are wrapped to see the body. The response's chunks are seen by
// wrapping the IncomingMessage instance's push(), which the HTTP parser calls for every body chunk
// and with null at the end. A 'data' listener would switch the stream to flowing mode and could
// hand chunks out before the app listens, so tapwire never adds one; a 'close' listener (which
// does not change the flow mode) catches responses cut short.
import type { ClientRequest, IncomingMessage } from 'node:http';
import type { AiCall } from '../../core/ai/call.js';
import { HeaderRecord } from '../../core/ai/ratelimit.js';
import { fail, guarded } from '../../core/guard.js';
import type { ClientOp } from '../../core/http/client.js';
import { errorClass } from '../../core/http/semconv.js';
import { kOperation } from '../../core/operation.js';
import type { HookContext } from '../context.js';

/** undici's request object (lib/core/request.js) as its channels hand it over. */
export interface UndiciRequest {
  origin: string | URL;
  method: string;
  path: string;
  headers: unknown;
  addHeader(name: string, value: string): unknown;
  [kOperation]?: ClientOp | null;
}

const kCall: unique symbol = Symbol('tapwire.ai.call');
const kWrite: unique symbol = Symbol('tapwire.ai.write');
const kEnd: unique symbol = Symbol('tapwire.ai.end');
const kPush: unique symbol = Symbol('tapwire.ai.push');

/** How long the chunk channels stay subscribed after the last provider call settled. */
const UNSUBSCRIBE_AFTER_MS = 1000;

type AiRequest = ClientRequest & {
  [kCall]?: AiCall;
  [kWrite]?: ClientRequest['write'];
  [kEnd]?: ClientRequest['end'];
};
type AiResponse = IncomingMessage & { [kCall]?: AiCall; [kPush]?: IncomingMessage['push'] };

/** undici hands raw headers as [name, value, name, value, ...] Buffers (or strings). */
export function headerValue(raw: unknown[], name: string): string | undefined {
  if (!Array.isArray(raw)) return undefined;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const key = String(raw[i]);
    if (key.length === name.length && key.toLowerCase() === name) return String(raw[i + 1]);
  }
  return undefined;
}

export interface AiBodies {
  /** An undici provider call started: follow its body until it settles. */
  undici(call: AiCall): void;
  /** The undici call failed (its AiCall already knows): stop following it. */
  undiciSettled(call: AiCall): void;
  /** A node:http provider call: see the request body the app writes. */
  nodeRequest(req: ClientRequest, call: AiCall): void;
  /** Its response head arrived: see the response body as the parser pushes it. */
  nodeResponse(res: IncomingMessage, call: AiCall): void;
}

export function aiBodies(ctx: HookContext): AiBodies {
  const { guard, channels } = ctx;
  const following = new Set<AiCall>();

  const callOf = (message: unknown): AiCall | undefined => {
    const op = (message as { request: UndiciRequest }).request[kOperation];
    return op ? op.ai : undefined;
  };
  const onBodySent = guarded(guard, (message: unknown) => {
    callOf(message)?.requestChunk((message as { chunk: unknown }).chunk);
  });
  const onBodyReceived = guarded(guard, (message: unknown) => {
    callOf(message)?.chunk((message as { chunk: Uint8Array }).chunk);
  });
  const onTrailers = (message: unknown): void => {
    const call = callOf(message);
    if (call === undefined) return;
    settled(call);
    if (!guard.enabled) return;
    try {
      call.end();
    } catch (error) {
      fail(guard, error);
    }
  };

  // The chunk channels stay subscribed for a second after the last provider call settles: an app
  // that calls a provider again and again would otherwise subscribe and unsubscribe three channels
  // per call (measured ~13 µs of a call's ~70 µs on Node 24). The timer is unref'd.
  let subscribed = false;
  let idle: NodeJS.Timeout | undefined;
  const unsubscribe = (): void => {
    idle = undefined;
    if (following.size > 0 || !subscribed) return;
    subscribed = false;
    channels.unsubscribe('undiciBodyChunkSent', onBodySent);
    channels.unsubscribe('undiciBodyChunkReceived', onBodyReceived);
    channels.unsubscribe('undiciTrailers', onTrailers);
  };

  function settled(call: AiCall): void {
    if (!following.delete(call) || following.size > 0 || idle !== undefined) return;
    idle = setTimeout(unsubscribe, UNSUBSCRIBE_AFTER_MS);
    idle.unref();
  }

  function aiWrite(this: AiRequest, chunk: unknown, ...rest: unknown[]): boolean {
    observeWrite(this, chunk);
    return (this[kWrite] as (...a: unknown[]) => boolean).call(this, chunk, ...rest);
  }

  function aiEnd(this: AiRequest, chunk?: unknown, ...rest: unknown[]): AiRequest {
    observeWrite(this, chunk);
    return (this[kEnd] as (...a: unknown[]) => AiRequest).call(this, chunk, ...rest);
  }

  function observeWrite(req: AiRequest, chunk: unknown): void {
    const call = req[kCall];
    if (call === undefined || !guard.enabled || chunk == null || typeof chunk === 'function') return;
    try {
      call.requestChunk(chunk);
    } catch (error) {
      fail(guard, error);
    }
  }

  function aiPush(this: AiResponse, chunk: unknown, encoding?: BufferEncoding): boolean {
    const call = this[kCall];
    if (call !== undefined && guard.enabled) {
      try {
        if (chunk === null) {
          this[kCall] = undefined;
          call.end();
        } else if (chunk instanceof Uint8Array) {
          call.chunk(chunk);
        }
      } catch (error) {
        fail(guard, error);
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
      fail(guard, error);
    }
  }

  return {
    undici(call) {
      if (!subscribed) {
        subscribed = true;
        channels.subscribe('undiciBodyChunkSent', onBodySent);
        channels.subscribe('undiciBodyChunkReceived', onBodyReceived);
        channels.subscribe('undiciTrailers', onTrailers);
      }
      following.add(call);
    },
    undiciSettled: settled,
    nodeRequest(req, call) {
      const r = req as AiRequest;
      r[kCall] = call;
      r[kWrite] = r.write;
      r[kEnd] = r.end;
      r.write = aiWrite as ClientRequest['write'];
      r.end = aiEnd as ClientRequest['end'];
    },
    nodeResponse(res, call) {
      const r = res as AiResponse;
      const type = r.headers['content-type'];
      // The request's headers as sent (the app may set them after creating the request).
      const req = (r as { req?: ClientRequest }).req;
      if (req !== undefined) call.requestHeaders(new HeaderRecord(req.getHeaders()));
      call.head(r.statusCode ?? 0, typeof type === 'string' ? type : undefined, new HeaderRecord(r.headers));
      r[kCall] = call;
      r[kPush] = r.push;
      r.push = aiPush as IncomingMessage['push'];
      r.once('close', onResponseClose);
    },
  };
}
