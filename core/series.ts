// Label sets, built once and capped, and the one rule for what a label value may hold.
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
// Size and content are a reliability matter too: many label values come from outside the process
// (a model name a provider reports, a route template, a table name, a host name, a database name),
// and one 100,000-character model name made every scrape 5 MB. So (3) every string value of
// every label set passes labelValue(): at most LABEL_VALUE_MAX characters, a longer one cut with
// a visible `...`, and control characters, bidirectional-text controls and lone surrogates
// replaced by U+FFFD (what a decoder already makes of bytes that are not UTF-8), so a value reads
// the same in /metrics, in PromQL and on a dashboard. docs/metrics.md states the rule.
//
// The cache is also the hot-path optimisation: a request looks its attribute object up in nested
// Maps keyed by the raw values (no string building, no object allocation after the first time).
import type { Attributes } from '@opentelemetry/api';

/** The most characters (Unicode code points) a label value keeps. */
export const LABEL_VALUE_MAX = 256;
/** Ends a value that was cut to LABEL_VALUE_MAX characters (part of them). */
export const LABEL_VALUE_CUT = '...';
const REPLACEMENT = 0xfffd;

/** Characters a label value may not hold: C0 and C1 controls, DEL, bidirectional-text controls. */
function odd(c: number): boolean {
  return (
    c < 0x20 ||
    (c >= 0x7f && c < 0xa0) ||
    c === 0x061c ||
    c === 0x200e ||
    c === 0x200f ||
    (c >= 0x202a && c <= 0x202e) ||
    (c >= 0x2066 && c <= 0x2069)
  );
}

/** Whether `v` already keeps the rule (then it is used as it is). */
function plain(v: string): boolean {
  if (v.length > LABEL_VALUE_MAX) return false;
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if (c < 0xa0) {
      if (c < 0x20 || c >= 0x7f) return false;
    } else if (c >= 0xd800 && c <= 0xdfff) {
      const d = v.charCodeAt(i + 1);
      if (c > 0xdbff || !(d >= 0xdc00 && d <= 0xdfff)) return false;
      i++;
    } else if (odd(c)) {
      return false;
    }
  }
  return true;
}

/** Whether `v` holds more than `max` code points. */
function longer(v: string, max: number): boolean {
  if (v.length <= max) return false;
  if (v.length > 2 * max) return true;
  let points = 0;
  for (let i = 0; i < v.length; i++, points++) {
    const c = v.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) {
      const d = v.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) i++;
    }
  }
  return points > max;
}

/**
 * A label value as the rule allows it: `v` itself when it keeps the rule, else a new string (never
 * a slice that would keep a long original alive) of at most LABEL_VALUE_MAX characters.
 */
export function labelValue(v: string): string {
  if (plain(v)) return v;
  const cut = longer(v, LABEL_VALUE_MAX);
  const keep = cut ? LABEL_VALUE_MAX - LABEL_VALUE_CUT.length : LABEL_VALUE_MAX;
  const codes: number[] = [];
  for (let i = 0, points = 0; i < v.length && points < keep; i++, points++) {
    const c = v.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdfff) {
      const d = v.charCodeAt(i + 1);
      if (c <= 0xdbff && d >= 0xdc00 && d <= 0xdfff) {
        codes.push(c, d);
        i++;
      } else {
        codes.push(REPLACEMENT);
      }
    } else {
      codes.push(odd(c) ? REPLACEMENT : c);
    }
  }
  let out = String.fromCharCode(...codes);
  if (cut) out += LABEL_VALUE_CUT;
  return out;
}

/** A cache key: a string too long to be a label value is bounded first, so no cache keeps it. */
function bounded(key: unknown): unknown {
  return typeof key === 'string' && key.length > LABEL_VALUE_MAX ? labelValue(key) : key;
}

export const OVERFLOW_ATTRIBUTES: Attributes = Object.freeze({ 'otel.metric.overflow': true });

/** Overflow counts per Prometheus-facing metric name, read by the overflow counter's callback. */
export const overflowCounts = new Map<string, number>();

type Tree = Map<unknown, unknown>;
// `never` parameters: any builder taking specific types fits; values are passed through as given.
type Builder<T> = (a: never, b: never, c: never, d: never, e: never, f: never, g: never) => T;
// biome-ignore lint/suspicious/noExplicitAny: calling a Builder needs its parameters widened.
type AnyBuilder<T> = (...args: any[]) => T;

/** No key: what the last-tuple slots hold before the first lookup (never equal to a key). */
const kNone: unique symbol = Symbol('none');

/**
 * One value per distinct tuple of up to seven keys, built once, at most `limit` of them; a new tuple
 * past the limit gets `full()` instead. Keys are compared as Map keys (identity for objects).
 */
export abstract class Interned<T> {
  private readonly root: Tree = new Map();
  private size = 0;
  // The last tuple found and its value: a request path asks for the same few tuples again and
  // again, and comparing seven keys costs less than walking seven Maps, whose tables the app's own
  // work between two requests pushes out of the CPU's caches (a CPU profile of a Fastify server
  // under load put ~0.35 µs a walk on it, ~50 ns in a loop of its own).
  private la: unknown = kNone;
  private lb: unknown = kNone;
  private lc: unknown = kNone;
  private ld: unknown = kNone;
  private le: unknown = kNone;
  private lf: unknown = kNone;
  private lg: unknown = kNone;
  private lv: T | undefined = undefined;

