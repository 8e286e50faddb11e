// The /metrics endpoint. It never keeps the process alive (unref) and never stops the app: a port
// that is taken is one warning and the endpoint stays off.
//
// On Bun it is a Bun.serve server: Bun's node:http is a JavaScript layer that costs ~13 ms to
// load, which an app on Bun.serve would otherwise pay for tapwire's sake. On Node, node:http is
// taken with process.getBuiltinModule so that nothing here loads it for a process that never
// opens the endpoint.
import type { Server } from 'node:http';
import { CONTENT_TYPE } from './serialize.js';

// The runtime's own Response, taken when the preload loads: @hono/node-server (and others)
// replace globalThis.Response with their own class later, and Bun.serve and fetch deal in the
// native one.
const NativeResponse: typeof Response = globalThis.Response;

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
  /** The node:http server on Node (tapwire's own, excluded from the app's metrics). */
  node: Server | undefined;
  close(): void;
}

export function startMetricsServer(options: MetricsServerOptions, bunServe?: BunServe): MetricsServer {
  return bunServe ? startBun(options, bunServe) : startNode(options);
}

function startNode(options: MetricsServerOptions): MetricsServer {
  const http = process.getBuiltinModule('node:http') as typeof import('node:http');
  const server = http.createServer((req, res) => {
    const r = route(req.method, req.url?.split('?', 1)[0] ?? '/');
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
  // Keep-alive sockets from a scraper must not hold a finished script open either.
  server.on('connection', (socket) => socket.unref());
  server.once('error', (error: NodeJS.ErrnoException) => options.onListenError(error));
  server.listen({ host: options.host, port: options.port }, () => {
    const addr = server.address();
    if (addr && typeof addr === 'object') options.onListening?.({ host: addr.address, port: addr.port });
  });
  server.unref();
  return { node: server, close: () => server.close() };
}

/** The slice of Bun.serve the endpoint uses. */
export type BunServe = (options: {
  hostname: string;
  port: number;
  fetch: (req: Request) => Response | Promise<Response>;
}) => { port: number; hostname: string; unref(): void; stop(force?: boolean): void };

function startBun(options: MetricsServerOptions, serve: BunServe): MetricsServer {
  let server: ReturnType<BunServe>;
  try {
    server = serve({
      hostname: options.host,
      port: options.port,
      async fetch(req) {
        const r = route(req.method, new URL(req.url).pathname);
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
    return { node: undefined, close() {} };
  }
  server.unref();
  options.onListening?.({ host: server.hostname, port: server.port });
  return { node: undefined, close: () => server.stop(true) };
}
