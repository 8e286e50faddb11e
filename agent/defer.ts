// A deferred start: the preload loads none of the agent's code (~300 kB) until the process does
// something the agent measures, or its event loop first turns. A process that only computes and
// ends (`node -e 0`, a CLI, most short children of a test runner or a build) never loads it.
//
// What the agent hooks is reached, before the first turn, only through a few doors; each gets a
// trip-wire that takes itself and every other wire back, loads the agent synchronously (require()
// of the start chunk) and starts it, then lets the call or message through to the agent's hook as
// if it had been there from the start. This file lays the wires both runtimes share (the
// OpenTelemetry API's slot, `currentAgent()`, the first turn) and Node's; ./defer-bun.ts Bun's.
// On Node:
// - Module._load: the app loading a package (a bare request, or a file under node_modules, which is
//   how an ES module's import of a CommonJS package reaches it). Every driver, framework and
//   library tapwire hooks or hears on a channel (pg, mysql2, express, fastify, ioredis, prom-client,
//   next, ...) is loaded this way first.
// - the diagnostics channels published synchronously by a call the app can make before the loop
//   turns: an outbound node:http request, a fetch() (undici), a server's listen (the app's own
//   listen on the metrics port must reach the endpoint). The message that tripped is handed to the
//   agent's listeners (Agent.deliver): a channel does not call a subscriber added while it publishes.
// - node:sqlite's DatabaseSync#prepare and #exec (Node >= 24, as agent/db/node-sqlite.ts): no module
//   hook sees a built-in's import.
// - Hono, where it is installed: its dispatcher is rewritten as its ES module loads
//   (agent/http/frameworks/hono.ts), and an ES module's import of an ES module reaches no
//   Module._load. A `module.registerHooks` resolve hook sees the import of `hono` and starts the
//   agent before Hono's files load (the agent's load hook, registered then, sees them); it costs
//   ~1.5 ms to register (Node 24.21), so only where Hono is installed, and goes at the first trip.
// On both: the OpenTelemetry API's global slot, read by the app's `metrics.getMeter()`
// (core/otel-global.ts); `currentAgent()` and `import { logger } from 'tapwire'` (agent/current.ts).
// An inbound request needs the loop to turn: the agent is there by then.
//
// Started at once instead (register.ts): OTLP or tracing configured (their set-up is asynchronous
// and tracing must see every request from the first); a Node without synchronous require() of ES
// modules (< 22.13, 23.5), or with Hono installed and no usable module hooks; on Bun, see
// ./defer-bun.ts. docs/instrumentation.md (When the agent starts) has the table; bench/startup.mjs
// the cost (docs/benchmarks.md, start-up).
import type { Agent, StartedFrom } from './start.js';

type StartModule = {
  start(from?: StartedFrom): Promise<Agent | undefined>;
  precompiledFailed(dir: string, error: unknown): void;
};

/** The start module, loaded synchronously; on Bun, whether from `tapwire precompile`'s tree. */
export interface Loaded {
  mod: StartModule;
  precompiled?: boolean;
  /** A precompiled tree that failed to load (the plain bundle was loaded instead). */
  failed?: { dir: string; error: unknown };
}

/** What the runtime's own wires are laid with (see deferStart). */
export interface Wiring {
  /** `target[name]` starts the agent first: every call, or those `trigger` names a trigger for. */
  wire(target: object, name: string, trigger: string | ((args: IArguments) => string | undefined)): void;
  startNow(trigger: string): void;
  /** Whether the agent has been started. */
  started(): boolean;
  /** Called, newest first, when a wire trips: each takes its wire back. */
  undo(fn: () => void): void;
  /** Called once the agent has started from a trip, or failed to load (after the undos). */
  afterStart(fn: () => void): void;
}
type Fn = (this: unknown, ...args: unknown[]) => unknown;

// The same symbols as agent/current.ts (a module of the start chunk, which this file must not load).
const kAgent = Symbol.for('tapwire.agent');
const kStartNow = Symbol.for('tapwire.startNow');
// The OpenTelemetry API's global slot, major version 1 (core/otel-global.ts).
const kOtelApi = Symbol.for('opentelemetry.js.api.1');

type Slots = typeof globalThis & {
  [kAgent]?: Agent | null;
  [kStartNow]?: (trigger: string) => void;
  [kOtelApi]?: unknown;
};

