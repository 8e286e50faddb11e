// Label sets, built once and capped.
//
// Cardinality is a reliability matter: every distinct label set is a series Prometheus keeps in
// memory for as long as it exists, and one unbounded label (a raw path, a user id, an error
// message) can take a Prometheus server down. So (1) instrumentations only ever pass
// low-cardinality values (see ./http/semconv.ts for what each attribute may hold), and (2) each
// metric keeps at most `limit` label sets: once full, new ones go to a single series marked
// `otel.metric.overflow=true` (the OpenTelemetry SDK's overflow convention,
// https://opentelemetry.io/docs/specs/otel/metrics/sdk/#cardinality-limits) and are counted in
// tapwire_cardinality_overflow_total{metric}.
//
// The cache is also the hot-path optimisation: a request looks its attribute object up in nested
// Maps keyed by the raw values (no string building, no object allocation after the first time).
import type { Attributes } from '@opentelemetry/api';

export const OVERFLOW_ATTRIBUTES: Attributes = Object.freeze({ 'otel.metric.overflow': true });

/** Overflow counts per Prometheus-facing metric name, read by the overflow counter's callback. */
export const overflowCounts = new Map<string, number>();

type Tree = Map<unknown, unknown>;
// `never` parameters: any builder taking specific types fits; values are passed through as given.
type Builder<T> = (a: never, b: never, c: never, d: never, e: never, f: never) => T;
// biome-ignore lint/suspicious/noExplicitAny: calling a Builder needs its parameters widened.
type AnyBuilder<T> = (...args: any[]) => T;

/**
 * One value per distinct tuple of up to six keys, built once, at most `limit` of them; a new tuple
 * past the limit gets `full()` instead. Keys are compared as Map keys (identity for objects).
 */
export abstract class Interned<T> {
  private readonly root: Tree = new Map();
  private size = 0;

  constructor(readonly limit: number) {}

  protected abstract full(): T;

  get(build: Builder<T>, a?: unknown, b?: unknown, c?: unknown, d?: unknown, e?: unknown, f?: unknown): T {
    // Walk six levels; absent trailing values are simply `undefined` keys.
    let next = this.root.get(a) as Tree | undefined;
    if (next === undefined) return this.insert(build, a, b, c, d, e, f);
    let node = next;
    next = node.get(b) as Tree | undefined;
    if (next === undefined) return this.insert(build, a, b, c, d, e, f);
    node = next;
    next = node.get(c) as Tree | undefined;
    if (next === undefined) return this.insert(build, a, b, c, d, e, f);
    node = next;
    next = node.get(d) as Tree | undefined;
    if (next === undefined) return this.insert(build, a, b, c, d, e, f);
    node = next;
    next = node.get(e) as Tree | undefined;
    if (next === undefined) return this.insert(build, a, b, c, d, e, f);
    const leaf = next.get(f) as T | undefined;
    return leaf ?? this.insert(build, a, b, c, d, e, f);
  }

  private insert(
    build: Builder<T>,
    a: unknown,
    b: unknown,
    c: unknown,
    d: unknown,
    e: unknown,
    f: unknown,
  ): T {
    if (this.size >= this.limit) return this.full();
    const value = Object.freeze((build as AnyBuilder<T>)(a, b, c, d, e, f));
    let node = this.root;
    for (const key of [a, b, c, d, e]) {
      let child = node.get(key) as Tree | undefined;
      if (child === undefined) {
        child = new Map();
        node.set(key, child);
      }
      node = child;
    }
    node.set(f, value);
    this.size++;
    return value;
  }
}

/** The label sets of one metric. */
export class SeriesCache extends Interned<Attributes> {
  constructor(
    /** The metric's Prometheus name, the `metric` label of the overflow counter. */
    readonly metric: string,
    limit: number,
  ) {
    super(limit);
  }

  /** A measurement that goes to the overflow series (counted). */
  protected full(): Attributes {
    overflowCounts.set(this.metric, (overflowCounts.get(this.metric) ?? 0) + 1);
    return OVERFLOW_ATTRIBUTES;
  }

  /** The overflow series, for a measurement whose label set is known to be past the limit. */
  overflow(): Attributes {
    return this.full();
  }
}
