// The app binding the metrics port itself. Many apps already serve their own Prometheus endpoint
// on 9464; tapwire took that port first, and the app's listen failed with EADDRINUSE — an app
// that ran without tapwire crashed with it. Now the app wins: when it is about to listen on the
// port this process holds for /metrics, tapwire closes its endpoint first (synchronously: the
// port is free when the app's listen runs) and says once how to move it (agent/endpoint.ts).
//
// detect: every server the app starts — `net.Server#listen` on Node (node:http and node:https
//   servers inherit it), which publishes `tracing:net.server.listen:asyncStart` with its options
//   before it binds (Node >= 22.3); on Bun, `Bun.listen`, through which Bun's node:net servers
//   bind, and `Bun.serve` (./bun/serve.ts calls appListens()), through which its node:http servers
//   bind (measured on Bun 1.4.5).
// hook: that channel on Node (nothing loaded: node:net costs ~2.5 ms to load on Node 24, which a
//   process that never listens would pay for tapwire's sake); on an older Node and on Bun the
//   listen functions wrapped, the port read from the arguments as the runtime reads them, then the
//   original run with the same arguments. On Bun nothing is loaded for it either: Bun's node:net
//   and node:http cost ~9 and ~17 ms to load (measured).
// Not handled: a launcher above the app holding the port (npm start): the app's listen still
// fails there; docs/instrumentation.md says to set OTEL_EXPORTER_PROMETHEUS_PORT.
import { before } from '../../core/patch.js';
import type { HookContext } from '../context.js';

let watcher: ((port: number | undefined) => void) | undefined;

/** `fn` hears every listen the app makes, with its port (undefined: 0, a path, a handle); returns the undo. */
export function watchAppListen(fn: (port: number | undefined) => void): () => void {
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

/** The app is about to listen on `port` (a number or a numeric string; anything else is no port). */
export function appListens(port: unknown): void {
  watcher?.(portOf(port));
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
  if (publishesListen()) {
    // The options as net.Server#listen normalised its arguments: { port } for listen(port).
    ctx.on('netServerListenStart', (message) =>
      appListens((message as { options?: { port?: unknown } }).options?.port),
    );
    return;
  }
  const net = process.getBuiltinModule('node:net') as typeof import('node:net');
  ctx.patches.wrap(net.Server.prototype, 'listen', (original) =>
    before(g, original, (_self, args) => appListens(listenPort(args))),
  );
}

/** Whether this Node publishes the start of every net.Server#listen (added in 22.3.0). */
function publishesListen(): boolean {
  const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
  return major > 22 || (major === 22 && minor >= 3);
}
