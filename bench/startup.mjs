// Start-up A/B: what the preload adds to a process that starts, and to a process that starts many.
//
//   node bench/startup.mjs [--runs 21] [--base DIR] [--measure e0,first200,children,breakdown] [--runtime node,bun] [--no-precompiled] [--no-empty] [--no-otel] [--otel-children-runs 3] [--out FILE]
//
// Three measures, each in an app folder whose package.json declares pg, mysql2, ioredis, express and
// openai, and whose node_modules holds those packages and what they depend on (links to this repo's
// copies), as an app that installed them would: not Hono, whose presence adds a module hook to a
// Node process's deferred start (agent/defer.ts, ~1.5 ms):
// - e0: `node --import dist/register.js -e 0` (`bun --preload dist/register-bun.js`: the files
//   `tapwire/register` is on each runtime), spawn to exit;
// - first200: spawn to the first HTTP 200 of a node:http hello app (raw probe every 2 ms);
// - children: one process that spawns 50 short children (`-e 0`) one after another with
//   execFileSync, all under NODE_OPTIONS / BUN_OPTIONS — the parent holds /metrics and, blocked,
//   answers none of them: wall time;
// - children-async: the same with spawn() awaited one at a time: the parent answers each child;
// - breakdown: where the agent's start goes, from its own TAPWIRE_STARTED line (a script that
//   turns its event loop once, with LOG_LEVEL=debug, runs of their own, untimed here: on Node the
//   agent starts there, its start deferred; on Bun with the preload): loading its code,
//   configuration, set-up, each hook, the /metrics endpoint; on Bun, what of `-e 0`'s overhead is
//   left outside it. Also for a
//   child beside its holder (run by a process of the same mode that holds the port, the preload
//   inherited): what each child of the children rows pays.
// Modes: bare, tapwire (this tree's dist/ as the package installs it), on Bun precompiled (a copy of
// it after `tapwire precompile`: the agent from Bun's bytecode, docs/cli.md) and, with --base,
// another build's dist/ (e.g. main's, copied aside) — so two builds are compared on the same
// machine, in the same minutes — `empty`, a preload that is an empty module (bench/apps/
// empty-preload.mjs): what the runtime charges for any preload, and `otel`, the OpenTelemetry
// reference (auto-instrumentations-node's register with the environment of bench/run.mjs' otel row):
// in the children rows for --otel-children-runs runs only, as each of them is 50 of its 0.4–0.8 s
// starts. Every run
// goes through the modes in a rotated order; medians are reported with the load average, because a
// shared 2-core machine moves every absolute figure.
import { spawnSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { fmt, guard, machineLine, median, rotate, writeOut } from './lib/common.mjs';
import { waitReady } from './lib/measure.mjs';
import { freePort, killTree, spawnTracked } from './lib/procs.mjs';
import { BENCH_DIR, otelReference, preloadOf, REPO, RUNTIMES, registers } from './scenarios.mjs';

const { values: opts } = parseArgs({
  allowNegative: true,
  options: {
    runs: { type: 'string', default: '21' },
    base: { type: 'string' },
    measure: { type: 'string', default: 'e0,first200,children,children-async,breakdown' },
    runtime: { type: 'string', default: 'node,bun' },
    children: { type: 'string', default: '50' },
    precompiled: { type: 'boolean', default: true },
    empty: { type: 'boolean', default: true },
    otel: { type: 'boolean', default: true },
    'otel-children-runs': { type: 'string', default: '3' },
    out: { type: 'string' },
  },
});
const RUNS = Number(opts.runs);
const CHILDREN = Number(opts.children);
const MEASURES = opts.measure.split(',');
const RUNTIME_IDS = opts.runtime.split(',');

const MODES = [
  { id: 'bare', preload: null },
  { id: 'tapwire', preload: registers() },
];
if (opts.base) MODES.push({ id: 'base', preload: registers(path.resolve(opts.base)) });
// What a preload costs before it does anything (an empty module, `agent: false`: no breakdown): the
// runtime's own share of every row, which no agent can take away.
if (opts.empty)
  MODES.push({ id: 'empty', preload: path.join(BENCH_DIR, 'apps/empty-preload.mjs'), agent: false });

guard(60);

if (existsSync(path.join(REPO, 'dist/bun'))) {
  throw new Error(
    'dist/bun/ is there (tapwire precompile): the tapwire column would run precompiled on Bun. ' +
      'Remove it (bun dist/cli/main.js precompile --remove) or rebuild.',
  );
}
// Bun only: Node never reads the compiled tree.
if (opts.precompiled && RUNTIME_IDS.includes('bun')) {
  const copy = mkdtempSync(path.join(os.tmpdir(), 'tapwire-startup-dist-'));
  process.on('exit', () => rmSync(copy, { recursive: true, force: true }));
  cpSync(path.join(REPO, 'dist'), copy, { recursive: true });
  const r = spawnSync(RUNTIMES.bun.bin, [path.join(copy, 'cli/main.js'), 'precompile'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`tapwire precompile: exit ${r.status}: ${r.stderr}`);
  MODES.push({ id: 'precompiled', preload: registers(copy), only: 'bun' });
}
// The reference (bench/run.mjs' otel row, its register resolved from this repo: the app folder has
// no OpenTelemetry), last: what an agent that measures the same things costs the same processes.
if (opts.otel) {
  MODES.push({
    id: 'otel',
    ...otelReference(),
    agent: false,
    runs: (measure) => (measure.startsWith('children') ? Number(opts['otel-children-runs']) : RUNS),
  });
}
const modesOf = (runtimeId) => MODES.filter((m) => m.only === undefined || m.only === runtimeId);

// The app folder: what the preload reads at start (package.json) is what a real app would have.
const app = mkdtempSync(path.join(os.tmpdir(), 'tapwire-startup-'));
process.on('exit', () => rmSync(app, { recursive: true, force: true }));
writeFileSync(
  path.join(app, 'package.json'),
  JSON.stringify({
    name: 'startup-app',
    type: 'module',
    dependencies: { pg: '*', mysql2: '*', ioredis: '*', express: '*', openai: '*' },
  }),
);
linkInstalled(app, ['pg', 'mysql2', 'ioredis', 'express', 'openai']);
writeFileSync(
  path.join(app, 'hello.mjs'),
  "import http from 'node:http';\n" +
    "http.createServer((q, s) => s.end('hello')).listen(Number(process.env.PORT), '127.0.0.1');\n",
);
writeFileSync(
  path.join(app, 'parent.mjs'),
  "import { execFileSync } from 'node:child_process';\n" +
    "for (let i = 0; i < Number(process.env.CHILDREN); i++) execFileSync(process.execPath, ['-e', '0']);\n",
);
writeFileSync(
  path.join(app, 'started-children.mjs'),
  "import { spawnSync } from 'node:child_process';\n" +
    '// CHILDREN children (the script TURN) under the preload this process has from its environment, at debug level;\n' +
    '// their TAPWIRE_STARTED lines as JSON on stdout.\n' +
    'const out = [];\n' +
    'for (let i = 0; i < Number(process.env.CHILDREN); i++) {\n' +
    "  const r = spawnSync(process.execPath, ['-e', process.env.TURN], { env: { ...process.env, LOG_LEVEL: 'debug' }, encoding: 'utf8' });\n" +
    "  const line = r.stderr.split('\\n').find((l) => l.includes('\"TAPWIRE_STARTED\"'));\n" +
    "  if (line === undefined) throw new Error('no TAPWIRE_STARTED line (exit ' + r.status + '): ' + r.stderr);\n" +
    '  out.push(JSON.parse(line));\n' +
    '}\n' +
    'process.stdout.write(JSON.stringify(out));\n',
);
writeFileSync(
  path.join(app, 'parent-async.mjs'),
  "import { spawn } from 'node:child_process';\nimport { once } from 'node:events';\n" +
    "for (let i = 0; i < Number(process.env.CHILDREN); i++) await once(spawn(process.execPath, ['-e', '0']), 'exit');\n",
);

/** The environment of one measured process: nothing inherited that could change what it does. */
function env(mode, runtimeId, metricsPort, extra = {}) {
  const out = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!/^(NODE_OPTIONS|BUN_OPTIONS|NODE_ENV|LOG_LEVEL|OTEL_.*|TAPWIRE_.*)$/.test(k)) out[k] = v;
  }
  out.NODE_ENV = 'production';
  // A port of its own: another engineer's process on 9464 would make every run a follower.
  out.OTEL_EXPORTER_PROMETHEUS_PORT = String(metricsPort);
  out.OTEL_EXPORTER_PROMETHEUS_HOST = '127.0.0.1';
  if (mode.preload !== null && extra.inherit) {
    out[runtimeId === 'bun' ? 'BUN_OPTIONS' : 'NODE_OPTIONS'] =
      `${RUNTIMES[runtimeId].preloadFlag} ${preloadOf(mode, runtimeId)}`;
  }
  return { ...out, ...mode.env, ...extra.env };
}

