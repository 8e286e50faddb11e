// JavaScript heap by space (v8.getHeapSpaceStatistics), read at collection time: one call yields
// both v8js.memory.heap.used and v8js.memory.heap.space.size for every space, empty ones included
// (their zeros are real and the set stays stable).
//
// node:v8 is taken at the first collection, not at start: loading it loads heap snapshots' stream
// machinery with it (~2-4 ms measured on Node 24), which a process that is never scraped never needs.
import type { Attributes, Meter } from '@opentelemetry/api';
import { type Guard, guarded } from '../../core/guard.js';
import { observable } from '../../core/meter.js';
import { METRICS } from '../../exporters/catalogue.js';

export function installHeap(meter: Meter, h: Guard): void {
  let v8: typeof import('node:v8') | undefined;
  /** One attribute set per space, for the spaces of the first reading. */
  let attributes: Map<string, Attributes> | undefined;
  const used = observable(meter, METRICS.heapUsed);
  const size = observable(meter, METRICS.heapSpaceSize);
  meter.addBatchObservableCallback(
    guarded(h, (r) => {
      v8 ??= process.getBuiltinModule('node:v8') as typeof import('node:v8');
      const spaces = v8.getHeapSpaceStatistics();
      if (attributes === undefined) {
        attributes = new Map();
        for (const s of spaces) attributes.set(s.space_name, { 'v8js.heap.space.name': s.space_name });
      }
      for (const space of spaces) {
        const a = attributes.get(space.space_name);
        if (a === undefined) continue;
        r.observe(used, space.space_used_size, a);
        r.observe(size, space.space_size, a);
      }
    }),
    [used, size],
  );
}
