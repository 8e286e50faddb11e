// The /metrics endpoint. It never keeps the process alive (unref) and never stops the app: a port
// that is taken is one warning and the endpoint stays off.
import { createServer, type Server } from 'node:http';
import { CONTENT_TYPE } from './serialize.js';

export interface MetricsServerOptions {
  host: string;
  port: number;
  /** Produces the exposition text. */
  render: () => Promise<string>;
  /** Called once when the server cannot listen. */
  onListenError: (error: NodeJS.ErrnoException) => void;
  onListening?: (address: { host: string; port: number }) => void;
}

export function startMetricsServer(options: MetricsServerOptions): Server {
  const server = createServer((req, res) => {
    const path = req.url?.split('?', 1)[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    if (path === '/metrics') {
      options.render().then(
        (body) => {
          res.writeHead(200, { 'content-type': CONTENT_TYPE, 'content-length': Buffer.byteLength(body) });
          res.end(req.method === 'HEAD' ? undefined : body);
        },
        (error: unknown) => {
          res.writeHead(500, { 'content-type': 'text/plain' });
          res.end(`# tapwire: collection failed: ${error instanceof Error ? error.name : 'error'}\n`);
        },
      );
      return;
    }
    if (path === '/' || path === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found; metrics are at /metrics\n');
  });
  // Keep-alive sockets from a scraper must not hold a finished script open either.
  server.on('connection', (socket) => socket.unref());
  server.once('error', (error: NodeJS.ErrnoException) => options.onListenError(error));
  server.listen({ host: options.host, port: options.port }, () => {
    const addr = server.address();
    if (addr && typeof addr === 'object') options.onListening?.({ host: addr.address, port: addr.port });
  });
  server.unref();
  return server;
}
