// Bun's RedisClient command methods, wrapped once per process for both users of the wrappers: the
// preload's deferred start (./defer-bun.ts: a command starts the agent) and the agent's hook
// (./db/redis/bun.ts: a command is measured). The prototype has ~210 methods and the default
// `redis` instance shares it, so the wrappers are what each Bun process pays for: made once, by
// whichever comes first, and kept when the agent takes over from the preload, instead of the
// preload's being taken off and the agent's put on (measured on Bun 1.4.5: the hook's share of an
// agent start after a deferral 1.3-1.6 -> 0.2-0.3 ms; without a deferral it lays the wrappers
// itself, 1-2 ms less than the marked wrappers of core/patch.ts).
//
// A wrapper is a method of the original's name with as many parameters as the original's length
// (no property is defined on it, but `length` on the few methods with more than three parameters:
// ~200 defineProperty calls cost ~1 ms), and hands every call, with
// its own `this` and arguments object, to dispatch(): the preload's trip while it is set, then the
// agent's measurement while it is set, else the original alone.
//
// Bundled twice (the preload's file and the agent's chunk, which share no code: scripts/build.mjs);
// the two copies meet in one global slot.

// biome-ignore lint/suspicious/noExplicitAny: wrappers forward any `this` and any arguments.
type Fn = (this: any, ...args: any[]) => any;

/** The agent's measurement of one call: must call `original` with `self` and `args` exactly once. */
export type RedisMeasure = (name: string, original: Fn, self: unknown, args: IArguments) => unknown;

export interface RedisWires {
  readonly proto: Record<string, unknown>;
  /** Method name -> [the original, its wrapper]. */
  readonly methods: Map<string, [original: Fn, wrapper: Fn]>;
  /** The preload's trip (starts the agent), while the start is deferred. */
  trip: (() => void) | undefined;
  /** The agent's measurement, while an agent measures. */
  measure: RedisMeasure | undefined;
}

const kWires = Symbol.for('tapwire.bun.redisWires');
type Slot = typeof globalThis & { [kWires]?: RedisWires };

function dispatch(w: RedisWires, name: string, original: Fn, self: unknown, args: IArguments): unknown {
  if (w.trip !== undefined) w.trip();
  const m = w.measure;
  return m === undefined ? Reflect.apply(original, self, args) : m(name, original, self, args);
}

/** The wires of `proto` (RedisClient.prototype): the ones laid in this process, else laid now. */
export function redisWires(proto: Record<string, unknown>): RedisWires {
  const g = globalThis as Slot;
  const laid = g[kWires];
  if (laid !== undefined && laid.proto === proto) return laid;
  const w: RedisWires = { proto, methods: new Map(), trip: undefined, measure: undefined };
  for (const name of Object.getOwnPropertyNames(proto)) {
    if (name === 'constructor') continue;
    const d = Object.getOwnPropertyDescriptor(proto, name);
    if (d === undefined || typeof d.value !== 'function' || !d.writable) continue;
    const original = d.value as Fn;
    // A method of the original's name and length, made here in the loop: a function called ~200
    // times to make them was compiled by JavaScriptCore's JIT in every process (+1-3 ms of CPU a
    // `bun -e 0`, measured on 1.4.5), this loop is not.
    const n = original.length;
    let wrapper: Fn;
    // biome-ignore-start lint/complexity/noArguments: the caller's exact arguments, without a rest array
    // biome-ignore-start lint/correctness/noUnusedFunctionParameters: the parameters give the length
    if (n === 0) {
      wrapper = {
        [name]() {
          return dispatch(w, name, original, this, arguments);
        },
      }[name] as Fn;
    } else if (n === 1) {
      wrapper = {
        [name](_a: unknown) {
          return dispatch(w, name, original, this, arguments);
        },
      }[name] as Fn;
    } else if (n === 2) {
      wrapper = {
        [name](_a: unknown, _b: unknown) {
          return dispatch(w, name, original, this, arguments);
        },
      }[name] as Fn;
    } else if (n === 3) {
      wrapper = {
        [name](_a: unknown, _b: unknown, _c: unknown) {
          return dispatch(w, name, original, this, arguments);
        },
      }[name] as Fn;
    } else {
      wrapper = {
        [name]() {
          return dispatch(w, name, original, this, arguments);
        },
      }[name] as Fn;
      Object.defineProperty(wrapper, 'length', { value: n, configurable: true });
    }
    // biome-ignore-end lint/correctness/noUnusedFunctionParameters: see above
    // biome-ignore-end lint/complexity/noArguments: see above
    w.methods.set(name, [original, wrapper]);
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