  constructor(readonly limit: number) {}

  protected abstract full(): T;

  get(
    build: Builder<T>,
    a?: unknown,
    b?: unknown,
    c?: unknown,
    d?: unknown,
    e?: unknown,
    f?: unknown,
    g?: unknown,
  ): T {
    if (
      a === this.la &&
      b === this.lb &&
      c === this.lc &&
      d === this.ld &&
      e === this.le &&
      f === this.lf &&
      g === this.lg
    ) {
      return this.lv as T;
    }
    if (oversized(a, b, c, d, e, f, g)) {
      return this.get(
        build,
        bounded(a),
        bounded(b),
        bounded(c),
        bounded(d),
        bounded(e),
        bounded(f),
        bounded(g),
      );
    }
    // Walk seven levels; absent trailing values are simply `undefined` keys.
    let next = this.root.get(a) as Tree | undefined;
    if (next === undefined) return this.insert(build, a, b, c, d, e, f, g);
    let node = next;
    next = node.get(b) as Tree | undefined;
    if (next === undefined) return this.insert(build, a, b, c, d, e, f, g);
    node = next;
    next = node.get(c) as Tree | undefined;
    if (next === undefined) return this.insert(build, a, b, c, d, e, f, g);
    node = next;
    next = node.get(d) as Tree | undefined;
    if (next === undefined) return this.insert(build, a, b, c, d, e, f, g);
    node = next;
    next = node.get(e) as Tree | undefined;
    if (next === undefined) return this.insert(build, a, b, c, d, e, f, g);
    node = next;
    next = node.get(f) as Tree | undefined;
    if (next === undefined) return this.insert(build, a, b, c, d, e, f, g);
    const leaf = next.get(g) as T | undefined;
    if (leaf === undefined) return this.insert(build, a, b, c, d, e, f, g);
    this.remember(a, b, c, d, e, f, g, leaf);
    return leaf;
  }

  private remember(
    a: unknown,
    b: unknown,
    c: unknown,
    d: unknown,
    e: unknown,
    f: unknown,
    g: unknown,
    value: T,
  ): void {
    this.la = a;
    this.lb = b;
    this.lc = c;
    this.ld = d;
    this.le = e;
    this.lf = f;
    this.lg = g;
    this.lv = value;
  }

  private insert(
    build: Builder<T>,
    a: unknown,
    b: unknown,
    c: unknown,
    d: unknown,
    e: unknown,
    f: unknown,
    g: unknown,
  ): T {
    // Past the limit: never remembered, as full() counts each measurement it takes.
    if (this.size >= this.limit) return this.full();
    const value = this.seal(this.made((build as AnyBuilder<T>)(a, b, c, d, e, f, g)));
    let node = this.root;
    for (const key of [a, b, c, d, e, f]) {
      let child = node.get(key) as Tree | undefined;
      if (child === undefined) {
        child = new Map();
        node.set(key, child);
      }
      node = child;
    }
    node.set(g, value);
    this.size++;
    this.remember(a, b, c, d, e, f, g, value);
    return value;
  }

  /** A value just built, before it is sealed and kept. */
  protected made(value: T): T {
    return value;
  }

  /** How a value is kept: frozen, unless a subclass keeps mutable state in it. */
  protected seal(value: T): T {
    return Object.freeze(value);
  }
}

/** Whether one of the keys is a string too long to be a label value (the rare case). */
function oversized(
  a: unknown,
  b: unknown,
  c: unknown,
  d: unknown,
  e: unknown,
  f: unknown,
  g: unknown,
): boolean {
  return (
    (typeof a === 'string' && a.length > LABEL_VALUE_MAX) ||
    (typeof b === 'string' && b.length > LABEL_VALUE_MAX) ||
    (typeof c === 'string' && c.length > LABEL_VALUE_MAX) ||
    (typeof d === 'string' && d.length > LABEL_VALUE_MAX) ||
    (typeof e === 'string' && e.length > LABEL_VALUE_MAX) ||
    (typeof f === 'string' && f.length > LABEL_VALUE_MAX) ||
    (typeof g === 'string' && g.length > LABEL_VALUE_MAX)
  );
}

/** Every string value of a new label set made to keep the label-value rule (labelValue). */
export function keepRule(attributes: Attributes): Attributes {
  for (const key in attributes) {
    const v = attributes[key];
    if (typeof v === 'string') attributes[key] = labelValue(v);
  }
  return attributes;
}

/** One measurement of `metric` went to its overflow series. */
export function countOverflow(metric: string): void {
  overflowCounts.set(metric, (overflowCounts.get(metric) ?? 0) + 1);
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

  /** Every string value of a new label set keeps the label-value rule. */
  protected override made(attributes: Attributes): Attributes {
    return keepRule(attributes);
  }

  /** A measurement that goes to the overflow series (counted). */
  protected full(): Attributes {
    countOverflow(this.metric);
    return OVERFLOW_ATTRIBUTES;
  }

  /** The overflow series, for a measurement whose label set is known to be past the limit. */
  overflow(): Attributes {
    return this.full();
  }
}