const preload = (mode, runtimeId) =>
  mode.preload ? [RUNTIMES[runtimeId].preloadFlag, preloadOf(mode, runtimeId)] : [];

// CPU time (task-clock of the process and its children, every thread) next to wall time when
// `perf` is there: on a loaded machine the wall time of a start-up is mostly waiting for a core,
// while its CPU time is what it costs.
const PERF =
  spawnSync('perf', ['stat', '-x,', '-e', 'task-clock', 'true'], { encoding: 'utf8' }).status === 0;

/** Runs to exit: { wall, cpu } in ms (cpu null without perf). */
function timedSync(bin, args, environment) {
  const [cmd, argv] = PERF ? ['perf', ['stat', '-x,', '-e', 'task-clock', bin, ...args]] : [bin, args];
  const t0 = performance.now();
  const r = spawnSync(cmd, argv, {
    cwd: app,
    env: environment,
    stdio: ['ignore', 'ignore', 'pipe'],
    encoding: 'utf8',
  });
  const wall = performance.now() - t0;
  if (r.status !== 0) throw new Error(`${bin} ${args.join(' ')}: exit ${r.status}: ${r.stderr}`);
  const cpu = PERF ? Number(/([\d.]+),msec,task-clock/.exec(r.stderr)?.[1]) : null;
  return { wall, cpu };
}

