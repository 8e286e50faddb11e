// `tapwire sidecar` as a user runs it: the built CLI in its own process, a Python app behind it,
// real sockets on free ports, and the assertions read the sidecar's /metrics.
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer, request, type Server } from 'node:http';
import { join } from 'node:path';
import OpenAI from 'openai';
import { afterEach, describe, expect, it } from 'vitest';
import { startStandin } from '../cli/demo/standin/index.js';
import {
  FIXTURES,
  find,
  freePort,
  NODE,
  parseMetrics,
  promtoolCheckMetrics,
  ROOT,
  scrape,
  startApp,
  stopAll,
  sum,
  value,
  waitForHttp,
} from './support/index.js';

const CLI = join(ROOT, 'dist/cli/main.js');
const DURATION = 'http_server_request_duration_seconds_count';

interface Proc {
  child: ChildProcess;
  port: number;
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const procs = new Set<Proc>();

function track(child: ChildProcess, port: number): Proc {
  let out = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => {
    out += d;
  });
  child.stderr?.setEncoding('utf8').on('data', (d: string) => {
    out += d;
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  const p: Proc = { child, port, output: () => out, exited };
  procs.add(p);
  return p;
}

async function stop(p: Proc): Promise<void> {
  procs.delete(p);
  if (p.child.exitCode === null && p.child.signalCode === null) {
    p.child.kill('SIGKILL');
    await p.exited;
  }
}

/** node:http servers a test started; closed after it. */
const servers: Server[] = [];

afterEach(async () => {
  await Promise.all([...procs].map(stop));
  await stopAll();
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    s.close();
  }
});

async function startPython(file: string): Promise<Proc> {
  const port = await freePort();
  const p = track(
    spawn('python3', [join(FIXTURES, file)], {
      env: { PATH: process.env.PATH, TMPDIR: process.env.TMPDIR, PORT: String(port) },
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
    port,
  );
  await waitForHttp(`http://127.0.0.1:${port}/status/200`, 15_000, p.exited);
  return p;
}

interface Sidecar extends Proc {
  metricsPort: number;
  gatewayPort: number;
  url(path: string): string;
  metrics(): Promise<string>;
}

async function startSidecar(upstreamPort: number, env: Record<string, string> = {}): Promise<Sidecar> {
  const port = await freePort();
  const metricsPort = await freePort();
  const gatewayPort = await freePort();
  const child = spawn(NODE, [CLI, 'sidecar'], {
    env: {
      PATH: process.env.PATH,
      TMPDIR: process.env.TMPDIR,
      TAPWIRE_ENV: 'test',
      OTEL_SERVICE_NAME: 'py-app',
      TAPWIRE_PROXY_PORT: String(port),
      TAPWIRE_UPSTREAM: `http://127.0.0.1:${upstreamPort}`,
      TAPWIRE_GATEWAY_PORT: String(gatewayPort),
      OTEL_EXPORTER_PROMETHEUS_PORT: String(metricsPort),
      OTEL_EXPORTER_PROMETHEUS_HOST: '127.0.0.1',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const p = track(child, port);
  await waitForHttp(`http://127.0.0.1:${metricsPort}/healthz`, 15_000, p.exited).catch((error) => {
    throw new Error(`${(error as Error).message}\n${p.output()}`);
  });
  return {
    ...p,
    metricsPort,
    gatewayPort,
    url: (path) => `http://127.0.0.1:${port}${path}`,
    metrics: () => scrape(metricsPort),
  };
}

async function get(
  url: string,
  init?: RequestInit,
): Promise<{ status: number; body: Buffer; headers: Headers }> {
  const res = await fetch(url, init);
  return { status: res.status, body: Buffer.from(await res.arrayBuffer()), headers: res.headers };
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('tapwire sidecar in front of a Python http.server app', () => {
  it('records http_server_* per status and route template, with no route label for unmatched paths', async () => {
    const app = await startPython('sidecar-app.py');
    const sidecar = await startSidecar(app.port, { TAPWIRE_ROUTES: '/users/:id,/orders/:id' });

    for (const id of [1, 2, 3]) expect((await get(sidecar.url(`/users/${id}`))).status).toBe(200);
    expect((await get(sidecar.url('/orders/9?x=1'))).status).toBe(200);
    for (let i = 0; i < 2; i++) expect((await get(sidecar.url('/status/404'))).status).toBe(404);
    expect((await get(sidecar.url('/status/503'))).status).toBe(503);
    const echoed = await get(sidecar.url('/echo'), {
      method: 'POST',
      body: 'h\u00e9llo body',
      headers: { 'content-type': 'text/plain' },
    });
    expect(echoed.status).toBe(200);
    expect(echoed.body.toString('utf8')).toBe('h\u00e9llo body');

    const text = await sidecar.metrics();
    const samples = parseMetrics(text);
    const base = { http_request_method: 'GET', url_scheme: 'http' };
    expect(
      value(samples, DURATION, { ...base, http_response_status_code: '200', http_route: '/users/:id' }),
    ).toBe(3);
    expect(
      value(samples, DURATION, { ...base, http_response_status_code: '200', http_route: '/orders/:id' }),
    ).toBe(1);
    expect(value(samples, DURATION, { ...base, http_response_status_code: '404' })).toBe(2);
    expect(value(samples, DURATION, { ...base, http_response_status_code: '503', error_type: '503' })).toBe(
      1,
    );
    expect(
      value(samples, DURATION, {
        http_request_method: 'POST',
        url_scheme: 'http',
        http_response_status_code: '200',
      }),
    ).toBe(1);
    expect(sum(samples, DURATION)).toBe(8);
    // No raw path ever became a label.
    expect(text).not.toContain('/users/1');
    expect(value(samples, 'http_server_active_requests', base)).toBe(0);
    expect(promtoolCheckMetrics(text)).toEqual({ status: 0, output: '' });
  });

  it('streams a response through unchanged and unbuffered, and passes server-sent events', async () => {
    const app = await startPython('sidecar-app.py');
    const sidecar = await startSidecar(app.port);
    const path = '/stream?n=6&size=70000&ms=250';
    const direct = await get(`http://127.0.0.1:${app.port}${path}`);
    expect(direct.body.length).toBe(6 * 70000);

    const started = Date.now();
    const res = await fetch(sidecar.url(path));
    const reader = res.body!.getReader();
    const chunks: Buffer[] = [];
    let firstAt = 0;
    for (;;) {
      const { done, value: chunk } = await reader.read();
      if (done) break;
      if (firstAt === 0) firstAt = Date.now() - started;
      chunks.push(Buffer.from(chunk));
    }
    const total = Date.now() - started;
    const proxied = Buffer.concat(chunks);
    expect(proxied.length).toBe(direct.body.length);
    expect(sha(proxied)).toBe(sha(direct.body));
    // The app spends >= 1250 ms between its first and last chunk; a buffering proxy would hand
    // over nothing before the end.
    expect(total).toBeGreaterThanOrEqual(1200);
    expect(firstAt).toBeLessThan(total - 800);

    const sse = await fetch(sidecar.url('/sse?n=3&ms=300'));
    expect(sse.headers.get('content-type')).toBe('text/event-stream');
    const sseReader = sse.body!.getReader();
    const first = Buffer.from((await sseReader.read()).value!).toString('utf8');
    expect(first).toBe('id: 0\ndata: event 0\n\n');
    let rest = '';
    for (;;) {
      const { done, value: chunk } = await sseReader.read();
      if (done) break;
      rest += Buffer.from(chunk).toString('utf8');
    }
    expect(rest).toBe('id: 1\ndata: event 1\n\nid: 2\ndata: event 2\n\n');
  });

  it('streams a 100 MB upload to the app as it arrives, holds the client back while the app does not read, and delivers every byte', async () => {
    const TOTAL = 100 * 1024 * 1024;
    const CHUNK = 64 * 1024;
    let sent = 0;
    let blocked = false;
    let sentAtFirstByte = -1;
    let resumeUpstream: () => void = () => {};
    const upstreamPaused = new Promise<void>((resolve) => {
      // The app reads its first chunk, then stops reading until the test says so.
      const upstream = createServer((req, res) => {
        const hash = createHash('sha256');
        let received = 0;
        req.once('data', (first: Buffer) => {
          sentAtFirstByte = sent;
          received += first.length;
          hash.update(first);
          req.pause();
          resumeUpstream = () => {
            req.on('data', (chunk: Buffer) => {
              received += chunk.length;
              hash.update(chunk);
            });
            req.resume();
          };
          resolve();
        });
        req.on('end', () => {
          res.setHeader('content-type', 'application/json');
          res.end(JSON.stringify({ received, sha256: hash.digest('hex') }));
        });
      });
      upstream.listen(0, '127.0.0.1');
      servers.push(upstream);
    });
    await once(servers.at(-1)!, 'listening');
    const upstreamPort = (servers.at(-1)!.address() as { port: number }).port;
    const sidecar = await startSidecar(upstreamPort);

    // Every chunk different, so a reordered or repeated chunk changes the digest.
    const sentHash = createHash('sha256');
    const base = randomBytes(CHUNK);
    const answer = new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(
        sidecar.url('/upload'),
        {
          method: 'POST',
          headers: { 'content-length': String(TOTAL), 'content-type': 'application/octet-stream' },
        },
        (res) => {
          let body = '';
          res.setEncoding('utf8').on('data', (d: string) => {
            body += d;
          });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        },
      );
      req.on('error', reject);
      let n = 0;
      const pump = () => {
        blocked = false;
        while (sent < TOTAL) {
          const chunk = Buffer.from(base);
          chunk.writeUInt32BE(n++, 0);
          sentHash.update(chunk);
          sent += chunk.length;
          if (!req.write(chunk)) {
            blocked = true;
            req.once('drain', pump);
            return;
          }
        }
        req.end();
      };
      pump();
    });

    await upstreamPaused;
    // While the app reads nothing, the client must come to a stop: wait until its writes have
    // been refused and nothing more went out for a while. A proxy that buffered the body would
    // take all 100 MB instead.
    let last = -1;
    let still = 0;
    while (still < 10 && sent < TOTAL) {
      await new Promise((r) => setTimeout(r, 50));
      still = blocked && sent === last ? still + 1 : 0;
      last = sent;
    }
    const sentWhilePaused = sent;
    resumeUpstream();
    const { status, body } = await answer;

    expect(status).toBe(200);
    expect(JSON.parse(body)).toEqual({ received: TOTAL, sha256: sentHash.digest('hex') });
    // The app had its first bytes long before the client was done sending.
    expect(sentAtFirstByte).toBeGreaterThan(0);
    expect(sentAtFirstByte).toBeLessThan(TOTAL / 4);
    // What the client got out while the app read nothing is what socket buffers hold (measured
    // ~9 MB on loopback, the same as a plain Node pipe), not the body.
    expect(sentWhilePaused).toBeLessThan(TOTAL / 4);
    const samples = parseMetrics(await sidecar.metrics());
    expect(
      value(samples, DURATION, {
        http_request_method: 'POST',
        url_scheme: 'http',
        http_response_status_code: '200',
      }),
    ).toBe(1);
  });

  it('answers 502 with error_type when the app is down or dies mid-request, records it, and stays up', async () => {
    const app = await startPython('sidecar-app.py');
    const sidecar = await startSidecar(app.port);
    expect((await fetch(`http://127.0.0.1:${sidecar.metricsPort}/readyz`)).status).toBe(200);

    const pending = get(sidecar.url('/slow?ms=10000'));
    await new Promise((r) => setTimeout(r, 500));
    app.child.kill('SIGKILL');
    const killed = await pending;
    expect(killed.status).toBe(502);
    const body = JSON.parse(killed.body.toString('utf8'));
    expect(body.error).toBe(`cannot reach the app at http://127.0.0.1:${app.port}`);
    expect(body.error_type).toMatch(/^(UND_ERR_SOCKET|ECONNRESET)$/);
    await app.exited;

    const refused = await get(sidecar.url('/users/1'));
    expect(refused.status).toBe(502);
    expect(JSON.parse(refused.body.toString('utf8'))).toEqual({
      error: `cannot reach the app at http://127.0.0.1:${app.port}`,
      error_type: 'ECONNREFUSED',
    });
    expect(refused.headers.get('x-tapwire-error')).toBe('ECONNREFUSED');

    const samples = parseMetrics(await sidecar.metrics());
    expect(
      value(samples, DURATION, {
        http_request_method: 'GET',
        url_scheme: 'http',
        http_response_status_code: '502',
        error_type: '502',
      }),
    ).toBe(2);
    expect((await fetch(`http://127.0.0.1:${sidecar.metricsPort}/healthz`)).status).toBe(200);
    expect((await fetch(`http://127.0.0.1:${sidecar.metricsPort}/readyz`)).status).toBe(503);
    expect(sidecar.child.exitCode).toBeNull();
  });

  it('finishes a request in flight on SIGTERM, refuses new ones, and exits 0 within the drain window', async () => {
    const app = await startPython('sidecar-app.py');
    const sidecar = await startSidecar(app.port, { TAPWIRE_DRAIN_SECONDS: '20', LOG_LEVEL: 'info' });
    const pending = get(sidecar.url('/slow?ms=1500'));
    await new Promise((r) => setTimeout(r, 300));
    const signalled = Date.now();
    sidecar.child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 200));
    expect((await fetch(`http://127.0.0.1:${sidecar.metricsPort}/readyz`)).status).toBe(503);
    await expect(fetch(sidecar.url('/users/1'))).rejects.toThrow();
    const res = await pending;
    expect(res.status).toBe(200);
    expect(res.body.toString('utf8')).toBe('slow done\n');
    const exit = await sidecar.exited;
    expect(exit).toEqual({ code: 0, signal: null });
    // Exited once the request was done, not at the end of the 20 s window.
    expect(Date.now() - signalled).toBeLessThan(10_000);
    expect(sidecar.output()).toContain('"code":"TAPWIRE_SIDECAR_DRAINED","cut":0');
  });

  it('cuts what is still running at the end of TAPWIRE_DRAIN_SECONDS', async () => {
    const app = await startPython('sidecar-app.py');
    const sidecar = await startSidecar(app.port, { TAPWIRE_DRAIN_SECONDS: '1', LOG_LEVEL: 'info' });
    const pending = fetch(sidecar.url('/slow?ms=8000')).then(
      (r) => r.status,
      (e: Error) => e.name,
    );
    await new Promise((r) => setTimeout(r, 300));
    const signalled = Date.now();
    sidecar.child.kill('SIGTERM');
    expect(await sidecar.exited).toEqual({ code: 0, signal: null });
    expect(Date.now() - signalled).toBeLessThan(6000);
    expect(await pending).toBe('TypeError');
    expect(sidecar.output()).toContain('"code":"TAPWIRE_SIDECAR_DRAINED","cut":1');
  });

  it('passes a websocket through (upgrade tunnel) and records the handshake', async () => {
    // A minimal RFC 6455 server: handshake, then one short masked text frame in, one frame out.
    const upstream = createServer();
    upstream.on('upgrade', (req, socket) => {
      const accept = createHash('sha1')
        .update(`${req.headers['sec-websocket-key']}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`)
        .digest('base64');
      socket.write(
        `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`,
      );
      socket.on('data', (frame: Buffer) => {
        if ((frame[0]! & 0x0f) !== 1) {
          socket.end();
          return;
        }
        const length = frame[1]! & 0x7f;
        const mask = frame.subarray(2, 6);
        const text = Buffer.from(frame.subarray(6, 6 + length).map((b, i) => b ^ mask[i % 4]!)).toString();
        const reply = Buffer.from(`echo:${text}`);
        socket.write(Buffer.concat([Buffer.from([0x81, reply.length]), reply]));
      });
      socket.on('error', () => {});
    });
    upstream.listen(0, '127.0.0.1');
    await once(upstream, 'listening');
    const port = (upstream.address() as { port: number }).port;
    try {
      const sidecar = await startSidecar(port, { TAPWIRE_ROUTES: '/ws' });
      // Node's own WebSocket client (undici).
      const ws = new WebSocket(`ws://127.0.0.1:${sidecar.port}/ws`);
      await new Promise((resolve, reject) => {
        ws.onopen = resolve;
        ws.onerror = reject;
      });
      const reply = new Promise<string>((resolve) => {
        ws.onmessage = (event) => resolve(String(event.data));
      });
      ws.send('ping');
      expect(await reply).toBe('echo:ping');
      ws.close();
      const samples = parseMetrics(await sidecar.metrics());
      expect(
        value(samples, DURATION, {
          http_request_method: 'GET',
          url_scheme: 'http',
          http_response_status_code: '101',
          http_route: '/ws',
        }),
      ).toBe(1);
    } finally {
      upstream.closeAllConnections();
      upstream.close();
    }
  });
});

describe('tapwire sidecar AI gateway', () => {
  it('forwards a streamed chat completion byte for byte and records gen_ai_* metrics', async () => {
    // The provider: the shared stand-in (cli/demo/standin/), with fixed usage for the model.
    const provider = await startStandin({
      models: [
        { model: 'gpt-4o-mini', responseModel: 'gpt-4o-mini-2024-07-18', input: 12, cached: 0, output: 5 },
      ],
    });
    const app = await startPython('sidecar-app.py');
    try {
      const sidecar = await startSidecar(app.port, {
        TAPWIRE_GATEWAY_PROVIDERS: `openai=http://127.0.0.1:${provider.ports.openai}`,
      });
      const init = (stream: boolean): RequestInit => ({
        method: 'POST',
        headers: { authorization: 'Bearer sk-test', 'content-type': 'application/json' },
        body: JSON.stringify({
          model: 'gpt-4o-mini',
          stream,
          ...(stream ? { stream_options: { include_usage: true } } : {}),
          messages: [{ role: 'user', content: 'hi' }],
        }),
      });
      const direct = await get(`http://127.0.0.1:${provider.ports.openai}/v1/chat/completions`, init(true));
      const gateway = `http://127.0.0.1:${sidecar.gatewayPort}/openai/v1/chat/completions`;
      // Several times: the stand-in's events often arrive in one read, and the gateway once ended
      // such a response before its events (an empty 200 about half the time).
      for (let i = 0; i < STREAMS; i++) {
        const through = await get(gateway, init(true));
        expect(through.status).toBe(200);
        expect(through.headers.get('content-type')).toBe(direct.headers.get('content-type'));
        expect(through.headers.get('content-type')).toContain('text/event-stream');
        expect(through.body.toString('utf8')).toBe(direct.body.toString('utf8'));
        expect(through.body.toString('utf8')).toContain('data: [DONE]');
      }

      const plain = await get(gateway, init(false));
      expect(JSON.parse(plain.body.toString('utf8')).usage.total_tokens).toBe(17);
      // A key the provider refuses (the stand-in's /e401 prefix): the gateway passes the 401 on.
      const denied = await get(
        `http://127.0.0.1:${sidecar.gatewayPort}/openai/e401/v1/chat/completions`,
        init(false),
      );
      expect(denied.status).toBe(401);
      const unknown = await get(`http://127.0.0.1:${sidecar.gatewayPort}/nope/v1/x`);
      expect(unknown.status).toBe(404);
      expect(JSON.parse(unknown.body.toString('utf8')).error_type).toBe('unknown_provider');

      await checkGatewayMetrics(sidecar);
    } finally {
      await provider.close();
    }
  });
});

const STREAMS = 8;

describe('tapwire sidecar AI gateway with TAPWIRE_GATEWAY_INCLUDE_USAGE', () => {
  it('asks for the usage of streams that do not, records their tokens, and gives the app the bytes it would get without', async () => {
    const provider = await startStandin({
      models: [
        { model: 'gpt-4o-mini', responseModel: 'gpt-4o-mini-2024-07-18', input: 12, cached: 0, output: 5 },
      ],
    });
    const app = await startPython('sidecar-app.py');
    try {
      const sidecar = await startSidecar(app.port, {
        TAPWIRE_GATEWAY_PROVIDERS: `openai=http://127.0.0.1:${provider.ports.openai}`,
        TAPWIRE_GATEWAY_INCLUDE_USAGE: 'true',
      });
      const direct = `http://127.0.0.1:${provider.ports.openai}/v1/chat/completions`;
      const gateway = `http://127.0.0.1:${sidecar.gatewayPort}/openai/v1/chat/completions`;
      const init = (body: Record<string, unknown>): RequestInit => ({
        method: 'POST',
        headers: { authorization: 'Bearer sk-test', 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }], ...body }),
      });
      const bodies: Record<string, unknown>[] = [
        { stream: true }, // asked for on the app's behalf
        { stream: true, stream_options: {} }, // the same, inside the app's own options
        { stream: true, stream_options: { include_usage: true } }, // asked for by the app
        { stream: true, stream_options: { include_usage: false } }, // refused by the app: left alone
        {}, // not streamed
        // Past the 4 MiB the gateway reads before editing: sent on as it came.
        { stream: true, messages: [{ role: 'user', content: 'x'.repeat(5 * 1024 * 1024) }] },
      ];
      for (const body of bodies) {
        for (let i = 0; i < 3; i++) {
          const want = await get(direct, init(body));
          const got = await get(gateway, init(body));
          expect(got.status, JSON.stringify(body)).toBe(200);
          expect(got.body.toString('utf8'), JSON.stringify(body)).toBe(want.body.toString('utf8'));
        }
      }
      // The official SDK reads the same chunks through the gateway as from the provider.
      const chunks = async (baseURL: string) => {
        const client = new OpenAI({ apiKey: 'sk-test', baseURL, maxRetries: 0 });
        const stream = await client.chat.completions.create({
          model: 'gpt-4o-mini',
          messages: [{ role: 'user', content: 'hi' }],
          stream: true,
        });
        const out: unknown[] = [];
        for await (const c of stream) out.push(c);
        return out;
      };
      const sdk = await chunks(`http://127.0.0.1:${sidecar.gatewayPort}/openai/v1`);
      expect(sdk).toEqual(await chunks(`http://127.0.0.1:${provider.ports.openai}/v1`));
      expect(sdk.some((c) => 'usage' in (c as object))).toBe(false);

      // The provider got include_usage on the gateway's calls of the first three shapes and the SDK's.
      const served = provider.served.filter((_, i) => i % 2 === 1 && i < 36);
      expect(served.map((s) => s.input !== undefined)).toEqual([
        ...[true, true, true, true, true, true, true, true, true],
        ...[false, false, false],
        ...[true, true, true],
        ...[false, false, false],
      ]);
      const samples = parseMetrics(await sidecar.metrics());
      const call = {
        gen_ai_operation_name: 'chat',
        gen_ai_provider_name: 'openai',
        gen_ai_request_model: 'gpt-4o-mini',
        gen_ai_response_model: 'gpt-4o-mini-2024-07-18',
        server_address: '127.0.0.1',
      };
      // 18 calls through the gateway plus the SDK's (the 3 large ones without a request model: the
      // AI call reads no request past 4 MiB either); tokens for all but the 3 that refused usage
      // and the 3 too large to edit.
      expect(
        sum(samples, 'gen_ai_client_operation_duration_seconds_count', { gen_ai_provider_name: 'openai' }),
      ).toBe(19);
      expect(value(samples, 'gen_ai_client_operation_duration_seconds_count', call)).toBe(16);
      expect(value(samples, 'gen_ai_client_token_usage_count', { ...call, gen_ai_token_type: 'input' })).toBe(
        13,
      );
      expect(value(samples, 'gen_ai_client_token_usage_sum', { ...call, gen_ai_token_type: 'output' })).toBe(
        13 * 5,
      );
    } finally {
      await provider.close();
    }
  });
});

