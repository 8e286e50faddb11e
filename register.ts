// `node --import tapwire/register app.js` · `bun --preload tapwire/register app.ts`
//
// V8's compile cache (Node >= 22.1) is turned on before the agent's code loads, so that its ~400 kB
// is read from the cache instead of compiled in every process that starts under the preload
// (measured -5 ms of CPU per start on Node 24). It goes where Node puts it by default, the
// system's temporary directory (os.tmpdir()/node-compile-cache), never the app's folder; the
// switch is process-wide, so the app's own modules are cached there too, as with
// NODE_COMPILE_CACHE. NODE_DISABLE_COMPILE_CACHE=1 turns it off. Not on Bun: it has a cache of
// its own, and its enableCompileCache() only creates an empty folder in the temporary directory.
import { deferrable, deferStart, layNodeWires } from './agent/defer.js';

// When the preload began, for the start-up breakdown said at debug level (TAPWIRE_STARTED).
const began = process.uptime();
if (process.versions.bun === undefined) {
  const { enableCompileCache } = process.getBuiltinModule('node:module') as {
    enableCompileCache?: () => unknown;
  };
  try {
    enableCompileCache?.();
  } catch {
    // A cache that cannot be opened changes nothing but the time it takes to start.
  }
}

// On Bun, the deferred start's wires (./agent/defer-bun.ts), a bundle of their own: a variable, not
// a literal, so that esbuild leaves the import to the runtime.
const bunWires = './defer-bun.js';
const bunDefer =
  process.versions.bun === undefined
    ? undefined
    : ((await import(bunWires)) as typeof import('./agent/defer-bun.js'));

if (bunDefer === undefined ? deferrable(process.env) : bunDefer.deferrable(process.env)) {
  // The agent loads when the process first does something it measures (./agent/defer.ts). The
  // string is the start module's; scripts/build.mjs points it at the chunk that holds start().
  if (bunDefer === undefined) {
    const load = () => ({
      mod: process.getBuiltinModule('node:module').createRequire(import.meta.url)('./agent/start.js'),
    });
    deferStart(load, layNodeWires);
  } else {
    bunDefer.deferStart(() => bunDefer.loadStart(import.meta.url, './agent/start.js'), bunDefer.layBunWires);
  }
} else {
  // Awaited: start() loads the Bun hooks and tracing on demand (dynamic imports), and both runtimes
  // run the app only after a preload's top-level await settles. Without it, Bun ran the app first:
  // a fetch made as soon as the app's server listened went out unwrapped (measured on Bun 1.4.5).
  const compiled = await bunTree();
  const agent = compiled.start ?? (await import('./agent/start.js'));
  if (compiled.failed !== undefined) agent.precompiledFailed(compiled.failed.dir, compiled.failed.error);
  await agent.start({
    began,
    precompiled: process.versions.bun === undefined ? undefined : compiled.start !== undefined,
  });
}

// On Bun, the agent compiled to this Bun's bytecode by `tapwire precompile`, if it has been
// (cli/precompile.ts): Bun parses every file it loads in every process and keeps no cache of its
// own, and the bytecode spares that (measured 7–10 ms of `-e 0` on Bun 1.4.5). The tree is found by
// Bun's revision because only the Bun build that wrote the bytecode reads it.
async function bunTree(): Promise<{
  start?: typeof import('./agent/start.js');
  failed?: { dir: string; error: unknown };
}> {
  const bun = (globalThis as { Bun?: { revision: string; file(url: URL): { size: number } } }).Bun;
  if (bun === undefined) return {};
  // A variable, not a literal: esbuild leaves the import to the runtime.
  const tree = `./bun/${bun.revision}/start.js`;
  try {
    return { start: (await import(tree)) as typeof import('./agent/start.js') };
  } catch (error) {
    // None compiled (the usual case) is silent; a tree that fails to load is said once and passed by.
    const url = new URL(tree, import.meta.url);
    return bun.file(url).size > 0
      ? { failed: { dir: decodeURIComponent(new URL('.', url).pathname), error } }
      : {};
  }
}