const MEASURE = {
  async e0(runtimeId, mode) {
    const port = await freePort();
    return timedSync(
      RUNTIMES[runtimeId].bin,
      [...preload(mode, runtimeId), '-e', '0'],
      env(mode, runtimeId, port),
    );
  },
  async first200(runtimeId, mode) {
    const [port, metricsPort] = [await freePort(), await freePort()];
    const t0 = performance.now();
    const child = spawnTracked(RUNTIMES[runtimeId].bin, [...preload(mode, runtimeId), 'hello.mjs'], {
      cwd: app,
      env: env(mode, runtimeId, metricsPort, { env: { PORT: String(port) } }),
    });
    try {
      return { wall: (await waitReady(child, port)) - t0, cpu: null };
    } finally {
      await killTree(child);
    }
  },
  async children(runtimeId, mode) {
    const port = await freePort();
    return timedSync(
      RUNTIMES[runtimeId].bin,
      ['parent.mjs'],
      env(mode, runtimeId, port, { inherit: true, env: { CHILDREN: String(CHILDREN) } }),
    );
  },
  async 'children-async'(runtimeId, mode) {
    const port = await freePort();
    return timedSync(
      RUNTIMES[runtimeId].bin,
      ['parent-async.mjs'],
      env(mode, runtimeId, port, { inherit: true, env: { CHILDREN: String(CHILDREN) } }),
    );
  },
};

const load0 = os.loadavg();
const results = {};
for (const runtimeId of RUNTIME_IDS) {
  for (const measure of MEASURES) {
    if (measure === 'breakdown') continue;
    const modes = modesOf(runtimeId);
    const samples = Object.fromEntries(modes.map((m) => [m.id, { wall: [], cpu: [] }]));
    // One untimed round first: the page cache and any compile cache are warm for every mode alike
    // (a mode of fewer runs, the reference's children, is warm from the rows before: 20–40 s saved).
    for (const m of modes)
      if (m.runs === undefined || m.runs(measure) === RUNS) await MEASURE[measure](runtimeId, m);
    for (let i = 0; i < RUNS; i++) {
      for (const m of rotate(modes, i)) {
        if (m.runs !== undefined && i >= m.runs(measure)) continue;
        const { wall, cpu } = await MEASURE[measure](runtimeId, m);
        samples[m.id].wall.push(wall);
        if (cpu !== null) samples[m.id].cpu.push(cpu);
      }
    }
    results[`${runtimeId} ${measure}`] = samples;
    const line = modes.map((m) => `${m.id} ${fmt(median(samples[m.id].wall))}`).join(' · ');
    console.error(`${runtimeId} ${measure}: ${line} ms (load ${os.loadavg()[0].toFixed(2)})`);
  }
}