describe('tapwire sidecar AI gateway attribution', () => {
  it('labels the token and cost series with TAPWIRE_AI_ATTRIBUTES read from the headers of each call', async () => {
    const provider = await startStandin({
      models: [
        { model: 'gpt-4o-mini', responseModel: 'gpt-4o-mini-2024-07-18', input: 12, cached: 0, output: 5 },
      ],
    });
    const app = await startPython('sidecar-app.py');
    try {
      const sidecar = await startSidecar(app.port, {
        TAPWIRE_GATEWAY_PROVIDERS: `openai=http://127.0.0.1:${provider.ports.openai}`,
        TAPWIRE_AI_ATTRIBUTES: 'tenant:x-tenant-id',
      });
      const post = (tenant: string | undefined, stream: boolean) =>
        get(`http://127.0.0.1:${sidecar.gatewayPort}/openai/v1/chat/completions`, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            ...(tenant === undefined ? {} : { 'x-tenant-id': tenant }),
          },
          body: JSON.stringify({
            model: 'gpt-4o-mini',
            stream,
            ...(stream ? { stream_options: { include_usage: true } } : {}),
            messages: [{ role: 'user', content: 'hi' }],
          }),
        });
      for (const [tenant, stream] of [
        ['acme', false],
        ['acme', true],
        ['globex', true],
        [undefined, false],
      ] as const) {
        expect((await post(tenant, stream)).status).toBe(200);
      }
      const samples = parseMetrics(await sidecar.metrics());
      const tokens = (tenant: string | undefined) =>
        find(samples, 'gen_ai_client_token_usage_sum')
          .filter((s) => s.labels.tenant === tenant)
          .reduce((n, s) => n + s.value, 0);
      expect([tokens('acme'), tokens('globex'), tokens(undefined)]).toEqual([34, 17, 17]);
      const cost = (tenant: string) =>
        sum(samples, 'tapwire_gen_ai_cost_usd_total', { tenant, gen_ai_token_type: 'output' });
      expect(cost('acme')).toBeCloseTo((2 * 5 * 0.6) / 1e6, 12);
      // The provider's rate-limit headers are read through the gateway too: 4 requests so far.
      expect(
        value(samples, 'tapwire_gen_ai_rate_limit_remaining', {
          gen_ai_provider_name: 'openai',
          tapwire_gen_ai_model_family: 'gpt-4o-mini',
          tapwire_gen_ai_rate_limit_type: 'requests',
        }),
      ).toBe(10_000 - 4);
      for (const s of samples) {
        if (s.name.startsWith('gen_ai_client_token_usage') || s.name === 'tapwire_gen_ai_cost_usd_total')
          continue;
        expect(s.labels.tenant, s.name).toBeUndefined();
      }
    } finally {
      await provider.close();
    }
  });
});

