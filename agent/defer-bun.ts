// Bun's wires for a deferred start (./defer.ts says what a deferred start is), bundled into Bun's
// file of the preload (../register-bun.ts), which shares no chunk with the agent: a Bun process that
// never starts the agent loads that one file of tapwire.
//
// What the agent hooks on Bun is reached, before the first turn, through:
// - `globalThis.fetch`, `Bun.serve` (Bun's node:http servers listen through it) and `Bun.listen`
//   (node:net servers): wrapped, the call passed on to the agent's wrapper once it has started;
// - a package the app declares and the agent patches as it loads (pg, mysql2, express, koa, next,
//   prom-client) and Hono's dispatcher: a runtime plugin's onLoad for the same files as the agent's
//   (./packages.ts). Bun asks the plugin registered first, this one: it starts the agent, then asks
//   the agent for the file (kBunLoad: patched, as the agent's own plugin would hand it over), or,
//   with no agent to ask (its code failed to load, or it is off), hands the file over unpatched
//   (./bun-module.ts). A runtime plugin cannot be removed, so it keeps asking for those files;
// - built-ins whose first use matters: `node:http` / `node:https` (their clients publish the
//   `http.client.*` channels), `node:diagnostics_channel` (how ioredis, node-redis, mysql2 and
//   fastify publish theirs, taken before their first message) and `bun:sqlite`: a runtime plugin's
//   onResolve, which sees each import of a built-in and each require() of one by its `node:` name
//   (not of a package: oven-sh/bun#40579), Module.prototype.require for a require() of `http`,
//   which no plugin sees, and process.getBuiltinModule();
// - Bun's RedisClient: the command methods of its prototype (which the default `redis` instance
//   shares; `Bun.redis` cannot be wrapped: a non-configurable property whose first read creates the
//   client), through wires the agent's hook then measures through (./bun-redis-wires.ts), and its
//   constructor (Bun.RedisClient, through a Proxy, as the agent replaces it).
// Started with the preload instead: an app that declares `undici` (its module's exports are patched,
// and an ES module's named import of them is bound before any wire could see it) or that configures
// Bun.sql through the environment (the agent's hook probes a query at start, agent/db/bun-sql.ts).
import { bunModule } from './bun-module.js';
import { redisWires, unwire } from './bun-redis-wires.js';
import type { Loaded, Wiring } from './defer.js';
import {
  appDependencies,
  BUN_SQL_ENV,
  type BunLoad,
  CHANNEL_BUILTINS,
  CHANNEL_BUILTINS_RESOLVED,
  HONO_BASE,
  kBunLoad,
  MAIN_FILE_FILTERS,
  type PackageRequest,
} from './packages.js';

export { deferStart } from './defer.js';

type Fn = (this: unknown, ...args: unknown[]) => unknown;

interface BunGlobal {
  revision: string;
  serve: Fn;
  listen: Fn;
  RedisClient?: (abstract new (...args: unknown[]) => object) & { prototype: Record<string, unknown> };
  plugin(plugin: {
    name: string;
    setup(build: {
      onLoad(options: { filter: RegExp }, callback: (args: { path: string }) => unknown): void;
      onResolve(
        options: { filter: RegExp; namespace: string },
        callback: (args: { path: string }) => undefined,
      ): void;
    }): void;
  }): unknown;
}

/** Whether this Bun process's start can wait (./defer.ts, and the header). */
export function deferrable(env: NodeJS.ProcessEnv): boolean {
  const only = (value: string | undefined, plain: string) =>
    value === undefined || value.trim() === '' || value.trim().toLowerCase() === plain;
  if (!only(env.OTEL_METRICS_EXPORTER, 'prometheus')) return false;
  if (!only(env.OTEL_TRACES_EXPORTER, 'none') || !only(env.OTEL_LOGS_EXPORTER, 'none')) return false;
  for (const v of BUN_SQL_ENV) if (env[v]) return false;
  return !appDependencies().has('undici');
}

