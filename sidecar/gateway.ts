// The AI egress gateway: an app in any language points its SDK at the sidecar
// (OPENAI_BASE_URL=http://127.0.0.1:9465/openai/v1, ANTHROPIC_BASE_URL=http://127.0.0.1:9465/anthropic,
// Gemini's base URL at http://127.0.0.1:9465/gemini) and the sidecar forwards each call to the
// real provider over undici, byte for byte both ways, while the same AI operation the preload uses
// (core/ai/: provider recognition, SSE parsing, usage extraction, the recorder) reads the chunks
// as they pass and records the gen_ai_* metrics. The provider call is also an HTTP client call and
// is recorded as http.client.request.duration, until the exchange ends.
//
// Attribution (TAPWIRE_AI_ATTRIBUTES) is read from the headers of the call itself: an app in any
// language sends `x-tenant-id` with its provider calls and the AI token and cost series carry it.
// The headers are forwarded as they came.
//
// One change to the request, on purpose: `accept-encoding: identity`. The response then reaches
// the app exactly as the provider wrote it, and the usage in it stays readable; compressing a hop
// that never leaves the pod would save nothing.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { Agent } from 'undici';
import type { AiEndpoint, GatewayProvider } from '../config/index.js';
import type { Attribution } from '../core/ai/attribution.js';
import type { AiCall } from '../core/ai/call.js';
import { type Provider, Providers, shapeOf } from '../core/ai/providers.js';
import { HeaderList, HeaderRecord } from '../core/ai/ratelimit.js';
import type { ClientOp } from '../core/http/client.js';
import type { Origin } from '../core/http/origins.js';
import type { HttpRecorder } from '../core/http/recorder.js';
import { clientStatusErrorType, defaultPort } from '../core/http/semconv.js';
import { Exchange, type ExchangeObserver, forwardHeaders, hasBody } from './forward.js';
import { UsageStripper, withIncludeUsage } from './include-usage.js';

/** Built-in prefixes; TAPWIRE_GATEWAY_PROVIDERS adds to or replaces them. */
export const DEFAULT_PROVIDERS: readonly GatewayProvider[] = [
  { prefix: 'openai', shape: 'openai', url: 'https://api.openai.com' },
  { prefix: 'anthropic', shape: 'anthropic', url: 'https://api.anthropic.com' },
  { prefix: 'gemini', shape: 'gemini', url: 'https://generativelanguage.googleapis.com' },
];

interface Route {
  prefix: string;
  /** `https://host[:port]`, where undici sends it. */
  url: string;
  basePath: string;
  /** The provider's origin as the client metrics and the AI operation see it. */
  origin: Origin;
}

const IDENTITY = ['accept-encoding', 'identity'] as const;

export class AiGateway implements ExchangeObserver {
  readonly agent: Agent;
  /** Calls in flight, for the drain on SIGTERM. */
  inFlight = 0;
  onIdle: (() => void) | undefined;
  private readonly routes = new Map<string, Route>();

  constructor(
    configured: readonly GatewayProvider[],
    aiEndpoints: readonly AiEndpoint[],
    private readonly http: HttpRecorder,
    timeoutSeconds: number,
    /** TAPWIRE_AI_ATTRIBUTES: read from the headers of each call the app sends through. */
    private readonly attribution?: Attribution,
    /** TAPWIRE_GATEWAY_INCLUDE_USAGE: ask for the usage of streams that do not (./include-usage.ts). */
    private readonly includeUsage = false,
  ) {
    this.agent = new Agent({
      headersTimeout: timeoutSeconds * 1000,
      connectTimeout: Math.min(10_000, timeoutSeconds * 1000),
      bodyTimeout: 0,
    });
    const known = new Providers(aiEndpoints);
    for (const p of [...DEFAULT_PROVIDERS, ...configured]) {
      const u = new URL(p.url);
      const scheme = u.protocol === 'https:' ? 'https' : 'http';
      const port = Number(u.port) || defaultPort(scheme);
      // The provider's own name when its host is a known one (api.groq.com -> groq), else the prefix.
      const recognised = known.provider(u.hostname.toLowerCase(), port);
      const provider: Provider =
        recognised && recognised.shape === p.shape
          ? recognised
          : {
              name: p.prefix === 'gemini' ? 'gcp.gemini' : p.prefix,
              shape: shapeOf(p.shape === 'gemini' ? 'gemini' : p.shape),
            };
      this.routes.set(p.prefix, {
        prefix: p.prefix,
        url: u.origin,
        basePath: u.pathname.replace(/\/+$/, ''),
        origin: Object.freeze({
          scheme,
          address: u.hostname.replace(/^\[|\]$/g, ''),
          port,
          internal: false,
          provider,
        }),
      });
    }
  }

  prefixes(): string[] {
    return [...this.routes.keys()];
  }

