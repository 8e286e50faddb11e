// Hono 4: http.route from the route Hono's own router matched.
//
// detect: Hono (4.13) publishes nothing, and the match lives in state private to one request:
//   `Hono#dispatch` passes `this.router.match(method, path)` into `new Context(...)`. Neither the
//   Hono instance nor its router is reachable from the server, the request or the env. So:
// hook: one call in the dispatcher is rewritten as the module loads (dist/hono-base.js and
//   dist/cjs/hono-base.js) to go through honoMatch(), which calls the real match and returns its
//   result untouched. The rewrite happens only when the expected text occurs exactly once;
//   otherwise the file loads unchanged and a debug line says the Hono version is not recognised
//   (no route, never a wrong one). A bundled Hono (no hono-base.js file) has no route either.
//   - Node: a synchronous, in-thread `module.registerHooks` load hook sees ESM imports and CommonJS
//     requires alike; only on the Node versions where such a hook leaves require(esm) working
//     (registerHooksUsable below).
//   - Bun: a runtime plugin (`Bun.plugin` onLoad). Bun 1.4 evaluates CommonJS contents returned by
//     onLoad as ESM and require() gets an empty module (oven-sh/bun#39786), so the CommonJS file is
//     evaluated here, as Node's CommonJS wrapper would, and handed to Bun as an `object` module.
// record: the template is the matched route's `path` as Hono stored it at registration (sub-app
//   and basePath prefixes already merged: '/users/:id/posts/:postId'), so nothing is built per
//   request. It goes on the raw Node request (`env.incoming` from @hono/node-server, on Node and
//   on Bun's node:http) or, for Bun.serve, on the Request itself, where ../bun/server.ts reads it.
import { existsSync, readFileSync } from 'node:fs';
import module from 'node:module';
import { dirname, join, resolve } from 'node:path';
// node:vm is taken on demand (process.getBuiltinModule): importing it costs ~5 ms at start-up on Bun.
import { fail, type Guard } from '../../../core/guard.js';
import { agentLog } from '../../../core/log.js';
import type { HookContext } from '../../context.js';
import { HONO_BASE } from '../../packages.js';
import { kRoute, setRoute } from '../routes.js';

/** Where the rewritten dispatcher finds honoMatch (shared by copies of the agent). */
export const kHonoMatch: unique symbol = Symbol.for('tapwire.hono.match') as never;

// The text the rewrite expects in #dispatch (Hono 4.x), and what it becomes. The function is read
// once per module evaluation into a module-level binding (declared with `var` at the end of the
// file, so nothing shifts a line number); undefined there means the original call.
const SIGNATURE = '#dispatch(request, executionCtx, env, method) {';
const CALL = 'this.router.match(method, path)';
const ANCHOR = `const matchResult = ${CALL};`;
const BINDING = '__tapwireHonoMatch';
const REPLACEMENT = `(${BINDING} === undefined ? ${CALL} : ${BINDING}(this.router, method, path, request, env))`;
const DECLARATION = `\nvar ${BINDING} = globalThis[Symbol.for("tapwire.hono.match")];\n`;
/** How far into #dispatch the match call may sit (it is its second statement in 4.13). */
const MAX_DISTANCE = 400;

const ESM_FILE = '/hono/dist/hono-base.js';
const CJS_FILE = '/hono/dist/cjs/hono-base.js';
const BUN_FILTER = HONO_BASE;

function once(text: string, part: string): number {
  const at = text.indexOf(part);
  return at !== -1 && text.indexOf(part, at + part.length) === -1 ? at : -1;
}

/** Hono's dispatcher with its match call routed through honoMatch; undefined when not recognised. */
export function rewriteDispatch(source: string): string | undefined {
  const start = once(source, SIGNATURE);
  const anchor = once(source, ANCHOR);
  if (start === -1 || anchor < start || anchor - start > MAX_DISTANCE) return undefined;
  if (once(source, CALL) === -1 || source.includes(BINDING)) return undefined;
  const at = anchor + ANCHOR.length - CALL.length - 1;
  return source.slice(0, at) + REPLACEMENT + source.slice(at + CALL.length) + DECLARATION;
}

// ---------------------------------------------------------------------------------------------
// record

/** The hook's guard while installed; honoRoute() and rewriteDispatch() also run without one (tests). */
let guard: Guard | undefined;

type RouterRoute = { path?: unknown; method?: unknown };
type Entry = [[unknown, RouterRoute | undefined], unknown];
type Router = { match(method: string, path: string): unknown };
type Target = { [kRoute]?: string };

/** Set by `Hono#route()` on a sub-app's handler it wraps for the sub-app's own onError. */
const COMPOSED_HANDLER = '__COMPOSED_HANDLER';

/** A handler that declares no `next` parameter cannot pass the request on: if reached, it answers. */
function answers(handler: unknown): boolean {
  let fn = handler as { length?: unknown; [COMPOSED_HANDLER]?: unknown };
  for (let depth = 0; depth < 8 && typeof fn[COMPOSED_HANDLER] === 'function'; depth++) {
    fn = fn[COMPOSED_HANDLER] as typeof fn;
  }
  return typeof fn.length === 'number' && fn.length < 2;
}