const load = (l) => l.map((x) => x.toFixed(2)).join(' ');
const printed = [];
/** The report: on stdout, and into --out when given (bench/all.mjs). */
function print(line) {
  console.log(line);
  printed.push(line);
}
print(`\n- ${machineLine(load0, '')}`);
print(
  `\n${RUNS} runs per mode${opts.otel ? ` (otel: ${opts['otel-children-runs']} in the children rows)` : ''}, interleaved; medians; load average ${load(load0)} at start, ${load(os.loadavg())} at end` +
    `${PERF ? '; CPU = task-clock of the process tree (perf stat)' : ''}\n`,
);
const others = MODES.slice(1);
print(
  `| runtime · measure | ${MODES.map((m) => m.id).join(' | ')} | ${others.map((m) => `${m.id} − bare`).join(' | ')} | ${others.map((m) => `${m.id} ÷ bare`).join(' | ')} |`,
);
print(`| --- |${' --- |'.repeat(MODES.length * 3 - 2)}`);
for (const [key, samples] of Object.entries(results)) {
  for (const kind of ['wall', 'cpu']) {
    if (samples.bare[kind].length === 0) continue;
    // A mode a runtime does not run (precompiled on Node) reads '—'.
    const meds = MODES.map((m) => (samples[m.id] === undefined ? undefined : median(samples[m.id][kind])));
    const bare = meds[0];
    const cell = (x, f) => (x === undefined ? '—' : f(x));
    print(
      `| ${key} (${kind}) | ${meds.map((x) => cell(x, (v) => `${fmt(v)} ms`)).join(' | ')} | ${meds
        .slice(1)
        .map((x) => cell(x, (v) => `${fmt(v - bare)} ms`))
        .join(' | ')} | ${meds
        .slice(1)
        .map((x) => cell(x, (v) => fmt(v / bare, 2)))
        .join(' | ')} |`,
    );
  }
}

// Where the start goes: the agent's own account of it (TAPWIRE_STARTED, said at debug level).
// Each phase is the agent's figure without its own lines; those lines (log_ms) are written only at
// debug, so "preload in all" leaves them out: it is what the e0 row's runs (no debug) pay.
const PHASES = [
  ['runtime_ms', "runtime's own start"],
  ['load_ms', 'load the agent'],
  ['config_ms', 'configuration'],
  ['setup_ms', 'set-up'],
  ['hooks_ms', 'hooks'],
  ['endpoint_ms', '/metrics endpoint'],
  ['log_ms', 'its debug lines'],
  [(l) => l.total_ms - l.log_ms, 'preload in all, less its debug lines'],
];
// A script whose event loop turns once: a Node process under the preload starts the agent there.
const TURN = 'setTimeout(() => {}, 0)';
function startedLine(runtimeId, mode, port) {
  const r = spawnSync(RUNTIMES[runtimeId].bin, [...preload(mode, runtimeId), '-e', TURN], {
    cwd: app,
    env: env(mode, runtimeId, port, { env: { LOG_LEVEL: 'debug' } }),
    encoding: 'utf8',
  });
  for (const text of r.stderr.split('\n')) {
    if (!text.includes('"TAPWIRE_STARTED"')) continue;
    return JSON.parse(text);
  }
  throw new Error(`${runtimeId} ${mode.id}: no TAPWIRE_STARTED line (exit ${r.status}): ${r.stderr}`);
}
/**
 * The TAPWIRE_STARTED lines of `runs` children of a holder: a process of the same runtime and mode,
 * the preload in its environment, that holds the metrics port and runs `-e 0` children one after
 * another (spawnSync), as the parent of the children rows does.
 */
