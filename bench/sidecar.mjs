// Sidecar overhead, side by side in one run: the hello-world app straight, through nginx as a
// plain reverse proxy (Debian's package, one worker, upstream keep-alive: what a user would set
// up instead), and through `tapwire sidecar`. Two measurements per path:
//   - peak throughput: wrk, 1 thread, 32 connections (requests/s, p99);
//   - a fixed moderate rate (1000 requests/s, open loop, ./lib/open-loop.mjs): p50/p99.
// Every path is measured in slices, the paths in turns (order rotated), medians reported.
// Targets: sidecar >= 0.6 x nginx requests/s; at 1000 requests/s, <= 1 ms added p99. The sidecar
// runs on Node (as in the image); the same sidecar on Bun is measured beside it for comparison, and
// so is the fastest plain proxy we could write on Node (./apps/plain-proxy.mjs: one undici Pool,
// nothing measured): what of the gap to nginx is Node's, and what is tapwire's.
//   node bench/sidecar.mjs [--seconds 10] [--out bench/results/sidecar.md]
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { median, rotate, spread } from './lib/common.mjs';
import { openLoad } from './lib/measure.mjs';
import { freePort, killTree, spawnTracked } from './lib/procs.mjs';
import { BENCH_DIR, REPO, RUNTIMES } from './scenarios.mjs';

const { values: opts } = parseArgs({
  options: { seconds: { type: 'string', default: '10' }, out: { type: 'string' } },
});
const SECONDS = Number(opts.seconds);
const SLICES = 5;
/** Each measure of a path takes SECONDS in all, in SLICES slices. */
const SLICE_SECONDS = Math.max(1, Math.round(SECONDS / SLICES));
const NODE = RUNTIMES.node.bin;

