// One request forwarded over undici and streamed back: used by the inbound proxy (to the app) and
// the AI gateway (to a provider). An undici dispatch handler writes straight into the
// ServerResponse: no intermediate stream, no buffering, and backpressure both ways (undici
// pauses reading the upstream while the client's socket is full; the request body is piped from
// the IncomingMessage, which pauses the client while the upstream is full).
//
// Per-request state lives on one Exchange object; the event listeners it needs are module-level
// functions that find it through a symbol, so a request allocates no closures.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Dispatcher } from 'undici';
import { errorClass } from '../core/http/semconv.js';
import type { UsageStripper } from './include-usage.js';

/** Headers that describe one hop, never forwarded (RFC 9110 7.6.1); undici refuses most of them anyway. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'expect',
  'http2-settings',
]);

export interface ExchangeObserver {
  /** Response headers are about to be written (status is known). */
  onHeaders?(exchange: Exchange, status: number, rawHeaders: Buffer[]): void;
  /** A body chunk passed through unchanged. */
  onChunk?(exchange: Exchange, chunk: Buffer): void;
  /** The exchange is over (response closed, finished or not). */
  onClose(exchange: Exchange): void;
}

const kExchange = Symbol('tapwire.exchange');
type Res = ServerResponse & { [kExchange]?: Exchange };

/**
 * Request headers for the upstream, flat [name, value, ...] as undici takes them. `dropHost`:
 * the gateway lets undici set Host from the provider's origin; the proxy keeps the client's.
 * `extra` (flat pairs, lowercase names) replaces the client's headers of the same names.
 */
export function forwardHeaders(req: IncomingMessage, dropHost: boolean, extra?: readonly string[]): string[] {
  const raw = req.rawHeaders;
  const out: string[] = [];
  let forwardedFor: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    const lower = name.toLowerCase();
    if (HOP_BY_HOP.has(lower)) continue;
    if (dropHost && lower === 'host') continue;
    if (extra !== undefined && replaced(extra, lower)) continue;
    if (lower === 'x-forwarded-for') {
      forwardedFor = forwardedFor === undefined ? raw[i + 1]! : `${forwardedFor}, ${raw[i + 1]!}`;
      continue;
    }
    out.push(name, raw[i + 1]!);
  }
  const peer = req.socket.remoteAddress;
  if (peer !== undefined) {
    out.push('x-forwarded-for', forwardedFor === undefined ? peer : `${forwardedFor}, ${peer}`);
  } else if (forwardedFor !== undefined) {
    out.push('x-forwarded-for', forwardedFor);
  }
  if (extra) for (const h of extra) out.push(h);
  return out;
}

function replaced(extra: readonly string[], lower: string): boolean {
  for (let i = 0; i < extra.length; i += 2) if (extra[i] === lower) return true;
  return false;
}

/** Response headers for the client: hop-by-hop ones removed; Node frames the body itself. */
function responseHeaders(raw: Buffer[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toString('latin1');
    if (HOP_BY_HOP.has(name.toLowerCase())) continue;
    out.push(name, raw[i + 1]!.toString('latin1'));
  }
  return out;
}

function isEventStream(headers: string[]): boolean {
  for (let i = 0; i < headers.length; i += 2) {
    if (headers[i]!.length === 12 && headers[i]!.toLowerCase() === 'content-type') {
      return headers[i + 1]!.startsWith('text/event-stream');
    }
  }
  return false;
}

export function hasBody(req: IncomingMessage): boolean {
  return req.headers['content-length'] !== undefined
    ? req.headers['content-length'] !== '0'
    : req.headers['transfer-encoding'] !== undefined;
}

/** The stable error class in a 502/504 body and in `error.type` of the gateway's client metric. */
export type UpstreamErrorType = string;

function failureStatus(errorType: string): number {
  return errorType === 'UND_ERR_HEADERS_TIMEOUT' || errorType === 'UND_ERR_CONNECT_TIMEOUT' ? 504 : 502;
}

