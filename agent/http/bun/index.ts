// Bun's HTTP hooks (./server.ts, ./client.ts) speak a small start/end recorder interface; this
// adapts it to the shared HttpRecorder. Loaded only under Bun (agent/start.ts imports it on demand).
import type { Attributes } from '@opentelemetry/api';
import { internalOrigins } from '../node-client.js';
import type { HttpRecorder } from '../record.js';
import { defaultPort } from '../semconv.js';
import { installBunFetch } from './client.js';
import { installBunNodeHttpServer, installBunServe } from './server.js';
import type { ClientRecorder, ServerRecorder } from './types.js';

interface ServerToken {
  start: number;
  key: Attributes;
}

interface ClientToken {
  start: number;
  method: string;
  address: string;
  port: number;
  scheme: string;
}

/** A request tapwire does not measure (its own OTLP traffic, an unparseable URL). */
const SKIP = Object.freeze({ start: -1 }) as ClientToken;

function serverAdapter(http: HttpRecorder): ServerRecorder {
  return {
    start(method: string, scheme: string): ServerToken {
      return { start: performance.now(), key: http.serverStart(method, scheme) };
    },
    end(token: unknown, status: number, route: string | undefined, errorType: string | undefined): void {
      const t = token as ServerToken;
      http.serverEnd(t.key, (performance.now() - t.start) / 1000, status, route, errorType);
    },
  };
}

function clientAdapter(http: HttpRecorder): ClientRecorder {
  return {
    start(method: string, url: URL | string): ClientToken {
      const u = typeof url === 'string' ? URL.parse(url) : url;
      if (u === null || (u.protocol !== 'http:' && u.protocol !== 'https:')) return SKIP;
      const scheme = u.protocol === 'https:' ? 'https' : 'http';
      const address = u.hostname.startsWith('[') ? u.hostname.slice(1, -1) : u.hostname;
      const port = u.port === '' ? defaultPort(scheme) : Number(u.port);
      if (internalOrigins.size > 0 && internalOrigins.has(`${scheme}://${address}:${port}`)) return SKIP;
      return { start: performance.now(), method, address, port, scheme };
    },
    end(token: unknown, status: number, errorType: string | undefined): void {
      const t = token as ClientToken;
      if (t.start < 0) return;
      http.client(
        t.method,
        (performance.now() - t.start) / 1000,
        status,
        t.address,
        t.port,
        t.scheme,
        errorType,
      );
    },
  };
}

export function installBunHttp(http: HttpRecorder): void {
  const server = serverAdapter(http);
  installBunServe(server);
  installBunNodeHttpServer(server);
  installBunFetch(clientAdapter(http));
}
