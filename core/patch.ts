// The one way tapwire patches: where a runtime or library publishes no diagnostics channel
// (Bun.serve, Bun's fetch, most database drivers), a function is wrapped in place. Every wrapper
// is made here, so every patch
//   - carries one marker (`Symbol.for('tapwire.original')` -> the function it wraps), which makes
//     patching idempotent even across two copies of tapwire in one process;
//   - keeps the original's `name` and `length` (frameworks read `length`: Hono tells a handler
//     from a middleware by it);
//   - can be undone: `Patches.restore()` puts every original back, in reverse order, with the
//     property's own descriptor. A property something else replaced after us is left to its new
//     owner; our wrapper inside it passes through once the guards are off (./guard.ts).
// The wrappers forward `this` and the caller's `arguments` object as they are: no rest array and no
// spread per call, and the callee sees the same arity the app passed.
// One exception: Bun's RedisClient command methods (~210 of them) are wrapped by
// agent/bun-redis-wires.ts, whose wrappers the preload's deferred start lays and the agent measures
// through, undone by its own unwire() and found through a global slot instead of the marker (the
// marker's three properties per wrapper cost ~1 ms of every Bun start).
import { fail, type Guard } from './guard.js';

// biome-ignore lint/suspicious/noExplicitAny: wrappers forward any `this` and any arguments.
export type Fn = (this: any, ...args: any[]) => any;

const kOriginal: unique symbol = Symbol.for('tapwire.original') as never;
type Marked = Fn & { [kOriginal]?: Fn };

/** The function a tapwire wrapper wraps; undefined for anything else. */
export function originalOf(value: unknown): Fn | undefined {
  return typeof value === 'function' ? (value as Marked)[kOriginal] : undefined;
}

/** Marks `wrapper` as wrapping `original` and gives it the original's name and length. */
export function mark<W extends Fn>(wrapper: W, original: Fn): W {
  Object.defineProperty(wrapper, kOriginal, { value: original });
  Object.defineProperty(wrapper, 'name', { value: original.name, configurable: true });
  Object.defineProperty(wrapper, 'length', { value: original.length, configurable: true });
  return wrapper;
}

/**
 * A wrapper that hands each call to `call(original, self, args)` while `g` is on, and calls
 * `original` itself when it is off. `call` must call `original` with `self` and `args` exactly
 * once (Reflect.apply) and keep its own work out of the way of what the original returns or throws.
 */
export function around(
  g: Guard,
  original: Fn,
  call: (original: Fn, self: unknown, args: IArguments) => unknown,
): Fn {
  return mark(function (this: unknown) {
    // biome-ignore lint/complexity/noArguments: the caller's exact arguments, without a rest array per call
    return g.enabled ? call(original, this, arguments) : Reflect.apply(original, this, arguments);
  }, original);
}

/**
 * A wrapper that first asks `describe(self, args)` what this call is (guarded: a throw turns the
 * guard off), then hands described calls to `run(description, original, self, args)`. A call
 * `describe` returns undefined for, or any call while the guard is off, goes straight to
 * `original`. `run` must call `original` with `self` and `args` exactly once.
 */
export function described<D>(
  g: Guard,
  original: Fn,
  describe: (self: unknown, args: IArguments) => D | undefined,
  run: (description: D, original: Fn, self: unknown, args: IArguments) => unknown,
): Fn {
  return mark(function (this: unknown) {
    let d: D | undefined;
    if (g.enabled) {
      try {
        // biome-ignore lint/complexity/noArguments: see around()
        d = describe(this, arguments);
      } catch (error) {
        fail(g, error);
      }
    }
    // biome-ignore lint/complexity/noArguments: see around()
    return d === undefined ? Reflect.apply(original, this, arguments) : run(d, original, this, arguments);
  }, original);
}

/** A wrapper that runs `enter(self, args)` (guarded) before the original, then the original as called. */
export function before(g: Guard, original: Fn, enter: (self: unknown, args: IArguments) => void): Fn {
  return around(g, original, (o, self, args) => {
    try {
      enter(self, args);
    } catch (error) {
      fail(g, error);
    }
    return Reflect.apply(o, self, args);
  });
}

/** A wrapper that calls the original, then shows its result to `exit` (guarded) and returns it. */
export function after(
  g: Guard,
  original: Fn,
  exit: (self: unknown, args: IArguments, result: unknown) => void,
): Fn {
  return around(g, original, (o, self, args) => {
    const result = Reflect.apply(o, self, args);
    try {
      exit(self, args, result);
    } catch (error) {
      fail(g, error);
    }
    return result;
  });
}

type Target = Record<PropertyKey, unknown>;

/** The patches of one agent, undone together. */
export class Patches {
  private readonly undo: (() => void)[] = [];

  /**
   * Replaces the function `target[name]` with `make(original)`. False (and nothing changed) when it
   * is not a function, is already a tapwire wrapper, or cannot be replaced.
   */
  wrap(target: object, name: PropertyKey, make: (original: Fn) => Fn): boolean {
    const t = target as Target;
    const original = t[name];
    if (typeof original !== 'function' || originalOf(original) !== undefined) return false;
    const wrapper = make(original as Fn);
    if (originalOf(wrapper) === undefined) mark(wrapper, original as Fn);
    return this.set(target, name, wrapper);
  }

  /**
   * Sets `target[name]` to `value` (a wrapper, a Proxy, a getter-less value) and remembers how to
   * put the old property back. False when the runtime refuses the new value.
   */
  set(target: object, name: PropertyKey, value: unknown): boolean {
    const t = target as Target;
    const own = Object.getOwnPropertyDescriptor(target, name);
    try {
      if (own === undefined || own.writable === true) t[name] = value;
      if (t[name] !== value) {
        Object.defineProperty(target, name, {
          value,
          writable: own?.writable ?? true,
          enumerable: own?.enumerable ?? false,
          configurable: own?.configurable ?? true,
        });
      }
    } catch {
      return false;
    }
    if (t[name] !== value) return false;
    this.undo.push(() => {
      if (t[name] !== value) return; // replaced after us: the new owner's now
      if (own === undefined) delete t[name];
      else if (own.writable === true && 'value' in own) t[name] = own.value;
      else Object.defineProperty(target, name, own);
    });
    return true;
  }

  /** Defines an accessor (a getter a runtime lacks) and removes it again on restore. */
  defineGetter(target: object, name: PropertyKey, get: () => unknown): boolean {
    if (name in target) return false;
    Object.defineProperty(target, name, { configurable: true, get });
    this.undo.push(() => {
      const d = Object.getOwnPropertyDescriptor(target, name);
      if (d?.get === get) delete (target as Target)[name];
    });
    return true;
  }

  /** Anything else to take back on restore (a loader hook, a timer, a subscription). */
  onRestore(fn: () => void): void {
    this.undo.push(fn);
  }

  /** Undoes everything, newest first. Never throws: one failing undo does not stop the others. */
  restore(): void {
    for (const undo of this.undo.splice(0).reverse()) {
      try {
        undo();
      } catch {
        // A property the app made read-only since: nothing more can be done for it.
      }
    }
  }
}
