// The fastest plain reverse proxy we could write on Node, for bench/sidecar.mjs: what the sidecar's
// request path costs before tapwire measures anything. One undici Pool to the upstream (as the
// sidecar), Pool#dispatch with a handler writing straight into the response (undici's lowest-level
// API: no Readable per response), hop-by-hop headers dropped, X-Forwarded-For added (as nginx is set
// up), request bodies streamed. Nothing is recorded.
//   UPSTREAM=http://127.0.0.1:PORT PORT=... node bench/apps/plain-proxy.mjs
import http from 'node:http';
import { Pool } from 'undici';

const HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
  'host',
]);
const pool = new Pool(process.env.UPSTREAM, { keepAliveTimeout: 4_000, bodyTimeout: 0 });

function requestHeaders(req) {
  const out = [];
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    if (!HOP.has(raw[i].toLowerCase())) out.push(raw[i], raw[i + 1]);
  }
  out.push('x-forwarded-for', req.socket.remoteAddress ?? '');
  return out;
}

http
  .createServer((req, res) => {
    const withBody =
      req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined;
    pool.dispatch(
      { path: req.url, method: req.method, headers: requestHeaders(req), body: withBody ? req : null },
      {
        onConnect() {},
        onHeaders(status, raw, resume) {
          const headers = [];
          for (let i = 0; i < raw.length; i += 2) {
            const name = raw[i].toString('latin1');
            if (!HOP.has(name.toLowerCase())) headers.push(name, raw[i + 1].toString('latin1'));
          }
          res.writeHead(status, headers);
          res.on('drain', resume);
          return true;
        },
        onData(chunk) {
          return res.write(chunk);
        },
        onComplete() {
          res.end();
        },
        onError() {
          if (res.headersSent) res.destroy();
          else {
            res.writeHead(502);
            res.end();
          }
        },
      },
    );
  })
  .listen(Number(process.env.PORT), '127.0.0.1');
