// Who an AI provider call was made for: one or two labels (TAPWIRE_AI_ATTRIBUTES, e.g.
// `tenant:x-tenant-id,feature:x-feature`) taken from the inbound request that caused the call, or
// set by the app with `withAttributes({ tenant }, fn)`. They go on the AI token and cost series
// only: those are what a team splits by tenant or feature, and the HTTP series stay as bounded as
// they were.
//
// How a value reaches the call: the inbound request's operation reads the configured headers once
// (../http/recorder.ts) and runs the app's handler with the set active in one AsyncLocalStorage
// (entered where the trace context is entered: Node's request channel, Bun's handler call);
// `withAttributes` runs its function with the set merged over the active one. An AiCall takes the
// set active when it starts, so everything the handler awaits, schedules on a timer or does in a
// stream callback carries it, on Node and Bun alike, and a streamed response keeps the set of the
// request that started it however long it runs.
//
// Cardinality: a value is a label value (labelValue(): at most 256 characters, no control
// characters), and each label keeps at most TAPWIRE_AI_ATTRIBUTE_VALUES distinct values; later
// ones are recorded as `_other` and counted in tapwire_cardinality_overflow_total
// {metric="ai_attribute_<name>"}. A set is one interned, frozen object per combination of values,
// so the AI series caches find it by identity.
import type { AsyncLocalStorage } from 'node:async_hooks';
import type { Attributes } from '@opentelemetry/api';
import type { AiAttribute } from '../../config/index.js';
import { agentLog } from '../log.js';
import { countOverflow, labelValue } from '../series.js';
import { type AttributionSlot, kAttribution } from './attribution-slot.js';

/** The value recorded for a label once it holds TAPWIRE_AI_ATTRIBUTE_VALUES values. */
export const OTHER = '_other';

/** One combination of attribution values: label name -> value, interned (compared by identity). */
export type AttributionSet = Readonly<Attributes>;

/** Names the app passed to withAttributes that are not configured are logged once each, up to this many. */
const UNKNOWN_LOG_LIMIT = 10;

type HeaderBag = { get(name: string): string | null } | Record<string, string | string[] | undefined>;

export class Attribution {
  // node:async_hooks is taken when attribution is configured: on Bun it is a JavaScript module
  // that cost the preload's start ~1 to 12 ms (measured on Bun 1.4.5).
  private readonly store: AsyncLocalStorage<AttributionSet | undefined> = new (
    process.getBuiltinModule('node:async_hooks') as typeof import('node:async_hooks')
  ).AsyncLocalStorage();
  readonly names: readonly string[];
  private readonly headers: readonly (string | undefined)[];
  /** Per label: the values kept so far (bounded value -> itself). */
  private readonly kept: Map<string, string>[];
  private readonly overflowKeys: readonly string[];
  /** Interned sets: first value -> second value -> set (undefined keys for absent values). */
  private readonly sets = new Map<string | undefined, Map<string | undefined, AttributionSet>>();
  private readonly unknown = new Set<string>();
  /** Whether any label is read from a header (else requests are not looked at). */
  readonly fromRequests: boolean;

  constructor(
    attributes: readonly AiAttribute[],
    private readonly limit: number,
  ) {
    this.names = attributes.map((a) => a.name);
    this.headers = attributes.map((a) => a.header);
    this.kept = attributes.map(() => new Map());
    this.overflowKeys = attributes.map((a) => `ai_attribute_${a.name}`);
    this.fromRequests = this.headers.some((h) => h !== undefined);
  }

  /** The set active in this async context, if any. */
  current(): AttributionSet | undefined {
    return this.store.getStore();
  }

  /** Makes `set` active for the rest of this synchronous execution and what it schedules (Node's request channel). */
  enter(set: AttributionSet | undefined): void {
    this.store.enterWith(set);
  }