async function waitFor(url, ms = 15_000) {
  const end = Date.now() + ms;
  for (;;) {
    try {
      const r = await fetch(url);
      await r.arrayBuffer();
      return;
    } catch {
      if (Date.now() > end) throw new Error(`${url} did not answer`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

function wrk(url, seconds) {
  const out = execFileSync('wrk', ['-t1', '-c32', `-d${seconds}s`, '--latency', url], { encoding: 'utf8' });
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)[1]);
  const p99 = /99%\s+([\d.]+)(us|ms|s)/.exec(out);
  const ms = Number(p99[1]) * (p99[2] === 'us' ? 0.001 : p99[2] === 's' ? 1000 : 1);
  return { rps, p99: ms };
}

/** A slice at a fixed rate; half a second uncounted first: the client's own start, which a 2 s slice would count. */
async function fixedRate(url, rate, seconds) {
  const result = await openLoad(url, rate, seconds, { warmup: 0.5 });
  if (result.p99 === undefined) throw new Error(`the open-loop load on ${url} printed no result`);
  return result;
}

const dir = mkdtempSync(path.join(tmpdir(), 'tapwire-bench-sidecar-'));
const children = [];
try {
  const appPort = await freePort();
  const nginxPort = await freePort();
  const sidecarPort = await freePort();
  const metricsPort = await freePort();
  const gatewayPort = await freePort();
  const bunSidecarPort = await freePort();
  const bunMetricsPort = await freePort();
  const bunGatewayPort = await freePort();
  const plainPort = await freePort();
  children.push(
    spawnTracked(NODE, [path.join(BENCH_DIR, 'apps/http-hello.mjs')], {
      env: { PATH: process.env.PATH, PORT: String(appPort), NODE_ENV: 'production' },
    }),
  );
  writeFileSync(
    path.join(dir, 'nginx.conf'),
    `daemon off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  upstream app { server 127.0.0.1:${appPort}; keepalive 64; }
  server {
    listen 127.0.0.1:${nginxPort};
    location / {
      proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header X-Forwarded-For $remote_addr;
    }
  }
}
`,
  );
  children.push(spawnTracked('nginx', ['-c', path.join(dir, 'nginx.conf'), '-p', dir]));
  children.push(
    spawnTracked(NODE, [path.join(REPO, 'dist/cli/main.js'), 'sidecar'], {
      env: {
        PATH: process.env.PATH,
        TAPWIRE_ENV: 'production',
        TAPWIRE_UPSTREAM: `http://127.0.0.1:${appPort}`,
        TAPWIRE_PROXY_PORT: String(sidecarPort),
        TAPWIRE_GATEWAY_PORT: String(gatewayPort),
        OTEL_EXPORTER_PROMETHEUS_PORT: String(metricsPort),
        OTEL_EXPORTER_PROMETHEUS_HOST: '127.0.0.1',
      },
    }),
  );
  children.push(
    spawnTracked(NODE, [path.join(BENCH_DIR, 'apps/plain-proxy.mjs')], {
      cwd: REPO,
      env: { PATH: process.env.PATH, PORT: String(plainPort), UPSTREAM: `http://127.0.0.1:${appPort}` },
    }),
  );
  children.push(
    spawnTracked(RUNTIMES.bun.bin, [path.join(REPO, 'dist/cli/main.js'), 'sidecar'], {
      env: {
        PATH: process.env.PATH,
        TAPWIRE_ENV: 'production',
        TAPWIRE_UPSTREAM: `http://127.0.0.1:${appPort}`,
        TAPWIRE_PROXY_PORT: String(bunSidecarPort),
        TAPWIRE_GATEWAY_PORT: String(bunGatewayPort),
        OTEL_EXPORTER_PROMETHEUS_PORT: String(bunMetricsPort),
        OTEL_EXPORTER_PROMETHEUS_HOST: '127.0.0.1',
      },
    }),
  );
  const paths = [
    { name: 'direct', url: `http://127.0.0.1:${appPort}/` },
    { name: 'nginx (reverse proxy)', url: `http://127.0.0.1:${nginxPort}/` },
    { name: 'tapwire sidecar', url: `http://127.0.0.1:${sidecarPort}/` },
    { name: 'plain Node proxy, nothing measured (comparison)', url: `http://127.0.0.1:${plainPort}/` },
  ];
  for (const p of paths) await waitFor(p.url);
  // For comparison only (the image runs the sidecar on Node): left out when it does not answer.
  const bunPath = { name: 'tapwire sidecar on Bun (comparison)', url: `http://127.0.0.1:${bunSidecarPort}/` };
  try {
    await waitFor(bunPath.url);
    paths.push(bunPath);
  } catch (error) {
    process.stderr.write(`sidecar on Bun: ${error.message}; not measured\n`);
  }
  // The paths take turns: SLICES slices of each measure, the order rotated each slice, so that the
  // VM's speed (which moves by tens of percent within minutes) falls on every path alike instead
  // of on whichever ran in a slow minute; each figure is the median of its slices.
  for (const p of paths) wrk(p.url, 2); // warm-up (JIT, connection pools)
  const peaks = new Map(paths.map((p) => [p, []]));
  const fixeds = new Map(paths.map((p) => [p, []]));
  for (let s = 0; s < SLICES; s++) {
    for (const p of rotate(paths, s)) peaks.get(p).push(wrk(p.url, SLICE_SECONDS));
  }
  for (let s = 0; s < SLICES; s++) {
    for (const p of rotate(paths, s)) fixeds.get(p).push(await fixedRate(p.url, 1000, SLICE_SECONDS));
  }
  const rows = paths.map((p) => {
    const peak = { rps: median(peaks.get(p).map((x) => x.rps)), p99: median(peaks.get(p).map((x) => x.p99)) };
    const slices = fixeds.get(p);
    const fixed = {
      sent: slices.reduce((a, x) => a + x.sent, 0),
      errors: slices.reduce((a, x) => a + x.errors, 0),
      p50: median(slices.map((x) => x.p50)),
      p99: median(slices.map((x) => x.p99)),
      max: Math.max(...slices.map((x) => x.max)),
    };
    process.stderr.write(`${p.name}: ${JSON.stringify({ peak, fixed })}\n`);
    return { ...p, peak, fixed };
  });
  const [direct, nginx, sidecar, plain] = rows;
  const onBun = rows[4];
  const f = (n, d = 2) => n.toFixed(d);
  let md = `| path | peak req/s | peak p99 (ms) | p50 @1000/s (ms) | p99 @1000/s (ms) | p99 added vs direct (ms) |\n| --- | ---: | ---: | ---: | ---: | ---: |\n`;
  for (const r of rows) {
    md += `| ${r.name} | ${f(r.peak.rps, 0)} | ${f(r.peak.p99)} | ${f(r.fixed.p50)} | ${f(r.fixed.p99)} | ${r === direct ? '—' : f(r.fixed.p99 - direct.fixed.p99)} |\n`;
  }
  md += `\nsidecar / nginx peak throughput: **${f(sidecar.peak.rps / nginx.peak.rps)}** (target >= 0.6); sidecar p99 added at 1000 req/s: **${f(sidecar.fixed.p99 - direct.fixed.p99)} ms** (target <= 1 ms).\n`;
  // Round by round (each round measures every path once, one after another): how far one run's
  // rounds spread around the two verdicts, which are taken from the medians.
  const [pDirect, pNginx, pSidecar] = paths;
  const peakRounds = spread(peaks.get(pSidecar).map((x, i) => x.rps / peaks.get(pNginx)[i].rps));
  const p99Rounds = spread(fixeds.get(pSidecar).map((x, i) => x.p99 - fixeds.get(pDirect)[i].p99));
  md += `Round by round (the sidecar's slice against nginx's, and against direct's, of the same round): peak ratio ${f(peakRounds.median)} (${f(peakRounds.min)}–${f(peakRounds.max)}), p99 added ${f(p99Rounds.median)} ms (${f(p99Rounds.min)} to ${f(p99Rounds.max)} ms); a verdict within that spread of its limit can go either way in another run.\n`;
  md += `The plain Node proxy (bench/apps/plain-proxy.mjs: one undici Pool, nothing measured): ${f(plain.peak.rps / nginx.peak.rps)} of nginx's peak; the sidecar makes ${f(sidecar.peak.rps / plain.peak.rps)} of its requests/s.\n`;
  if (onBun !== undefined) {
    md += `The same sidecar on Bun ${execFileSync(RUNTIMES.bun.bin, ['--version'], { encoding: 'utf8' }).trim()}: ${f(onBun.peak.rps / nginx.peak.rps)} of nginx's peak, ${f(onBun.fixed.p99 - direct.fixed.p99)} ms p99 added at 1000 req/s (not a target: the image runs Node).\n`;
  }
  const nginxVersion = spawnSync('nginx', ['-v'], { encoding: 'utf8' })
    .stderr.trim()
    .replace('nginx version: ', '');
  md += `Node ${execFileSync(NODE, ['--version'], { encoding: 'utf8' }).trim()}, ${nginxVersion} (1 worker); wrk -t1 -c32; each measure of a path ${SLICES} slices of ${SLICE_SECONDS} s, the paths in turns (order rotated each slice), medians of the slices; all processes on one machine, load average ${loadavg()[0].toFixed(1)} at the end (p99 at a fixed rate is only meaningful on an otherwise idle machine).\n`;
  process.stdout.write(md);
  if (opts.out) writeFileSync(opts.out, md);
} finally {
  for (const c of children) await killTree(c);
  rmSync(dir, { recursive: true, force: true });
}
