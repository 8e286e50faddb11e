// Patching CommonJS drivers (pg, better-sqlite3) the moment the app loads them, so an app that
// never loads one pays nothing for it.
//
// Measured on Node 24.21 and Bun 1.4.5 (see tests/db-sql.test.ts for the apps that prove it):
// - Node: `Module._load` sees CommonJS requires (request 'pg') and ESM imports of a CommonJS
//   package alike (request = the resolved file, '/…/node_modules/pg/lib/index.js'), and returns
//   the exports object both the require and the import hand the app. Patching the classes on it
//   (prototypes) reaches every copy the app holds. One string compare per module load.
// - Bun: a CommonJS app's require goes through `Module._extensions['.js']` (not `_load`); an ESM
//   app's import goes through neither reliably. So on Bun a package the app can resolve from its
//   entry point is also required from here once the app starts (Bun shares one CommonJS cache
//   between require and import), which costs its load time only for apps that depend on it.
import { existsSync, readFileSync } from 'node:fs';
import Module from 'node:module';
import { dirname, join, resolve } from 'node:path';

export type Patch = (exports: unknown, file: string) => void;

interface Entry {
  /** Package name as a bare request: 'pg'. */
  request: string;
  /** The package's main file as its path ends: '/pg/lib/index.js'. */
  suffix: string;
  patch: Patch;
}

type LoadFn = (request: string, parent: unknown, isMain: boolean) => unknown;
type ExtFn = (module: { exports: unknown }, filename: string) => unknown;
interface ModuleInternals {
  _load: LoadFn;
  _extensions: Record<string, ExtFn>;
  _resolveFilename(request: string, parent: unknown): string;
}

const M = Module as unknown as ModuleInternals;
const entries: Entry[] = [];
const seen = new WeakSet<object>();
let originalLoad: LoadFn | undefined;
let originalJs: ExtFn | undefined;

function apply(entry: Entry, exports: unknown, file: string): void {
  if ((typeof exports !== 'object' && typeof exports !== 'function') || exports === null) return;
  if (seen.has(exports)) return;
  seen.add(exports);
  entry.patch(exports, file);
}

function bySuffix(file: string): Entry | undefined {
  for (let i = 0; i < entries.length; i++) {
    if (file.endsWith(entries[i]!.suffix)) return entries[i];
  }
  return undefined;
}

function tapwireLoad(this: unknown, request: string, parent: unknown, _isMain: boolean): unknown {
  // biome-ignore lint/complexity/noArguments: the caller's exact arguments, without a rest array per call
  const exports = originalLoad!.apply(this, arguments as unknown as [string, unknown, boolean]);
  if (typeof request !== 'string') return exports;
  try {
    if (request.charCodeAt(0) === 47 || request.startsWith('file:')) {
      const e = bySuffix(request);
      if (e !== undefined) apply(e, exports, request);
    } else {
      for (let i = 0; i < entries.length; i++) {
        const e = entries[i]!;
        if (e.request === request) apply(e, exports, M._resolveFilename(request, parent));
      }
    }
  } catch {
    // A patch guards itself (../safe.ts); resolving again cannot fail after a load that worked.
  }
  return exports;
}

function tapwireJs(this: unknown, module: { exports: unknown }, filename: string): unknown {
  // biome-ignore lint/complexity/noArguments: the caller's exact arguments, without a rest array per call
  const out = originalJs!.apply(this, arguments as unknown as [{ exports: unknown }, string]);
  try {
    const e = bySuffix(filename);
    if (e !== undefined) apply(e, module.exports, filename);
  } catch {
    // as above
  }
  return out;
}

/** Patch `request`'s exports when the app loads it. Idempotent per exports object. */
export function onLoad(request: string, suffix: string, patch: Patch): void {
  entries.push({ request, suffix, patch });
  if (originalLoad === undefined && typeof M._load === 'function') {
    originalLoad = M._load;
    M._load = tapwireLoad;
  }
  const bun = typeof (globalThis as { Bun?: unknown }).Bun === 'object';
  if (bun) {
    if (originalJs === undefined && typeof M._extensions?.['.js'] === 'function') {
      originalJs = M._extensions['.js'];
      M._extensions['.js'] = tapwireJs;
    }
    preloadForBun(entries[entries.length - 1]!);
  }
}

/**
 * The runtime dependencies the app declares: `dependencies`, `optionalDependencies` and
 * `peerDependencies` of the package.json nearest to its entry point (read once).
 */
let declared: Set<string> | undefined;
function appDependencies(): Set<string> {
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

/**
 * Bun: the package as the app would resolve it, loaded and patched now (see the header) — only
 * when the app declares it as a dependency in its package.json, so an app that does not use the
 * driver never pays its load time (a driver that merely sits in a parent node_modules, as in a
 * monorepo, cost a Bun.serve hello-world ~100 ms of start-up before this check). Found by walking
 * up to node_modules/<name> with existsSync, not with Bun's resolver: a failed resolve there can
 * start Bun's auto-install (a registry lookup, measured 50+ ms) when the app has no node_modules
 * — tapwire must never make an app reach for the network.
 */
function preloadForBun(entry: Entry): void {
  if (!appDependencies().has(entry.request.split('/')[0]!)) return;
  const main = process.argv[1];
  const seen = new Set<string>();
  for (const from of [main ? dirname(resolve(main)) : undefined, process.cwd()]) {
    for (let dir = from; dir !== undefined && !seen.has(dir); ) {
      seen.add(dir);
      const pkgDir = join(dir, 'node_modules', entry.request);
      if (existsSync(join(pkgDir, 'package.json'))) {
        let file: string;
        try {
          file = Module.createRequire(join(dir, 'x.js')).resolve(entry.request);
        } catch {
          return;
        }
        const exports = Module.createRequire(join(dirname(file), 'x.js'))(file) as unknown;
        apply(entry, exports, file);
        return;
      }
      const parent = dirname(dir);
      dir = parent === dir ? undefined : parent;
    }
  }
}

/** Restores Module's functions if nothing replaced them after us (tests, unload). */
export function restoreLoad(): void {
  if (originalLoad !== undefined && M._load === tapwireLoad) M._load = originalLoad;
  if (originalJs !== undefined && M._extensions['.js'] === tapwireJs) M._extensions['.js'] = originalJs;
  originalLoad = undefined;
  originalJs = undefined;
  entries.length = 0;
}