/**
 * The route a user would name for this match. Entries come in registration order, each
 * [[handler, { path, method, basePath }], params], and Hono runs them in that order:
 * - the first entry whose handler takes no `next` (Hono's own docs tell handler from middleware
 *   this way, `handler.length < 2`) ends the chain, so it is the route that answered
 *   (a later catch-all like `app.get('*', spa)` matched too but never runs);
 * - when every entry takes `next`, the last one registered for a method (app.get/post/...; not
 *   app.use, app.all or mount, which register 'ALL') is a route whose handler happens to take
 *   `next` (`async (c, next) => ...`, serveStatic on a GET route). A bare '*' there is
 *   method-scoped middleware (`app.get('*', cache())`), not a route: a request only it matched
 *   is a 404 with no route.
 * Nothing else matched (only middleware, or nothing): no route.
 */
export function honoRoute(result: unknown): string | undefined {
  const entries = (result as [Entry[]] | undefined)?.[0];
  if (!Array.isArray(entries)) return undefined;
  let fallback: string | undefined;
  for (let i = 0; i < entries.length; i++) {
    const data = (entries[i] as Entry)[0];
    const route = data[1];
    const path = route?.path;
    if (typeof path !== 'string') continue;
    if (answers(data[0])) return path;
    if (route!.method !== 'ALL' && path !== '*' && path !== '/*') fallback = path;
  }
  return fallback;
}

function record(result: unknown, request: unknown, env: unknown): void {
  try {
    // @hono/node-server passes { incoming, outgoing }; Bun.serve passes its server.
    let target = request as Target | null;
    if (typeof env === 'object' && env !== null) {
      const incoming = (env as { incoming?: unknown }).incoming;
      if (typeof incoming === 'object' && incoming !== null) target = incoming as Target;
    }
    if (typeof target !== 'object' || target === null) return;
    // A Hono app dispatching again inside one request (mount(), a sub-app's fetch with the same
    // env or Request) matches with the prefix stripped: the outermost app decides, even when it
    // decided on no route. A route is stored (undefined too) only by the first dispatch.
    if (kRoute in target) return;
    setRoute(target, honoRoute(result));
  } catch (error) {
    if (guard !== undefined) fail(guard, error);
  }
}

/** Called by the rewritten dispatcher instead of `this.router.match(method, path)`. */
export function honoMatch(
  router: Router,
  method: string,
  path: string,
  request: unknown,
  env: unknown,
): unknown {
  // The real match first: its errors reach Hono unchanged, and its result always goes back.
  const result = router.match(method, path);
  if (guard?.enabled === true) record(result, request, env);
  return result;
}

// ---------------------------------------------------------------------------------------------
// hook

let notRecognised = false;

function rewrite(source: string, file: string): string | undefined {
  const out = rewriteDispatch(source);
  if (out === undefined && !notRecognised) {
    notRecognised = true;
    agentLog(
      'TAPWIRE_HONO_UNRECOGNISED',
      'this Hono version is not recognised: Hono requests carry no http_route',
      {
        file,
      },
    );
  }
  return out;
}

interface LoadResult {
  format?: string | null;
  source?: string | ArrayBuffer | ArrayBufferView | null;
}
type NextLoad = (url: string, context?: unknown) => LoadResult;

function load(url: string, context: unknown, nextLoad: NextLoad): LoadResult {
  const result = nextLoad(url, context);
  if (!url.endsWith(ESM_FILE) && !url.endsWith(CJS_FILE)) return result;
  if (guard?.enabled !== true) return result;
  try {
    const source = result.source;
    let text: string;
    if (typeof source === 'string') text = source;
    else if (ArrayBuffer.isView(source))
      text = Buffer.from(source.buffer, source.byteOffset, source.byteLength).toString('utf8');
    else if (source instanceof ArrayBuffer) text = Buffer.from(source).toString('utf8');
    else return result;
    const out = rewrite(text, url);
    return out === undefined ? result : { ...result, source: out };
  } catch (error) {
    fail(guard, error);
    return result;
  }
}

interface BunPluginBuild {
  onLoad(
    options: { filter: RegExp },
    callback: (args: { path: string }) => { contents?: string; exports?: unknown; loader: string },
  ): void;
}
type BunPlugin = (plugin: { name: string; setup(build: BunPluginBuild): void }) => unknown;

/** Evaluates a CommonJS file as Node's wrapper does (same lines and file name in stacks). */
function evaluateCommonJS(source: string, file: string): unknown {
  const vm = process.getBuiltinModule('node:vm') as typeof import('node:vm');
  const wrapper = vm.runInThisContext(
    `(function (exports, require, module, __filename, __dirname) { ${source}\n})`,
    { filename: file },
  ) as (...args: unknown[]) => void;
  const mod = { exports: {} as unknown, id: file, filename: file, loaded: false };
  wrapper.call(mod.exports, mod.exports, module.createRequire(file), mod, file, dirname(file));
  mod.loaded = true;
  return mod.exports;
}