async function checkGatewayMetrics(sidecar: { metrics(): Promise<string> }): Promise<void> {
  const text = await sidecar.metrics();
  const samples = parseMetrics(text);
  const call = {
    gen_ai_operation_name: 'chat',
    gen_ai_provider_name: 'openai',
    gen_ai_request_model: 'gpt-4o-mini',
    gen_ai_response_model: 'gpt-4o-mini-2024-07-18',
    server_address: '127.0.0.1',
  };
  const calls = STREAMS + 1;
  expect(value(samples, 'gen_ai_client_operation_duration_seconds_count', call)).toBe(calls);
  // STREAMS streamed calls and one plain one, of 12 input and 5 output tokens each (the direct
  // call is not the gateway's).
  expect(value(samples, 'gen_ai_client_token_usage_sum', { ...call, gen_ai_token_type: 'input' })).toBe(
    12 * calls,
  );
  expect(value(samples, 'gen_ai_client_token_usage_sum', { ...call, gen_ai_token_type: 'output' })).toBe(
    5 * calls,
  );
  expect(value(samples, 'gen_ai_client_operation_time_to_first_chunk_seconds_count', call)).toBe(STREAMS);
  expect(
    value(samples, 'gen_ai_client_operation_duration_seconds_count', {
      gen_ai_operation_name: 'chat',
      gen_ai_provider_name: 'openai',
      gen_ai_request_model: 'gpt-4o-mini',
      server_address: '127.0.0.1',
      error_type: '401',
    }),
  ).toBe(1);
  // The provider call is an HTTP client call too.
  expect(sum(samples, 'http_client_request_duration_seconds_count', { server_address: '127.0.0.1' })).toBe(
    calls + 1,
  );
  // The gateway's traffic is not the app's inbound traffic.
  expect(find(samples, DURATION)).toEqual([]);
  expect(promtoolCheckMetrics(text)).toEqual({ status: 0, output: '' });
}

