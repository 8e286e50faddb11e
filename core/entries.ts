// Parts of the agent that are bundle entries of their own beside the chunks (dist/chunks/NAME.js,
// scripts/build.mjs), loaded with require() the first time they are needed: out of the preload's
// start-up graph, and reachable synchronously from a request's path (an ES module without
// top-level await: Node >= 22.12 and Bun load it synchronously).
//
// - sdk: the OpenTelemetry SDK's MeterProvider, when the app first asks for a meter (./telemetry.ts);
// - ai: the AI measurement, at the first provider call (./ai/entry.ts);
// - holder: the merge of siblings' pushes and the page's serializer, at the first scrape of or push
//   to the process holding the metrics port (../exporters/holder.ts);
// - sql: what a SQL statement's text tells (./db/sql.ts and its lexer), at the first statement a
//   database hook sees (../agent/db/sql.ts);
// - follower: the pusher, the OTLP JSON of its pushes and the spool, when a process follows the
//   holder of the metrics port, reads the spool or hands its counts on (../exporters/follower.ts).

/** The entries by file name, as scripts/build.mjs names them. */
interface Entries {
  sdk: typeof import('./sdk.js');
  ai: typeof import('./ai/entry.js');
  holder: typeof import('../exporters/holder.js');
  sql: typeof import('./db/sql.js');
  follower: typeof import('../exporters/follower.js');
}

export function requireEntry<K extends keyof Entries>(name: K): Entries[K] {
  const load = process.getBuiltinModule('node:module').createRequire(import.meta.url);
  return load(`./${name}.js`);
}
