// The numbers a person reads, from live snapshots (./model.ts): per route, database operation and
// AI model — counts, error ratios, p95 — over everything so far, or over the time between two
// snapshots (a rate, the last second's p95). The page (./page/) and `tapwire demo` both read them
// here, so the terminal and the browser cannot disagree. Pure functions, no Node or DOM API.
import type { AiGroup, DbGroup, Hist, HttpGroup, LiveSnapshot } from './model.js';

/**
 * The `q` quantile of a histogram as Prometheus' histogram_quantile() computes it from the same
 * buckets: the bucket where the rank falls, linear interpolation inside it (from 0 for the first
 * bucket), the highest finite bound when the rank falls above every bound; NaN without observations.
 * https://github.com/prometheus/prometheus/blob/v2.42.0/promql/quantile.go (bucketQuantile)
 */
export function quantile(q: number, bounds: readonly number[], counts: readonly number[]): number {
  if (Number.isNaN(q)) return Number.NaN;
  if (q < 0) return Number.NEGATIVE_INFINITY;
  if (q > 1) return Number.POSITIVE_INFINITY;
  let total = 0;
  for (const c of counts) total += c;
  if (total === 0 || bounds.length === 0) return Number.NaN;
  const rank = q * total;
  let below = 0;
  for (let i = 0; i < bounds.length; i++) {
    const cumulative = below + (counts[i] ?? 0);
    if (cumulative >= rank) {
      const upper = bounds[i]!;
      if (i === 0 && upper <= 0) return upper;
      const lower = i === 0 ? 0 : bounds[i - 1]!;
      return lower + (upper - lower) * ((rank - below) / (cumulative - below));
    }
    below = cumulative;
  }
  return bounds[bounds.length - 1]!;
}

/**
 * What `now` holds beyond `before` (the same series a moment earlier); `now` when there was none,
 * or when the count went down (the process serving the page was replaced: its totals start over).
 */
export function histDelta(now: Hist, before: Hist | undefined): Hist {
  if (before === undefined || now.count < before.count) return now;
  return {
    count: now.count - before.count,
    sum: now.sum - before.sum,
    counts: now.counts.map((c, i) => c - (before.counts[i] ?? 0)),
  };
}

/** What happened between two snapshots, per second: one point of a chart, or the demo's rates. */
export interface Window {
  /** Requests, operations or calls per second. */
  rate: number;
  /** NaN without any in the window. */
  errorRatio: number;
  /** Seconds; NaN without observations in the window. */
  p95: number;
}

export interface AiWindow extends Window {
  /** Input and output tokens per second. */
  tokens: number;
  /** USD per second. */
  cost: number;
}

/** A row of one of the page's and the demo's tables. */
export interface Row {
  /** Stable identity of the series, for charts across snapshots. */
  key: string;
  /** What the row is about, in the table's first columns. */
  cells: string[];
}

export interface HttpRow extends Row {
  requests: number;
  errors: number;
  /** errors / requests; NaN without requests. */
  errorRatio: number;
  /** Seconds. */
  p95: number;
  /** Since the earlier snapshot, when one was given. */
  window: Window | undefined;
}

export interface DbRow extends Row {
  operations: number;
  errors: number;
  p95: number;
  window: Window | undefined;
}

export interface AiRow extends Row {
  calls: number;
  errors: number;
  input: number;
  output: number;
  cost: number;
  /** Seconds to the first chunk of streamed calls, p95; NaN when none streamed. */
  firstChunkP95: number;
  window: AiWindow | undefined;
}

const NO_ROUTE = '(no route)';
const keyOf = (...parts: (string | null)[]): string => parts.map((p) => p ?? '').join('\u0000');
const httpKey = (g: HttpGroup) => keyOf(g.method, g.route);
const dbKey = (g: DbGroup) => keyOf(g.system, g.operation, g.collection);
const aiKey = (g: AiGroup) => keyOf(g.provider, g.model);

/** Seconds between two snapshots (0 without an earlier one). */
const secondsBetween = (now: LiveSnapshot, before: LiveSnapshot | undefined): number =>
  before === undefined ? 0 : (now.time - before.time) / 1000;

/** The window between `before` and `now` of one series (`before` undefined: it is new). */
export function windowOf(
  now: Hist & { errors: number },
  before: (Hist & { errors: number }) | undefined,
  bounds: readonly number[],
  seconds: number,
): Window {
  const d = histDelta(now, before);
  const errors = d === now ? now.errors : now.errors - (before?.errors ?? 0);
  return {
    rate: seconds > 0 ? d.count / seconds : Number.NaN,
    errorRatio: d.count > 0 ? errors / d.count : Number.NaN,
    p95: quantile(0.95, bounds, d.counts),
  };
}