function childrenLines(runtimeId, mode, port, runs) {
  const r = spawnSync(RUNTIMES[runtimeId].bin, ['started-children.mjs'], {
    cwd: app,
    env: env(mode, runtimeId, port, { inherit: true, env: { CHILDREN: String(runs), TURN } }),
    encoding: 'utf8',
  });
  if (r.status !== 0)
    throw new Error(`${runtimeId} ${mode.id}: children of a holder: exit ${r.status}: ${r.stderr}`);
  return JSON.parse(r.stdout);
}
if (MEASURES.includes('breakdown')) {
  const rows = [];
  for (const runtimeId of RUNTIME_IDS) {
    for (const [mode, beside] of modesOf(runtimeId)
      .filter((m) => m.preload !== null && m.agent !== false)
      .flatMap((m) => [
        [m, false],
        [m, true],
      ])) {
      // beside: a child of the process that holds the port, as each of the children rows' children
      // is; otherwise a process alone, as the e0 row runs.
      const lines = [];
      if (beside) lines.push(...childrenLines(runtimeId, mode, await freePort(), RUNS));
      else for (let i = 0; i < RUNS; i++) lines.push(startedLine(runtimeId, mode, await freePort()));
      const med = (key) => median(lines.map((l) => (typeof key === 'function' ? key(l) : l[key])));
      const inAll = PHASES.at(-1)[0];
      const hooks = Object.keys(lines[0].hooks)
        .map((name) => [name, median(lines.map((l) => l.hooks[name] ?? 0))])
        .sort((a, b) => b[1] - a[1])
        .slice(0, 4)
        .map(([name, v]) => `${name} ${fmt(v)}`);
      const e0 = results[`${runtimeId} e0`];
      // Only where the agent starts with the preload, as in the e0 row (not a deferred start).
      const rest =
        beside || lines[0].trigger !== undefined || e0 === undefined || e0[mode.id] === undefined
          ? '—'
          : `${fmt(median(e0[mode.id].wall) - median(e0.bare.wall) - med(inAll))} ms`;
      rows.push(
        `| ${runtimeId} · ${mode.id}${beside ? ', a child beside its holder' : ''} | ${PHASES.map(([k]) => `${fmt(med(k))} ms`).join(' | ')} | ${rest} | ${hooks.join(', ')} |`,
      );
      console.error(
        `${runtimeId} breakdown (${mode.id}${beside ? ', beside' : ''}): preload ${fmt(med(inAll))} ms`,
      );
    }
  }
  print(
    `\nWhere the agent's start goes, in its own account of it (\`TAPWIRE_STARTED\`, said at \`LOG_LEVEL=debug\`; ` +
      `\`-e '${TURN}'\` in the same app folder, ${RUNS} runs of their own, medians: a script whose event loop turns once, ` +
      'where a Node process starts the agent it deferred, docs/instrumentation.md; `-e 0` never starts it on Node). ' +
      '"runtime\'s own start" is the time from ' +
      "the process's start to the preload's first line (on Node, to the agent's deferred start); each phase leaves out the agent's own lines written in it, which " +
      '"its debug lines" adds up (at the level the e0 row runs they are not written; on Bun the first one loads node:fs). ' +
      '"preload in all" is from the first line to the app\'s code, less those lines. "rest of ' +
      "`-e 0`'s overhead\" is the e0 row's tapwire − bare less the preload in all, where the agent starts with the preload " +
      '(Bun): what the preload costs outside its start (the runtime reading the preload flag, the exit). "a child beside its holder": the same script run by a process of ' +
      'the same runtime and mode that holds the metrics port, the preload inherited through NODE_OPTIONS / BUN_OPTIONS, as ' +
      'each child of the children rows is (its endpoint follows the holder at the first turn of its event loop). ' +
      'The last column names the slowest hooks (ms).\n',
  );
  print(
    `| runtime · mode | ${PHASES.map(([, t]) => t).join(' | ')} | rest of \`-e 0\`'s overhead | slowest hooks |`,
  );
  print(`| --- |${' --- |'.repeat(PHASES.length + 2)}`);
  for (const row of rows) print(row);
}
if (opts.out) writeOut(opts.out, `${printed.join('\n')}\n`);

/**
 * Links into `dir`/node_modules the packages `names` and everything they depend on, from this
 * repo's (hoisted) node_modules: what installing them would put there.
 */
function linkInstalled(dir, names) {
  const modules = path.join(REPO, 'node_modules');
  const seen = new Set();
  const visit = (name) => {
    if (seen.has(name) || !existsSync(path.join(modules, name, 'package.json'))) return;
    seen.add(name);
    const pkg = JSON.parse(readFileSync(path.join(modules, name, 'package.json'), 'utf8'));
    for (const field of ['dependencies', 'optionalDependencies', 'peerDependencies']) {
      for (const dep of Object.keys(pkg[field] ?? {})) visit(dep);
    }
  };
  for (const name of names) visit(name);
  for (const name of seen) {
    const to = path.join(dir, 'node_modules', name);
    mkdirSync(path.dirname(to), { recursive: true });
    symlinkSync(path.join(modules, name), to);
  }
}
