// Garbage-collection pauses from PerformanceObserver 'gc' entries into the v8js.gc.duration
// histogram. The runtime batches entries and calls the observer off the request path; the
// observer holds no handle, so it never keeps the process alive.
//
// Its cost is Node's, not this code's: with any 'gc' observer, every scavenge promotes 4336 bytes
// (--trace-gc-nvp, Node 24.21: Node's entry carries util.deprecate accessors whose closures an
// old-generation map keeps alive), and V8, which grows the young generation by what survives, grows
// it early under load: 13-18 MB more RSS in the Express and Fastify bench apps. node:v8's
// GCProfiler, read at each collection, avoids the promotions but held 10-15 MB more RSS in native
// memory (measured), so it is not used; TAPWIRE_RUNTIME_METRICS can leave the 'gc' part out
// (docs/instrumentation.md, Runtime). Node 26 dropped those accessors (nodejs/node#58531): there
// the observer promotes nothing (measured on 26.10).

import type { PerformanceEntry } from 'node:perf_hooks';
import type { Attributes, Histogram, Meter } from '@opentelemetry/api';
import { type Guard, guarded } from '../../core/guard.js';
import { METRICS } from '../../exporters/catalogue.js';
import { perfHooks } from './support.js';

// v8js.gc.type well-known values; one attribute object per kind, built once (at install).
let TYPES: Readonly<Record<number, Attributes>> = {};

export function installGc(meter: Meter, h: Guard): () => void {
  const { constants, PerformanceObserver } = perfHooks();
  TYPES = {
    [constants.NODE_PERFORMANCE_GC_MAJOR]: { 'v8js.gc.type': 'major' },
    [constants.NODE_PERFORMANCE_GC_MINOR]: { 'v8js.gc.type': 'minor' },
    [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: { 'v8js.gc.type': 'incremental' },
    [constants.NODE_PERFORMANCE_GC_WEAKCB]: { 'v8js.gc.type': 'weakcb' },
  };
  const def = METRICS.gcDuration;
  const histogram: Histogram = meter.createHistogram(def.name, {
    unit: def.unit,
    description: def.description,
    advice: { explicitBucketBoundaries: [...def.buckets] },
  });
  const observer = new PerformanceObserver(
    guarded(h, (list) => {
      const entries = list.getEntries();
      for (let i = 0; i < entries.length; i++) record(histogram, entries[i]!);
    }),
  );
  observer.observe({ entryTypes: ['gc'] });
  return () => observer.disconnect();
}

function record(histogram: Histogram, entry: PerformanceEntry): void {
  const kind = (entry as { detail?: { kind?: number } | null }).detail?.kind;
  const attributes = kind === undefined ? undefined : TYPES[kind];
  // Kinds outside the four V8 reports today are dropped rather than given an invented name.
  if (attributes !== undefined) histogram.record(entry.duration / 1000, attributes);
}