/** Most first, then by name: the order both the page and the demo show. */
function ordered<R extends Row>(rows: R[], count: (r: R) => number): R[] {
  return rows.sort((a, b) => count(b) - count(a) || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

function earlier<G>(before: readonly G[] | undefined, key: (g: G) => string): Map<string, G> {
  return new Map((before ?? []).map((g) => [key(g), g]));
}

export function httpRows(now: LiveSnapshot, before?: LiveSnapshot): HttpRow[] {
  const seconds = secondsBetween(now, before);
  const then = earlier(before?.http, httpKey);
  const rows = now.http.map((g): HttpRow => {
    const key = httpKey(g);
    return {
      key,
      cells: [g.method, g.route ?? NO_ROUTE],
      requests: g.count,
      errors: g.errors,
      errorRatio: g.count === 0 ? Number.NaN : g.errors / g.count,
      p95: quantile(0.95, now.bounds.http, g.counts),
      window: before === undefined ? undefined : windowOf(g, then.get(key), now.bounds.http, seconds),
    };
  });
  return ordered(rows, (r) => r.requests);
}

export function dbRows(now: LiveSnapshot, before?: LiveSnapshot): DbRow[] {
  const seconds = secondsBetween(now, before);
  const then = earlier(before?.db, dbKey);
  const rows = now.db.map((g): DbRow => {
    const key = dbKey(g);
    return {
      key,
      cells: [g.system, g.operation ?? '', g.collection ?? ''],
      operations: g.count,
      errors: g.errors,
      p95: quantile(0.95, now.bounds.db, g.counts),
      window: before === undefined ? undefined : windowOf(g, then.get(key), now.bounds.db, seconds),
    };
  });
  return ordered(rows, (r) => r.operations);
}

export function aiRows(now: LiveSnapshot, before?: LiveSnapshot): AiRow[] {
  const seconds = secondsBetween(now, before);
  const then = earlier(before?.ai, aiKey);
  const rows = now.ai.map((g): AiRow => {
    const key = aiKey(g);
    let window: AiWindow | undefined;
    if (before !== undefined) {
      const b = then.get(key);
      const calls = windowOf(
        { ...g.calls, errors: g.errors },
        b && { ...b.calls, errors: b.errors },
        now.bounds.ai,
        seconds,
      );
      // A model whose calls went down belongs to a process that started over: all of it is new.
      const fresh = b === undefined || g.calls.count < b.calls.count;
      const per = (n: number, was: number) => (seconds > 0 ? (fresh ? n : n - was) / seconds : Number.NaN);
      window = {
        ...calls,
        tokens: per(g.input + g.output, b === undefined ? 0 : b.input + b.output),
        cost: per(g.cost, b?.cost ?? 0),
      };
    }
    return {
      key,
      cells: [g.provider, g.model ?? ''],
      calls: g.calls.count,
      errors: g.errors,
      input: g.input,
      output: g.output,
      cost: g.cost,
      firstChunkP95: g.firstChunk === null ? Number.NaN : quantile(0.95, now.bounds.ai, g.firstChunk.counts),
      window,
    };
  });
  return ordered(rows, (r) => r.calls);
}

// Formatting, one way for the page and the terminal.

const trim = (s: string): string => (s.includes('.') ? s.replace(/\.?0+$/, '') : s);

/** `4.75 ms`, `1.2 s`, `–` for NaN. */
export function formatSeconds(s: number): string {
  if (!Number.isFinite(s)) return '–';
  if (s === 0) return '0 ms';
  if (s < 0.001) return `${trim((s * 1e6).toPrecision(3))} µs`;
  if (s < 1) return `${trim((s * 1e3).toPrecision(3))} ms`;
  return `${trim(s.toPrecision(3))} s`;
}

/** `12.5/s`, `0.333/s`. */
export function formatRate(perSecond: number): string {
  if (!Number.isFinite(perSecond)) return '–';
  if (perSecond === 0) return '0/s';
  return `${trim(perSecond >= 100 ? perSecond.toFixed(0) : perSecond.toPrecision(3))}/s`;
}

/** `20%`, `0.5%`, `–` for NaN. */
export function formatRatio(r: number): string {
  if (!Number.isFinite(r)) return '–';
  return `${trim((r * 100).toPrecision(3))}%`;
}

/** `$0.004655`: cost is small per call; six decimals show a cent's ten-thousandth. */
export function formatUsd(usd: number): string {
  if (!Number.isFinite(usd)) return '–';
  return `$${usd >= 100 ? usd.toFixed(2) : usd.toFixed(6)}`;
}

/** `45.2 MB`. */
export function formatBytes(b: number | null): string {
  if (b === null || !Number.isFinite(b)) return '–';
  const units = ['B', 'kB', 'MB', 'GB'];
  let i = 0;
  while (b >= 1000 && i < units.length - 1) {
    b /= 1000;
    i++;
  }
  return `${trim(b.toPrecision(3))} ${units[i]}`;
}

/** Integers as they are (no rounding of a count). */
export function formatCount(n: number): string {
  return Number.isFinite(n) ? String(n) : '–';
}
