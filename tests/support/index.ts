// Test support: start real apps under real runtimes with the preload, on free ports, and read
// what a user would read (/metrics text, log lines). Everything started here is stopped by
// `stopAll()` (call it in afterEach/afterAll).
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runtimeBinary } from '../../scripts/runtimes.js';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const DIST_REGISTER = join(ROOT, 'dist/register.js');
/** What `tapwire/register` is on Bun (package.json's `bun` condition); register.js imports it there. */
export const DIST_REGISTER_BUN = join(ROOT, 'dist/register-bun.js');
export const FIXTURES = join(ROOT, 'tests/fixtures');
// The apps run on the project's Node 24 and Bun unless TAPWIRE_TEST_NODE / TAPWIRE_TEST_BUN name another
// version (X.Y.Z, or `oldest`: package.json's engines claim), fetched once by scripts/runtimes.ts; CI
// runs the suite both ways.
export const NODE = runtimeBinary('node', process.env.TAPWIRE_TEST_NODE);
export const BUN = runtimeBinary('bun', process.env.TAPWIRE_TEST_BUN);

export type Runtime = 'node' | 'bun';
export const RUNTIMES: Runtime[] = ['node', 'bun'];

// Fixture apps `import 'tapwire'` as a user would: through the package's exports, resolved from
// tests/fixtures/node_modules/tapwire -> the repository root (a link, not committed).
const link = join(FIXTURES, 'node_modules/tapwire');
if (!existsSync(link)) {
  mkdirSync(dirname(link), { recursive: true });
  symlinkSync('../../..', link, 'dir');
}

if (!existsSync(DIST_REGISTER)) {
  throw new Error(`${DIST_REGISTER} is missing: run \`npm run build\` first (npm test does).`);
}

const handedOut = new Set<number>();

// Ports handed out in this run, across vitest's worker processes (two test files run at once, each
// in its own process, children of one vitest process): a port one file probed free and has not yet
// bound must not be handed to the other. One empty file per port, created exclusively, in a folder
// of this run; folders of runs whose vitest process is gone are removed.
const PORTS = join(tmpdir(), `tapwire-test-ports-${process.ppid}`);
for (const name of readdirSync(tmpdir())) {
  const pid = /^tapwire-test-ports-(\d+)$/.exec(name)?.[1];
  if (pid === undefined || Number(pid) === process.ppid) continue;
  try {
    process.kill(Number(pid), 0);
  } catch {
    rmSync(join(tmpdir(), name), { recursive: true, force: true });
  }
}
mkdirSync(PORTS, { recursive: true });

function claim(port: number): boolean {
  try {
    closeSync(openSync(join(PORTS, String(port)), 'wx'));
    return true;
  } catch {
    return false;
  }
}

/** The environment of a process under the preload: /metrics on `port` (loopback), the test profile. */
export function agentEnv(
  port: number,
  extra: Record<string, string> = {},
): Record<string, string | undefined> {
  return {
    PATH: process.env.PATH,
    TMPDIR: process.env.TMPDIR,
    // The run's own temporary directory (tests/support/global-setup.ts).
    ...(process.env.TMPDIR === undefined ? {} : { TMPDIR: process.env.TMPDIR }),
    OTEL_EXPORTER_PROMETHEUS_PORT: String(port),
    OTEL_EXPORTER_PROMETHEUS_HOST: '127.0.0.1',
    TAPWIRE_ENV: 'test',
    ...extra,
  };
}

