// Measurement primitives: readiness probe (start-up time), wrk (throughput) and a
// /metrics sanity check (so a row where the agent silently failed to load is visible).
import net from 'node:net';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { killTree, sleep, spawnTracked } from './procs.mjs';

const LIB = path.dirname(fileURLToPath(import.meta.url));
const OPEN_LOOP = path.join(LIB, 'open-loop.mjs');
/** The project's Node (package `node`), as the benchmarks' other helpers run. */
const NODE = path.join(LIB, '../../node_modules/.bin/node');

/**
 * Open-loop load (./open-loop.mjs) on `url` at `rate` requests/s for `seconds`, `warmup` seconds of
 * it uncounted first, run by the project's Node (pinned to `cpu` where PINNED): resolves to the
 * generator's result, { sent, errors, p50, p99, max }, or {} when it printed none.
 */
export function openLoad(url, rate, seconds, { warmup = 0, cpu } = {}) {
  const load = spawnTracked(NODE, [OPEN_LOOP, url, String(rate), String(seconds), String(warmup)], {
    stdout: 'pipe',
    cpu,
  });
  let out = '';
  load.stdout.on('data', (d) => (out += d));
  return load.exited.then(() => JSON.parse(out.trim().split('\n').at(-1) || '{}'));
}

/**
 * One raw HTTP/1.1 GET over a fresh socket; resolves to the status code or null.
 * Raw `net` keeps the probe cheap (no agent, no parser setup), which matters when polling
 * every 2 ms on a 2-core machine while the server under test is booting.
 */
export function probe(port, path = '/', timeoutMs = 1000) {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: '127.0.0.1' });
    let data = '';
    const done = (status) => {
      socket.destroy();
      resolve(status);
    };
    socket.setTimeout(timeoutMs, () => done(null));
    socket.once('error', () => done(null));
    socket.once('connect', () => {
      socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: close\r\n\r\n`);
    });
    socket.setEncoding('latin1');
    socket.on('data', (chunk) => {
      data += chunk;
      const match = /^HTTP\/1\.[01] (\d{3})/.exec(data);
      if (match) done(Number(match[1]));
    });
    socket.once('end', () => done(null));
  });
}

/**
 * Poll until the server answers 200, the child dies, or the deadline passes.
 * Returns the time of the first 200 (performance.now() clock).
 */
export async function waitReady(child, port, { path = '/', timeoutMs = 15000, intervalMs = 2 } = {}) {
  const deadline = performance.now() + timeoutMs;
  let exited = false;
  child.exited.then(() => {
    exited = true;
  });
  while (performance.now() < deadline) {
    if (exited) throw new Error(`exited before ready: ${lastLine(child.stderrTail)}`);
    const status = await probe(port, path);
    if (status === 200) return performance.now();
    await sleep(intervalMs);
  }
  throw new Error(`not ready after ${timeoutMs} ms: ${lastLine(child.stderrTail)}`);
}

/** GET a path and return { status, body } (used for the /metrics check), bounded in time. */
export async function httpGet(port, path, timeoutMs = 3000) {
  const controller = AbortSignal.timeout(timeoutMs);
  try {
    const res = await fetch(`http://127.0.0.1:${port}${path}`, { signal: controller });
    return { status: res.status, body: await res.text() };
  } catch (error) {
    return { status: null, body: '', error: error.message };
  }
}

/**
 * Run wrk once and parse its summary. wrk runs in its own tracked process group and is
 * killed if it overruns its duration by 15 s (it should never, but loops must be bounded).
 */
export async function runWrk({
  port,
  path = '/',
  seconds,
  threads = 1,
  connections = 32,
  extraArgs = [],
  cpu,
}) {
  const args = [`-t${threads}`, `-c${connections}`, `-d${seconds}s`, '--latency', ...extraArgs];
  args.push(`http://127.0.0.1:${port}${path}`);
  const child = spawnTracked('wrk', args, { stdout: 'pipe', cpu });
  let out = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk) => {
    out += chunk;
  });
  const guard = setTimeout(() => killTree(child), (seconds + 15) * 1000);
  const { code } = await child.exited;
  clearTimeout(guard);
  if (code !== 0) throw new Error(`wrk failed (${code}): ${lastLine(child.stderrTail || out)}`);
  return parseWrk(out);
}

/** Parse the bits of wrk's text output we report. */
export function parseWrk(text) {
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(text)?.[1]);
  const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(text)?.[1] ?? 0);
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text);
  const socketErrors = sock ? sock.slice(1).reduce((sum, n) => sum + Number(n), 0) : 0;
  const p99 = /^\s+99%\s+([\d.]+)(us|ms|s)\s*$/m.exec(text);
  const p99Ms = p99 ? Number(p99[1]) * { us: 0.001, ms: 1, s: 1000 }[p99[2]] : null;
  if (!Number.isFinite(rps)) throw new Error(`could not parse wrk output: ${text.slice(0, 200)}`);
  return { rps, non2xx, socketErrors, p99Ms };
}

function lastLine(text = '') {
  const lines = text.trim().split('\n').filter(Boolean);
  return (lines.at(-1) ?? '(no stderr)').slice(0, 300);
}
