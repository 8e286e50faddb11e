// Hand-run: the sidecar's resident memory while one large upload streams through its proxy to a
// real upstream (a node:http server that counts the bytes), sampled every 10 ms from /proc.
//   npm run build && node bench/sidecar-upload.mjs [MB, default 100]
import { readFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { freePort, killTree, spawnTracked } from './lib/procs.mjs';
import { REPO, RUNTIMES } from './scenarios.mjs';

const MB = 1024 * 1024;
const SIZE = Number(process.argv[2] ?? 100) * MB;

const upstream = http.createServer((req, res) => {
  let received = 0;
  req.on('data', (c) => {
    received += c.length;
  });
  req.on('end', () => res.end(String(received)));
});
await new Promise((r) => upstream.listen(0, '127.0.0.1', r));
const port = await freePort();
const metricsPort = await freePort();
const sidecar = spawnTracked(RUNTIMES.node.bin, [path.join(REPO, 'dist/cli/main.js'), 'sidecar'], {
  env: {
    PATH: process.env.PATH,
    TAPWIRE_ENV: 'test',
    TAPWIRE_PROXY_PORT: String(port),
    TAPWIRE_GATEWAY_PORT: String(await freePort()),
    OTEL_EXPORTER_PROMETHEUS_PORT: String(metricsPort),
    OTEL_EXPORTER_PROMETHEUS_HOST: '127.0.0.1',
    TAPWIRE_UPSTREAM: `http://127.0.0.1:${upstream.address().port}`,
  },
});
const rssMB = () =>
  Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${sidecar.pid}/status`, 'utf8'))[1]) / 1024;
for (let i = 0; ; i++) {
  try {
    await (await fetch(`http://127.0.0.1:${metricsPort}/healthz`)).text();
    break;
  } catch (error) {
    if (i > 100) throw error;
    await new Promise((r) => setTimeout(r, 100));
  }
}
// One small request first, so the proxy's connection pool and code are warm.
await (await fetch(`http://127.0.0.1:${port}/`, { method: 'POST', body: 'x' })).text();
await new Promise((r) => setTimeout(r, 500));

const base = rssMB();
let peak = base;
const sampler = setInterval(() => {
  peak = Math.max(peak, rssMB());
}, 10);
const chunk = Buffer.alloc(64 * 1024, 7);
const started = Date.now();
const received = await new Promise((resolve, reject) => {
  const req = http.request(
    { host: '127.0.0.1', port, method: 'POST', path: '/upload', headers: { 'content-length': SIZE } },
    (res) => {
      let body = '';
      res.on('data', (d) => {
        body += d;
      });
      res.on('end', () => resolve(Number(body)));
    },
  );
  req.on('error', reject);
  let sent = 0;
  const pump = () => {
    while (sent < SIZE) {
      sent += chunk.length;
      if (!req.write(chunk)) {
        req.once('drain', pump);
        return;
      }
    }
    req.end();
  };
  pump();
});
clearInterval(sampler);
console.log(
  JSON.stringify({
    uploadMB: SIZE / MB,
    upstreamReceivedMB: received / MB,
    seconds: (Date.now() - started) / 1000,
    rssIdleMB: +base.toFixed(1),
    rssPeakMB: +peak.toFixed(1),
    growthMB: +(peak - base).toFixed(1),
  }),
);
await killTree(sidecar);
upstream.close();
