// The live page's numbers from the metrics /metrics serves: the same merged data (../merge.ts: this
// process's request-path instruments and what its siblings pushed, with the totals of those gone),
// grouped the way a person reads them. Only tapwire's own scope is read: the app's metrics of the
// same name are not tapwire's (the exposition serves tapwire's too, ../prometheus/serialize.ts).
import type { Attributes } from '@opentelemetry/api';
import type { Histogram, MetricData, ResourceMetrics } from '@opentelemetry/sdk-metrics';
import type { AGENT_SCOPE, METRICS } from '../catalogue.js';
import type { AiGroup, DbGroup, Hist, HttpGroup, LiveSnapshot, ProcessRuntime } from './model.js';

/**
 * The metric catalogue, handed over by the endpoint rather than imported: a module the preload and
 * this chunk both import becomes a chunk file of its own, one more file every start-up loads.
 */
export interface Catalogue {
  scope: typeof AGENT_SCOPE;
  metrics: typeof METRICS;
}

/** The metrics the page reads (OpenTelemetry names), so a caller can leave the rest out before merging. */
export function liveMetrics({ metrics: M }: Catalogue): ReadonlySet<string> {
  return new Set([
    M.httpServerDuration.name,
    M.dbDuration.name,
    M.genAiDuration.name,
    M.genAiTokens.name,
    M.genAiTimeToFirstChunk.name,
    M.genAiCost.name,
  ]);
}

const str = (a: Attributes, key: string): string | null => {
  const v = a[key];
  return v === undefined || v === null ? null : String(v);
};

function emptyHist(buckets: number): Hist {
  return { count: 0, sum: 0, counts: new Array<number>(buckets).fill(0) };
}

function addHist(into: Hist, h: Histogram): void {
  into.count += h.count;
  into.sum += h.sum ?? 0;
  const counts = h.buckets.counts;
  for (let i = 0; i < into.counts.length; i++) into.counts[i]! += counts[i] ?? 0;
}

/** One group per key, created on first sight. */
class Groups<T> {
  readonly map = new Map<string, T>();
  constructor(private readonly create: (a: Attributes) => T) {}
  of(key: string, a: Attributes): T {
    let g = this.map.get(key);
    if (g === undefined) {
      g = this.create(a);
      this.map.set(key, g);
    }
    return g;
  }
}

const isServerError = (a: Attributes): boolean => {
  const s = str(a, 'http.response.status_code');
  return s !== null && s.length === 3 && s[0] === '5';
};

export interface SnapshotInput {
  catalogue: Catalogue;
  service: string;
  processes: number;
  /** The merged metrics of the service's processes. */
  merged: ResourceMetrics;
  runtime: ProcessRuntime[];
  now?: number;
}

