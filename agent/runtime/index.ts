// Runtime metrics: event loop, heap, GC, CPU, memory. detect (./support.ts, once) -> hook (observable
// instruments read at collection time; a GC observer) -> record (the meter). Nothing here runs on
// the request path and nothing here keeps the process alive. Each part is guarded on its own.

import type { RuntimePart } from '../../config/index.js';
import { onFirstTurn } from '../../core/first-turn.js';
import { fail, type Guard } from '../../core/guard.js';
import type { HookContext } from '../context.js';
import { installEventLoopDelay, installEventLoopUtilization } from './event-loop.js';
import { installGc } from './gc.js';
import { installHeap } from './heap.js';
import { installCpu, installRss } from './process.js';
import { detectSupport } from './support.js';

export function install(ctx: HookContext): void {
  if (ctx.config.runtimeMetrics.length === 0) return;
  // Set up on the app's first turn of the event loop, not in the preload: a process that ends
  // before it (a short CLI, a child) measured nothing worth a runtime series and pays nothing
  // (~1 ms on Node, ~4.5 ms on Bun with node:perf_hooks, measured). It never holds the process
  // (../../core/first-turn.ts). The utilisation window still starts at loop start (./event-loop.ts).
  const cancel = onFirstTurn(() => {
    try {
      installNow(ctx);
    } catch (error) {
      fail(ctx.guard, error);
    }
  });
  ctx.patches.onRestore(cancel);
}

function installNow(ctx: HookContext): void {
  const { meter } = ctx;
  const support = detectSupport(ctx.runtime);
  const on = ctx.config.runtimeMetrics;
  // [guard name, TAPWIRE_RUNTIME_METRICS part, supported here, install]
  const parts: [string, RuntimePart, boolean, (guard: Guard) => unknown][] = [
    ['eventloop.delay', 'eventloop', support.eventLoopDelay, (g) => installEventLoopDelay(meter, g)],
    [
      'eventloop.utilization',
      'eventloop',
      support.eventLoopUtilization,
      (g) => installEventLoopUtilization(meter, g),
    ],
    ['gc', 'gc', support.gc, (g) => installGc(meter, g)],
    ['heap', 'heap', support.heap, (g) => installHeap(meter, g)],
    ['cpu', 'cpu', support.cpu, (g) => installCpu(meter, g)],
    ['rss', 'memory', support.rss, (g) => installRss(meter, g)],
  ];
  for (const [part, setting, supported, install] of parts) {
    if (!supported || !on.includes(setting)) continue;
    const guard = ctx.guardOf(part);
    try {
      const stop = install(guard);
      if (typeof stop === 'function') ctx.patches.onRestore(stop as () => void);
    } catch (error) {
      fail(guard, error); // that part stays off; the others run
    }
  }
}