  handle(req: IncomingMessage, res: ServerResponse): void {
    const url = req.url ?? '/';
    const slash = url.indexOf('/', 1);
    const prefix = url.slice(1, slash === -1 ? url.length : slash);
    const route = this.routes.get(prefix.split('?', 1)[0]!);
    if (route === undefined) {
      const body = JSON.stringify({
        error: `no AI provider at /${prefix}; known prefixes: ${this.prefixes()
          .map((p) => `/${p}`)
          .join(', ')}`,
        error_type: 'unknown_provider',
      });
      res
        .writeHead(404, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) })
        .end(body);
      return;
    }
    const rest = slash === -1 ? '/' : url.slice(slash);
    const path = route.basePath + rest;
    // The provider call is an AI operation (op.ai) when its path is one the provider serves.
    const op = this.http.client(req.method, route.origin, path);
    const ai = op.ai;
    if (ai !== undefined) {
      ai.requestHeaders(new HeaderRecord(req.headers));
      if (this.attribution !== undefined) ai.attrs = this.attribution.fromHeaders(req.headers);
    }
    this.inFlight++;
    const exchange = new Exchange(req, res, this, `${route.origin.provider!.name} at ${route.url}`);
    exchange.data = op;
    const withBody = hasBody(req);
    if (
      this.includeUsage &&
      withBody &&
      ai !== undefined &&
      route.origin.provider!.shape === 'openai' &&
      req.method === 'POST' &&
      path.split('?', 1)[0]!.endsWith('/chat/completions')
    ) {
      // The body is read whole first: whether to ask for usage depends on all of it.
      readBody(req, MAX_EDITED_BODY).then(
        (read) => this.dispatchEdited(exchange, route, path, ai, read),
        (error: Error) => exchange.onError(error),
      );
      return;
    }
    this.dispatch(
      exchange,
      route,
      path,
      forwardHeaders(req, true, IDENTITY),
      withBody ? (ai === undefined ? req : Readable.from(teeRequest(req, ai), { objectMode: false })) : null,
    );
  }

  private dispatch(
    exchange: Exchange,
    route: Route,
    path: string,
    headers: string[],
    body: Readable | IncomingMessage | Buffer | null,
  ): void {
    try {
      this.agent.dispatch(
        { origin: route.url, path, method: exchange.req.method ?? 'GET', headers, body },
        exchange,
      );
    } catch (error) {
      exchange.onError(error as Error);
    }
  }

  /** A chat completion read whole: sent with include_usage when it streams without (./include-usage.ts). */
  private dispatchEdited(exchange: Exchange, route: Route, path: string, ai: AiCall, read: Read): void {
    const req = exchange.req;
    if (read.rest !== undefined) {
      // Larger than the bound: sent as it came, what was read first and then the rest.
      const body = Readable.from(resumed(read, ai), { objectMode: false });
      this.dispatch(exchange, route, path, forwardHeaders(req, true, IDENTITY), body);
      return;
    }
    const body = Buffer.concat(read.head);
    ai.requestChunk(body);
    const edited = withIncludeUsage(body.toString('utf8'));
    if (edited === undefined) {
      this.dispatch(exchange, route, path, forwardHeaders(req, true, IDENTITY), body);
      return;
    }
    const sent = Buffer.from(edited);
    exchange.edit = new UsageStripper();
    this.dispatch(
      exchange,
      route,
      path,
      forwardHeaders(req, true, [...IDENTITY, 'content-length', String(sent.length)]),
      sent,
    );
  }

  onHeaders(exchange: Exchange, status: number, rawHeaders: Buffer[]): void {
    const ai = (exchange.data as ClientOp).ai;
    if (ai === undefined) return;
    let contentType: string | undefined;
    for (let i = 0; i < rawHeaders.length; i += 2) {
      if (
        rawHeaders[i]!.length === 12 &&
        rawHeaders[i]!.toString('latin1').toLowerCase() === 'content-type'
      ) {
        contentType = rawHeaders[i + 1]!.toString('latin1');
        break;
      }
    }
    ai.head(status, contentType, new HeaderList(rawHeaders));
  }

  onChunk(exchange: Exchange, chunk: Buffer): void {
    (exchange.data as ClientOp).ai?.chunk(chunk);
  }

  onClose(exchange: Exchange): void {
    const op = exchange.data as ClientOp;
    const res = exchange.res;
    const completed = res.writableFinished;
    const status = exchange.upstreamError !== undefined && !res.headersSent ? 0 : exchange.status;
    const errorType = exchange.upstreamError ?? (completed ? clientStatusErrorType(status) : 'aborted');
    if (op.ai !== undefined) {
      if (completed && exchange.upstreamError === undefined) op.ai.end();
      else op.ai.fail(errorType ?? 'aborted');
    }
    op.end(status, errorType);
    this.inFlight--;
    if (this.inFlight === 0) this.onIdle?.();
  }

  close(): Promise<void> {
    return this.agent.destroy();
  }
}

/** Request bodies larger than this are not edited for include_usage (the AI call reads no more either). */
const MAX_EDITED_BODY = 4 * 1024 * 1024;

/** A request body read up to a bound: its first chunks, and the rest when it is larger. */
interface Read {
  head: Buffer[];
  rest: AsyncIterator<Buffer> | undefined;
}

/** Reads `req` whole, or up to past `max` bytes (then the rest is left to read, not dropped). */
async function readBody(req: IncomingMessage, max: number): Promise<Read> {
  // The iterator is driven by hand: leaving a for-await early would destroy the request.
  const it = req[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  const head: Buffer[] = [];
  let size = 0;
  for (;;) {
    const r = await it.next();
    if (r.done === true) return { head, rest: undefined };
    head.push(r.value);
    size += r.value.length;
    if (size > max) return { head, rest: it };
  }
}

/** A body read in part, then the rest as it comes, each chunk shown to the AI call. */
async function* resumed(read: Read, ai: AiCall): AsyncGenerator<Buffer> {
  for (const chunk of read.head) {
    ai.requestChunk(chunk);
    yield chunk;
  }
  for (let r = await read.rest!.next(); r.done !== true; r = await read.rest!.next()) {
    ai.requestChunk(r.value);
    yield r.value;
  }
}

/** The request body as undici reads it, with each chunk also shown to the AI call (model, stream flag). */
async function* teeRequest(req: IncomingMessage, ai: AiCall): AsyncGenerator<Buffer> {
  for await (const chunk of req) {
    ai.requestChunk(chunk as Buffer);
    yield chunk as Buffer;
  }
}