/** Whether this process's start can wait (see the header); `env` is the process's environment. */
export function deferrable(env: NodeJS.ProcessEnv): boolean {
  if (process.versions.bun !== undefined) return false;
  const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
  if (!(major >= 24 || (major === 23 && minor >= 5) || (major === 22 && minor >= 13))) return false;
  const only = (value: string | undefined, plain: string) =>
    value === undefined || value.trim() === '' || value.trim().toLowerCase() === plain;
  if (!only(env.OTEL_METRICS_EXPORTER, 'prometheus')) return false;
  if (!only(env.OTEL_TRACES_EXPORTER, 'none') || !only(env.OTEL_LOGS_EXPORTER, 'none')) return false;
  return !honoInstalled() || hooksUsable(major, minor, Number(process.versions.node.split('.')[2]));
}

/**
 * The Node versions whose `module.registerHooks` leaves require() of ES modules working: the same
 * table as registerHooksUsable in agent/http/frameworks/hono.ts (why is said there), which this
 * file cannot import without loading the agent's chunk.
 */
function hooksUsable(major: number, minor: number, patch: number): boolean {
  const atLeast = (m: number, p: number) => minor > m || (minor === m && patch >= p);
  if (major === 22) return atLeast(22, 3);
  if (major === 24) return atLeast(11, 1);
  if (major === 25) return atLeast(1, 0);
  return major >= 26;
}

/**
 * Lays the wires both runtimes share, then `lay`s the runtime's own; `load` returns the start module
 * synchronously. The agent's start is timed from the trip (TAPWIRE_STARTED says what tripped it).
 */
export function deferStart(load: () => Loaded, lay: (wiring: Wiring) => void): void {
  const g = globalThis as Slots;
  const undo: (() => void)[] = [];
  const after: (() => void)[] = [];
  let started = false;

  const startNow = (trigger: string): void => {
    if (started) return;
    started = true;
    for (const u of undo.splice(0).reverse()) u();
    try {
      startAgent(trigger);
    } finally {
      for (const a of after.splice(0)) a();
    }
  };

  const startAgent = (trigger: string): void => {
    const began = process.uptime();
    let loaded: Loaded;
    try {
      loaded = load();
    } catch (error) {
      process.stderr.write(
        `${JSON.stringify({ level: 50, code: 'TAPWIRE_ERR_START', component: 'tapwire', msg: 'tapwire failed to load and is off; the app is unaffected', err: String(error) })}\n`,
      );
      return;
    }
    if (loaded.failed !== undefined) loaded.mod.precompiledFailed(loaded.failed.dir, loaded.failed.error);
    // Synchronous in the cases deferred (see deferrable()): installed when this returns.
    void loaded.mod.start({ began, trigger, precompiled: loaded.precompiled });
  };

  /** `target[name]` starts the agent first: every call, or those `trigger` names a trigger for. */
  const wire = (
    target: object,
    name: string,
    trigger: string | ((args: IArguments) => string | undefined),
  ) => {
    const t = target as Record<string, unknown>;
    const original = t[name];
    if (typeof original !== 'function') return;
    let restored = false;
    const tripping = function (this: unknown) {
      if (!started) {
        // biome-ignore lint/complexity/noArguments: the caller's exact arguments
        const why = typeof trigger === 'string' ? trigger : trigger(arguments);
        if (why !== undefined) startNow(why);
      }
      // After the start: the agent's wrapper, now in the property (or the original when another
      // wrapper had been put over this one and it stayed in place).
      const now = restored ? (t[name] as Fn) : (original as Fn);
      // biome-ignore lint/complexity/noArguments: as called
      return Reflect.apply(now, this, arguments);
    };
    Object.defineProperty(tripping, 'name', { value: (original as Fn).name, configurable: true });
    Object.defineProperty(tripping, 'length', { value: (original as Fn).length, configurable: true });
    // The original's own extras stay reachable (Bun's fetch.preconnect).
    for (const key of Reflect.ownKeys(original)) {
      if (key === 'length' || key === 'name' || key === 'prototype') continue;
      const d = Object.getOwnPropertyDescriptor(original, key);
      if (d !== undefined) Object.defineProperty(tripping, key, d);
    }
    t[name] = tripping;
    undo.push(() => {
      if (t[name] !== tripping) return;
      t[name] = original;
      restored = true;
    });
  };

  if (!Object.hasOwn(g, kOtelApi)) {
    const get = () => {
      startNow('@opentelemetry/api');
      return Object.getOwnPropertyDescriptor(g, kOtelApi)?.get === get ? undefined : g[kOtelApi];
    };
    const set = (value: unknown) => {
      startNow('@opentelemetry/api');
      if (Object.getOwnPropertyDescriptor(g, kOtelApi)?.get !== get) g[kOtelApi] = value;
    };
    Object.defineProperty(g, kOtelApi, { get, set, configurable: true, enumerable: false });
    undo.push(() => {
      if (Object.getOwnPropertyDescriptor(g, kOtelApi)?.get === get) delete g[kOtelApi];
    });
  }

  g[kStartNow] = startNow;
  undo.push(() => {
    delete g[kStartNow];
  });

  // Unref'd: a process that ends before its loop turns neither waits for it nor loads the agent.
  const timer = setTimeout(() => startNow('first turn'), 0);
  timer.unref();
  undo.push(() => clearTimeout(timer));

  lay({
    wire,
    startNow,
    started: () => started,
    undo: (fn) => undo.push(fn),
    afterStart: (fn) => after.push(fn),
  });
}

