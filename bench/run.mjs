// tapwire benchmark harness: bare app vs tapwire vs OpenTelemetry, for Node and Bun.
//
//   node bench/run.mjs [--quick] [--runtime node|bun] [--out FILE] [--json FILE]
//                      [--modes bare,tapwire,otel,otel-esm] [--scenarios id,...]
//                      [--timeout-min N] [--register FILE (harness self-test only)]
//
// Run it with Node 24 (node_modules/.bin/node). See docs/benchmarks.md for the output.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { httpGet, runWrk, waitReady } from './lib/measure.mjs';
import {
  CPU,
  freePort,
  killAllSync,
  killTree,
  memoryMb,
  PINNED,
  pin,
  signal,
  sleep,
  spawnTracked,
} from './lib/procs.mjs';
import { deriveRows, renderMarkdown, runtimeTable, targetsTable } from './lib/report.mjs';
import { BENCH_DIR, MODES, modeEnv, preloadOf, REPO, RUNTIMES, SCENARIOS } from './scenarios.mjs';

// ---------------------------------------------------------------- settings

const { values: opts } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    runtime: { type: 'string', multiple: true },
    out: { type: 'string', default: 'docs/benchmarks.md' },
    json: { type: 'string', default: 'bench/results/last-run.json' },
    modes: { type: 'string' },
    scenarios: { type: 'string' },
    'timeout-min': { type: 'string' },
    // Only for testing the harness itself against a stub; real runs use dist/register.js.
    register: { type: 'string' },
  },
});

const settings = opts.quick
  ? { quick: true, startupRuns: 5, slices: 3, sliceSeconds: 1, warmupSeconds: 1, pollMs: 2 }
  : { quick: false, startupRuns: 15, slices: 10, sliceSeconds: 3, warmupSeconds: 3, pollMs: 2 };
const SCRAPE_INTERVAL_MS = 1000;
const RESUME_MS = 200; // a resumed server runs the timers that fell due while it was stopped
const COOL_DOWN_MS = 300; // let the killed process' CPU and sockets settle before the next one
const READY_TIMEOUT_MS = 20000;

const runtimeIds = (opts.runtime ?? Object.keys(RUNTIMES)).flatMap((r) => r.split(','));
const modeIds = opts.modes ? opts.modes.split(',') : MODES.map((m) => m.id);
const scenarioIds = opts.scenarios ? opts.scenarios.split(',') : SCENARIOS.map((s) => s.id);
for (const r of runtimeIds) if (!RUNTIMES[r]) fail(`unknown runtime "${r}" (expected node or bun)`);
for (const m of modeIds) if (!MODES.some((x) => x.id === m)) fail(`unknown mode "${m}"`);
if (opts.register) {
  const tapwire = MODES.find((m) => m.id === 'tapwire');
  tapwire.preload = path.resolve(opts.register);
  tapwire.unavailable = () => (existsSync(tapwire.preload) ? null : `${tapwire.preload} missing`);
}
if (!modeIds.includes('bare')) fail('the bare mode is required: every number is relative to it');

// ---------------------------------------------------------------- cleanup

// Children must never outlive the harness, whatever happens: kill every process group on
// exit, on signals, and on crashes; and bound the whole run with a watchdog.
process.on('exit', killAllSync);
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(signal, () => {
    killAllSync();
    console.error(`\ninterrupted by ${signal}; children killed`);
    process.exit(130);
  });
}
const budgetMin = Number(opts['timeout-min'] ?? (settings.quick ? 15 : 60));
setTimeout(() => {
  killAllSync();
  console.error(`\nwatchdog: run exceeded ${budgetMin} min; children killed`);
  process.exit(2);
}, budgetMin * 60_000).unref();

function fail(message) {
  console.error(`bench: ${message}`);
  process.exit(1);
}

// ---------------------------------------------------------------- one process

