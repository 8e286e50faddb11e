// Event-loop delay (perf_hooks.monitorEventLoopDelay) and utilisation
// (performance.eventLoopUtilization), both read when metrics are collected and both "since the
// previous collection": the delay histogram is reset after each read, utilisation is a delta.
// With several readers (Prometheus and OTLP) each collection starts a new window for all.

import type { EventLoopUtilization } from 'node:perf_hooks';
import type { Meter, ObservableResult } from '@opentelemetry/api';
import { type Guard, guarded } from '../../core/guard.js';
import { observable } from '../../core/meter.js';
import { METRICS } from '../../exporters/catalogue.js';
import { perfHooks } from './support.js';

// The sampling timer lives in the runtime (libuv / Bun), is unref'd and never keeps the process
// alive. 10 ms is what the OpenTelemetry runtime-node instrumentation and prom-client use, so the
// numbers compare; in Node every sample includes this interval (idle p50 is ~0.010 s).
const RESOLUTION_MS = 10;
const NS_PER_S = 1e9;

export function installEventLoopDelay(meter: Meter, h: Guard): () => void {
  const { monitorEventLoopDelay, performance } = perfHooks();
  const histogram = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
  histogram.enable();
  const p50 = observable(meter, METRICS.eventLoopDelayP50);
  const p99 = observable(meter, METRICS.eventLoopDelayP99);
  const max = observable(meter, METRICS.eventLoopDelayMax);
  // reset() also forgets when the sampling timer last fired (Node's Histogram::Reset sets prev_ to
  // 0), so its next tick records nothing: a block that starts after a collection and before that
  // tick was never seen (4 of 5 blocks of 300 ms right after a scrape read as 0.010 s). One
  // unref'd timeout per collection measures that first interval itself; its lateness counts in
  // the next window's max.
  let late = 0;
  let armedAt = 0;
  const firstInterval = (): void => {
    const ns = (performance.now() - armedAt - RESOLUTION_MS) * 1e6;
    if (ns > late) late = ns;
  };
  meter.addBatchObservableCallback(
    guarded(h, (r) => {
      // No sample since the previous collection (the loop was blocked the whole window): report
      // nothing rather than a zero; the blocked sample lands in the next window.
      if (histogram.count === 0) return;
      r.observe(p50, histogram.percentile(50) / NS_PER_S);
      r.observe(p99, histogram.percentile(99) / NS_PER_S);
      r.observe(max, Math.max(histogram.max, late) / NS_PER_S);
      histogram.reset();
      late = 0;
      armedAt = performance.now();
      setTimeout(firstInterval, RESOLUTION_MS).unref();
    }),
    [p50, p99, max],
  );
  return () => histogram.disable();
}

export function installEventLoopUtilization(meter: Meter, h: Guard): void {
  const { performance } = perfHooks();
  // All zeros, as the preload reads it before the loop runs: the first window starts at loop start.
  let last: EventLoopUtilization = { idle: 0, active: 0, utilization: 0 };
  observable(meter, METRICS.eventLoopUtilization).addCallback(
    guarded(h, (r: ObservableResult) => {
      const now = performance.eventLoopUtilization();
      const delta = performance.eventLoopUtilization(now, last);
      last = now;
      if (delta.idle + delta.active > 0) r.observe(delta.utilization);
    }),
  );
}
