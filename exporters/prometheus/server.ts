// The /metrics endpoint. It never keeps the process alive (unref) and never stops the app: a port
// that is taken is one warning and the endpoint stays off. The process holding a host's endpoint
// also answers its siblings (agent/endpoint.ts): GET /tapwire says who holds the port, POST
// /v1/metrics takes their pushed metrics — from the same host only.
//
// On Bun it is a Bun.serve server: Bun's node:http is a JavaScript layer that costs ~13 ms to
// load, which an app on Bun.serve would otherwise pay for tapwire's sake. On Node the port is held
// by a node:net server, and node:http is loaded and handed the connection when the first one
// arrives: a process nobody scrapes or pushes to (a CLI, a test runner's child) never loads it.
import type { Server } from 'node:http';
import type { LiveAnswer } from '../live/index.js';
import { type OtlpAnswer, reply } from '../otlp-answer.js';
import { CONTENT_TYPE, OPENMETRICS_CONTENT_TYPE } from './content-type.js';
import { PageBuffer, sendPage } from './page-buffer.js';

// The runtime's own Response, taken when the preload loads: @hono/node-server (and others)
// replace globalThis.Response with their own class later, and Bun.serve and fetch deal in the
// native one. On Bun only: on Node the first read of globalThis.Response loads undici (fetch,
// Headers, WebIDL...), measured +30 ms of start-up for every process, and Node never uses it here.
const NativeResponse = ('Bun' in globalThis ? globalThis.Response : undefined) as typeof Response;

export interface MetricsServerOptions {
  host: string;
  port: number;
  /**
   * Produces the exposition text in pieces (./serialize.ts serializePieces()): OpenMetrics (with
   * exemplars) when the scrape asked for it.
   */
  render: (openMetrics: boolean) => Promise<string[]>;
  /** Called once when the server cannot listen. */
  onListenError: (error: NodeJS.ErrnoException) => void;
  onListening?: (address: { host: string; port: number }) => void;
  /** Called when render() fails; that scrape is answered 500, the next one renders again. */
  onRenderError: (error: unknown) => void;
  /** GET /tapwire: who holds the port (JSON), so a sibling can tell it from a foreign process. */
  identity?: () => unknown;
  /** POST /v1/metrics from this host: an OTLP push of a sibling; `final` when it exits. */
  receive?: (
    contentType: string,
    encoding: string | undefined,
    body: Uint8Array,
    final: boolean,
  ) => OtlpAnswer;
  /** The live page (TAPWIRE_DASHBOARD): `GET /` and `GET /live.json`; without it `/` answers ok. */
  live?: { page(): Promise<LiveAnswer>; data(): Promise<LiveAnswer> };
  /** Node: the HTTP server, once the first connection made one (tapwire's own, not the app's). */
  onHttpServer?: (server: Server) => void;
}

/** Pushed bodies are bounded: whatever a sibling sends becomes series. */
export const MAX_PUSH_BYTES = 16 * 1024 * 1024;
const FINAL_HEADER = 'x-tapwire-final';
/** A sibling's connection token, sent with its question and its pushes (../push.ts). */
const TOKEN_HEADER = 'x-tapwire-token';
/** Tokens of local questions kept; the oldest is dropped beyond (a follower that never ended cleanly). */
const MAX_TOKENS = 1024;

function loopback(address: string | null | undefined): boolean {
  return address === '127.0.0.1' || address === '::1' || address === '::ffff:127.0.0.1';
}

/**
 * Whether a push comes from this host. Its address says, as long as the connection is open. A
 * sibling that ended before its holder read its question (the holder's loop blocked: a parent in
 * execFileSync) has its last push written behind the question, and once that connection has
 * closed, Bun.serve no longer knows the address of a request after the first on it (requestIP()
 * null; Bun 1.4.5). So the question carries a random token: asked from loopback, the token is
 * remembered, and a push of no known address with that token is the same connection's. A push
 * from an address that is not loopback is refused whatever it carries.
 */
class Locality {
  private readonly tokens = new Set<string>();

  question(address: string | null | undefined, token: string | null | undefined): void {
    if (!loopback(address) || typeof token !== 'string' || token.length === 0 || token.length > 64) return;
    this.tokens.add(token);
    if (this.tokens.size > MAX_TOKENS) this.tokens.delete(this.tokens.values().next().value as string);
  }

