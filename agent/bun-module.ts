// Bun: the module a runtime plugin's onLoad hands Bun for a package's main file. A CommonJS file
// is evaluated here, once, by Bun's own Module#_compile into the Module that require() registered
// (or a new one in require.cache for an import: a later require() finds it there), shown to the
// caller (./load.ts patches it), and Bun is given a small ES module that re-exports it as Bun's own
// interop would. CommonJS source handed back as it is would be evaluated as an ES module
// (oven-sh/bun#39786: `import pg from 'pg'` fails with "Missing 'default' export", measured on Bun
// 1.4.5). An ES module is handed back as it is.
//
// Imported by the agent's chunk (./load.ts) and by ./defer-bun.ts, a bundle of its own that hands
// a file over unpatched when the agent's code failed to load or the agent is off: each holds its
// copy of this code, and the state both need (the files being compiled, the exports re-exported)
// lives in global slots, so either copy finds what the other did.
import { readFileSync } from 'node:fs';
import { dirname } from 'node:path';

interface BunModule {
  exports: unknown;
  loaded: boolean;
  filename: string;
  paths: string[];
  _compile(source: string, file: string): void;
}

/** A line that starts an import or export declaration: the file is an ES module. */
const ESM_SYNTAX =
  /^[ \t]*(?:import\s*[\w${*'"]|export\s*(?:[{*]|default\b|const\b|let\b|var\b|function\b|class\b|async\b))/m;

/** Files being compiled now: a require() of one from inside its own evaluation gets the Module as it is. */
const kCompiling = Symbol.for('tapwire.bun.compiling');
/** Where the re-exporting modules find what they re-export, by file. */
const kBunExports = Symbol.for('tapwire.bun.exports');
const slots = globalThis as { [kCompiling]?: Set<string>; [kBunExports]?: Map<string, unknown> };

/** The shared state, made by the first copy that needs it (on Bun only). */
function shared(): { compiling: Set<string>; exports: Map<string, unknown> } {
  slots[kCompiling] ??= new Set();
  slots[kBunExports] ??= new Map();
  return { compiling: slots[kCompiling], exports: slots[kBunExports] };
}

/**
 * The ES module Bun is handed for `file`: a CommonJS file evaluated here (once) by Bun's own
 * Module#_compile, shown to `patched`, and re-exported; an ES module as it is.
 */
export function bunModule(
  file: string,
  patched?: (exports: unknown) => void,
): { contents: string; loader: string } {
  // Taken here, not imported: ./defer-bun.ts loads this file in every Bun process, which seldom calls it.
  const Module = process.getBuiltinModule('node:module') as unknown as {
    _cache: Record<string, BunModule | undefined>;
    _nodeModulePaths(dir: string): string[];
    new (id: string, parent: null): BunModule;
  };
  const cache = Module._cache;
  const { compiling } = shared();
  let mod = cache[file];
  // require() registers its Module before asking the plugin; an import does not.
  const required = mod !== undefined && !mod.loaded;
  if (mod === undefined || (required && !compiling.has(file))) {
    const source = readFileSync(file, 'utf8');
    // A main file that is an ES module (a later version of the package) is Bun's to load, as it
    // is: this hook then does not engage, and the app gets the package unchanged.
    if (ESM_SYNTAX.test(source)) return { contents: source, loader: 'js' };
    if (mod === undefined) {
      mod = new Module(file, null);
      mod.filename = file;
      mod.paths = Module._nodeModulePaths(dirname(file));
      cache[file] = mod;
    }
    compiling.add(file);
    try {
      // The package's own errors reach the app's import or require unchanged, as without tapwire.
      mod._compile(source, file);
    } catch (error) {
      delete cache[file];
      throw error;
    } finally {
      compiling.delete(file);
    }
    mod.loaded = true;
    patched?.(mod.exports);
  }
  return { contents: reexport(file, mod.exports, required), loader: 'js' };
}

/**
 * An ES module that exports what Bun's own interop would for a CommonJS module with these exports;
 * for a require(), "module.exports" too, which is what require() of an ES module returns.
 */
function reexport(file: string, exports: unknown, required: boolean): string {
  shared().exports.set(file, exports);
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