/** Node's own wires (see the header). */
export function layNodeWires({ wire, startNow, started, undo }: Wiring): void {
  const loader = process.getBuiltinModule('node:module') as unknown as {
    _load: Fn;
    isBuiltin(request: string): boolean;
  };
  wire(loader, '_load', (args) => packageOf(args[0], loader.isBuiltin));

  const dc = process.getBuiltinModule('node:diagnostics_channel');
  for (const name of TRIP_CHANNELS) {
    const onMessage = (message: unknown) => {
      startNow(`channel ${name}`);
      (globalThis as Slots)[kAgent]?.deliver(name, message);
    };
    dc.subscribe(name, onMessage);
    undo(() => dc.unsubscribe(name, onMessage));
  }

  if (Number(process.versions.node.split('.')[0]) >= 24) {
    const sqlite = process.getBuiltinModule('node:sqlite') as
      | { DatabaseSync?: { prototype: object } }
      | undefined;
    const proto = sqlite?.DatabaseSync?.prototype;
    if (proto !== undefined) for (const name of ['prepare', 'exec']) wire(proto, name, 'node:sqlite');
  }

  if (honoInstalled()) {
    const { registerHooks } = loader as unknown as {
      registerHooks(hooks: {
        resolve(specifier: string, context: unknown, next: (s: string, c: unknown) => unknown): unknown;
      }): { deregister(): void };
    };
    const hooks = registerHooks({
      resolve(specifier, context, next) {
        if (!started() && (specifier === 'hono' || specifier.startsWith('hono/'))) startNow('module hono');
        return next(specifier, context);
      },
    });
    undo(() => hooks.deregister());
  }
}

/** The channels a call before the first turn publishes on synchronously (core/channels.ts names them). */
const TRIP_CHANNELS = [
  'http.client.request.created',
  'http.client.request.start',
  'undici:request:create',
  'tracing:net.server.listen:asyncStart',
];

/**
 * `module <name>` when a Module._load request is a package (bare and not a built-in, or a file in
 * node_modules), named as installed: `pg`, `@redis/client`.
 */
function packageOf(request: unknown, isBuiltin: (request: string) => boolean): string | undefined {
  if (typeof request !== 'string' || request === '' || request.charCodeAt(0) === 46 /* . */) return undefined;
  const inModules = /[\\/]node_modules[\\/]((?:@[^\\/]+[\\/])?[^\\/]+)/.exec(request);
  if (inModules !== null) return `module ${inModules[1]!.replace(/\\/g, '/')}`;
  if (/^(?:[\\/]|file:|[A-Za-z]:[\\/])/.test(request)) return undefined; // a file of the app's own
  if (request.startsWith('node:') || isBuiltin(request)) return undefined;
  const scoped = request.startsWith('@');
  return `module ${request.split('/', scoped ? 2 : 1).join('/')}`;
}

/**
 * Whether node_modules/hono is in the app's folder or one above it (or the working directory's),
 * looked up as agent/http/frameworks/hono.ts (honoResolvable) does, with stat calls.
 */
let hono: boolean | undefined;

function honoInstalled(): boolean {
  hono ??= lookForHono();
  return hono;
}

function lookForHono(): boolean {
  const { existsSync } = process.getBuiltinModule('node:fs');
  const { dirname, join, resolve } = process.getBuiltinModule('node:path');
  const entry = process.argv[1];
  for (const from of [entry ? dirname(resolve(entry)) : undefined, process.cwd()]) {
    for (let d = from; d !== undefined; ) {
      if (existsSync(join(d, 'node_modules', 'hono', 'package.json'))) return true;
      const parent = dirname(d);
      d = parent === d ? undefined : parent;
    }
  }
  return false;
}
