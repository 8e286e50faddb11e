// Helpers shared by bench/db.mjs and bench/ai.mjs: measured children (one JSON line on stdout),
// clean environments, medians, interleaving, the machine line and the cleanup guards.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MODES, modeEnv, preloadOf, REPO, RUNTIMES } from '../scenarios.mjs';
import { freePort, killAllSync, killTree, spawnTracked } from './procs.mjs';

export const median = (xs) => {
  const s = xs.filter((x) => x != null && Number.isFinite(x)).sort((a, b) => a - b);
  if (!s.length) return null;
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
};

/** Rotate the mode order each round so no mode always runs first. */
export const rotate = (list, by) => list.map((_, i) => list[(i + by) % list.length]);

export const fmt = (n, digits = 1) => (n == null || !Number.isFinite(n) ? 'n/a' : n.toFixed(digits));
export const signed = (n, digits = 1) =>
  n == null || !Number.isFinite(n) ? 'n/a' : `${n >= 0 ? '+' : ''}${n.toFixed(digits)}`;
/**
 * Per-round figures (a ratio or difference between the modes of one round, which run one after
 * another): median, lowest and highest, or null without any. Beside a verdict taken from the
 * medians, they show how far one run's rounds spread around it.
 */
export function spread(values) {
  const s = values.filter((x) => x != null && Number.isFinite(x)).sort((a, b) => a - b);
  return s.length ? { median: median(s), min: s[0], max: s.at(-1) } : null;
}
/** A spread() as `median (lowest–highest)`. */
export const spreadText = (s, digits = 3) =>
  s == null ? 'n/a' : `${fmt(s.median, digits)} (${fmt(s.min, digits)}–${fmt(s.max, digits)})`;
export const verdict = (ok) => (ok == null ? 'n/a' : ok ? 'pass' : '**miss**');

export const mode = (id) => MODES.find((m) => m.id === id);

/**
 * Children never outlive the harness: kill every tracked process group on exit, on signals,
 * and when the watchdog fires. `extra` runs first (servers that want a polite stop).
 */
export function guard(minutes, extra = () => {}) {
  const all = () => {
    try {
      extra();
    } catch {
      // best effort
    }
    killAllSync();
  };
  process.on('exit', all);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.on(signal, () => {
      all();
      console.error(`\ninterrupted by ${signal}; children killed`);
      process.exit(130);
    });
  }
  setTimeout(() => {
    all();
    console.error(`\nwatchdog: run exceeded ${minutes} min; children killed`);
    process.exit(2);
  }, minutes * 60_000).unref();
}

/** The environment of a measured child: nothing inherited that could change its behaviour. */
export function childEnv(modeId, extra) {
  const env = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (/^(NODE_OPTIONS|BUN_OPTIONS|NODE_ENV|LOG_LEVEL|OTEL_.*|TAPWIRE_.*)$/.test(key)) continue;
    env[key] = value;
  }
  return { ...env, ...modeEnv(mode(modeId)), ...extra };
}

/** A measured child's command under a mode: `runtime [preload] script`, with its own free metrics port. */
async function childCommand(runtimeId, modeId, script, extraEnv) {
  const runtime = RUNTIMES[runtimeId];
  const m = mode(modeId);
  const metricsPort = await freePort();
  const preload = preloadOf(m, runtimeId);
  const args = [...(preload ? [runtime.preloadFlag, preload] : []), script];
  const env = childEnv(modeId, {
    ...extraEnv,
    OTEL_EXPORTER_PROMETHEUS_PORT: String(metricsPort),
    OTEL_EXPORTER_PROMETHEUS_HOST: '127.0.0.1',
    METRICS_PORT: String(metricsPort),
  });
  return { bin: runtime.bin, args, env };
}

/**
 * Run one measured child under a mode: `runtime [preload] script`, cwd = repo (so the OTel
 * register resolves), its own free metrics port. Resolves to the JSON it printed last.
 */
export async function runChild(runtimeId, modeId, script, extraEnv, timeoutMs = 180_000, { cpu } = {}) {
  const { bin, args, env } = await childCommand(runtimeId, modeId, script, extraEnv);
  const child = spawnTracked(bin, args, { cwd: REPO, env, stdout: 'pipe', cpu });
  let out = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk) => {
    out += chunk;
  });
  const timer = setTimeout(() => killTree(child), timeoutMs);
  const { code, signal } = await child.exited;
  clearTimeout(timer);
  const line = out.trim().split('\n').filter(Boolean).at(-1);
  if (code !== 0 || !line) {
    const tail = child.stderrTail.trim().split('\n').filter(Boolean).at(-1) ?? '(no stderr)';
    throw new Error(`exit ${code ?? signal}: ${tail.slice(0, 200)}`);
  }
  return JSON.parse(line);
}

/**
 * A child that takes commands: started like runChild(), it answers each line written to its stdin
 * with one JSON line on its stdout. `ask(line)` resolves with the answer (parsed); `exited` as
 * spawnTracked's. bench/lib/db-child.mjs speaks it with INTERLEAVED=1.
 */
export async function startTalkingChild(runtimeId, modeId, script, extraEnv, { cpu } = {}) {
  const { bin, args, env } = await childCommand(runtimeId, modeId, script, extraEnv);
  const child = spawnTracked(bin, args, { cwd: REPO, env, stdin: 'pipe', stdout: 'pipe', cpu });
  const waiting = [];
  let buffered = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk) => {
    buffered += chunk;
    for (let nl = buffered.indexOf('\n'); nl !== -1; nl = buffered.indexOf('\n')) {
      const line = buffered.slice(0, nl).trim();
      buffered = buffered.slice(nl + 1);
      if (line !== '') waiting.shift()?.resolve(JSON.parse(line));
    }
  });
  child.exited.then(({ code, signal }) => {
    const tail = child.stderrTail.trim().split('\n').filter(Boolean).at(-1) ?? '(no stderr)';
    for (const w of waiting.splice(0)) w.reject(new Error(`exit ${code ?? signal}: ${tail.slice(0, 200)}`));
  });
  const next = () => new Promise((resolve, reject) => waiting.push({ resolve, reject }));
  const ready = next();
  return {
    child,
    ready,
    ask(line) {
      const answer = next();
      child.stdin.write(`${line}\n`);
      return answer;
    },
  };
}

function tryExec(cmd, args) {
  try {
    return execFileSync(cmd, args, {
      encoding: 'utf8',
      timeout: 10_000,
      stdio: ['ignore', 'pipe', 'pipe'],
    }).trim();
  } catch {
    return null;
  }
}

/**
 * One line saying where and when the numbers were taken; `shared` says what shares the machine with
 * the measured processes (nothing said when empty).
 */
export function machineLine(
  loadAtStart,
  shared = '(the servers, the clients and the measured processes share the machine)',
) {
  const cpu = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? 'unknown CPU';
  const load = (l) => l.map((x) => x.toFixed(2)).join(' ');
  return (
    `${new Date().toISOString()}; ${os.availableParallelism()} CPUs, ${cpu}; Node.js ${tryExec(RUNTIMES.node.bin, ['--version']) ?? 'n/a'}, ` +
    `Bun ${tryExec(RUNTIMES.bun.bin, ['--version']) ?? 'n/a'}; load average ${load(loadAtStart)} at start, ${load(os.loadavg())} at end` +
    (shared === '' ? '' : ` ${shared}`)
  );
}

export function writeOut(file, text) {
  if (!file) return;
  const target = path.resolve(REPO, file);
  mkdirSync(path.dirname(target), { recursive: true });
  writeFileSync(target, text);
}
