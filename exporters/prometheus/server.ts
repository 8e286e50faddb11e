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
import { CONTENT_TYPE } from './serialize.js';

// The runtime's own Response, taken when the preload loads: @hono/node-server (and others)
// replace globalThis.Response with their own class later, and Bun.serve and fetch deal in the
// native one. On Bun only: on Node the first read of globalThis.Response loads undici (fetch,
// Headers, WebIDL...), measured +30 ms of start-up for every process, and Node never uses it here.
const NativeResponse = ('Bun' in globalThis ? globalThis.Response : undefined) as typeof Response;

export interface MetricsServerOptions {
  host: string;
  port: number;
  /** Produces the exposition text. */
  render: () => Promise<string>;
  /** Called once when the server cannot listen. */
  onListenError: (error: NodeJS.ErrnoException) => void;
  onListening?: (address: { host: string; port: number }) => void;
  /** Called when render() fails; that scrape is answered 500, the next one renders again. */
  onRenderError: (error: unknown) => void;
  /** GET /tapwire: who holds the port (JSON), so a sibling can tell it from a foreign process. */
  identity?: () => unknown;
  /** POST /v1/metrics from this host: an OTLP JSON push of a sibling; `final` when it exits. */
  receive?: (contentType: string, text: string, final: boolean) => { status: number; body: unknown };
  /** Node: the HTTP server, once the first connection made one (tapwire's own, not the app's). */
  onHttpServer?: (server: Server) => void;
}

/** Pushed bodies are bounded: whatever a sibling sends becomes series. */
export const MAX_PUSH_BYTES = 16 * 1024 * 1024;
const FINAL_HEADER = 'x-tapwire-final';

function loopback(address: string | undefined): boolean {
  return address === '127.0.0.1' || address === '::1' || address === '::ffff:127.0.0.1';
}

/** JSON answer of the sibling routes, or undefined for a path that is not one of them. */
async function sibling(
  options: MetricsServerOptions,
  method: string | undefined,
  path: string,
  local: boolean,
  contentType: string,
  length: number,
  text: () => Promise<string>,
  final: boolean,
): Promise<{ status: number; body: unknown } | undefined> {
  if (path === '/tapwire' && options.identity !== undefined && method === 'GET') {
    return { status: 200, body: options.identity() };
  }
  if (path !== '/v1/metrics' || options.receive === undefined) return undefined;
  if (method !== 'POST') return { status: 405, body: { error: 'POST only' } };
  if (!local) return { status: 403, body: { error: 'pushes are taken from this host only' } };
  if (length > MAX_PUSH_BYTES)
    return { status: 413, body: { error: `body larger than ${MAX_PUSH_BYTES} bytes` } };
  return options.receive(contentType, await text(), final);
}

/** The 500 a scrape gets when collecting failed: the error's class, never its message. */
export function collectionFailed(error: unknown): string {
  return `# tapwire: collection failed: ${error instanceof Error ? error.name : 'error'}\n`;
}

/** What the endpoint answers for a method and path: status, extra headers, body or render. */
function route(method: string | undefined, path: string): { status: number; text?: string; metrics?: true } {
  if (method !== 'GET' && method !== 'HEAD') return { status: 405, text: '' };
  if (path === '/metrics') return { status: 200, metrics: true };
  if (path === '/' || path === '/healthz') return { status: 200, text: 'ok\n' };
  return { status: 404, text: 'not found; metrics are at /metrics\n' };
}

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
  // exclusive: in a node:cluster worker, listen() would otherwise share the primary's handle, and
  // every worker would hold the port; the first holds it, the others follow it.
  server.listen({ host: options.host, port: options.port, exclusive: true }, () => {
    const addr = server.address();
    if (addr && typeof addr === 'object') options.onListening?.({ host: addr.address, port: addr.port });
  });
  server.unref();
  return {
    close() {
      server.close();
      // As http.Server#close does: idle keep-alive connections go now, busy ones after their answer.
      http?.closeIdleConnections();
    },
  };
}

function httpServer(options: MetricsServerOptions): Server {
  const http = process.getBuiltinModule('node:http') as typeof import('node:http');
  return http.createServer((req, res) => {
    const path = req.url?.split('?', 1)[0] ?? '/';
    if (path === '/tapwire' || path === '/v1/metrics') {
      const text = () => readBody(req);
      const length = Number(req.headers['content-length'] ?? 0);
      const type = req.headers['content-type'] ?? '';
      sibling(
        options,
        req.method,
        path,
        loopback(req.socket.remoteAddress),
        type,
        length,
        text,
        req.headers[FINAL_HEADER] === '1',
      )
        .then((answer) => json(res, answer ?? { status: 404, body: {} }))
        .catch(() => json(res, { status: 400, body: { error: 'unreadable body' } }));
      return;
    }
    const r = route(req.method, path);
    if (r.metrics) {
      options.render().then(
        (body) => {
          res.writeHead(200, { 'content-type': CONTENT_TYPE, 'content-length': Buffer.byteLength(body) });
          res.end(req.method === 'HEAD' ? undefined : body);
        },
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

function readBody(req: import('node:http').IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_PUSH_BYTES) req.destroy(new Error('too large'));
      else chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function json(res: import('node:http').ServerResponse, answer: { status: number; body: unknown }): void {
  if (res.headersSent) return;
  const text = JSON.stringify(answer.body);
  res.writeHead(answer.status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
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
  try {
    server = serve({
      hostname: options.host,
      port: options.port,
      async fetch(req, bunServer) {
        const path = new URL(req.url).pathname;
        if (path === '/tapwire' || path === '/v1/metrics') {
          let answer: { status: number; body: unknown } | undefined;
          try {
            answer = await sibling(
              options,
              req.method,
              path,
              loopback(bunServer.requestIP(req)?.address),
              req.headers.get('content-type') ?? '',
              Number(req.headers.get('content-length') ?? 0),
              () => req.text(),
              req.headers.get(FINAL_HEADER) === '1',
            );
          } catch {
            answer = { status: 400, body: { error: 'unreadable body' } };
          }
          answer ??= { status: 404, body: {} };
          return new NativeResponse(JSON.stringify(answer.body), {
            status: answer.status,
            headers: { 'content-type': 'application/json' },
          });
        }
        const r = route(req.method, path);
        if (!r.metrics) {
          const headers: Record<string, string> = { 'content-type': 'text/plain' };
          if (r.status === 405) headers.allow = 'GET, HEAD';
          return new NativeResponse(r.text, { status: r.status, headers });
        }
        try {
          const body = await options.render();
          return new NativeResponse(req.method === 'HEAD' ? null : body, {
            headers: { 'content-type': CONTENT_TYPE },
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
