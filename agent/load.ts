// Patching CommonJS packages (pg, better-sqlite3, mysql2's pool) the moment the app loads them, so
// an app that never loads one pays nothing for it.
//
// Measured on Node 24.21 and Bun 1.4.5 (see tests/db-sql.test.ts for the apps that prove it):
// - Node: `Module._load` sees CommonJS requires (request 'pg') and ESM imports of a CommonJS
//   package alike (request = the resolved file, '/…/node_modules/pg/lib/index.js'), and returns
//   the exports object both the require and the import hand the app. Patching the classes on it
//   (prototypes) reaches every copy the app holds. One string compare per module load.
// - Bun: a CommonJS app's require goes through `Module._extensions['.js']` (not `_load`); an ESM
//   app's import goes through neither. What sees both is a runtime plugin's onLoad (Bun.plugin), for
//   the package's main file, registered only for packages the app declares (below). onLoad must
//   hand Bun the module's source, and CommonJS source handed back that way is evaluated as ESM: so
//   the file is evaluated and patched here and Bun is given a module that re-exports it
//   (./bun-module.ts). A main file that is an ES module is handed to Bun unchanged (not patched).
//   Nothing is loaded before the app loads it: requiring each declared package at start cost a Bun app
//   ~100 ms (express 57, mysql2 30, pg 10, measured on Bun 1.4.5) whether it used them or not.
import Module from 'node:module';
import { fail, type Guard } from '../core/guard.js';
import { around, type Fn, type Patches } from '../core/patch.js';
import type { Runtime } from '../core/runtime.js';
import { bunModule } from './bun-module.js';
import {
  appDependencies,
  type BunLoad,
  CHANNEL_BUILTINS,
  CHANNEL_BUILTINS_RESOLVED,
  kBunLoad,
  MAIN_FILE_FILTERS,
  PACKAGE_MAINS,
  type PackageRequest,
} from './packages.js';

export { appDependencies };

export type Patch = (exports: unknown, file: string) => void;

interface Entry {
  /** Package name as a bare request: 'pg'. */
  request: string;
  /** The package's main file as its path ends: '/pg/lib/index.js'. */
  suffix: string;
  patch: Patch;
  guard: Guard;
}

interface ModuleInternals {
  prototype: { require: Fn };
  _load: Fn;
  _extensions: Record<string, Fn>;
  _resolveFilename(request: string, parent: unknown): string;
}

const M = Module as unknown as ModuleInternals;

/** The packages hooks wait for, and the one Module._load (and, on Bun, `.js` loader) wrapper. */
export class ModuleLoads {
  private readonly entries: Entry[] = [];
  private readonly builtins: Entry[] = [];
  private readonly seen = new WeakSet<object>();
  private hooked = false;
  private builtinsHooked = false;
  /** Bun: watchChannelModules()'s `open`. */
  private channelModules: (() => void) | undefined;

  /** Bun: other files handed over through kBunLoad (Hono's dispatcher), by filter. */
  private readonly bunHandlers: [RegExp, BunLoad][] = [];

  constructor(
    private readonly patches: Patches,
    private readonly runtime: Runtime,
    /** Guards the wrappers themselves (a failing resolve); each patch runs under its hook's guard. */
    private readonly guard: Guard,
  ) {
    // The plugins of a deferred start (./defer-bun.ts) hand their files over here. It stays after a
    // stop: those plugins cannot be removed, and the files must still load (unpatched, guards off).
    if (runtime === 'bun') {
      (globalThis as { [kBunLoad]?: BunLoad })[kBunLoad] = (path) => this.bunLoad(path);
    }
  }

  /** Bun: `load` hands over the files `filter` matches when a deferred start's plugin asks (./defer-bun.ts). */
  bunHandler(filter: RegExp, load: BunLoad): void {
    this.bunHandlers.push([filter, load]);
  }

  /** A file a deferred start's plugin was asked for: patched as its own plugin would, or evaluated as it is. */
  private bunLoad(path: string): ReturnType<BunLoad> {
    const entry = this.bySuffix(path);
    if (entry !== undefined && appDependencies().has(entry.request.split('/')[0]!)) {
      return this.bunModule(entry, path);
    }
    for (const [filter, load] of this.bunHandlers) if (filter.test(path)) return load(path);
    return bunModule(path);
  }