/** The environment of a server under test: clean of anything that could change its behaviour. */
function childEnv(mode, scenario, extraEnv, port, metricsPort) {
  const env = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (/^(NODE_OPTIONS|BUN_OPTIONS|NODE_ENV|LOG_LEVEL|OTEL_.*|TAPWIRE_.*)$/.test(key)) continue;
    env[key] = value;
  }
  return {
    ...env,
    ...modeEnv(mode),
    ...scenario.env,
    ...extraEnv,
    PORT: String(port),
    OTEL_EXPORTER_PROMETHEUS_PORT: String(metricsPort),
  };
}

/** Spawn the app under one mode and wait for its first 200. Returns { child, ports, readyMs }. */
async function startServer(runtimeId, scenario, mode, extraEnv) {
  const runtime = RUNTIMES[runtimeId];
  const port = await freePort();
  const metricsPort = await freePort();
  const args = [
    ...(mode.runtimeArgs ?? []),
    ...(preloadOf(mode, runtimeId) ? [runtime.preloadFlag, preloadOf(mode, runtimeId)] : []),
    path.join(BENCH_DIR, scenario.app),
  ];
  const env = childEnv(mode, scenario, extraEnv, port, metricsPort);
  // cwd is the repo so bare specifiers (the OTel register) resolve from its node_modules.
  const t0 = performance.now();
  const child = spawnTracked(runtime.bin, args, { cwd: REPO, env });
  try {
    const t1 = await waitReady(child, port, {
      path: scenario.path,
      timeoutMs: READY_TIMEOUT_MS,
      intervalMs: settings.pollMs,
    });
    return { child, port, metricsPort, readyMs: t1 - t0 };
  } catch (error) {
    await killTree(child);
    throw error;
  }
}

// ---------------------------------------------------------------- phases

/** Rotate the mode order each iteration so no mode always runs first (warm caches, CPU boost). */
const rotate = (list, by) => list.map((_, i) => list[(i + by) % list.length]);
const median = (xs) => {
  const s = xs.filter((x) => x != null && Number.isFinite(x)).sort((a, b) => a - b);
  if (!s.length) return null;
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
};

async function measureStartup(runtimeId, scenario, modes, extraEnv, raw) {
  for (let i = 0; i < settings.startupRuns; i++) {
    for (const mode of rotate(modes, i)) {
      const rec = raw[mode.id];
      if (rec.error) continue; // a mode that cannot start is reported, not retried forever
      try {
        const server = await startServer(runtimeId, scenario, mode, extraEnv);
        rec.startupSamples.push(server.readyMs);
        await killTree(server.child);
      } catch (error) {
        rec.error = error.message;
      }
      await sleep(COOL_DOWN_MS);
    }
    log(
      `  start-up ${i + 1}/${settings.startupRuns}: ${modes.map((m) => `${m.id}=${last(raw[m.id].startupSamples)}`).join(' ')}`,
    );
  }
}

