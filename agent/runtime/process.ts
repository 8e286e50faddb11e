// Process CPU time (process.cpuUsage, user and system, a counter in seconds) and resident memory
// (process.memoryUsage.rss, which unlike process.memoryUsage() does not walk the heap).
import type { Meter, ObservableResult } from '@opentelemetry/api';
import { type Guard, guarded } from '../../core/guard.js';
import { observable } from '../../core/meter.js';
import { METRICS } from '../../exporters/catalogue.js';

const USER = { 'cpu.mode': 'user' } as const;
const SYSTEM = { 'cpu.mode': 'system' } as const;
const US_PER_S = 1e6;

export function installCpu(meter: Meter, h: Guard): void {
  observable(meter, METRICS.cpuTime).addCallback(
    guarded(h, (r: ObservableResult) => {
      const usage = process.cpuUsage();
      r.observe(usage.user / US_PER_S, USER);
      r.observe(usage.system / US_PER_S, SYSTEM);
    }),
  );
}

export function installRss(meter: Meter, h: Guard): void {
  observable(meter, METRICS.memoryRss).addCallback(
    guarded(h, (r: ObservableResult) => {
      r.observe(process.memoryUsage.rss());
    }),
  );
}
