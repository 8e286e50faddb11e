// The sidecar's proxy run in this process (sidecar/index.ts, real sockets on free ports), where the
// writes on its client sockets can be counted: a proxied response costs the proxy one socket write
// per burst of what the app sent, as node:http alone would write it. Each write is a syscall, and on
// a small response that syscall is most of the proxy's cost (bench/sidecar.mjs).
import { once } from 'node:events';
import { Agent, createServer, get, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../config/index.js';
import { type Sidecar, startSidecar } from '../sidecar/index.js';

type Counted = Socket & {
  _writeGeneric(writev: boolean, data: unknown, encoding: string, cb: unknown): void;
};

const open: { upstream?: Server; sidecar?: Sidecar; agent?: Agent } = {};

afterEach(async () => {
  open.agent?.destroy();
  if (open.sidecar !== undefined) await open.sidecar.drain();
  open.upstream?.closeAllConnections();
  open.upstream?.close();
  open.upstream = undefined;
  open.sidecar = undefined;
});

/** The sidecar in front of `handler`; `writes()` counts the writes on the proxy's client sockets. */
async function proxied(handler: Parameters<typeof createServer>[1]): Promise<{
  fetchText: (path: string) => Promise<{ status: number; headers: Record<string, unknown>; body: string }>;
  writes: () => number;
}> {
  const upstream = createServer(handler!);
  upstream.listen(0, '127.0.0.1');
  await once(upstream, 'listening');
  open.upstream = upstream;
  const { config, problems } = loadConfig(
    {
      TAPWIRE_ENV: 'test',
      TAPWIRE_UPSTREAM: `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`,
      TAPWIRE_PROXY_PORT: '0',
      TAPWIRE_GATEWAY_PORT: '0',
      OTEL_EXPORTER_PROMETHEUS_PORT: '0',
      OTEL_EXPORTER_PROMETHEUS_HOST: '127.0.0.1',
    },
    { isTTY: false },
  );
  expect(problems).toEqual([]);
  const sidecar = await startSidecar(config);
  open.sidecar = sidecar;
  let writes = 0;
  sidecar.proxy.on('connection', (socket: Counted) => {
    // net.Socket's _write and _writev both end here: one call, one write to the kernel.
    const write = socket._writeGeneric;
    socket._writeGeneric = function (this: Counted, ...args) {
      writes++;
      return write.apply(this, args);
    };
  });
  const port = (sidecar.proxy.address() as AddressInfo).port;
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  open.agent = agent;
  const fetchText = (path: string) =>
    new Promise<{ status: number; headers: Record<string, unknown>; body: string }>((resolve, reject) => {
      get({ host: '127.0.0.1', port, path, agent }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
        res.on('error', reject);
      }).on('error', reject);
    });
  return { fetchText, writes: () => writes };
}

describe('sidecar proxy: socket writes per response', () => {
  it('a small chunked response (head, body and its last chunk) leaves in one write', async () => {
    const { fetchText, writes } = await proxied((_req, res) => {
      // writeHead then end(body): node:http frames this chunked, as the bench's hello app is.
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('hello');
    });
    for (let i = 0; i < 10; i++) {
      const r = await fetchText(`/hello/${i}`);
      expect(r.status).toBe(200);
      expect(r.headers['transfer-encoding']).toBe('chunked');
      expect(r.body).toBe('hello');
    }
    // Ten responses, ten writes (the proxy corked its responses itself before: twenty).
    expect(writes()).toBe(10);
  });

  it('an event stream whose events come in one read arrives whole: its head at once, the events and the end together', async () => {
    const events = Array.from({ length: 20 }, (_, i) => `data: {"n":${i}}\n\n`).join('');
    const { fetchText, writes } = await proxied((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.end(events);
    });
    for (let i = 0; i < 8; i++) {
      const r = await fetchText('/stream');
      expect(r.status).toBe(200);
      expect(r.body).toBe(events);
    }
    expect(writes()).toBe(16);
  });
});
