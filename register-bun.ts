// `bun --preload tapwire/register` (and BUN_OPTIONS, bunfig.toml's `preload`): Bun's file of the
// preload. package.json's exports hand Bun this file for `tapwire/register` (the `bun` condition)
// and every other runtime register.ts, which imports this one on Bun when the preload is given by
// its path (`--preload …/dist/register.js`). One module with only Bun's code instead of register.js
// and the wires it imported: Bun's load cost is the code it parses, not the files (measured on Bun
// 1.4.5, `bun -e 0` in an app folder, 40 interleaved runs: −1.1 to −1.9 ms per process).
//
// A bundle of its own (scripts/build.mjs), sharing no chunk with the agent: a Bun process that
// never starts the agent loads this file and nothing else of tapwire.

import { deferrable, deferStart, layBunWires, loadStart } from './agent/defer-bun.js';
import type * as StartModule from './agent/start.js';

// When the preload began, for the start-up breakdown said at debug level (TAPWIRE_STARTED).
const began = process.uptime();

// The start module, by the source's name: scripts/build.mjs points it at the chunk that holds
// start(). A variable, not a literal, so that esbuild leaves the import to the runtime.
const startModule = './agent/start.js';

if (deferrable(process.env)) {
  // The agent loads when the process first does something it measures (./agent/defer-bun.ts).
  deferStart(() => loadStart(import.meta.url, startModule), layBunWires);
} else {
  // Awaited: start() loads the Bun hooks and tracing on demand (dynamic imports), and Bun runs the
  // app only after a preload's top-level await settles. Without it, Bun ran the app first: a fetch
  // made as soon as the app's server listened went out unwrapped (measured on Bun 1.4.5).
  const compiled = await bunTree();
  const agent = compiled.start ?? ((await import(startModule)) as typeof StartModule);
  if (compiled.failed !== undefined) agent.precompiledFailed(compiled.failed.dir, compiled.failed.error);
  await agent.start({ began, precompiled: compiled.start !== undefined });
}

/**
 * The agent compiled to this Bun's bytecode by `tapwire precompile`, if it has been
 * (cli/precompile.ts): Bun parses every file it loads in every process and keeps no cache of its
 * own, and the bytecode spares that (measured 7–10 ms of `-e 0` on Bun 1.4.5). The tree is found by
 * Bun's revision because only the Bun build that wrote the bytecode reads it.
 */
async function bunTree(): Promise<{ start?: typeof StartModule; failed?: { dir: string; error: unknown } }> {
  const bun = (globalThis as unknown as { Bun: { revision: string; file(url: URL): { size: number } } }).Bun;
  // A variable, not a literal: esbuild leaves the import to the runtime.
  const tree = `./bun/${bun.revision}/start.js`;
  try {
    return { start: (await import(tree)) as typeof StartModule };
  } catch (error) {
    // None compiled (the usual case) is silent; a tree that fails to load is said once and passed by.
    const url = new URL(tree, import.meta.url);
    return bun.file(url).size > 0
      ? { failed: { dir: decodeURIComponent(new URL('.', url).pathname), error } }
      : {};
  }
}
