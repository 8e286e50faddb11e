// What the live page's data endpoint (`GET /live.json` on the metrics port) answers: the numbers of
// the page, read from the same data as /metrics and shaped for people rather than for Prometheus.
// Plain JSON types, shared by the server (./snapshot.ts), the page (./page/) and `tapwire demo`.
//
// Histograms travel as OpenTelemetry keeps them — per-bucket counts with the bucket bounds once per
// section — so the page can take two snapshots apart into the last second's rate and p95, and the
// cumulative p95 is what Prometheus' histogram_quantile gives over the same buckets (./summary.ts).

/** A histogram: per-bucket counts (`bounds.length + 1` of them, the last one above every bound). */
export interface Hist {
  count: number;
  sum: number;
  counts: number[];
}

/** Inbound HTTP per method and route template (`null`: no router gave one). */
export interface HttpGroup extends Hist {
  method: string;
  route: string | null;
  /** Requests answered 5xx, as the dashboards' and the rules' error ratio count them. */
  errors: number;
}

/** Database operations per system, operation and collection (`null` where unknown). */
export interface DbGroup extends Hist {
  system: string;
  operation: string | null;
  collection: string | null;
  /** Operations that failed (`error.type` set). */
  errors: number;
}

/** AI provider calls per provider and requested model. */
export interface AiGroup {
  provider: string;
  model: string | null;
  /** The operation duration histogram: one count per call. */
  calls: Hist;
  /** Calls that failed (`error.type` set). */
  errors: number;
  /** Tokens as the provider reported them. */
  input: number;
  output: number;
  /** Estimated USD, from the price table (tapwire_gen_ai_cost_usd_total). */
  cost: number;
  /** Time to first chunk of the streamed calls; null when none streamed. */
  firstChunk: Hist | null;
}

/** One process of the service; `process` is its `tapwire_process` slot (0: the one serving the page). */
export interface ProcessRuntime {
  process: number;
  pid: number | null;
  /** Seconds; the 99th percentile since the previous reading (about a second). */
  eventLoopP99: number | null;
  /** 0..1 since the previous reading (Node only). */
  eventLoopUtilization: number | null;
  /** Bytes (Node only: reading the heap on Bun costs ~25 ms). */
  heapUsed: number | null;
  rss: number | null;
}

export interface LiveSnapshot {
  /** Milliseconds since the epoch, when the numbers were read. */
  time: number;
  service: string;
  /** The processes whose numbers are in (the one serving the page and the siblings that push to it). */
  processes: number;
  bounds: { http: readonly number[]; db: readonly number[]; ai: readonly number[] };
  http: HttpGroup[];
  db: DbGroup[];
  ai: AiGroup[];
  runtime: ProcessRuntime[];
}
