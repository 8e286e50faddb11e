// What the harness measures: runtimes, agent modes and app scenarios.
//
// To add a row (a database client, an AI streaming proxy, a sidecar...), append a scenario.
// A scenario may start helper processes in `setup` (a fake DB, a mock LLM upstream) and
// hand extra env to the app; helpers run as separate processes so that their CPU cost is
// the same for every mode and never lands inside the harness' own event loop.
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url));
export const REPO = path.resolve(BENCH_DIR, '..');

// TAPWIRE_BENCH_NODE / TAPWIRE_BENCH_BUN: another binary (e.g. one that `node scripts/runtimes.ts
// node@26.10.0` fetched) for the apps and the harness, to compare runtime versions on one machine.
export const RUNTIMES = {
  node: {
    label: 'Node.js',
    bin: process.env.TAPWIRE_BENCH_NODE || path.join(REPO, 'node_modules/.bin/node'),
    preloadFlag: '--import',
    versionArgs: ['--version'],
  },
  bun: {
    label: 'Bun',
    bin: process.env.TAPWIRE_BENCH_BUN || path.join(REPO, 'node_modules/.bin/bun'),
    preloadFlag: '--preload',
    versionArgs: ['--version'],
  },
};

// Metrics go to a Prometheus endpoint for both agents, nothing else is exported: the same
// work for tapwire and OpenTelemetry. NODE_ENV=production for every mode (bare included)
// because that is how services run in production.
const COMMON_ENV = {
  NODE_ENV: 'production',
  OTEL_METRICS_EXPORTER: 'prometheus',
  OTEL_TRACES_EXPORTER: 'none',
  OTEL_LOGS_EXPORTER: 'none',
};

export const TAPWIRE_REGISTER = path.join(REPO, 'dist/register.js');

/**
 * The file `tapwire/register` is on each runtime in `dir` (a build's dist/): package.json's exports
 * give Bun dist/register-bun.js (the `bun` condition) and Node dist/register.js, so a bench loads
 * the preload as an installed package's `--import tapwire/register` / `--preload tapwire/register`
 * does. A build without Bun's file (an older one, as a `base`) is register.js on both.
 */
export function registers(dir = path.join(REPO, 'dist')) {
  const exported = JSON.parse(readFileSync(path.join(REPO, 'package.json'), 'utf8')).exports['./register'];
  const file = (target) => path.join(dir, path.relative('dist', target));
  const bun = file(exported.bun ?? exported.default);
  return { node: file(exported.default), bun: existsSync(bun) ? bun : file(exported.default) };
}

/** A mode's preload on a runtime: one file for every runtime, or one per runtime (registers()). */
export function preloadOf(mode, runtimeId) {
  return mode.preload !== null && typeof mode.preload === 'object' ? mode.preload[runtimeId] : mode.preload;
}

export const OTEL_REGISTER = '@opentelemetry/auto-instrumentations-node/register';

/**
 * Agent modes, in table order. `preload` is passed with the runtime's preload flag, after
 * `runtimeArgs`; `runtimes` limits a mode to some runtimes; `unavailable()` returns a reason
 * to skip the mode (reported in the table) or null.
 */
// No cloud detectors: they probe metadata endpoints (GCP, AWS...) and would add
// network timeouts to OpenTelemetry's start-up that have nothing to do with the agent.
const OTEL_ENV = { OTEL_NODE_RESOURCE_DETECTORS: 'env,host,os,process' };

export const MODES = [
  { id: 'bare', preload: null, env: {} },
  {
    id: 'tapwire',
    preload: registers(),
    env: {},
    unavailable: () => (existsSync(TAPWIRE_REGISTER) ? null : 'dist/register.js missing (run npm run build)'),
    checkMetrics: true,
  },
  {
    id: 'otel',
    preload: OTEL_REGISTER,
    env: OTEL_ENV,
    checkMetrics: true,
  },
  {
    // The `--import .../register` above only patches modules loaded with require(): on an
    // ESM app it records no http_server_* metrics (checked in the /metrics column).
    // OpenTelemetry's documented ESM setup adds its import-in-the-middle loader hook; this
    // row shows what OTel costs when it really instruments the ESM app. Node only:
    // Bun has no --experimental-loader. The 1/5 target still uses the plain `otel` row.
    id: 'otel-esm',
    preload: OTEL_REGISTER,
    runtimeArgs: [
      '--experimental-loader=@opentelemetry/instrumentation/hook.mjs',
      '--no-warnings=ExperimentalWarning',
    ],
    runtimes: ['node'],
    env: OTEL_ENV,
    checkMetrics: true,
  },
  // An A/B of two builds in one run: TAPWIRE_BENCH_BASE=DIR (another build's dist/, copied aside)
  // adds its register.js as the `base` mode, measured beside `tapwire` (`--modes bare,tapwire,base`).
  ...(process.env.TAPWIRE_BENCH_BASE
    ? [
        {
          id: 'base',
          preload: registers(process.env.TAPWIRE_BENCH_BASE),
          env: {},
          checkMetrics: true,
        },
      ]
    : []),
];

