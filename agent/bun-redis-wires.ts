// Bun's RedisClient command methods, wrapped once per process for both users of the wrappers: the
// preload's deferred start (./defer-bun.ts: a command starts the agent) and the agent's hook
// (./db/redis/bun.ts: a command is measured). The prototype has ~210 methods and the default
// `redis` instance shares it, so the wrappers are what each Bun process pays for: made once, by
// whichever comes first, and kept when the agent takes over from the preload, instead of the
// preload's being taken off and the agent's put on (measured on Bun 1.4.5: the hook's share of an
// agent start after a deferral 1.3-1.6 -> 0.2-0.3 ms; without a deferral it lays the wrappers
// itself, 1-2 ms less than the marked wrappers of core/patch.ts).
//
// A wrapper is a Proxy of the original whose apply trap, one for all of them, hands every call, with
// its own `this` and arguments, to the preload's trip while it is set, then to the agent's
// measurement while it is set, else to the original alone. The Proxy answers `name`, `length` and
// `typeof` as the original does. Made natively, ~210 Proxies cost a Bun process 0.4 ms at start
// against 1.0 for as many JavaScript wrappers of the original's name and length (Bun 1.4.5, the
// preload's `-e 0`, medians of 25 runs; 0.7 ms of CPU, 61 interleaved runs).
//
// Bundled twice (the preload's file and the agent's chunk, which share no code: scripts/build.mjs);
// the two copies meet in one global slot.

// biome-ignore lint/suspicious/noExplicitAny: wrappers forward any `this` and any arguments.
type Fn = (this: any, ...args: any[]) => any;

/** The agent's measurement of one call: must call `original` with `self` and `args` exactly once. */
export type RedisMeasure = (name: string, original: Fn, self: unknown, args: readonly unknown[]) => unknown;

export interface RedisWires {
  readonly proto: Record<string, unknown>;
  /** Method name -> [the original, its wrapper]. */
  readonly methods: Map<string, [original: Fn, wrapper: Fn]>;
  /** The original -> its method name (the Proxy's trap is handed the original). */
  readonly names: Map<Fn, string>;
  /** The preload's trip (starts the agent), while the start is deferred. */
  trip: (() => void) | undefined;
  /** The agent's measurement, while an agent measures. */
  measure: RedisMeasure | undefined;
}

const kWires = Symbol.for('tapwire.bun.redisWires');
type Slot = typeof globalThis & { [kWires]?: RedisWires };

/** The wires of `proto` (RedisClient.prototype): the ones laid in this process, else laid now. */
export function redisWires(proto: Record<string, unknown>): RedisWires {
  const g = globalThis as Slot;
  const laid = g[kWires];
  if (laid !== undefined && laid.proto === proto) return laid;
  const w: RedisWires = { proto, methods: new Map(), names: new Map(), trip: undefined, measure: undefined };
  const trap: ProxyHandler<Fn> = {
    apply(original, self, args) {
      if (w.trip !== undefined) w.trip();
      const m = w.measure;
      return m === undefined
        ? Reflect.apply(original, self, args)
        : m(w.names.get(original)!, original, self, args);
    },
  };
  for (const name of Object.getOwnPropertyNames(proto)) {
    if (name === 'constructor') continue;
    const d = Object.getOwnPropertyDescriptor(proto, name);
    if (d === undefined || typeof d.value !== 'function' || !d.writable) continue;
    const original = d.value as Fn;
    const wrapper = new Proxy(original, trap);
    w.methods.set(name, [original, wrapper]);
    w.names.set(original, name);
    proto[name] = wrapper;
  }
  g[kWires] = w;
  return w;
}

/** Takes the wires off: every method that is still a wrapper gets its original back. */
export function unwire(w: RedisWires): void {
  w.trip = undefined;
  w.measure = undefined;
  for (const [name, [original, wrapper]] of w.methods) {
    if (w.proto[name] === wrapper) w.proto[name] = original;
  }
  const g = globalThis as Slot;
  if (g[kWires] === w) delete g[kWires];
}