  /** Calls fn with `set` active for it and everything it awaits or schedules. */
  run<A extends unknown[], R>(set: AttributionSet | undefined, fn: (...args: A) => R, ...args: A): R {
    return this.store.run(set, fn, ...args);
  }

  /** The set an inbound request's headers give (a node:http record or a Fetch Headers); undefined when none. */
  fromHeaders(headers: unknown): AttributionSet | undefined {
    if (!this.fromRequests || typeof headers !== 'object' || headers === null) return undefined;
    const bag = headers as HeaderBag;
    const fetchHeaders = typeof bag.get === 'function';
    let first: string | undefined;
    let second: string | undefined;
    for (let i = 0; i < this.headers.length; i++) {
      const name = this.headers[i];
      if (name === undefined) continue;
      const raw = fetchHeaders
        ? (bag as { get(name: string): string | null }).get(name)
        : (bag as Record<string, string | string[] | undefined>)[name];
      const v = this.value(i, Array.isArray(raw) ? raw[0] : raw);
      if (i === 0) first = v;
      else second = v;
    }
    return first === undefined && second === undefined ? undefined : this.set(first, second);
  }

  /** `values` (configured names only) over the set active now. */
  merged(values: Readonly<Record<string, unknown>>): AttributionSet | undefined {
    const active = this.current();
    let first = active?.[this.names[0]!] as string | undefined;
    let second = this.names.length > 1 ? (active?.[this.names[1]!] as string | undefined) : undefined;
    for (const key in values) {
      const i = this.names.indexOf(key);
      if (i === -1) {
        this.unknownName(key);
        continue;
      }
      const v = this.value(i, values[key]);
      if (i === 0) first = v;
      else second = v;
    }
    return first === undefined && second === undefined ? undefined : this.set(first, second);
  }

  /** Runs fn with `values` merged over the active set (the public withAttributes). */
  with<R>(values: Readonly<Record<string, unknown>>, fn: () => R): R {
    return this.store.run(this.merged(values), fn);
  }

  /** The value label `i` records for `raw`: bounded, capped; undefined for no value. */
  private value(i: number, raw: unknown): string | undefined {
    if (typeof raw === 'number' || typeof raw === 'boolean') raw = String(raw);
    if (typeof raw !== 'string' || raw === '') return undefined;
    const v = labelValue(raw);
    const kept = this.kept[i]!;
    const known = kept.get(v);
    if (known !== undefined) return known;
    if (kept.size >= this.limit) {
      countOverflow(this.overflowKeys[i]!);
      return OTHER;
    }
    kept.set(v, v);
    return v;
  }

  private set(first: string | undefined, second: string | undefined): AttributionSet {
    let inner = this.sets.get(first);
    if (inner === undefined) {
      inner = new Map();
      this.sets.set(first, inner);
    }
    let set = inner.get(second);
    if (set === undefined) {
      const a: Attributes = {};
      if (first !== undefined) a[this.names[0]!] = first;
      if (second !== undefined) a[this.names[1]!] = second;
      set = Object.freeze(a);
      inner.set(second, set);
    }
    return set;
  }

  private unknownName(name: string): void {
    if (this.unknown.has(name) || this.unknown.size >= UNKNOWN_LOG_LIMIT) return;
    this.unknown.add(name);
    agentLog(
      'TAPWIRE_AI_ATTRIBUTE_UNKNOWN',
      `withAttributes() was given ${JSON.stringify(labelValue(name))}, which TAPWIRE_AI_ATTRIBUTES does not name: it is left out. Name it there to record it.`,
      { attribute: labelValue(name), configured: this.names.join(',') },
    );
  }
}

/** The attribution in force in this process; undefined while TAPWIRE_AI_ATTRIBUTES is unset. */
export let attribution: Attribution | undefined;

/** Set once at start (and cleared at stop): the recorders read the module variable, the public API the global slot. */
export function setAttribution(a: Attribution | undefined): void {
  attribution = a;
  (globalThis as AttributionSlot)[kAttribution] = a;
}
