// The app binding the metrics port itself. Many apps already serve their own Prometheus endpoint
// on 9464; tapwire took that port first, and the app's listen failed with EADDRINUSE — an app
// that ran without tapwire crashed with it. Now the app wins: when it is about to listen on the
// port this process holds for /metrics, tapwire closes its endpoint first (synchronously: the
// port is free when the app's listen runs) and says once how to move it (agent/endpoint.ts).
//
// detect: every server the app starts — `net.Server#listen` on Node (node:http and node:https
//   servers inherit it); on Bun, `Bun.listen`, through which Bun's node:net servers bind, and
//   `Bun.serve` (./bun/serve.ts calls appListens()), through which its node:http servers bind
//   (measured on Bun 1.4.5).
// hook: the listen functions wrapped; the port is read from the arguments as the runtime reads
//   them, then the original runs with the same arguments. On Bun nothing is loaded for it: Bun's
//   node:net and node:http cost ~9 and ~17 ms to load (measured), which an app that never uses
//   them would pay for tapwire's sake.
// Not handled: a launcher above the app holding the port (npm start): the app's listen still
// fails there; docs/instrumentation.md says to set OTEL_EXPORTER_PROMETHEUS_PORT.
import { before } from '../../core/patch.js';
import type { HookContext } from '../context.js';

let watcher: ((port: number) => void) | undefined;

/** `fn` hears the port of every listen the app makes; returns the undo. */
export function watchAppListen(fn: (port: number) => void): () => void {
  watcher = fn;
  return () => {
    if (watcher === fn) watcher = undefined;
  };
}

function portOf(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isInteger(value) && value > 0 ? value : undefined;
  if (typeof value === 'string' && /^\d{1,5}$/.test(value)) return Number(value) || undefined;
  return undefined;
}

/** The app is about to listen on `port` (a number or a numeric string; anything else is ignored). */
export function appListens(port: unknown): void {
  const p = portOf(port);
  if (p !== undefined) watcher?.(p);
}

/** The port of `server.listen(...)` arguments: (port, ...), ({ port, ... }); a path or a handle has none. */
export function listenPort(args: ArrayLike<unknown>): unknown {
  const first = args[0];
  if (typeof first === 'object' && first !== null) return (first as { port?: unknown }).port;
  return first;
}

export function install(ctx: HookContext): void {
  const g = ctx.guard;
  const bun = (globalThis as { Bun?: { listen?: unknown } }).Bun;
  if (bun !== undefined) {
    ctx.patches.wrap(bun, 'listen', (original) =>
      before(g, original, (_self, args) => appListens((args[0] as { port?: unknown } | undefined)?.port)),
    );
    return;
  }
  const net = process.getBuiltinModule('node:net') as typeof import('node:net');
  ctx.patches.wrap(net.Server.prototype, 'listen', (original) =>
    before(g, original, (_self, args) => appListens(listenPort(args))),
  );
}