export function snapshot(input: SnapshotInput): LiveSnapshot {
  const { scope: AGENT_SCOPE, metrics: METRICS } = input.catalogue;
  const httpBuckets = METRICS.httpServerDuration.buckets.length + 1;
  const dbBuckets = METRICS.dbDuration.buckets.length + 1;
  const aiBuckets = METRICS.genAiDuration.buckets.length + 1;
  const http = new Groups<HttpGroup>((a) => ({
    method: str(a, 'http.request.method') ?? '_OTHER',
    route: str(a, 'http.route'),
    errors: 0,
    ...emptyHist(httpBuckets),
  }));
  const db = new Groups<DbGroup>((a) => ({
    system: str(a, 'db.system.name') ?? 'other_sql',
    operation: str(a, 'db.operation.name'),
    collection: str(a, 'db.collection.name'),
    errors: 0,
    ...emptyHist(dbBuckets),
  }));
  const ai = new Groups<AiGroup>((a) => ({
    provider: str(a, 'gen_ai.provider.name') ?? '',
    model: str(a, 'gen_ai.request.model'),
    calls: emptyHist(aiBuckets),
    errors: 0,
    input: 0,
    output: 0,
    cost: 0,
    firstChunk: null,
  }));
  const aiKey = (a: Attributes) => `${str(a, 'gen_ai.provider.name')}\u0000${str(a, 'gen_ai.request.model')}`;

  for (const scope of input.merged.scopeMetrics) {
    if (scope.scope.name !== AGENT_SCOPE) continue;
    for (const m of scope.metrics) read(m);
  }

  function read(m: MetricData): void {
    switch (m.descriptor.name) {
      case METRICS.httpServerDuration.name:
        for (const p of m.dataPoints as { attributes: Attributes; value: Histogram }[]) {
          const a = p.attributes;
          const g = http.of(`${str(a, 'http.request.method')}\u0000${str(a, 'http.route')}`, a);
          addHist(g, p.value);
          if (isServerError(a)) g.errors += p.value.count;
        }
        return;
      case METRICS.dbDuration.name:
        for (const p of m.dataPoints as { attributes: Attributes; value: Histogram }[]) {
          const a = p.attributes;
          const key = `${str(a, 'db.system.name')}\u0000${str(a, 'db.operation.name')}\u0000${str(a, 'db.collection.name')}`;
          const g = db.of(key, a);
          addHist(g, p.value);
          if (a['error.type'] !== undefined) g.errors += p.value.count;
        }
        return;
      case METRICS.genAiDuration.name:
        for (const p of m.dataPoints as { attributes: Attributes; value: Histogram }[]) {
          const g = ai.of(aiKey(p.attributes), p.attributes);
          addHist(g.calls, p.value);
          if (p.attributes['error.type'] !== undefined) g.errors += p.value.count;
        }
        return;
      case METRICS.genAiTimeToFirstChunk.name:
        for (const p of m.dataPoints as { attributes: Attributes; value: Histogram }[]) {
          const g = ai.of(aiKey(p.attributes), p.attributes);
          g.firstChunk ??= emptyHist(aiBuckets);
          addHist(g.firstChunk, p.value);
        }
        return;
      case METRICS.genAiTokens.name:
        for (const p of m.dataPoints as { attributes: Attributes; value: Histogram }[]) {
          const g = ai.of(aiKey(p.attributes), p.attributes);
          const type = str(p.attributes, 'gen_ai.token.type');
          if (type === 'input') g.input += p.value.sum ?? 0;
          else if (type === 'output') g.output += p.value.sum ?? 0;
        }
        return;
      case METRICS.genAiCost.name:
        for (const p of m.dataPoints as { attributes: Attributes; value: number }[]) {
          ai.of(aiKey(p.attributes), p.attributes).cost += p.value;
        }
        return;
    }
  }

  return {
    time: input.now ?? Date.now(),
    service: input.service,
    processes: input.processes,
    bounds: {
      http: METRICS.httpServerDuration.buckets,
      db: METRICS.dbDuration.buckets,
      ai: METRICS.genAiDuration.buckets,
    },
    http: [...http.map.values()],
    db: [...db.map.values()],
    ai: [...ai.map.values()],
    runtime: input.runtime,
  };
}

/** A sibling's event loop and memory, from its latest push (the gauges /metrics shows for it). */
export function pushedRuntime(
  { scope: AGENT_SCOPE, metrics: METRICS }: Catalogue,
  slot: number,
  rm: ResourceMetrics,
): ProcessRuntime {
  const out: ProcessRuntime = {
    process: slot,
    pid:
      typeof rm.resource.attributes['process.pid'] === 'number'
        ? rm.resource.attributes['process.pid']
        : null,
    eventLoopP99: null,
    eventLoopUtilization: null,
    heapUsed: null,
    rss: null,
  };
  for (const scope of rm.scopeMetrics) {
    if (scope.scope.name !== AGENT_SCOPE) continue;
    for (const m of scope.metrics) {
      const points = m.dataPoints as { value: unknown }[];
      const first = typeof points[0]?.value === 'number' ? (points[0].value as number) : null;
      switch (m.descriptor.name) {
        case METRICS.eventLoopDelayP99.name:
          out.eventLoopP99 = first;
          break;
        case METRICS.eventLoopUtilization.name:
          out.eventLoopUtilization = first;
          break;
        case METRICS.memoryRss.name:
          out.rss = first;
          break;
        case METRICS.heapUsed.name:
          out.heapUsed = points.reduce((n, p) => n + (typeof p.value === 'number' ? p.value : 0), 0);
          break;
      }
    }
  }
  return out;
}