  push(address: string | null | undefined, token: string | null | undefined, final: boolean): boolean {
    const known = typeof token === 'string' && this.tokens.has(token);
    if (known && final) this.tokens.delete(token);
    return loopback(address) || ((address === null || address === undefined) && known);
  }
}

/** The answer of the sibling routes, or undefined for a path that is not one of them. */
async function sibling(
  options: MetricsServerOptions,
  locality: Locality,
  method: string | undefined,
  path: string,
  address: string | null | undefined,
  token: string | null | undefined,
  contentType: string,
  encoding: string | undefined,
  length: number,
  bytes: () => Promise<Uint8Array>,
  final: boolean,
): Promise<OtlpAnswer | undefined> {
  if (path === '/tapwire' && options.identity !== undefined && method === 'GET') {
    locality.question(address, token);
    return { status: 200, body: options.identity() };
  }
  if (path !== '/v1/metrics' || options.receive === undefined) return undefined;
  if (method !== 'POST') return { status: 405, body: { error: 'POST only' } };
  if (!locality.push(address, token, final))
    return { status: 403, body: { error: 'pushes are taken from this host only' } };
  if (length > MAX_PUSH_BYTES)
    return { status: 413, body: { error: `body larger than ${MAX_PUSH_BYTES} bytes` } };
  return options.receive(contentType, encoding, await bytes(), final);
}

// Whether an Accept header prefers OpenMetrics to the text format, as Prometheus' own does
// (`application/openmetrics-text;version=1.0.0,…;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1`).
// Without one, or with text first, the text format: what every scrape got before.
export function wantsOpenMetrics(accept: string | null | undefined): boolean {
  if (accept === null || accept === undefined || !accept.includes('application/openmetrics-text'))
    return false;
  let om = 0;
  let text = 0;
  for (const part of accept.split(',')) {
    const [type, ...params] = part.split(';').map((p) => p.trim().toLowerCase());
    const qp = params.find((p) => p.startsWith('q='));
    const q = qp === undefined ? 1 : Number(qp.slice(2));
    if (!(q > 0)) continue;
    if (type === 'application/openmetrics-text') om = Math.max(om, q);
    else if (type === 'text/plain') text = Math.max(text, q);
  }
  return om > 0 && om >= text;
}

/** The 500 a scrape gets when collecting failed: the error's class, never its message. */
export function collectionFailed(error: unknown): string {
  return `# tapwire: collection failed: ${error instanceof Error ? error.name : 'error'}\n`;
}

interface Routed {
  status: number;
  text?: string;
  metrics?: true;
  live?: () => Promise<LiveAnswer>;
}

/** What the endpoint answers for a method and path: status, extra headers, body or render. */
function route(options: MetricsServerOptions, method: string | undefined, path: string): Routed {
  if (method !== 'GET' && method !== 'HEAD') return { status: 405, text: '' };
  if (path === '/metrics') return { status: 200, metrics: true };
  const live = options.live;
  if (live !== undefined && path === '/') return { status: 200, live: () => live.page() };
  if (live !== undefined && path === '/live.json') return { status: 200, live: () => live.data() };
  if (path === '/' || path === '/healthz') return { status: 200, text: 'ok\n' };
  return { status: 404, text: 'not found; metrics are at /metrics\n' };
}

/** A live page that cannot be answered is a 500 without detail; /metrics is untouched by it. */
const LIVE_FAILED: LiveAnswer = { status: 500, headers: { 'content-type': 'text/plain' }, body: 'error\n' };

export interface MetricsServer {
  close(): void;
}

export function startMetricsServer(options: MetricsServerOptions, bunServe?: BunServe): MetricsServer {
  return bunServe ? startBun(options, bunServe) : startNode(options);
}