/** A port nothing listens on now, never the same twice in one test run (in any of its workers). */
export async function freePort(): Promise<number> {
  if (EPHEMERAL_LOW - BELOW >= 10000) {
    for (let i = 0; i < 200; i++) {
      const port = EPHEMERAL_LOW - 1 - Math.floor(Math.random() * BELOW);
      // Claimed before it is probed: a probe binds the port for a moment, and a port another
      // worker handed out and its process is about to bind must not be bound by anyone else then
      // (the agent's listen there would fail and open /metrics 20-100 ms late: seen with a process
      // binding the port in a loop). A port claimed and found taken stays claimed: no worker
      // probes it again in this run.
      if (handedOut.has(port) || !claim(port)) continue;
      handedOut.add(port);
      if (await bindable(port)) return port;
    }
  }
  for (let i = 0; i < 50; i++) {
    const port = await bound(0);
    if (!handedOut.has(port) && claim(port)) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error('no free port found');
}

// The kernel gives a bind or connect of port 0 a port of its ephemeral range; a port handed out
// from that range, free when probed, could be given to any socket before its process binds it: a
// fixture's stand-in on `listen(0)` got a test's metrics port that way (tapwire took the stand-in for
// its own port), and a client's outgoing connection can take a port the same way. So ports are
// handed out below that range, where no port 0 ever lands; the range's bottom from /proc (Linux),
// with port 0 as before where it cannot be read or leaves no room below.
const EPHEMERAL_LOW = (() => {
  try {
    return Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
  } catch {
    return 0;
  }
})();
/** Ports below the ephemeral range that freePort() chooses from. */
const BELOW = 8000;

/** Whether `port` can be bound on loopback now. */
async function bindable(port: number): Promise<boolean> {
  try {
    return (await bound(port)) === port;
  } catch {
    return false;
  }
}

/** Binds `port` on loopback and lets it go: the port that was bound. */
async function bound(port: number): Promise<number> {
  const server = createServer();
  server.listen(port, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  const got = typeof address === 'object' && address ? address.port : 0;
  server.close();
  await once(server, 'close');
  return got;
}

export interface App {
  child: ChildProcess;
  port: number;
  metricsPort: number;
  stdout: () => string;
  stderr: () => string;
  /** Resolves with the exit code (or signal name) when the process ends. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  url(path: string): string;
  metrics(): Promise<string>;
  stop(): Promise<void>;
}

const running = new Set<App>();

export interface StartOptions {
  runtime: Runtime;
  /** Fixture file name under tests/fixtures, or an absolute path. */
  file: string;
  /** false: run without the preload (baseline). */
  preload?: boolean;
  env?: Record<string, string | undefined>;
  args?: string[];
  /** Wait until the app answers on `port` at this path (default '/'); false: do not wait. */
  ready?: string | false;
  cwd?: string;
  /** Another binary of `runtime` (scripts/runtimes.ts) instead of NODE or BUN. */
  binary?: string;
  /** The preload as an app that installed the package names it (`tapwire/register`). */
  register?: string;
}

export function runtimeCommand(
  runtime: Runtime,
  preload: boolean,
  file: string,
  args: string[] = [],
  binary?: string,
  register?: string,
): string[] {
  // By default the file an installed package's `tapwire/register` resolves to on each runtime.
  if (runtime === 'node')
    return [binary ?? NODE, ...(preload ? ['--import', register ?? DIST_REGISTER] : []), file, ...args];
  return [binary ?? BUN, ...(preload ? ['--preload', register ?? DIST_REGISTER_BUN] : []), file, ...args];
}

export async function startApp(options: StartOptions): Promise<App> {
  const port = await freePort();
  const metricsPort = await freePort();
  const file = options.file.startsWith('/') ? options.file : join(FIXTURES, options.file);
  const [cmd, ...argv] = runtimeCommand(
    options.runtime,
    options.preload ?? true,
    file,
    options.args,
    options.binary,
    options.register,
  );
  const child = spawn(cmd!, argv, {
    cwd: options.cwd ?? FIXTURES,
    env: {
      PATH: process.env.PATH,
      TMPDIR: process.env.TMPDIR,
      HOME: process.env.HOME,
      PORT: String(port),
      OTEL_EXPORTER_PROMETHEUS_PORT: String(metricsPort),
      OTEL_EXPORTER_PROMETHEUS_HOST: '127.0.0.1',
      TAPWIRE_ENV: 'test',
      ...options.env,
    } as NodeJS.ProcessEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => {
    out += d;
  });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => {
    err += d;
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolveExit) => {
    child.once('exit', (code, signal) => resolveExit({ code, signal }));
  });
  const app: App = {
    child,
    port,
    metricsPort,
    stdout: () => out,
    stderr: () => err,
    exited,
    url: (path) => `http://127.0.0.1:${port}${path}`,
    metrics: () => scrape(metricsPort),
    async stop() {
      running.delete(app);
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await exited;
      }
    },
  };
  running.add(app);
  if (options.ready !== false) {
    try {
      // Generous: an app's start is not what is measured, and beside the suite's heaviest files on a
      // loaded 2-core VM a start that takes ~1 s alone took over 15 s.
      await waitForHttp(app.url(options.ready ?? '/'), 45_000, exited);
    } catch (error) {
      await app.stop();
      throw new Error(`${(error as Error).message}\nstdout:\n${out}\nstderr:\n${err}`);
    }
  }
  return app;
}

/** Runs a fixture script under the preload to its end (no port, no readiness wait). */
export function runFixture(runtime: Runtime, file: string, env: Record<string, string>): Promise<ScriptRun> {
  return runScript(runtime, true, [join(FIXTURES, file)], env);
}

export interface ScriptRun {
  code: number | null;
  /** Wall time from spawn to exit. */
  ms: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs `args` (a script and its arguments, from tests/fixtures) to its end, with or without the
 * preload, in the test profile with a free metrics port on loopback unless `env` says otherwise.
 */
export async function runScript(
  runtime: Runtime,
  preload: boolean,
  args: string[],
  env: Record<string, string>,
): Promise<ScriptRun> {
  const started = performance.now();
  const [cmd, ...argv] = runtimeCommand(runtime, preload, args[0]!, args.slice(1));
  const child = spawn(cmd!, argv, {
    cwd: FIXTURES,
    env: {
      PATH: process.env.PATH,
      TMPDIR: process.env.TMPDIR,
      HOME: process.env.HOME,
      TAPWIRE_ENV: 'test',
      OTEL_EXPORTER_PROMETHEUS_HOST: '127.0.0.1',
      OTEL_EXPORTER_PROMETHEUS_PORT: String(await freePort()),
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    stdout += d;
  });
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
  });
  const [code] = (await once(child, 'exit')) as [number | null];
  return { code, ms: performance.now() - started, stdout, stderr };
}

export async function stopAll(): Promise<void> {
  await Promise.all([...running].map((a) => a.stop()));
}

export async function waitForHttp(url: string, timeoutMs: number, exited?: Promise<unknown>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let gone = false;
  exited?.then(() => {
    gone = true;
  });
  for (;;) {
    if (gone) throw new Error(`process exited before ${url} answered`);
    try {
      // A refused connection fails at once; an answer that is merely slow (a framework's first
      // render on a loaded machine) must not be abandoned and asked again: the app would count
      // both requests, the abandoned one as aborted.
      const res = await fetch(url, { signal: AbortSignal.timeout(Math.max(1000, deadline - Date.now())) });
      await res.arrayBuffer();
      return;
    } catch {
      if (Date.now() > deadline) throw new Error(`${url} did not answer within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }
}

export async function scrape(metricsPort: number): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
  if (res.status !== 200) throw new Error(`/metrics answered ${res.status}`);
  return res.text();
}

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses Prometheus text exposition into samples. */
export function parseMetrics(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`unparseable metrics line: ${line}`);
    const labels: Record<string, string> = {};
    if (m[3]) {
      const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;
      for (let l = re.exec(m[3]); l; l = re.exec(m[3])) {
        labels[l[1]!] = l[2]!.replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\');
      }
    }
    const raw = m[4]!;
    const value =
      raw === '+Inf' ? Number.POSITIVE_INFINITY : raw === '-Inf' ? Number.NEGATIVE_INFINITY : Number(raw);
    samples.push({ name: m[1]!, labels, value });
  }
  return samples;
}

/** Samples of `name` whose labels include every pair in `match`. */
export function find(samples: Sample[], name: string, match: Record<string, string> = {}): Sample[] {
  return samples.filter((s) => s.name === name && Object.entries(match).every(([k, v]) => s.labels[k] === v));
}

/** The single value of `name` with exactly-matching labels (all other labels must be absent unless listed). */
export function value(samples: Sample[], name: string, labels: Record<string, string>): number | undefined {
  const hit = samples.filter((s) => {
    if (s.name !== name) return false;
    const keys = Object.keys(s.labels);
    const want = Object.keys(labels);
    return keys.length === want.length && want.every((k) => s.labels[k] === labels[k]);
  });
  if (hit.length > 1) throw new Error(`${name} ${JSON.stringify(labels)} matched ${hit.length} samples`);
  return hit[0]?.value;
}

/** Sum of `name` over samples matching `match`. */
export function sum(samples: Sample[], name: string, match: Record<string, string> = {}): number {
  return find(samples, name, match).reduce((a, s) => a + s.value, 0);
}

/** Runs `promtool check metrics` on the text; returns its output (empty when clean). */
export function promtoolCheckMetrics(text: string): { status: number | null; output: string } {
  const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  if (r.error) throw r.error;
  return { status: r.status, output: `${r.stdout}${r.stderr}`.trim() };
}

/** Issues `n` requests sequentially and returns their status codes. */
export async function hit(url: string, n = 1, init?: RequestInit): Promise<number[]> {
  const statuses: number[] = [];
  for (let i = 0; i < n; i++) {
    const res = await fetch(url, init);
    await res.arrayBuffer();
    statuses.push(res.status);
  }
  return statuses;
}

/** JSON log lines of a stream's text (non-JSON lines skipped). */
export function jsonLines(text: string): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      out.push(JSON.parse(line));
    } catch {
      // not a log record
    }
  }
  return out;
}

/** What tests/fixtures/channels-late.mjs reports. */
export interface ChannelsLate {
  /** The built-ins tapwire took through process.getBuiltinModule() before and after the app's work. */
  before: string[];
  after: string[];
  page: string;
  /** The agent's own lines (debug level). */
  lines: Record<string, unknown>[];
}

/**
 * Runs tests/fixtures/channels-late.mjs (copied into a folder inside `cwd`, so that the app's
 * package.json and node_modules are `cwd`'s) on Bun under the preload, with a first preload that records the built-ins tapwire
 * takes. `how` is its HOW.
 */
export function runChannelsLate(
  cwd: string,
  how: string,
  metricsPort: number,
  env: Record<string, string> = {},
): ChannelsLate {
  const dir = mkdtempSync(join(cwd, '.channels-late-'));
  try {
    const trace = join(dir, 'trace.mjs');
    writeFileSync(
      trace,
      "const taken = new Set();\nglobalThis[Symbol.for('test.taken')] = taken;\n" +
        'const get = process.getBuiltinModule;\n' +
        'process.getBuiltinModule = function (id) { taken.add(id); return get.call(this, id); };\n',
    );
    const app = join(dir, `channels-late-${how}.mjs`);
    writeFileSync(app, readFileSync(join(ROOT, 'tests/fixtures/channels-late.mjs')));
    const r = spawnSync(BUN, ['--preload', trace, '--preload', DIST_REGISTER, app], {
      cwd,
      encoding: 'utf8',
      env: agentEnv(metricsPort, { HOW: how, LOG_LEVEL: 'debug', ...env }),
      timeout: 60_000,
    });
    if (r.status !== 0) throw new Error(`channels-late ${how} exited ${r.status}: ${r.stderr}`);
    const out = JSON.parse(r.stdout) as Omit<ChannelsLate, 'lines'>;
    return { ...out, lines: jsonLines(r.stderr) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The tapwire sources bundled into `entry` and every chunk it imports statically (esbuild marks each
 * with `// path.ts`), and with `dynamic` the chunks it imports with import() too.
 */
export function sourcesLoadedBy(entry: string, dynamic = false): string[] {
  const seen = new Set<string>();
  const sources = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/^\/\/ ((?:agent|core|config|exporters|sidecar|cli|rules)\/\S+\.ts)$/gm)) {
      sources.add(m[1]!);
    }
    // Static imports only: `import { x } from "./chunks/a.js"` and `import "./chunks/b.js"`.
    for (const m of text.matchAll(/^(?:import|export)\b[^;]*?["'](\.{1,2}\/[^"']+)["'];?$/gm)) {
      visit(join(dirname(file), m[1]!));
    }
    if (dynamic)
      for (const m of text.matchAll(/\bimport\(["'](\.{1,2}\/[^"']+)["']\)/g))
        visit(join(dirname(file), m[1]!));
  };
  visit(join(ROOT, 'dist', entry));
  return [...sources].sort();
}

/**
 * Prometheus' histogram_quantile over cumulative `[le, count]` buckets (+Inf included), written
 * after promql/quantile.go bucketQuantile: the reference the live page's p95 is checked against.
 */
export function histogramQuantile(q: number, buckets: [number, number][]): number {
  const sorted = [...buckets].sort((a, b) => a[0] - b[0]);
  const observations = sorted[sorted.length - 1]![1];
  if (observations === 0) return Number.NaN;
  let rank = q * observations;
  const b = sorted.findIndex(([, count]) => count >= rank);
  if (b === -1 || b === sorted.length - 1) return sorted[sorted.length - 2]![0];
  let start = 0;
  const end = sorted[b]![0];
  let count = sorted[b]![1];
  if (b > 0) {
    start = sorted[b - 1]![0];
    count -= sorted[b - 1]![1];
    rank -= sorted[b - 1]![1];
  }
  return start + (end - start) * (rank / count);
}
