// The event loop and memory of the process serving the page, read for the page alone. The agent's
// runtime metrics cannot be read for it: they are observable callbacks, run by a collection, and a
// collection starts a new event-loop window for /metrics (agent/runtime/event-loop.ts) and runs the
// app's own callbacks. So the page keeps its own event-loop delay histogram and utilisation mark,
// made when the page is first asked for; /metrics never sees them.
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { getHeapStatistics } from 'node:v8';
import type { ProcessRuntime } from './model.js';

const NS_PER_S = 1e9;
/** The agent's resolution (agent/runtime/event-loop.ts), so the two read alike. */
const RESOLUTION_MS = 10;

export class RuntimeSampler {
  private readonly delay = probe(() => {
    const h = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
    h.enable();
    return h;
  });
  // What Bun does not measure or measures at a price (agent/runtime/support.ts): utilisation is
  // always zero there, and reading its heap walks it (~25 ms).
  private readonly node = typeof (globalThis as { Bun?: unknown }).Bun !== 'object';
  private utilization = this.node ? probe(() => performance.eventLoopUtilization()) : undefined;

  read(slot: number): ProcessRuntime {
    let p99: number | null = null;
    if (this.delay !== undefined && this.delay.count > 0) {
      p99 = this.delay.percentile(99) / NS_PER_S;
      this.delay.reset();
    }
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
    this.delay?.disable();
  }
}

function probe<T>(fn: () => T): T | undefined {
  try {
    return fn();
  } catch {
    return undefined;
  }
}
