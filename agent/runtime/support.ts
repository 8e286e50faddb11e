// What this runtime can measure, decided once at start-up. Measured with `node -e` / `bun -e` on
// Node 24.21 and Bun 1.4.5; an API that answers with made-up values is treated as missing, so a
// dashboard never shows a zero that was not measured.
//
// | API                                  | Node 24                         | Bun 1.4.5                                   |
// | ------------------------------------ | ------------------------------- | ------------------------------------------- |
// | perf_hooks.monitorEventLoopDelay     | works; a sample is the whole    | works; a sample is the delay beyond the     |
// |                                      | timer interval, so the idle     | interval, idle baseline ~0.1 ms             |
// |                                      | baseline is the 10 ms resolution|                                             |
// | performance.eventLoopUtilization     | works                           | always {idle: 0, active: 0} -> skipped      |
// | PerformanceObserver 'gc' entries     | works (entry.detail.kind)       | 'gc' missing from supportedEntryTypes;      |
// |                                      |                                 | observe() accepts it, never delivers ->     |
// |                                      |                                 | skipped                                     |
// | v8.getHeapSpaceStatistics            | every V8 space                  | JavaScriptCore's heap as `old_space`, every |
// |                                      |                                 | other space all zeros, and ~25 ms a call -> |
// |                                      |                                 | not used: no heap series on Bun             |
// | process.cpuUsage                     | works                           | works                                       |
// | process.memoryUsage.rss              | works                           | works                                       |
/**
 * node:perf_hooks, taken when the runtime metrics are installed (after the app's first turn of the
 * event loop, ./index.ts) rather than when the preload loads: on Bun it is a JavaScript module
 * (~3.5 ms of its start, measured on Bun 1.4.5).
 */
export function perfHooks(): typeof import('node:perf_hooks') {
  return process.getBuiltinModule('node:perf_hooks') as typeof import('node:perf_hooks');
}

export interface RuntimeSupport {
  eventLoopDelay: boolean;
  eventLoopUtilization: boolean;
  gc: boolean;
  /** v8.getHeapSpaceStatistics (Node): its spaces are read at the first collection (./heap.ts). */
  heap: boolean;
  cpu: boolean;
  rss: boolean;
}

function probe<T>(fn: () => T, fallback: T): T {
  try {
    return fn();
  } catch {
    return fallback;
  }
}

export function detectSupport(runtime: 'node' | 'bun'): RuntimeSupport {
  const { monitorEventLoopDelay, PerformanceObserver, performance } = perfHooks();
  return {
    eventLoopDelay: probe(() => typeof monitorEventLoopDelay === 'function', false),
    // Bun's implementation exists but reports no time at all; the values cannot be told apart
    // from Node's before the loop starts (a preload runs before it), so this is by runtime.
    eventLoopUtilization: probe(
      () => runtime === 'node' && typeof performance.eventLoopUtilization === 'function',
      false,
    ),
    gc: probe(
      () =>
        (
          (PerformanceObserver as { supportedEntryTypes?: readonly string[] }).supportedEntryTypes ?? []
        ).includes('gc'),
      false,
    ),
    // Bun: v8.getHeapSpaceStatistics() walks JavaScriptCore's heap, ~25 ms a call (measured on
    // Bun 1.4.5) — at start-up and again at every scrape. Not paid: no heap series on Bun.
    heap: runtime === 'node',
    cpu: probe(() => typeof process.cpuUsage === 'function', false),
    rss: probe(() => typeof process.memoryUsage?.rss === 'function', false),
  };
}