export function modeEnv(mode) {
  return mode.id === 'bare' ? { NODE_ENV: COMMON_ENV.NODE_ENV } : { ...COMMON_ENV, ...mode.env };
}

/**
 * The OpenTelemetry reference for a script that runs its processes outside this repository (an app
 * folder of its own) or without the MODES machinery: its register as a file (resolved from this
 * repository, which installs it) and the otel mode's environment.
 */
export function otelReference() {
  return {
    preload: createRequire(path.join(REPO, 'package.json')).resolve(OTEL_REGISTER),
    env: modeEnv(MODES.find((m) => m.id === 'otel')),
  };
}

/** A framework's hello app on `/users/:id`, Node and Bun: its row needs the route template on /metrics. */
function routed(id, title) {
  return {
    id,
    title,
    app: `apps/${id}.mjs`,
    runtimes: ['node', 'bun'],
    path: '/users/42',
    metricPattern: /^http_server_\w+/m,
    routePattern: /^http_server_request_duration_seconds_count\{[^}]*http_route="\/users\/:id"/m,
  };
}

/**
 * Scenarios. Fields:
 *   id, title      - row name and description
 *   app            - script under bench/apps, run with the runtime
 *   runtimes       - which runtimes run it
 *   path           - polled for readiness and loaded by wrk
 *   env            - extra env for the app (optional)
 *   wrkArgs        - extra wrk args, e.g. ['-s', 'post.lua'] (optional)
 *   metricPattern  - what an agent's /metrics must contain after the load
 *   routePattern   - and, for a routed app, the series with its route template (optional)
 *   setup(ctx)     - optional; may start helpers via ctx.spawnTracked / ctx.freePort and
 *                    return { env, teardown } (teardown is always awaited)
 */
export const SCENARIOS = [
  {
    id: 'http-hello',
    title: '`node:http` hello world (bench/apps/http-hello.mjs)',
    app: 'apps/http-hello.mjs',
    runtimes: ['node', 'bun'],
    path: '/',
    metricPattern: /^http_server_\w+/m,
  },
  {
    id: 'bun-serve-hello',
    title: '`Bun.serve` hello world (bench/apps/bun-serve-hello.mjs)',
    app: 'apps/bun-serve-hello.mjs',
    runtimes: ['bun'],
    path: '/',
    metricPattern: /^http_server_\w+/m,
  },
  // Frameworks: the agent must also find the route template (http_route="/users/:id").
  routed('express-hello', 'Express hello world on a routed path (bench/apps/express-hello.mjs)'),
  routed('fastify-hello', 'Fastify hello world on a routed path (bench/apps/fastify-hello.mjs)'),
  routed(
    'hono-hello',
    'Hono hello world on a routed path (bench/apps/hono-hello.mjs; @hono/node-server on Node, Bun.serve on Bun)',
  ),
];

// Targets for the tapwire rows. Each returns { value, ok } from the computed row, or null
// when the inputs are missing (reported as n/a, never as a pass).
export const TARGETS = [
  {
    name: 'start-up overhead',
    limit: '≤ 15 ms',
    check: (r) =>
      r.startupOverheadMs == null
        ? null
        : { value: `${fmt(r.startupOverheadMs, 1)} ms`, ok: r.startupOverheadMs <= 15 },
  },
  {
    name: 'start-up overhead vs OpenTelemetry',
    limit: '≤ 1/5 (0.20)',
    check: (r) =>
      r.startupVsOtel == null ? null : { value: fmt(r.startupVsOtel, 2), ok: r.startupVsOtel <= 0.2 },
  },
  {
    name: 'requests/s vs bare, /metrics scraped every second',
    limit: '≥ 0.95',
    check: (r) => (r.rpsRatio == null ? null : { value: fmt(r.rpsRatio, 3), ok: r.rpsRatio >= 0.95 }),
  },
  {
    name: 'RSS overhead',
    limit: '≤ 12 MB',
    check: (r) =>
      r.rssDeltaMb == null ? null : { value: `${fmt(r.rssDeltaMb, 1)} MB`, ok: r.rssDeltaMb <= 12 },
  },
];

export function fmt(n, digits = 1) {
  return n == null || !Number.isFinite(n) ? 'n/a' : n.toFixed(digits);
}
