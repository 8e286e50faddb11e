// Process and port helpers shared by the benchmark harness.
//
// Every child is started in its own process group (detached) and remembered here, so one
// call can kill the whole tree (a runtime may fork helpers) even when the harness fails
// half-way. SIGKILL is used on purpose: the OpenTelemetry register installs a SIGTERM
// handler that shuts the SDK down but never exits, so a polite SIGTERM can leave it running.
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';

/**
 * Pinning, to tame the noise of a shared 2-core machine: the measured process on one CPU, what
 * loads it (wrk, a database server) on the other, so neither takes the other's time slice.
 * TAPWIRE_BENCH_PIN=0 turns it off; it is off where taskset or a second CPU is missing.
 */
export const CPU = { measured: 1, load: 0 };
export const PINNED =
  process.env.TAPWIRE_BENCH_PIN !== '0' &&
  os.availableParallelism() >= 2 &&
  (() => {
    try {
      execFileSync('taskset', ['-p', String(process.pid)], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  })();

/** Moves a running process, all its threads, to `cpu` (no-op where not PINNED). */
export function pin(pid, cpu) {
  if (!PINNED || pid === undefined) return;
  execFileSync('taskset', ['-a', '-p', '-c', String(cpu), String(pid)], { stdio: 'ignore' });
}

const live = new Set();
const usedPorts = new Set();

/**
 * Spawn a tracked child in its own process group; keeps the last 4 KB of stderr for errors.
 * `cpu`: pinned to that CPU from its start, with all it forks (where PINNED).
 */
export function spawnTracked(cmd, args, { cwd, env, stdin = 'ignore', stdout = 'ignore', cpu } = {}) {
  const [file, argv] =
    cpu !== undefined && PINNED ? ['taskset', ['-c', String(cpu), cmd, ...args]] : [cmd, args];
  const child = spawn(file, argv, { cwd, env, detached: true, stdio: [stdin, stdout, 'pipe'] });
  live.add(child);
  child.stderrTail = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk) => {
    child.stderrTail = (child.stderrTail + chunk).slice(-4096);
  });
  child.exited = new Promise((resolve) => {
    child.once('exit', (code, signal) => {
      live.delete(child);
      resolve({ code, signal });
    });
    // A spawn failure (binary missing) emits 'error' and maybe no 'exit'.
    child.once('error', (error) => {
      live.delete(child);
      child.stderrTail += `\n${error.message}`;
      resolve({ code: null, signal: null, error });
    });
  });
  return child;
}

/** Sends a signal to a child's process group (SIGSTOP / SIGCONT between turns); nothing if it is gone. */
export function signal(child, name) {
  try {
    process.kill(-child.pid, name);
  } catch {
    // ESRCH: it exited; its turn fails and says so.
  }
}

/** Kill one child's process group and wait (bounded) for it to be gone. */
export async function killTree(child, waitMs = 5000) {
  if (!child) return;
  if (child.exitCode === null && child.signalCode === null && child.pid) {
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      // Already gone (ESRCH): nothing to do.
    }
  }
  let timer;
  await Promise.race([child.exited, new Promise((r) => (timer = setTimeout(r, waitMs)))]);
  clearTimeout(timer);
}

/** Synchronous last-resort cleanup, safe to call from 'exit' and signal handlers. */
export function killAllSync() {
  for (const child of live) {
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      // ignore
    }
  }
  live.clear();
}

// Ports are handed out below the kernel's ephemeral range, where no bind or connect of port 0
// lands: one handed out from inside it could be given to an app's listen(0) or a load generator's
// connection before its process bound it (tests/support/index.ts, freePort()).
const EPHEMERAL_LOW = (() => {
  try {
    return Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
  } catch {
    return 0;
  }
})();
const BELOW = 8000;

/** Binds `port` (0: the kernel's choice) on loopback and lets it go: the port bound. */
function bound(port) {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

async function probePort() {
  if (EPHEMERAL_LOW - BELOW >= 10000) {
    for (let i = 0; i < 20; i++) {
      const port = EPHEMERAL_LOW - 1 - Math.floor(Math.random() * BELOW);
      if (usedPorts.has(port)) continue;
      try {
        return await bound(port);
      } catch {
        // taken: try another
      }
    }
  }
  return bound(0);
}

/** A free loopback port (see above); never the same port twice in one run. */
export async function freePort() {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = await probePort();
    if (!usedPorts.has(port)) {
      usedPorts.add(port);
      return port;
    }
  }
  throw new Error('could not find a free port in 50 attempts');
}

/** Resident set size of a process in MB (VmRSS), or null when the process is gone. */
export function rssMb(pid) {
  return memoryMb(pid)?.rss ?? null;
}

/**
 * VmRSS and, of it, RssFile: resident pages of mapped files, mostly the runtime's own executable
 * and libraries (clean, shared with every process that maps them, reclaimable). The rest is the
 * process's own memory (heap, malloc, stacks). In MB; undefined when the process is gone.
 */
export function memoryMb(pid) {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (name) => Number(new RegExp(`^${name}:\\s+(\\d+)\\s+kB`, 'm').exec(status)?.[1]);
    const rss = kb('VmRSS');
    const file = kb('RssFile');
    if (!Number.isFinite(rss)) return undefined;
    return { rss: rss / 1024, file: Number.isFinite(file) ? file / 1024 : null };
  } catch {
    return undefined;
  }
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
