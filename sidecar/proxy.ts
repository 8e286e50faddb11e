// The inbound reverse proxy: every request on TAPWIRE_PROXY_PORT goes to TAPWIRE_UPSTREAM over
// one undici Pool and is measured as the app's http.server.* exactly as the preload would measure
// it (core/http/): duration from the first byte of the request to the end of the response, status,
// route template (./routes.ts), `error.type` for 5xx and aborted responses.
// An upstream that is down or dies mid-request is a 502 (504 on the header timeout) with a JSON
// body naming the cause, recorded like any other 502; the proxy itself never falls over.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Pool } from 'undici';
import type { HttpRecorder } from '../core/http/recorder.js';
import { serverErrorType } from '../core/http/semconv.js';
import type { ServerOp } from '../core/http/server.js';
import { Exchange, type ExchangeObserver, forwardHeaders, hasBody } from './forward.js';
import type { RouteMatcher } from './routes.js';

export interface ProxyOptions {
  upstream: URL;
  routeOf: RouteMatcher;
  http: HttpRecorder;
  timeoutSeconds: number;
}

interface Flight {
  op: ServerOp;
  route: string | undefined;
}

export class InboundProxy implements ExchangeObserver {
  readonly pool: Pool;
  /** Requests in flight, for the drain on SIGTERM. */
  inFlight = 0;
  onIdle: (() => void) | undefined;
  private readonly name: string;
  private readonly forwardedProto: readonly string[];

  constructor(private readonly options: ProxyOptions) {
    this.pool = new Pool(options.upstream.origin, {
      headersTimeout: options.timeoutSeconds * 1000,
      connectTimeout: Math.min(10_000, options.timeoutSeconds * 1000),
      // No idle limit on bodies: server-sent events and long downloads may pause for minutes.
      bodyTimeout: 0,
      keepAliveTimeout: 4_000,
    });
    this.name = `the app at ${options.upstream.origin}`;
    this.forwardedProto = ['x-forwarded-proto', 'http'];
  }

  handle(req: IncomingMessage, res: ServerResponse): void {
    const op = this.options.http.server(req, 'http');
    this.inFlight++;
    const exchange = new Exchange(req, res, this, this.name);
    exchange.data = { op, route: this.options.routeOf(req.url ?? '/') } satisfies Flight;
    const withBody = hasBody(req);
    try {
      this.pool.dispatch(
        {
          path: req.url ?? '/',
          method: req.method ?? 'GET',
          headers: forwardHeaders(req, false, this.forwardedProto),
          body: withBody ? req : null,
          // The app decides about its connections; one client's close must not close ours.
          reset: false,
        },
        exchange,
      );
    } catch (error) {
      // Invalid method or header for undici: answer like an upstream failure rather than throw.
      exchange.onError(error as Error);
    }
  }

  onClose(exchange: Exchange): void {
    const flight = exchange.data as Flight;
    const res = exchange.res;
    const status = exchange.status || res.statusCode;
    const completed = res.writableFinished;
    flight.op.end(status, flight.route, serverErrorType(status, completed));
    this.inFlight--;
    if (this.inFlight === 0) this.onIdle?.();
  }

  close(): Promise<void> {
    return this.pool.destroy();
  }
}
