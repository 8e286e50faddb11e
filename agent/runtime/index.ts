// Runtime metrics: event loop, heap, GC, CPU, memory. detect (./support.ts, once) -> hook (observable
// instruments read at collection time; a GC observer) -> record (the meter). Nothing here runs on
// the request path and nothing here keeps the process alive.
import type { Meter } from '@opentelemetry/api';
import { agentLog } from '../log/agent.js';
import { installEventLoopDelay, installEventLoopUtilization } from './event-loop.js';
import { installGc } from './gc.js';
import { installHeap } from './heap.js';
import { installCpu, installRss } from './process.js';
import { detectSupport, type RuntimeSupport } from './support.js';

export type { RuntimeSupport } from './support.js';

export interface RuntimeMetrics {
  support: RuntimeSupport;
  /** Stops the event-loop monitor and the GC observer (tests; the agent never needs to). */
  stop(): void;
}

export function installRuntimeMetrics(meter: Meter, runtime: 'node' | 'bun'): RuntimeMetrics {
  const support = detectSupport(runtime);
  const stops: (() => void)[] = [];
  const install = (name: string, fn: () => unknown) => {
    try {
      const stop = fn();
      if (typeof stop === 'function') stops.push(stop as () => void);
    } catch (error) {
      agentLog('error', 'TAPWIRE_ERR_HOOK', `runtime metrics: ${name} failed to start and is off`, {
        hook: `runtime.${name}`,
        err: error,
      });
    }
  };
  if (support.eventLoopDelay) install('eventloop.delay', () => installEventLoopDelay(meter));
  if (support.eventLoopUtilization)
    install('eventloop.utilization', () => installEventLoopUtilization(meter));
  if (support.gc) install('gc', () => installGc(meter));
  if (support.heapSpaces.length > 0) install('heap', () => installHeap(meter, support.heapSpaces));
  if (support.cpu) install('cpu', () => installCpu(meter));
  if (support.rss) install('rss', () => installRss(meter));
  return {
    support,
    stop() {
      for (const stop of stops.splice(0)) stop();
    },
  };
}