async function measureLoad(runtimeId, scenario, modes, extraEnv, raw) {
  // Every mode's server runs side by side and they take the load in turns: short slices, the
  // order rotated each time, so the machine's own speed (which moves by tens of percent within
  // minutes on a shared VM) falls on every mode alike instead of on whichever ran in a slow
  // minute. A server waits for its turn stopped (SIGSTOP): its timers take no CPU from the one
  // measured.
  const live = [];
  try {
    for (const mode of modes) {
      const rec = raw[mode.id];
      if (rec.error) continue;
      try {
        const server = await startServer(runtimeId, scenario, mode, extraEnv);
        // Started unpinned (the start-up figures come from their own runs), then pinned for the load.
        pin(server.child.pid, CPU.measured);
        live.push({ mode, rec, server });
        const wrkOpts = {
          port: server.port,
          path: scenario.path,
          extraArgs: scenario.wrkArgs ?? [],
          cpu: CPU.load,
        };
        await runWrk({ ...wrkOpts, seconds: settings.warmupSeconds });
        signal(server.child, 'SIGSTOP');
      } catch (error) {
        rec.error = error.message;
        log(`  load ${mode.id}: ${error.message}`);
      }
    }
    for (let slice = 0; slice < settings.slices; slice++) {
      for (const { mode, rec, server } of rotate(live, slice)) {
        if (rec.error) continue;
        signal(server.child, 'SIGCONT');
        try {
          await sleep(RESUME_MS);
          const wrkOpts = {
            port: server.port,
            path: scenario.path,
            extraArgs: scenario.wrkArgs ?? [],
            cpu: CPU.load,
          };
          // An agent's /metrics is scraped every second during its load, as Prometheus would: what
          // a scrape costs the app's event loop is part of the overhead.
          const scrapes = { ok: 0, failed: 0 };
          const scraper =
            server.metricsPort && mode.checkMetrics
              ? setInterval(() => {
                  httpGet(server.metricsPort, '/metrics').then((r) => {
                    if (r.status === 200) scrapes.ok++;
                    else scrapes.failed++;
                  });
                }, SCRAPE_INTERVAL_MS)
              : undefined;
          const result = await runWrk({ ...wrkOpts, seconds: settings.sliceSeconds });
          clearInterval(scraper);
          result.scrapes = scrapes;
          // Read RSS immediately: "at the end of the load", before the heap can shrink.
          const memory = memoryMb(server.child.pid);
          result.rssMb = memory?.rss ?? null;
          result.rssFileMb = memory?.file ?? null;
          if (mode.checkMetrics) result.metrics = await checkMetrics(server.metricsPort, scenario);
          rec.slices.push(result);
          log(
            `  load slice ${slice + 1}/${settings.slices} ${mode.id}: ${result.rps.toFixed(0)} req/s, RSS ${result.rssMb?.toFixed(1)} MB` +
              (result.metrics ? `, /metrics ${result.metrics.ok ? 'ok' : result.metrics.detail}` : ''),
          );
        } catch (error) {
          rec.error = error.message;
          log(`  load slice ${slice + 1} ${mode.id}: ${error.message}`);
        } finally {
          signal(server.child, 'SIGSTOP');
        }
      }
    }
  } finally {
    for (const { server } of live) {
      signal(server.child, 'SIGCONT');
      await killTree(server.child);
    }
    await sleep(COOL_DOWN_MS);
  }
}

/** Stop or resume a server's whole process group (gone already: nothing to do). */
/** The agent must actually serve metrics about the server it instruments. */
async function checkMetrics(metricsPort, scenario) {
  const { status, body, error } = await httpGet(metricsPort, '/metrics');
  if (status !== 200) return { ok: false, detail: `GET /metrics → ${status ?? error}` };
  if (scenario.metricPattern && !scenario.metricPattern.test(body))
    return { ok: false, detail: 'no http_server_* series' };
  if (scenario.routePattern && !scenario.routePattern.test(body))
    return { ok: false, detail: 'no series with the route template' };
  return { ok: true, detail: `${body.split('\n').filter((l) => l && !l.startsWith('#')).length} samples` };
}

async function runScenario(runtimeId, scenario) {
  const modes = MODES.filter(
    (m) => modeIds.includes(m.id) && (!m.runtimes || m.runtimes.includes(runtimeId)),
  );
  const raw = Object.fromEntries(
    modes.map((m) => [m.id, { startupSamples: [], slices: [], error: m.unavailable?.() ?? null }]),
  );
  const helpers = scenario.setup
    ? await scenario.setup({ spawnTracked, freePort, killTree, REPO, BENCH_DIR })
    : {};
  try {
    await measureStartup(runtimeId, scenario, modes, helpers.env ?? {}, raw);
    await measureLoad(runtimeId, scenario, modes, helpers.env ?? {}, raw);
  } finally {
    await helpers.teardown?.();
  }
  const byMode = {};
  for (const [id, rec] of Object.entries(raw)) {
    byMode[id] = {
      error: rec.error,
      startupMs: median(rec.startupSamples),
      startupSamplesMs: rec.startupSamples.map((x) => Math.round(x * 10) / 10),
      rps: median(rec.slices.map((r) => r.rps)),
      p99Ms: median(rec.slices.map((r) => r.p99Ms)),
      rssMb: median(rec.slices.map((r) => r.rssMb)),
      rssFileMb: median(rec.slices.map((r) => r.rssFileMb)),
      loadErrors: rec.slices.reduce((sum, r) => sum + r.non2xx + r.socketErrors, 0),
      metrics:
        rec.slices.length && rec.slices[0].metrics
          ? {
              ok: rec.slices.every((r) => r.metrics?.ok),
              detail: rec.slices.find((r) => !r.metrics?.ok)?.metrics.detail ?? rec.slices[0].metrics.detail,
            }
          : null,
      slices: rec.slices,
    };
  }
  return byMode;
}