function onBunLoad(args: { path: string }): { contents?: string; exports?: unknown; loader: string } {
  const file = args.path;
  // Reading fails only where Bun's own load would fail too: the same error reaches the importer.
  const source = readFileSync(file, 'utf8');
  let out: string | undefined;
  if (guard?.enabled === true) {
    try {
      out = rewrite(source, file);
    } catch (error) {
      fail(guard, error);
    }
  }
  const contents = out ?? source;
  if (!/[\\/]cjs[\\/]hono-base\.js$/.test(file)) return { contents, loader: 'js' };
  // Hono's own errors while evaluating reach the require() unchanged, as without tapwire.
  return { exports: evaluateCommonJS(contents, file), loader: 'object' };
}

/**
 * Whether the app can load Hono at all: installed beside or above its entry point or the working
 * directory. A load hook sees every module: measured on Node 24 with a 1,380-module graph, ~20 µs
 * per ESM module (+4.5% load time), so an app without Hono does not get one. A Hono bundled into
 * the app has no hono-base.js to rewrite either.
 */
function honoResolvable(): boolean {
  const entry = process.argv[1];
  for (const from of [entry ? dirname(resolve(entry)) : undefined, process.cwd()]) {
    if (from !== undefined && installedAbove(from, 'hono')) return true;
  }
  return false;
}

/**
 * Whether node_modules/<name> is in `dir` or a folder above it: where require() looks first.
 * Looked up with stat calls rather than require.resolve(), which also reads and interprets the
 * package's exports (measured 1.5 ms of the preload's start on Node 24, in an app without Hono).
 */
function installedAbove(dir: string, name: string): boolean {
  for (let d = dir; ; ) {
    if (existsSync(join(d, 'node_modules', name, 'package.json'))) return true;
    const up = dirname(d);
    if (up === d) return false;
    d = up;
  }
}

/**
 * Whether a `module.registerHooks` load hook leaves the app's modules loading as they would without
 * it. Before Node 22.22.3, 24.11.1 and 25.1.0, any load hook broke require() of an ES module from a
 * CommonJS module that the ESM loader evaluates: an ESM app importing express 5 died at start with
 * "request for './index.js' is not in cache" (measured with a pass-through hook on 22.15.0, 22.19.0,
 * 22.21.0, 22.22.0–22.22.2, 24.0.0, 24.11.0 and 25.0.0; not on 22.22.3, 22.23, 24.11.1, 25.1, 25.2; nodejs/node#61801 asked for the 22.x backport). Node 23
 * reached its end of life without the fix. Decided by version: the failure cannot be probed
 * without loading the app's modules.
 */
export function registerHooksUsable(nodeVersion: string): boolean {
  const [major = 0, minor = 0, patch = 0] = nodeVersion.split('.').map(Number);
  const atLeast = (m: number, p: number) => minor > m || (minor === m && patch >= p);
  if (major === 22) return atLeast(22, 3);
  if (major === 24) return atLeast(11, 1);
  if (major === 25) return atLeast(1, 0);
  return major >= 26;
}

/**
 * Node: the load hook is deregistered when the agent stops. Bun: a runtime plugin cannot be
 * removed on its own (Bun.plugin.clearAll() would remove the app's too); with the guard off it
 * hands Hono's file to Bun unchanged, evaluating the CommonJS one as Node's wrapper would.
 */
export function install(ctx: HookContext): void {
  const plugin = (globalThis as { Bun?: { plugin?: unknown } }).Bun?.plugin;
  if (typeof plugin !== 'function') {
    if (!honoResolvable()) return;
    const registerHooks = (module as { registerHooks?: unknown }).registerHooks;
    if (typeof registerHooks !== 'function' || !registerHooksUsable(process.versions.node)) {
      agentLog(
        'TAPWIRE_HONO_UNSUPPORTED',
        `Node ${process.versions.node} has no usable module.registerHooks: Hono requests carry no http_route`,
      );
      return;
    }
  }
  guard = ctx.guard;
  ctx.patches.onRestore(() => {
    guard = undefined;
  });
  ctx.patches.set(globalThis, kHonoMatch, honoMatch);
  if (typeof plugin === 'function') {
    // A deferred start's plugin (../../defer-bun.ts), registered before this one, hands the file here.
    ctx.loads.bunHandler(BUN_FILTER, (path) => onBunLoad({ path }));
    (plugin as BunPlugin)({
      name: 'tapwire-hono',
      setup(build) {
        build.onLoad({ filter: BUN_FILTER }, onBunLoad);
      },
    });
    return;
  }
  const hooks = (
    module as unknown as { registerHooks(hooks: { load: typeof load }): { deregister?(): void } }
  ).registerHooks({ load });
  ctx.patches.onRestore(() => hooks.deregister?.());
}
