// The event loop and memory of the process serving the page, read for the page alone. The agent's
// runtime metrics cannot be read for it: they are observable callbacks, run by a collection, and a
// collection starts a new event-loop window for /metrics (agent/runtime/event-loop.ts) and runs the
// app's own callbacks. So the page keeps its own event-loop delay probe and utilisation mark, made
// when the page is first asked for; /metrics never sees them.
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { getHeapStatistics } from 'node:v8';
import type { ProcessRuntime } from './model.js';

const NS_PER_S = 1e9;
/** The agent's resolution (agent/runtime/event-loop.ts), so the two read alike. */
const RESOLUTION_MS = 10;
/** Samples kept per reading: a reading a second holds about a hundred. */
const MAX_SAMPLES = 1000;

/** Event-loop delay since the previous reading, p99 in seconds; null without a sample. */
interface DelayProbe {
  p99(): number | null;
  stop(): void;
}

/** Node: a histogram of the page's own, apart from the agent's. */
function histogramProbe(): DelayProbe {
  const h = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
  h.enable();
  return {
    p99() {
      if (h.count === 0) return null;
      const p99 = h.percentile(99) / NS_PER_S;
      h.reset();
      return p99;
    },
    stop: () => h.disable(),
  };
}

/**
 * Bun: every monitorEventLoopDelay histogram of a process is one and the same (measured on Bun
 * 1.4.5: reset() or disable() on a second one resets or stops the first), so a histogram of the
 * page's would reset the agent's window for /metrics. A timer's lateness is what Bun's histogram
 * samples anyway (the delay beyond the interval, agent/runtime/support.ts).
 */
function timerProbe(): DelayProbe {
  let samples: number[] = [];
  let last = performance.now();
  const timer = setInterval(() => {
    const now = performance.now();
    if (samples.length < MAX_SAMPLES) samples.push(Math.max(0, now - last - RESOLUTION_MS) / 1000);
    last = now;
  }, RESOLUTION_MS);
  timer.unref();
  return {
    p99() {
      if (samples.length === 0) return null;
      const sorted = samples.sort((a, b) => a - b);
      samples = [];
      return sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * 0.99) - 1)]!;
    },
    stop: () => clearInterval(timer),
  };
}

export class RuntimeSampler {
  // What Bun does not measure or measures at a price (agent/runtime/support.ts): utilisation is
  // always zero there, and reading its heap walks it (~25 ms).
  private readonly node = typeof (globalThis as { Bun?: unknown }).Bun !== 'object';
  private readonly delay = probe(() => (this.node ? histogramProbe() : timerProbe()));
  private utilization = this.node ? probe(() => performance.eventLoopUtilization()) : undefined;

  read(slot: number): ProcessRuntime {
    const p99 = this.delay?.p99() ?? null;
    let elu: number | null = null;
    if (this.utilization !== undefined) {
      const now = performance.eventLoopUtilization();
      const d = performance.eventLoopUtilization(now, this.utilization);
      this.utilization = now;
      if (d.idle + d.active > 0) elu = d.utilization;
    }
    return {
      process: slot,
      pid: process.pid,
      eventLoopP99: p99,
      eventLoopUtilization: elu,
      heapUsed: this.node ? (probe(() => getHeapStatistics().used_heap_size) ?? null) : null,
      rss: probe(() => process.memoryUsage.rss()) ?? null,
    };
  }

  close(): void {
    this.delay?.stop();
  }
}

function probe<T>(fn: () => T): T | undefined {
  try {
    return fn();
  } catch {
    return undefined;
  }
}