export class Exchange implements Dispatcher.DispatchHandler {
  readonly start = performance.now();
  status = 0;
  /** Why the upstream exchange failed, when it did (an undici/system error code). */
  upstreamError: string | undefined;
  /** Free for the caller: the active-requests key, a route, the AI call state. */
  data: unknown;
  /**
   * Edits a 200 event stream's body on its way to the client (the gateway's include_usage); the
   * observer still sees every chunk as the upstream sent it.
   */
  edit: UsageStripper | undefined;
  private abortUpstream: ((err?: Error) => void) | undefined;
  private resume: (() => void) | undefined;
  private done = false;

  constructor(
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    private readonly observer: ExchangeObserver,
    /** Names the upstream in a 502 body ("the app at http://127.0.0.1:3000"). */
    private readonly upstreamName: string,
  ) {
    (res as Res)[kExchange] = this;
    res.on('close', onResClose);
    res.on('drain', onResDrain);
  }

  onConnect(abort: (err?: Error) => void): void {
    this.abortUpstream = abort;
    // The client went away before undici started: nothing to forward.
    if (this.done) abort();
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void, statusText: string): boolean {
    if (statusCode < 200) return true; // 100-continue and other interim answers stay between the hops
    this.status = statusCode;
    this.resume = resume;
    this.observer.onHeaders?.(this, statusCode, rawHeaders);
    if (this.done) return false;
    const headers = responseHeaders(rawHeaders);
    // Only an event stream answered 200 is what the edit was asked for.
    if (this.edit !== undefined && !(statusCode === 200 && isEventStream(headers))) this.edit = undefined;
    // Head, body and end of a small response usually arrive in one tick (one socket read
    // upstream), and leave in one writev: node:http sends the head with the first chunk and corks
    // the socket until the next tick on every write. The response is not corked here on top of
    // that: end() would then have to uncork it first (see onComplete), and the chunked terminator
    // would go in a write of its own, one syscall more per request (measured with strace; ~7% of
    // the sidecar's peak requests/s).
    this.res.writeHead(statusCode, statusText || undefined, headers);
    // Headers normally leave with the first body chunk (one write, not two: measurably faster
    // for small responses); an event stream's headers go at once, before its first event.
    if (isEventStream(headers)) this.res.flushHeaders();
    return true;
  }

  onData(chunk: Buffer): boolean {
    if (this.done) return false;
    this.observer.onChunk?.(this, chunk);
    if (this.edit === undefined) return this.res.write(chunk);
    const out = this.edit.feed(chunk);
    return out.length === 0 ? true : this.res.write(out);
  }

  onComplete(_trailers: string[] | null): void {
    if (this.done) return;
    // The response is never corked here: with chunked framing, a ServerResponse corked after its
    // headers went (flushHeaders) holds later chunks in its own buffer, and end() writes the
    // terminating `0\r\n\r\n` ahead of them: the client read a complete, empty body (seen with an
    // event stream whose events all arrived in one read, when this proxy corked it).
    if (this.edit !== undefined) {
      const rest = this.edit.end();
      if (rest.length > 0) this.res.write(rest);
    }
    this.res.end();
  }

  onError(error: Error): void {
    this.upstreamError = errorClass(error);
    const res = this.res;
    if (this.done) return;
    if (res.headersSent) {
      // The response had started: the client must see a broken response, not a shortened one
      // that looks complete.
      res.destroy();
      return;
    }
    const status = failureStatus(this.upstreamError);
    this.status = status;
    const body = JSON.stringify({
      error: `${status === 504 ? 'no response in time from' : 'cannot reach'} ${this.upstreamName}`,
      error_type: this.upstreamError,
    });
    res.writeHead(status, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(body),
      'x-tapwire-error': this.upstreamError,
    });
    res.end(body);
  }

  /** @internal the response closed (finished or the client went away). */
  closed(): void {
    if (this.done) return;
    this.done = true;
    this.res.off('drain', onResDrain);
    // Client gone mid-response: stop reading the upstream.
    if (!this.res.writableFinished) this.abortUpstream?.();
    this.observer.onClose(this);
  }

  /** @internal the client's socket has room again. */
  drained(): void {
    this.resume?.();
  }
}

function onResClose(this: Res): void {
  this[kExchange]?.closed();
}

function onResDrain(this: Res): void {
  this[kExchange]?.drained();
}
