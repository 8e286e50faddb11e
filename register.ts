// `node --import tapwire/register app.js` · `bun --preload tapwire/register app.ts`
//
// Node's file of the preload. Bun is given ./register-bun.ts for `tapwire/register` (package.json's
// exports, the `bun` condition); a Bun process that names this file by its path imports that one.
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

if (process.versions.bun !== undefined) {
  // A variable, not a literal, so that esbuild leaves the import to the runtime (a bundle of its own).
  const bunRegister = './register-bun.js';
  await import(bunRegister);
} else {
  const { enableCompileCache } = process.getBuiltinModule('node:module') as {
    enableCompileCache?: () => unknown;
  };
  try {
    enableCompileCache?.();
  } catch {
    // A cache that cannot be opened changes nothing but the time it takes to start.
  }
  if (deferrable(process.env)) {
    // The agent loads when the process first does something it measures (./agent/defer.ts). The
    // string is the start module's; scripts/build.mjs points it at the chunk that holds start().
    const load = () => ({
      mod: process.getBuiltinModule('node:module').createRequire(import.meta.url)('./agent/start.js'),
    });
    deferStart(load, layNodeWires);
  } else {
    // Awaited: start() loads tracing and OTLP on demand (dynamic imports), and Node runs the app
    // only after a preload's top-level await settles.
    const agent = await import('./agent/start.js');
    await agent.start({ began });
  }
}