/** Bun's own wires (see the header). */
export function layBunWires({ wire, startNow, started, undo, afterStart }: Wiring): void {
  const bun = (globalThis as unknown as { Bun: BunGlobal }).Bun;
  // Taken before getBuiltinModule is wired: through its wire, this call was the first
  // Reflect.apply of every Bun process under the preload, a built-in JavaScriptCore compiles at its
  // first use (0.4-0.6 ms, Bun 1.4.5).
  const { prototype } = process.getBuiltinModule('node:module') as unknown as { prototype: object };
  wire(globalThis, 'fetch', 'fetch');
  wire(bun, 'serve', 'Bun.serve');
  wire(bun, 'listen', 'Bun.listen');
  wire(process, 'getBuiltinModule', (args) =>
    CHANNEL_BUILTINS.has(args[0] as string) || args[0] === 'bun:sqlite' ? `builtin ${args[0]}` : undefined,
  );
  // require(): Bun's runtime plugins see a require() of `node:http` but not one of `http` (Bun
  // 1.4.5). Laid in every Bun process under the preload: ~0.5 million instructions of its ~8
  // (callgrind, `-e 0`).
  wire(prototype, 'require', (args) =>
    CHANNEL_BUILTINS.has(args[0] as string) ? `builtin ${args[0]}` : undefined,
  );

  const declared = appDependencies();
  const handOver = (trigger: string, path: string) => {
    startNow(trigger);
    // Unset when the agent's code failed to load (said once, ./defer.ts) or the agent is off: the
    // file loads unpatched, as without tapwire.
    const load = (globalThis as { [kBunLoad]?: BunLoad })[kBunLoad];
    return load === undefined ? bunModule(path) : load(path);
  };
  bun.plugin({
    name: 'tapwire deferred start',
    setup(build) {
      build.onResolve({ filter: CHANNEL_BUILTINS_RESOLVED, namespace: 'node' }, (args) => {
        if (!started()) startNow(`builtin node:${args.path}`);
        return undefined;
      });
      build.onResolve({ filter: /^sqlite$/, namespace: 'bun' }, () => {
        if (started()) return undefined;
        startNow('builtin bun:sqlite');
        // The agent's own onResolve, registered just now, is not asked for this import: its
        // process.getBuiltinModule() patches the module instead (agent/load.ts, builtin()).
        process.getBuiltinModule('bun:sqlite');
        return undefined;
      });
      // One onLoad for all of them: each registration costs a Bun process ~0.05-0.2 ms at start
      // (Bun 1.4.5); which file it is, is looked up as it loads.
      // Loops, not filter() and map(): a first use of one of JavaScriptCore's built-ins written in
      // JavaScript costs each process 0.1-1 ms (docs/overhead.md).
      const mains: [request: string, filter: RegExp][] = [];
      let sources = HONO_BASE.source;
      for (const request in MAIN_FILE_FILTERS) {
        if (!declared.has(request.split('/')[0]!)) continue;
        const filter = MAIN_FILE_FILTERS[request as PackageRequest];
        mains.push([request, filter]);
        sources += `|${filter.source}`;
      }
      build.onLoad({ filter: new RegExp(sources) }, (args) => {
        let trigger = 'module hono';
        for (const [request, filter] of mains) if (filter.test(args.path)) trigger = `module ${request}`;
        return handOver(trigger, args.path);
      });
    },
  });

  const Client = bun.RedisClient;
  if (typeof Client === 'function') {
    // The command methods' wires stay when the agent starts: its hook measures through them
    // (./bun-redis-wires.ts). Taken off after the start only when no agent took them over (its
    // code failed to load, or it is off).
    const wires = redisWires(Client.prototype);
    wires.trip = () => startNow('RedisClient');
    undo(() => {
      wires.trip = undefined;
    });
    afterStart(() => {
      if (wires.measure === undefined) unwire(wires);
    });
    const tripping: typeof Client = new Proxy(Client, {
      construct(target, args, newTarget) {
        startNow('RedisClient');
        // The agent's Bun.RedisClient by now (a Proxy that notes each client's URL).
        const now = bun.RedisClient === tripping ? target : (bun.RedisClient ?? target);
        return Reflect.construct(now, args, newTarget === tripping ? now : newTarget);
      },
    });
    bun.RedisClient = tripping;
    undo(() => {
      if (bun.RedisClient === tripping) bun.RedisClient = Client;
    });
  }
}

/**
 * The start module, synchronously: from `tapwire precompile`'s tree for this Bun when there is one
 * (register.ts says why), else the bundle's chunk. `chunk` is its path relative to this file.
 */
export function loadStart(base: string, chunk: string): Loaded {
  const bun = (globalThis as unknown as { Bun: BunGlobal & { file(path: string): { size: number } } }).Bun;
  const { createRequire } = process.getBuiltinModule('node:module');
  const require = createRequire(base);
  const tree = `./bun/${bun.revision}/start.js`;
  let failed: Loaded['failed'];
  try {
    return { mod: require(tree), precompiled: true };
  } catch (error) {
    const url = new URL(tree, base);
    if (bun.file(url.pathname).size > 0) {
      failed = { dir: decodeURIComponent(new URL('.', url).pathname), error };
    }
  }
  return { mod: require(chunk), precompiled: false, failed };
}
