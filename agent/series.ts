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

type Tree = Map<unknown, Tree | Attributes>;
// `never` parameters: any builder taking specific types fits; values are passed through as given.
type Builder = (a: never, b: never, c: never, d: never, e: never, f: never) => Attributes;
// biome-ignore lint/suspicious/noExplicitAny: calling a Builder needs its parameters widened.
type AnyBuilder = (...args: any[]) => Attributes;

export class SeriesCache {
  private readonly root: Tree = new Map();
  private size = 0;

  constructor(
    /** The metric's OpenTelemetry name, the `metric` label of the overflow counter. */
    readonly metric: string,
    readonly limit: number,
  ) {}

  /** Attribute set for up to six positional values; `build` runs once per distinct tuple. */
  get(
    build: Builder,
    a?: unknown,
    b?: unknown,
    c?: unknown,
    d?: unknown,
    e?: unknown,
    f?: unknown,
  ): Attributes {
    let node = this.root;
    // Walk six levels; absent trailing values are simply `undefined` keys.
    let next = node.get(a) as Tree | undefined;
    if (next === undefined) return this.insert(build, a, b, c, d, e, f);
    node = next;
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
    const leaf = next.get(f) as Attributes | undefined;
    return leaf ?? this.insert(build, a, b, c, d, e, f);
  }

  private insert(
    build: Builder,
    a: unknown,
    b: unknown,
    c: unknown,
    d: unknown,
    e: unknown,
    f: unknown,
  ): Attributes {
    if (this.size >= this.limit) {
      overflowCounts.set(this.metric, (overflowCounts.get(this.metric) ?? 0) + 1);
      return OVERFLOW_ATTRIBUTES;
    }
    const attrs = Object.freeze((build as AnyBuilder)(a, b, c, d, e, f));
    const keys = [a, b, c, d, e];
    let node = this.root;
    for (const key of keys) {
      let child = node.get(key) as Tree | undefined;
      if (child === undefined) {
        child = new Map();
        node.set(key, child);
      }
      node = child;
    }
    node.set(f, attrs);
    this.size++;
    return attrs;
  }
}