describe('tapwire sidecar metrics merge', () => {
  it('serves two preloaded workers (Node and Bun) pushing OTLP beside its own series, kept apart by instance', async () => {
    const app = await startPython('sidecar-app.py');
    const sidecar = await startSidecar(app.port);
    const env = {
      OTEL_SERVICE_NAME: 'node-worker',
      OTEL_METRICS_EXPORTER: 'otlp',
      OTEL_METRIC_EXPORT_INTERVAL: '200',
      OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: `http://127.0.0.1:${sidecar.metricsPort}/v1/metrics`,
    };
    const a = await startApp({ runtime: 'node', file: 'http-app.mjs', env });
    const b = await startApp({ runtime: 'bun', file: 'http-app.mjs', env });
    // startApp's readiness probe made one GET / on each.
    for (let i = 0; i < 3; i++) await get(a.url('/status/200'));
    await get(b.url('/status/404'));
    await get(sidecar.url('/users/1'));

    const instanceA = `node-worker/${a.child.pid}`;
    const instanceB = `node-worker/${b.child.pid}`;
    const deadline = Date.now() + 15_000;
    let samples = parseMetrics(await sidecar.metrics());
    while (
      (sum(samples, DURATION, { instance: instanceA }) !== 4 ||
        sum(samples, DURATION, { instance: instanceB }) !== 2) &&
      Date.now() < deadline
    ) {
      await new Promise((r) => setTimeout(r, 100));
      samples = parseMetrics(await sidecar.metrics());
    }
    const base = { http_request_method: 'GET', url_scheme: 'http' };
    expect(value(samples, DURATION, { ...base, http_response_status_code: '200', instance: instanceA })).toBe(
      4,
    );
    expect(value(samples, DURATION, { ...base, http_response_status_code: '200', instance: instanceB })).toBe(
      1,
    );
    expect(value(samples, DURATION, { ...base, http_response_status_code: '404', instance: instanceB })).toBe(
      1,
    );
    // The sidecar's own series (the proxied request) carry no instance label.
    expect(value(samples, DURATION, { ...base, http_response_status_code: '200' })).toBe(1);
    expect(find(samples, 'target_info', { instance: instanceA })[0]?.labels.service_name).toBe('node-worker');
    const text = await sidecar.metrics();
    expect(text.match(/^# TYPE http_server_request_duration_seconds /gm)).toHaveLength(1);
    expect(text.match(/^# HELP target_info /gm)).toHaveLength(1);
    expect(promtoolCheckMetrics(text)).toEqual({ status: 0, output: '' });

    // A stopped worker is forgotten after a few of its intervals. The sidecar learns a worker's
    // interval from the gap between two of its pushes (one push alone leaves it at the sidecar's
    // own 60 s), so the worker first pushes a few more times (every 200 ms).
    await new Promise((r) => setTimeout(r, 1_000));
    await a.stop();
    // 3 of its push intervals, as the sidecar measures them; generous for a loaded CI machine.
    const gone = Date.now() + 30_000;
    while (find(parseMetrics(await sidecar.metrics()), 'target_info', { instance: instanceA }).length > 0) {
      expect(Date.now()).toBeLessThan(gone);
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(find(parseMetrics(await sidecar.metrics()), 'target_info', { instance: instanceB })).toHaveLength(
      1,
    );
  });

  it('refuses what is not OTLP with a clear status', async () => {
    const app = await startPython('sidecar-app.py');
    const sidecar = await startSidecar(app.port);
    const url = `http://127.0.0.1:${sidecar.metricsPort}/v1/metrics`;
    const other = await fetch(url, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'x' });
    expect(other.status).toBe(415);
    const proto = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-protobuf' },
      body: 'x',
    });
    expect(proto.status).toBe(400);
    const zipped = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-protobuf', 'content-encoding': 'gzip' },
      body: 'not gzip',
    });
    expect(zipped.status).toBe(400);
    const bad = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"nope":1}',
    });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error_type: string }).error_type).toBe('bad_request');
    expect(sidecar.child.exitCode).toBeNull();
  });
});