// ---------------------------------------------------------------- metadata

function tryExec(cmd, args) {
  try {
    return execFileSync(cmd, args, {
      encoding: 'utf8',
      timeout: 10000,
      stdio: ['ignore', 'pipe', 'pipe'],
    }).trim();
  } catch {
    return null;
  }
}

function machineMeta() {
  const tapwireMode = MODES.find((m) => m.id === 'tapwire');
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  const otelPkg = JSON.parse(
    readFileSync(
      path.join(REPO, 'node_modules/@opentelemetry/auto-instrumentations-node/package.json'),
      'utf8',
    ),
  );
  return {
    command: ['node', 'bench/run.mjs', ...process.argv.slice(2)].join(' '),
    date: new Date().toISOString(),
    nproc: tryExec('nproc', []) ?? String(os.availableParallelism()),
    cpuModel: /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1] ?? 'unknown CPU',
    memGb: (os.totalmem() / 2 ** 30).toFixed(1),
    os: `${os.type()} ${os.release()}`,
    versions: Object.fromEntries(
      Object.entries(RUNTIMES).map(([id, r]) => [id, tryExec(r.bin, r.versionArgs)]),
    ),
    wrkVersion: /wrk (\S+)/.exec(tryExec('sh', ['-c', 'wrk --version 2>&1 || true']) ?? '')?.[1] ?? 'unknown',
    otelVersion: otelPkg.version,
    // Other work on a shared 2-core machine shows up as noise; record it with the numbers.
    loadAvgAtStart: os
      .loadavg()
      .map((x) => x.toFixed(2))
      .join(' '),
    tapwireRegister: path.relative(REPO, preloadOf(tapwireMode, 'node')),
    tapwireRegisterBun: path.relative(REPO, preloadOf(tapwireMode, 'bun')),
  };
}

// ---------------------------------------------------------------- main

const last = (xs) => (xs.length ? xs.at(-1).toFixed(1) : '-');
const log = (msg) => console.error(msg); // progress on stderr; the tables go to stdout

async function main() {
  const meta = machineMeta();
  log(
    `bench: ${settings.quick ? 'quick' : 'full'} run, runtimes ${runtimeIds.join(',')}, modes ${modeIds.join(',')}`,
  );
  const results = {};
  const raw = {};
  for (const runtimeId of runtimeIds) {
    results[runtimeId] = {};
    raw[runtimeId] = {};
    for (const scenario of SCENARIOS.filter(
      (s) => s.runtimes.includes(runtimeId) && scenarioIds.includes(s.id),
    )) {
      log(`\n[${runtimeId}] ${scenario.id}`);
      const byMode = await runScenario(runtimeId, scenario);
      raw[runtimeId][scenario.id] = byMode;
      results[runtimeId][scenario.id] = deriveRows(byMode);
    }
  }

  meta.loadAvgAtEnd = os
    .loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');
  const markdown = renderMarkdown({ results, meta, settings: { ...settings, pinned: PINNED } });
  writeOut(opts.out, `${markdown}\n`);
  writeOut(opts.json, `${JSON.stringify({ meta, settings, raw, results }, null, 2)}\n`);

  for (const runtimeId of Object.keys(results)) {
    console.log(
      `\n## ${RUNTIMES[runtimeId].label}\n\n${runtimeTable(runtimeId, results)}\n\n${targetsTable(runtimeId, results)}`,
    );
  }
  console.log(`\nwritten: ${opts.out}${opts.json ? `, ${opts.json}` : ''}`);
}

function writeOut(file, text) {
  if (!file) return;
  const target = path.resolve(REPO, file);
  mkdirSync(path.dirname(target), { recursive: true });
  writeFileSync(target, text);
}

try {
  await main();
} catch (error) {
  console.error(`bench failed: ${error.stack ?? error}`);
  process.exitCode = 1;
} finally {
  killAllSync();
}
