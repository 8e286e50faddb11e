// Patching CommonJS packages (pg, better-sqlite3, mysql2's pool) the moment the app loads them, so
// an app that never loads one pays nothing for it.
//
// Measured on Node 24.21 and Bun 1.4.5 (see tests/db-sql.test.ts for the apps that prove it):
// - Node: `Module._load` sees CommonJS requires (request 'pg') and ESM imports of a CommonJS
//   package alike (request = the resolved file, '/…/node_modules/pg/lib/index.js'), and returns
//   the exports object both the require and the import hand the app. Patching the classes on it
//   (prototypes) reaches every copy the app holds. One string compare per module load.
// - Bun: a CommonJS app's require goes through `Module._extensions['.js']` (not `_load`); an ESM
//   app's import goes through neither reliably. So on Bun a package the app declares and can
//   resolve from its entry point is also required from here once the app starts (Bun shares one
//   CommonJS cache between require and import), which costs its load time only for apps that
//   depend on it.
import { existsSync, readFileSync } from 'node:fs';
import Module from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fail, type Guard } from '../core/guard.js';
import { around, type Fn, type Patches } from '../core/patch.js';
import type { Runtime } from '../core/runtime.js';

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
  private readonly seen = new WeakSet<object>();
  private hooked = false;

  constructor(
    private readonly patches: Patches,
    private readonly runtime: Runtime,
    /** Guards the wrappers themselves (a failing resolve); each patch runs under its hook's guard. */
    private readonly guard: Guard,
  ) {}

  /** Run `patch` on `request`'s exports when the app loads it, once per exports object. */
  on(request: string, suffix: string, patch: Patch, guard: Guard): void {
    const entry = { request, suffix, patch, guard };
    this.entries.push(entry);
    this.hook();
    if (this.runtime === 'bun') this.preloadForBun(entry);
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
   * Bun: the package as the app would resolve it, loaded and patched now (see the header) — only
   * when the app declares it as a dependency in its package.json, so an app that does not use the
   * driver never pays its load time (a driver that merely sits in a parent node_modules, as in a
   * monorepo, cost a Bun.serve hello-world ~100 ms of start-up before this check). Found by
   * walking up to node_modules/<name> with existsSync, not with Bun's resolver: a failed resolve
   * there can start Bun's auto-install (a registry lookup, measured 50+ ms) when the app has no
   * node_modules — tapwire must never make an app reach for the network.
   */
  private preloadForBun(entry: Entry): void {
    if (!appDependencies().has(entry.request.split('/')[0]!)) return;
    const main = process.argv[1];
    const visited = new Set<string>();
    for (const from of [main ? dirname(resolve(main)) : undefined, process.cwd()]) {
      for (let dir = from; dir !== undefined && !visited.has(dir); ) {
        visited.add(dir);
        if (existsSync(join(dir, 'node_modules', entry.request, 'package.json'))) {
          let file: string;
          try {
            file = Module.createRequire(join(dir, 'x.js')).resolve(entry.request);
          } catch {
            return;
          }
          // A package that fails to load is the hook's failure (logged once), never the app's:
          // the app's own require of it fails the same way, in the app's code.
          try {
            this.apply(entry, Module.createRequire(join(dirname(file), 'x.js'))(file) as unknown, file);
          } catch (error) {
            fail(entry.guard, error);
          }
          return;
        }
        const parent = dirname(dir);
        dir = parent === dir ? undefined : parent;
      }
    }
  }
}

let declared: Set<string> | undefined;

/**
 * The runtime dependencies the app declares: `dependencies`, `optionalDependencies` and
 * `peerDependencies` of the package.json nearest to its entry point (read once).
 */
export function appDependencies(): ReadonlySet<string> {
  if (declared !== undefined) return declared;
  declared = new Set();
  const main = process.argv[1];
  for (let dir = main ? dirname(resolve(main)) : process.cwd(); ; ) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) {
      try {
        const pkg = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
        for (const field of ['dependencies', 'optionalDependencies', 'peerDependencies']) {
          const deps = pkg[field];
          if (deps !== null && typeof deps === 'object')
            for (const name of Object.keys(deps)) declared.add(name);
        }
      } catch {
        // an unreadable package.json declares nothing
      }
      return declared;
    }
    const parent = dirname(dir);
    if (parent === dir) return declared;
    dir = parent;
  }
}
