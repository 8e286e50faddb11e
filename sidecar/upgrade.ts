// WebSocket (and any other HTTP/1.1 Upgrade) pass-through: the handshake request is written to a
// fresh TCP (or TLS) connection to the app as it came, then both sockets are piped into each
// other byte for byte. The sidecar never parses frames. The handshake is measured like a request
// (status from the app's answer line, usually 101; duration until that answer), the tunnel's
// lifetime is not: a minutes-long socket would swamp the request-duration histogram.
import type { IncomingMessage } from 'node:http';
import { connect as netConnect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { connect as tlsConnect } from 'node:tls';
import type { HttpRecorder } from '../core/http/recorder.js';
import { errorClass, serverErrorType } from '../core/http/semconv.js';
import type { RouteMatcher } from './routes.js';

export class UpgradeTunnels {
  /** Open tunnels, closed at the end of the drain. */
  readonly open = new Set<Duplex>();

  constructor(
    private readonly upstream: URL,
    private readonly http: HttpRecorder,
    private readonly routeOf: RouteMatcher,
    private readonly timeoutMs: number,
  ) {}

  handle(req: IncomingMessage, client: Duplex, head: Buffer): void {
    const op = this.http.server(req, 'http');
    const route = this.routeOf(req.url ?? '/');
    let recorded = false;
    const record = (status: number, completed: boolean) => {
      if (recorded) return;
      recorded = true;
      op.end(status, route, serverErrorType(status, completed));
    };

    const port = Number(this.upstream.port) || (this.upstream.protocol === 'https:' ? 443 : 80);
    const host = this.upstream.hostname.replace(/^\[|\]$/g, '');
    const upstream: Socket =
      this.upstream.protocol === 'https:'
        ? tlsConnect({ host, port, servername: host })
        : netConnect({ host, port });
    upstream.setTimeout(this.timeoutMs);
    this.open.add(client);

    let head1 = `${req.method} ${req.url} HTTP/1.1\r\n`;
    const raw = req.rawHeaders;
    for (let i = 0; i < raw.length; i += 2) head1 += `${raw[i]}: ${raw[i + 1]}\r\n`;
    const peer = req.socket.remoteAddress;
    if (peer) head1 += `X-Forwarded-For: ${peer}\r\n`;
    head1 += '\r\n';

    const fail = (error: Error) => {
      const type = errorClass(error);
      if (!recorded) {
        record(502, true);
        const body = JSON.stringify({
          error: `cannot reach the app at ${this.upstream.origin}`,
          error_type: type,
        });
        if (client.writable) {
          client.end(
            `HTTP/1.1 502 Bad Gateway\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
          );
        }
      } else {
        client.destroy();
      }
      upstream.destroy();
    };

    upstream.once(this.upstream.protocol === 'https:' ? 'secureConnect' : 'connect', () => {
      upstream.setTimeout(0);
      upstream.write(head1);
      if (head.length > 0) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    upstream.once('data', (chunk: Buffer) => {
      // "HTTP/1.1 101 Switching Protocols": the status is bytes 9-11 of the first line.
      const status = Number(chunk.toString('latin1', 9, 12));
      record(Number.isInteger(status) && status >= 100 ? status : 502, true);
    });
    upstream.once('timeout', () => fail(Object.assign(new Error('upstream timeout'), { code: 'ETIMEDOUT' })));
    upstream.once('error', fail);
    upstream.once('close', () => {
      if (!recorded) record(502, false);
      client.destroy();
    });
    client.once('error', () => upstream.destroy());
    client.once('close', () => {
      this.open.delete(client);
      if (!recorded) record(0, false);
      upstream.destroy();
    });
  }

  closeAll(): void {
    for (const s of this.open) s.destroy();
    this.open.clear();
  }
}