function startNode(options: MetricsServerOptions): MetricsServer {
  const net = process.getBuiltinModule('node:net') as typeof import('node:net');
  let http: Server | undefined;
  const server = net.createServer((socket) => {
    // Keep-alive sockets from a scraper must not hold a finished script open either.
    socket.unref();
    if (http === undefined) {
      http = httpServer(options);
      options.onHttpServer?.(http);
    }
    http.emit('connection', socket);
  });
  server.once('error', (error: NodeJS.ErrnoException) => options.onListenError(error));
  const listening = (): void => {
    const addr = server.address();
    if (addr && typeof addr === 'object') options.onListening?.({ host: addr.address, port: addr.port });
  };
  const bound = bindNow(net, options.host, options.port);
  if (bound instanceof Error) {
    // As a failed listen says it: after this call has returned.
    process.nextTick(() => options.onListenError(bound));
    return { close() {} };
  }
  // exclusive: in a node:cluster worker, listen() would otherwise share the primary's handle, and
  // every worker would hold the port; the first holds it, the others follow it. (A bound socket is
  // always listened on alone.)
  if (bound !== undefined) server.listen(bound, listening);
  else server.listen({ host: options.host, port: options.port, exclusive: true }, listening);
  server.unref();
  return {
    close() {
      server.close();
      // As http.Server#close does: idle keep-alive connections go now, busy ones after their answer.
      http?.closeIdleConnections();
    },
  };
}

/** node:net's BoundSocket, where this Node has it. */
type BoundSocketClass = new (options: { host?: string; port: number }) => object;

/**
 * Whether this runtime binds the endpoint's port at once (Node's net.BoundSocket): a port that is
 * taken is then known in microseconds, before anything else is loaded for the listen.
 */
export function bindsAtOnce(): boolean {
  const net = process.getBuiltinModule('node:net') as { BoundSocket?: BoundSocketClass };
  return typeof net.BoundSocket === 'function';
}

/**
 * Binds an address (not a name) at once with net.BoundSocket, where Node has it: no DNS lookup,
 * and none of what listen(host) loads and compiles for one (node:dns, the IPv6 address pattern;
 * measured ~6 ms in a fresh process, against ~3.5 ms for the whole bound listen). Returns the bound
 * socket; the bind's error (EADDRINUSE, EACCES, EADDRNOTAVAIL); or undefined where listen() must
 * do it (no BoundSocket, a host name).
 */
function bindNow(net: typeof import('node:net'), host: string, port: number): object | Error | undefined {
  const Bound = (net as { BoundSocket?: BoundSocketClass }).BoundSocket;
  if (typeof Bound !== 'function') return undefined;
  try {
    // 0.0.0.0 is BoundSocket's own default; left out, the address is not even parsed.
    return new Bound(host === '0.0.0.0' ? { port } : { host, port });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException | null)?.code;
    // ERR_INVALID_ARG_VALUE: a host name, which listen() looks up.
    if (typeof code !== 'string' || code.startsWith('ERR_')) return undefined;
    return error as Error;
  }
}

function httpServer(options: MetricsServerOptions): Server {
  const http = process.getBuiltinModule('node:http') as typeof import('node:http');
  const locality = new Locality();
  const pages = new PageBuffer();
  return http.createServer((req, res) => {
    const path = req.url?.split('?', 1)[0] ?? '/';
    if (path === '/tapwire' || path === '/v1/metrics') {
      const bytes = () => readBody(req);
      const length = Number(req.headers['content-length'] ?? 0);
      const type = req.headers['content-type'] ?? '';
      const token = req.headers[TOKEN_HEADER];
      sibling(
        options,
        locality,
        req.method,
        path,
        req.socket.remoteAddress,
        typeof token === 'string' ? token : undefined,
        type,
        req.headers['content-encoding'],
        length,
        bytes,
        req.headers[FINAL_HEADER] === '1',
      )
        .then((answer) => reply(res, answer ?? { status: 404, body: {} }))
        .catch(() => reply(res, { status: 400, body: { error: 'unreadable body' } }));
      return;
    }
    const r = route(options, req.method, path);
    if (r.live) {
      r.live()
        .catch(() => LIVE_FAILED)
        .then((answer) => {
          res.writeHead(answer.status, {
            ...answer.headers,
            'content-length': Buffer.byteLength(answer.body),
          });
          res.end(req.method === 'HEAD' ? undefined : answer.body);
        });
      return;
    }
    if (r.metrics) {
      const openMetrics = wantsOpenMetrics(req.headers.accept);
      options.render(openMetrics).then(
        (pieces) =>
          sendPage(
            res,
            pages,
            pieces,
            openMetrics ? OPENMETRICS_CONTENT_TYPE : CONTENT_TYPE,
            req.method === 'HEAD',
          ),
        (error: unknown) => {
          options.onRenderError(error);
          res.writeHead(500, { 'content-type': 'text/plain' });
          res.end(collectionFailed(error));
        },
      );
      return;
    }
    const headers: Record<string, string> = { 'content-type': 'text/plain' };
    if (r.status === 405) headers.allow = 'GET, HEAD';
    res.writeHead(r.status, headers).end(r.text);
  });
}

