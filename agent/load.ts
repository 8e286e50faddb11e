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
//   hand Bun the module's source, and CommonJS source handed back that way is evaluated as ESM
//   (oven-sh/bun#39786): so the file is evaluated here instead, by Bun's own Module#_compile into
//   the Module that require() registered (or a new one in require.cache for an import: a later
//   require() finds it there), patched, and Bun is given a small ESM module that re-exports it as
//   Bun's own interop would (default = module.exports, or its `default` under __esModule; one
//   export per own property; for a require(), "module.exports", so that it returns the same
//   object). A main file that is an ES module is handed to Bun unchanged (not patched). Nothing is
//   loaded before the app loads it: requiring each declared package at start cost a Bun app
//   ~100 ms (express 57, mysql2 30, pg 10, measured on Bun 1.4.5) whether it used them or not.
import { readFileSync } from 'node:fs';
import Module from 'node:module';
import { dirname } from 'node:path';
import { fail, type Guard } from '../core/guard.js';
import { after, around, type Fn, type Patches } from '../core/patch.js';
import type { Runtime } from '../core/runtime.js';
import {
  appDependencies,
  type BunLoad,
  kBunLoad,
  mainFileFilter,
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
    const cache = (Module as unknown as { _cache: Record<string, BunModule | undefined> })._cache;
    const entry = this.bySuffix(path);
    if (entry !== undefined && appDependencies().has(entry.request.split('/')[0]!)) {
      return this.bunModule(entry, path, cache);
    }
    for (const [filter, load] of this.bunHandlers) if (filter.test(path)) return load(path);
    return this.bunModule(undefined, path, cache);
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
   * plugin's onResolve sees every import and require() of a built-in, by its namespace (`bun:sqlite`
   * is path `sqlite` in namespace `bun`), each time a module asks for it, before the module is
   * handed over; process.getBuiltinModule() is wrapped for the apps that take it that way (measured
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
    if (this.builtins.length === 1) this.hookBuiltins();
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

  /** Bun: process.getBuiltinModule() patches the built-ins builtin() waits for as it returns them. */
  private hookBuiltins(): void {
    const g = this.guard;
    this.patches.wrap(process, 'getBuiltinModule', (original) =>
      after(g, original, (_self, args, exports) => {
        for (let i = 0; i < this.builtins.length; i++) {
          const e = this.builtins[i]!;
          if (e.request === args[0]) this.apply(e, exports, e.request);
        }
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
    const cache = (Module as unknown as { _cache: Record<string, BunModule | undefined> })._cache;
    for (const file of Object.keys(cache)) {
      const loaded = cache[file];
      if (file.endsWith(entry.suffix) && loaded?.loaded) this.apply(entry, loaded.exports, file);
    }
    const plugin = (globalThis as { Bun?: { plugin?: BunPluginFn } }).Bun?.plugin;
    if (typeof plugin !== 'function') return;
    const filter = mainFileFilter(entry.suffix);
    plugin({
      name: `tapwire ${entry.request}`,
      setup: (build) => build.onLoad({ filter }, (args) => this.bunModule(entry, args.path, cache)),
    });
  }

  /** The ESM module Bun is handed for `file`, the CommonJS file evaluated (once) and patched here (with an entry). */
  private bunModule(entry: Entry | undefined, file: string, cache: Record<string, BunModule | undefined>) {
    return bunModule(
      file,
      cache,
      entry === undefined ? undefined : (exports) => this.apply(entry, exports, file),
    );
  }
}

/**
 * The ESM module Bun is handed for `file`: a CommonJS file evaluated here (once) by Bun's own
 * Module#_compile, shown to `patched`, and re-exported; an ES module as it is.
 */
function bunModule(
  file: string,
  cache: Record<string, BunModule | undefined>,
  patched?: (exports: unknown) => void,
): { contents: string; loader: string } {
  let mod = cache[file];
  // require() registers its Module before asking the plugin; an import does not.
  const required = mod !== undefined && !mod.loaded;
  if (mod === undefined || (required && !bunCompiling.has(file))) {
    const source = readFileSync(file, 'utf8');
    // A main file that is an ES module (a later version of the package) is Bun's to load, as it
    // is: this hook then does not engage, and the app gets the package unchanged.
    if (ESM_SYNTAX.test(source)) return { contents: source, loader: 'js' };
    if (mod === undefined) {
      mod = new (Module as unknown as new (id: string, parent: null) => BunModule)(file, null);
      mod.filename = file;
      mod.paths = (Module as unknown as { _nodeModulePaths(dir: string): string[] })._nodeModulePaths(
        dirname(file),
      );
      cache[file] = mod;
    }
    bunCompiling.add(file);
    try {
      // The package's own errors reach the app's import or require unchanged, as without tapwire.
      mod._compile(source, file);
    } catch (error) {
      delete cache[file];
      throw error;
    } finally {
      bunCompiling.delete(file);
    }
    mod.loaded = true;
    patched?.(mod.exports);
  }
  return { contents: reexport(file, mod.exports, required), loader: 'js' };
}

// Bun: until an agent's ModuleLoads hands them over patched, the files a deferred start's plugins
// ask for (./defer-bun.ts) are handed over as they are: set when this chunk loads, so that they
// load even when the agent's start then fails or the agent is off.
if (process.versions.bun !== undefined) {
  (globalThis as { [kBunLoad]?: BunLoad })[kBunLoad] ??= (path) =>
    bunModule(path, (Module as unknown as { _cache: Record<string, BunModule | undefined> })._cache);
}

/** A line that starts an import or export declaration: the file is an ES module. */
const ESM_SYNTAX =
  /^[ \t]*(?:import\s*[\w${*'"]|export\s*(?:[{*]|default\b|const\b|let\b|var\b|function\b|class\b|async\b))/m;

interface BunModule {
  exports: unknown;
  loaded: boolean;
  filename: string;
  paths: string[];
  _compile(source: string, file: string): void;
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

const bunCompiling = new Set<string>();
/** Where the re-exporting modules find what they re-export, by file. */
const kBunExports = Symbol.for('tapwire.bun.exports');
const bunGlobals = globalThis as { [kBunExports]?: Map<string, unknown> };
bunGlobals[kBunExports] ??= new Map();
const bunExports = bunGlobals[kBunExports];

/**
 * An ESM module that exports what Bun's own interop would for a CommonJS module with these exports;
 * for a require(), "module.exports" too, which is what require() of an ES module returns.
 */
function reexport(file: string, exports: unknown, required: boolean): string {
  bunExports.set(file, exports);
  const key = JSON.stringify(file);
  const lines = [
    `const m = globalThis[Symbol.for('tapwire.bun.exports')].get(${key});`,
    `export default m !== null && typeof m === 'object' && m.__esModule ? m.default : m;`,
  ];
  if (required) lines.push(`export { m as "module.exports" };`);
  if ((typeof exports === 'object' || typeof exports === 'function') && exports !== null) {
    // Bun's own namespace of a CommonJS module: every own property name, non-enumerable ones too
    // (a function's length, name and prototype), but not the __esModule mark that is set.
    const esModule = Boolean((exports as { __esModule?: unknown }).__esModule);
    let i = 0;
    for (const name of Object.getOwnPropertyNames(exports)) {
      if (name === 'default' || name === 'module.exports' || (name === '__esModule' && esModule)) continue;
      lines.push(`const e${i} = m[${JSON.stringify(name)}];`, `export { e${i} as ${JSON.stringify(name)} };`);
      i++;
    }
  }
  return `${lines.join('\n')}\n`;
}
