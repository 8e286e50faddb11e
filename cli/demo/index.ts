// `tapwire demo [--runtime node|bun] [--raw] [--keep]`: runs a tiny node:http service (app.ts, built
// to dist/cli/demo-app.js) under the built preload on free ports, sends it a fixed set of requests,
// prints a table per area (routes, database operations, AI calls) from the service's live page data
// (exporters/live/: the numbers of the page, read by the same code) and the page's address, then
// stops it — or, on a terminal or with --keep, keeps it running with the same traffic every few
// seconds until Ctrl-C, so the page has something to show. `--raw` adds the exposition lines. The
// traffic is fixed so the counts are predictable (tests/cli.test.ts checks them).
//
// The service's AI provider is the stand-in (standin/), served from this process (not measured:
// the CLI is never preloaded) and reached through TAPWIRE_AI_ENDPOINTS, with fixed usage so the
// token sums and costs are predictable too.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { LiveSnapshot } from '../../exporters/live/model.js';
import type { CliContext } from '../context.js';
import { progress } from '../progress.js';
import { type ModelUsage, type Standin, startStandin } from './standin/index.js';
import { summary } from './tables.js';

const USAGE = 'Usage: tapwire demo [--runtime node|bun] [--raw] [--keep]\n';

/** What the demo sends, in order. */
export const DEMO_TRAFFIC = [
  { method: 'GET', path: '/', times: 10 },
  { method: 'GET', path: '/fail', times: 3 },
  { method: 'POST', path: '/orders', times: 2 },
  { method: 'POST', path: '/summarize', times: 2 },
  { method: 'POST', path: '/chat', times: 3 },
] as const;

/**
 * What the stand-in answers per model (usage as OpenAI reports it: cached tokens inside the
 * prompt tokens). `/summarize` asks gpt-4o without streaming, `/chat` gpt-4o-mini streamed; both
 * models are in core/ai/prices.json, so the cost lines show up.
 */
export const DEMO_AI: readonly ModelUsage[] = [
  { model: 'gpt-4o', responseModel: 'gpt-4o-2024-08-06', input: 1000, cached: 600, output: 150 },
  { model: 'gpt-4o-mini', responseModel: 'gpt-4o-mini-2024-07-18', input: 200, cached: 0, output: 80 },
];
/**
 * A few milliseconds between stream events, as a model generates them: the first chunk comes well
 * before the end, which the time-to-first-chunk histogram shows.
 */
const DEMO_PACE = { every: 1, first: 0, ms: 5 };
/** Inbound requests the app sees: every request, plus the /inventory call behind each order. */
const INBOUND = DEMO_TRAFFIC.reduce((n, t) => n + t.times, 0) + 2;
/** The series `--raw` prints: the app's HTTP, database and AI-provider metrics. */
const SHOWN = /^(http_|db_|gen_ai_|tapwire_gen_ai_)/;
/** With --keep, a round of the same traffic this often, so the live page's charts move. */
const KEEP_ROUND_MS = 2000;

interface Options {
  runtime: 'node' | 'bun';
  raw: boolean;
  keep: boolean;
}

function parse(args: string[]): Options | string {
  // A person at a terminal gets the service kept running for the page; a pipe or a test does not.
  const options: Options = { runtime: 'node', raw: false, keep: process.stdout.isTTY === true };
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--raw') options.raw = true;
    else if (a === '--keep') options.keep = true;
    else if (a === '--no-keep') options.keep = false;
    else if (a === '--runtime') {
      const runtime = args[++i];
      if (runtime !== 'node' && runtime !== 'bun') return '--runtime takes node or bun';
      options.runtime = runtime;
    } else return `unexpected ${JSON.stringify(a)}`;
  }
  return options;
}

