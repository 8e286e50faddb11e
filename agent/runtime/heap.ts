// JavaScript heap by space (v8.getHeapSpaceStatistics), read at collection time: one call yields
// both v8js.memory.heap.used and v8js.memory.heap.space.size for every space.

import { getHeapSpaceStatistics } from 'node:v8';
import type { Attributes, Meter } from '@opentelemetry/api';
import { type Guard, guarded } from '../../core/guard.js';
import { METRICS } from '../../exporters/catalogue.js';
import { observable } from './instruments.js';

export function installHeap(meter: Meter, h: Guard, spaces: readonly string[]): void {
  const attributes = new Map<string, Attributes>();
  for (const name of spaces) attributes.set(name, { 'v8js.heap.space.name': name });
  const used = observable(meter, METRICS.heapUsed);
  const size = observable(meter, METRICS.heapSpaceSize);
  meter.addBatchObservableCallback(
    guarded(h, (r) => {
      for (const space of getHeapSpaceStatistics()) {
        const a = attributes.get(space.space_name);
        if (a === undefined) continue;
        r.observe(used, space.space_used_size, a);
        r.observe(size, space.space_size, a);
      }
    }),
    [used, size],
  );
}