  /** Run `patch` on `request`'s exports when the app loads it, once per exports object. */
  on(request: PackageRequest, patch: Patch, guard: Guard): void {
    const entry = { request, suffix: PACKAGE_MAINS[request], patch, guard };
    this.entries.push(entry);
    this.hook();
    if (this.runtime === 'bun') this.onBunLoad(entry);
  }

  /**
   * Run `patch` on the exports of the built-in module `id` ('bun:sqlite', 'node:sqlite') when the app
   * first takes it, and pass the module through unchanged. Node: at once (no module hook sees a
   * built-in's ESM import; nothing when this Node has no such module). Bun: not loaded here. A runtime
   * plugin's onResolve sees every import and require() of a built-in named with its prefix, by its
   * namespace (`bun:sqlite` is path `sqlite` in namespace `bun`), each time a module asks for it,
   * before the module is handed over (a require() of `http`, unprefixed, it does not see:
   * watchChannelModules()); process.getBuiltinModule() is wrapped for the apps that take it that way (measured
   * on Bun 1.4.5: ESM, CommonJS, dynamic import, and a module loaded by another preload before).
   */
  builtin(id: string, patch: Patch, guard: Guard): void {
    const entry = { request: id, suffix: id, patch, guard };
    const plugin = (globalThis as { Bun?: { plugin?: BunPluginFn } }).Bun?.plugin;
    if (this.runtime !== 'bun' || typeof plugin !== 'function') {
      let exports: unknown;
      try {
        exports = process.getBuiltinModule(id);
      } catch {
        return; // a runtime without it
      }
      if (exports !== undefined) this.apply(entry, exports, id);
      return;
    }
    this.builtins.push(entry);
    this.hookBuiltins();
    const at = id.indexOf(':');
    const filter = new RegExp(`^${id.slice(at + 1).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`);
    plugin({
      name: `tapwire ${id}`,
      setup: (build) =>
        build.onResolve({ filter, namespace: id.slice(0, at) }, () => {
          // Loaded through the wrapper below, which patches it; Bun then resolves it as it would.
          try {
            process.getBuiltinModule(id);
          } catch (error) {
            fail(guard, error);
          }
          return undefined;
        }),
    });
  }

  /**
   * Bun: `open` runs (each time) when the app takes a built-in through which something can publish on
   * a diagnostics channel tapwire subscribes to: node:http, node:https, node:diagnostics_channel
   * (core/channels.ts, holdChannels()). Seen before the module is handed over, on each of the ways
   * to take it: an import (a runtime plugin's onResolve), a require() (Module.prototype.require: Bun
   * 1.4.5's plugins see a require of `node:http` but not one of `http`) and
   * process.getBuiltinModule().
   */
  watchChannelModules(open: () => void): void {
    const plugin = (globalThis as { Bun?: { plugin?: BunPluginFn } }).Bun?.plugin;
    if (typeof plugin !== 'function') return;
    const g = this.guard;
    this.channelModules = open;
    this.hookBuiltins();
    this.patches.wrap(M.prototype, 'require', (original) =>
      around(g, original, (req, self, args) => {
        if (CHANNEL_BUILTINS.has(args[0] as string)) {
          try {
            open();
          } catch (error) {
            fail(g, error);
          }
        }
        return Reflect.apply(req, self, args);
      }),
    );
    plugin({
      name: 'tapwire diagnostics channels',
      setup: (build) =>
        build.onResolve({ filter: CHANNEL_BUILTINS_RESOLVED, namespace: 'node' }, () => {
          if (!g.enabled) return undefined;
          try {
            open();
          } catch (error) {
            fail(g, error);
          }
          return undefined;
        }),
    });
  }

  /** Bun: process.getBuiltinModule() patches the built-ins builtin() waits for as it returns them. */
  private hookBuiltins(): void {
    if (this.builtinsHooked) return;
    this.builtinsHooked = true;
    const g = this.guard;
    this.patches.wrap(process, 'getBuiltinModule', (original) =>
      around(g, original, (get, self, args) => {
        // Before the module is handed over, as the plugin's onResolve: its first message comes later.
        if (this.channelModules !== undefined && CHANNEL_BUILTINS.has(args[0] as string)) {
          try {
            this.channelModules();
          } catch (error) {
            fail(g, error);
          }
        }
        const exports = Reflect.apply(get, self, args);
        try {
          for (let i = 0; i < this.builtins.length; i++) {
            const e = this.builtins[i]!;
            if (e.request === args[0]) this.apply(e, exports, e.request);
          }
        } catch (error) {
          fail(g, error);
        }
        return exports;
      }),
    );
  }