export async function runDemo(args: string[], context: CliContext): Promise<number> {
  const options = parse(args);
  if (typeof options === 'string') {
    process.stderr.write(`tapwire demo: ${options}\n${USAGE}`);
    return 2;
  }
  // An empty working directory, so the service picks up no .env, bunfig.toml or package.json of
  // wherever the user runs the demo.
  const dir = mkdtempSync(join(tmpdir(), 'tapwire-demo-'));
  const shown = progress();
  let child: ChildProcess | undefined;
  let ai: Standin | undefined;
  // Ctrl-C (or SIGTERM) while the demo sets up must not leave the service running; once it runs
  // for the page (--keep), it is how the demo is ended.
  let stopKeeping: (() => void) | undefined;
  const interrupt = () => {
    if (stopKeeping) stopKeeping();
    else child?.kill('SIGKILL');
  };
  process.once('SIGINT', interrupt);
  process.once('SIGTERM', interrupt);
  try {
    shown.step('starting the AI provider stand-in…');
    ai = await startStandin({ models: DEMO_AI, pace: DEMO_PACE });
    const aiPort = ai.ports.openai;
    // Picked once the stand-in listens, right before the service starts: a port released here is
    // the system's to give again, and the stand-in's own listens took /metrics' port once (its
    // page then answered 404 for the live page).
    const appPort = await freePort();
    let metricsPort = await freePort();
    while (metricsPort === appPort) metricsPort = await freePort();
    const register = join(context.distDir, 'register.js');
    const [cmd, ...preload] =
      options.runtime === 'bun'
        ? [process.env.TAPWIRE_BUN || 'bun', '--preload', register]
        : [isBun() ? 'node' : process.execPath, '--import', pathToFileURL(register).href];
    shown.step(`starting the ${options.runtime} service under the preload…`);
    child = spawn(cmd!, [...preload, join(context.distDir, 'cli/demo-app.js')], {
      cwd: dir,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...process.env,
        DEMO_PORT: String(appPort),
        OTEL_SERVICE_NAME: 'tapwire-demo',
        OTEL_EXPORTER_PROMETHEUS_HOST: '127.0.0.1',
        OTEL_EXPORTER_PROMETHEUS_PORT: String(metricsPort),
        // The demo's tables are the live page's numbers, whatever profile the caller's environment picks.
        TAPWIRE_DASHBOARD: 'on',
        DEMO_AI_URL: `http://127.0.0.1:${aiPort}`,
        TAPWIRE_AI_ENDPOINTS: `127.0.0.1:${aiPort}=openai`,
      },
    });
    let output = '';
    child.stdout?.on('data', (d: Buffer) => (output += d));
    child.stderr?.on('data', (d: Buffer) => (output += d));
    await ready(child, () => output);

    const app = `http://127.0.0.1:${appPort}`;
    const endpoint = `http://127.0.0.1:${metricsPort}`;
    const before = await liveSnapshot(endpoint);
    let sent = 0;
    for (const t of DEMO_TRAFFIC) {
      for (let i = 0; i < t.times; i++) {
        shown.step(`sending traffic: ${++sent}/${INBOUND - 2} (${t.method} ${t.path})`);
        await (await fetch(app + t.path, { method: t.method })).arrayBuffer();
      }
    }
    shown.step('reading the numbers…');
    const after = await settled(endpoint);
    shown.done();

    const seconds = (after.time - before.time) / 1000;
    process.stdout.write(
      `tapwire demo: ${options.runtime} service with tapwire preloaded at ${app}\n` +
        `sent ${sent} requests in ${seconds.toFixed(2)} s: ${DEMO_TRAFFIC.map((t) => `${t.times} × ${t.method} ${t.path}`).join(', ')}\n\n`,
    );
    process.stdout.write(summary(before, after));
    if (options.raw) {
      const text = await (await fetch(`${endpoint}/metrics`)).text();
      const lines = text.split('\n').filter((l) => SHOWN.test(l));
      process.stdout.write(
        `\n${endpoint}/metrics (http_*, db_* and gen_ai_* series):\n${lines.join('\n')}\n`,
      );
    }
    if (!options.keep) {
      process.stdout.write(
        `\nlive page: ${endpoint}/ (while the service runs; it stops now, --keep keeps it)${options.raw ? '' : '\nraw exposition: tapwire demo --raw'}\n`,
      );
      return 0;
    }
    process.stdout.write(`\nlive page: ${endpoint}/ (the service runs until Ctrl-C)\n`);
    return await keepRunning(child, app, (stop) => {
      stopKeeping = stop;
    });
  } catch (error) {
    shown.done();
    process.stderr.write(`tapwire demo: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  } finally {
    process.off('SIGINT', interrupt);
    process.off('SIGTERM', interrupt);
    if (child) await stop(child);
    if (ai) await ai.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The same traffic again every few seconds until stopped (0) or the service ends (1). */
async function keepRunning(
  child: ChildProcess,
  app: string,
  onStop: (stop: () => void) => void,
): Promise<number> {
  let stopped = false;
  let wake: () => void = () => {};
  onStop(() => {
    stopped = true;
    wake();
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let gone = false;
  exited.then(() => {
    gone = true;
    wake();
  });
  while (!stopped && !gone) {
    for (const t of DEMO_TRAFFIC) {
      for (let i = 0; i < t.times && !stopped && !gone; i++) {
        await fetch(app + t.path, { method: t.method })
          .then((r) => r.arrayBuffer())
          .catch(() => {});
      }
    }
    await new Promise<void>((resolve) => {
      wake = resolve;
      setTimeout(resolve, KEEP_ROUND_MS);
    });
  }
  if (gone && !stopped) {
    process.stderr.write('tapwire demo: the service ended\n');
    return 1;
  }
  return 0;
}

async function liveSnapshot(endpoint: string): Promise<LiveSnapshot> {
  const res = await fetch(`${endpoint}/live.json`);
  if (!res.ok) throw new Error(`${endpoint}/live.json answered ${res.status}`);
  return (await res.json()) as LiveSnapshot;
}

function isBun(): boolean {
  return typeof (globalThis as { Bun?: unknown }).Bun === 'object';
}

/** A port nothing listens on right now (the OS picks it; we release it for the child). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

function ready(child: ChildProcess, output: () => string): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = (error?: Error) => {
      clearTimeout(timer);
      child.off('exit', onExit).off('error', onError);
      child.stdout?.off('data', onData);
      if (error) reject(error);
      else resolve();
    };
    const fail = (why: string) => done(new Error(`the demo service ${why}\n${output()}`));
    const onExit = (code: number | null) => fail(`exited with code ${code}`);
    const onError = (e: Error) => fail(`could not start (${e.message}); for bun, set TAPWIRE_BUN`);
    const onData = () => output().includes('ready\n') && done();
    const timer = setTimeout(() => fail('did not start within 10 s'), 10_000);
    child.on('exit', onExit).on('error', onError);
    child.stdout?.on('data', onData);
  });
}

// A response can reach us a moment before the server's finish event is recorded, so poll until
// every inbound request is counted. Runtimes whose server is not measured yet get what is there.
async function settled(endpoint: string): Promise<LiveSnapshot> {
  const deadline = Date.now() + 3000;
  for (;;) {
    const snapshot = await liveSnapshot(endpoint);
    const counted = snapshot.http.reduce((n, g) => n + g.count, 0);
    if (counted >= INBOUND || Date.now() > deadline) return snapshot;
    await new Promise((r) => setTimeout(r, 50));
  }
}

function stop(child: ChildProcess): Promise<void> {
  // No pid: it never started. An exit code or signal: it already ended.
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null)
    return Promise.resolve();
  return new Promise((resolve) => {
    const kill = setTimeout(() => {
      child.kill('SIGKILL');
      setTimeout(resolve, 500).unref();
    }, 3000);
    child.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    child.kill('SIGTERM');
  });
}