function readBody(req: import('node:http').IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_PUSH_BYTES) req.destroy(new Error('too large'));
      else chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

interface BunServer {
  port: number;
  hostname: string;
  unref(): void;
  stop(force?: boolean): void;
  requestIP(req: Request): { address: string } | null;
}

/** The slice of Bun.serve the endpoint uses. */
export type BunServe = (options: {
  hostname: string;
  port: number;
  fetch: (req: Request, server: BunServer) => Response | Promise<Response>;
}) => BunServer;

function startBun(options: MetricsServerOptions, serve: BunServe): MetricsServer {
  let server: ReturnType<BunServe>;
  const locality = new Locality();
  try {
    server = serve({
      hostname: options.host,
      port: options.port,
      async fetch(req, bunServer) {
        const path = new URL(req.url).pathname;
        if (path === '/tapwire' || path === '/v1/metrics') {
          let answer: OtlpAnswer | undefined;
          try {
            answer = await sibling(
              options,
              locality,
              req.method,
              path,
              bunServer.requestIP(req)?.address,
              req.headers.get(TOKEN_HEADER),
              req.headers.get('content-type') ?? '',
              req.headers.get('content-encoding') ?? undefined,
              Number(req.headers.get('content-length') ?? 0),
              async () => new Uint8Array(await req.arrayBuffer()),
              req.headers.get(FINAL_HEADER) === '1',
            );
          } catch {
            answer = { status: 400, body: { error: 'unreadable body' } };
          }
          answer ??= { status: 404, body: {} };
          if (answer.proto !== undefined) {
            return new NativeResponse(answer.proto as Uint8Array<ArrayBuffer>, {
              status: answer.status,
              headers: { 'content-type': 'application/x-protobuf' },
            });
          }
          return new NativeResponse(JSON.stringify(answer.body), {
            status: answer.status,
            headers: { 'content-type': 'application/json' },
          });
        }
        const r = route(options, req.method, path);
        if (r.live) {
          const answer = await r.live().catch(() => LIVE_FAILED);
          // HEAD: Bun sends the headers, content-length included, without the body.
          return new NativeResponse(answer.body, {
            status: answer.status,
            headers: answer.headers,
          });
        }
        if (!r.metrics) {
          const headers: Record<string, string> = { 'content-type': 'text/plain' };
          if (r.status === 405) headers.allow = 'GET, HEAD';
          return new NativeResponse(r.text, { status: r.status, headers });
        }
        try {
          const openMetrics = wantsOpenMetrics(req.headers.get('accept'));
          const body = (await options.render(openMetrics)).join('');
          return new NativeResponse(body, {
            headers: { 'content-type': openMetrics ? OPENMETRICS_CONTENT_TYPE : CONTENT_TYPE },
          });
        } catch (error) {
          options.onRenderError(error);
          return new NativeResponse(collectionFailed(error), {
            status: 500,
            headers: { 'content-type': 'text/plain' },
          });
        }
      },
    });
  } catch (error) {
    // Bun.serve throws synchronously when it cannot listen (EADDRINUSE, EACCES, ...); anything
    // else is not a listen error and goes to the caller.
    const code = (error as NodeJS.ErrnoException | null)?.code;
    if (typeof code !== 'string' || !code.startsWith('E')) throw error;
    options.onListenError(error as NodeJS.ErrnoException);
    return { close() {} };
  }
  server.unref();
  options.onListening?.({ host: server.hostname, port: server.port });
  return { close: () => server.stop(true) };
}