  /** Whether the app declares `name` as a dependency (see appDependencies below; read once). */
  declares(name: string): boolean {
    return appDependencies().has(name);
  }

  private apply(entry: Entry, exports: unknown, file: string): void {
    if ((typeof exports !== 'object' && typeof exports !== 'function') || exports === null) return;
    if (this.seen.has(exports) || !entry.guard.enabled) return;
    this.seen.add(exports);
    try {
      entry.patch(exports, file);
    } catch (error) {
      fail(entry.guard, error);
    }
  }

  private bySuffix(file: string): Entry | undefined {
    for (let i = 0; i < this.entries.length; i++) {
      if (file.endsWith(this.entries[i]!.suffix)) return this.entries[i];
    }
    return undefined;
  }

  private loaded(request: unknown, parent: unknown, exports: unknown): void {
    if (typeof request !== 'string') return;
    if (request.charCodeAt(0) === 47 || request.startsWith('file:')) {
      const e = this.bySuffix(request);
      if (e !== undefined) this.apply(e, exports, request);
      return;
    }
    for (let i = 0; i < this.entries.length; i++) {
      const e = this.entries[i]!;
      if (e.request === request) this.apply(e, exports, M._resolveFilename(request, parent));
    }
  }

  private hook(): void {
    if (this.hooked) return;
    this.hooked = true;
    const g = this.guard;
    this.patches.wrap(Module, '_load', (original) =>
      around(g, original, (load, self, args) => {
        const exports = Reflect.apply(load, self, args);
        try {
          this.loaded(args[0], args[1], exports);
        } catch (error) {
          fail(g, error);
        }
        return exports;
      }),
    );
    if (this.runtime !== 'bun') return;
    this.patches.wrap(M._extensions, '.js', (original) =>
      around(g, original, (compile, self, args) => {
        const out = Reflect.apply(compile, self, args);
        try {
          const e = this.bySuffix(args[1] as string);
          if (e !== undefined) this.apply(e, (args[0] as { exports: unknown }).exports, args[1] as string);
        } catch (error) {
          fail(g, error);
        }
        return out;
      }),
    );
  }

  /**
   * Bun: `entry`'s main file is patched when the app loads it (see the header) — only when the app
   * declares the package in its package.json, as before, so a package a dependency loads on its own
   * is left as it was. One loaded before tapwire started is patched now.
   */
  private onBunLoad(entry: Entry): void {
    if (!appDependencies().has(entry.request.split('/')[0]!)) return;
    const cache = (
      Module as unknown as { _cache: Record<string, { loaded?: boolean; exports: unknown } | undefined> }
    )._cache;
    for (const file of Object.keys(cache)) {
      const loaded = cache[file];
      if (file.endsWith(entry.suffix) && loaded?.loaded) this.apply(entry, loaded.exports, file);
    }
    const plugin = (globalThis as { Bun?: { plugin?: BunPluginFn } }).Bun?.plugin;
    if (typeof plugin !== 'function') return;
    const filter = MAIN_FILE_FILTERS[entry.request as PackageRequest];
    plugin({
      name: `tapwire ${entry.request}`,
      setup: (build) => build.onLoad({ filter }, (args) => this.bunModule(entry, args.path)),
    });
  }

  /** The ESM module Bun is handed for `file`, the CommonJS file evaluated (once) and patched here (with an entry). */
  private bunModule(entry: Entry, file: string) {
    return bunModule(file, (exports) => this.apply(entry, exports, file));
  }
}

type BunPluginFn = (plugin: {
  name: string;
  setup(build: {
    onLoad(
      options: { filter: RegExp },
      callback: (args: { path: string }) => { contents: string; loader: string },
    ): void;
    onResolve(options: { filter: RegExp; namespace: string }, callback: () => undefined): void;
  }): void;
}) => unknown;
